"""Streaming read of a genes-as-rows delimited table: keep only the wanted genes' rows.

One pass over the file in blocks of whole lines. Each block yields (a) the rows whose gene
label is wanted and (b) the sum of every sample's column over *all* rows: the library sizes
that turn counts into counts per million. Memory is bounded by the block size plus the kept
rows (signature genes x samples), not by the file.

Blocks of plain integer counts (the usual case) are parsed by a vectorised numpy kernel:
the token boundaries come from the delimiter positions, every byte after a row label must be
a digit or a delimiter (checked on the bytes, not per token), and each token's last four
bytes are read as one little-endian ``uint32``, masked to the token and converted with SWAR
arithmetic (``z*10 + z>>8``, then ``z*100 + z>>16``); longer integers take a further pass
per four digits on the (few) long tokens. Any block the kernel cannot prove to hold only unsigned
integers (decimals, exponents, signs, missing values, quotes, ragged lines) is parsed by
``pandas.read_csv`` instead (floats correctly rounded, ``float_precision="round_trip"``, as
the whole-table readers), so results never depend on which path ran.

(pyarrow's streaming CSV reader, ``pyarrow.csv.open_csv``, was measured too: on a
20,000 x 5,000 table it needs ~12 s just to parse, slower than ``pandas.read_csv``, as its
cost grows with the number of columns per block; this kernel needs ~1 s.)
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO

import numpy as np

from ..errors import InputError
from ._delimited import check_field_counts, frame_from_bytes, split_header
from ._open import open_binary
from ._table import check_unique, first_non_numeric

__all__ = ["Streamed", "stream_gene_rows"]

#: Bytes per block (whole lines are kept together, so a block can be longer by one line).
#: Small blocks keep the kernel's temporaries small; per-block overhead is negligible.
BLOCK_BYTES = 1 << 18

_POW = 10 ** np.arange(0, 19, 4, dtype=np.int64)  # 1, 1e4, 1e8, 1e12, 1e16
#: Mask of a token's last min(length, 4) bytes in a little-endian word, by token length.
_KEEP = np.array(
    [(0xFFFFFFFF << (32 - 8 * min(n, 4))) & 0xFFFFFFFF if n else 0 for n in range(32)],
    dtype=np.uint32,
)


@dataclass
class Streamed:
    """What one streaming pass found."""

    samples: list[str]
    genes: list[str]  # kept rows, file order
    values: np.ndarray  # (len(genes), n_samples) float64
    totals: np.ndarray  # (n_samples,) float64: column sums over every row
    n_rows: int  # data rows in the file
    integer: bool  # every value in the file is an integer
    row_labels_sample: list[str]  # up to 1000 row labels, for the orientation check


def _four_digits(words: np.ndarray, ends: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Integer value of the (up to 4) digits ending before ``ends``, as uint32.

    ``words[p]`` holds the 4 bytes before position ``p`` as a little-endian ``uint32`` (the
    token's last digit in the highest byte); the bytes before the token are masked off, and
    the caller has checked that the token's bytes are digits, so their low nibbles are the
    digits' values. In-place arithmetic keeps the temporaries to two uint32 arrays.
    """
    x = np.take(words, ends)
    x &= np.take(_KEEP, lengths)  # the token's last min(length, 4) bytes
    x &= np.uint32(0x0F0F0F0F)
    tmp = np.right_shift(x, np.uint32(8))
    x *= np.uint32(10)
    x += tmp
    x &= np.uint32(0x00FF00FF)  # two 2-digit numbers, in bytes 0 and 2
    np.right_shift(x, np.uint32(16), out=tmp)
    x *= np.uint32(100)
    x += tmp
    x &= np.uint32(0xFFFF)
    return x


@dataclass
class _Ints:
    """A block of plain integers: ``low`` holds each value's last four digits (uint32, lines x
    samples); ``extra`` adds the higher digits of the few longer values at flat positions ``at``."""

    low: np.ndarray
    at: np.ndarray
    extra: np.ndarray

    def rows(self, keep: list[int]) -> np.ndarray:
        out = self.low[keep].astype(np.float64)
        if self.at.size:
            n = self.low.shape[1]
            line, col = np.divmod(self.at, n)
            pos = {r: i for i, r in enumerate(keep)}
            sel = np.array([ln in pos for ln in line.tolist()], dtype=bool)
            if sel.any():
                rows = np.array([pos[ln] for ln in line[sel].tolist()], dtype=np.intp)
                out[rows, col[sel]] += self.extra[sel].astype(np.float64)
        return out

    def sums(self) -> np.ndarray:
        s = self.low.sum(axis=0, dtype=np.int64)
        if self.at.size:
            np.add.at(s, self.at % self.low.shape[1], self.extra)
        return s


