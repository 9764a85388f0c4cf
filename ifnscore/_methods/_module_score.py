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

computed as one sparse-aware matrix product ``X @ W``. numpy's global random state is never
touched. Gene means are accumulated in float64 (scanpy accumulates dense float32 data in
float32, which can order genes with nearly equal means differently).

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

from .._gather import iter_row_blocks
from ..errors import InputError
from . import GeneSet, Method, register
from ._ranks import ENTRY_BUDGET, block_rows_for


def column_means(X: Any, *, block_rows: int | None = None) -> np.ndarray:
    """Mean of every gene over all samples, in float64, in one pass.

    Each gene's sum is accumulated strictly in sample order, whatever the container and
    block size (dense rows are added one after the other, as numpy and scipy do for a column
    sum), so genes with equal means tie exactly as they do in scanpy and the control bins do
    not depend on how the data are stored.
    """
    n, p = X.shape
    sums = np.zeros(p, dtype=np.float64)
    genes = np.arange(p)

    def add(idx: np.ndarray, vals: np.ndarray, acc: np.ndarray) -> np.ndarray:
        # bincount adds the weights in order: the running sums first, then the entries
        return np.bincount(
            np.concatenate((genes, idx)),
            weights=np.concatenate((acc, np.asarray(vals, dtype=np.float64))),
            minlength=p,
        )

    if sp.issparse(X):
        src = X.tocsr() if X.format != "csr" else X
        step = ENTRY_BUDGET
        for a in range(0, src.nnz, step):  # entries in row order, read in place
            b = min(src.nnz, a + step)
            sums = add(src.indices[a:b], src.data[a:b], sums)
    else:
        for _, _, block in iter_row_blocks(X, block_rows_for(X, block_rows)):
            if sp.issparse(block):
                block = sp.csr_matrix(block)
                sums = add(block.indices, block.data, sums)
            else:
                sums = np.concatenate((sums[None, :], np.asarray(block, dtype=np.float64))).sum(
                    axis=0
                )
    means = sums / n
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
    if sp.issparse(X):  # one column selection (the few genes used), then a sparse product
        return {"score": np.asarray(X[:, used] @ Wu, dtype=np.float64)}
    out = np.empty((n, len(sets)), dtype=np.float64)
    for start, stop, block in iter_row_blocks(X, block_rows_for(X, block_rows)):
        out[start:stop] = np.asarray(block[:, used] @ Wu, dtype=np.float64)
    return {"score": out}


register(
    Method(
        name="module_score",
        kind="rows",
        space="data",
        aggregate=None,
        needs_reference=False,
        cohort_dependent=True,
        signed=False,
        formula=r"\frac{1}{|S|}\sum_{g\in S} x_{ig} - \frac{1}{|C|}\sum_{g\in C} x_{ig},\ "
        r"C = \text{control genes drawn from the signature genes' expression bins (over the cohort)}",
        citation="Satija R et al. Nat Biotechnol 2015, doi:10.1038/nbt.3192; Tirosh I et al. Science "
        "2016, doi:10.1126/science.aad0501; scanpy tl.score_genes (doi:10.1186/s13059-017-1382-0)",
        run=run,
        options={"n_bins": 25, "ctrl_size": 50, "random_state": 0, "ctrl_as_ref": True},
        needs_whole_rows=True,
    )
)
