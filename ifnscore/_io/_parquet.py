"""Parquet tables through pyarrow (optional extra ``ifnscore[parquet]``).

Row labels come from the stored pandas index; without one, from the first column when it
holds text. Orientation follows the table rules (``rows=`` overrides).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..errors import InputError
from ._table import frame_to_adata

__all__ = ["read_parquet"]


def read_parquet(path: str | os.PathLike, *, rows: str, gene_hint: Sequence[str]) -> Any:
    where = str(path)
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError(
            "Reading Parquet files needs pyarrow: pip install 'ifnscore[parquet]'."
        ) from None
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != b"PAR1":
        raise InputError(f"{where} is not a Parquet file although its extension says so.")
    try:
        frame = pq.read_table(path).to_pandas()
    except (OSError, ValueError) as exc:
        raise InputError(f"{where}: not a readable Parquet file ({exc}).") from None
    if (
        isinstance(frame.index, pd.RangeIndex)
        and frame.shape[1]
        and not pd.api.types.is_numeric_dtype(frame.dtypes.iloc[0])
    ):
        frame = frame.set_index(frame.columns[0])
    frame.index = frame.index.map(str)
    frame.columns = frame.columns.map(str)
    return frame_to_adata(frame, rows=rows, gene_hint=gene_hint, where=where, fmt="parquet")