def _fast_block(block: bytes, sep: int, n_cols: int) -> tuple[_Ints, list[str]] | None:
    """The block's integers and row labels, or None if it is not all plain unsigned integers.

    The block qualifies when each line has exactly ``n_cols`` separators, every byte after a
    line's label is a digit, a separator, or a carriage return just before the newline, and
    every value has 1 to 18 digits.
    """
    b = np.frombuffer(b"\0\0\0\0" + block, dtype=np.uint8)
    raw = b[4:]  # positions below are in ``block``; words[p] = the 4 bytes before p
    newline = raw == ord("\n")
    delim = raw == sep
    delim |= newline
    flat = np.flatnonzero(delim).astype(np.int32)  # blocks are far below 2 GiB
    m = n_cols + 1
    n_lines = flat.size // m
    if n_lines == 0 or flat.size != n_lines * m:
        return None
    D = flat.reshape(n_lines, m)
    nl = D[:, -1]
    # n_lines newlines in all, each line's (n_cols + 1)-th delimiter one of them: so every
    # line holds exactly n_cols separators
    if np.any(raw[nl] != ord("\n")) or np.count_nonzero(newline) != n_lines:
        return None
    not_digit = np.subtract(raw, ord("0"), dtype=np.uint8) > 9  # neither a digit ...
    not_digit &= ~delim  # ... nor a delimiter
    other = np.flatnonzero(not_digit)
    del newline, delim, not_digit
    E = D[:, 1:]  # each value's end (exclusive); its start is after D[:, :-1]
    if other.size:
        line = np.searchsorted(nl, other)
        other = other[other >= D[line, 0]]  # row labels may hold anything
        if other.size:
            line = np.searchsorted(nl, other)
            if np.any(raw[other] != ord("\r")) or np.any(other + 1 != nl[line]):
                return None
            E = E.copy()  # CRLF line ends: the last value ends before the CR
            E[line, -1] -= 1
    L = E - D[:, :-1]
    L -= 1
    if L.min() < 1 or L.max() > 18:
        return None
    words = np.ndarray(buffer=b, dtype="<u4", shape=(b.size - 3,), strides=(1,))
    low = _four_digits(words, E, L)
    at = np.flatnonzero(L.ravel() > 4)
    extra = np.zeros(at.size, dtype=np.int64)
    if at.size:
        r, c = np.divmod(at, n_cols)
        ends, lengths = E[r, c], L[r, c]
        k, long = 1, np.arange(at.size)
        while long.size:
            part = _four_digits(words, ends[long] - 4 * k, lengths[long] - 4 * k)
            extra[long] += part.astype(np.int64) * _POW[k]
            k += 1
            long = long[lengths[long] > 4 * k]
    starts = np.empty(n_lines, dtype=np.int64)
    starts[0] = 0
    starts[1:] = nl[:-1] + 1
    labels = [
        block[s:e].decode("utf-8", errors="replace").strip().strip('"')
        for s, e in zip(starts.tolist(), D[:, 0].tolist(), strict=True)
    ]
    return _Ints(low, at, extra), labels


def _blocks(
    fh: IO[bytes], block_bytes: int, progress: Callable[[int], None] | None
) -> Iterator[bytes]:
    """Blocks of whole lines (the last one completed with a newline)."""
    rest = b""
    while True:
        chunk = fh.read(block_bytes)
        if progress is not None:
            progress(len(chunk))
        if not chunk:
            if rest.strip():
                yield rest if rest.endswith(b"\n") else rest + b"\n"
            return
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        block, rest = data[:cut], data[cut:]
        if block.strip():
            yield block


@dataclass
class _Parsed:
    names: list[str]
    values: _Ints | np.ndarray  # the fast kernel's integers, else float64 lines x samples
    sums: np.ndarray  # int64 (fast kernel) or float64
    integer: bool

    def rows(self, keep: list[int]) -> np.ndarray:
        if isinstance(self.values, _Ints):
            return self.values.rows(keep)
        return self.values[keep]


