"""The one input gate: every container becomes an :class:`Expression` (samples x genes).

Kernels downstream see only ``Expression.X`` (ndarray, scipy CSR/CSC, or a row-sliceable
backed/lazy array) plus the sample and gene names; never pandas or AnnData.
Nothing here copies the data matrix unless a conversion is unavoidable (COO/LIL -> CSR,
DataFrames with mixed column dtypes).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._warn import warn
from .errors import IfnscoreWarning, InputError, ScaleError

__all__ = ["LIBRARY_SIZE_KEY", "SCALES", "Expression", "as_expression"]

#: ``rq``: relative quantities of qPCR (linear and strictly positive; logs are taken without a
#: pseudocount, so z-scores standardise log2 RQ = -ddCt and do not depend on the calibrator).
SCALES = ("counts", "linear", "log2", "log1p", "rq")
Scale = Literal["auto", "counts", "linear", "log2", "log1p", "rq"]
Rows = Literal["auto", "samples", "genes"]

#: AnnData ``obs`` column with each sample's library size (total counts over *all* genes).
#: :func:`ifnscore.read` sets it when it keeps only the signature genes' rows of a file; when
#: present (and ``X`` is scored) it replaces the row totals of ``X`` for counts -> CPM.
LIBRARY_SIZE_KEY = "ifnscore_library_size"


@dataclass(frozen=True, eq=False)
class Expression:
    """A validated samples x genes view of the user's data (no copy)."""

    X: Any
    samples: pd.Index
    genes: pd.Index
    scale: str
    scale_note: str
    container: str
    adata: Any = None  # the AnnData it came from, for write-back
    library_size: np.ndarray | None = (
        None  # per-sample totals over all genes, when X holds only some
    )

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.samples), len(self.genes))

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.X)


def _is_anndata(obj: object) -> bool:
    return type(obj).__name__ == "AnnData" and hasattr(obj, "obs") and hasattr(obj, "var")


def as_expression(
    data: Any,
    *,
    genes: Sequence[str] | None = None,
    samples: Sequence[str] | None = None,
    rows: Rows = "auto",
    layer: str | None = None,
    use_raw: bool = False,
    scale: Scale = "auto",
    gene_hint: Sequence[str] = (),
    arg: str = "data",
) -> Expression:
    """Validate ``data`` and return an :class:`Expression`.

    ``gene_hint`` (signature genes) helps decide the orientation of DataFrames.
    """
    if rows not in ("auto", "samples", "genes"):
        raise InputError(f"rows={rows!r} is not valid; use 'auto', 'samples' or 'genes'.")
    if scale not in ("auto", *SCALES):
        raise ScaleError(
            f"scale={scale!r} is not valid; use one of 'auto', {', '.join(map(repr, SCALES))}."
        )
    adata = None
    if _is_anndata(data):
        for name, val in (("genes", genes), ("samples", samples)):
            if val is not None:
                raise InputError(
                    f"{name}= is not used with AnnData input (names come from var_names/obs_names)."
                )
        if rows != "auto" and rows != "samples":
            raise InputError(
                "rows='genes' is not valid for AnnData, which is always obs (samples) x var (genes)."
            )
        adata = data
        X, gnames, snames, container = _from_anndata(data, layer=layer, use_raw=use_raw)
    else:
        if layer is not None or use_raw:
            raise InputError("layer= and use_raw= apply to AnnData input only.")
        X, gnames, snames, container = _from_other(data, genes, samples, rows, gene_hint, arg)

    n, m = X.shape
    if n == 0 or m == 0:
        raise InputError(
            f"{arg} is empty ({n} samples x {m} genes); give at least one sample and one gene."
        )
    _check_dtype(X, arg)
    # sample names are kept as given (a DataFrame's own index), so results align with the
    # user's tables; gene names are compared as strings
    # (an Index's copy shares its caches: uniqueness is worked out once per index, not per call)
    samples_idx = snames.copy() if isinstance(snames, pd.Index) else pd.Index(list(snames))
    genes_idx = _gene_index(gnames)
    if samples_idx.has_duplicates:
        dup = samples_idx[samples_idx.duplicated()].unique()[:5].tolist()
        raise InputError(f"{arg} has duplicate sample names {dup}; make sample names unique.")
    if isinstance(samples_idx, pd.MultiIndex | pd.RangeIndex):
        empty = np.zeros(len(samples_idx), dtype=bool)
    else:
        # vectorised: no per-name string work (100,000 default names cost 0.1 s that way)
        empty = np.asarray(samples_idx.isna())
        if samples_idx.dtype == object:
            empty |= np.asarray(samples_idx == "")
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise InputError(
            f"{arg}: sample number {i + 1} has an empty (or missing) name; give every sample a name."
        )
    if genes_idx.has_duplicates:
        dup = genes_idx[genes_idx.duplicated()].unique()[:8].tolist()
        raise InputError(
            f"{arg} has duplicated gene labels {dup}: two columns with one name cannot both be that gene. "
            "Make the gene names unique (keep one column, or rename); distinct identifiers of one gene "
            "(e.g. two Ensembl IDs) are summed and reported."
        )
    read_scale = _reader_scale(adata) if container == "AnnData.X" else None
    if scale == "auto" and read_scale is not None:
        # the reader knows what its format holds (counts of a count file, qPCR RQ, ...)
        resolved: str = read_scale
        note = f"from the reader: uns['ifnscore_read']['scale'] = {read_scale!r}"
    elif scale == "auto":
        # scanpy's uns["log1p"] describes X only, not a layer or raw
        hint = adata if container == "AnnData.X" else None
        resolved, note = detect_scale(X, adata=hint, arg=arg)
    else:
        resolved, note = scale, "given"
        check_declared_scale(X, scale, arg=arg)
    lib = None
    if adata is not None and layer is None and not use_raw and LIBRARY_SIZE_KEY in adata.obs:
        lib = _library_size(adata.obs[LIBRARY_SIZE_KEY], arg)
    return Expression(X, samples_idx, genes_idx, resolved, note, container, adata, lib)


