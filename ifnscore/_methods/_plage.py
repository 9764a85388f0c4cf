r"""PLAGE (Tomfohr et al. 2005) with the semantics of GSVA's ``plage`` method.

Each gene is standardised across the samples scored together (SD with :math:`n-1`); constant
genes (minimum equal to maximum, GSVA's rule since 1.52; see :mod:`._zscore`) are dropped. For
a set, the score of the samples is the first right singular vector of the :math:`k \times n`
matrix of its standardised genes:

.. math:: Z_S = U \Sigma V^\top,\qquad s = V_{\cdot 1}

The sign of a singular vector is arbitrary (GSVA returns whatever LAPACK gives); here it is
fixed so that the score correlates positively with the set's mean z-score, so that a higher
score means higher expression of the set. Values are a unit vector over the cohort: strongly
cohort-dependent.

Tomfohr J et al. BMC Bioinformatics 2005;6:225, doi:10.1186/1471-2105-6-225; GSVA: Hänzelmann
S et al. BMC Bioinformatics 2013, doi:10.1186/1471-2105-14-7.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._base import GeneSet, RowMethod, register
from ._cohort import gather_finite, need_samples, standardise
from ._ranks import union_columns


def run(X: Any, sets: Sequence[GeneSet]) -> dict[str, np.ndarray]:
    """Score every sample for every set; see the module docstring."""
    n = X.shape[0]
    need_samples(n, "plage")
    union, ups, _ = union_columns(sets)
    G = gather_finite(X, union, "plage")
    Z, keep = standardise(G)
    out = np.full((n, len(sets)), np.nan)
    for j, idx in enumerate(ups):
        idx = idx[keep[idx]]
        if idx.size == 0:
            continue
        Zs = Z[:, idx]
        u = np.linalg.svd(Zs, full_matrices=False)[0][:, 0]
        if float(u @ Zs.mean(axis=1)) < 0:
            u = -u
        out[:, j] = u
    return {"score": out}


register(
    RowMethod(
        name="plage",
        space="data",
        needs_reference=False,
        cohort_dependent=True,
        signed=False,
        formula=r"s = V_{\cdot 1},\ Z_S = U\Sigma V^\top,\ Z_S = \text{set genes standardised over the "
        r"samples scored together (sign: positive correlation with the mean z)}",
        citation="Tomfohr J et al. BMC Bioinformatics 2005;6:225, doi:10.1186/1471-2105-6-225 (as in "
        "GSVA, doi:10.1186/1471-2105-14-7)",
        run=run,
    )
)
