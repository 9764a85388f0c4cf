"""Small file helpers shared by the CLI and the library: atomic writes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["atomic_write", "write_table"]


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` then move the file into place: readers never see a partial
    file, and an existing file is only replaced once the new one is complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        # mkstemp makes the file private (0600); give it the permissions open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a result table by extension (.csv, .tsv, .parquet, .json), atomically."""
    path = Path(path)
    suffix = (
        "".join(path.suffixes[-2:])
        if path.suffix in (".gz", ".bz2", ".xz", ".zst")
        else path.suffix
    )
    base = suffix.split(".")[1] if suffix else ""
    flat = df.copy()
    if isinstance(flat.columns, pd.MultiIndex):
        flat.columns = ["_".join(map(str, c)) for c in flat.columns]
    flat.attrs = {}
    if base in ("csv", "txt"):
        return atomic_write(
            path, lambda p: flat.to_csv(p, compression="infer" if suffix != base else None)
        )
    if base == "tsv":
        return atomic_write(path, lambda p: flat.to_csv(p, sep="\t"))
    if base == "parquet":
        return atomic_write(path, lambda p: flat.to_parquet(p))
    if base == "json":
        return atomic_write(
            path, lambda p: flat.reset_index().to_json(p, orient="records", indent=1)
        )
    from .errors import InputError

    raise InputError(f"Output {str(path)!r}: unknown extension; use .csv, .tsv, .parquet or .json.")