def _gene_index(names: Any) -> pd.Index:
    """The gene names as an Index of ``str``: an object Index of strings (AnnData's
    ``var_names``, a DataFrame's columns) is used as it is, so that the gene matching's cache,
    keyed on the index, serves every call on the same data; anything else is converted."""
    if (
        isinstance(names, pd.Index)
        and not isinstance(names, pd.MultiIndex)
        and names.dtype == object
        and names.inferred_type == "string"
    ):
        return names
    return pd.Index(names, dtype=object).astype(str)


def _reader_scale(adata: Any) -> Scale | None:
    info = adata.uns.get("ifnscore_read") if adata is not None and hasattr(adata, "uns") else None
    value = info.get("scale") if isinstance(info, Mapping) else None
    return value if value in SCALES else None  # type: ignore[return-value]


def _library_size(values: pd.Series, arg: str) -> np.ndarray:
    try:
        lib = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"{arg}.obs[{LIBRARY_SIZE_KEY!r}] must hold numbers (library sizes); fix or delete the column."
        ) from None
    if not np.all(np.isfinite(lib)) or np.any(lib < 0):
        raise InputError(
            f"{arg}.obs[{LIBRARY_SIZE_KEY!r}] has NaN, infinite or negative library sizes; fix or delete the column."
        )
    return lib


def _from_anndata(adata: Any, *, layer: str | None, use_raw: bool) -> tuple[Any, Any, Any, str]:
    if use_raw and layer is not None:
        raise InputError("Pass either layer= or use_raw=True, not both.")
    if use_raw:
        if adata.raw is None:
            raise InputError("use_raw=True but adata.raw is None; drop use_raw or set adata.raw.")
        return adata.raw.X, adata.raw.var_names, adata.obs_names, "AnnData.raw"
    if layer is not None:
        if layer not in adata.layers:
            raise InputError(f"layer={layer!r} is not in adata.layers (have {list(adata.layers)}).")
        return adata.layers[layer], adata.var_names, adata.obs_names, f"AnnData.layers[{layer!r}]"
    if adata.X is None:
        raise InputError("adata.X is None; pass layer= to score a layer.")
    return adata.X, adata.var_names, adata.obs_names, "AnnData.X"


