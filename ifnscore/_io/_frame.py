"""Plain tables in and out: sample metadata, treatments, visit scores, score tables.

:func:`read_frame` is the one reader of such tables for every front door (``follow``, the
report, ``calibrate --samples``, ``score --samples``); :func:`write_frame` the one writer of
result tables (the CLI's ``-o``). Both handle ``.csv``, ``.tsv`` (``.txt``, ``.tab``),
``.json`` (records), ``.parquet`` and ``.xlsx``, each optionally compressed with ``.gz``,
``.bz2``, ``.xz`` or ``.zst`` — really compressed on writing (the codec is chosen from the
name asked for, not from a temporary file's), detected from the content on reading.

Labels (the first column) are kept as written: ``NA``, ``N/A``, ``NULL``, ``None`` and
``nan`` are names there, not missing values; only an empty label is missing (and refused). In
the other columns those words mean a missing value, as pandas reads them. A table whose first column (the
sample names) has an empty or repeated label is refused naming the row.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .._io_util import atomic_write
from ..errors import InputError
from ._open import COMPRESSED, open_binary, strip_compression

__all__ = ["TABLE_SUFFIXES", "read_frame", "table_kind", "write_frame"]

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".tab", ".json", ".parquet", ".xlsx")
_KIND = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".parquet": "parquet",
    ".xlsx": "xlsx",
}


def table_kind(path: str | os.PathLike, *, arg: str = "path") -> tuple[str, str | None]:
    """(kind, compression) of a table file from its name: ``("csv", "gzip")`` for
    ``scores.csv.gz``; an unknown extension is an error naming ``arg``."""
    name, comp = strip_compression(path)
    ext = os.path.splitext(name)[1].lower()
    if ext not in _KIND:
        raise InputError(
            f"{arg} {str(path)!r}: unknown table extension {ext or '(none)'!r}; use one of "
            f"{', '.join(TABLE_SUFFIXES)}, optionally followed by {', '.join(COMPRESSED)}."
        )
    return _KIND[ext], comp


def _is_anndata(obj: object) -> bool:
    return hasattr(obj, "obs") and hasattr(obj, "var") and hasattr(obj, "obs_names")


def read_frame(obj: Any, *, arg: str, index: bool = True) -> pd.DataFrame:
    """A table from a DataFrame (copied), an AnnData (its ``obs``), a dict of columns, or a
    file (see the module docstring). With ``index=True`` the first column holds the row names
    (kept as text, exactly as written)."""
    if _is_anndata(obj):
        return obj.obs.copy()
    if isinstance(obj, pd.DataFrame):
        return obj.copy()
    if isinstance(obj, Mapping):
        try:
            return pd.DataFrame({k: list(v) for k, v in obj.items()})
        except (TypeError, ValueError) as exc:
            raise InputError(f"{arg}: cannot make a table of this dict ({exc}).") from None
    if not isinstance(obj, str | os.PathLike):
        raise InputError(
            f"{arg} must be a DataFrame, an AnnData, a dict of columns or the path of a table file "
            f"({', '.join(TABLE_SUFFIXES)}), got {type(obj).__name__}."
        )
    path = Path(obj)
    if not path.is_file():
        raise InputError(f"{arg} {str(path)!r}: no such file.")
    kind, _ = table_kind(path, arg=arg)
    with open_binary(path) as fh:
        raw = fh.read()
    try:
        frame = _parse(raw, kind)
    except ImportError as exc:
        raise InputError(
            f"{arg} {str(path)!r}: reading {kind} tables needs {exc.name or 'an optional package'}: "
            "pip install 'ifnscore[io]'."
        ) from None
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(
            f"{arg} {str(path)!r}: not a readable {kind} table ({' '.join(str(exc).split())})."
        ) from None
    if frame.shape[1] == 0:
        raise InputError(f"{arg} {str(path)!r} holds no columns.")
    if index:
        first = frame.columns[0]
        labels = frame[first]
        empty = labels.isna() | (labels.astype(str).str.strip() == "")
        if empty.any():
            i = int(empty.to_numpy().nonzero()[0][0])
            raise InputError(
                f"{arg} {str(path)!r}: row {i + 1} has an empty {first!r} (the first column names the rows); "
                "give every row a name."
            )
        frame = frame.set_index(first)
        frame.index = frame.index.astype(str)
        if frame.index.has_duplicates:
            dup = frame.index[frame.index.duplicated()].unique()[:5].tolist()
            raise InputError(
                f"{arg} {str(path)!r}: repeated row names {dup}; each row name must appear once."
            )
    return frame


def _parse(raw: bytes, kind: str) -> pd.DataFrame:
    if kind in ("csv", "tsv"):
        from ._delimited import labels_kept_as_written

        text = raw.decode("utf-8-sig")
        sep = "," if kind == "csv" else "\t"
        n = len(text.split("\n", 1)[0].split(sep))
        return pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_values=labels_kept_as_written(n),
        ).pipe(_numeric)
    if kind == "json":
        return pd.read_json(io.BytesIO(raw), orient="records", dtype=False, convert_dates=False)
    if kind == "parquet":
        return pd.read_parquet(io.BytesIO(raw))
    frame = pd.read_excel(io.BytesIO(raw), dtype=object, keep_default_na=False, na_values=[""])
    return frame.pipe(_numeric)


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns read as text become numbers (or booleans) when every non-empty cell is one; the
    first column (row names) stays text."""
    out = frame.copy()
    for j, col in enumerate(out.columns):
        if j == 0:
            out[col] = out[col].map(lambda v: v if pd.isna(v) else str(v))
            continue
        s = out[col]
        filled = s.dropna().astype(str).str.strip()
        if filled.empty:
            continue
        if filled.isin(["True", "False", "TRUE", "FALSE", "true", "false"]).all():
            out[col] = s.map(lambda v: v if pd.isna(v) else str(v).strip().lower() == "true")
            continue
        num = pd.to_numeric(filled, errors="coerce")
        if num.notna().all():
            out[col] = pd.to_numeric(s, errors="coerce")
    return out


