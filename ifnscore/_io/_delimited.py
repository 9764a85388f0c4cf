"""Delimited text tables: CSV, TSV, TXT (plain, gzip, bz2, xz or zstd).

Layout: one header line of column labels; the first column holds the row labels. The
separator is ``,`` for ``.csv``, a tab for ``.tsv``/``.tab``, and otherwise taken from the
header line (a tab if it has one, else a comma, else runs of whitespace); ``sep=`` overrides.
Orientation follows :func:`ifnscore._io._table.orient` (``rows=`` overrides).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..errors import InputError
from ._open import open_binary, open_text, strip_compression
from ._table import check_labels, check_unique, frame_to_adata

__all__ = ["guess_sep", "read_delimited", "read_header"]


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


def read_delimited(
    path: str | os.PathLike,
    *,
    rows: str,
    gene_hint: Sequence[str],
    sep: str | None = None,
) -> Any:
    """Read the whole table into a samples x genes AnnData."""
    where = str(path)
    header = read_header(path)
    sep = sep or guess_sep(path, header)
    labels = split_header(header, sep)
    check_unique(labels[1:], "column label", where)
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
        uns={"sep": sep},
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
            io.BytesIO(chunk), sep=sep, header=None, index_col=0, skip_blank_lines=True
        )
    except pd.errors.ParserError as exc:
        raise InputError(
            f"{where}: not a well-formed table near line {first_line} ({exc})."
        ) from None
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