def _from_other(
    data: Any, genes: Any, samples: Any, rows: Rows, gene_hint: Sequence[str], arg: str
) -> tuple[Any, Any, Any, str]:
    if isinstance(data, pd.DataFrame):
        if genes is not None or samples is not None:
            raise InputError(
                "genes= and samples= are not used with a DataFrame: names come from its index and columns."
            )
        return _from_frame(data, rows, gene_hint, arg)
    if isinstance(data, pd.Series):
        raise InputError(
            f"{arg} is a Series; pass a samples x genes DataFrame (e.g. series.to_frame().T)."
        )
    if sp.issparse(data):
        X = data
        container = type(data).__name__
        if X.format not in ("csr", "csc"):
            X = X.tocsr()
    elif isinstance(data, np.ndarray):
        X = data
        container = "ndarray"
        if X.ndim != 2:
            raise InputError(
                f"{arg} must be 2-D (samples x genes), got an array of shape {X.shape}."
            )
    elif hasattr(data, "shape") and hasattr(data, "dtype") and len(getattr(data, "shape", ())) == 2:
        X = data  # array-like with row slicing (h5py dataset, dask array, ...)
        container = type(data).__name__
    else:
        raise InputError(
            f"{arg} of type {type(data).__name__} is not supported; pass a numpy array, a scipy.sparse "
            "matrix, a pandas DataFrame or an AnnData object."
        )
    if genes is None:
        raise InputError(
            f"genes= is required with {container} input: pass the gene names of the columns "
            "(or of the rows, with rows='genes')."
        )
    if not isinstance(genes, pd.Index):  # an Index is kept (immutable; its caches reused)
        genes = list(genes)
    n0, n1 = X.shape
    if rows == "auto":
        if len(genes) == n1 and len(genes) != n0:
            rows = "samples"
        elif len(genes) == n0 and len(genes) != n1:
            rows = "genes"
        elif len(genes) == n0 == n1:
            raise InputError(
                f"{arg} is square ({n0} x {n1}) so its orientation is ambiguous; pass rows='samples' "
                "(samples x genes) or rows='genes'."
            )
        else:
            raise InputError(
                f"genes= has {len(genes)} names but {arg} has shape {X.shape}; give one name per gene."
            )
    if rows == "genes":
        X = X.T  # a view for ndarray; CSR <-> CSC swap for sparse (no copy)
    if X.shape[1] != len(genes):
        raise InputError(f"genes= has {len(genes)} names but {arg} has {X.shape[1]} gene columns.")
    if samples is None:  # default names: the row numbers, made lazily (nothing to check)
        return X, genes, pd.RangeIndex(X.shape[0]), container
    if not isinstance(samples, pd.Index):
        samples = list(samples)
    if len(samples) != X.shape[0]:
        raise InputError(f"samples= has {len(samples)} names but {arg} has {X.shape[0]} samples.")
    return X, genes, samples, container


def _from_frame(
    df: pd.DataFrame, rows: Rows, gene_hint: Sequence[str], arg: str
) -> tuple[Any, Any, Any, str]:
    if rows == "auto":
        rows = frame_orientation(df, gene_hint, arg)
    frame = df.T if rows == "genes" else df
    nonnum = [
        c
        for c, t in frame.dtypes.items()
        if not (pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t))
    ]
    if nonnum:
        raise InputError(
            f"{arg} has non-numeric values (gene column(s) {[str(c) for c in nonnum[:5]]}); "
            "expression values must be numbers. Move annotation columns to the index or drop them."
        )
    if all(isinstance(t, pd.SparseDtype) for t in frame.dtypes) and frame.shape[1] > 0:
        X = sp.csr_matrix(frame.sparse.to_coo())
    elif not all(isinstance(t, np.dtype) for t in frame.dtypes):
        # nullable (Int64, Float64) or Arrow columns: to_numpy() would give dtype object
        X = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        X = frame.to_numpy()  # for df.T of a single-dtype frame: a transposed view, no copy
    return X, frame.columns, frame.index, "DataFrame"


