"""Block-wise within-sample ranking shared by the rank-based methods.

Every rank a gene-set method needs is a count in the gene's own row: how many genes of
that sample are smaller than it (``less``) and how many are equal (``equal``, itself
included). From the two counts follow every tie rule: ``min`` rank ``less + 1``, ``max``
rank ``less + equal``, mid-rank ``less + (equal + 1) / 2``, and the descending versions
with ``greater = n_genes - less - equal``.

Rows are processed in blocks of bounded size. A block's stored entries are sorted once
per row (a single sort of integer keys ``row * M + value_code``), after which the counts
for any query value are two binary searches. For sparse rows only the stored entries are
sorted: the implicit zeros form one tie group whose size is known, so they are added to
the counts arithmetically and never materialised. Top-k methods (AUCell, UCell) pass
``keep_top``: on dense rows only the entries at or above the row's ``keep_top``-th largest
value are kept (``numpy.partition``), which leaves every count the method uses unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import InputError

__all__ = ["RankedRows", "as_row_source", "block_rows_for", "iter_ranked_blocks", "union_columns"]

#: Entries (stored values) per block; about 40 bytes of working memory per entry.
ENTRY_BUDGET = 1 << 22


def as_row_source(X: Any) -> Any:
    """A matrix whose row slices are cheap: CSC is converted to CSR once (a copy of the
    non-zeros, never a dense matrix); everything else is returned as is."""
    if sp.issparse(X) and X.format != "csr":
        return X.tocsr()
    return X


def block_rows_for(X: Any, block_rows: int | None) -> int:
    """Rows per block: ``block_rows`` if given, else about :data:`ENTRY_BUDGET` entries."""
    if block_rows is not None:
        if isinstance(block_rows, bool) or not isinstance(block_rows, int | np.integer):
            raise InputError(f"block_rows={block_rows!r} must be a positive integer or None.")
        if block_rows < 1:
            raise InputError(f"block_rows={block_rows!r} must be a positive integer or None.")
        return int(block_rows)
    n, p = X.shape
    per_row = max(1.0, X.nnz / max(n, 1)) if sp.issparse(X) else float(max(p, 1))
    return max(1, int(ENTRY_BUDGET // per_row))


def _block(X: Any, start: int, stop: int) -> Any:
    b = X[start:stop]
    if sp.issparse(b):
        b = sp.csr_matrix(b) if b.format != "csr" else b
        if not b.has_canonical_format:
            b = b.copy()
            b.sum_duplicates()
        return b
    return np.asarray(b)


def _check_finite(values: np.ndarray, start: int, method: str) -> None:
    if values.size and not np.isfinite(values).all():
        raise InputError(
            f"method={method!r} ranks whole samples and found NaN or infinite values in the data "
            f"(first block starting at sample {start}); fix or remove them before scoring."
        )


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
        _check_finite(vals, start, method)
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


def iter_ranked_blocks(
    X: Any,
    cols: np.ndarray,
    *,
    block_rows: int | None,
    method: str,
    keep_top: int | None = None,
) -> Iterator[tuple[int, int, RankedRows, np.ndarray]]:
    """Yield ``(start, stop, ranked_rows, values_of_cols)`` over row blocks of ``X``."""
    src = as_row_source(X)
    step = block_rows_for(src, block_rows)
    n = src.shape[0]
    for start in range(0, n, step):
        stop = min(n, start + step)
        block = _block(src, start, stop)
        ranked = RankedRows(block, keep_top=keep_top, start=start, method=method)
        yield start, stop, ranked, _take_columns(block, cols)
