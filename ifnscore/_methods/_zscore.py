r"""Combined z-score (Lee et al. 2008) with the semantics of GSVA's ``zscore`` method.

Each gene is standardised across the samples scored together (mean and SD with
:math:`n-1`); genes constant across the samples are dropped (GSVA's ``filterGenes``). A gene
is constant when its minimum equals its maximum, GSVA's rule since 1.52 (1.46 used
:math:`SD < 10^{-10}`); the floating-point SD of a constant gene can be about
:math:`10^{-15}` rather than 0, and standardising it would add a constant
:math:`\pm\sqrt{(n-1)/n}` to every sample. For the :math:`k` remaining genes of a set:

.. math:: Z_i = \frac{1}{\sqrt{k}} \sum_{g \in S} \frac{x_{ig} - \bar x_g}{s_g}

Cohort-dependent: the mean and SD come from the samples scored together (compare
``z_sum``, which standardises against healthy controls stored in a reference).

Lee E et al. PLoS Comput Biol 2008;4:e1000217, doi:10.1371/journal.pcbi.1000217; GSVA:
Hänzelmann S et al. BMC Bioinformatics 2013, doi:10.1186/1471-2105-14-7.
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
    need_samples(n, "zscore")
    union, ups, _ = union_columns(sets)
    G = gather_finite(X, union, "zscore")
    Z, keep = standardise(G)
    out = np.full((n, len(sets)), np.nan)
    for j, idx in enumerate(ups):
        idx = idx[keep[idx]]
        if idx.size:
            out[:, j] = Z[:, idx].sum(axis=1) / np.sqrt(idx.size)
    return {"score": out}


register(
    RowMethod(
        name="zscore",
        space="data",
        needs_reference=False,
        cohort_dependent=True,
        signed=False,
        formula=r"\frac{1}{\sqrt{k}}\sum_{g\in S}\frac{x_{ig}-\bar x_g}{s_g},\ \bar x_g, s_g "
        r"\text{ over the samples scored together}",
        citation="Lee E et al. PLoS Comput Biol 2008, doi:10.1371/journal.pcbi.1000217 (as in GSVA, "
        "doi:10.1186/1471-2105-14-7)",
        run=run,
    )
)