def frame_orientation(df: pd.DataFrame, gene_hint: Sequence[str], arg: str) -> Rows:
    """What the rows of a table are: the axis whose labels look like gene identifiers holds
    the genes; when both or neither do, raise and ask for ``rows=`` (shared with the readers)."""
    from ._genes import gene_likeness

    col = gene_likeness(df.columns, gene_hint)
    idx = gene_likeness(df.index, gene_hint)
    if col > 0 and idx == 0:
        return "samples"
    if idx > 0 and col == 0:
        return "genes"
    raise InputError(
        f"Cannot tell whether the rows of {arg} are samples or genes (gene-like names: "
        f"{col:.0%} of columns, {idx:.0%} of rows); pass rows='samples' or rows='genes' (CLI: --rows)."
    )


def _check_dtype(X: Any, arg: str) -> None:
    dt = np.dtype(X.dtype) if hasattr(X, "dtype") else None
    if dt is None or dt.kind not in "iuf":
        raise InputError(
            f"{arg} has dtype {dt}; expression values must be numbers (integer or floating point), "
            "not booleans, strings or objects."
        )


# ---------------------------------------------------------------------------- scale detection

_SAMPLE_ROWS = 1000
#: Values per chunk of the sampled rows: the checks' temporaries stay under a few MB, whatever
#: the number of genes (1,000 dense rows of 20,000 genes in float64 would be 160 MB).
_CHUNK_VALUES = 1 << 18


