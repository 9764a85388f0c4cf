r"""UCell (Andreatta & Carmona 2021): a Mann-Whitney U statistic over the top ranks.

Genes are ranked within each sample in descending order with mid-ranks for ties (over all
genes, zeros included), and ranks above ``max_rank`` (default 1500, capped at the number of
genes) are set to ``max_rank``; signature genes missing from the data count as ``max_rank``
(R UCell). For :math:`k` genes (found and missing) and :math:`m` = ``max_rank``:

.. math::

    U = 1 - \frac{\sum_{g \in S} \min(r_g, m) - k(k+1)/2}{k m - k(k+1)/2}

With down genes: :math:`\max(0, U_\uparrow - w U_\downarrow)`, :math:`w` = ``w_neg``.

Andreatta M, Carmona SJ. Comput Struct Biotechnol J 2021;19:3796-8,
doi:10.1016/j.csbj.2021.06.043.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ._base import GeneSet, RowMethod, register
from ._ranks import UCELL, Counts, RankStat, SetIndex, rank_scores


def u_score(capped_sum: np.ndarray, k: int, m: int) -> np.ndarray:
    """UCell's normalised U from the sum of capped ranks of ``k`` genes."""
    s_min = k * (k + 1) / 2.0
    s_max = float(k * m)
    if s_max == s_min:
        return np.zeros_like(capped_sum, dtype=np.float64)
    return 1.0 - (capped_sum - s_min) / (s_max - s_min)


def _fallback(c: Counts, index: SetIndex, stat: RankStat) -> tuple[np.ndarray, np.ndarray]:
    """The numpy statistic of one block: twice the capped mid-ranks are integers, so every
    sum is exact (the compiled kernel's numbers, whatever the order)."""
    (m,), (w_neg,) = stat.ints, stat.floats
    greater = c.total[:, None] - c.less - c.equal
    capped2 = np.minimum(2 * greater + c.equal + 1, 2 * m)
    out = np.full((c.less.shape[0], index.n_sets), np.nan)
    for j in range(index.n_sets):
        up, down = index.up(j), index.down(j)
        k_up = up.size + int(index.miss_up[j])
        if k_up == 0:
            continue
        res = u_score(capped2[:, up].sum(axis=1) / 2.0 + index.miss_up[j] * m, k_up, m)
        k_dn = down.size + int(index.miss_dn[j])
        if k_dn:
            dn = u_score(capped2[:, down].sum(axis=1) / 2.0 + index.miss_dn[j] * m, k_dn, m)
            res = np.maximum(res - w_neg * dn, 0.0)
        out[:, j] = res
    return out, out


def run(
    X: Any,
    sets: Sequence[GeneSet],
    *,
    max_rank: int = 1500,
    w_neg: float = 1.0,
    block_rows: int | None = None,
) -> dict[str, np.ndarray]:
    """Score every sample for every set; see the module docstring (one pass over the rows
    for all sets: :func:`~._ranks.rank_scores`)."""
    if isinstance(max_rank, bool) or not isinstance(max_rank, int | np.integer) or max_rank < 1:
        raise InputError(
            f"max_rank={max_rank!r} must be a positive integer (UCell's default is 1500)."
        )
    try:
        w = float(w_neg)
    except (TypeError, ValueError):
        raise InputError(f"w_neg={w_neg!r} must be a number (UCell's default is 1).") from None
    m = int(min(max_rank, X.shape[1]))
    stat = RankStat(UCELL, _fallback, ints=(m,), floats=(w,), keep_top=m)
    out, _ = rank_scores(X, sets, stat, block_rows=block_rows, method="ucell")
    return {"score": out}


register(
    RowMethod(
        name="ucell",
        space="data",
        needs_reference=False,
        cohort_dependent=False,
        signed=True,
        formula=r"1 - \frac{\sum_{g\in S}\min(r_g, m) - k(k+1)/2}{km - k(k+1)/2},\ "
        r"r = \text{descending within-sample mid-rank},\ m = \min(1500, N)",
        citation="Andreatta M, Carmona SJ. Comput Struct Biotechnol J 2021;19:3796-8, "
        "doi:10.1016/j.csbj.2021.06.043",
        run=run,
        needs_whole_rows=True,
    )
)
