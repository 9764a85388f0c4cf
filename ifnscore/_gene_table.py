r"""Per-gene values behind a score: :func:`gene_table` (public as ``ifnscore.gene_table``).

The same preparation and computation as :func:`ifnscore.score` up to the aggregation over
genes; :mod:`ifnscore.plot` and :mod:`ifnscore.report` draw what it returns and compute
nothing themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd

from ._engine import Nan, compute, prepare
from ._genes import IdType
from ._methods import GeneMethod, get_method
from ._reference import Reference
from ._score import _signatures_of
from ._validation import Rows, Scale
from .errors import InputError

__all__ = ["gene_table"]

_KIND = {"linear": "fold_change", "log2": "z"}


def gene_table(
    data: Any,
    reference: Reference,
    *,
    signature: str | None = None,
    layout: Literal["wide", "long"] = "wide",
    scale: Scale = "auto",
    genes: Sequence[str] | None = None,
    samples: Sequence[str] | None = None,
    rows: Rows = "auto",
    layer: str | None = None,
    use_raw: bool = False,
    nan: Nan = "raise",
    id_type: IdType = "auto",
) -> pd.DataFrame:
    r"""Each sample's per-gene values behind its score: fold changes or z-scores.

    For ``fc_*`` references the fold change over the healthy controls' median,
    :math:`f_{ig} = x_{ig} / \tilde c_g` (linear scale; CPM for counts; RQ for qPCR), whose
    sum over the signature genes is the ``fc_sum`` score and whose median is ``fc_median``
    (Rice et al. 2013, doi:10.1016/S1474-4422(13)70258-8); for ``z_*`` the z-score
    :math:`z_{ig} = (\ell_{ig} - \mu_g) / s_g` with :math:`\ell = \log_2(x + 1)`
    (:math:`\log_2 RQ` for qPCR, scale ``"rq"``) and the controls' mean and SD; for
    ``mean_log`` :math:`\ell_{ig}` itself.

    EULAR's points to consider for interferon assays (Ann Rheum Dis 2023;82:754-62) ask that
    results name the assay's genes: ``attrs["ifnscore"]`` lists the genes used and the genes
    left out, with the reason.

    Parameters
    ----------
    data
        Expression, as for :func:`ifnscore.score`. An AnnData is read, never modified.
    reference
        The :class:`ifnscore.Reference` the scores use; its method must be gene-wise
        (``fc_*``, ``z_*``, ``mean_log``).
    signature
        Which of the reference's signatures (default: its only one).
    layout
        ``"wide"`` (default): samples x genes. ``"long"``: one row per sample and gene with
        columns ``sample``, ``gene``, ``value``, ``kind``.
    scale, genes, samples, rows, layer, use_raw, nan, id_type
        As for :func:`ifnscore.score`.

    Returns
    -------
    pandas.DataFrame
        ``attrs["ifnscore"]``: ``method``, ``kind`` (``"fold_change"``, ``"z"`` or
        ``"log2"``), ``signature``, ``genes_used``, and ``genes_excluded`` (a list of
        ``{"gene", "reason"}``: not found in the data, or left out at calibration).

    Raises
    ------
    ifnscore.errors.InputError
        ``reference`` is not a Reference, its method scores whole rows, or ``layout`` is not
        ``"wide"`` or ``"long"``; and whatever :func:`ifnscore.score` refuses.

    Examples
    --------
    >>> import numpy as np, ifnscore
    >>> counts, samples = ifnscore.datasets.load_example(as_frame=True)
    >>> ref = ifnscore.calibrate(counts[samples["group"] == "control"], signature="rice6")
    >>> fc = ifnscore.gene_table(counts, ref)
    >>> res = ifnscore.score(counts, reference=ref)
    >>> bool(np.allclose(fc.sum(axis=1), res["score"], rtol=1e-12))
    True
    >>> ifnscore.gene_table(counts.iloc[:2], ref, layout="long").columns.tolist()
    ['sample', 'gene', 'value', 'kind']
    """
    if not isinstance(reference, Reference):
        raise InputError(
            f"reference= must be an ifnscore.Reference (from ifnscore.calibrate or Reference.load), "
            f"got {type(reference).__name__}."
        )
    if layout not in ("wide", "long"):
        raise InputError(f"layout={layout!r} is not valid; use 'wide' or 'long'.")
    meth = get_method(reference.method)
    if meth.kind != "gene":
        raise InputError(
            f"Per-gene values need a gene-wise method (fc_*, z_*, mean_log); the reference uses "
            f"{meth.name!r}, which scores whole rows."
        )
    signature = reference.one_signature(signature)
    sig = next(
        x for x in reference.scoring_signatures(_signatures_of(reference)) if x.name == signature
    )
    options = dict(reference.method_options)
    expr, matches = prepare(
        data,
        [sig],
        meth,
        reference,
        options,
        genes=genes,
        samples=samples,
        rows=rows,
        layer=layer,
        use_raw=use_raw,
        scale=scale,
        min_genes=None,
        duplicates="sum",
        id_type=id_type,
    )
    comp = compute(
        expr, [sig], matches, meth, params=reference.gene_params, nan=nan, options=options
    )
    out = pd.DataFrame(comp.values, index=expr.samples, columns=comp.genes)
    out.index.name = "sample"
    out.columns.name = "gene"
    kind = _KIND[meth.space] if isinstance(meth, GeneMethod) and meth.fit is not None else "log2"
    excluded = [
        {"gene": m.gene, "reason": "not found in the data"}
        for m in matches[signature]
        if not m.found
    ]
    sref = reference.signatures[signature]
    excluded += [
        {"gene": g, "reason": "left out at calibration (exclude_genes)"}
        for g in getattr(sref, "excluded_genes", ())
    ]
    meta = {
        "method": meth.name,
        "kind": kind,
        "signature": signature,
        "genes_used": list(comp.genes),
        "genes_excluded": excluded,
    }
    if layout == "long":
        long = out.reset_index().melt(id_vars="sample", var_name="gene", value_name="value")
        long["kind"] = kind
        long.attrs["ifnscore"] = meta
        return long
    out.attrs["ifnscore"] = meta
    return out
