"""Reading what a score needs from the matrix, in one pass and in bounded memory.

:func:`scan` is the one reader: in a single pass over the matrix it takes

* the signature genes' columns as a small dense float64 block (``n_samples x len(cols)``),
* optionally the row totals (library sizes, for counts -> CPM), accumulated in float64,
* and then also the smallest value of the whole matrix (negative counts are an error).

Per container:

* **CSR** (the usual single-cell layout): the rows are cut into parts of at most
  :data:`PART_NNZ` non-zeros; each part is a zero-copy CSR view. With numba installed (the
  ``ifnscore[fast]`` extra) and at least :data:`NUMBA_MIN_NNZ` stored values, one compiled
  loop per part reads each stored value once: row total (float64), minimum, and a copy into
  the block when its column is a signature column. Without numba (or ``IFNSCORE_NUMBA=0``),
  scipy's column selection takes the columns and ``np.add.reduceat`` sums the rows in float64
  (the part's values cast into a reused float64 buffer; the matrix is never upcast as a
  whole): the same numbers (gathered values identical; each row's total added value by value in
  storage order on both paths, so identical floats). Parts run on :func:`n_threads` threads
  (numpy, scipy and the ``nogil`` kernel release the GIL), and every part writes only its own
  rows, so results do not depend on the number of threads.
* **CSC**: scipy's column slice (contiguous per column) and row sums by ``np.bincount``;
  **dense arrays**: column slices and float64 row sums, in row parts on threads as above.
  Every row total is its values added one after the other in column order, whatever the
  container, so a matrix has the same totals dense, CSR or CSC.
* **Backed or lazy arrays** (anndata's backed h5ad/zarr sparse datasets, h5py and zarr
  arrays): row blocks of ``block_rows`` are read once each and scanned as above. An anndata
  CSR dataset's block is read straight from its h5py/zarr group (the ``indptr`` slice, then
  the ``data`` and ``indices`` slices it points to, wrapped as a CSR matrix without a copy or
  a format check); dense h5py/zarr arrays are sliced directly. :func:`iter_row_blocks` reads
  the next block on a thread while the current one is scanned (h5py, zarr's codecs and the
  ``nogil`` kernels release the GIL, so reading and scanning overlap); memory is bounded by
  about two blocks, whatever the number of samples.
* **Dask arrays**: handed to dask (one task per row chunk) by :mod:`ifnscore._dask`.

Float32 data stay float32 in the matrix; only the gathered block is float64, so sums are
accumulated in float64 without ever copying the whole matrix. :func:`gather`,
:func:`row_totals` and :func:`minimum` are the single-purpose views of the same pass.

:func:`affine_pass` scores instead of gathering: for sums and means of per-gene affine
transforms (fc_*, z_*, mean_log) one compiled pass over a CSR matrix transforms each stored
signature value and adds it to every signature the gene belongs to, so k signatures cost
about one and nothing larger than samples x signatures is allocated (numba; otherwise the
columns are gathered by :func:`scan` in bounded row blocks). It takes a row offset, so that a
backed matrix is scored block by block (:func:`affine_blocks`, on the prefetched blocks of
:func:`iter_row_blocks`) and a dask array chunk by chunk, each row exactly as in memory. Every sum, there and in the
numpy path, adds its terms one after the other in a fixed order (row totals in storage
order, a signature's genes in column order), so a sample's numbers never depend on the
batch, the container, the part size or the number of threads.

:func:`column_sums` is the other pass: the float64 sum of every column (gene means over the
cohort, e.g. module_score's expression bins), each accumulated strictly in row order, with a
compiled loop for large CSR matrices (numba) and ``np.bincount`` otherwise.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, cast

import numpy as np
import scipy.sparse as sp

from .errors import InputError

__all__ = [
    "DEFAULT_BLOCK_ROWS",
    "NUMBA_MIN_NNZ",
    "PART_NNZ",
    "Scan",
    "affine_blocks",
    "affine_pass",
    "backed_block_rows",
    "column_sums",
    "gather",
    "is_dask",
    "iter_row_blocks",
    "minimum",
    "n_threads",
    "read_rows",
    "row_totals",
    "scan",
]

#: Rows per block read from backed or lazy arrays.
DEFAULT_BLOCK_ROWS = 10_000
#: Non-zeros (or dense elements) per in-memory part; small enough to stay in cache-friendly
#: chunks and to balance threads, large enough that Python overhead is negligible.
PART_NNZ = 1 << 21


_LOCAL = threading.local()


@contextmanager
def limit_threads(k: int) -> Iterator[None]:
    """Within the block, :func:`n_threads` is at most ``k`` in the calling thread (e.g. one
    thread per dask task: dask already runs the tasks in parallel)."""
    old = getattr(_LOCAL, "limit", None)
    _LOCAL.limit = k
    try:
        yield
    finally:
        _LOCAL.limit = old


def n_threads() -> int:
    """Threads used for in-memory scans: ``IFNSCORE_NUM_THREADS`` if set (a whole number >= 1;
    anything else is an error), else the CPUs this process may run on (at most 8); at most
    the limit of an enclosing :func:`limit_threads` in this thread."""
    limit = getattr(_LOCAL, "limit", None)
    if limit is not None:
        return max(1, min(limit, _n_threads()))
    return _n_threads()


def _n_threads() -> int:
    env = os.environ.get("IFNSCORE_NUM_THREADS")
    if env is not None and env.strip():
        try:
            value = int(env)
        except ValueError:
            value = 0
        if value < 1:
            raise InputError(
                f"IFNSCORE_NUM_THREADS={env!r} is not a whole number >= 1; set it to e.g. 4, or unset it "
                "to use every core."
            )
        return value
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus))


def is_dask(X: Any) -> bool:
    """True for a dask array (without importing dask)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "map_blocks")


