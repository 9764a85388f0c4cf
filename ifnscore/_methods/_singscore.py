r"""singscore (Foroutan et al. 2018): rank-based single-sample score with dispersion.

Genes are ranked within each sample in ascending order of expression, ties by their
minimum rank (R ``rank(ties.method = "min")``, the package default). For a set of
:math:`k` found genes among :math:`N`, with mean rank :math:`\bar r`:

.. math::

    S = \frac{\bar r - (k+1)/2}{(2N - k + 1)/2 - (k+1)/2} - \tfrac12

(centred, in :math:`[-\tfrac12, \tfrac12]`). With down genes the down set is scored the same
way on the same ranks and reversed: :math:`S = S_\uparrow + (1 - S'_\downarrow - \tfrac12)`
(:math:`S'` the uncentred down score), so :math:`S \in [-1, 1]`. With unknown direction the
ranks are folded around the sample's median rank, :math:`|r - \lceil \operatorname{median}(r)
\rceil|`, and bounded with :math:`\lfloor k/2 \rfloor` and :math:`\lceil N/2 \rceil` (no
centring). The dispersion is R's ``mad`` (1.4826 x median absolute deviation) of the set's
ranks, summed over the up and down sets.

Foroutan M et al. BMC Bioinformatics 2018;19:404, doi:10.1186/s12859-018-2435-4; formulas as
in the Bioconductor package ``singscore`` (``simpleScore``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ._base import GeneSet, RowMethod, register
from ._ranks import SINGSCORE, Counts, RankStat, SetIndex, rank_scores

MAD_CONSTANT = 1.4826  # R's mad(): consistent for the normal SD


def _mad(r: np.ndarray) -> np.ndarray:
    med = np.median(r, axis=1, keepdims=True)
    return MAD_CONSTANT * np.median(np.abs(r - med), axis=1)


def _norm(mean: np.ndarray, k: float, n: float) -> np.ndarray:
    low = (k + 1) / 2
    high = (2 * n - k + 1) / 2
    return (mean - low) / (high - low)


def _fallback(c: Counts, index: SetIndex, stat: RankStat) -> tuple[np.ndarray, np.ndarray]:
    """The numpy statistic of one block: integer ranks, so sums and medians are exact."""
    known, center = stat.ints[0] == 1, stat.ints[1] == 1
    ranked = c.ranked
    n_genes = ranked.n_genes
    r = (c.less + 1).astype(np.float64)  # ties: "min"
    if not known:
        lo = (n_genes + 1) // 2
        hi = n_genes // 2 + 1
        stats = np.stack([ranked.order_statistic(lo), ranked.order_statistic(hi)], axis=1)
        med_rank = (ranked.less_equal(stats)[0] + 1).mean(axis=1)
        r = np.abs(r - np.ceil(med_rank)[:, None])
    shift = 0.5 if center else 0.0
    score = np.full((r.shape[0], index.n_sets), np.nan)
    disp = np.full((r.shape[0], index.n_sets), np.nan)
    for j in range(index.n_sets):
        up, down = index.up(j), index.down(j)
        if up.size == 0:
            continue
        ru = r[:, up]
        if known:
            su = _norm(ru.sum(axis=1) / up.size, up.size, n_genes) - shift
        else:
            su = _norm(ru.sum(axis=1) / up.size, up.size // 2, -(-n_genes // 2))
        du = _mad(ru)
        if down.size:
            rd = r[:, down]
            su = su + (1.0 - _norm(rd.sum(axis=1) / down.size, down.size, n_genes) - shift)
            du = du + _mad(rd)
        score[:, j] = su
        disp[:, j] = du
    return score, disp


def run(
    X: Any,
    sets: Sequence[GeneSet],
    *,
    known_direction: bool = True,
    center: bool = True,
    block_rows: int | None = None,
) -> dict[str, np.ndarray]:
    """Score every sample for every set; see the module docstring for the formulas (one pass
    over the rows for all sets: :func:`~._ranks.rank_scores`).

    Returns ``{"score", "dispersion"}`` arrays of shape (n_samples, n_sets).
    """
    if not known_direction and any(s.down.size for s in sets):
        raise InputError(
            "singscore with known_direction=False scores one undirected gene set; the signature has "
            "down genes, so pass known_direction=True (the default) or drop the down genes."
        )
    stat = RankStat(SINGSCORE, _fallback, ints=(int(bool(known_direction)), int(bool(center))))
    score, disp = rank_scores(X, sets, stat, block_rows=block_rows, method="singscore")
    return {"score": score, "dispersion": disp}


register(
    RowMethod(
        name="singscore",
        space="data",
        needs_reference=False,
        cohort_dependent=False,
        signed=True,
        formula=r"\frac{\bar r_S - (k+1)/2}{(2N-k+1)/2 - (k+1)/2} - \frac12,\ r = \text{ascending within-sample rank (ties: min)}",
        citation="Foroutan M et al. BMC Bioinformatics 2018;19:404, doi:10.1186/s12859-018-2435-4",
        run=run,
        needs_whole_rows=True,
    )
)
