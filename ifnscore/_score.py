"""The main entry point: :func:`score`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._engine import Computed, Nan, compute, default_min_genes, prepare
from ._genes import GeneMatch, IdType, matches_frame
from ._limits import sample_limits
from ._methods import DEFAULT_METHOD, Method, check_options, get_method
from ._reference import Reference
from ._results import to_anndata
from ._signatures import Signature, SignatureLike, as_signatures
from ._validation import Expression, Rows, Scale
from ._version import __version__
from ._warn import warn
from .errors import IfnscoreWarning, InputError

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
    key: str = "ifnscore",
    copy: bool = False,
    **options: Any,
) -> pd.DataFrame | Any | None:
    r"""Score every sample for one or more interferon signatures.

    Parameters
    ----------
    data
        Expression, samples x genes: a numpy array (with ``genes=``), a scipy.sparse CSR/CSC
        matrix or array (with ``genes=``), a pandas DataFrame (samples x genes, or genes x
        samples when the names make it clear or ``rows="genes"``), or an AnnData object
        (``X``, ``layer=`` or ``use_raw=True``; in memory or backed).
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
        reference's overall limit applies.
    scale
        ``"counts"`` (raw counts; converted to counts per million over all genes),
        ``"linear"`` (already normalised: CPM, TPM, qPCR relative quantities), ``"log2"``
        (:math:`\log_2(x+1)`), ``"log1p"`` (:math:`\ln(1+x)`, scanpy), or ``"auto"``
        (detected; the result records what was detected and why; unclear data raise
        :class:`~ifnscore.errors.ScaleError` asking for ``scale=``).
    genes, samples
        Gene (column) and sample (row) names for arrays and sparse matrices.
    rows
        ``"auto"``, ``"samples"`` or ``"genes"``: what the rows of a table or array are.
    layer, use_raw
        Which AnnData matrix to score.
    nan
        ``"raise"`` (default) on NaN/inf in signature genes, or ``"omit"``: leave them out per
        sample (sums are rescaled to the full gene count, :math:`k\cdot\mathrm{mean}`, so the
        limit still applies; ``n_genes`` shows how many were used). A sample left with fewer
        than ``min_genes`` finite values gets a NaN score (``positive`` False).
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
    key
        AnnData only: results go to ``obs[key]``, ``obs[f"{key}_positive"]``,
        ``obs[f"{key}_fold_over_limit"]``, ``obs[f"{key}_n_genes"]`` and ``uns[key]``
        (with several signatures: ``obs[f"{key}_{signature}"]`` etc.).
    copy
        AnnData only: return a modified copy instead of writing in place.
    **options
        Method options (e.g. ``max_rank=`` for ``ucell``).

    Returns
    -------
    pandas.DataFrame or AnnData or None
        For non-AnnData input, a DataFrame indexed by sample. With one signature its columns
        are ``score``, ``n_genes`` and, when an upper limit is known, ``positive`` (bool,
        ``score >= upper_limit``) and ``fold_over_limit`` (``score / upper_limit``). With
        several signatures the columns are a MultiIndex ``(signature, field)``:
        ``res["rice6", "score"]``; ``res.xs("score", axis=1, level=1)`` gives a samples x
        signatures table. ``res.attrs["ifnscore"]`` holds the method, scale, genes used
        and missing, how each gene was matched, and the limits.
        For AnnData: ``None`` (written in place), or the copy when ``copy=True``.

    Raises
    ------
    ifnscore.errors.InputError
        Malformed data (NaN, negative values on a linear scale, duplicate sample names,
        non-numeric values, empty input).
    ifnscore.errors.ScaleError
        The scale could not be detected.
    ifnscore.errors.GeneMatchError
        Fewer than ``min_genes`` signature genes found.
    ifnscore.errors.ReferenceMismatchError
        The reference's method, scale, signature genes or options differ from the request.

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

    Examples
    --------
    >>> import ifnscore
    >>> counts, samples = ifnscore.datasets.load_example(as_frame=True)
    >>> ref = ifnscore.calibrate(counts[samples["group"] == "control"], signature="rice6")
    >>> res = ifnscore.score(counts, signature="rice6", reference=ref)
    >>> list(res.columns)
    ['score', 'positive', 'fold_over_limit', 'n_genes']
    >>> bool(res.loc["JDM01_d000", "positive"])
    True
    """
    if _is_anndata(data):
        if copy and getattr(data, "isbacked", False):
            raise InputError(
                "copy=True cannot copy a backed AnnData (that would load the whole matrix); score it in "
                "place (obs and uns of a backed AnnData live in memory), or pass adata.to_memory()."
            )
    elif copy:
        raise InputError("copy= applies to AnnData input only.")
    result = score_table(
        data,
        signature,
        method=method,
        reference=reference,
        upper_limit=upper_limit,
        groups=groups,
        scale=scale,
        genes=genes,
        samples=samples,
        rows=rows,
        layer=layer,
        use_raw=use_raw,
        nan=nan,
        min_genes=min_genes,
        duplicates=duplicates,
        id_type=id_type,
        options=options,
    )
    if _is_anndata(data):
        return to_anndata(data, result, key=key, copy=copy)
    return result


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
    limits = _limits(sigs, reference, upper_limit)
    if groups is not None:
        if reference is None or upper_limit is not None:
            raise InputError(
                "groups= needs reference= (calibrated with groups=) and no upper_limit=."
            )
        for sig in sigs:
            parts = reference.signatures[sig.name].partitions
            limits[sig.name] = (sample_limits(parts, expr.samples, groups), "partition")  # type: ignore[assignment]
    if meth.depends_on_cohort(options) and any(v is not None for v in limits.values()):
        warn(
            f"method={meth.name!r} is cohort-dependent: a sample's score changes with the other samples scored "
            "with it, so a fixed upper limit may not transfer between cohorts.",
            IfnscoreWarning,
        )
    result = _frame(expr, sigs, comp, limits)
    result.attrs["ifnscore"] = _metadata(expr, sigs, meth, matches, limits, reference, options)
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
            raise InputError(
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


def _limits(
    sigs: Sequence[Signature],
    reference: Reference | None,
    upper_limit: float | str | Mapping[str, float | str] | None,
) -> dict[str, tuple[float, str] | None]:
    out: dict[str, tuple[float, str] | None] = {}
    if isinstance(upper_limit, Mapping):
        unknown = sorted(set(upper_limit) - {s.name for s in sigs})
        if unknown:
            raise InputError(
                f"upper_limit= names signatures {unknown} that are not scored "
                f"(scored: {[s.name for s in sigs]})."
            )
    for sig in sigs:
        value = upper_limit.get(sig.name) if isinstance(upper_limit, Mapping) else upper_limit
        if isinstance(value, str):
            if value not in ("published", "controls"):
                raise InputError(
                    f"upper_limit={value!r} is not valid; use a number, 'published' or 'controls'."
                )
            if reference is None:
                raise InputError(
                    f"upper_limit={value!r} takes the limit from a reference; pass reference= or a number."
                )
            lim = reference.signatures[sig.name].limits.get(value)
            if lim is None:
                raise InputError(
                    f"upper_limit={value!r}: the reference holds no {value} limit for signature "
                    f"{sig.name!r} (it has {sorted(reference.signatures[sig.name].limits)})."
                )
            out[sig.name] = (lim.value, lim.source)
        elif value is not None:
            try:
                out[sig.name] = (float(value), "user")
            except (TypeError, ValueError):
                raise InputError(
                    f"upper_limit={value!r} must be a number, 'published' or 'controls' (or a dict "
                    "signature -> one of these)."
                ) from None
            if not np.isfinite(out[sig.name][0]):  # type: ignore[index]
                raise InputError(f"upper_limit={value!r} must be finite.")
        elif reference is not None:
            lim = reference.signatures[sig.name].upper_limit
            out[sig.name] = (lim.value, lim.source)
        else:
            out[sig.name] = None
    return out


def _frame(
    expr: Expression,
    sigs: Sequence[Signature],
    comp: Computed,
    limits: Mapping[str, tuple[float, str] | None],
) -> pd.DataFrame:
    parts = {}
    for j, sig in enumerate(sigs):
        s = comp.scores[:, j]
        cols: dict[str, Any] = {"score": s}
        lim = limits[sig.name]
        if lim is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                cols["positive"] = np.asarray(s >= lim[0], dtype=bool)
                cols["fold_over_limit"] = s / lim[0]
        cols["n_genes"] = comp.n_genes[:, j]
        for k, v in comp.extras.items():
            cols[k] = np.asarray(v)[:, j]
        parts[sig.name] = pd.DataFrame(cols, index=expr.samples)
    if len(sigs) == 1:
        df = next(iter(parts.values()))
    else:
        df = pd.concat(parts, axis=1, names=["signature", "field"])
    if df.index.nlevels == 1:
        df.index.name = "sample"
    return df


def _metadata(
    expr: Expression,
    sigs: Sequence[Signature],
    meth: Method,
    matches: Mapping[str, tuple[GeneMatch, ...]],
    limits: Mapping[str, tuple[float, str] | None],
    reference: Reference | None,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "ifnscore_version": __version__,
        "method": meth.name,
        "method_options": dict(options),
        "cohort_dependent": meth.depends_on_cohort(options),
        "scale": expr.scale,
        "scale_note": expr.scale_note,
        "input": expr.container,
        "n_samples": expr.shape[0],
        "signatures": {
            sig.name: {
                "genes": list(sig.all_genes),
                "genes_used": [m.gene for m in matches[sig.name] if m.found],
                "genes_missing": [m.gene for m in matches[sig.name] if not m.found],
                "matches": matches_frame(matches[sig.name]).to_dict(orient="records"),
                "upper_limit": None
                if limits[sig.name] is None
                else np.asarray(limits[sig.name][0]).tolist(),  # type: ignore[index]
                "upper_limit_source": None if limits[sig.name] is None else limits[sig.name][1],  # type: ignore[index]
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
