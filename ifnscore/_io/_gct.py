"""GCT files (Broad Institute), versions 1.2 and 1.3; genes are rows.

1.2: ``#1.2``; ``n_rows<TAB>n_cols``; header ``Name, Description, samples...``; data rows.
1.3: ``#1.3``; ``n_rows n_cols n_row_meta n_col_meta``; header ``id, <row metadata names>,
samples...``; ``n_col_meta`` lines of column metadata (name, ``n_row_meta`` fillers, values);
data rows. Row metadata go to ``var``, column metadata to ``obs``.
Specification: https://clue.io/connectopedia/gct_format and
https://software.broadinstitute.org/cancer/software/gsea/wiki/index.php/Data_formats
"""

from __future__ import annotations

import csv
import os
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ._open import open_text
from ._table import check_unique, make_adata, numeric_frame

__all__ = ["read_gct"]


def _ints(parts: list[str], n: int, where: str, line: int) -> list[int]:
    try:
        vals = [int(p) for p in parts[:n]]
    except ValueError:
        vals = []
    if len(vals) != n:
        raise InputError(f"{where}: line {line} should hold {n} integer dimensions, got {parts!r}.")
    return vals


def read_gct(path: str | os.PathLike) -> Any:
    where = str(path)
    with open_text(path) as fh:
        lines = list(csv.reader(fh, delimiter="\t"))
    if not lines:
        raise InputError(f"{where} is empty.")
    version = lines[0][0].strip() if lines[0] else ""
    if version not in ("#1.2", "#1.3"):
        raise InputError(
            f"{where}: first line {version!r} is not '#1.2' or '#1.3', so not a GCT file."
        )
    if len(lines) < 3:
        raise InputError(f"{where}: GCT file ends after {len(lines)} lines (truncated?).")
    if version == "#1.2":
        n_rows, n_cols = _ints(lines[1], 2, where, 2)
        n_rmeta, n_cmeta = 1, 0
    else:
        n_rows, n_cols, n_rmeta, n_cmeta = _ints(lines[1], 4, where, 2)
    header = lines[2]
    first = 1 + n_rmeta
    samples = header[first:]
    if len(samples) != n_cols:
        raise InputError(
            f"{where}: line 3 names {len(samples)} samples but line 2 declares {n_cols}."
        )
    check_unique(samples, "sample", where)
    cmeta = lines[3 : 3 + n_cmeta]
    data = [r for r in lines[3 + n_cmeta :] if r]
    if len(data) != n_rows:
        raise InputError(
            f"{where}: {len(data)} data rows but line 2 declares {n_rows} (truncated file?)."
        )
    for i, r in enumerate(data):
        if len(r) != first + n_cols:
            raise InputError(
                f"{where}: line {4 + n_cmeta + i} has {len(r)} fields, expected {first + n_cols}."
            )
    genes = [r[0] for r in data]
    frame = pd.DataFrame([r[first:] for r in data], index=genes, columns=samples)
    frame = frame.replace({"": np.nan, "NA": np.nan, "NaN": np.nan, "nan": np.nan})
    frame = numeric_frame(frame, where, first_line=4 + n_cmeta)
    var = pd.DataFrame({h: [r[k] for r in data] for k, h in enumerate(header[1:first], start=1)})
    if version == "#1.2":
        var.columns = ["description"]
    obs = pd.DataFrame({r[0]: r[first:] for r in cmeta}) if cmeta else None
    return make_adata(
        np.ascontiguousarray(frame.to_numpy(dtype=np.float64).T),
        samples,
        genes,
        where=where,
        fmt=f"gct{version[1:]}",
        obs=obs,
        var=var,
        uns={"rows": "genes"},
    )
