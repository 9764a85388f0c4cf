"""Tables (pandas DataFrames read from any format) -> a validated samples x genes AnnData.

Shared by the delimited, Excel and Parquet readers (and the per-sample count files). Rules:

* row and column labels must be unique (a duplicated gene or sample is an error naming it);
* every cell must be a number or empty (empty cells become NaN; the scorer's ``nan=`` policy
  applies); the first non-numeric cell is reported with its row, column and line;
* orientation: ``rows="samples"`` or ``rows="genes"`` say it; ``rows="auto"`` decides from the
  labels: the axis whose labels look like gene identifiers (a signature gene of the registry
  or of the request, case-insensitive, or an Ensembl ID) holds the genes; when both or
  neither do, the reader refuses and asks for ``rows=``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["check_labels", "check_unique", "first_non_numeric", "make_adata", "orient"]


def check_unique(labels: Sequence[object], what: str, where: str) -> None:
    """Raise naming the first duplicated label."""
    idx = pd.Index([str(x) for x in labels])
    if idx.has_duplicates:
        dup = idx[idx.duplicated()].unique()[:5].tolist()
        raise InputError(f"{where}: duplicated {what} {dup}; each {what} must appear once.")


def check_labels(labels: Sequence[object], what: str, where: str) -> None:
    """Raise naming the first empty (or missing) label; labels such as ``NA`` or ``NULL`` are
    names, kept as written."""
    for i, lab in enumerate(labels):
        if lab is None or (isinstance(lab, float) and lab != lab) or not str(lab).strip():
            raise InputError(
                f"{where}: {what} number {i + 1} has an empty name; give every {what} a name."
            )


def first_non_numeric(frame: pd.DataFrame) -> tuple[int, Any, Any] | None:
    """(row position, column label, value) of the first cell that is not a number, or None."""
    for j, (col, dtype) in enumerate(frame.dtypes.items()):
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            continue
        values = frame.iloc[:, j]
        num = pd.to_numeric(values, errors="coerce")
        bad = np.flatnonzero(num.isna().to_numpy() & values.notna().to_numpy())
        if bad.size == 0 and pd.api.types.is_bool_dtype(dtype):
            bad = np.array([0])
        if bad.size:
            return int(bad[0]), col, values.iloc[int(bad[0])]
    return None


def numeric_frame(frame: pd.DataFrame, where: str, *, first_line: int | None) -> pd.DataFrame:
    """``frame`` with every column numeric, or an error naming the first bad cell."""
    bad = first_non_numeric(frame)
    if bad is not None:
        r, col, val = bad
        line = f" (line {first_line + r})" if first_line is not None else ""
        raise InputError(
            f"{where}: non-numeric value {val!r} in row {str(frame.index[r])!r}, column {str(col)!r}{line}; "
            "expression values must be numbers (empty cells are read as missing)."
        )
    if all(pd.api.types.is_numeric_dtype(t) for t in frame.dtypes):
        return frame
    return frame.astype(np.float64)  # text -> float by Python's correctly rounded parser


def orient(frame: pd.DataFrame, rows: str, gene_hint: Sequence[str], where: str) -> str:
    """'samples' or 'genes': what the rows of ``frame`` are (see the module docstring)."""
    if rows in ("samples", "genes"):
        return rows
    if rows != "auto":
        raise InputError(f"rows={rows!r} is not valid; use 'auto', 'samples' or 'genes'.")
    from .._validation import frame_orientation

    return frame_orientation(frame, gene_hint, where)


def make_adata(
    X: Any,
    samples: Sequence[object],
    genes: Sequence[object],
    *,
    where: str,
    fmt: str,
    obs: pd.DataFrame | None = None,
    var: pd.DataFrame | None = None,
    uns: Mapping[str, Any] | None = None,
    unique_genes: bool = True,
) -> Any:
    """An AnnData (samples x genes) with ``uns['ifnscore_read']`` describing where it came from."""
    import anndata as ad

    check_labels(samples, "sample", where)
    check_labels(genes, "gene", where)
    samples = [str(s) for s in samples]
    genes = [str(g) for g in genes]
    if len(samples) == 0 or len(genes) == 0:
        raise InputError(
            f"{where}: no data ({len(samples)} samples x {len(genes)} genes); is the file empty?"
        )
    check_unique(samples, "sample", where)
    if unique_genes:
        check_unique(genes, "gene", where)
    obs_df = pd.DataFrame(index=pd.Index(samples, name=None)) if obs is None else obs.copy()
    obs_df.index = pd.Index(samples)
    var_df = pd.DataFrame(index=pd.Index(genes)) if var is None else var.copy()
    var_df.index = pd.Index(genes)
    for df in (obs_df, var_df):
        for c in df.columns:
            if df[c].dtype == object:
                df[c] = df[c].astype(str)
    info = {"format": fmt, "source": where}
    info.update(dict(uns or {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # anndata: non-unique var names (10x symbols)
        adata = ad.AnnData(X=X, obs=obs_df, var=var_df)
    adata.uns["ifnscore_read"] = info
    return adata


def frame_to_adata(
    frame: pd.DataFrame,
    *,
    rows: str,
    gene_hint: Sequence[str],
    where: str,
    fmt: str,
    first_line: int | None = None,
    uns: Mapping[str, Any] | None = None,
) -> Any:
    """Validate a labelled table and return it as a samples x genes AnnData."""
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InputError(
            f"{where}: no data ({frame.shape[0]} rows x {frame.shape[1]} columns); is the file empty?"
        )
    check_unique(frame.columns, "column label", where)
    check_unique(frame.index, "row label", where)
    frame = numeric_frame(frame, where, first_line=first_line)
    orientation = orient(frame, rows, gene_hint, where)
    X = frame.to_numpy(dtype=np.float64)
    if orientation == "genes":
        X = np.ascontiguousarray(X.T)
        samples, genes = frame.columns, frame.index
    else:
        samples, genes = frame.index, frame.columns
    info = {"rows": orientation}
    info.update(dict(uns or {}))
    return make_adata(X, samples, genes, where=where, fmt=fmt, uns=info)
