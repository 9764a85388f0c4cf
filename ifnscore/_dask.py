"""Dask arrays: the scan of :mod:`ifnscore._gather`, run by dask's own scheduler.

A dask array (dense chunks, or scipy.sparse chunks such as those of
``anndata.experimental.read_elem_lazy``) is scanned with ``map_blocks`` over its row chunks:
each task reads one chunk and returns a small dense block ``[signature columns | row total |
chunk minimum]``; only those blocks (``n_samples x (k + 2)`` float64) are brought back.
Whatever scheduler is active runs the tasks: the threaded default, or a
``dask.distributed`` cluster when a ``Client`` is open, which is the route for cohorts
larger than one machine. Each chunk is scanned by the same kernel as in-memory data, so the
numbers are identical.

Requires the ``ifnscore[dask]`` extra (``dask[array]``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["scan_dask"]


def _block(B: Any, cols: np.ndarray, totals: bool, kernel: Callable[..., Any]) -> np.ndarray:
    if hasattr(B, "to_scipy_sparse"):  # pydata/sparse chunks
        B = B.to_scipy_sparse().tocsr()
    # one thread per chunk: dask already runs chunks in parallel
    values, tot, mn = kernel(B, cols, totals, threads=1).as_tuple()
    if not totals:
        return values
    out = np.empty((values.shape[0], values.shape[1] + 2), dtype=np.float64)
    out[:, : values.shape[1]] = values
    out[:, -2] = tot  # type: ignore[assignment]
    out[:, -1] = mn  # type: ignore[assignment]
    return out


def scan_dask(
    X: Any,
    cols: np.ndarray,
    *,
    totals: bool,
    kernel: Callable[..., Any],
    result: Callable[..., Any],
) -> Any:
    """Scan a dask array with ``kernel`` (the in-memory scan of :mod:`ifnscore._gather`, run on
    each chunk); returns ``result(values, totals, minimum)`` (a ``Scan``), computed. The
    dispatcher passes both, so this module stays a leaf below it."""
    if len(X.chunks[1]) > 1:  # the kernel needs whole rows (for the totals)
        X = X.rechunk({1: -1})
    k = int(cols.size)
    width = k + 2 if totals else k
    out = X.map_blocks(
        _block,
        cols,
        totals,
        kernel,
        dtype=np.float64,
        chunks=(X.chunks[0], (width,)),
        meta=np.empty((0, 0), dtype=np.float64),
    ).compute()
    if not totals:
        return result(np.ascontiguousarray(out), None, None)
    return result(np.ascontiguousarray(out[:, :k]), out[:, k].copy(), float(out[:, k + 1].min()))
