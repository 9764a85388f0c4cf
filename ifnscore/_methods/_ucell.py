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
from ._base import GeneSet, Method, register
from ._ranks import iter_ranked_blocks, union_columns


def u_score(capped_sum: np.ndarray, k: int, m: int) -> np.ndarray:
    """UCell's normalised U from the sum of capped ranks of ``k`` genes."""
    s_min = k * (k + 1) / 2.0
    s_max = float(k * m)
    if s_max == s_min:
        return np.zeros_like(capped_sum)
    return 1.0 - (capped_sum - s_min) / (s_max - s_min)


def run(
    X: Any,
    sets: Sequence[GeneSet],
    *,
    max_rank: int = 1500,
    w_neg: float = 1.0,
    block_rows: int | None = None,
) -> dict[str, np.ndarray]:
    """Score every sample for every set; see the module docstring."""
    if isinstance(max_rank, bool) or not isinstance(max_rank, int | np.integer) or max_rank < 1:
        raise InputError(
            f"max_rank={max_rank!r} must be a positive integer (UCell's default is 1500)."
        )
    n_samples, n = X.shape
    m = int(min(max_rank, n))
    union, ups, downs = union_columns(sets)
    out = np.full((n_samples, len(sets)), np.nan)
    for start, stop, ranked, q in iter_ranked_blocks(
        X, union, block_rows=block_rows, method="ucell", keep_top=m
    ):
        less, equal = ranked.less_equal(q)
        greater = ranked.total[:, None] - less - equal
        capped = np.minimum(greater + (equal + 1) / 2.0, m)
        for j, s in enumerate(sets):
            k_up = ups[j].size + s.missing_up
            if k_up == 0:
                continue
            up = u_score(capped[:, ups[j]].sum(axis=1) + s.missing_up * m, k_up, m)
            k_dn = downs[j].size + s.missing_down
            if k_dn:
                dn = u_score(capped[:, downs[j]].sum(axis=1) + s.missing_down * m, k_dn, m)
                up = np.maximum(up - w_neg * dn, 0.0)
            out[start:stop, j] = up
    return {"score": out}


register(
    Method(
        name="ucell",
        kind="rows",
        space="data",
        aggregate=None,
        needs_reference=False,
        cohort_dependent=False,
        signed=True,
        formula=r"1 - \frac{\sum_{g\in S}\min(r_g, m) - k(k+1)/2}{km - k(k+1)/2},\ "
        r"r = \text{descending within-sample mid-rank},\ m = \min(1500, N)",
        citation="Andreatta M, Carmona SJ. Comput Struct Biotechnol J 2021;19:3796-8, "
        "doi:10.1016/j.csbj.2021.06.043",
        run=run,
        options={"max_rank": 1500, "w_neg": 1.0},
        needs_whole_rows=True,
    )
)
