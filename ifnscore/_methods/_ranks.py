"""Within-sample ranking shared by the rank-based methods: rank once, score many.

Every rank a gene-set method needs is a count in the gene's own row: how many genes of
that sample are smaller than it (``less``) and how many are equal (``equal``, itself
included). From the two counts follow every tie rule: ``min`` rank ``less + 1``, ``max``
rank ``less + equal``, mid-rank ``less + (equal + 1) / 2``, and the descending versions
with ``greater = n_genes - less - equal``.

:func:`rank_scores` is the one entry point of AUCell, UCell, singscore and ssGSEA. Per row it
sorts the row's stored values *once*, answers every signature gene's ``less`` and ``equal``
by two binary searches in the sorted row, and computes every signature's statistic from those
counts, for all signatures in one pass (as PLAID does for many gene sets: Moreno et al.,
bigomics/plaid). Two implementations give the same numbers, to the last bit:

* **compiled** (numba, the ``ifnscore[fast]`` extra, for at least :data:`KERNEL_MIN_ENTRIES`
  stored values): rows are cut into blocks of about :data:`ENTRY_BUDGET` values; a block's
  CSR rows are copied into padded rows grouped by length (so each group is a dense matrix)
  and sorted by numpy's vectorised row sort (``np.sort(axis=1)``, SIMD on x86); one compiled
  ``nogil`` loop then does the binary searches and every statistic, writing each row's scores
  directly. Blocks run on :func:`ifnscore._gather.n_threads` threads; every row is computed
  on its own, so neither the block size nor the number of threads changes a bit.
* **numpy** (without numba, ``IFNSCORE_NUMBA=0``, or small inputs): :class:`RankedRows` sorts
  a block's entries as integer keys ``row * M + value_code`` and counts by ``searchsorted``;
  the statistics are the same elementwise formulas, and each signature's sum is accumulated
  gene by gene in the signature's order, exactly as the compiled loop adds them.

For sparse rows only the stored entries are sorted: the implicit zeros form one tie group
whose size is known, so they are added to the counts arithmetically and never
materialised. Sums of integer or half-integer ranks (UCell, singscore, the position term
of ssGSEA) are exact, so those statistics do not depend on summation order at all.

Moreno P et al. PLAID: pathway level average intensity detection (bigomics/plaid).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import InputError

__all__ = [
    "AUCELL",
    "SINGSCORE",
    "SSGSEA",
    "UCELL",
    "Counts",
    "RankStat",
    "RankedRows",
    "SetIndex",
    "as_row_source",
    "block_rows_for",
    "rank_scores",
    "set_index",
    "union_columns",
]

#: Entries (stored values, plus the signature genes' values) per block; about 10-40 bytes of
#: working memory per entry.
ENTRY_BUDGET = 1 << 22
#: Fewest stored values for which the compiled kernel is used (importing numba and loading
#: its cached machine code costs about a second, which only large matrices repay). Both
#: paths give the same numbers, so this is a speed setting only.
KERNEL_MIN_ENTRIES = 1 << 20
#: Values per chunk of padded rows (256 kB of float32): copied, sorted and scored while in
#: the core's cache.
CHUNK_VALUES = 1 << 16

#: Distinct values per row whose rank counts the compiled kernel remembers (sparse count
#: data have few distinct values per row: genes with one read all tie).
N_CACHE = 8

#: Statistic codes of the compiled kernel.
AUCELL, UCELL, SINGSCORE, SSGSEA = 0, 1, 2, 3


def as_row_source(X: Any) -> Any:
    """A matrix whose row slices are cheap: CSC is converted to CSR once (a copy of the
    non-zeros, never a dense matrix); everything else is returned as is."""
    if sp.issparse(X) and X.format != "csr":
        return X.tocsr()
    return X


def block_rows_for(X: Any, block_rows: int | None, extra: int = 0) -> int:
    """Rows per block: ``block_rows`` if given, else about :data:`ENTRY_BUDGET` entries
    (``extra``: further values held per row, e.g. the signature genes')."""
    if block_rows is not None:
        if isinstance(block_rows, bool) or not isinstance(block_rows, int | np.integer):
            raise InputError(f"block_rows={block_rows!r} must be a positive integer or None.")
        if block_rows < 1:
            raise InputError(f"block_rows={block_rows!r} must be a positive integer or None.")
        return int(block_rows)
    n, p = X.shape
    per_row = max(1.0, X.nnz / max(n, 1)) if sp.issparse(X) else float(max(p, 1))
    return max(1, int(ENTRY_BUDGET // (per_row + extra)))


def _block(X: Any, start: int, stop: int) -> Any:
    b = X[start:stop]
    if type(b).__module__.split(".")[0] == "dask":
        b = b.compute()
    if hasattr(b, "to_scipy_sparse"):  # pydata/sparse chunks
        b = b.to_scipy_sparse()
    if sp.issparse(b):
        b = sp.csr_matrix(b) if b.format != "csr" else b
        if not b.has_canonical_format:
            b = b.copy()
            b.sum_duplicates()
        return b
    return np.asarray(b)


def _nonfinite(method: str, row: int) -> InputError:
    return InputError(
        f"method={method!r} ranks whole samples and found NaN or infinite values in the data "
        f"(first in sample number {row + 1}); fix or remove them before scoring."
    )


def _check_finite(values: np.ndarray, start: int, method: str) -> None:
    if values.size and not np.isfinite(values).all():
        bad = ~np.isfinite(values)
        row = int(np.argwhere(bad)[0][0]) if values.ndim == 2 else 0
        raise _nonfinite(method, start + row)


_F32_EXACT = (
    np.dtype(np.float32),
    np.dtype(np.int8),
    np.dtype(np.int16),
    np.dtype(np.uint8),
    np.dtype(np.uint16),
)
_SIGN = np.int32(0x7FFFFFFF)


def _f32_codes(v: np.ndarray) -> np.ndarray:
    """Order-preserving integer codes in [0, 2**32) of float32-representable values: the
    IEEE-754 bits with the value bits of negatives flipped (-0.0 is first made +0.0)."""
    u = (np.asarray(v, dtype=np.float32) + np.float32(0.0)).view(np.int32)
    return np.where(u < 0, u ^ _SIGN, u).astype(np.int64) + (1 << 31)


def _f32_values(code: np.ndarray) -> np.ndarray:
    u = (code - (1 << 31)).astype(np.int32)
    return np.where(u < 0, u ^ _SIGN, u).astype(np.int32).view(np.float32).astype(np.float64)


class RankedRows:
    """The rows of one block, each sorted, ready to answer rank queries.

    Each stored entry gets the integer key ``row * M + code(value)`` with ``code`` monotone
    in the value, and the keys are sorted once. For float32 (and small integer) data the
    code is the value's own bit pattern (exact, no extra sort); otherwise it is the index of
    the value among the block's distinct values (``numpy.unique``).

    Parameters
    ----------
    block : ndarray or CSR matrix (b x n_genes)
    keep_top : int, optional
        Dense rows only: keep only entries >= the row's ``keep_top``-th largest value.
        Counts are then exact for query values at or above that threshold, and any
        smaller query reports at least ``keep_top`` greater entries.
    """

    def __init__(
        self, block: Any, *, keep_top: int | None = None, start: int = 0, method: str = ""
    ):
        b, n = block.shape
        self.n_rows, self.n_genes = b, n
        if sp.issparse(block):
            vals = np.asarray(block.data)
            counts = np.diff(block.indptr).astype(np.int64)
            self.implicit_zeros = n - counts
            if vals.size and not np.isfinite(vals).all():
                pos = int(np.flatnonzero(~np.isfinite(vals))[0])
                raise _nonfinite(
                    method, start + int(np.searchsorted(block.indptr, pos, "right")) - 1
                )
        else:
            dense = np.asarray(block)
            if dense.dtype.kind not in "fiub":
                dense = dense.astype(np.float64)
            _check_finite(dense, start, method)
            if keep_top is not None and 0 < keep_top < n:
                thr = np.partition(dense, n - keep_top, axis=1)[:, n - keep_top]
                mask = dense >= thr[:, None]
                vals = dense[mask]
                counts = mask.sum(axis=1).astype(np.int64)
            else:
                vals = dense.ravel()
                counts = np.full(b, n, dtype=np.int64)
            self.implicit_zeros = np.zeros(b, dtype=np.int64)
        self.stored = counts
        self.indptr = np.concatenate(([0], np.cumsum(counts)))
        self.f32 = vals.dtype in _F32_EXACT
        if self.f32:
            self.uniq = None
            self.M = np.int64(1 << 32)
            codes = _f32_codes(vals)
        else:
            self.uniq, inv = np.unique(np.asarray(vals, dtype=np.float64), return_inverse=True)
            self.M = np.int64(self.uniq.size + 1)
            codes = inv.astype(np.int64, copy=False)
        rows = np.repeat(np.arange(b, dtype=np.int64), counts)
        self.keys = np.sort(rows * self.M + codes)

    @property
    def total(self) -> np.ndarray:
        """Number of genes each row's counts refer to (all genes, or the kept top)."""
        return self.stored + self.implicit_zeros

    def _count(self, code: np.ndarray, side: str) -> np.ndarray:
        """Per row, the stored entries whose code is < ``code`` (side "left") or <= it."""
        rows = np.arange(self.n_rows, dtype=np.int64)[:, None]
        pos = np.searchsorted(self.keys, rows * self.M + code, side=side)  # type: ignore[call-overload]
        return pos - self.indptr[:-1, None]

    def _stored_less_leq(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stored entries below / at or below ``q``; queries are values of the block itself
        (or 0), so in float32 mode they convert to float32 exactly."""
        if self.f32:
            code = _f32_codes(q)
            return self._count(code, "left"), self._count(code, "right")
        uniq = self.uniq if self.uniq is not None else np.empty(0)
        less = self._count(np.searchsorted(uniq, q, side="left"), "left")
        leq = self._count(np.searchsorted(uniq, q, side="right"), "left")
        return less, leq

    def less_equal(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For query values ``q`` (b x m, one row per block row): the counts of genes of
        that row with a smaller value, and with an equal value."""
        q = np.asarray(q, dtype=np.float64)
        less, leq = self._stored_less_leq(q)
        z = self.implicit_zeros[:, None]
        less = less + np.where(q > 0, z, 0)
        leq = leq + np.where(q >= 0, z, 0)
        return less, leq - less

    def order_statistic(self, k: np.ndarray | int) -> np.ndarray:
        """The ``k``-th smallest value of each row (1-based, over all genes)."""
        k = np.broadcast_to(np.asarray(k, dtype=np.int64), (self.n_rows,))
        code = self.keys % self.M
        sorted_vals = _f32_values(code) if self.f32 else self.uniq[code]  # type: ignore[index]
        start = self.indptr[:-1]
        neg = self._stored_less_leq(np.zeros((self.n_rows, 1)))[0][:, 0]
        z = self.implicit_zeros
        idx = np.where(k <= neg, k - 1, k - 1 - z)
        idx = np.clip(idx, 0, np.maximum(self.stored - 1, 0))
        out = (
            sorted_vals[np.minimum(start + idx, sorted_vals.size - 1)] if sorted_vals.size else 0.0
        )
        zero = (k > neg) & (k <= neg + z)
        return np.where(zero, 0.0, out)


def union_columns(sets: Sequence[Any]) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """The union of all sets' columns, and each set's up/down positions within it."""
    all_cols = [np.asarray(s.up, dtype=np.intp) for s in sets] + [
        np.asarray(s.down, dtype=np.intp) for s in sets
    ]
    union = np.unique(np.concatenate(all_cols)) if all_cols else np.empty(0, dtype=np.intp)
    up = [np.searchsorted(union, np.asarray(s.up, dtype=np.intp)) for s in sets]
    down = [np.searchsorted(union, np.asarray(s.down, dtype=np.intp)) for s in sets]
    return union, up, down


def _take_columns(block: Any, cols: np.ndarray) -> np.ndarray:
    if sp.issparse(block):
        return np.asarray(block[:, cols].toarray(), dtype=np.float64)
    return np.asarray(block[:, cols], dtype=np.float64)


# ------------------------------------------------------------------ sets and statistics


@dataclass(frozen=True)
class SetIndex:
    """Every set's genes as positions in the union of all sets' columns, and the inverse.

    Within a set the positions are in ascending order (the order of the columns), which is
    the order the set's sums are accumulated in; a column listed twice counts twice.
    """

    union: np.ndarray  # sorted distinct columns of all sets
    up_ptr: np.ndarray  # (n_sets + 1,) int64
    up_idx: np.ndarray  # positions in ``union``, set by set, ascending within a set
    dn_ptr: np.ndarray
    dn_idx: np.ndarray
    miss_up: np.ndarray  # (n_sets,) int64: genes of the set not found in the data
    miss_dn: np.ndarray
    up_mem_ptr: np.ndarray  # (len(union) + 1,): the sets each union gene is an up gene of
    up_mem: np.ndarray
    dn_mem_ptr: np.ndarray
    dn_mem: np.ndarray

    @property
    def n_sets(self) -> int:
        return int(self.up_ptr.size - 1)

    def up(self, j: int) -> np.ndarray:
        return self.up_idx[self.up_ptr[j] : self.up_ptr[j + 1]]

    def down(self, j: int) -> np.ndarray:
        return self.dn_idx[self.dn_ptr[j] : self.dn_ptr[j + 1]]


def _ptr(parts: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    sizes = np.array([p.size for p in parts], dtype=np.int64)
    ptr = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    idx = (
        np.concatenate([np.sort(p, kind="stable") for p in parts]).astype(np.int64)
        if parts
        else np.empty(0, dtype=np.int64)
    )
    return ptr, idx


def _members(ptr: np.ndarray, idx: np.ndarray, n_union: int) -> tuple[np.ndarray, np.ndarray]:
    """For each union position, the sets listing it (a set listing it twice, twice)."""
    owner = np.repeat(np.arange(ptr.size - 1, dtype=np.int64), np.diff(ptr))
    order = np.argsort(idx, kind="stable")
    counts = np.bincount(idx, minlength=n_union) if idx.size else np.zeros(n_union, np.int64)
    mem_ptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    return mem_ptr, owner[order].astype(np.int64)


def set_index(sets: Sequence[Any]) -> SetIndex:
    """The :class:`SetIndex` of ``sets`` (objects with ``up``, ``down``, ``missing_up`` and
    ``missing_down``, e.g. :class:`~._base.GeneSet`)."""
    union, ups, downs = union_columns(sets)
    up_ptr, up_idx = _ptr(ups)
    dn_ptr, dn_idx = _ptr(downs)
    miss_up = np.array([int(getattr(s, "missing_up", 0)) for s in sets], dtype=np.int64)
    miss_dn = np.array([int(getattr(s, "missing_down", 0)) for s in sets], dtype=np.int64)
    return SetIndex(
        union.astype(np.intp),
        up_ptr,
        up_idx,
        dn_ptr,
        dn_idx,
        miss_up,
        miss_dn,
        *_members(up_ptr, up_idx, union.size),
        *_members(dn_ptr, dn_idx, union.size),
    )


@dataclass
class Counts:
    """Exact rank counts of one block of rows (the numpy path), for the statistics.

    ``less``/``equal``: (b, len(union)) counts of the union genes; ``less0``/``equal0``: (b,)
    counts of the value 0 (the zero group); ``nonzero``: (b, len(union)) union genes whose
    value is not 0; ``total``: (b,) genes the counts refer to; ``ranked``: the sorted rows.
    """

    less: np.ndarray
    equal: np.ndarray
    less0: np.ndarray
    equal0: np.ndarray
    nonzero: np.ndarray
    total: np.ndarray
    ranked: RankedRows

    def set_sum(self, values: np.ndarray, zero_value: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """A set's float sum as the compiled loop forms it: its non-zero genes' ``values``
        added one by one in ascending column order from 0.0, then (number of zero genes)
        x ``zero_value``."""
        acc = accumulate(np.where(self.nonzero, values, 0.0), idx)
        n_zero = idx.size - self.nonzero[:, idx].sum(axis=1)
        return acc + n_zero * zero_value


#: ``fallback(counts, index, stat) -> (score_block, dispersion_block)``: the numpy
#: statistic of one block of rows.
Fallback = Callable[[Counts, SetIndex, "RankStat"], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class RankStat:
    """Which statistic :func:`rank_scores` computes, with its parameters.

    ``code``: :data:`AUCELL` (``ints = (T, variant)``, variant 0 for R, 1 for pySCENIC),
    :data:`UCELL` (``ints = (max_rank,)``, ``floats = (w_neg,)``), :data:`SINGSCORE`
    (``ints = (known_direction, center)``) or :data:`SSGSEA` (``table[r] = r ** alpha`` for
    ``r = 0..n_genes``). ``fallback`` is the numpy version (same formulas, same order).
    ``keep_top``: numpy path on dense rows only, the top entries the statistic looks at.
    """

    code: int
    fallback: Fallback
    ints: tuple[int, ...] = ()
    floats: tuple[float, ...] = ()
    table: np.ndarray | None = None
    keep_top: int | None = None


def accumulate(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Row sums of ``values[:, idx]`` added column by column in ``idx``'s order, starting from
    0.0 (the compiled loop's order, so both paths give the same floats)."""
    acc = np.zeros(values.shape[0], dtype=np.float64)
    cols = np.asfortranarray(values[:, idx])
    for c in range(idx.size):
        acc += cols[:, c]
    return acc


# ------------------------------------------------------------------ the compiled kernel
# Plain functions, compiled by :func:`_kernels` (helpers inlined, kernels cached on disk).


def _lower(s, m, v):  # type: ignore[no-untyped-def]
    """Entries of sorted ``s[:m]`` below ``v`` (a branch-free binary search)."""
    if m == 0:
        return 0
    base = 0
    k = m
    while k > 1:
        half = k >> 1
        base = base + half if s[base + half] < v else base
        k -= half
    return base + (1 if s[base] < v else 0)


def _upper(s, m, v):  # type: ignore[no-untyped-def]
    """Entries of sorted ``s[:m]`` at or below ``v``."""
    if m == 0:
        return 0
    base = 0
    k = m
    while k > 1:
        half = k >> 1
        base = base + half if s[base + half] <= v else base
        k -= half
    return base + (1 if s[base] <= v else 0)


def _bounds(s, m, v):  # type: ignore[no-untyped-def]
    """``(_lower, _upper)`` of ``v`` by two interleaved branch-free searches (independent
    loads, so their latencies overlap)."""
    if m == 0:
        return 0, 0
    a = 0
    b = 0
    k = m
    while k > 1:
        half = k >> 1
        a = a + half if s[a + half] < v else a
        b = b + half if s[b + half] <= v else b
        k -= half
    return a + (1 if s[a] < v else 0), b + (1 if s[b] <= v else 0)


def _bounds_sampled(s, m, v, samp, ns):  # type: ignore[no-untyped-def]
    """:func:`_bounds` through ``samp`` (every 16th value of ``s``, ``ns`` of them): a search
    of the small sample, which stays in the fastest cache, then a scan of one 16-value run."""
    ca, cb = _bounds(samp, ns, v)
    lo = 0
    if ca > 0:
        a0 = 16 * (ca - 1) + 1
        lo = a0
        for t in range(a0, min(16 * ca, m)):
            lo += 1 if s[t] < v else 0
    hi = 0
    if cb > 0:
        b0 = 16 * (cb - 1) + 1
        hi = b0
        for t in range(b0, min(16 * cb, m)):
            hi += 1 if s[t] <= v else 0
    return lo, hi


def _median_sorted(a, k):  # type: ignore[no-untyped-def]
    """Median of sorted ``a[:k]`` as numpy computes it (mean of the two middle values)."""
    if k % 2 == 1:
        return a[k // 2]
    return (a[k // 2 - 1] + a[k // 2]) / 2.0


def _norm(mean, k, n):  # type: ignore[no-untyped-def]
    low = (k + 1) / 2
    high = (2 * n - k + 1) / 2
    return (mean - low) / (high - low)


def _u_score(capped_sum, k, m):  # type: ignore[no-untyped-def]
    s_min = k * (k + 1) / 2.0
    s_max = float(k * m)
    if s_max == s_min:
        return 0.0
    return 1.0 - (capped_sum - s_min) / (s_max - s_min)


def _gene_stat(code, less, eq, n, ints, table, cm, g):  # type: ignore[no-untyped-def]
    """The per-gene quantities each statistic sums, from the gene's rank counts, into ``g``
    (a float, a second float, an integer)."""
    if code == 0:  # AUCell: expected area of max(T - r, 0) over the tie group's positions
        T = ints[0]
        gr = n - less - eq
        lo = gr + 1
        hi = gr + eq
        b = min(hi, T - 1)
        mm = b - lo + 1
        tot = 0.0
        if mm > 0:
            mf = float(mm)
            tot = mf * T - mf * (float(lo) + float(b)) / 2.0
        g[0] = tot / max(hi - lo + 1, 1)
    elif code == 1:  # UCell: twice the capped descending mid-rank (an integer)
        g[2] = min(2 * (n - less - eq) + eq + 1, 2 * ints[0])
    elif code == 2:  # singscore: min rank, or its distance to the median rank
        g[0] = less + 1.0 if ints[0] == 1 else abs(less + 1.0 - cm)
    else:  # ssGSEA: weight floor(mid-rank) ** alpha times the mid-rank; the weight; 2 x mid
        mid2 = 2 * less + eq + 1
        w = table[mid2 // 2]
        g[0] = w * (mid2 / 2.0)
        g[1] = w
        g[2] = mid2


def _insertion_sort(b, k):  # type: ignore[no-untyped-def]
    for t in range(1, k):
        x = b[t]
        q = t - 1
        while q >= 0 and b[q] > x:
            b[q + 1] = b[q]
            q -= 1
        b[q + 1] = x


def _mad_set(ranks, off, found, n_zero, r0, buf):  # type: ignore[no-untyped-def]
    """mad() of a set's ranks: ``ranks[off:off + found]`` and ``n_zero`` copies of ``r0``.

    Only the ``found`` ranks are sorted; the sorted multiset is read through
    ``_multiset_at`` (the copies of ``r0`` sit where they belong), so a set of mostly zero
    genes costs little."""
    for t in range(found):
        buf[t] = ranks[off + t]
    if found <= 64:
        _insertion_sort(buf, found)
    else:
        buf[:found].sort()
    k = found + n_zero
    split = _lower(buf, found, r0)
    if k % 2 == 1:
        med = _multiset_at(buf, split, n_zero, r0, k // 2)
    else:
        med = (
            _multiset_at(buf, split, n_zero, r0, k // 2 - 1)
            + _multiset_at(buf, split, n_zero, r0, k // 2)
        ) / 2.0
    # the absolute deviations in ascending order: walk outwards from the median
    j = 0
    lo_, hi_ = 0, k
    while lo_ < hi_:  # first position holding a value >= med
        mid = (lo_ + hi_) >> 1
        if _multiset_at(buf, split, n_zero, r0, mid) < med:
            lo_ = mid + 1
        else:
            hi_ = mid
    j = lo_
    i = j - 1
    d_prev = 0.0
    d = 0.0
    for t in range(k // 2 + 1):
        if i < 0 or (j < k and _multiset_at(buf, split, n_zero, r0, j) - med
                     <= med - _multiset_at(buf, split, n_zero, r0, i)):  # fmt: skip
            d = _multiset_at(buf, split, n_zero, r0, j) - med
            j += 1
        else:
            d = med - _multiset_at(buf, split, n_zero, r0, i)
            i -= 1
        if t == (k - 1) // 2:
            d_prev = d
    if k % 2 == 1:
        return 1.4826 * d_prev
    return 1.4826 * ((d_prev + d) / 2.0)


def _multiset_at(buf, split, n_zero, r0, t):  # type: ignore[no-untyped-def]
    """Element ``t`` of sorted ``buf[:split]``, ``n_zero`` x ``r0``, sorted ``buf[split:]``."""
    if t < split:
        return buf[t]
    if t < split + n_zero:
        return r0
    return buf[t - n_zero]


def _rank_stats(  # type: ignore[no-untyped-def]
    P, lens, rows, base, hit_ptr, hit_u, hit_v, Q, n, U,
    up_ptr, up_mem_ptr, up_mem, dn_ptr, dn_mem_ptr, dn_mem, miss_up, miss_dn,
    code, ints, floats, table, out, disp,
):  # fmt: skip
    """Counts and statistics of the rows of one block (see :func:`rank_scores`).

    ``P``: each row's stored values sorted (padded past ``lens``). Sparse rows (``Q`` with no
    columns): row ``i``'s non-zero union genes are ``hit_u``/``hit_v[hit_ptr[i]:hit_ptr[i +
    1]]`` (from :func:`_pad_rows`). Dense rows: ``Q`` holds the union genes' values. Scores go
    to ``out[base + rows[i]]``. Returns the first such row with a NaN or infinite value, or -1.
    """
    sparse = Q.shape[1] == 0
    S = up_ptr.size - 1
    acc = np.zeros(2 * S)
    acc2 = np.zeros(2 * S)
    iacc = np.zeros(2 * S, dtype=np.int64)
    cnt = np.zeros(2 * S, dtype=np.int64)
    n_up = up_ptr[S]
    ranks = np.empty(max(n_up + dn_ptr[S], 1))  # singscore: each set's non-zero genes' ranks
    buf = np.empty(max(n_up + dn_ptr[S], 1))
    g0 = np.zeros(3)
    g = np.zeros(3)
    cache_v = np.zeros(N_CACHE, dtype=P.dtype)
    cache_g = np.zeros((N_CACHE, 3))
    samp = np.empty(P.shape[1] // 16 + 1, dtype=P.dtype)
    for i in range(P.shape[0]):
        m = lens[i]
        s = P[i]
        o = base + rows[i]
        if m > 0 and not (s[0] > -np.inf and s[m - 1] < np.inf):
            return o
        z = n - m
        neg = _lower(s, m, 0)
        zle = _upper(s, m, 0) + z
        cm = 0.0
        if code == 2 and ints[0] == 0:
            # unknown direction: the median rank of the row, from its two middle values
            for kk in ((n + 1) // 2, n // 2 + 1):
                if kk <= neg:
                    rk = _lower(s, m, s[kk - 1])
                elif kk <= neg + z:
                    rk = neg
                else:
                    v = s[kk - 1 - z]
                    rk = neg if v == 0 else _lower(s, m, v) + (z if v > 0 else 0)
                cm += rk + 1.0
            cm = np.ceil(cm / 2.0)
        _gene_stat(code, neg, zle - neg, n, ints, table, cm, g0)  # the zero group's genes
        acc[:] = 0.0
        acc2[:] = 0.0
        iacc[:] = 0
        cnt[:] = 0
        # the non-zero union genes of the row, in ascending column order
        h0, h1 = (hit_ptr[i], hit_ptr[i + 1]) if sparse else (0, U)
        n_cached = 0  # distinct values met in this row, with their per-gene quantities
        ns = 0
        if h1 - h0 >= 8:  # many searches: through every 16th value
            ns = (m + 15) // 16
            for t in range(ns):
                samp[t] = s[16 * t]
        for q in range(h0, h1):
            if sparse:
                u = hit_u[q]
                v = hit_v[q]
            else:
                u = q
                v = Q[i, q]
                if v == 0:
                    continue
            c = 0
            while c < n_cached and cache_v[c] != v:
                c += 1
            if c < n_cached:  # tied genes (e.g. single counts) share one search
                g[0], g[1], g[2] = cache_g[c, 0], cache_g[c, 1], cache_g[c, 2]
            else:
                lo_, le_ = _bounds_sampled(s, m, v, samp, ns) if ns else _bounds(s, m, v)
                if v > 0:
                    lo_ += z
                    le_ += z
                _gene_stat(code, lo_, le_ - lo_, n, ints, table, cm, g)
                if n_cached < N_CACHE:
                    cache_v[n_cached] = v
                    cache_g[n_cached, 0], cache_g[n_cached, 1] = g[0], g[1]
                    cache_g[n_cached, 2] = g[2]
                    n_cached += 1
            for t in range(up_mem_ptr[u], up_mem_ptr[u + 1]):
                j = up_mem[t]
                if code == 2:
                    ranks[up_ptr[j] + cnt[j]] = g[0]
                acc[j] += g[0]
                acc2[j] += g[1]
                iacc[j] += np.int64(g[2])
                cnt[j] += 1
            for t in range(dn_mem_ptr[u], dn_mem_ptr[u + 1]):
                j = S + dn_mem[t]
                if code == 2:
                    ranks[n_up + dn_ptr[j - S] + cnt[j]] = g[0]
                acc[j] += g[0]
                acc2[j] += g[1]
                iacc[j] += np.int64(g[2])
                cnt[j] += 1
        # each set: its non-zero genes' sum, plus its zero genes at the zero group's value
        for j in range(S):
            k = up_ptr[j + 1] - up_ptr[j]
            kd = dn_ptr[j + 1] - dn_ptr[j]
            nz = k - cnt[j]
            nzd = kd - cnt[S + j]
            if code == 0:  # AUCell
                if k == 0:
                    continue
                T = ints[0]
                if ints[1] == 0:
                    mk = min(k, T - 1)
                    denom = mk * T - mk * (mk + 1) / 2.0
                else:
                    denom = float(T * k)
                out[o, j] = (acc[j] + nz * g0[0]) / denom
            elif code == 1:  # UCell (integer sums: exact)
                mr = ints[0]
                k_up = k + miss_up[j]
                if k_up == 0:
                    continue
                s2 = iacc[j] + nz * np.int64(g0[2])
                res = _u_score(s2 / 2.0 + miss_up[j] * mr, k_up, mr)
                k_dn = kd + miss_dn[j]
                if k_dn:
                    s2 = iacc[S + j] + nzd * np.int64(g0[2])
                    dn = _u_score(s2 / 2.0 + miss_dn[j] * mr, k_dn, mr)
                    res = max(res - floats[0] * dn, 0.0)
                out[o, j] = res
            elif code == 2:  # singscore (integer ranks: exact sums and medians)
                if k == 0:
                    continue
                shift = 0.5 if ints[1] == 1 else 0.0
                sr = acc[j] + nz * g0[0]
                if ints[0] == 1:
                    su = _norm(sr / k, k, n) - shift
                else:  # folded ranks: bounds floor(k/2) and ceil(N/2), no centring
                    su = _norm(sr / k, k // 2, -(-n // 2))
                du = _mad_set(ranks, up_ptr[j], cnt[j], nz, g0[0], buf)
                if kd:
                    sr = acc[S + j] + nzd * g0[0]
                    su = su + (1.0 - _norm(sr / kd, kd, n) - shift)
                    du = du + _mad_set(ranks, n_up + dn_ptr[j], cnt[S + j], nzd, g0[0], buf)
                out[o, j] = su
                disp[o, j] = du
            else:  # ssGSEA
                if k == 0 or k >= n:
                    continue
                swr = acc[j] + nz * g0[0]
                sw = acc2[j] + nz * g0[1]
                s2 = iacc[j] + nz * np.int64(g0[2])
                out[o, j] = swr / sw - (n * (n + 1) / 2.0 - s2 / 2.0) / (n - k)
    return -1


def _pad_rows(indptr, indices, data, rows, P, fill, lookup, hit_ptr, hit_u, hit_v, stamp):  # type: ignore[no-untyped-def]
    """Copy CSR rows ``rows`` into the rows of ``P``, each padded with ``fill`` (the largest
    value of the type, so that sorting leaves the row's own values first), and list each
    row's stored non-zero union genes (``lookup[column] >= 0``) in ``hit_u``/``hit_v``, row
    ``r``'s at ``hit_ptr[r]:hit_ptr[r + 1]``, in column order. One sequential read of the
    rows' values and columns. Returns True (and stops) at a row storing a column twice
    (``stamp``: a scratch array over the columns, for rows whose columns are not sorted)."""
    w = P.shape[1]
    h = 0
    for r in range(rows.size):
        hit_ptr[r] = h
        i = rows[r]
        a = indptr[i]
        m = indptr[i + 1] - a
        prev = -1
        ordered = True
        for p in range(m):
            c = indices[a + p]
            if c <= prev:
                if c == prev and ordered:
                    return True
                ordered = False
            prev = c
            v = data[a + p]
            P[r, p] = v
            u = lookup[c]
            if u >= 0 and v != 0:
                hit_u[h] = u
                hit_v[h] = v
                h += 1
        for p in range(m, w):
            P[r, p] = fill
        if not ordered:
            for p in range(a, a + m):  # a column stored twice in this row?
                if stamp[indices[p]] == i:
                    return True
                stamp[indices[p]] = i
            # put the row's hits in column order
            h0 = hit_ptr[r]
            perm = np.argsort(hit_u[h0:h])
            su = hit_u[h0:h][perm]
            sv = hit_v[h0:h][perm]
            hit_u[h0:h] = su
            hit_v[h0:h] = sv
    hit_ptr[rows.size] = h
    return False


class _Duplicates(Exception):
    """A CSR row stores a column twice (the compiled path then sums duplicates first)."""


_HELPERS = ("_lower", "_upper", "_bounds", "_bounds_sampled", "_median_sorted", "_norm", "_u_score",
            "_gene_stat", "_insertion_sort", "_multiset_at", "_mad_set")  # fmt: skip
_KERNELS: Any = None  # None: not compiled yet; False: numba missing or disabled


def _kernels() -> Any:
    """``(pad, stats)`` compiled with numba (``nogil``, cached on disk), or None (numba not
    installed, or ``IFNSCORE_NUMBA=0``)."""
    global _KERNELS
    if os.environ.get("IFNSCORE_NUMBA", "1") == "0":
        return None
    if _KERNELS is None:
        try:
            import numba
        except ImportError:
            _KERNELS = False
            return None
        g = globals()
        for name in _HELPERS:
            g[name] = numba.njit(inline="always", cache=True, error_model="numpy")(g[name])
        # error_model="numpy": x / 0.0 is inf or NaN, as in the numpy path (no exception)
        jit = numba.njit(cache=True, nogil=True, error_model="numpy")
        _KERNELS = (jit(_pad_rows), jit(_rank_stats))
    return _KERNELS or None


def _sort_dtype(dtype: np.dtype) -> np.dtype:
    """The type rows are sorted in: numpy's vectorised sorts cover 32- and 64-bit types,
    smaller ones (and booleans, float16) are widened exactly; anything else is float64."""
    d = np.dtype(dtype)
    if d.kind == "f":
        return np.dtype(np.float32) if d.itemsize <= 4 else np.dtype(np.float64)
    if d.kind in "iu":
        return np.dtype(np.int32) if d.itemsize < 4 else d
    if d.kind == "b":
        return np.dtype(np.int32)
    return np.dtype(np.float64)


def _fill(dtype: np.dtype) -> Any:
    return dtype.type(np.inf) if dtype.kind == "f" else np.iinfo(dtype).max


def _groups(lengths: np.ndarray) -> list[np.ndarray]:
    """Rows (positions in ``lengths``) grouped by similar length (each group's longest row at
    most ~15 % longer than its shortest), so that padding wastes little sorting."""
    order = np.argsort(lengths, kind="stable")
    ls = lengths[order]
    out = []
    i = 0
    while i < order.size:
        cap = max(int(ls[i] * 1.15), int(ls[i]) + 16)
        j = int(np.searchsorted(ls, cap, side="right"))
        out.append(order[i:j].astype(np.int64))
        i = j
    return out


def _kernel_block(
    block: Any, start: int, index: SetIndex, stat: RankStat, out: np.ndarray, disp: np.ndarray,
    method: str,
) -> None:  # fmt: skip
    """The compiled path on one in-memory block (CSR or dense rows ``start:...``)."""
    pad, stats = _kernels()
    n = block.shape[1]
    union = index.union
    ints = np.asarray(stat.ints if stat.ints else (0,), dtype=np.int64)
    floats = np.asarray(stat.floats if stat.floats else (0.0,), dtype=np.float64)
    table = stat.table if stat.table is not None else np.zeros(1)
    sets = (
        index.up_ptr, index.up_mem_ptr, index.up_mem, index.dn_ptr, index.dn_mem_ptr,
        index.dn_mem, index.miss_up, index.miss_dn, stat.code, ints, floats, table, out, disp,
    )  # fmt: skip
    if sp.issparse(block):
        dt = _sort_dtype(block.dtype)
        data = block.data if block.data.dtype == dt else block.data.astype(dt)
        # the smallest lookup type that holds the union (int16: 40 kB for 20,000 genes)
        ltype = np.int16 if union.size < 32_767 else np.int32
        lookup = np.full(n, -1, dtype=ltype)
        lookup[union] = np.arange(union.size, dtype=ltype)
        no_q = np.zeros((1, 0), dtype=dt)
        lengths = np.diff(block.indptr).astype(np.int64)
        fill = _fill(dt)
        stamp = np.full(n, -1, dtype=np.int64)
        for rows in _groups(lengths):
            # chunks of rows small enough to stay in cache from the copy to the statistics
            w = max(int(lengths[rows[-1]]), 1)
            step = max(8, CHUNK_VALUES // w)
            buf = np.empty(min(step, rows.size) * w, dtype=dt)
            hit_u = np.empty(buf.size, dtype=np.int32)
            hit_v = np.empty(buf.size, dtype=dt)
            hit_ptr = np.empty(step + 1, dtype=np.int64)
            for c0 in range(0, rows.size, step):
                r = rows[c0 : c0 + step]
                P = buf[: r.size * w].reshape(r.size, w)
                if pad(block.indptr, block.indices, data, r, P, fill, lookup, hit_ptr, hit_u,
                       hit_v, stamp):  # fmt: skip
                    raise _Duplicates
                P.sort(axis=1)
                bad = stats(P, lengths[r], r, start, hit_ptr, hit_u, hit_v, no_q, n,
                            union.size, *sets)  # fmt: skip
                if bad >= 0:
                    raise _nonfinite(method, int(bad))
        return
    D = np.asarray(block)
    dt = _sort_dtype(D.dtype)
    D = D.astype(dt, copy=False)
    b = D.shape[0]
    step = max(4, CHUNK_VALUES // max(n, 1))
    none_i = np.zeros(1, dtype=np.int64)
    none_u = np.zeros(1, dtype=np.int32)
    none_v = np.zeros(1, dtype=dt)
    for c0 in range(0, b, step):
        c1 = min(b, c0 + step)
        P = np.sort(D[c0:c1], axis=1)
        Q = np.ascontiguousarray(D[c0:c1, union])
        rows = np.arange(c0, c1, dtype=np.int64)
        lens = np.full(c1 - c0, n, dtype=np.int64)
        bad = stats(P, lens, rows, start, none_i, none_u, none_v, Q, n, union.size, *sets)
        if bad >= 0:
            raise _nonfinite(method, int(bad))


def _use_kernel(X: Any) -> bool:
    entries = X.nnz if sp.issparse(X) else int(np.prod(X.shape))
    return entries >= KERNEL_MIN_ENTRIES and _kernels() is not None


def _numpy_block(
    block: Any, start: int, index: SetIndex, stat: RankStat, out: np.ndarray, disp: np.ndarray,
    method: str,
) -> None:  # fmt: skip
    """The numpy path on one in-memory block."""
    if not sp.issparse(block):
        _check_finite(np.asarray(block), start, method)
    ranked = RankedRows(block, keep_top=stat.keep_top, start=start, method=method)
    q = _take_columns(block, index.union)
    less, equal = ranked.less_equal(q)
    less0, equal0 = ranked.less_equal(np.zeros((block.shape[0], 1)))
    counts = Counts(less, equal, less0[:, 0], equal0[:, 0], q != 0, ranked.total, ranked)
    s, d = stat.fallback(counts, index, stat)
    stop = start + block.shape[0]
    out[start:stop], disp[start:stop] = s, d


def _rank_scores_in_memory(
    src: Any, index: SetIndex, stat: RankStat, block_rows: int | None, method: str,
    out: np.ndarray, disp: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Row blocks of an in-memory matrix (CSR views or dense slices) on threads."""
    from .._gather import _csr_view, _map_groups

    n_samples = src.shape[0]
    step = block_rows_for(src, block_rows, index.union.size)
    spans = [(a, min(n_samples, a + step)) for a in range(0, n_samples, step)]
    compiled = _use_kernel(src)
    dense = None if sp.issparse(src) else np.asarray(src)

    def work(group: list[tuple[int, int]]) -> list[None]:
        for a, b in group:
            block = _csr_view(src, a, b) if dense is None else dense[a:b]
            if compiled:
                _kernel_block(block, a, index, stat, out, disp, method)
            else:
                _numpy_block(block, a, index, stat, out, disp, method)
        return []

    _map_groups(work, spans)
    return out, disp


def rank_scores(
    X: Any,
    sets: Sequence[Any],
    stat: RankStat,
    *,
    block_rows: int | None,
    method: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Score every row of ``X`` for every set: ``(score, dispersion)``, each
    ``(n_samples, n_sets)`` (NaN where a set has no genes; ``dispersion`` is filled by
    singscore only).

    Per row, the genes of a set whose value is 0 all share the zero group's counts; a set's
    float sums are its non-zero genes' values added one by one in ascending column order
    (from 0.0), plus the number of its zero genes times the zero group's value. Both
    implementations form exactly these sums, for sparse and dense rows alike, so scores do not
    depend on the container, the block size or the number of threads.
    """
    from .._gather import _in_memory

    index = set_index(sets)
    n_samples = X.shape[0]
    out = np.full((n_samples, index.n_sets), np.nan)
    disp = np.full((n_samples, index.n_sets), np.nan)
    if index.union.size == 0 or n_samples == 0:  # no set has a gene in the data
        return out, disp
    src = as_row_source(X) if _in_memory(X) else X
    if _in_memory(src) and sp.issparse(src) and _use_kernel(src):
        # the compiled path takes rows with unsorted columns as they are, and finds a column
        # stored twice while it copies the rows: then duplicates are summed first (scipy)
        try:
            return _rank_scores_in_memory(src, index, stat, block_rows, method, out, disp)
        except _Duplicates:
            src = src.copy()
            src.sum_duplicates()
    elif sp.issparse(src) and not src.has_canonical_format:
        src = src.copy()
        src.sum_duplicates()
    if _in_memory(src):
        return _rank_scores_in_memory(src, index, stat, block_rows, method, out, disp)
    step = block_rows_for(src, block_rows, index.union.size)
    spans = [(a, min(n_samples, a + step)) for a in range(0, n_samples, step)]
    for a, b in spans:  # backed or lazy rows: each block read once
        block = _block(src, a, b)
        if _use_kernel(block):
            _kernel_block(block, a, index, stat, out, disp, method)
        else:
            _numpy_block(block, a, index, stat, out, disp, method)
    return out, disp
