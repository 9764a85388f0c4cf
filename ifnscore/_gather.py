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
  whole): the same numbers (gathered values identical; row sums identical for integer counts,
  otherwise equal up to float64 summation order). Parts run on :func:`n_threads` threads
  (numpy, scipy and the ``nogil`` kernel release the GIL), and every part writes only its own
  rows, so results do not depend on the number of threads.
* **CSC**: scipy's column slice (contiguous per column) and row sums by ``np.bincount``;
  **dense arrays**: column slices and float64 row sums, in row parts on threads as above.
* **Backed or lazy arrays** (anndata's backed h5ad/zarr sparse datasets, h5py and zarr
  arrays): row blocks of ``block_rows`` are read once each and scanned as above; memory is
  bounded by one block, whatever the number of samples.
* **Dask arrays**: handed to dask (``map_blocks`` over row chunks) by :mod:`ifnscore._dask`.

Float32 data stay float32 in the matrix; only the gathered block is float64, so sums are
accumulated in float64 without ever copying the whole matrix. :func:`gather`,
:func:`row_totals` and :func:`minimum` are the single-purpose views of the same pass.

:func:`column_sums` is the other pass: the float64 sum of every column (gene means over the
cohort, e.g. module_score's expression bins), each accumulated strictly in row order, with a
compiled loop for large CSR matrices (numba) and ``np.bincount`` otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
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


def n_threads() -> int:
    """Threads used for in-memory scans: ``IFNSCORE_NUM_THREADS`` if set (a whole number >= 1;
    anything else is an error), else the CPUs this process may run on (at most 8)."""
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


def read_rows(X: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of any supported matrix, in memory (ndarray or scipy CSR/CSC)."""
    block = X[start:stop]
    if is_dask(block):
        block = block.compute()
    if sp.issparse(block):
        return block
    if hasattr(block, "to_scipy_sparse"):  # pydata/sparse COO chunks
        return block.to_scipy_sparse().tocsr()
    return np.asarray(block)  # h5py / zarr arrays


def iter_row_blocks(X: Any, block_rows: int = DEFAULT_BLOCK_ROWS) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(start, stop, block)`` over row blocks; blocks are ndarray or CSR/CSC.

    Each block is read once (one contiguous slice of a backed or lazy array).
    """
    n = X.shape[0]
    for start in range(0, n, block_rows):
        stop = min(n, start + block_rows)
        yield start, stop, read_rows(X, start, stop)


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
    """Row sums of a CSR part into ``out``, accumulated in float64.

    The part's values are cast into ``buf`` (a float64 buffer reused across parts) and
    summed with ``np.add.reduceat``, faster than reduceat's own buffered casting; the matrix
    itself is never upcast as a whole.
    """
    starts = indptr[:-1]
    nonempty = np.flatnonzero(indptr[1:] > starts)
    out[:] = 0.0
    if not nonempty.size:
        return
    if data.dtype != np.float64 and buf is not None and buf.size >= data.size:
        f64 = buf[: data.size]
        f64[...] = data
        out[nonempty] = np.add.reduceat(f64, starts[nonempty])
    else:
        out[nonempty] = np.add.reduceat(data, starts[nonempty], dtype=np.float64)


# ------------------------------------------------------------------ optional compiled kernel

#: Fewest stored values for which the compiled (numba) CSR kernel is used: compiling costs a
#: few seconds once (then cached on disk by numba), which only large matrices repay.
NUMBA_MIN_NNZ = 1 << 20
_KERNEL: Any = None  # None: not tried yet; False: numba unavailable or disabled


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


_COLSUM: Any = None  # as _KERNEL, for the column-sum loop


def _kernel(which: str = "scan") -> Any:
    """A compiled kernel (``"scan"`` or ``"colsum"``), or None (numba missing, or
    ``IFNSCORE_NUMBA=0``)."""
    global _KERNEL, _COLSUM
    if os.environ.get("IFNSCORE_NUMBA", "1") == "0":
        return None
    if which == "colsum":
        if _COLSUM is None:
            try:
                _COLSUM = _compile_colsum()
            except ImportError:
                _COLSUM = False
        return _COLSUM or None
    if _KERNEL is None:
        try:
            _KERNEL = _compile()
        except ImportError:
            _KERNEL = False
    return _KERNEL or None


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
                tot[:] = 0.0
                step = PART_NNZ
                for s in range(0, B.data.size, step):
                    tot += np.bincount(
                        B.indices[s : s + step],
                        weights=B.data[s : s + step].astype(np.float64),
                        minlength=n,
                    )
            mn = _nanmin(B.data)
            if B.nnz < n * B.shape[1]:
                mn = min(mn, 0.0)
        return vals, tot, mn
    B = np.asarray(B)
    vals = np.asarray(B[:, cols], dtype=np.float64)
    if want_totals:
        tot = B.sum(axis=1, dtype=np.float64)
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
    block_rows: int = DEFAULT_BLOCK_ROWS,
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
    pieces = (
        (start, stop, _scan_in_memory(block, cols, totals).as_tuple())
        for start, stop, block in iter_row_blocks(X, block_rows)
    )
    return _assemble(n, k, totals, pieces)


def _scan_in_memory(X: Any, cols: np.ndarray, totals: bool, *, threads: int | None = None) -> Scan:
    """Scan an ndarray or scipy matrix: row parts on ``threads`` (default :func:`n_threads`)
    threads, each writing its own rows of the outputs; the compiled kernel for large CSR
    matrices when numba is available (the numpy path's numbers: gathered values identical,
    totals identical for integer counts, else equal up to float64 summation order)."""
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


def gather(X: Any, cols: np.ndarray, *, block_rows: int = DEFAULT_BLOCK_ROWS) -> np.ndarray:
    """Return ``X[:, cols]`` as a dense float64 (n_samples x len(cols)) array."""
    return scan(X, cols, block_rows=block_rows).values


def row_totals(X: Any, *, block_rows: int = DEFAULT_BLOCK_ROWS) -> np.ndarray:
    """Sum of each row in float64 (library sizes), without upcasting the matrix."""
    s = scan(X, np.empty(0, dtype=np.intp), totals=True, block_rows=block_rows)
    return s.totals  # type: ignore[return-value]


def minimum(X: Any, *, block_rows: int = DEFAULT_BLOCK_ROWS) -> float:
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
