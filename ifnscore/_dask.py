"""Dask arrays: the kernels of :mod:`ifnscore._gather`, run chunk by chunk by dask's scheduler.

A dask array (dense chunks, or scipy.sparse chunks such as those of
``anndata.experimental.read_elem_lazy``) is cut into its row chunks (rechunked to whole rows
first only when its columns are chunked); each task reads one chunk and returns only what
the score needs:

* :func:`affine_dask` (sums and means of per-gene affine transforms: fc_*, z_*, mean_log):
  the compiled one-pass kernel :func:`ifnscore._gather.affine_pass` on the chunk (as CSR),
  returning ``n_chunk x signatures`` scores; nothing of the width of the matrix leaves a
  task.
* :func:`rows_dask` (per-sample row methods: aucell, ucell, singscore, ssgsea without
  normalisation): the method's own kernel on the chunk, in memory.
* :func:`scan_dask` (everything else): a small dense block ``[signature columns | row total
  | chunk minimum]``, assembled into a :class:`ifnscore._gather.Scan`.

Each task runs its kernel on one thread (:func:`ifnscore._gather.limit_threads`): dask
already runs the chunks in parallel. Whatever scheduler is active runs the tasks: the
threaded default, or a ``dask.distributed`` cluster when a ``Client`` is open, which is the
route for cohorts larger than one machine. Every row is computed on its own by the kernel
the in-memory path uses, so the numbers are identical to the last bit.

Requires the ``ifnscore[dask]`` extra (``dask[array]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["affine_dask", "rows_dask", "scan_dask"]


def _whole_rows(X: Any) -> Any:
    """``X`` with one chunk across the columns (the kernels need whole rows)."""
    return X.rechunk({1: -1}) if len(X.chunks[1]) > 1 else X


def _in_memory(B: Any) -> Any:
    """A chunk as ndarray or scipy CSR/CSC."""
    if hasattr(B, "to_scipy_sparse"):  # pydata/sparse chunks
        B = B.to_scipy_sparse().tocsr()
    if sp.issparse(B):
        return B if B.format in ("csr", "csc") else B.tocsr()
    return np.asarray(B)


def _as_csr(B: Any) -> Any:
    B = _in_memory(B)
    if sp.issparse(B):
        return B if B.format == "csr" else B.tocsr()
    return sp.csr_matrix(B)  # stored zeros dropped: they add nothing to a score


def _row_tasks(X: Any, fn: Callable[..., Any], *args: Any) -> list[Any]:
    """``fn(chunk, row0, *args)`` for every row chunk, computed by the active scheduler."""
    import dask

    X = _whole_rows(X)
    chunks = X.to_delayed(optimize_graph=True)[:, 0].tolist()
    starts = np.concatenate(([0], np.cumsum(X.chunks[0])[:-1])).astype(int).tolist()
    call = dask.delayed(fn, pure=True)
    return list(dask.compute(*[call(c, s, *args) for c, s in zip(chunks, starts, strict=True)]))


def _affine_chunk(
    B: Any, row0: int, plan: Any, lib: Any, affine_pass: Callable[..., Any]
) -> tuple[np.ndarray, np.ndarray, int]:
    B = _as_csr(B)
    if lib is not None:
        plan = replace(plan, library_size=lib[row0 : row0 + B.shape[0]])
    return affine_pass(B, plan, threads=1)  # type: ignore[no-any-return]


def affine_dask(
    X: Any, plan: Any, *, affine_pass: Callable[..., Any]
) -> tuple[np.ndarray, np.ndarray, int]:
    """Affine scores of every row of the dask array ``X`` (``plan``: an
    :class:`ifnscore._gather.AffinePlan`): ``(scores, n_genes, problems)`` as
    ``affine_pass`` (:func:`ifnscore._gather.affine_pass`, passed in so that this module
    stays a leaf) gives them for the whole matrix in memory."""
    lib = plan.library_size
    bare = replace(plan, library_size=None) if lib is not None else plan
    parts = _row_tasks(X, _affine_chunk, bare, lib, affine_pass)
    S = plan.k.size
    if not parts:
        return np.empty((0, S)), np.empty((0, S), dtype=np.int64), 0
    problems = 0
    for _, _, f in parts:
        problems |= int(f)
    sc = np.concatenate([p[0] for p in parts])
    ng = np.concatenate([p[1] for p in parts])
    return sc, ng, problems


def _rows_chunk(
    B: Any,
    row0: int,
    run: Callable[..., Any],
    sets: Any,
    options: Any,
    limit_threads: Callable[[int], Any],
) -> dict[str, np.ndarray]:
    B = _in_memory(B)
    with limit_threads(1):
        out = run(B, sets, **options)
    return {k: np.asarray(v).reshape(B.shape[0], -1) for k, v in out.items()}


def rows_dask(
    X: Any,
    run: Callable[..., Any],
    sets: Sequence[Any],
    options: Mapping[str, Any],
    *,
    limit_threads: Callable[[int], Any],
) -> dict[str, np.ndarray]:
    """A per-sample row method's ``run`` on every row chunk of ``X``; the chunks' outputs
    stacked in row order (every row is scored on its own). ``limit_threads``
    (:func:`ifnscore._gather.limit_threads`, passed in so that this module stays a leaf)
    holds each task to one thread: dask already runs the tasks in parallel."""
    parts = _row_tasks(X, _rows_chunk, run, list(sets), dict(options), limit_threads)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _block(B: Any, cols: np.ndarray, totals: bool, kernel: Callable[..., Any]) -> np.ndarray:
    B = _in_memory(B)
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
    X = _whole_rows(X)  # the kernel needs whole rows (for the totals)
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
