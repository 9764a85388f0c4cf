r"""GSVA (Hänzelmann et al. 2013): gene-set variation analysis over a cohort.

1. Each gene's expression is turned into a cumulative distribution value over the samples
   scored together, then to log-odds (monotone, so only the order matters):

   * ``kcdf="gaussian"``: :math:`F_{ig} = \frac1n\sum_j \Phi\big((x_{ig}-x_{jg})/h_g\big)`,
     :math:`h_g = s_g/4`, with :math:`\Phi` read from GSVA's table of 10 001 values on
     :math:`[0, 10]` (truncated index, as GSVA's C code does);
   * ``kcdf="poisson"`` (integer counts): :math:`F_{ig} = \frac1n\sum_j
     \mathrm{ppois}(x_{ig};\ x_{jg} + 0.5)`;
   * ``kcdf="ecdf"``: the empirical CDF :math:`\#\{j: x_{jg} \le x_{ig}\}/n` (GSVA's
     ``kcdf="none"``);
   * ``kcdf="auto"``: Poisson for integer data, Gaussian otherwise.

2. Within each sample the genes are ranked by :math:`F` (ascending rank :math:`r`, ties: the
   later column ranks lower, R's ``ties.method="last"`` as in GSVA), giving the position
   :math:`N - r + 1` in decreasing order and the weight :math:`|N/2 - r|^{\tau}`.

3. A Kolmogorov-Smirnov-like random walk over the ordered genes steps up by the set genes'
   weights (normalised to 1) and down by :math:`1/(N-k)` for the others; with
   :math:`E^+, E^-` its maximum and minimum deviations, the score is
   :math:`E^+ + E^-` (``max_diff=True``, default), :math:`E^+ - E^-` (``abs_ranking=True``), or
   the larger deviation (``max_diff=False``). It is computed in closed form from the set genes'
   positions only.

Genes constant across the samples (minimum equal to maximum) are dropped first (GSVA's
``filterGenes``). The per-gene CDF uses every sample, so scores are cohort-dependent; the
kernels cost :math:`O(n^2)` per gene and an :math:`n \times N` float64 matrix is held (bulk cohorts).

Versions of R's GSVA: scores equal GSVA 1.46.0's to about 1e-14 for every kernel and option
(``tests/test_gsva_r_golden.py``). GSVA's ``kcdf="Gaussian"/"Poisson"/"none"`` are
``"gaussian"/"poisson"/"ecdf"`` here, ``mx.diff``/``maxDiff`` is ``max_diff`` and
``abs.ranking``/``absRanking`` is ``abs_ranking``. The defaults differ: GSVA 1.46 defaults to
the Gaussian kernel whatever the data; GSVA >= 2.0's ``kcdf="auto"`` uses no kernel
(``"none"``) from 200 samples on (``kcdfNoneMinSampleSize``) and the Poisson kernel only for
data stored as R integers, while ``"auto"`` here never picks ``"ecdf"`` and picks Poisson for
any non-negative integer-valued data. Pass ``kcdf=`` explicitly to reproduce a given GSVA
call. GSVA 1.46 called genes with SD below 1e-10 constant; >= 1.52 compares minimum and
maximum, as here. For sparse (``dgCMatrix``) input GSVA >= 2.0 runs a different, sparse
variant by default (``sparse=TRUE``); this module always runs the classical algorithm, which
is GSVA's ``sparse=FALSE``.

Hänzelmann S, Castelo R, Guinney J. BMC Bioinformatics 2013;14:7,
doi:10.1186/1471-2105-14-7.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import ndtr, pdtr

from ..errors import InputError
from ._base import GeneSet, RowMethod, register
from ._cohort import as_column_source, gather_finite, need_samples

PRECOMPUTE_RESOLUTION = 10_000  # GSVA kernel_estimation.c
MAX_PRECOMPUTE = 10.0
SIGMA_FACTOR = 4.0
PAIR_BUDGET = 1 << 22  # sample pairs x genes held at once by the kernels

_CDF_TABLE = ndtr(MAX_PRECOMPUTE * np.arange(PRECOMPUTE_RESOLUTION + 1) / PRECOMPUTE_RESOLUTION)


def _table_cdf(v: np.ndarray) -> np.ndarray:
    r"""GSVA's precomputed standard normal CDF at ``v`` (index truncated, as in C).

    Beyond 10 standard deviations GSVA returns exactly 0 or 1; the last table entry,
    :math:`\Phi(10)`, is 1.0 in double precision, so clipping the index there is the same.
    """
    a = np.minimum(np.abs(v), 2 * MAX_PRECOMPUTE)
    idx = np.minimum(
        (a / MAX_PRECOMPUTE * PRECOMPUTE_RESOLUTION).astype(np.int64), PRECOMPUTE_RESOLUTION
    )
    cdf = _CDF_TABLE[idx]
    return np.where(v < 0, 1.0 - cdf, cdf)


def _kernel_cdf(G: np.ndarray, kcdf: str) -> np.ndarray:
    """Kernel CDF of each column of ``G`` (n x g) at its own values."""
    n, g = G.shape
    if kcdf == "ecdf":  # #{j: x_jg <= x_ig} / n is the "max" rank
        from scipy.stats import rankdata

        return rankdata(G, method="max", axis=0) / n
    out = np.empty_like(G)
    bw = G.std(axis=0, ddof=1) / SIGMA_FACTOR if kcdf == "gaussian" else None
    step = max(1, PAIR_BUDGET // max(n * g, 1))
    for s in range(0, n, step):
        y = G[s : s + step, None, :]  # test values
        if bw is not None:
            tail = _table_cdf((y - G[None, :, :]) / bw).mean(axis=1)
        else:
            tail = pdtr(y, G[None, :, :] + 0.5).mean(axis=1)
        out[s : s + step] = tail
    with np.errstate(divide="ignore"):
        return -np.log((1.0 - out) / out)


def _cdf_matrix(X: Any, kcdf: str) -> tuple[np.ndarray, np.ndarray]:
    """The n x N' matrix of per-gene CDF values over the non-constant genes, and their columns."""
    n, p = X.shape
    src = as_column_source(X)
    pairs = n * n if kcdf != "ecdf" else n  # values held per gene by the kernel
    per_block = max(1, PAIR_BUDGET // max(pairs, 1))
    blocks, kept = [], []
    for c0 in range(0, p, per_block):
        cols = np.arange(c0, min(p, c0 + per_block))
        G = gather_finite(src, cols, "gsva")
        if kcdf == "poisson" and (np.any(G < 0) or np.any(np.round(G) != G)):
            raise InputError(
                "gsva kcdf='poisson' needs non-negative integer counts; use kcdf='gaussian' for "
                "continuous (log) data."
            )
        keep = G.max(axis=0) > G.min(axis=0)
        if kcdf == "gaussian":
            # a gene that varies only at ~1e-200 (FPKM of an unexpressed gene) has a bandwidth
            # that underflows to 0: as constant as a constant gene
            with np.errstate(under="ignore", invalid="ignore"):
                bw = G.std(axis=0, ddof=1) / SIGMA_FACTOR
            keep &= np.isfinite(bw) & (bw > 0)
        if keep.any():
            blocks.append(_kernel_cdf(G[:, keep], kcdf))
            kept.append(cols[keep])
    if not blocks:
        raise InputError("gsva: every gene is constant across the samples; nothing to rank.")
    return np.concatenate(blocks, axis=1), np.concatenate(kept)


def _auto_kcdf(X: Any) -> str:
    import scipy.sparse as sp

    vals = X.data if sp.issparse(X) else np.asarray(X)
    return (
        "poisson"
        if vals.size and np.all(vals == np.round(vals)) and vals.min() >= 0
        else "gaussian"
    )


def walk_scores(
    pos: np.ndarray, w: np.ndarray, n: int, *, max_diff: bool, abs_ranking: bool
) -> np.ndarray:
    """GSVA's random-walk score from the set genes' positions (1 = top) and weights (b x k)."""
    k = pos.shape[1]
    order = np.argsort(pos, axis=1)
    ps = np.take_along_axis(pos, order, axis=1).astype(np.float64)
    ws = np.take_along_axis(w, order, axis=1)
    cum = np.cumsum(ws, axis=1)
    total = cum[:, -1:]
    miss = (ps - np.arange(1, k + 1)) / (n - k)
    with np.errstate(invalid="ignore", divide="ignore"):
        after = cum / total - miss
        before = (cum - ws) / total - miss
    mx = np.maximum(after.max(axis=1), 0.0)
    mn = np.minimum(before.min(axis=1), 0.0)
    es = (mx - mn if abs_ranking else mx + mn) if max_diff else np.where(mx > np.abs(mn), mx, mn)
    return np.where(total[:, 0] > 0, es, np.nan)


def run(
    X: Any,
    sets: Sequence[GeneSet],
    *,
    kcdf: str = "auto",
    tau: float = 1.0,
    max_diff: bool = True,
    abs_ranking: bool = False,
) -> dict[str, np.ndarray]:
    """Score every sample for every set; see the module docstring."""
    if kcdf not in ("auto", "gaussian", "poisson", "ecdf"):
        raise InputError(
            f"kcdf={kcdf!r} is not valid; use 'auto', 'gaussian', 'poisson' or 'ecdf'."
        )
    n_samples = X.shape[0]
    need_samples(n_samples, "gsva")
    if kcdf == "auto":
        kcdf = _auto_kcdf(X)
    Z, kept = _cdf_matrix(X, kcdf)
    n = kept.size
    where = np.full(X.shape[1], -1, dtype=np.intp)
    where[kept] = np.arange(n)
    # ascending rank, ties: the later column first (R ties.method="last")
    order = np.argsort(Z[:, ::-1], axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, n - 1 - order, np.arange(1, n + 1)[None, :], axis=1)
    out = np.full((n_samples, len(sets)), np.nan)
    for j, s in enumerate(sets):
        idx = where[np.asarray(s.up, dtype=np.intp)]
        idx = idx[idx >= 0]
        if idx.size == 0 or idx.size >= n:
            continue
        r = rank[:, idx]
        out[:, j] = walk_scores(
            n - r + 1,
            np.abs(n / 2.0 - r) ** tau,
            n,
            max_diff=max_diff,
            abs_ranking=abs_ranking,
        )
    return {"score": out}


register(
    RowMethod(
        name="gsva",
        space="data",
        needs_reference=False,
        cohort_dependent=True,
        signed=False,
        formula=r"E^+ + E^-\ \text{of the weighted random walk over genes ranked by their kernel CDF "
        r"across the samples scored together}",
        citation="Hänzelmann S, Castelo R, Guinney J. BMC Bioinformatics 2013;14:7, "
        "doi:10.1186/1471-2105-14-7",
        run=run,
        needs_whole_rows=True,
    )
)
