"""Delimited text tables: CSV, TSV, TXT (plain, gzip, bz2, xz or zstd).

Layout: one header line of column labels; the first column holds the row labels. The
separator is ``,`` for ``.csv``, a tab for ``.tsv``/``.tab``, and otherwise taken from the
header line (a tab if it has one, else a comma, else runs of whitespace); ``sep=`` overrides.
Orientation follows :func:`ifnscore._io._table.orient` (``rows=`` overrides).

Whole tables are parsed by a multi-threaded parser when one is installed: pyarrow (the ``io``
extra), else polars (:data:`FAST_ENGINES`), else pandas. The fast path gives the table the
pandas path gives (labels as written, float64 values bit for bit: both parse floats
correctly rounded, and so does the pandas path, with ``float_precision="round_trip"``) or it
gives up and the pandas path reads the file: anything the fast parser refuses, any label it
cannot keep as written, any text it would read as NaN, infinity, ``-0`` or a number of
magnitude 2**63 or more (pandas reads an integer ``-0`` as 0, ``NAN`` or ``1e400`` as text,
which is refused, and a column with an integer beyond int64 as uint64 or text). Errors are
those of the pandas path, in the same order.
"""

from __future__ import annotations

import csv
import importlib
import io
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ._open import open_binary, open_text, strip_compression
from ._table import check_labels, check_unique, frame_to_adata

__all__ = ["FAST_ENGINES", "fast_engine", "guess_sep", "read_delimited", "read_header"]

#: Parsers of the whole-table fast path, in order of preference: the first importable one
#: is used (``()``: always pandas). pyarrow (in the ``io`` extra) first: on a 20,000 x 2,000
#: count table on 2 shared cores ifnscore.read took 2.37 and 4.08 s with it against 2.80 and
#: 4.16 s with polars, at 832-837 against 845-948 MiB peak RSS (benchmarks/bench_read.py
#: --whole; pandas' own reader 4.5-4.8 s, 902 MiB): both parse on every core, but pyarrow's
#: memory pool hands the freed columns back while the matrix fills (polars' allocator keeps
#: them). polars is used when pyarrow is not installed.
FAST_ENGINES: tuple[str, ...] = ("pyarrow", "polars")


def guess_sep(path: str | os.PathLike, header: str) -> str:
    name, _ = strip_compression(path)
    ext = os.path.splitext(name)[1].lower()
    if ext == ".csv":
        return ","
    if ext in (".tsv", ".tab"):
        return "\t"
    if "\t" in header:
        return "\t"
    if "," in header:
        return ","
    return r"\s+"


def read_header(path: str | os.PathLike) -> str:
    """The first line of the (decompressed) file, or an error when the file is empty."""
    with open_text(path) as fh:
        line = fh.readline()
    if not line.strip():
        raise InputError(f"{str(path)!r} is empty (no header line).")
    return line.rstrip("\r\n")


def split_header(header: str, sep: str) -> list[str]:
    if sep == r"\s+":
        return header.split()
    return next(csv.reader([header], delimiter=sep))


def labels_kept_as_written(n_columns: int) -> dict[int, list[str]]:
    """``na_values`` for pandas: the usual missing-value words (``NA``, ``NaN``, ``NULL`` ...)
    in the value columns, only an empty cell in the label column (position 0), so that a
    sample or gene named ``NA`` keeps its name."""
    from pandas._libs.parsers import STR_NA_VALUES

    words = sorted(STR_NA_VALUES)
    out: dict[int, list[str]] = dict.fromkeys(range(1, n_columns), words)
    out[0] = [""]
    return out


def fast_engine(engines: Sequence[str] | None = None) -> str | None:
    """The first of ``engines`` (default :data:`FAST_ENGINES`) that can be imported, or None."""
    for name in FAST_ENGINES if engines is None else engines:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        return name
    return None