def _in_memory(X: Any) -> bool:
    return isinstance(X, np.ndarray) or sp.issparse(X)


#: Stored values (sparse) or elements (dense) per row block read by :func:`backed_block_rows`.
BLOCK_ENTRIES = 1 << 24


def backed_block_rows(X: Any, limit: int = DEFAULT_BLOCK_ROWS) -> int:
    """Rows per block for a backed or lazy matrix: at most ``limit``, and about
    :data:`BLOCK_ENTRIES` stored values (an anndata CSR dataset's mean per row) or
    elements (dense) per block, so that a block of wide dense rows stays small."""
    n, p = int(X.shape[0]), int(X.shape[1])
    group = _csr_group(X)
    if group is not None and n:
        per_row = max(1.0, float(group["indptr"][n]) / n)
    else:
        per_row = float(max(p, 1))
    return max(1, min(limit, int(BLOCK_ENTRIES // per_row)))


def _csr_group(X: Any) -> Any:
    """The h5py/zarr group of an anndata backed CSR dataset (``data``, ``indices``,
    ``indptr``), or None for anything else."""
    if not type(X).__module__.startswith("anndata") or getattr(X, "format", None) != "csr":
        return None
    group = getattr(X, "group", None)
    try:
        if group is None or not all(k in group for k in ("data", "indices", "indptr")):
            return None
    except TypeError:
        return None
    return group


def _read_into(ds: Any, s: int, e: int, buf: dict[str, np.ndarray] | None, key: str) -> np.ndarray:
    """``ds[s:e]`` as an ndarray; an h5py dataset is read into the reused buffer
    ``buf[key]`` (grown when too small: no fresh pages to fault in for every block)."""
    if buf is None or not hasattr(ds, "read_direct") or e <= s:
        return np.asarray(ds[s:e])
    have = buf.get(key)
    if have is None or have.size < e - s or have.dtype != ds.dtype:
        have = buf[key] = np.empty(max(e - s, int(1.1 * (e - s))), dtype=ds.dtype)
    out = have[: e - s]
    ds.read_direct(out, source_sel=np.s_[s:e])
    return out


def _read_csr_group(
    group: Any, n_cols: int, start: int, stop: int, buf: dict[str, np.ndarray] | None = None
) -> sp.csr_matrix:
    """Rows ``start:stop`` of a CSR matrix stored as an h5py/zarr group: three slice reads
    (``indptr``, then the ``data`` and ``indices`` it points to), wrapped without a copy;
    with ``buf``, h5py data are read into its reused arrays (the block is then valid until
    the next read into the same ``buf``)."""
    ptr = np.asarray(group["indptr"][start : stop + 1], dtype=np.int64)
    s, e = int(ptr[0]), int(ptr[-1])
    data = _read_into(group["data"], s, e, buf, "data")
    indices = _read_into(group["indices"], s, e, buf, "indices")
    if indices.dtype.kind != "i" or (e - s > np.iinfo(indices.dtype).max):
        indices = indices.astype(np.int64)
    ptr -= s
    view = sp.csr_matrix((stop - start, n_cols), dtype=data.dtype)
    view.indptr = ptr.astype(indices.dtype, copy=False)
    view.indices = indices
    view.data = data
    return view


def read_rows(X: Any, start: int, stop: int, buf: dict[str, np.ndarray] | None = None) -> Any:
    """Rows ``start:stop`` of any supported matrix, in memory (ndarray or scipy CSR/CSC);
    ``buf``: reused read buffers (see :func:`_read_csr_group`)."""
    group = _csr_group(X)
    if group is not None:
        return _read_csr_group(group, int(X.shape[1]), start, stop, buf)
    block = X[start:stop]
    if is_dask(block):
        block = block.compute()
    if sp.issparse(block):
        return block
    if hasattr(block, "to_scipy_sparse"):  # pydata/sparse COO chunks
        return block.to_scipy_sparse().tocsr()
    return np.asarray(block)  # h5py / zarr arrays


def iter_row_blocks(
    X: Any, block_rows: int = DEFAULT_BLOCK_ROWS, *, prefetch: bool = True, reuse: bool = False
) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(start, stop, block)`` over row blocks; blocks are ndarray or CSR/CSC.

    Each block is read once (one contiguous slice of a backed or lazy array). With
    ``prefetch`` (backed and lazy arrays), the next block is read on a thread while the
    caller works on the current one: at most two blocks are held at a time by this
    iterator. With ``reuse``, the blocks of an h5py-backed CSR dataset are read into two
    buffers used in turn, so a block is valid only until the next one is asked for.
    """
    n = X.shape[0]
    spans = [(a, min(n, a + block_rows)) for a in range(0, n, block_rows)]
    if not prefetch or len(spans) <= 1 or _in_memory(X):
        for start, stop in spans:
            yield start, stop, read_rows(X, start, stop)
        return
    bufs: list[dict[str, np.ndarray] | None] = [{}, {}] if reuse else [None, None]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ifnscore-read") as ex:
        nxt = ex.submit(read_rows, X, *spans[0], bufs[0])
        for i, (start, stop) in enumerate(spans):
            block = nxt.result()
            if i + 1 < len(spans):  # into the buffers of block i - 1, which is done with
                nxt = ex.submit(read_rows, X, *spans[i + 1], bufs[(i + 1) % 2])
            yield start, stop, block
            del block


@dataclass
class Scan:
    """What one pass over the matrix gives."""

    values: np.ndarray  # (n_samples, len(cols)) float64
    totals: np.ndarray | None  # (n_samples,) float64 row sums, when asked for
    minimum: float | None  # smallest value (NaN ignored; implicit sparse zeros count), when asked

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray | None, float | None]:
        return self.values, self.totals, self.minimum


def _nanmin(a: np.ndarray) -> float:
    if a.size == 0:
        return np.inf
    m = np.fmin.reduce(a, axis=None)  # fmin ignores NaN; NaN only if all are NaN
    return np.inf if np.isnan(m) else float(m)


def _csr_totals(
    data: np.ndarray, indptr: np.ndarray, out: np.ndarray, buf: np.ndarray | None = None
) -> None:
    """Row sums of a CSR part into ``out``, in float64, each row's stored values added one
    after the other in storage order (the compiled kernel's order, so the totals are the
    same floats whatever the path, the part size or the container).

    Vectorised over rows: step ``k`` adds every row's ``k``-th stored value (rows with
    fewer values have stopped); ``buf`` is an optional reused float64 copy of the values.
    """
    n = indptr.size - 1
    out[:] = 0.0
    if n == 0 or data.size == 0:
        return
    if data.dtype != np.float64 and buf is not None and buf.size >= data.size:
        vals = buf[: data.size]
        vals[...] = data
    else:
        vals = np.asarray(data, dtype=np.float64)
    starts = np.asarray(indptr[:-1], dtype=np.int64) - int(indptr[0])
    lengths = np.diff(indptr).astype(np.int64)
    order = np.argsort(-lengths, kind="stable")  # longest rows first: a prefix is active
    sl = lengths[order]
    st = starts[order]
    acc = np.zeros(n, dtype=np.float64)
    active = n
    for k in range(int(sl[0]) if n else 0):
        while active and sl[active - 1] <= k:
            active -= 1
        acc[:active] += vals[st[:active] + k]
    out[order] = acc


def _dense_totals(B: np.ndarray) -> np.ndarray:
    """Row sums of a dense block in float64, each row added left to right from 0.0 (as the
    CSR totals, so a matrix gives the same totals dense or sparse): a compiled loop over 8
    rows at a time (8 independent chains; 20x faster than ``np.cumsum``, which also
    allocates the block again in float64), or ``np.cumsum`` without numba."""
    out = np.zeros(B.shape[0], dtype=np.float64)
    if B.shape[1] == 0:
        return out
    # (small blocks need no compiled loop: importing and loading numba would cost more)
    kernel = _kernel("dense") if B.dtype.kind in "iuf" and B.size >= NUMBA_MIN_NNZ else None
    if kernel is None:
        return np.cumsum(B, axis=1, dtype=np.float64)[:, -1] + 0.0
    kernel(B, out)
    return out


# ------------------------------------------------------------------ optional compiled kernel

#: Fewest stored values for which the compiled (numba) CSR kernel is used: compiling costs a
#: few seconds once (then cached on disk by numba), which only large matrices repay.
NUMBA_MIN_NNZ = 1 << 20


def _compile() -> Any:
    """Compile the one-pass CSR kernel with numba (serial, ``nogil``: the parts of a matrix
    run on this module's threads, as the numpy path does; no numba threading layer).

    Per stored value: add it to its row's float64 total, track the smallest value (NaN
    compares false, so it is ignored), and copy it into ``vals`` when its column is a
    signature column (``table[col] >= 0``; ``+=`` sums duplicate entries like scipy).
    """
    import numba

    def loops(indptr, indices, data, table, want_totals, vals, tot):  # type: ignore[no-untyped-def]
        m = np.inf
        for i in range(indptr.size - 1):
            acc = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                v = data[p]
                j = table[indices[p]]
                if j >= 0:
                    vals[i, j] += v
                if want_totals:
                    acc += v
                    m = min(m, v)  # Python semantics: a NaN v never replaces m
            tot[i] = acc
        return m

    return numba.njit(cache=True, nogil=True)(loops)


def _compile_colsum() -> Any:
    """Compile the column-sum loop (serial, ``nogil``): every stored value is added to its
    column's float64 sum in storage order, i.e. row by row, as ``np.bincount`` does."""
    import numba

    def colsum(indices, data, sums):  # type: ignore[no-untyped-def]
        for p in range(indices.size):
            sums[indices[p]] += data[p]

    return numba.njit(cache=True, nogil=True)(colsum)


def _compile_dense() -> Any:
    """Compile the dense row-sum loop (serial, ``nogil``): row ``i``'s values added left to
    right from 0.0 in float64, eight rows side by side so that the additions of different
    rows overlap (each row's own additions stay in order: the same floats as one row at a
    time)."""
    import numba

    def rowsum(B, out):  # type: ignore[no-untyped-def]
        n, p = B.shape
        i = 0
        while i + 8 <= n:
            s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
            for j in range(p):
                s0 += B[i, j]
                s1 += B[i + 1, j]
                s2 += B[i + 2, j]
                s3 += B[i + 3, j]
                s4 += B[i + 4, j]
                s5 += B[i + 5, j]
                s6 += B[i + 6, j]
                s7 += B[i + 7, j]
            out[i], out[i + 1], out[i + 2], out[i + 3] = s0, s1, s2, s3
            out[i + 4], out[i + 5], out[i + 6], out[i + 7] = s4, s5, s6, s7
            i += 8
        while i < n:
            s = 0.0
            for j in range(p):
                s += B[i, j]
            out[i] = s
            i += 1

    return numba.njit(cache=True, nogil=True)(rowsum)


#: The compiled kernels by name, compiled on first use: a function, or False (numba missing).
_COMPILED: dict[str, Any] = {}


def _kernel(which: str = "scan") -> Any:
    """A compiled kernel (``"scan"``, ``"colsum"`` or ``"dense"``), or None (numba missing, or
    ``IFNSCORE_NUMBA=0``)."""
    if os.environ.get("IFNSCORE_NUMBA", "1") == "0":
        return None
    if which not in _COMPILED:
        compile_ = {"scan": _compile, "colsum": _compile_colsum, "dense": _compile_dense}[which]
        try:
            _COMPILED[which] = compile_()
        except ImportError:
            _COMPILED[which] = False
    return _COMPILED[which] or None


def _use_kernel(X: Any, which: str = "scan") -> bool:
    return (
        sp.issparse(X)
        and X.format == "csr"
        and X.nnz >= NUMBA_MIN_NNZ
        and np.dtype(X.dtype).kind in "iuf"
        and _kernel(which) is not None
    )


def _scan_block(
    B: Any, cols: np.ndarray, want_totals: bool, buf: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None, float | None]:
    """Scan one in-memory block (ndarray, CSR or CSC); ``buf``: optional float64 scratch."""
    n = B.shape[0]
    tot: np.ndarray | None = None
    mn: float | None = None
    if sp.issparse(B):
        if B.format not in ("csr", "csc"):
            B = B.tocsr()
        vals = B[:, cols].toarray().astype(np.float64, copy=False)
        if want_totals:
            tot = np.empty(n, dtype=np.float64)
            if B.format == "csr":
                _csr_totals(B.data, B.indptr, tot, buf)
            else:
                # column by column: each row's values in column order
                big = np.dtype(B.dtype).kind in "iuf" and B.nnz >= NUMBA_MIN_NNZ
                colsum = _kernel("colsum") if big else None
                if colsum is not None:  # the stored values in storage order, into their rows
                    tot[:] = 0.0
                    colsum(B.indices, B.data, tot)
                    mn = _nanmin(B.data)
                    if B.nnz < n * B.shape[1]:
                        mn = min(mn, 0.0)
                    return vals, tot, mn
                # (bincount adds its weights in order, the running totals first)
                if not B.has_sorted_indices:
                    B = B.sorted_indices()
                tot[:] = 0.0
                rows_ = np.arange(n)
                step = PART_NNZ
                for s in range(0, B.data.size, step):
                    tot = np.bincount(
                        np.concatenate((rows_, B.indices[s : s + step])),
                        weights=np.concatenate((tot, B.data[s : s + step].astype(np.float64))),
                        minlength=n,
                    )
            mn = _nanmin(B.data)
            if B.nnz < n * B.shape[1]:
                mn = min(mn, 0.0)
        return vals, tot, mn
    B = np.asarray(B)
    vals = np.asarray(B[:, cols], dtype=np.float64)
    if want_totals:
        tot = _dense_totals(B)
        mn = _nanmin(B)
    return vals, tot, mn


def _csr_view(X: Any, r0: int, r1: int) -> sp.csr_matrix:
    """Rows r0:r1 of a CSR matrix without copying data or indices."""
    s, e = int(X.indptr[r0]), int(X.indptr[r1])
    # scipy's constructor would copy views of a much larger array (``prune``); an empty
    # matrix given the views as its arrays shares them (its sortedness flags stay unknown).
    view = sp.csr_matrix((r1 - r0, X.shape[1]), dtype=X.dtype)
    view.indptr = X.indptr[r0 : r1 + 1] - X.indptr.dtype.type(s)
    view.indices = X.indices[s:e]
    view.data = X.data[s:e]
    return view


def _parts(X: Any) -> list[tuple[int, int]]:
    """Row ranges of about PART_NNZ stored values each (fewer for small matrices)."""
    n = X.shape[0]
    # at most PART_NNZ values, and at most 1/32 of the values per thread: the float64 scratch
    # buffers of all threads then stay under ~1/32 of the matrix's bytes (value + index)
    if sp.issparse(X) and X.format == "csr":
        indptr = np.asarray(X.indptr)
        nnz = int(indptr[-1])
        size = min(PART_NNZ, max(1 << 16, nnz // (32 * n_threads())))
        targets = np.arange(size, nnz, size)
        cuts = np.searchsorted(indptr, targets, side="left")
    else:
        size = min(PART_NNZ, max(1 << 16, X.size // (32 * n_threads())))
        per = max(1, size // max(1, X.shape[1]))
        cuts = np.arange(per, n, per)
    b = np.unique(np.concatenate(([0], cuts, [n])).astype(np.int64))
    return [(int(a), int(c)) for a, c in pairwise(b.tolist()) if c > a]


def _map_groups(
    fn: Callable[[list[tuple[int, int]]], list[Any]],
    items: list[tuple[int, int]],
    threads: int | None = None,
) -> list[Any]:
    """Run ``fn`` over contiguous groups of ``items``, one group per thread; flatten."""
    t = min(n_threads() if threads is None else threads, len(items))
    if t <= 1:
        return fn(items)
    cuts = np.linspace(0, len(items), t + 1).round().astype(int)
    groups = [items[a:b] for a, b in pairwise(cuts.tolist()) if b > a]
    with ThreadPoolExecutor(max_workers=len(groups)) as ex:
        return [x for part in ex.map(fn, groups) for x in part]


def _assemble(n: int, k: int, want_totals: bool, pieces: Iterator[tuple[int, int, Any]]) -> Scan:
    values = np.empty((n, k), dtype=np.float64)
    totals = np.empty(n, dtype=np.float64) if want_totals else None
    mins: list[float] = []
    for start, stop, (v, t, m) in pieces:
        values[start:stop] = v
        if totals is not None:
            totals[start:stop] = t
            mins.append(m)
    return Scan(values, totals, min(mins) if mins else None)


def scan(
    X: Any,
    cols: np.ndarray,
    *,
    totals: bool = False,
    block_rows: int | None = None,
) -> Scan:
    """One pass over ``X``: columns ``cols`` as float64 and, with ``totals=True``, the
    float64 row sums and the matrix minimum.

    ``cols`` may repeat a column; the result has one column per entry of ``cols``.
    """
    cols = np.asarray(cols, dtype=np.intp)
    uniq, inverse = np.unique(cols, return_inverse=True)
    if uniq.size != cols.size:
        s = scan(X, uniq, totals=totals, block_rows=block_rows)
        return Scan(s.values[:, inverse], s.totals, s.minimum)
    n, k = X.shape[0], cols.size
    if is_dask(X):
        from ._dask import scan_dask

        return scan_dask(X, cols, totals=totals, kernel=_scan_in_memory, result=Scan)
    if _in_memory(X):
        return _scan_in_memory(X, cols, totals)
    if block_rows is None:
        block_rows = backed_block_rows(X)
    pieces = (
        (start, stop, _scan_in_memory(block, cols, totals).as_tuple())
        for start, stop, block in iter_row_blocks(X, block_rows, reuse=True)
    )
    return _assemble(n, k, totals, pieces)


def _scan_in_memory(X: Any, cols: np.ndarray, totals: bool, *, threads: int | None = None) -> Scan:
    """Scan an ndarray or scipy matrix: row parts on ``threads`` (default :func:`n_threads`)
    threads, each writing its own rows of the outputs; the compiled kernel for large CSR
    matrices when numba is available (the numpy path's numbers: gathered values and totals
    identical)."""
    n, k = X.shape[0], cols.size
    if sp.issparse(X) and X.format not in ("csr", "csc"):
        X = X.tocsr()
    if sp.issparse(X) and X.format == "csc":
        v, t, m = _scan_block(X, cols, totals)
        return Scan(v, t, m)
    compiled = _use_kernel(X)
    values = (np.zeros if compiled else np.empty)((n, k), dtype=np.float64)
    tot = np.empty(n, dtype=np.float64)
    if compiled:
        kernel = _kernel()
        # the smallest lookup table that holds k (int8: 20 kB for 20,000 genes, in L1 cache)
        tdtype = np.int8 if k < 127 else (np.int16 if k < 32_767 else np.int32)
        table = np.full(X.shape[1], -1, dtype=tdtype)
        table[cols] = np.arange(k, dtype=tdtype)

    def work(group: list[tuple[int, int]]) -> list[float]:
        buf: np.ndarray | None = None  # float64 scratch, reused across this group's parts
        mins = []
        for r0, r1 in group:
            if compiled:
                V = _csr_view(X, r0, r1)
                m = kernel(V.indptr, V.indices, V.data, table, totals, values[r0:r1], tot[r0:r1])
                mins.append(float(m))
                continue
            if sp.issparse(X):
                part = _csr_view(X, r0, r1)
                if totals and (buf is None or buf.size < part.data.size):
                    buf = np.empty(part.data.size, dtype=np.float64)
            else:
                part = X[r0:r1]
            v, t, m = _scan_block(part, cols, totals, buf)
            values[r0:r1] = v
            if totals:
                tot[r0:r1] = t
                mins.append(cast(float, m))
        return mins

    mins = _map_groups(work, _parts(X), threads)
    if not totals:
        return Scan(values, None, None)
    mn = min(mins) if mins else np.inf
    if compiled and X.nnz < n * X.shape[1]:
        mn = min(mn, 0.0)  # implicit zeros (the numpy path counts them per part)
    return Scan(values, tot, mn)


def gather(X: Any, cols: np.ndarray, *, block_rows: int | None = None) -> np.ndarray:
    """Return ``X[:, cols]`` as a dense float64 (n_samples x len(cols)) array."""
    return scan(X, cols, block_rows=block_rows).values


def row_totals(X: Any, *, block_rows: int | None = None) -> np.ndarray:
    """Sum of each row in float64 (library sizes), without upcasting the matrix."""
    s = scan(X, np.empty(0, dtype=np.intp), totals=True, block_rows=block_rows)
    return s.totals  # type: ignore[return-value]


def minimum(X: Any, *, block_rows: int | None = None) -> float:
    """Smallest value of the matrix (NaN ignored; implicit sparse zeros count), in one pass."""
    s = scan(X, np.empty(0, dtype=np.intp), totals=True, block_rows=block_rows)
    return s.minimum  # type: ignore[return-value]


def column_sums(X: Any, *, block_rows: int = DEFAULT_BLOCK_ROWS) -> np.ndarray:
    """Sum of every column in float64, each accumulated strictly in row order.

    Whatever the container and block size, column ``j``'s sum is
    ``((x[0, j] + x[1, j]) + x[2, j]) + ...`` (a sparse matrix adds only its stored values,
    duplicates in storage order), so columns with equal values sum to exactly equal totals,
    as scipy's and numpy's own column sums do. CSR in memory: one compiled loop over the
    stored values (numba, for at least :data:`NUMBA_MIN_NNZ` of them), else ``np.bincount``
    over chunks of :data:`PART_NNZ` values cast to float64 (never the whole matrix); the same
    numbers either way. Dense, CSC (converted to CSR) and backed arrays: row blocks of
    ``block_rows``, added one after the other.
    """
    p = X.shape[1]
    sums = np.zeros(p, dtype=np.float64)
    cols = np.arange(p)

    def add_csr(B: Any, acc: np.ndarray) -> np.ndarray:
        if _use_kernel(B, "colsum"):
            _kernel("colsum")(B.indices, B.data, acc)
            return acc
        for a in range(0, B.nnz, PART_NNZ):  # stored values in row order, read in place
            b = min(B.nnz, a + PART_NNZ)
            # bincount adds the weights in order: the running sums first, then the values
            acc = np.bincount(
                np.concatenate((cols, B.indices[a:b])),
                weights=np.concatenate((acc, B.data[a:b].astype(np.float64))),
                minlength=p,
            )
        return acc

    if sp.issparse(X):
        return add_csr(X if X.format == "csr" else X.tocsr(), sums)
    for _, _, block in iter_row_blocks(X, block_rows):
        if sp.issparse(block):
            sums = add_csr(sp.csr_matrix(block), sums)
        else:
            # numpy adds the rows of a C-ordered block one after the other along axis 0
            block = np.asarray(block, dtype=np.float64)
            sums = np.concatenate((sums[None, :], block)).sum(axis=0)
    return sums


# ------------------------------------------------------------------ affine scores in one pass

#: Scale codes of the affine kernel (``rq`` data take the numpy path).
AFFINE_SCALES = {"counts": 0, "linear": 1, "log2": 2, "log1p": 3}
#: Per-gene transforms: fold change ``v / c``, z-score ``(v - c) / s``, identity.
T_FC, T_Z, T_IDENT = 0, 1, 2
#: Problems the affine kernel flags (the numpy path then raises the precise error).
BAD_VALUE, BAD_LOG_RANGE, BAD_NEGATIVE, BAD_LIBRARY, BAD_NEGATIVE_COUNT = 1, 2, 4, 8, 16
BAD_DUPLICATE = 32


@dataclass(frozen=True)
class AffinePlan:
    """What the one-pass affine kernel needs: genes in canonical order (by their first data
    column) with their transform parameters, and every signature as a list of genes.

    A score is the sum (or mean) of its genes' transformed values, added one by one in
    canonical gene order from 0.0 (genes whose transformed value is 0.0, e.g. unexpressed
    genes under a fold change, add nothing); with ``omit``, NaN values are left out and the
    mean of the rest is taken (times the number of genes for a sum).
    """

    lookup: np.ndarray  # (n_columns,) int8/16/32: slot of each signature column (ascending), or -1
    slot_gene: np.ndarray  # (n_slots,) int64: canonical gene of each slot
    gslot_ptr: np.ndarray  # (n_genes + 1,) int64: each gene's slots, in column order
    gslot: np.ndarray
    n_genes: int
    scale: int  # AFFINE_SCALES
    log_space: bool  # the transform takes log2(x + 1) of the linear value
    direct: bool  # log data, one column per gene: the (log2) data values themselves
    tcode: int  # T_FC, T_Z or T_IDENT
    centre: np.ndarray  # (n_genes,) float64
    spread: np.ndarray  # (n_genes,) float64
    t0: np.ndarray  # (n_genes,) transformed value of an unexpressed gene
    all_genes: bool  # some t0 is not 0.0: every gene adds to every row's sums
    mem_ptr: np.ndarray  # (n_genes + 1,) int64: the signatures each gene belongs to
    mem_set: np.ndarray
    k: np.ndarray  # (n_sets,) genes per signature
    mean: bool
    omit: bool
    limit: float  # largest plausible log value (log scales)
    library_size: np.ndarray | None  # the file's totals, when X holds only some genes


def _insertion_sort_int(a, k):  # type: ignore[no-untyped-def]
    for t in range(1, k):
        x = a[t]
        q = t - 1
        while q >= 0 and a[q] > x:
            a[q + 1] = a[q]
            q -= 1
        a[q + 1] = x


def _affine_loop(  # type: ignore[no-untyped-def]
    indptr, indices, data, r0, lookup, slot_gene, gslot_ptr, gslot, G, scale, log_space,
    direct, tcode, centre, spread, t0, all_genes, mem_ptr, mem_set, k, mean, omit, limit,
    ln2, lib_ext, has_lib, out, n_out,
):  # fmt: skip
    """Affine scores of the CSR rows of one part (row ``i`` -> ``out[r0 + i]``), every
    signature at once: each stored value is read once; the signature columns' values are
    transformed (CPM for counts, back-transform, log2, fold change or z-score), a gene's
    columns summed in column order, and each gene added to every signature it belongs to,
    genes in canonical order. ``lookup[column]`` is the column's slot (signature columns in
    ascending order) or -1; ``slot_gene[slot]`` its gene; ``gslot`` the slots of each gene.
    Returns the problems found (``BAD_*`` bits; a column stored twice in a row is
    ``BAD_DUPLICATE``)."""
    n = indptr.size - 1
    S = k.size
    n_slots = slot_gene.size
    maxlen = 1
    for i in range(n):
        maxlen = max(maxlen, indptr[i + 1] - indptr[i])
    hits = np.empty(maxlen, dtype=np.int64)
    sval = np.zeros(max(n_slots, 1))
    sstamp = np.full(max(n_slots, 1), -1, dtype=np.int64)
    tval = np.zeros(max(G, 1))
    stamp = np.full(max(G, 1), -1, dtype=np.int64)
    touched = np.empty(max(G, 1), dtype=np.int64)
    acc = np.zeros(max(S, 1))
    nan_cnt = np.zeros(max(S, 1), dtype=np.int64)
    flags = 0
    for i in range(n):
        a, b = indptr[i], indptr[i + 1]
        nh = 0
        f = 1.0
        if scale == 0:  # counts: CPM over the row's total (or the file's library size)
            tot = 0.0
            mn = 0.0
            if has_lib:
                tot = lib_ext[r0 + i]
                for p in range(a, b):
                    mn = min(mn, data[p])
                    if lookup[indices[p]] >= 0:
                        hits[nh] = p
                        nh += 1
            else:
                for p in range(a, b):
                    x = data[p]
                    tot += x
                    mn = min(mn, x)  # a NaN never replaces mn
                    if lookup[indices[p]] >= 0:
                        hits[nh] = p
                        nh += 1
            if mn < 0:
                flags |= 16
            if not (np.isfinite(tot) and tot > 0):
                flags |= 8
            f = 1e6 / tot
        else:
            for p in range(a, b):
                if lookup[indices[p]] >= 0:
                    hits[nh] = p
                    nh += 1
        nt = 0
        for h in range(nh):
            p = hits[h]
            sl = lookup[indices[p]]
            if sstamp[sl] == i:
                flags |= 32
                continue
            sstamp[sl] = i
            bv = np.float64(data[p])
            sval[sl] = bv * f if scale == 0 else bv
            g = slot_gene[sl]
            if stamp[g] != i:
                stamp[g] = i
                touched[nt] = g
                nt += 1
        # canonical gene order (already so when the row's columns are sorted)
        ordered = True
        for t in range(1, nt):
            if touched[t] < touched[t - 1]:
                ordered = False
                break
        if not ordered:
            if nt > 32:
                touched[:nt].sort()
            else:
                _insertion_sort_int(touched, nt)
        for t in range(nt):
            g = touched[t]
            lin = 0.0
            bad = False
            for q in range(gslot_ptr[g], gslot_ptr[g + 1]):  # the gene's columns in order
                sl = gslot[q]
                if sstamp[sl] != i:
                    continue  # not stored: 0, which adds nothing
                bv = sval[sl]
                if not math.isfinite(bv):  # (np.isfinite on a scalar is ~3x slower in numba)
                    if omit:
                        bad = True
                    else:
                        flags |= 1
                    continue
                if scale >= 2 and bv > limit:
                    flags |= 2
                if direct:
                    lin = bv if scale == 2 else bv / ln2
                    continue
                if scale == 2:
                    L = np.exp2(bv) - 1.0
                elif scale == 3:
                    L = np.expm1(bv)
                else:
                    L = bv
                if L < 0:
                    flags |= 4
                lin += L
            if bad:
                tval[g] = np.nan
                continue
            if direct:
                V = lin
            elif log_space:
                V = np.log2(lin + 1.0)
            else:
                V = lin
            if tcode == 0:
                tval[g] = V / centre[g]
            elif tcode == 1:
                tval[g] = (V - centre[g]) / spread[g]
            else:
                tval[g] = V
        acc[:] = 0.0
        nan_cnt[:] = 0
        n_iter = G if all_genes else nt
        for t in range(n_iter):
            g = t if all_genes else touched[t]
            T = tval[g] if stamp[g] == i else t0[g]
            for q in range(mem_ptr[g], mem_ptr[g + 1]):
                j = mem_set[q]
                if T != T:  # NaN (nan="omit")
                    nan_cnt[j] += 1
                else:
                    acc[j] += T
        o = r0 + i
        for j in range(S):
            if omit:
                cnt = k[j] - nan_cnt[j]
                m = acc[j] / cnt
                out[o, j] = m if mean else m * k[j]
                n_out[o, j] = cnt
            else:
                out[o, j] = acc[j] / k[j] if mean else acc[j]
    return flags


_AFFINE: Any = None  # None: not tried yet; False: numba unavailable (the affine loop)


def _affine_kernel() -> Any:
    """The compiled affine loop, or None (numba missing, or ``IFNSCORE_NUMBA=0``)."""
    global _AFFINE
    if os.environ.get("IFNSCORE_NUMBA", "1") == "0":
        return None
    if _AFFINE is None:
        try:
            import numba
        except ImportError:
            _AFFINE = False
            return None
        g = globals()
        g["_insertion_sort_int"] = numba.njit(inline="always", cache=True)(_insertion_sort_int)
        # error_model="numpy": x / 0.0 gives inf or NaN as numpy does (no exception)
        _AFFINE = numba.njit(cache=True, nogil=True, error_model="numpy")(_affine_loop)
    return _AFFINE or None


_LIBM_SAME: bool | None = None


def libm_consistent() -> bool:
    """Whether numpy's float64 ``log2``, ``exp2`` and ``expm1`` give the C library's values
    (what compiled code calls) on a probe of values: then the affine kernel and the numpy
    path agree to the last bit and either may be used; otherwise (numpy built with its own
    vectorised versions) only the numpy path is used, so that scores never depend on which
    path a batch took."""
    global _LIBM_SAME
    if _LIBM_SAME is None:
        import math

        x = np.concatenate((np.linspace(0.0, 60.0, 4001), np.geomspace(1e-6, 1e15, 4001)))
        same = np.array_equal(np.log2(x + 1.0), [math.log2(v + 1.0) for v in x])
        y = x[x <= 60.0]
        same = same and np.array_equal(np.exp2(y), [math.exp2(v) for v in y])
        same = same and np.array_equal(np.expm1(y), [math.expm1(v) for v in y])
        _LIBM_SAME = bool(same)
    return _LIBM_SAME


def affine_pass(
    X: Any,
    plan: AffinePlan,
    *,
    threads: int | None = None,
    row0: int = 0,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Scores of every row of the in-memory CSR matrix ``X`` for every signature of
    ``plan``, in one compiled pass on :func:`n_threads` threads (row parts; each row on its
    own, so the numbers do not depend on the parts or threads). Returns ``(scores,
    n_genes, problems)``; ``n_genes`` is filled with ``nan="omit"`` only.

    ``X`` may be one row block of a larger matrix: its row ``i`` is then the matrix's row
    ``row0 + i``, written to row ``row0 + i`` of ``out`` (``(scores, n_genes)`` of the whole
    matrix, returned) and divided by ``plan.library_size[row0 + i]`` when the plan has one."""
    kernel = _affine_kernel()
    n = X.shape[0]
    S = plan.k.size
    if out is None:
        out = (np.empty((n, S), dtype=np.float64), np.empty((n, S), dtype=np.int64))
    sc, n_out = out
    lib = plan.library_size if plan.library_size is not None else np.zeros(1)
    args = (
        plan.lookup, plan.slot_gene, plan.gslot_ptr, plan.gslot, plan.n_genes, plan.scale, plan.log_space, plan.direct, plan.tcode,
        plan.centre, plan.spread, plan.t0, plan.all_genes, plan.mem_ptr, plan.mem_set,
        plan.k, plan.mean, plan.omit, plan.limit, float(np.log(2.0)),
        np.asarray(lib, dtype=np.float64), plan.library_size is not None, sc, n_out,
    )  # fmt: skip

    def work(group: list[tuple[int, int]]) -> list[int]:
        flags = []
        for a, b in group:
            V = _csr_view(X, a, b)
            flags.append(int(kernel(V.indptr, V.indices, V.data, row0 + a, *args)))
        return flags

    problems = 0
    for f in _map_groups(work, _parts(X), threads):
        problems |= f
    return sc, n_out, problems


def affine_blocks(
    X: Any, plan: AffinePlan, *, block_rows: int | None = None
) -> tuple[np.ndarray, np.ndarray, int] | None:
    """:func:`affine_pass` over the row blocks of a backed or lazy matrix (each block read
    once, the next one read while the current one is scored, see :func:`iter_row_blocks`);
    None when a block is not CSR (dense arrays take the gathering path). Every row is
    scored on its own, so the numbers are those of the whole matrix in memory."""
    n = X.shape[0]
    S = plan.k.size
    out = (np.empty((n, S), dtype=np.float64), np.empty((n, S), dtype=np.int64))
    problems = 0
    rows = backed_block_rows(X) if block_rows is None else block_rows
    for start, _, block in iter_row_blocks(X, rows, reuse=True):
        if not (sp.issparse(block) and block.format == "csr"):
            return None
        if np.dtype(block.dtype).kind not in "iuf":
            return None
        problems |= affine_pass(block, plan, row0=start, out=out)[2]
        if problems:  # the gathering path reports the problem in its own words
            break
    return out[0], out[1], problems
