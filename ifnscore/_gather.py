"""Reading what a score needs from the matrix, in one pass and in bounded memory.

* :func:`gather` takes the signature genes' columns as a small dense float64 block.
  CSR uses scipy's column selection (one pass over the indices); CSC and dense arrays
  slice directly; backed or lazy arrays are read in row blocks.
* :func:`row_totals` gives library sizes (for counts -> CPM) without upcasting the matrix.

Float32 data stay float32 in the matrix; only the gathered block is float64, so sums are
accumulated in float64 without ever copying the whole matrix.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["DEFAULT_BLOCK_ROWS", "gather", "iter_row_blocks", "row_totals"]

DEFAULT_BLOCK_ROWS = 10_000


def _in_memory(X: Any) -> bool:
    return isinstance(X, np.ndarray) or sp.issparse(X)


def iter_row_blocks(X: Any, block_rows: int = DEFAULT_BLOCK_ROWS) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(start, stop, block)`` over row blocks; blocks are ndarray or CSR/CSC."""
    n = X.shape[0]
    for start in range(0, n, block_rows):
        stop = min(n, start + block_rows)
        block = X[start:stop]
        if not (isinstance(block, np.ndarray) or sp.issparse(block)):
            block = np.asarray(block)  # h5py datasets, dask chunks (computed), ...
        yield start, stop, block


def _gather_in_memory(X: Any, cols: np.ndarray) -> np.ndarray:
    if sp.issparse(X):
        sub = X[:, cols]
        return sub.toarray().astype(np.float64, copy=False)
    return np.asarray(X[:, cols], dtype=np.float64)


def gather(X: Any, cols: np.ndarray, *, block_rows: int = DEFAULT_BLOCK_ROWS) -> np.ndarray:
    """Return ``X[:, cols]`` as a dense float64 (n_samples x len(cols)) array."""
    cols = np.asarray(cols, dtype=np.intp)
    if _in_memory(X):
        return _gather_in_memory(X, cols)
    out = np.empty((X.shape[0], cols.size), dtype=np.float64)
    for start, stop, block in iter_row_blocks(X, block_rows):
        out[start:stop] = _gather_in_memory(block, cols)
    return out


def _csr_row_sums(X: Any) -> np.ndarray:
    indptr = np.asarray(X.indptr)
    n = X.shape[0]
    out = np.zeros(n, dtype=np.float64)
    nonempty = np.flatnonzero(np.diff(indptr) > 0)
    if nonempty.size:
        out[nonempty] = np.add.reduceat(X.data, indptr[nonempty], dtype=np.float64)
    return out


def _row_totals_in_memory(X: Any) -> np.ndarray:
    if sp.issparse(X):
        if X.format == "csr":
            if not X.has_canonical_format:
                X = X.copy()
                X.sum_duplicates()
            return _csr_row_sums(X)
        X = X.tocsc() if X.format != "csc" else X
        out = np.zeros(X.shape[0], dtype=np.float64)
        step = 1 << 22
        for s in range(0, X.data.size, step):
            out += np.bincount(
                X.indices[s : s + step],
                weights=X.data[s : s + step].astype(np.float64),
                minlength=X.shape[0],
            )
        return out
    return np.asarray(X, dtype=None).sum(axis=1, dtype=np.float64)


def row_totals(X: Any, *, block_rows: int = DEFAULT_BLOCK_ROWS) -> np.ndarray:
    """Sum of each row in float64 (library sizes), without upcasting the matrix."""
    if _in_memory(X):
        return _row_totals_in_memory(X)
    out = np.empty(X.shape[0], dtype=np.float64)
    for start, stop, block in iter_row_blocks(X, block_rows):
        out[start:stop] = _row_totals_in_memory(block)
    return out


def minimum(X: Any, *, block_rows: int = DEFAULT_BLOCK_ROWS) -> float:
    """Smallest value of the matrix (NaN ignored), in one pass."""

    def _min(b: Any) -> float:
        if sp.issparse(b):
            d = b.data
            m = float(np.nanmin(d)) if d.size else 0.0
            nnz_full = b.shape[0] * b.shape[1]
            return min(m, 0.0) if b.nnz < nnz_full else m
        b = np.asarray(b)
        return float(np.nanmin(b)) if b.size else np.inf

    if _in_memory(X):
        return _min(X)
    return min(_min(b) for _, _, b in iter_row_blocks(X, block_rows))