def read_delimited(
    path: str | os.PathLike,
    *,
    rows: str,
    gene_hint: Sequence[str],
    sep: str | None = None,
    engine: str | None = "auto",
) -> Any:
    """Read the whole table into a samples x genes AnnData.

    ``engine``: ``"auto"`` (the first installed of :data:`FAST_ENGINES`, else pandas),
    ``"polars"``, ``"pyarrow"`` or None (pandas). A fast engine that cannot read the file
    exactly as pandas does hands it to the next one, and in the end to pandas.
    """
    if engine not in (None, "auto", "polars", "pyarrow"):
        raise InputError(
            f"engine={engine!r} is not known; use 'auto', 'polars', 'pyarrow' or None."
        )
    where = str(path)
    header = read_header(path)
    sep = sep or guess_sep(path, header)
    labels = split_header(header, sep)
    check_unique(labels[1:], "column label", where)
    if engine is not None and len(sep) == 1 and sep not in ('"', "\n", "\r"):
        order = list(FAST_ENGINES) if engine == "auto" else [engine]
        while order:
            name = fast_engine(order)
            if name is None:
                break
            order = order[order.index(name) + 1 :]
            got = _read_fast(path, name, sep, header, labels)
            if got is not None:
                names, A = got
                return _fast_to_adata(
                    path, names, A, labels, sep, rows=rows, gene_hint=gene_hint, engine=name
                )
    return _read_pandas(path, rows=rows, gene_hint=gene_hint, sep=sep, labels=labels)


def _read_pandas(
    path: str | os.PathLike, *, rows: str, gene_hint: Sequence[str], sep: str, labels: list[str]
) -> Any:
    where = str(path)
    try:
        with open_binary(path) as fh:
            frame = pd.read_csv(
                fh,
                sep=sep,
                index_col=None,  # the labels become the index below (pandas 2.3 mishandles a
                header=0,  # per-column na_values with an unnamed index column)
                engine="c" if sep != r"\s+" else "python",
                skip_blank_lines=True,
                keep_default_na=False,
                na_values=labels_kept_as_written(len(labels)),
                dtype={0: str},  # labels as written: ``007`` and ``1e3`` are not numbers
                float_precision="round_trip",  # correctly rounded (pandas' default is not)
            )
            frame = frame.set_index(frame.columns[0])
    except pd.errors.EmptyDataError:
        raise InputError(f"{where} is empty.") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{where}: not a well-formed table ({exc}).") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not a text table ({exc}).") from None
    if frame.shape[0] == 0:
        raise InputError(f"{where} has a header line but no data rows.")
    if frame.shape[1] != len(labels) - 1:
        raise InputError(
            f"{where}: the header has {len(labels) - 1} column labels but the rows have {frame.shape[1]} "
            "values; check the separator (sep=) and the header line."
        )
    frame.columns = pd.Index(labels[1:])
    check_labels(list(frame.index), "row", where)
    frame.index = frame.index.map(str)
    if frame.isna().to_numpy().any():  # empty cells, or short (truncated) lines? tell them apart
        with open_text(path) as fh:
            check_field_counts(fh, sep, len(labels), where, first_line=1)
    return frame_to_adata(
        frame,
        rows=rows,
        gene_hint=gene_hint,
        where=where,
        fmt="delimited",
        first_line=2,
        uns={"sep": sep, "engine": "pandas"},
    )


def _na_words() -> list[str]:
    from pandas._libs.parsers import STR_NA_VALUES

    return sorted(STR_NA_VALUES)


def _source(path: str | os.PathLike) -> Any:
    """What the fast parsers read: the path of a plain file, else the decompressed bytes
    (decompressed by :func:`open_binary`, so multi-member gzip and multi-frame zstd read as
    on the pandas path). The parsers ask for it for each parse, so that the decompressed text
    is not held while the matrix fills (a second parse, which is rare, decompresses again)."""
    from ._open import compression_of

    if compression_of(path) is None:
        return str(path)
    with open_binary(path) as fh:
        return fh.read()


def _read_fast(
    path: str | os.PathLike, engine: str, sep: str, header: str, labels: list[str]
) -> tuple[list[str], np.ndarray] | None:
    """(row labels, values as n_columns x n_rows float64) parsed by ``engine``, or None when
    the result might differ from the pandas path's (the caller then reads with pandas)."""
    if header.count('"') % 2 or len(labels) < 2:
        return None  # a header line that pandas may read differently (a quoted newline)
    try:
        parser = _polars if engine == "polars" else _pyarrow
        return parser(lambda: _source(path), sep, len(labels))
    except InputError:
        return None  # the pandas path says what is wrong, in its own words
    except MemoryError:
        raise
    except Exception:  # the parser's refusal (a non-numeric cell, a ragged line ...)
        return None


