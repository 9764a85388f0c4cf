r"""Module score: scanpy's ``tl.score_genes`` (Seurat's ``AddModuleScore`` approach).

All genes are binned by their mean over all samples: ``bin = rank_min(mean) //
round(n_genes / (n_bins - 1))``. For every bin holding a signature gene, the bin's genes (in
column order) are the candidates; when there are more than ``ctrl_size`` of them,
``ctrl_size`` are drawn with ``numpy.random.RandomState(random_state).choice(n, ctrl_size,
replace=False)``, one generator per signature consumed bin by bin in increasing order, which
is exactly the stream scanpy 1.11 draws from after ``np.random.seed(random_state)``.
Signature genes are removed from the candidates after the draw (``ctrl_as_ref=True``, scanpy's
default) or before it (``ctrl_as_ref=False``). The score is

.. math:: s_i = \frac{1}{|S|}\sum_{g \in S} x_{ig} - \frac{1}{|C|}\sum_{g \in C} x_{ig}

computed in two passes over the matrix: the gene means (:func:`ifnscore._gather.column_sums`,
a compiled loop over the stored values of a large CSR matrix when numba is installed), then
the signature and control columns gathered in float64 row blocks
(:func:`ifnscore._gather.scan`, on threads) and multiplied by the weights ``W``. numpy's
global random state is never touched. Gene means are accumulated in float64, strictly in
sample order (scanpy, through numpy and scipy 1.17, accumulates float32 data in float32, dense
or sparse, even with ``dtype="float64"``: on float32 data it can order genes with nearly equal
means differently; on float64 data both accumulate in float64, in sample order).

The bins depend on every sample's expression, so the score of one sample depends on the other
samples scored with it (cohort-dependent).

Satija R et al. Nat Biotechnol 2015;33:495-502, doi:10.1038/nbt.3192; Tirosh I et al. Science
2016;352:189-96, doi:10.1126/science.aad0501; scanpy: Wolf FA et al. Genome Biol 2018;19:15,
doi:10.1186/s13059-017-1382-0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._gather import _csr_view, column_sums, iter_row_blocks, scan
from ..errors import InputError
from ._base import GeneSet, RowMethod, register
from ._ranks import block_rows_for

#: Values in one gathered float64 block of the used columns (32 MiB).
GATHER_BUDGET = 1 << 22


def column_means(X: Any, *, block_rows: int | None = None) -> np.ndarray:
    """Mean of every gene over all samples, in float64, in one pass.

    Each gene's sum is accumulated strictly in sample order, whatever the container and
    block size (:func:`ifnscore._gather.column_sums`: dense rows are added one after the
    other, as numpy and scipy do for a column sum), so genes with equal means tie exactly as
    they do in scanpy and the control bins do not depend on how the data are stored.
    """
    if sp.issparse(X):
        sums = column_sums(X)
    else:
        sums = column_sums(X, block_rows=block_rows_for(X, block_rows))
    means = sums / X.shape[0]
    if not np.isfinite(means).all():
        raise InputError(
            "module_score: the data have NaN or infinite values, so gene means (which set the "
            "control bins) are undefined; fix or remove them."
        )
    return means


def control_genes(
    means: np.ndarray,
    genes: np.ndarray,
    *,
    n_bins: int,
    ctrl_size: int,
    random_state: int,
    ctrl_as_ref: bool,
) -> np.ndarray:
    """Column indices of the control genes for one signature (scanpy 1.11 semantics)."""
    n_items = int(np.round(means.size / (n_bins - 1)))
    if n_items < 1:
        raise InputError(
            f"module_score: {means.size} genes cannot fill n_bins={n_bins} bins; lower n_bins "
            "(at least 2 genes per bin are needed)."
        )
    from scipy.stats import rankdata

    cut = rankdata(means, method="min") // n_items
    in_set = np.zeros(means.size, dtype=bool)
    in_set[genes] = True
    rng = np.random.RandomState(random_state)
    chosen = []
    for c in np.unique(cut[genes]):
        mask = cut == c
        if not ctrl_as_ref:
            mask &= ~in_set
        cand = np.flatnonzero(mask)
        if ctrl_size < cand.size:
            cand = cand[rng.choice(cand.size, ctrl_size, replace=False)]
        if ctrl_as_ref:
            cand = cand[~in_set[cand]]
        chosen.append(cand)
    return np.unique(np.concatenate(chosen)) if chosen else np.empty(0, dtype=np.intp)


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InputError(f"{name}={value!r} must be an integer >= {low}.")
    return int(value)


def run(
    X: Any,
    sets: Sequence[GeneSet],
    *,
    n_bins: int = 25,
    ctrl_size: int = 50,
    random_state: int = 0,
    ctrl_as_ref: bool = True,
    block_rows: int | None = None,
) -> dict[str, np.ndarray]:
    """Score every sample for every set (scanpy ``score_genes``); see the module docstring."""
    n_bins = _check_int("n_bins", n_bins, 2)
    ctrl_size = _check_int("ctrl_size", ctrl_size, 1)
    random_state = _check_int("random_state", random_state, 0)
    n, p = X.shape
    means = column_means(X, block_rows=block_rows)
    W = np.zeros((p, len(sets)), dtype=np.float64)
    for j, s in enumerate(sets):
        genes = np.unique(np.asarray(s.up, dtype=np.intp))
        ctrl = control_genes(
            means,
            genes,
            n_bins=n_bins,
            ctrl_size=ctrl_size,
            random_state=random_state,
            ctrl_as_ref=ctrl_as_ref,
        )
        if ctrl.size == 0:
            raise InputError(
                f"module_score: no control genes found for signature {s.name!r}"
                + (" (try ctrl_as_ref=False)." if ctrl_as_ref else "; use data with more genes.")
            )
        W[genes, j] += 1.0 / genes.size
        W[ctrl, j] -= 1.0 / ctrl.size
    used = np.flatnonzero(np.any(W != 0, axis=1))
    Wu = W[used]
    if sp.issparse(X) and X.format != "csr":  # one column selection, then a sparse product
        return {"score": np.asarray(X[:, used] @ Wu, dtype=np.float64)}
    out = np.empty((n, len(sets)), dtype=np.float64)
    if sp.issparse(X):
        # CSR: the used columns (signature and control genes) gathered as float64 by one
        # threaded scan per row block (zero-copy views), the dense block bounded by
        # GATHER_BUDGET values, then one product per block
        rows = max(1, GATHER_BUDGET // max(1, used.size))
        blocks: Any = (
            (a, min(n, a + rows), _csr_view(X, a, min(n, a + rows))) for a in range(0, n, rows)
        )
    else:
        blocks = iter_row_blocks(X, block_rows_for(X, block_rows))
    for start, stop, block in blocks:
        out[start:stop] = scan(block, used).values @ Wu
    return {"score": out}


register(
    RowMethod(
        name="module_score",
        space="data",
        needs_reference=False,
        cohort_dependent=True,
        signed=False,
        formula=r"\frac{1}{|S|}\sum_{g\in S} x_{ig} - \frac{1}{|C|}\sum_{g\in C} x_{ig},\ "
        r"C = \text{control genes drawn from the signature genes' expression bins (over the cohort)}",
        citation="Satija R et al. Nat Biotechnol 2015, doi:10.1038/nbt.3192; Tirosh I et al. Science "
        "2016, doi:10.1126/science.aad0501; scanpy tl.score_genes (doi:10.1186/s13059-017-1382-0)",
        run=run,
        needs_whole_rows=True,
    )
)