def write_frame(frame: pd.DataFrame, path: str | os.PathLike, *, arg: str = "output") -> Path:
    """Write a table by its name's extension, compressed as the name says, atomically (a
    partial file never appears under ``path``). The index is written as the first column."""
    kind, comp = table_kind(path, arg=arg)
    flat = frame.copy()
    flat.attrs = {}
    if isinstance(flat.columns, pd.MultiIndex):
        flat.columns = pd.Index(["_".join(map(str, c)) for c in flat.columns])
    buf = io.BytesIO()
    try:
        if kind == "csv":
            buf.write(flat.to_csv().encode("utf-8"))
        elif kind == "tsv":
            buf.write(flat.to_csv(sep="\t").encode("utf-8"))
        elif kind == "json":
            buf.write(_json_records(flat).encode("utf-8"))
        elif kind == "parquet":
            flat.reset_index().to_parquet(buf, index=False)  # the names as the first column
        else:
            flat.to_excel(buf, engine="openpyxl")
    except ImportError as exc:
        raise InputError(
            f"{arg} {str(path)!r}: writing {kind} needs {exc.name or 'an optional package'}: "
            "pip install 'ifnscore[io]'."
        ) from None
    data = _compress(buf.getvalue(), comp, path, arg)
    return atomic_write(path, lambda p: p.write_bytes(data))


def _json_records(frame: pd.DataFrame) -> str:
    """Records with every float at full precision (``repr``: round-trips exactly; pandas'
    ``to_json`` keeps 10 digits), NaN as ``null``."""
    import json
    import math

    def cell(v: Any) -> Any:
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if v is pd.NA or v is pd.NaT:
            return None
        return v

    rows = [
        {str(k): cell(v) for k, v in r.items()}
        for r in frame.reset_index().to_dict(orient="records")
    ]
    return json.dumps(rows, indent=1, allow_nan=False) + "\n"


def _compress(data: bytes, comp: str | None, path: str | os.PathLike, arg: str) -> bytes:
    if comp is None:
        return data
    if comp == "gzip":
        return gzip.compress(data, mtime=0)
    if comp == "bz2":
        return bz2.compress(data)
    if comp == "xz":
        return lzma.compress(data)
    try:
        import zstandard
    except ImportError:
        raise InputError(
            f"{arg} {str(path)!r}: writing zstd needs the 'zstandard' package: pip install 'ifnscore[io]'."
        ) from None
    return bytes(zstandard.ZstdCompressor().compress(data))