def _fill(A: np.ndarray, j: int, col: np.ndarray, nulls: int, integer: bool) -> bool:
    """Copy one parsed column into row ``j`` of ``A``; False when it may hold a value the
    pandas path would not give. Integer (int64) columns hold exactly what pandas reads
    (``-0`` is 0 there too, with or without missing cells). In floating-point columns these
    are handed over: NaN that is not a missing-value word (``NAN``), infinity (``inf``,
    ``1e400``: text or another value for pandas), ``-0`` (0 for pandas when the column is
    integer) and magnitudes of 2**63 or more (an integer beyond int64 makes pandas keep the
    column as uint64 or text, and an empty cell there as text)."""
    row = A[j]
    row[:] = col
    if integer:
        return True
    vals = row
    if nulls:
        nan = np.isnan(row)
        if int(np.count_nonzero(nan)) != nulls:
            return False
        vals = row[~nan]
    if vals.size and not np.abs(vals).max() < 2.0**63:  # NaN compares False
        return False
    return not np.any(np.signbit(vals[vals == 0]))


def _polars(source: Any, sep: str, n: int) -> tuple[list[str], np.ndarray] | None:
    """Two tries. First the quick one: the types polars infers from the first 100 rows
    (integer columns parse faster, and hold what pandas reads) and no missing-value words
    (checking every cell against them doubles polars' time; an empty cell is still missing).
    When that fails (a word such as ``NA`` in a number column, a later cell that does not fit
    the inferred type, a label that is empty or a missing-value word), every value column
    is parsed as float64 with the missing-value words, the labels as text as written."""
    import polars as pl

    names = [f"c{i}" for i in range(n)]

    def data() -> Any:
        src = source()
        return io.BytesIO(src) if isinstance(src, bytes) else src

    kw: dict[str, Any] = {
        "separator": sep,
        "has_header": False,
        "skip_lines": 1,  # the header line, as read_header read it
        "quote_char": '"',
        "truncate_ragged_lines": False,
        "raise_if_empty": False,
        "encoding": "utf8",
        "try_parse_dates": False,
        "glob": False,  # a name with * or [ is a file name
    }

    def parse(quick: bool) -> tuple[int, list[Any], list[str]] | None:
        if quick:
            try:
                df = pl.read_csv(
                    data(), new_columns=names, schema_overrides={names[0]: pl.String}, **kw
                )
            except pl.exceptions.ComputeError:  # a cell that does not fit the inferred type
                return None
            if df.width != n or not all(t in (pl.Int64, pl.Float64) for t in df.dtypes[1:]):
                return None
        else:
            schema: dict[str, Any] = dict.fromkeys(names, pl.Float64)
            schema[names[0]] = pl.String
            df = pl.read_csv(data(), schema=schema, null_values=_na_words(), **kw)
        height = df.height
        cols: list[Any] = df.get_columns()
        del df
        first = cols[0]
        if first.null_count():  # empty, or a missing-value word: the labels as text
            if quick:
                return None
            text = pl.read_csv(
                data(), columns=[0], infer_schema=False, empty_string_is_null=False, **kw
            )
            first = text.to_series(0)
            if first.len() != height or first.null_count():
                return None
        return height, cols[1:], first.to_list()

    for quick in (True, False):
        got = parse(quick)
        if got is None:
            continue
        height, cols, rows = got
        del got
        if not all(r.strip() for r in rows):
            return None  # a blank line (pandas skips it) or an empty label (refused): pandas says
        A = _assemble(cols, height, lambda c: (c.to_numpy(), c.null_count(), c.dtype == pl.Int64))
        if A is not None:
            return rows, A
    return None


def _assemble(cols: list[Any], height: int, view: Any, release: Any = None) -> np.ndarray | None:
    """The parsed value columns as one (columns x rows) float64 matrix, each column freed once
    copied; ``view(col)`` gives (numpy values, null count, is int64). None when :func:`_fill`
    hands a column over."""
    A = np.empty((len(cols), height), dtype=np.float64)
    for j in range(len(cols)):
        col, cols[j] = cols[j], None
        values, nulls, integer = view(col)
        del col
        if not _fill(A, j, values, nulls, integer):
            return None
        if release is not None and j % 256 == 255:
            release()  # hand the freed columns back, so the peak stays near one table
    return A


