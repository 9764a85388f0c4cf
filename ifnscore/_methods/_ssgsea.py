r"""ssGSEA (Barbie et al. 2009) with the semantics of the R package GSVA.

Genes are ranked within each sample in ascending order (:math:`R_g`, 1 = lowest). For a set
:math:`S` of :math:`k` genes among :math:`N`, with weights :math:`w_g = R_g^{\alpha}`, the sum
of the random-walk statistic has the closed form GSVA uses (``.fastRndWalk``):

.. math::

    ES = \frac{\sum_{g \in S} w_g R_g}{\sum_{g \in S} w_g}
         - \frac{N(N+1)/2 - \sum_{g \in S} R_g}{N - k}

Ties: the position term uses mid-ranks, which equals the mean of GSVA's score over all
orders of the tied genes (GSVA orders ties by column position, so its value depends on the
order of the columns); the weights use GSVA's mid-rank truncated to an integer. On tie-free
data the score is GSVA's exactly. ``normalize=True`` divides every score by the range of all
scores (all sets and samples), as GSVA does; this makes a sample's score depend on the other
samples scored with it, so it is off by default (GSVA's default, in every version, is on:
pass ``normalize=True`` to reproduce it). Constant genes are kept, as GSVA does for ssGSEA.
GSVA 1.46 names ``alpha`` ``tau`` and ``normalize`` ``ssgsea.norm``; on tie-free data scores
equal GSVA 1.46.0's to about 1e-14 (``tests/test_gsva_r_golden.py``).

Barbie DA et al. Nature 2009;462:108-12, doi:10.1038/nature08460; Hänzelmann S et al. BMC
Bioinformatics 2013;14:7, doi:10.1186/1471-2105-14-7.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ._base import GeneSet, RowMethod, register
from ._ranks import SSGSEA, Counts, RankStat, SetIndex, rank_scores


def _fallback(c: Counts, index: SetIndex, stat: RankStat) -> tuple[np.ndarray, np.ndarray]:
    """The numpy statistic of one block (the compiled kernel's formulas and sums)."""
    n = c.ranked.n_genes
    table: np.ndarray = stat.table  # type: ignore[assignment]
    mid2 = 2 * c.less + c.equal + 1  # twice the mid-rank: an integer
    w = table[mid2 // 2]
    wr = w * (mid2 / 2.0)
    mid2_0 = 2 * c.less0 + c.equal0 + 1
    w0 = table[mid2_0 // 2]
    wr0 = w0 * (mid2_0 / 2.0)
    out = np.full((mid2.shape[0], index.n_sets), np.nan)
    for j in range(index.n_sets):
        idx = index.up(j)
        k = idx.size
        if k == 0 or k >= n:
            continue
        first = c.set_sum(wr, wr0, idx) / c.set_sum(w, w0, idx)
        out[:, j] = first - (n * (n + 1) / 2.0 - mid2[:, idx].sum(axis=1) / 2.0) / (n - k)
    return out, out


def run(
    X: Any,
    sets: Sequence[GeneSet],
    *,
    alpha: float = 0.25,
    normalize: bool = False,
    block_rows: int | None = None,
) -> dict[str, np.ndarray]:
    """Score every sample for every set; see the module docstring (one pass over the rows
    for all sets: :func:`~._ranks.rank_scores`; the weights ``r ** alpha`` are one table
    over the possible ranks ``r = 1..N``)."""
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        raise InputError(f"alpha={alpha!r} must be a number (GSVA's default is 0.25).") from None
    if not np.isfinite(alpha) or alpha < 0:
        raise InputError(f"alpha={alpha!r} must be a finite number >= 0 (GSVA's default is 0.25).")
    n = X.shape[1]
    table = np.arange(n + 1, dtype=np.float64) ** alpha
    stat = RankStat(SSGSEA, _fallback, table=table)
    out, _ = rank_scores(X, sets, stat, block_rows=block_rows, method="ssgsea")
    if normalize:
        span = np.nanmax(out) - np.nanmin(out)
        if not span > 0:
            raise InputError(
                "ssgsea normalize=True divides by the range of all scores, which is 0 here "
                "(a single sample and set?); use normalize=False."
            )
        out = out / span
    return {"score": out}


register(
    RowMethod(
        name="ssgsea",
        space="data",
        needs_reference=False,
        cohort_dependent=False,
        signed=False,
        formula=r"\frac{\sum_S R_g^{1+\alpha}}{\sum_S R_g^{\alpha}} - \frac{N(N+1)/2 - \sum_S R_g}{N-k}"
        r",\ R = \text{ascending within-sample rank};\ \text{normalize=True divides by the range over "
        r"the cohort (cohort-dependent)}",
        citation="Barbie DA et al. Nature 2009, doi:10.1038/nature08460; GSVA: Hänzelmann S et al. "
        "BMC Bioinformatics 2013, doi:10.1186/1471-2105-14-7",
        run=run,
        needs_whole_rows=True,
        cohort_options={"normalize": True},
    )
)
