"""Excel workbooks (``.xlsx``/``.xlsm``) through openpyxl (optional extra ``ifnscore[excel]``)."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..errors import InputError
from ._table import check_labels, frame_to_adata

__all__ = ["read_excel_frame", "read_excel_table"]


def read_excel_frame(path: str | os.PathLike, *, sheet: str | int = 0) -> pd.DataFrame:
    """The sheet as a DataFrame with the first row as labels and no index set."""
    where = str(path)
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise InputError(
            "Reading Excel files needs openpyxl: pip install 'ifnscore[excel]'."
        ) from None
    if not zipfile.is_zipfile(path):
        raise InputError(f"{where} is not an Excel .xlsx workbook although its extension says so.")
    try:
        frame = pd.read_excel(
            path,
            sheet_name=sheet,
            engine="openpyxl",
            header=0,
            keep_default_na=False,
            na_values=[""],
        )
    except ValueError as exc:  # unknown sheet name
        raise InputError(f"{where}: {exc}.") from None
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise InputError(f"{where}: not a readable Excel workbook ({exc}).") from None
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InputError(f"{where}: sheet {sheet!r} is empty.")
    return frame


def read_excel_table(
    path: str | os.PathLike, *, rows: str, gene_hint: Sequence[str], sheet: str | int = 0
) -> Any:
    """An expression table in a sheet: labels in the first row and the first column."""
    frame = read_excel_frame(path, sheet=sheet)
    labels = [str(c) for c in frame.columns]
    frame = frame.set_index(frame.columns[0])
    check_labels(list(frame.index), "row", f"{path} (sheet {sheet!r})")
    frame.columns = pd.Index(labels[1:])
    frame.index = frame.index.map(str)
    return frame_to_adata(
        frame,
        rows=rows,
        gene_hint=gene_hint,
        where=f"{path} (sheet {sheet!r})",
        fmt="excel",
        first_line=2,
    )