def _pyarrow(source: Any, sep: str, n: int) -> tuple[list[str], np.ndarray] | None:
    """As :func:`_polars`, with the types pyarrow infers from the first block. The quick try
    also splits blocks at any newline (a newline inside a quoted value would be cut; a label
    holding a quote or a line break sends the file to the careful try, and a cut value
    breaks the rows' shape, which pyarrow refuses)."""
    import pyarrow as pa
    from pyarrow import csv as pcsv

    names = [f"c{i}" for i in range(n)]

    def parse(quick: bool) -> Any:
        src = source()
        types: dict[str, Any] = {} if quick else dict.fromkeys(names, pa.float64())
        types[names[0]] = pa.string()
        return pcsv.read_csv(
            pa.py_buffer(src) if isinstance(src, bytes) else src,
            read_options=pcsv.ReadOptions(
                use_threads=True, block_size=16 << 20, column_names=names, skip_rows=1
            ),
            parse_options=pcsv.ParseOptions(
                delimiter=sep, quote_char='"', double_quote=True, newlines_in_values=not quick
            ),
            convert_options=pcsv.ConvertOptions(
                column_types=types,
                null_values=[""] if quick else _na_words(),
                strings_can_be_null=False,
                quoted_strings_can_be_null=True,
                check_utf8=True,
            ),
        )

    for quick in (True, False):
        try:
            table = parse(quick)
        except pa.ArrowInvalid:
            if quick:  # a cell that does not fit the type inferred from the first block
                continue
            raise
        if quick and not all(t in (pa.int64(), pa.float64()) for t in table.schema.types[1:]):
            continue
        rows = [str(r) for r in table.column(0).to_pylist()]
        if quick and any(('"' in r or "\n" in r or "\r" in r) for r in rows):
            continue
        if not all(r.strip() for r in rows):
            return None  # an empty label (refused): pandas says
        height, cols = table.num_rows, table.columns[1:]
        del table
        A = _assemble(
            cols,
            height,
            lambda c: (c.to_numpy(), c.null_count, c.type == pa.int64()),
            pa.default_memory_pool().release_unused,
        )
        if A is not None:
            return rows, A
    return None


def _fast_to_adata(
    path: str | os.PathLike,
    names: list[str],
    A: np.ndarray,
    labels: list[str],
    sep: str,
    *,
    rows: str,
    gene_hint: Sequence[str],
    engine: str,
) -> Any:
    """The checks of the pandas path, in its order, on the fast parser's table ``A``
    (columns x rows of the file)."""
    from types import SimpleNamespace

    from ._table import make_adata, orient

    where = str(path)
    if not names:
        raise InputError(f"{where} has a header line but no data rows.")
    check_labels(names, "row", where)
    if np.isnan(A).any():  # empty cells, or short (truncated) lines? tell them apart
        with open_text(path) as fh:
            check_field_counts(fh, sep, len(labels), where, first_line=1)
    columns = labels[1:]
    check_unique(columns, "column label", where)
    check_unique(names, "row label", where)
    shape = SimpleNamespace(index=pd.Index(names), columns=pd.Index(columns))
    orientation = orient(shape, rows, gene_hint, where)  # type: ignore[arg-type]
    if orientation == "genes":
        X, samples, genes = A, columns, names  # A is samples x genes already
    else:
        X, samples, genes = A.T, names, columns  # the layout pandas' to_numpy gives
    return make_adata(
        X,
        samples,
        genes,
        where=where,
        fmt="delimited",
        uns={"rows": orientation, "sep": sep, "engine": engine},
    )


def check_field_counts(lines: Any, sep: str, expected: int, where: str, *, first_line: int) -> None:
    """Refuse lines with fewer or more fields than the header (pandas pads short lines with
    NaN, which would hide a truncated file)."""
    rows = (ln.split() for ln in lines) if sep == r"\s+" else csv.reader(lines, delimiter=sep)
    for n, fields in enumerate(rows, start=first_line):
        if fields and len(fields) != expected:
            raise InputError(
                f"{where}: line {n} has {len(fields)} fields but the header has {expected}; "
                "is the file truncated or the separator wrong?"
            )


def frame_from_bytes(chunk: bytes, sep: str, where: str, first_line: int) -> pd.DataFrame:
    """Parse a block of whole lines (no header) with pandas; errors name the file and line."""
    try:
        return pd.read_csv(
            io.BytesIO(chunk),
            sep=sep,
            header=None,
            index_col=0,
            skip_blank_lines=True,
            float_precision="round_trip",  # correctly rounded, as the whole-table readers
        )
    except pd.errors.ParserError as exc:
        raise InputError(
            f"{where}: not a well-formed table near line {first_line} ({exc})."
        ) from None
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
