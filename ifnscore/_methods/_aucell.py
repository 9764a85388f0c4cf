r"""AUCell (Aibar et al. 2017): area under the recovery curve of a gene set in the top ranks.

Genes are ranked within each sample in descending order (1 = highest). With
:math:`T` = ``max_rank`` (R's ``aucMaxRank``, default :math:`\lceil 0.05 N \rceil`), the
recovery curve's area up to :math:`T` telescopes to

.. math::

    AUC = \frac{\sum_{g \in S,\ r_g < T} (T - r_g)}{\sum_{x=1}^{\min(k, T-1)} (T - x)}

(R AUCell ``.AUC.geneSet_norm``; the denominator is the largest area :math:`k` genes can
reach). Ties: R breaks them at random; here a tied gene occupying positions
:math:`lo..hi` contributes the mean of :math:`\max(T - r, 0)` over those positions, the
exact expected value of R's score over random tie-breaking, deterministic and independent of
the column order. On tie-free data this is R's value.

``variant="pyscenic"`` reproduces pySCENIC (ctxcore ``recovery.aucs`` with
``derive_rank_cutoff``): :math:`T = \mathrm{round}(0.05 N)` (Python rounding) instead of the
ceiling, the same area, normalised by :math:`T k` instead of the largest reachable area.
``max_rank`` sets :math:`T` in both variants.

Aibar S et al. Nat Methods 2017;14:1083-6, doi:10.1038/nmeth.4463.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ._base import GeneSet, RowMethod, register
from ._ranks import AUCELL, Counts, RankStat, SetIndex, rank_scores


def expected_area(lo: np.ndarray, hi: np.ndarray, T: int) -> np.ndarray:
    """Mean over positions ``lo..hi`` (1-based) of ``max(T - r, 0)``; 0 where ``hi < lo``
    (a value below the kept top, see :class:`~._ranks.RankedRows`)."""
    b = np.minimum(hi, T - 1).astype(np.float64)
    a = lo.astype(np.float64)
    m = np.maximum(b - a + 1, 0)
    total = m * T - m * (a + b) / 2.0
    return np.where(m > 0, total, 0.0) / np.maximum(hi - lo + 1, 1)


def _threshold(n: int, max_rank: int | None, variant: str) -> int:
    if variant not in ("r", "pyscenic"):
        raise InputError(f"variant={variant!r} is not valid; use 'r' (AUCell) or 'pyscenic'.")
    if max_rank is None:
        T = math.ceil(0.05 * n) if variant == "r" else round(0.05 * n)
    else:
        T = max_rank
    if isinstance(T, bool) or not isinstance(T, int | np.integer) or not 2 <= T <= n:
        raise InputError(
            f"aucell: max_rank {T!r} is out of range for {n} genes; pass max_rank= between 2 and "
            "the number of genes (AUCell needs data with many genes)."
        )
    return int(T)


def _denominator(k: int, T: int, variant: int) -> float:
    if variant == 0:
        m = min(k, T - 1)
        return m * T - m * (m + 1) / 2.0
    return float(T * k)


def _fallback(c: Counts, index: SetIndex, stat: RankStat) -> tuple[np.ndarray, np.ndarray]:
    """The numpy statistic of one block (the compiled kernel's formulas and sums)."""
    T, variant = stat.ints
    greater = c.total[:, None] - c.less - c.equal
    area = expected_area(greater + 1, greater + c.equal, T)
    g0 = c.total - c.less0 - c.equal0
    area0 = expected_area(g0 + 1, g0 + c.equal0, T)
    out = np.full((c.less.shape[0], index.n_sets), np.nan)
    for j in range(index.n_sets):
        idx = index.up(j)
        if idx.size:
            out[:, j] = c.set_sum(area, area0, idx) / _denominator(idx.size, T, variant)
    return out, out


def run(
    X: Any,
    sets: Sequence[GeneSet],
    *,
    max_rank: int | None = None,
    variant: str = "r",
    block_rows: int | None = None,
) -> dict[str, np.ndarray]:
    """Score every sample for every set; see the module docstring.

    One pass over the rows for all sets (:func:`~._ranks.rank_scores`): each row is sorted
    once, and each set's area is the sum of its genes' areas (non-zero genes in column
    order, then the zero genes, which share one area).
    """
    n = X.shape[1]
    T = _threshold(n, max_rank, variant)
    stat = RankStat(AUCELL, _fallback, ints=(T, 0 if variant == "r" else 1), keep_top=min(T, n))
    out, _ = rank_scores(X, sets, stat, block_rows=block_rows, method="aucell")
    return {"score": out}


register(
    RowMethod(
        name="aucell",
        space="data",
        needs_reference=False,
        cohort_dependent=False,
        signed=False,
        formula=r"\frac{\sum_{g\in S, r_g<T}(T-r_g)}{\sum_{x=1}^{\min(k,T-1)}(T-x)},\ "
        r"r = \text{descending within-sample rank},\ T=\lceil 0.05N\rceil",
        citation="Aibar S et al. Nat Methods 2017;14:1083-6, doi:10.1038/nmeth.4463",
        run=run,
        needs_whole_rows=True,
    )
)
