"""What GSVA, PLAGE and the combined z-score share: per-gene statistics over the cohort.

These methods standardise or smooth each gene across the samples scored together, so a
sample's score depends on the other samples (they are registered ``cohort_dependent``).
Genes with constant expression across the samples are dropped first, as GSVA's
``filterGenes`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .._gather import gather
from ..errors import InputError


def as_column_source(X: Any) -> Any:
    """A matrix whose column selections are cheap: CSR becomes CSC once (non-zeros only)."""
    if sp.issparse(X) and X.format != "csc":
        return X.tocsc()
    return X


def gather_finite(X: Any, cols: np.ndarray, method: str) -> np.ndarray:
    """``X[:, cols]`` as dense float64, refusing NaN/inf."""
    G = gather(X, cols)
    if not np.isfinite(G).all():
        raise InputError(
            f"method={method!r} found NaN or infinite values in the data; fix or remove them."
        )
    return G


def need_samples(n: int, method: str) -> None:
    if n < 2:
        raise InputError(
            f"method={method!r} standardises each gene across the samples scored together and needs "
            f"at least 2 samples, got {n}."
        )


def non_constant(G: np.ndarray) -> np.ndarray:
    """Columns of ``G`` (samples x genes) that vary: maximum above minimum (GSVA >= 1.52). A
    rounded SD is no test: one repeated value gives ~1e-16, not 0."""
    if G.shape[0] == 0:
        return np.zeros(G.shape[1], dtype=bool)
    return np.asarray(G.max(axis=0) > G.min(axis=0))


def standardise(G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gene-wise z-scores across samples (SD with ddof=1) and the mask of non-constant genes
    (:func:`non_constant`; their z-scores are 0)."""
    sd = G.std(axis=0, ddof=1)
    keep = non_constant(G)
    Z = np.zeros_like(G)
    Z[:, keep] = (G[:, keep] - G[:, keep].mean(axis=0)) / sd[keep]
    return Z, keep