def _parse(block: bytes, sep: str, n: int, where: str, first: int, samples: list[str]) -> _Parsed:
    """Parse one block (in a worker thread: numpy and pandas release the GIL)."""
    fast = _fast_block(block, sep.encode()[0], n)
    if fast is not None:
        ints, names = fast
        return _Parsed(names, ints, ints.sums(), True)
    frame = frame_from_bytes(block, sep, where, first)
    if frame.shape[1] != n:
        raise InputError(
            f"{where}: lines {first}-{first + len(frame) - 1} have {frame.shape[1]} values "
            f"but the header names {n} samples; check the separator and the header."
        )
    bad = first_non_numeric(frame)
    if bad is not None:
        r, col, val = bad
        raise InputError(
            f"{where}: non-numeric value {val!r} in row {str(frame.index[r])!r}, sample "
            f"{samples[int(col) - 1]!r} (line {first + r}); values must be numbers."
        )
    M = frame.to_numpy(dtype=np.float64)
    if np.isnan(M).any():  # empty cells, or short lines that pandas padded?
        text = block.decode("utf-8", errors="replace").splitlines()
        check_field_counts(text, sep, n + 1, where, first_line=first)
    integer = bool(np.all(np.isnan(M) | (np.round(M) == M)))
    return _Parsed([str(x) for x in frame.index], M, M.sum(axis=0), integer)


def stream_gene_rows(
    path: str | os.PathLike,
    *,
    sep: str,
    wanted: Callable[[str], bool],
    block_bytes: int = BLOCK_BYTES,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> Streamed:
    """One pass over a genes-as-rows table: keep the wanted rows, sum every column.

    By default blocks are parsed in the calling thread, one at a time: the kernel's
    temporaries (a few MB for the default 256 KiB blocks) then reuse memory the process
    already holds. ``workers > 1`` parses blocks in that many threads while the file is
    read (numpy releases the GIL), with at most ``workers + 1`` blocks in flight: faster on
    an idle multi-core machine, at the cost of a few MB per thread.
    """
    where = str(path)
    if len(sep) != 1:
        raise InputError(f"{where}: streaming needs a one-character separator, got {sep!r}.")
    kept_names: list[str] = []
    kept_rows: list[np.ndarray] = []
    seen: set[str] = set()
    sample_labels: list[str] = []
    integer = True
    with open_binary(path) as fh:
        head = fh.readline()
        if not head.strip():
            raise InputError(f"{where} is empty (no header line).")
        labels = split_header(head.decode("utf-8-sig", errors="replace").rstrip("\r\n"), sep)
        samples = labels[1:]
        check_unique(samples, "sample (column label)", where)
        n = len(samples)
        if n == 0:
            raise InputError(f"{where}: the header has no sample columns (separator {sep!r}?).")
        totals = np.zeros(n, dtype=np.float64)
        itotals = np.zeros(n, dtype=np.int64)

        def collect(p: _Parsed) -> None:
            nonlocal integer
            if p.sums.dtype == np.int64:
                itotals[:] += p.sums
            else:
                totals[:] += p.sums
            integer = integer and p.integer
            for g in p.names:
                if g in seen:
                    raise InputError(
                        f"{where}: duplicated gene (row label) {g!r}; each gene must appear once."
                    )
                seen.add(g)
            if len(sample_labels) < 1000:
                sample_labels.extend(p.names[: 1000 - len(sample_labels)])
            keep = [i for i, g in enumerate(p.names) if wanted(g)]
            if keep:
                kept_names.extend(p.names[i] for i in keep)
                kept_rows.append(p.rows(keep))

        line = 2
        if workers == 1:  # no thread: the kernel's temporaries reuse the process's free memory
            for block in _blocks(fh, block_bytes, progress):
                collect(_parse(block, sep, n, where, line, samples))
                line += block.count(b"\n")
        else:
            pending: deque[Future[_Parsed]] = deque()
            with ThreadPoolExecutor(max_workers=workers) as pool:
                try:
                    for block in _blocks(fh, block_bytes, progress):
                        pending.append(pool.submit(_parse, block, sep, n, where, line, samples))
                        line += block.count(b"\n")
                        while len(pending) > workers:
                            collect(pending.popleft().result())
                    while pending:
                        collect(pending.popleft().result())
                finally:
                    for f in pending:
                        f.cancel()
    if not seen:
        raise InputError(f"{where} has a header line but no data rows.")
    values = np.vstack(kept_rows) if kept_rows else np.empty((0, n))
    return Streamed(
        samples=samples,
        genes=kept_names,
        values=values,
        totals=totals + itotals,
        n_rows=len(seen),
        integer=integer,
        row_labels_sample=sample_labels,
    )
