"""Single-cell helpers behind :func:`ifnscore.score`: MuData modalities, groups of cells
(``groupby=``), pseudobulks (``pseudobulk=True``) and the sequencing-depth diagnostic.

Nothing here scores: every score comes from the one internal scorer
(:func:`ifnscore._score.score_table`); this module chooses *what* is scored (a modality, the
per-group sums of raw counts) and summarises or checks what comes back.

Depth diagnostic
----------------
Rank-based single-cell scores rise with the number of genes a cell has detected: a cell with
few detected genes has most genes tied at zero, so its signature genes cannot rank high
(UCell users report systematically lower scores in cells with fewer detected genes,
https://github.com/carmonalab/UCell/issues/39, and samples whose median genes per cell differ
2- to 3-fold need one ``maxRank`` chosen for the shallowest,
https://github.com/carmonalab/UCell/issues/53). Mean- and fold-change scores of sparse data
have the same bias through dropouts. :func:`depth_diagnostic` computes the Spearman
correlation of each signature's per-cell score with the genes detected per cell and warns when
:math:`|\\rho| \\ge 0.5`: Cohen's (1988) "large" correlation, where depth accounts for at
least a quarter of the variance of the score's ranks, so the score cannot be read as
interferon activity without accounting for depth.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._gather import is_dask, iter_row_blocks
from ._warn import warn
from .errors import IfnscoreWarning, InputError

__all__ = [
    "DEPTH_MIN_CELLS",
    "DEPTH_RHO",
    "Groups",
    "depth_diagnostic",
    "group_cells",
    "group_summary",
    "modality",
    "pseudobulk_counts",
    "scored_matrix",
]

#: |Spearman rho| of score vs genes detected per cell at or above which scoring warns
#: (Cohen 1988: a "large" correlation; see the module docstring).
DEPTH_RHO = 0.5
#: Fewest cells for the automatic diagnostic (``depth_check=None``): with 200 cells the
#: standard error of rho near 0 is about 0.07, far below the threshold.
DEPTH_MIN_CELLS = 200
#: Above this many cells rho is estimated on this many evenly spaced cells (its standard
#: error is then about 1 / sqrt(20,000) = 0.007, a hundredth of the distance to the
#: threshold), so that ranking a million scores of 50 signatures does not slow scoring.
DEPTH_MAX_CELLS = 20_000


# ----------------------------------------------------------------------------------- MuData


def is_mudata(obj: object) -> bool:
    """True for a ``mudata.MuData`` (without importing mudata)."""
    return type(obj).__name__ == "MuData" and isinstance(getattr(obj, "mod", None), Mapping)


def modality(data: Any, mod: str | None) -> tuple[Any, str]:
    """(the AnnData to score, how messages name it): ``data[mod]`` of a MuData, else ``data``."""
    if is_mudata(data):
        names = list(data.mod)
        if mod is None:
            raise InputError(
                f"data is a MuData with modalities {names}; pass mod= naming the one that holds the "
                "gene expression (e.g. mod='rna')."
            )
        if not isinstance(mod, str) or mod not in data.mod:
            raise InputError(
                f"mod={mod!r} is not a modality of the MuData (it has {names}); pass one of these."
            )
        return data.mod[mod], f"mdata[{mod!r}]"
    if mod is not None:
        raise InputError(
            f"mod={mod!r} applies to MuData input only, but data is a {type(data).__name__}; drop "
            "mod= (or pass the MuData)."
        )
    return data, "adata"


# ----------------------------------------------------------------------------------- groups


@dataclass
class Groups:
    """Cells grouped by ``obs`` columns: one group per observed combination of labels."""

    keys: list[str]
    codes: np.ndarray  # per cell: its group's number, -1 for a cell with a missing label
    labels: pd.DataFrame  # one row per group: the key columns; index = labels joined with "_"
    n_cells: np.ndarray  # cells per group
    n_unlabelled: int  # cells left out because a key is missing (NaN) for them

    def excluded(self, min_cells: int) -> list[dict[str, Any]]:
        small = np.flatnonzero(self.n_cells < min_cells)
        return [
            {"group": str(self.labels.index[i]), "n_cells": int(self.n_cells[i])} for i in small
        ]


def check_min_cells(min_cells: Any) -> int:
    if isinstance(min_cells, bool) or not isinstance(min_cells, int | np.integer) or min_cells < 1:
        raise InputError(
            f"min_cells={min_cells!r} must be a whole number of at least 1 (groups with fewer cells "
            "are left out and reported)."
        )
    return int(min_cells)


def _obs_column(obs: Any, key: str, n: int) -> pd.Series:
    col = obs[key]
    if isinstance(col, pd.Series):
        return col.reset_index(drop=True)
    values = col.to_numpy() if hasattr(col, "to_numpy") else np.asarray(col)  # lazy obs
    return pd.Series(np.asarray(values).reshape(n))


def group_cells(adata: Any, groupby: Any, name: str) -> Groups:
    """Group the cells of ``adata`` by the ``obs`` columns ``groupby`` (a name or a list)."""
    keys = [groupby] if isinstance(groupby, str) else groupby
    if (
        not isinstance(keys, Sequence)
        or isinstance(keys, str)
        or not keys
        or not all(isinstance(k, str) for k in keys)
    ):
        raise InputError(
            f"groupby={groupby!r} must be an obs column name or a list of them (e.g. "
            "groupby=['donor', 'cell_type'])."
        )
    keys = list(keys)
    if len(set(keys)) != len(keys):
        raise InputError(f"groupby={keys!r} names a column twice; name each column once.")
    columns = [str(c) for c in adata.obs.columns]
    missing = [k for k in keys if k not in columns]
    if missing:
        raise InputError(
            f"groupby={keys!r}: {missing} not among the columns of {name}.obs ({columns[:12]}"
            f"{' ...' if len(columns) > 12 else ''}); name obs columns."
        )
    n = int(adata.n_obs)
    frame = pd.DataFrame({k: _obs_column(adata.obs, k, n) for k in keys})
    grouped = frame.groupby(keys, observed=True, sort=True, dropna=True)
    codes = grouped.ngroup().to_numpy(dtype=np.float64, na_value=np.nan)
    codes = np.where(np.isnan(codes), -1, codes).astype(np.int64)
    sizes = grouped.size()
    index = sizes.index
    tuples = list(index) if isinstance(index, pd.MultiIndex) else [(v,) for v in index]
    joined = pd.Index(["_".join(str(v) for v in t) for t in tuples], name="group")
    if joined.has_duplicates:
        dup = joined[joined.duplicated()].unique()[:3].tolist()
        raise InputError(
            f"groupby={keys!r}: different label combinations join to the same group name {dup} "
            "(labels are joined with '_'); rename labels that contain '_'."
        )
    labels = pd.DataFrame({k: [t[i] for t in tuples] for i, k in enumerate(keys)}, index=joined)
    return Groups(keys, codes, labels, sizes.to_numpy(dtype=np.int64), int((codes < 0).sum()))


def _report_excluded(groups: Groups, min_cells: int, what: str) -> dict[str, Any]:
    excluded = groups.excluded(min_cells)
    parts = []
    if excluded:
        shown = ", ".join(f"{e['group']} ({e['n_cells']})" for e in excluded[:8])
        more = f" and {len(excluded) - 8} more" if len(excluded) > 8 else ""
        parts.append(
            f"{len(excluded)} group(s) with fewer than min_cells={min_cells} cells left out of the "
            f"{what}: {shown}{more}"
        )
    if groups.n_unlabelled:
        parts.append(
            f"{groups.n_unlabelled} cell(s) with a missing {groups.keys} label belong to no group"
        )
    if parts:
        warn("; ".join(parts) + " (listed in attrs['ifnscore']['groupby']).", IfnscoreWarning)
    return {
        "keys": list(groups.keys),
        "min_cells": min_cells,
        "n_groups": int((groups.n_cells >= min_cells).sum()),
        "excluded_groups": excluded,
        "n_cells_without_group": groups.n_unlabelled,
    }


def _with_group_columns(
    table: pd.DataFrame, labels: pd.DataFrame, n_cells: np.ndarray
) -> pd.DataFrame:
    """``labels`` (key columns) and ``n_cells`` in front of ``table`` (same row order); with
    MultiIndex columns they become ``("group", key)`` and ``("group", "n_cells")``."""
    front = labels.copy()
    front["n_cells"] = n_cells
    if isinstance(table.columns, pd.MultiIndex):
        if "group" in table.columns.get_level_values(0):
            raise InputError(
                "A signature named 'group' clashes with the group columns of the result; rename it."
            )
        front.columns = pd.MultiIndex.from_tuples(
            [("group", c) for c in front.columns], names=table.columns.names
        )
    out = pd.concat([front, table.set_axis(front.index, axis=0)], axis=1)
    out.index.name = "group"
    return out


# ------------------------------------------------------------------------- per-group summary


def group_summary(
    result: pd.DataFrame, groups: Groups, min_cells: int, signatures: Sequence[str]
) -> pd.DataFrame:
    """Per group of cells: the median score (over cells with a finite score), the fraction of
    classified cells called positive (when a limit is known) and ``n_cells``."""
    info = _report_excluded(groups, min_cells, "summary")
    keep = np.flatnonzero(groups.n_cells >= min_cells)
    several = isinstance(result.columns, pd.MultiIndex)
    parts = {}
    for sig in signatures:
        fields = result[sig] if several else result
        cols: dict[str, np.ndarray] = {}
        s = pd.Series(np.asarray(fields["score"], dtype=np.float64))
        by = pd.Series(groups.codes)
        ok = (by >= 0) & np.isfinite(s)
        med = s[ok].groupby(by[ok]).median()
        cols["median"] = med.reindex(keep).to_numpy(dtype=np.float64)
        if "positive" in fields:
            classified = (by >= 0) & (np.asarray(fields["call"]) != "unclassified")
            pos = pd.Series(np.asarray(fields["positive"], dtype=bool))
            frac = pos[classified].groupby(by[classified]).mean()
            cols["fraction_positive"] = frac.reindex(keep).to_numpy(dtype=np.float64)
        parts[sig] = pd.DataFrame(cols)
    table = (
        pd.concat(parts, axis=1, names=["signature", "field"])
        if several
        else next(iter(parts.values()))
    )
    out = _with_group_columns(table, groups.labels.iloc[keep], groups.n_cells[keep])
    meta = dict(result.attrs.get("ifnscore", {}))
    meta["groupby"] = {
        **info,
        "summary": "median: median per-cell score over the group's cells with a finite score; "
        "fraction_positive: share of the group's classified cells (call not 'unclassified') "
        "whose score is at or above the upper limit; n_cells: all cells of the group",
    }
    out.attrs["ifnscore"] = meta
    return out


# ---------------------------------------------------------------------------------- matrices


def scored_matrix(adata: Any, layer: str | None, use_raw: bool) -> tuple[Any, Any, str]:
    """(matrix, gene names, how messages name it) of the AnnData matrix that is scored."""
    if use_raw and layer is not None:
        raise InputError("Pass either layer= or use_raw=True, not both.")
    if use_raw:
        if adata.raw is None:
            raise InputError("use_raw=True but adata.raw is None; drop use_raw or set adata.raw.")
        return adata.raw.X, adata.raw.var_names, "raw.X"
    if layer is not None:
        if layer not in adata.layers:
            raise InputError(f"layer={layer!r} is not in adata.layers (have {list(adata.layers)}).")
        return adata.layers[layer], adata.var_names, f"layers[{layer!r}]"
    if adata.X is None:
        raise InputError("adata.X is None; pass layer= to score a layer.")
    return adata.X, adata.var_names, "X"


def _check_counts(block: Any, start: int, adata: Any, genes: Any, where: str) -> None:
    """Refuse a block of the summed matrix unless it holds non-negative whole numbers."""
    if sp.issparse(block):
        csr = block.tocsr()
        v = csr.data
    else:
        csr, v = None, np.asarray(block).ravel()
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(v) | (v < 0) | (v != np.round(v))
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    if csr is not None:
        row = int(np.searchsorted(csr.indptr, i, side="right") - 1)
        col = int(csr.indices[i])
    else:
        row, col = divmod(i, block.shape[1])
    value = float(v[i])
    what = (
        "NaN or infinite values"
        if not np.isfinite(value)
        else "negative values"
        if value < 0
        else "non-integer values"
    )
    raise InputError(
        f"pseudobulk=True sums raw counts, but {where} holds {what} (first: cell "
        f"{str(adata.obs_names[start + row])!r}, gene {str(genes[col])!r}, value {value:g}); pass "
        "layer= naming the layer of raw UMI counts (e.g. layer='counts'), or use_raw=True when "
        "adata.raw holds them."
    )


def pseudobulk_counts(
    adata: Any, groups: Groups, keep: np.ndarray, layer: str | None, use_raw: bool, name: str
) -> tuple[Any, Any, np.ndarray | None, str]:
    """Summed raw counts of the groups ``keep``: (groups x genes matrix, gene names, summed
    library sizes or None, what was summed). One pass over the matrix (row blocks when backed
    or lazy); every value is checked to be a non-negative whole number."""
    from ._validation import LIBRARY_SIZE_KEY

    X, genes, what = scored_matrix(adata, layer, use_raw)
    where = f"{name}.{what}"
    n = X.shape[0]
    # cells of the kept groups -> their row of the pseudobulk matrix
    row_of = np.full(len(groups.n_cells), -1, dtype=np.int64)
    row_of[keep] = np.arange(keep.size)
    target = np.where(groups.codes >= 0, row_of[np.maximum(groups.codes, 0)], -1)
    cells = np.flatnonzero(target >= 0)
    G = sp.csr_matrix(
        (np.ones(cells.size), (target[cells], cells)), shape=(keep.size, n), dtype=np.float64
    )
    if isinstance(X, np.ndarray) or sp.issparse(X):
        _check_counts(X, 0, adata, genes, where)
        summed = G @ X
    else:  # backed (h5ad, zarr) or lazy (dask): each row block read once
        summed = None
        for start, stop, block in iter_row_blocks(X):
            _check_counts(block, start, adata, genes, where)
            part = G[:, start:stop] @ block
            summed = part if summed is None else summed + part
    summed = sp.csr_matrix(summed) if sp.issparse(summed) else np.asarray(summed, np.float64)
    lib = None
    if layer is None and not use_raw and LIBRARY_SIZE_KEY in adata.obs:
        # X holds only some genes (ifnscore.read): CPM needs each cell's total over all genes
        cell_lib = np.asarray(_obs_column(adata.obs, LIBRARY_SIZE_KEY, n), dtype=np.float64)
        lib = G @ cell_lib
    return summed, genes, lib, where


def oriented_matrix(
    data: Any, result: pd.DataFrame, *, layer: Any, use_raw: bool, rows: Any
) -> Any:
    """The scored matrix, samples x genes, for the depth diagnostic (no copy of the data)."""
    if hasattr(data, "obs") and hasattr(data, "var"):
        if use_raw:
            return data.raw.X
        return data.layers[layer] if layer is not None else data.X
    n = len(result)
    if isinstance(data, pd.DataFrame):
        return data if data.index.equals(result.index) else data.T  # .T: only for depth_check=True
    if sp.issparse(data) or hasattr(data, "shape"):
        by_rows = data.shape[0] == n and (rows != "genes" or data.shape[1] != n)
        return data if by_rows else data.T
    return data


# --------------------------------------------------------------------------- depth diagnostic


def _rows_detected(block: Any) -> np.ndarray:
    if sp.issparse(block):
        csr = block.tocsr()
        return np.asarray((csr != 0).sum(axis=1)).ravel().astype(np.int64)
    return np.count_nonzero(np.asarray(block) != 0, axis=1).astype(np.int64)


def _chunk_detected(block: Any) -> np.ndarray:
    if hasattr(block, "to_scipy_sparse"):  # pydata/sparse chunks
        block = block.to_scipy_sparse()
    return _rows_detected(block)[:, None]


def genes_detected(X: Any, *, asked: bool) -> tuple[np.ndarray | None, str]:
    """Genes detected (non-zero) per row of ``X``, and how they were counted; ``None`` (with
    the reason) when counting them would cost a pass over the matrix and was not asked for.

    In-memory and backed CSR: the stored entries per row (``indptr`` differences; free, an
    explicitly stored zero would count as detected)."""
    if sp.issparse(X) and X.format == "csr":
        return np.diff(X.indptr).astype(np.int64), "stored entries per row (CSR indptr)"
    if getattr(X, "format", None) == "csr" and hasattr(X, "group"):  # anndata backed CSR
        indptr = np.asarray(X.group["indptr"][()], dtype=np.int64)
        return np.diff(indptr), "stored entries per row (backed CSR indptr)"
    if not asked:
        return None, (
            f"not computed: counting genes detected in a {type(X).__name__} needs a pass over the "
            "matrix; pass depth_check=True"
        )
    if isinstance(X, pd.DataFrame):
        return _rows_detected(X.select_dtypes("number").to_numpy()), "non-zero values per row"
    if sp.issparse(X) and X.format == "csc":
        nz = X.indices[X.data != 0]
        return np.bincount(nz, minlength=X.shape[0]).astype(np.int64), "non-zero values per row"
    if is_dask(X):  # chunk by chunk, as dask schedules them: never more than a chunk in memory
        per = X.map_blocks(
            _chunk_detected, dtype=np.int64, chunks=(X.chunks[0], (1,) * len(X.chunks[1]))
        )
        out = np.asarray(per.sum(axis=1).compute(), dtype=np.int64).reshape(-1)
        return out, "non-zero values per row (counted per dask chunk)"
    if isinstance(X, np.ndarray) or hasattr(X, "shape"):
        if isinstance(X, np.ndarray):
            return _rows_detected(X), "non-zero values per row"
        out = np.concatenate([_rows_detected(b) for _, _, b in iter_row_blocks(X)])
        return out, "non-zero values per row (read in row blocks)"
    raise InputError(f"depth_check=True cannot count genes detected in a {type(X).__name__}.")


def _ranks(x: np.ndarray) -> np.ndarray:
    """Mid-ranks (1-based; tied values get the mean of their ranks), from one argsort: a run of
    equal sorted values at positions ``start .. end - 1`` has the ranks ``start + 1 .. end``,
    whose mean is ``(start + end + 1) / 2``."""
    order = np.argsort(x)
    s = x[order]
    new = np.empty(s.size, dtype=bool)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], s.size)
    out = np.empty(s.size, dtype=np.float64)
    out[order] = ((starts + ends + 1) / 2.0)[np.cumsum(new) - 1]
    return out


def _int_ranks(d: np.ndarray) -> np.ndarray:
    """Mid-ranks of non-negative integers by counting (no sort)."""
    counts = np.bincount(d)
    upto = np.cumsum(counts)
    return (upto - (counts - 1) / 2.0)[d]


def _rho(score: np.ndarray, b: np.ndarray, bb: float) -> float:
    """Pearson correlation of the mid-ranks of ``score`` with ``b`` (centred ranks, ``bb`` =
    b . b). Plain sums, no BLAS call: a multi-threaded BLAS spins on a busy machine for
    vectors this short."""
    a = _ranks(np.ascontiguousarray(score))
    a -= a.mean()
    den = np.sqrt(float(np.sum(a * a)) * bb)
    return float(np.sum(a * b)) / den if den > 0 else float("nan")


def _centred_ranks(detected: np.ndarray) -> tuple[np.ndarray, float]:
    b = _int_ranks(detected)
    b -= b.mean()
    return b, float(np.sum(b * b))


def spearman(scores: np.ndarray, detected: np.ndarray) -> tuple[list[float], int]:
    """(Spearman rho of each column of ``scores`` with genes detected, cells used): over the
    cells with a finite score in that column, or, above :data:`DEPTH_MAX_CELLS` cells, over
    that many evenly spaced cells (those with a finite score). The ranks of ``detected`` are
    computed once for every column without a missing score."""
    n = scores.shape[0]
    if n > DEPTH_MAX_CELLS:
        pick = np.linspace(0, n - 1, DEPTH_MAX_CELLS).astype(np.int64)
        scores, detected = scores[pick], detected[pick]
    finite = np.isfinite(scores)
    shared: tuple[np.ndarray, float] | None = None
    rhos, used = [], 0
    for j in range(scores.shape[1]):
        ok = finite[:, j]
        used = int(ok.sum())
        if used < 3:
            rhos.append(float("nan"))
        elif used == ok.size:
            shared = shared or _centred_ranks(detected)
            rhos.append(_rho(scores[:, j], *shared))
        else:
            rhos.append(_rho(scores[ok, j], *_centred_ranks(detected[ok])))
    return rhos, used


def depth_diagnostic(
    result: pd.DataFrame,
    signatures: Sequence[str],
    data: Any,
    depth_check: bool | None,
    *,
    layer: str | None = None,
    use_raw: bool = False,
    rows: Any = "auto",
) -> dict[str, Any] | None:
    """Spearman rho of each signature's per-cell score with the genes detected per cell of
    the scored matrix of ``data``, for ``attrs["ifnscore"]["depth"]``; warns
    when :math:`|\\rho| \\ge` :data:`DEPTH_RHO`. ``depth_check=None`` runs it for CSR data
    of at least :data:`DEPTH_MIN_CELLS` cells (where it is free) and returns ``None`` for
    dense data (bulk); ``False`` records that it was not run."""
    if depth_check is not None and not isinstance(depth_check, bool):
        raise InputError(f"depth_check={depth_check!r} must be True, False or None (automatic).")
    n = len(result)
    base: dict[str, Any] = {
        "genes_detected": None,
        "spearman_rho": {},
        "n_cells_used": 0,
        "threshold": DEPTH_RHO,
        "rule": f"warn when |Spearman rho| >= {DEPTH_RHO} (Cohen's 'large' correlation; "
        "detection depth drives single-cell scores: UCell issues #39 and #53)",
    }
    if depth_check is False:
        return {**base, "genes_detected": "not computed: depth_check=False"}
    if depth_check is None and isinstance(data, pd.DataFrame):
        return None  # a table: bulk data
    X = oriented_matrix(data, result, layer=layer, use_raw=use_raw, rows=rows)
    sparse_like = sp.issparse(X) or getattr(X, "format", None) in ("csr", "csc") or is_dask(X)
    if depth_check is None and (not sparse_like or n < DEPTH_MIN_CELLS):
        return None
    detected, how = genes_detected(X, asked=depth_check is True)
    if detected is None:
        return {**base, "genes_detected": how}
    if detected.shape[0] != n:
        raise InputError(
            f"depth_check: {detected.shape[0]} rows of genes detected for {n} scored samples."
        )
    several = isinstance(result.columns, pd.MultiIndex)
    # the score columns in one selection (each selection copies the frame's attrs)
    block = result.xs("score", axis=1, level="field") if several else result[["score"]]
    S = block.to_numpy(dtype=np.float64)
    names = list(block.columns) if several else list(signatures)
    values, used = spearman(S[:, [names.index(sig) for sig in signatures]], detected)
    rhos = dict(zip(signatures, values, strict=True))
    strong = {k: v for k, v in rhos.items() if np.isfinite(v) and abs(v) >= DEPTH_RHO}
    if strong:
        listed = ", ".join(f"{k!r} rho = {v:+.2f}" for k, v in strong.items())
        warn(
            f"The per-cell scores follow the number of genes detected per cell (Spearman {listed}; "
            f"|rho| >= {DEPTH_RHO}): cells sequenced deeper score differently whatever their "
            "interferon activity (detection depth drives single-cell scores, UCell issues #39/#53). "
            "Compare cells of similar depth, account for depth, or score pseudobulks "
            "(groupby=..., pseudobulk=True); rho is in attrs['ifnscore']['depth'].",
            IfnscoreWarning,
        )
    return {**base, "genes_detected": how, "spearman_rho": rhos, "n_cells_used": used}


# -------------------------------------------------------------------------------- pseudobulk


def score_pseudobulk(
    adata: Any,
    name: str,
    signature: Any,
    *,
    groupby: Any,
    min_cells: int,
    layer: str | None,
    use_raw: bool,
    scale: str,
    kwargs: Mapping[str, Any],
    score_table: Callable[..., pd.DataFrame],
) -> pd.DataFrame:
    """Sum the raw counts of each group of cells, leave out groups under ``min_cells``, and
    score each sum as a bulk sample (``scale="counts"``: counts per million, then the score)
    with ``score_table`` (the internal scorer, passed in: this module does not import it)."""
    import anndata as ad

    from ._validation import LIBRARY_SIZE_KEY

    if scale not in ("auto", "counts"):
        raise InputError(
            f"scale={scale!r} with pseudobulk=True: a pseudobulk is a sum of raw counts and is scored "
            "with scale='counts'; drop scale= and point layer= at the raw counts."
        )
    groups = group_cells(adata, groupby, name)
    keep = np.flatnonzero(groups.n_cells >= min_cells)
    if keep.size == 0:
        raise InputError(
            f"pseudobulk=True: no group of {groups.keys} has at least min_cells={min_cells} cells "
            f"(largest: {int(groups.n_cells.max()) if groups.n_cells.size else 0}); lower min_cells "
            "or group more coarsely."
        )
    info = _report_excluded(groups, min_cells, "pseudobulk")
    summed, genes, lib, where = pseudobulk_counts(adata, groups, keep, layer, use_raw, name)
    labels = groups.labels.iloc[keep]
    obs = pd.DataFrame(index=pd.Index(labels.index.astype(str), name=None))
    if lib is not None:
        obs[LIBRARY_SIZE_KEY] = lib
    var = pd.DataFrame(index=pd.Index(np.asarray(genes).astype(str)))
    bulk = ad.AnnData(X=summed, obs=obs, var=var)
    table = score_table(bulk, signature, scale="counts", **kwargs)
    meta = dict(table.attrs.get("ifnscore", {}))
    meta["input"] = f"pseudobulk (sum of raw counts) of {where}"
    meta["groupby"] = {
        **info,
        "pseudobulk": f"sum of {where} over the cells of each group, then counts per million over "
        "all genes and the score (scale='counts')",
    }
    out = _with_group_columns(table, labels, groups.n_cells[keep])
    out.attrs["ifnscore"] = meta
    return out
