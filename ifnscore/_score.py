"""The main entry point: :func:`score`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._engine import Computed, Nan, compute, default_min_genes, prepare
from ._frozen import ConstList, freeze
from ._genes import GeneMatch, IdType, match_records
from ._limits import Limit, fold_over, fold_over_note, resolve_limits, sample_limits
from ._methods import DEFAULT_METHOD, Method, check_options, get_method
from ._reference import Reference
from ._results import to_anndata
from ._signatures import Signature, SignatureLike, as_signatures
from ._validation import Expression, Rows, Scale
from ._version import __version__
from ._warn import warn
from .errors import IfnscoreWarning, InputError, ScaleError

__all__ = ["score", "score_table"]


def score(
    data: Any,
    signature: SignatureLike | None = None,
    *,
    method: str | None = None,
    reference: Reference | None = None,
    upper_limit: float | str | Mapping[str, float | str] | None = None,
    groups: Any = None,
    scale: Scale = "auto",
    genes: Sequence[str] | None = None,
    samples: Sequence[str] | None = None,
    rows: Rows = "auto",
    layer: str | None = None,
    use_raw: bool = False,
    nan: Nan = "raise",
    min_genes: int | None = None,
    duplicates: str = "sum",
    id_type: IdType = "auto",
    repeatability_cv: float | None = None,
    allow_partial: bool = False,
    key: str = "ifnscore",
    copy: bool = False,
    mod: str | None = None,
    groupby: str | Sequence[str] | None = None,
    pseudobulk: bool = False,
    min_cells: int = 10,
    depth_check: bool | None = None,
    **options: Any,
) -> pd.DataFrame | Any | None:
    r"""Score every sample for one or more interferon signatures.

    Parameters
    ----------
    data
        Expression, samples x genes: a numpy array (with ``genes=``), a scipy.sparse CSR/CSC
        matrix or array (with ``genes=``), a pandas DataFrame (samples x genes, or genes x
        samples when the names make it clear or ``rows="genes"``), an AnnData object
        (``X``, ``layer=`` or ``use_raw=True``; in memory, backed, or lazy from
        ``anndata.experimental.read_lazy`` / ``read_elem_lazy``, scored in row chunks without
        loading ``X``), or a MuData with ``mod=``.
    signature
        A published signature name (default: the reference's signatures, else ``"rice6"``),
        a list of names, a list of genes, a dict name -> genes, a :class:`Signature`, or a
        path to a ``.gmt`` file. See :func:`ifnscore.list_signatures`.
    method
        Scoring method (default: the reference's, else ``"fc_sum"``). Reference-relative:
        ``fc_sum``, ``fc_median``, ``fc_geomean``, ``fc_mean``, ``z_sum``, ``z_mean``;
        single-sample: ``mean_log`` and the methods in :func:`ifnscore.list_methods`.
    reference
        A :class:`Reference` from :func:`ifnscore.calibrate` on healthy controls. Required by
        reference-relative methods; supplies the upper limit for classification.
    upper_limit
        Overrides the reference's chosen limit: a number, ``"published"`` or ``"controls"``
        (that limit as kept in the reference), or a dict signature -> one of these. A number
        lets single-sample methods classify without a reference.
    groups
        Each sample's group (a Series indexed by sample name, or a sequence aligned with the
        samples), for a reference calibrated with ``groups=``: every sample is then classified
        by its group's limit (``upper_limit_source`` ``"partition"``). Without it, the
        reference's overall limit applies. (Not to be confused with ``groupby=``; with
        ``pseudobulk=True`` the samples are the pseudobulks, named as in the result's index.)
    scale
        ``"counts"`` (raw counts; converted to counts per million over all genes),
        ``"linear"`` (already normalised: CPM, TPM, qPCR relative quantities), ``"log2"``
        (:math:`\log_2(x+1)`), ``"log1p"`` (:math:`\ln(1+x)`, scanpy), or ``"auto"``
        (detected; the result records what was detected and why; unclear data raise
        :class:`~ifnscore.errors.ScaleError` asking for ``scale=``). With
        ``pseudobulk=True`` only ``"auto"`` or ``"counts"``: pseudobulks are scored as counts.
    genes, samples
        Gene (column) and sample (row) names for arrays and sparse matrices.
    rows
        ``"auto"``, ``"samples"`` or ``"genes"``: what the rows of a table or array are.
    layer, use_raw
        Which AnnData matrix to score (with ``pseudobulk=True``: which one holds the raw
        counts that are summed).
    nan
        ``"raise"`` (default) on NaN/inf in signature genes, or ``"omit"``: leave them out per
        sample (sums are rescaled to the full gene count, :math:`k\cdot\mathrm{mean}`;
        ``n_genes`` shows how many were used; such a sample is not classified against a
        published limit unless ``allow_partial=True``). A sample left with fewer than
        ``min_genes`` finite values gets a NaN score (``call`` ``"unclassified"``).
    min_genes
        Fewest signature genes that must be found (default: half of them, rounded up).
        Missing genes are always reported (a :class:`~ifnscore.errors.MissingGenesWarning`
        and ``result.attrs["ifnscore"]``).
    duplicates
        ``"sum"`` (default) or ``"error"`` when several data columns match one gene.
    id_type
        What the data's gene names are: ``"auto"`` (default; each name by its form),
        ``"symbol"``, ``"ensembl"`` (with or without version) or ``"entrez"``. Signature genes
        are matched by exact name, any case, then through the shipped gene table (Ensembl,
        NCBI Gene IDs, then unambiguous aliases and previous symbols); see
        :func:`ifnscore.map_genes`. How each gene was matched is in
        ``res.attrs["ifnscore"]["signatures"][name]["matches"]``.
    repeatability_cv
        The assay's coefficient of variation (a fraction, e.g. 0.15) for one measurement near
        the limit: widens the borderline zone of ``call`` to
        :math:`L \pm 1.645\,\mathrm{CV}\,L` (a 90 % interval of one measurement at the
        limit). The zone also holds the limit's own 90 % CI when it has one (controls'
        limits). Recorded in ``attrs["ifnscore"]``.
    allow_partial
        With ``nan="omit"``, a sample scored on fewer signature genes than were found is not
        classified against a *published* limit (which holds for the score over all its genes):
        its ``call`` is ``"unclassified"``, ``positive`` False and ``fold_over_limit`` NaN.
        ``allow_partial=True`` classifies it anyway.
    key
        AnnData only: results go to ``obs[key]``, ``obs[f"{key}_positive"]``,
        ``obs[f"{key}_fold_over_limit"]``, ``obs[f"{key}_n_genes"]``, ``obsm[key]`` (a
        samples x signatures DataFrame of scores, read by ``decoupler.pp.get_obsm(adata,
        key)``) and ``uns[key]`` (with several signatures: ``obs[f"{key}_{signature}"]``
        etc.). Not used with ``pseudobulk=True``, which writes nothing into the AnnData.
    copy
        AnnData only: return a modified copy instead of writing in place (for a MuData, a
        copy of the whole MuData).
    mod
        MuData only: the modality to score (e.g. ``"rna"``); results are written into that
        modality (``mdata[mod].obs``, ``.obsm``, ``.uns``), as for an AnnData. MuData's own
        ``mdata.obs`` shows them (as ``f"{mod}:{key}"``) after ``mdata.update()``. A MuData
        without ``mod=``, ``mod=`` with other input, or a modality the MuData lacks raise
        :class:`~ifnscore.errors.InputError` (naming the modalities present).
    groupby
        AnnData/MuData only: an ``obs`` column name or a list of them (e.g. ``["donor",
        "cell_type"]``); each observed combination of labels is a group, named by its labels
        joined with ``"_"`` (decoupler's pseudobulk names). Cells with a missing label belong
        to no group (counted in ``attrs``). Without ``pseudobulk``, the per-cell scores are
        computed and written as usual, and a per-group summary is returned (see Returns).
    pseudobulk
        With ``groupby=``: sum the raw counts of each group's cells (``layer=``, ``use_raw``
        or ``X``, which must hold non-negative whole numbers, else
        :class:`~ifnscore.errors.InputError`), convert each sum to counts per million over all
        genes (``scale="counts"``) and score it as a bulk sample against ``reference``: the
        route for comparing people with a limit learnt on blood samples. Returns a table; the
        AnnData is not changed.
    min_cells
        With ``groupby=``: groups with fewer cells are left out (of the pseudobulks, or of the
        summary), listed in ``attrs["ifnscore"]["groupby"]["excluded_groups"]`` with their cell
        counts, and reported by an :class:`~ifnscore.errors.IfnscoreWarning`. Default 10
        (decoupler's ``filter_samples`` default).
    depth_check
        The sequencing-depth diagnostic of per-cell scores: the Spearman correlation of each
        signature's score with the genes detected per cell, recorded in
        ``attrs["ifnscore"]["depth"]`` (and ``uns[key]["depth"]``), with an
        :class:`~ifnscore.errors.IfnscoreWarning` when :math:`|\rho| \ge 0.5`. ``None``
        (default): run when the data are sparse with at least 200 samples, where counting
        genes detected is free (CSR: the stored entries of each row); for a CSC, lazy or dense
        matrix the reason it was not run is recorded. ``True``: run for any input (a pass over
        the matrix when it is not CSR). ``False``: not run.
    **options
        Method options (e.g. ``max_rank=`` for ``ucell``). A keyword that neither
        :func:`score` nor the method takes raises :class:`~ifnscore.errors.OptionError` (a
        ``TypeError``) naming the closest valid one.

    Returns
    -------
    pandas.DataFrame or AnnData or tuple or None
        For non-AnnData input, a DataFrame indexed by sample. With one signature its columns
        are ``score``; when an upper limit is known ``positive`` (bool, ``score >=
        upper_limit``), ``fold_over_limit`` (``score / upper_limit``; NaN for methods whose
        scores can be zero or negative, the reason in ``attrs``) and ``call``
        (``"negative"``, ``"borderline"``, ``"positive"``, or ``"unclassified"`` for a NaN
        score or a partial sample, see ``allow_partial``); with a reference that stores its
        controls' scores ``healthy_percentile`` (the sample's mid-rank percentile among them,
        :math:`100\,(\#\{c < s\} + \#\{c = s\}/2)/n`) and, when the controls' rule
        fitted a distribution (mean + K SD on the raw, log or Box-Cox scale),
        ``healthy_tail_p`` (:math:`P(\text{healthy} > s)` under that fit); then
        ``n_genes``. With several signatures the columns are a MultiIndex ``(signature,
        field)``: ``res["rice6", "score"]``; ``res.xs("score", axis=1, level=1)`` gives a
        samples x signatures table. ``res.attrs["ifnscore"]`` holds the method, scale, genes
        used and missing, how each gene was matched, the limits with their provenance notes,
        the rule of the borderline zone (``call_rule``) and, for single-cell data, the depth
        diagnostic (``depth``). Its gene lists and match records are read-only lists and
        dicts, shared (not deep-copied) by the frames pandas derives from the result; copy
        one (``list(...)``, ``dict(...)``) to change it. Arrays and sparse matrices given
        without ``samples=`` are indexed by row number (a ``RangeIndex`` named ``sample``).
        For AnnData (or the modality ``mod`` of a MuData): ``None`` (written in place: ``obs``
        columns, ``obsm[key]`` samples x signatures scores, ``uns[key]``), or the copy when
        ``copy=True``.
        With ``groupby=`` (no ``pseudobulk``): the per-cell results are written as above and
        a per-group summary DataFrame is returned (with ``copy=True``, the tuple ``(copy,
        summary)``). Its index is the group names (labels joined with ``"_"``), its columns
        the ``groupby`` keys, ``n_cells`` (all the group's cells), ``median`` (of the scores
        of cells with a finite score) and, when an upper limit is known,
        ``fraction_positive`` (share of the classified cells called positive); with several
        signatures the columns are ``("group", key)``, ``("group", "n_cells")`` and
        ``(signature, field)``.
        With ``pseudobulk=True``: a DataFrame with one row per kept group, indexed as the
        summary, with the ``groupby`` keys and ``n_cells`` followed by the columns of a bulk
        result (above); ``attrs["ifnscore"]["groupby"]`` records the excluded groups.

    Raises
    ------
    ifnscore.errors.InputError
        Malformed data (NaN, negative values on a linear scale, duplicate sample names,
        non-numeric values, empty input); non-integer counts with ``pseudobulk=True``; a bad
        ``mod=``, ``groupby=`` or ``min_cells=``.
    ifnscore.errors.ScaleError
        The scale could not be detected.
    ifnscore.errors.GeneMatchError
        Fewer than ``min_genes`` signature genes found.
    ifnscore.errors.ReferenceMismatchError
        The reference's method, scale, signature genes or options differ from the request.

    Warns
    -----
    ifnscore.errors.IfnscoreWarning
        Per-cell scores whose Spearman correlation with the genes detected per cell is at
        least 0.5 in absolute value; groups left out under ``min_cells``.

    Notes
    -----
    Fold-change sum (the default, ``fc_sum``), with :math:`\tilde c_g` the median of gene
    :math:`g` in healthy controls (linear scale; CPM for counts):

    .. math:: s_i = \sum_{g \in S} x_{ig} / \tilde c_g

    In healthy people each fold change is near 1, so scores sit near :math:`|S|` (6 for
    ``rice6``). The default upper limit for ``rice6``/``fc_sum`` is 12.49, the reference range
    reported with a score of 892.89 (J Clin Med 2026, doi:10.3390/jcm15020709); that lab's
    formula is unpublished and this scale is our interpretation. ``fc_median`` is the Rice
    2013 score (doi:10.1016/S1474-4422(13)70258-8) with limit 2.466.

    A sample's score depends only on that sample and the reference (for the methods whose
    ``cohort_dependent`` is False in :func:`ifnscore.list_methods`).

    Depth diagnostic: single-cell scores follow detection depth: UCell users report lower
    scores in cells with fewer detected genes (https://github.com/carmonalab/UCell/issues/39)
    and samples whose genes per cell differ need a common ``maxRank``
    (https://github.com/carmonalab/UCell/issues/53). The threshold :math:`|\rho| \ge 0.5`
    is Cohen's (1988) "large" correlation (depth then accounts for a quarter or more of the
    variance of the score's ranks). Above 20,000 cells rho is computed on 20,000 evenly
    spaced cells (standard error about 0.007). On CSR data an explicitly stored zero counts
    as a detected gene.

    A pseudobulk's numbers equal those of ``decoupler.pp.pseudobulk(adata, sample_col,
    groups_col, mode="sum")`` scored with ``scale="counts"`` (``tests/test_singlecell.py``);
    ``n_cells`` counts every cell of the group, where decoupler leaves out cells without
    counts.

    Examples
    --------
    >>> import ifnscore
    >>> counts, samples = ifnscore.datasets.load_example(as_frame=True)
    >>> ref = ifnscore.calibrate(counts[samples["group"] == "control"], signature="rice6")
    >>> res = ifnscore.score(counts, signature="rice6", reference=ref)
    >>> list(res.columns)
    ['score', 'positive', 'fold_over_limit', 'call', 'healthy_percentile', 'n_genes']
    >>> bool(res.loc["JDM01_d000", "positive"])
    True
    """
    from . import _singlecell as scx

    holder = data if scx.is_mudata(data) else None
    adata, name = scx.modality(data, mod)
    if not isinstance(pseudobulk, bool):
        raise InputError(f"pseudobulk={pseudobulk!r} must be True or False.")
    if groupby is None:
        if pseudobulk:
            raise InputError(
                "pseudobulk=True needs groupby= (e.g. groupby=['donor', 'cell_type']): the obs "
                "columns whose groups of cells are summed."
            )
    else:
        if not _is_anndata(adata):
            raise InputError(
                f"groupby= needs AnnData (or MuData with mod=) input, whose obs holds the group "
                f"columns; data is a {type(adata).__name__}."
            )
        min_cells = scx.check_min_cells(min_cells)
    kwargs: dict[str, Any] = {
        "method": method,
        "reference": reference,
        "upper_limit": upper_limit,
        "groups": groups,
        "genes": genes,
        "samples": samples,
        "rows": rows,
        "nan": nan,
        "min_genes": min_genes,
        "duplicates": duplicates,
        "id_type": id_type,
        "repeatability_cv": repeatability_cv,
        "allow_partial": allow_partial,
        "options": options,
    }
    if pseudobulk:
        if copy:
            raise InputError(
                "copy=True with pseudobulk=True: pseudobulk scores are returned as a table and "
                "nothing is written into the AnnData; drop copy=True."
            )
        if depth_check:
            raise InputError(
                "depth_check=True applies to per-cell scores, not to pseudobulks (sums over "
                "many cells); drop depth_check= or pseudobulk=True."
            )
        return scx.score_pseudobulk(
            adata,
            name,
            signature,
            groupby=groupby,
            min_cells=min_cells,
            layer=layer,
            use_raw=use_raw,
            scale=scale,
            kwargs=kwargs,
            score_table=score_table,
        )
    is_ad = _is_anndata(adata)
    if is_ad:
        if copy and getattr(adata, "isbacked", False):
            raise InputError(
                "copy=True cannot copy a backed AnnData (that would load the whole matrix); score it in "
                "place (obs and uns of a backed AnnData live in memory), or pass adata.to_memory()."
            )
    elif copy:
        raise InputError("copy= applies to AnnData input only.")
    cell_groups = None if groupby is None else scx.group_cells(adata, groupby, name)
    result = score_table(adata, signature, scale=scale, layer=layer, use_raw=use_raw, **kwargs)
    sig_names = list(result.attrs["ifnscore"]["signatures"])
    depth = scx.depth_diagnostic(
        result, sig_names, adata, depth_check, layer=layer, use_raw=use_raw, rows=rows
    )
    if depth is not None:
        result.attrs["ifnscore"]["depth"] = depth
    summary = (
        None
        if cell_groups is None
        else scx.group_summary(result, cell_groups, min_cells, sig_names)
    )
    if not is_ad:
        return result
    if holder is not None and copy:
        new = holder.copy()
        to_anndata(new.mod[mod], result, key=key, copy=False)
        written: Any = new
    else:
        written = to_anndata(adata, result, key=key, copy=copy)
    if summary is None:
        return written
    return (written, summary) if copy else summary


def _is_anndata(obj: object) -> bool:
    return hasattr(obj, "obs") and hasattr(obj, "var") and hasattr(obj, "obs_names")


def score_table(
    data: Any,
    signature: SignatureLike | None = None,
    *,
    method: str | None = None,
    reference: Reference | None = None,
    upper_limit: Any = None,
    groups: Any = None,
    scale: Scale = "auto",
    genes: Sequence[str] | None = None,
    samples: Sequence[str] | None = None,
    rows: Rows = "auto",
    layer: str | None = None,
    use_raw: bool = False,
    nan: Nan = "raise",
    min_genes: int | None = None,
    duplicates: str = "sum",
    id_type: IdType = "auto",
    repeatability_cv: float | None = None,
    allow_partial: bool = False,
    limit_arg: str = "upper_limit",
    options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The internal scorer behind :func:`score`, the CLI, the report, :func:`verify_limit` and
    :func:`follow`: the same computation, always returning the result table (see
    :mod:`ifnscore._results`), whatever the container."""
    options = dict(options or {})
    _check_arguments(nan=nan, scale=scale, rows=rows, duplicates=duplicates, id_type=id_type)
    if reference is not None and not isinstance(reference, Reference):
        raise InputError(
            f"reference= must be an ifnscore.Reference (from ifnscore.calibrate or Reference.load), "
            f"got {type(reference).__name__}."
        )
    if method is None:
        method = reference.method if reference is not None else DEFAULT_METHOD
    meth = get_method(method)
    if signature is None and reference is not None:
        sigs = _signatures_of(reference)
    else:
        sigs = as_signatures(signature)
    if reference is not None:  # genes left out at calibration stay out (exclude_genes=)
        sigs = reference.scoring_signatures(sigs)
    if reference is not None and not options:
        options = dict(reference.method_options)
    check_options(meth, options, func="score", keywords=_SCORE_KEYWORDS)
    if meth.needs_reference and reference is None:
        raise InputError(
            f"method={meth.name!r} compares with healthy controls: pass reference=ifnscore.calibrate(controls, ...) "
            "(or Reference.load(path)), or choose a single-sample method such as 'mean_log'."
        )
    expr, matches = prepare(
        data,
        sigs,
        meth,
        reference,
        options,
        genes=genes,
        samples=samples,
        rows=rows,
        layer=layer,
        use_raw=use_raw,
        scale=scale,
        min_genes=min_genes,
        duplicates=duplicates,
        id_type=id_type,
    )
    params = None if reference is None else reference.gene_params
    comp = compute(expr, sigs, matches, meth, params=params, nan=nan, options=options)
    if nan == "omit":  # min_genes holds per sample too: too few finite values -> no score
        for j, sig in enumerate(sigs):
            need = default_min_genes(len(sig.all_genes)) if min_genes is None else min_genes
            comp.scores[comp.n_genes[:, j] < need, j] = np.nan
    found = {sig.name: [m.gene for m in matches[sig.name] if m.found] for sig in sigs}
    limits = resolve_limits(
        upper_limit,
        signatures=sigs,
        method=meth,
        reference=reference,
        arg=limit_arg,
        genes_used=found,
    )
    per_sample: dict[str, np.ndarray] = {}
    if groups is not None:
        if reference is None or upper_limit is not None:
            raise InputError(
                "groups= needs reference= (calibrated with groups=) and no upper_limit=."
            )
        for sig in sigs:
            parts = reference.signatures[sig.name].partitions
            per_sample[sig.name] = sample_limits(parts, expr.samples, groups)
    if meth.depends_on_cohort(options) and any(v is not None for v in limits.values()):
        warn(
            f"method={meth.name!r} is cohort-dependent: a sample's score changes with the other samples scored "
            "with it, so a fixed upper limit may not transfer between cohorts.",
            IfnscoreWarning,
        )
    calls = _Calls(repeatability_cv, allow_partial)
    result = _frame(expr, sigs, comp, meth, limits, per_sample, reference, calls, matches)
    result.attrs["ifnscore"] = _metadata(
        expr, sigs, meth, matches, limits, per_sample, reference, options, calls
    )
    return result


def _check_arguments(*, nan: Any, scale: Any, rows: Any, duplicates: Any, id_type: Any) -> None:
    """The plain arguments, checked before any data is touched (sklearn's order)."""
    from ._genes import check_id_type
    from ._validation import SCALES

    for name, value, allowed in (
        ("nan", nan, ("raise", "omit")),
        ("scale", scale, ("auto", *SCALES)),
        ("rows", rows, ("auto", "samples", "genes")),
        ("duplicates", duplicates, ("sum", "error")),
    ):
        if not isinstance(value, str) or value not in allowed:
            error = ScaleError if name == "scale" else InputError
            raise error(
                f"{name}={value!r} is not valid; use one of {', '.join(map(repr, allowed))}."
            )
    check_id_type(id_type)


_SCORE_KEYWORDS = (
    "method",
    "reference",
    "upper_limit",
    "groups",
    "scale",
    "genes",
    "samples",
    "rows",
    "layer",
    "use_raw",
    "nan",
    "min_genes",
    "duplicates",
    "id_type",
    "repeatability_cv",
    "allow_partial",
    "mod",
    "groupby",
    "pseudobulk",
    "min_cells",
    "depth_check",
    "key",
    "copy",
)


def _signatures_of(reference: Reference) -> list[Signature]:
    """The reference's signatures: from the registry when the name and genes agree, else as stored."""
    from ._signatures import _registry

    out = []
    for name, sref in reference.signatures.items():
        reg = _registry().get(name)
        if reg is not None and reg.genes == sref.genes and reg.down == sref.down:
            out.append(reg)
        else:
            out.append(
                Signature(name, sref.genes, down=sref.down, citation=sref.citation, doi=sref.doi)
            )
    return out


class _Calls:
    """How a score is called against its limit (``call``, the borderline zone)."""

    #: z of the 90 % two-sided interval: the level of the limits' own CIs (CLSI EP28).
    Z90 = 1.6448536269514722

    def __init__(self, repeatability_cv: float | None, allow_partial: bool) -> None:
        if repeatability_cv is not None and (
            isinstance(repeatability_cv, bool)
            or not isinstance(repeatability_cv, int | float)
            or not 0 < repeatability_cv < 1
        ):
            raise InputError(
                f"repeatability_cv={repeatability_cv!r} must be the assay's coefficient of variation "
                "as a fraction between 0 and 1 (e.g. 0.15 for 15 %)."
            )
        if not isinstance(allow_partial, bool):
            raise InputError(f"allow_partial={allow_partial!r} must be True or False.")
        self.cv = None if repeatability_cv is None else float(repeatability_cv)
        self.allow_partial = allow_partial

    def zone(self, lim: Limit) -> tuple[float, float, str]:
        """(low, high, rule) of the borderline zone around ``lim``."""
        lo = hi = float(lim.value)
        parts = []
        ci_lo, ci_hi = lim.details.get("ci_low"), lim.details.get("ci_high")
        if ci_lo is not None and ci_hi is not None:
            lo, hi = min(lo, float(ci_lo)), max(hi, float(ci_hi))
            level = round(100 * float(lim.details.get("ci_level", 0.9)))
            parts.append(f"the limit's {level} % CI [{ci_lo:.4g}, {ci_hi:.4g}]")
        if self.cv is not None:
            half = self.Z90 * self.cv * abs(float(lim.value))
            lo, hi = min(lo, lim.value - half), max(hi, lim.value + half)
            parts.append(
                f"limit +/- 1.645 x repeatability_cv {self.cv:g} x limit (+/- {half:.4g}: a 90 % "
                "interval of one measurement at the limit)"
            )
        if not parts:
            return lo, hi, "none: the limit has no CI and no repeatability_cv was given"
        return (
            lo,
            hi,
            (
                "borderline when the score lies in "
                + " and ".join(parts)
                + f": [{lo:.4g}, {hi:.4g}]"
            ),
        )


_CALLS = np.array(["negative", "positive", "borderline", "unclassified"], dtype=object)


def _call(score: np.ndarray, value: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """negative / positive / borderline (inside the zone [lo, hi]) / unclassified (no score),
    as an object array of those words."""
    code = np.zeros(score.shape, dtype=np.intp)
    with np.errstate(invalid="ignore"):
        code[score >= value] = 1
        code[(score >= lo) & (score <= hi) & (lo < hi)] = 2
    code[~np.isfinite(score)] = 3
    return _CALLS[code]


def _healthy_percentile(score: np.ndarray, controls: Sequence[float]) -> np.ndarray:
    """Where each score falls among the healthy controls' scores: the mid-rank percentile
    100 (#below + #equal / 2) / n."""
    c = np.sort(np.asarray(controls, dtype=np.float64))
    below = np.searchsorted(c, score, side="left")
    upto = np.searchsorted(c, score, side="right")
    out = 100.0 * (below + (upto - below) / 2.0) / c.size
    out[~np.isfinite(score)] = np.nan
    return out


def _fitted_tail(score: np.ndarray, lim: Limit | None) -> tuple[np.ndarray | None, str]:
    """P(healthy score > score) under the normal the controls' mean + K SD rule fitted on its
    scale (raw, log or Box-Cox); ``None`` for rules that fit no distribution."""
    if lim is None or "mean" not in lim.details or "sd" not in lim.details:
        return None, "not computed: the controls' limit rule fits no distribution (not mean + K SD)"
    from scipy import special

    scale = lim.details.get("scale", "raw")
    with np.errstate(invalid="ignore", divide="ignore"):
        if scale == "log":
            t = np.log(score)
        elif scale == "boxcox":
            lam = float(lim.details["lambda"])
            t = np.log(score) if lam == 0 else (np.power(score, lam) - 1.0) / lam
        else:
            t = score
        z = (t - float(lim.details["mean"])) / float(lim.details["sd"])
    how = (
        f"normal fitted to the controls on the {scale} scale ({lim.rule}: mean "
        f"{float(lim.details['mean']):.4g}, SD {float(lim.details['sd']):.4g})"
    )
    return 0.5 * special.erfc(z / np.sqrt(2.0)), how


def _frame(
    expr: Expression,
    sigs: Sequence[Signature],
    comp: Computed,
    meth: Method,
    limits: Mapping[str, Limit | None],
    per_sample: Mapping[str, np.ndarray],
    reference: Reference | None,
    calls: _Calls,
    matches: Mapping[str, tuple[GeneMatch, ...]],
) -> pd.DataFrame:
    parts: dict[str, dict[str, Any]] = {}
    for j, sig in enumerate(sigs):
        s = comp.scores[:, j]
        cols: dict[str, Any] = {"score": s}
        lim = limits[sig.name]
        if sig.name in per_sample:
            value = per_sample[sig.name]
            partitions = reference.signatures[sig.name].partitions  # type: ignore[union-attr]
            zone = {p.value: calls.zone(p) for p in partitions.values()}
            lo = np.array([zone[v][0] for v in value])
            hi = np.array([zone[v][1] for v in value])
            source = "partition"
        elif lim is not None:
            value = np.full(s.shape, float(lim.value))
            lo_, hi_, _ = calls.zone(lim)
            lo, hi = np.full(s.shape, lo_), np.full(s.shape, hi_)
            source = lim.source
        else:
            value = None
        if value is not None:
            n_found = sum(m.found for m in matches[sig.name])
            partial = comp.n_genes[:, j] < n_found
            # a published limit holds for the score over all its genes: a sample scored on fewer
            # (nan="omit") is not classified against it unless allow_partial=True
            held = np.where(
                partial & (source == "published") & (not calls.allow_partial), np.nan, s
            )
            with np.errstate(invalid="ignore"):
                cols["positive"] = np.asarray(held >= value, dtype=bool)
            cols["fold_over_limit"] = fold_over(held, value, meth)
            cols["call"] = _call(held, value, lo, hi)
        if reference is not None and reference.signatures[sig.name].control_scores:
            sref = reference.signatures[sig.name]
            cols["healthy_percentile"] = _healthy_percentile(s, sref.control_scores)
            tail, _ = _fitted_tail(s, sref.limits.get("controls"))
            if tail is not None:
                cols["healthy_tail_p"] = tail
        cols["n_genes"] = comp.n_genes[:, j]
        for k, v in comp.extras.items():
            cols[k] = np.asarray(v)[:, j]
        parts[sig.name] = cols
    if len(sigs) == 1:
        df = pd.DataFrame(next(iter(parts.values())), index=expr.samples)
    else:  # one frame from every column (a concat of per-signature frames costs ~5x more)
        flat = {(name, k): v for name, cols in parts.items() for k, v in cols.items()}
        df = pd.DataFrame(flat, index=expr.samples)
        df.columns = pd.MultiIndex.from_tuples(list(flat), names=["signature", "field"])
    if df.index.nlevels == 1:
        df.index.name = "sample"
    return df


def _metadata(
    expr: Expression,
    sigs: Sequence[Signature],
    meth: Method,
    matches: Mapping[str, tuple[GeneMatch, ...]],
    limits: Mapping[str, Limit | None],
    per_sample: Mapping[str, np.ndarray],
    reference: Reference | None,
    options: Mapping[str, Any],
    calls: _Calls,
) -> dict[str, Any]:
    def limit_meta(sig: Signature) -> dict[str, Any]:
        lim = limits[sig.name]
        if sig.name in per_sample:
            partitions = reference.signatures[sig.name].partitions  # type: ignore[union-attr]
            return {
                "upper_limit": per_sample[sig.name].tolist(),
                "upper_limit_source": "partition",
                "upper_limit_rule": "each sample's partition (groups=)",
                "upper_limit_notes": [],
                "call_rule": "; ".join(f"{g}: {calls.zone(p)[2]}" for g, p in partitions.items()),
            }
        if lim is None:
            return {
                "upper_limit": None,
                "upper_limit_source": None,
                "upper_limit_rule": None,
                "upper_limit_notes": [],
                "call_rule": None,
            }
        return {
            "upper_limit": float(lim.value),
            "upper_limit_source": lim.source,
            "upper_limit_rule": lim.rule,
            "upper_limit_citation": lim.citation,
            "upper_limit_notes": list(lim.notes),
            "call_rule": calls.zone(lim)[2],
            "call_zone": [float(calls.zone(lim)[0]), float(calls.zone(lim)[1])],
        }

    def healthy_meta(sig: Signature) -> dict[str, Any]:
        if reference is None or not reference.signatures[sig.name].control_scores:
            return {}
        sref = reference.signatures[sig.name]
        _, how = _fitted_tail(np.array([1.0]), sref.limits.get("controls"))
        return {
            "healthy_percentile": "mid-rank percentile among the reference's "
            f"{len(sref.control_scores)} healthy controls' scores",
            "healthy_tail_p": how,
        }

    return {
        "ifnscore_version": __version__,
        "method": meth.name,
        "method_options": dict(options),
        "cohort_dependent": meth.depends_on_cohort(options),
        "scale": expr.scale,
        "scale_note": expr.scale_note,
        "input": expr.container,
        "n_samples": expr.shape[0],
        "fold_over_limit": fold_over_note(meth),
        "allow_partial": calls.allow_partial,
        "repeatability_cv": calls.cv,
        # the bulky records are read-only (ConstList/ConstDict), which pandas copies for free
        # with every new frame (see ifnscore._frozen); the dicts holding them stay editable
        "signatures": {
            sig.name: {
                "genes": ConstList(sig.all_genes),
                "genes_used": ConstList(m.gene for m in matches[sig.name] if m.found),
                "genes_missing": ConstList(m.gene for m in matches[sig.name] if not m.found),
                "matches": match_records(matches[sig.name]),
                **{k: freeze(v) for k, v in limit_meta(sig).items()},
                **healthy_meta(sig),
            }
            for sig in sigs
        },
        "reference": None
        if reference is None
        else {
            "method": reference.method,
            "scale": reference.scale,
            "n_controls": reference.n_controls,
            "created": reference.created,
        },
    }