def _sample_chunks(X: Any) -> Iterator[Any]:
    """Up to 1000 evenly spaced rows (in-memory data; backed or lazy data: the first 1000, one
    contiguous read), for detection only, in chunks of about :data:`_CHUNK_VALUES` values:
    dense arrays in the data's own dtype, or CSR matrices in float64 for sparse data (never
    densified)."""
    n, p = X.shape
    in_memory = sp.issparse(X) or isinstance(X, np.ndarray)
    if in_memory:
        idx = np.unique(np.linspace(0, n - 1, num=min(n, _SAMPLE_ROWS)).astype(np.int64))
    else:
        idx = np.arange(min(n, _SAMPLE_ROWS))
    if sp.issparse(X):
        # (a CSC's rows: scipy selects them in one pass over the stored values, no copy)
        S = sp.csr_matrix(X[idx]) if X.format != "csr" else X
        rows = np.arange(idx.size) if X.format != "csr" else idx
        ptr = np.asarray(S.indptr)
        stored = np.cumsum(ptr[rows + 1] - ptr[rows])  # stored values up to each sampled row
        cuts = np.searchsorted(stored, np.arange(_CHUNK_VALUES, stored[-1], _CHUNK_VALUES))
        for part in np.split(rows, np.unique(cuts[(cuts > 0) & (cuts < rows.size)])):
            yield sp.csr_matrix(S[part], dtype=np.float64)
        return
    from ._gather import read_rows

    step = max(1, _CHUNK_VALUES // max(1, p))
    for a in range(0, idx.size, step):
        rows = idx[a : a + step]
        # backed / lazy (h5ad, zarr, dask): contiguous slices keep I/O sequential
        block = X[rows] if in_memory else read_rows(X, int(rows[0]), int(rows[-1]) + 1)
        if sp.issparse(block):
            yield sp.csr_matrix(block, dtype=np.float64)
        else:
            block = np.asarray(block)
            yield block if block.dtype.kind in "iuf" else block.astype(np.float64)


@dataclass
class _Values:
    """What the scale checks need of the sampled values."""

    n: int  # finite values (a sparse chunk's implicit zeros count once, when there are any)
    lo: float
    hi: float
    integer: bool
    fraction: float | None  # the first non-integer value
    sums: np.ndarray  # float64 row sums (dense: NaN ignored)
    zeros: bool  # a sparse chunk has implicit zeros


def _value_stats(chunks: Iterator[Any]) -> _Values:
    n, lo, hi, integer, fraction = 0, np.inf, -np.inf, True, None
    sums: list[np.ndarray] = []
    zeros = False
    for c in chunks:
        if sp.issparse(c):
            v = c.data[np.isfinite(c.data)]
            sums.append(np.asarray(c.sum(axis=1)).ravel())
            zeros = zeros or c.nnz < c.shape[0] * c.shape[1]
        else:
            v = c[np.isfinite(c)]
            with np.errstate(invalid="ignore"):
                sums.append(np.asarray(np.nansum(c, axis=1, dtype=np.float64)))
        if v.size == 0:
            continue
        n += v.size
        lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
        if integer and v.dtype.kind == "f":
            off = v != np.round(v)
            if off.any():
                integer, fraction = False, float(v[off][0])
    if zeros:
        lo, n = min(lo, 0.0), n + 1
    return _Values(
        n, lo, hi, integer, fraction, np.concatenate(sums) if sums else np.empty(0), zeros
    )


def _back_transformed_totals(chunks: Iterator[Any], inv: Any) -> np.ndarray:
    """Row sums of ``inv(block)`` ignoring NaN; ``inv(0) == 0``, so sparse zeros add nothing."""
    out = []
    for c in chunks:
        if sp.issparse(c):
            c = c.copy()
            c.data = np.nan_to_num(inv(c.data), nan=0.0, posinf=np.inf, neginf=-np.inf)
            out.append(np.asarray(c.sum(axis=1)).ravel())
        else:
            out.append(np.nansum(inv(np.asarray(c, dtype=np.float64)), axis=1))
    return np.concatenate(out) if out else np.empty(0)


#: Largest log value of any real expression (2**60 on the linear scale); the scorer refuses more.
_LOG_MAX = {"log2": 60.0, "log1p": 60.0 * float(np.log(2.0))}


def check_declared_scale(X: Any, scale: str, *, arg: str = "data") -> None:
    """Warn (or refuse, where the numbers would be meaningless) when the values contradict the
    declared ``scale`` (on the same sampled rows as :func:`detect_scale`; in-memory data only,
    so that backed and lazy files are still read once):

    * ``counts`` with values that look like logs (non-integers, maximum <= 30): refused — CPM
      of log values is meaningless;
    * ``counts`` with non-integers: warned (estimated counts from Salmon or RSEM are fine;
      CPM/TPM/FPKM are ``linear``);
    * ``counts`` with non-integers whose rows sum to 10^6: warned as CPM (``linear``);
    * ``linear`` (or ``rq``) over at least 200 genes with every value <= 25 and non-integers:
      warned — whole transcriptomes on a linear scale reach far higher (the mean CPM of 20,000
      genes is 50), log2 data do not;
    * ``log2``/``log1p`` with integers above 20: warned (counts; above 2^60 on the linear scale
      the scorer refuses them outright).
    """
    if not (sp.issparse(X) or isinstance(X, np.ndarray)):
        return  # backed or lazy data: no extra read of the file just for this check
    stats = _value_stats(_sample_chunks(X))
    if stats.n == 0 or (stats.zeros and stats.n == 1):
        return
    hi, integer, sums = stats.hi, stats.integer, stats.sums
    if scale == "counts":
        if not integer and hi <= 30:
            raise ScaleError(
                f"{arg}: scale='counts' but the values are non-integers no larger than {hi:.3g}, as log "
                "values are; counts per million of log values mean nothing. Pass scale='log2' or "
                "'log1p' (or scale='auto')."
            )
        if not integer:
            frac = stats.fraction
            cpm = sums.size >= 2 and bool(np.all(np.abs(sums - 1e6) <= 1e-3 * 1e6))
            warn(
                f"{arg}: scale='counts' but some values are not whole numbers (e.g. {frac:.4g})"
                + (
                    " and every sampled sample sums to 1e6, as counts per million do; pass scale='linear'."
                    if cpm
                    else "; that is expected for estimated counts (Salmon, RSEM), but CPM, TPM or FPKM "
                    "must be passed as scale='linear'."
                ),
                IfnscoreWarning,
            )
    elif scale in ("linear", "rq"):
        if X.shape[1] >= 200 and not integer and hi <= 25:
            warn(
                f"{arg}: scale={scale!r} but no value over {X.shape[1]} genes exceeds {hi:.3g}, as on a log "
                "scale; linear expression of a whole transcriptome reaches far higher. If these are log2 "
                "values pass scale='log2' (or 'log1p'), else check the data.",
                IfnscoreWarning,
            )
    elif scale in ("log2", "log1p") and integer and 20 < hi <= _LOG_MAX[scale]:
        # above _LOG_MAX the scorer refuses outright (no expression reaches 2**60)
        warn(
            f"{arg}: scale={scale!r} but the values are integers up to {hi:.0f}, as counts are; pass "
            "scale='counts' if they are counts.",
            IfnscoreWarning,
        )


def detect_scale(X: Any, *, adata: Any = None, arg: str = "data") -> tuple[str, str]:
    """Detect the expression scale, or raise :class:`ScaleError` when it is unclear.

    Rules (applied to up to 1,000 evenly spaced samples):

    * AnnData ``X`` with ``uns['log1p']`` (set by scanpy) -> ``log1p`` (``log2`` if its base is
      2); pass ``adata`` only when ``X`` is its ``.X`` (the entry says nothing of layers or raw);
    * any negative value -> unclear (centred or log-ratio data);
    * all values integers and maximum > 20 -> ``counts``;
    * non-integers and maximum > 50 -> ``linear`` (log-scale data never reach 50);
    * maximum <= 50: ``log1p`` if ``expm1`` of each row sums to the same total (scanpy's
      ``normalize_total`` + ``log1p``), ``log2`` if ``2**x - 1`` does (log2 CPM); else unclear.
    """
    if adata is not None:
        info = adata.uns.get("log1p") if hasattr(adata, "uns") else None
        if isinstance(info, dict):
            base = info.get("base")
            if base is None or np.isclose(float(base), math.e):
                return "log1p", "detected: adata.uns['log1p'] set by scanpy"
            if np.isclose(float(base), 2.0):
                return "log2", "detected: adata.uns['log1p'] with base 2"
    # in memory the sampled rows are taken again for each pass (cheap slices); a backed or
    # lazy file's are read once and held (at most 1,000 rows, as one block used to be)
    held = None if sp.issparse(X) or isinstance(X, np.ndarray) else list(_sample_chunks(X))

    def sample() -> Iterator[Any]:
        return _sample_chunks(X) if held is None else iter(held)

    stats = _value_stats(sample())  # implicit sparse zeros are values too
    if stats.n == 0:
        raise ScaleError(
            f"{arg}: cannot detect the scale, the sampled values are all NaN; pass scale=."
        )
    lo, hi, integer = stats.lo, stats.hi, stats.integer
    hint = "pass scale='counts', 'linear', 'log2' or 'log1p'"
    if lo < 0:
        raise ScaleError(
            f"{arg} has negative values (min {lo:.3g}), so its scale is unclear; {hint}."
        )
    if integer and hi > 20:
        return "counts", f"detected: integer values up to {hi:.0f}"
    if not integer and hi > 50:
        return "linear", f"detected: non-integer values up to {hi:.3g} (too large for a log scale)"
    if not integer:
        with np.errstate(over="ignore", invalid="ignore"):
            for name, inv in (("log1p", np.expm1), ("log2", lambda v: np.exp2(v) - 1.0)):
                totals = _back_transformed_totals(sample(), inv)
                totals = totals[totals > 0]
                if totals.size >= 2 and np.std(totals) <= 1e-3 * np.mean(totals):
                    return (
                        name,
                        f"detected: {name} values whose rows back-transform to a constant total {np.mean(totals):.4g}",
                    )
    raise ScaleError(
        f"{arg}: cannot tell the scale from the values (range {lo:.3g} to {hi:.3g}, "
        f"{'integers' if integer else 'non-integers'}); {hint}."
    )
