"""The computation shared by :func:`ifnscore.score` and :func:`ifnscore.calibrate`.

For gene-wise methods, every requested signature is scored in *one* pass over the matrix,
whatever the number of signatures: sums and means by the compiled one-pass affine kernel
(:func:`ifnscore._gather.affine_pass`: in-memory CSR, each block of a backed CSR dataset, each
chunk of a dask array), otherwise from one gathered block holding the union of their genes'
columns, on which medians and geometric means work per signature. Per-sample row methods
(ranks) run their kernel on each block of a backed matrix and on each chunk of a dask array.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np

from ._gather import Scan, scan
from ._genes import GeneMatch, IdType, match_genes
from ._methods import GeneMethod, GeneSet, Method, RowMethod
from ._signatures import Signature
from ._validation import Expression, Rows, Scale, as_expression
from ._warn import warn
from .errors import GeneMatchError, InputError, MissingGenesWarning

__all__ = ["Computed", "compute", "default_min_genes", "match_signatures", "prepare"]

Nan = Literal["raise", "omit"]


def default_min_genes(n_genes: int) -> int:
    """Half the signature's genes, rounded up (at least 1): 3 of 6 for rice6."""
    return max(1, math.ceil(n_genes / 2))


def match_signatures(
    expr: Expression,
    sigs: Sequence[Signature],
    *,
    min_genes: int | None,
    duplicates: str,
    method: Method,
    id_type: str = "auto",
) -> dict[str, tuple[GeneMatch, ...]]:
    """Match every signature's genes; warn about missing ones; enforce ``min_genes``."""
    if min_genes is not None and (
        isinstance(min_genes, bool) or not isinstance(min_genes, numbers.Integral) or min_genes < 1
    ):
        raise InputError(
            f"min_genes={min_genes!r} must be a whole number of at least 1 (or None: half of "
            "each signature's genes, rounded up)."
        )
    out: dict[str, tuple[GeneMatch, ...]] = {}
    for sig in sigs:
        if sig.down and not method.signed:
            raise InputError(
                f"Signature {sig.name!r} has down-regulated genes, which method={method.name!r} does not "
                "support; use a signed method (e.g. 'singscore') or drop the down genes."
            )
        matches = match_genes(sig.all_genes, expr.genes, duplicates=duplicates, id_type=id_type)  # type: ignore[arg-type]
        found = [m for m in matches if m.found]
        missing = [m.gene for m in matches if not m.found]
        need = default_min_genes(len(sig.all_genes)) if min_genes is None else int(min_genes)
        if len(found) < need:
            raise GeneMatchError(
                f"Signature {sig.name!r}: only {len(found)} of its {len(sig.all_genes)} genes were found in "
                f"the data (missing: {missing}); at least {need} are needed (min_genes={need}). Check the gene "
                "identifiers of the data, or lower min_genes."
            )
        if missing:
            warn(
                f"Signature {sig.name!r}: {len(missing)} of {len(sig.all_genes)} genes not found in the data "
                f"and left out of the score: {missing}.",
                MissingGenesWarning,
            )
        out[sig.name] = matches
    return out


def prepare(
    data: Any,
    sigs: Sequence[Signature],
    meth: Method,
    reference: Any,
    options: Mapping[str, Any],
    *,
    genes: Sequence[str] | None,
    samples: Sequence[str] | None,
    rows: Rows,
    layer: str | None,
    use_raw: bool,
    scale: Scale,
    min_genes: int | None,
    duplicates: str,
    id_type: IdType,
    arg: str = "data",
) -> tuple[Expression, dict[str, tuple[GeneMatch, ...]]]:
    """The input gate, gene matching and (with a reference) its compatibility check: the one
    preparation of :func:`ifnscore.score`, :func:`ifnscore.calibrate` and
    :func:`ifnscore.plot.gene_values`."""
    expr = as_expression(
        data,
        genes=genes,
        samples=samples,
        rows=rows,
        layer=layer,
        use_raw=use_raw,
        scale=scale,
        gene_hint=[g for s in sigs for g in s.all_genes],
        arg=arg,
    )
    matches = match_signatures(
        expr, sigs, min_genes=min_genes, duplicates=duplicates, method=meth, id_type=id_type
    )
    if reference is not None:
        reference.check_compatible(expr, sigs, meth, matches, options)
    return expr, matches


@dataclass
class Computed:
    """Scores of every sample for every signature, plus what went into them."""

    scores: np.ndarray  # (n_samples, n_sigs)
    n_genes: np.ndarray  # (n_samples, n_sigs) int
    extras: dict[str, np.ndarray]  # extra per-sample outputs, (n_samples, n_sigs) each
    genes: list[str]  # union of found genes (gene-wise methods), in block order
    params: dict[str, np.ndarray] | None  # per-gene params over `genes` (gene-wise methods)
    values: np.ndarray | None  # per-gene transformed values T (n_samples, len(genes))


def _cpm(expr: Expression, seen: Scan) -> np.ndarray:
    """Gathered count columns as counts per million over all genes of each sample
    (row sums and the minimum come from the same single pass as the columns)."""
    B = seen.values
    # library sizes: the file's totals when only some genes were read, else the row sums
    lib = expr.library_size if expr.library_size is not None else cast(np.ndarray, seen.totals)
    if np.any(~np.isfinite(lib)):
        raise InputError(
            "data has NaN or infinite counts; counts must be finite (fix or drop those samples; "
            "nan='omit' cannot apply to counts, whose library sizes need every value)."
        )
    if cast(float, seen.minimum) < 0:
        raise InputError(
            "data has negative values, which counts cannot have; check scale= (log data?)."
        )
    zero = np.flatnonzero(lib <= 0)
    if zero.size:
        names = expr.samples[zero[:5]].tolist()
        raise InputError(
            f"Samples {names} have a library size of 0; remove them before scoring counts."
        )
    B *= (1e6 / lib)[:, None]  # B is the scan's own fresh block: scaled in place
    return B


def _check_finite(V: np.ndarray, expr: Expression, col_genes: list[str], nan: Nan) -> np.ndarray:
    """Raise on NaN/inf (``nan="raise"``), or turn every non-finite value into NaN (``"omit"``)."""
    bad = ~np.isfinite(V)
    if not bad.any():
        return V
    if nan == "raise":
        i, j = np.argwhere(bad)[0]
        raise InputError(
            f"data has NaN or infinite values in signature genes (first: sample {expr.samples[i]!r}, gene "
            f"{col_genes[j]!r}; {int(bad.sum())} in all). Fix them, or pass nan='omit' to leave them out per sample."
        )
    return np.where(bad, np.nan, V)


def _check_nonnegative(L: np.ndarray, expr: Expression, genes: list[str]) -> None:
    below = L < 0  # NaN compares False, -inf True: no copy of L needed
    if below.any():
        i, j = np.argwhere(below)[0]
        if expr.scale in ("counts", "linear", "rq"):
            what, fix = (
                f"negative values on a {expr.scale} scale",
                "pass the right scale= (e.g. 'log2')",
            )
        else:
            what = f"values below 0 on the {expr.scale} scale, i.e. negative expression"
            fix = f"scale={expr.scale!r} means log(x + 1) of non-negative x; pass the right scale="
        raise InputError(
            f"data has {what} (first: sample {expr.samples[i]!r}, gene {genes[j]!r}); {fix} or fix the data."
        )


def _check_positive_rq(L: np.ndarray, expr: Expression, genes: list[str]) -> None:
    bad = L <= 0
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise InputError(
            f"data has a relative quantity of {L[i, j]:.4g} (sample {expr.samples[i]!r}, gene {genes[j]!r}) "
            "on scale='rq', where every value is 2^-ddCt > 0; pass the scale the data are on (e.g. 'linear')."
        )


#: Largest plausible expression on the linear scale (2**60, about 1e18): a log value above
#: its logarithm means the data are not on the log scale they were declared to be on.
_MAX_LOG = {"log2": 60.0, "log1p": 60.0 * math.log(2.0)}


def _check_log_range(values: np.ndarray, expr: Expression, col_genes: list[str]) -> None:
    limit = _MAX_LOG[expr.scale]
    with np.errstate(invalid="ignore"):
        big = np.argwhere(values > limit)
    if big.size:
        i, j = big[0]
        raise InputError(
            f"data has the value {values[i, j]:.4g} on the {expr.scale} scale (sample {expr.samples[i]!r}, gene "
            f"{col_genes[j]!r}), which is over 1e18 on the linear scale: these look like linear values; "
            "pass scale='linear' or 'counts' (or scale='auto')."
        )


def gene_values(
    expr: Expression, matches: Mapping[str, GeneMatch], space: str, nan: Nan
) -> tuple[list[str], np.ndarray]:
    """Per-gene values of the found genes on the method's space ('linear' or 'log2').

    Non-finite values are checked on the data as given (before any back-transform, so that
    ``-inf`` on a log scale is caught); linear values must not be negative. A gene with
    several columns is the sum of their linear values, added in column order (as the affine
    kernel of :mod:`ifnscore._gather` adds them).
    """
    genes = [g for g, m in matches.items() if m.found]
    groups = [np.sort(np.asarray(matches[g].columns, dtype=np.intp)) for g in genes]
    simple = all(len(c) == 1 for c in groups)
    cols = np.concatenate(groups) if groups else np.empty(0, dtype=np.intp)
    col_genes = [g for g, c in zip(genes, groups, strict=True) for _ in c]
    seen = scan(expr.X, cols, totals=expr.scale == "counts")  # one pass over the matrix
    B = _cpm(expr, seen) if expr.scale == "counts" else seen.values
    B = _check_finite(B, expr, col_genes, nan)
    if expr.scale in ("log2", "log1p"):
        _check_log_range(B, expr, col_genes)
    if space == "log2" and simple and expr.scale in ("log2", "log1p"):
        return genes, (B / np.log(2.0) if expr.scale == "log1p" else B)
    if expr.scale == "log2":
        L = np.exp2(B) - 1.0
    elif expr.scale == "log1p":
        L = np.expm1(B)
    else:  # counts (now CPM), linear or rq
        L = B
    if expr.scale == "rq":
        _check_positive_rq(L, expr, col_genes)
    _check_nonnegative(L, expr, col_genes)
    if not simple:
        summed = np.empty((L.shape[0], len(groups)), dtype=np.float64)
        c = 0
        for j, grp in enumerate(groups):  # the gene's columns one after the other
            summed[:, j] = L[:, c]
            for t in range(1, grp.size):
                summed[:, j] += L[:, c + t]
            c += grp.size
        L = summed
    if space == "log2":
        # relative quantities: log2 RQ = -ddCt exactly (no pseudocount: a pseudocount would make
        # the value depend on the calibrator's scale)
        return genes, (np.log2(L) if expr.scale == "rq" else np.log2(L + 1.0))
    return genes, L


def _aggregate(T: np.ndarray, idx: np.ndarray, how: str, nan: Nan) -> tuple[np.ndarray, np.ndarray]:
    """Aggregate the genes ``idx`` of ``T`` per sample: ``(score, genes used)``.

    Sums and means add the genes one after the other in ``idx``'s order, from 0.0 (the
    affine kernel's order: a sample's score is the same float alone or in any batch, dense
    or sparse); with ``nan="omit"`` NaN values are left out and the mean of the rest is
    taken (times ``len(idx)`` for a sum). Medians and geometric means are order-free.
    """
    n = T.shape[0]
    if how in ("sum", "mean"):
        sub = np.asfortranarray(T[:, idx])
        acc = np.zeros(n, dtype=np.float64)
        if nan == "omit":
            cnt = np.full(n, idx.size, dtype=np.int64)
            for c in range(idx.size):
                bad = np.isnan(sub[:, c])
                acc += np.where(bad, 0.0, sub[:, c])
                cnt -= bad
            with np.errstate(divide="ignore", invalid="ignore"):
                m = acc / cnt
            return (m * idx.size if how == "sum" else m), cnt
        for c in range(idx.size):
            acc += sub[:, c]
        return (acc if how == "sum" else acc / idx.size), np.full(n, idx.size, dtype=np.int64)
    sub = T[:, idx]
    if nan == "omit":
        ok = np.isfinite(sub)
        cnt = ok.sum(axis=1)
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            if how == "median":
                s = np.nanmedian(sub, axis=1)
            else:
                s = np.exp(np.nanmean(np.log(sub), axis=1))
        return s, cnt
    cnt = np.full(sub.shape[0], idx.size, dtype=np.int64)
    if how == "median":
        return np.median(sub, axis=1), cnt
    with np.errstate(divide="ignore"):
        return np.exp(np.log(sub).mean(axis=1)), cnt


def compute(
    expr: Expression,
    sigs: Sequence[Signature],
    matches: Mapping[str, tuple[GeneMatch, ...]],
    method: Method,
    *,
    params: Mapping[str, Mapping[str, float]] | None,
    nan: Nan,
    options: Mapping[str, Any],
) -> Computed:
    """Score ``expr`` for every signature. ``params`` maps gene -> per-gene parameters
    (from a reference); ``None`` fits them on ``expr`` itself (calibration).

    Gene-wise methods: every signature's genes are put in one canonical order (by their
    first data column), and sums and means add them in that order, one sample at a time, so
    that a score does not depend on the batch, the container, the block size or the number
    of threads. Scoring (a reference given, or no fit needed) never holds the per-gene values
    of all samples at once: sums and means of large CSR matrices are one compiled pass
    (:func:`ifnscore._gather.affine_pass`: each row transformed and added to every signature
    it belongs to, nothing larger than samples x signatures allocated; on backed CSR data
    block by block, the next block read while one is scored, and on dask arrays chunk by
    chunk on dask's scheduler), otherwise the signature columns are gathered in bounded row
    blocks. ``Computed.values`` (the per-gene values, for the gene table) is then built only
    when read.
    """
    import scipy.sparse as sp

    if nan not in ("raise", "omit"):
        raise InputError(f"nan={nan!r} is not valid; use 'raise' or 'omit'.")
    if isinstance(method, RowMethod):
        return _compute_rows(expr, sigs, matches, method, options)
    if not isinstance(method, GeneMethod):
        raise TypeError(f"unknown kind of method {type(method).__name__}")
    by_gene: dict[str, GeneMatch] = {}
    for sig in sigs:
        for m in matches[sig.name]:
            by_gene.setdefault(m.gene, m)
    genes = [g for g, m in by_gene.items() if m.found]
    first_col = {g: int(min(by_gene[g].columns)) for g in genes}
    canon = sorted(range(len(genes)), key=lambda i: (first_col[genes[i]], i))
    rank = {genes[i]: r for r, i in enumerate(canon)}
    pos = {g: i for i, g in enumerate(genes)}
    # each signature's found genes, as positions in ``genes``, in canonical order
    sig_idx = [
        np.array(
            sorted(
                (pos[m.gene] for m in matches[sig.name] if m.found), key=lambda i: rank[genes[i]]
            ),
            dtype=np.intp,
        )
        for sig in sigs
    ]
    how = method.aggregate or "mean"
    n, n_sig = expr.shape[0], len(sigs)

    def scores_of(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sc = np.empty((T.shape[0], n_sig), dtype=np.float64)
        ng = np.empty((T.shape[0], n_sig), dtype=np.int64)
        for j, idx in enumerate(sig_idx):
            sc[:, j], ng[:, j] = _aggregate(T, idx, how, nan)
        return sc, ng

    if method.fit is not None and params is None:
        # calibration: the controls' per-gene values are needed for the fit
        genes, V = gene_values(expr, by_gene, method.space, nan)
        if nan == "omit" and not np.isfinite(V).all():
            raise InputError(
                "Controls used for calibration must not have NaN in signature genes; fix or drop them."
            )
        fit = method.fit(V)
        if fit and method.check is not None:
            method.check(fit, genes)
        T = method.transform(V, fit)
        sc, ng = scores_of(T)
        return Computed(sc, ng, {}, genes, fit or None, T)
    fitted: dict[str, np.ndarray]
    if method.fit is None:
        fitted = {}
    else:
        keys = sorted({k for g in genes for k in params[g]})  # type: ignore[index]
        fitted = {k: np.array([params[g][k] for g in genes], dtype=np.float64) for k in keys}  # type: ignore[index]

    def transformed(sub: Expression) -> np.ndarray:
        _, V = gene_values(sub, by_gene, method.space, nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            return method.transform(V, fitted)

    def numpy_scores() -> tuple[np.ndarray, np.ndarray]:
        """The signature columns gathered in bounded row blocks (in memory: CSR views or
        dense slices; backed arrays: each block read once), transformed and aggregated."""
        from dataclasses import replace

        from ._gather import _csr_view, _in_memory, backed_block_rows, is_dask, iter_row_blocks

        X = expr.X
        per_row = max(1, sum(len(by_gene[g].columns) for g in genes))
        step = max(1, (1 << 22) // per_row)
        whole = is_dask(X) or (sp.issparse(X) and X.format != "csr") or n <= step
        if whole:
            return scores_of(transformed(expr))
        sc = np.empty((n, n_sig), dtype=np.float64)
        ng = np.empty((n, n_sig), dtype=np.int64)
        lib = expr.library_size
        if _in_memory(X):
            spans = [(a, min(n, a + step)) for a in range(0, n, step)]
            blocks: Any = (
                (a, b, _csr_view(X, a, b) if sp.issparse(X) else X[a:b]) for a, b in spans
            )
        else:  # backed: each block read once, the next one while this one is scored
            blocks = iter_row_blocks(X, min(step, backed_block_rows(X)), reuse=True)
        for a, b, block in blocks:
            sub = replace(
                expr,
                X=block,
                samples=expr.samples[a:b],
                library_size=None if lib is None else lib[a:b],
            )
            try:
                T = transformed(sub)
            except InputError:
                transformed(expr)  # the whole matrix's first problem, in the usual words
                raise
            sc[a:b], ng[a:b] = scores_of(T)
        return sc, ng

    def affine_scores() -> tuple[Any, Any]:
        """Sums and means by the one-pass compiled kernel, or ``(None, None)`` where it does not
        apply (numba missing, a small, non-CSR or ``rq`` matrix, a C library whose functions
        differ from numpy's) or the data have a problem (the numpy path then raises it)."""
        from ._gather import (
            AFFINE_SCALES,
            NUMBA_MIN_NNZ,
            T_FC,
            T_IDENT,
            T_Z,
            AffinePlan,
            _affine_kernel,
            _csr_group,
            affine_blocks,
            affine_pass,
            is_dask,
            libm_consistent,
        )

        X = expr.X
        if (
            expr.scale not in AFFINE_SCALES
            or np.dtype(getattr(X, "dtype", "O")).kind not in "iuf"
            or _affine_kernel() is None
        ):
            return None, None
        if sp.issparse(X):
            if X.format != "csr" or X.nnz < NUMBA_MIN_NNZ:
                return None, None
            route = "memory"
        elif is_dask(X):
            route = "dask"  # every chunk scored by the kernel, on dask's scheduler
        elif _csr_group(X) is not None:
            route = "backed"  # CSR row blocks read (and prefetched) from the file
        else:
            return None, None
        simple = all(len(by_gene[g].columns) == 1 for g in genes)
        direct = method.space == "log2" and simple and expr.scale in ("log2", "log1p")
        log_space = method.space == "log2"
        if not direct and (log_space or expr.scale in ("log2", "log1p")) and not libm_consistent():
            return None, None
        G = len(genes)
        order = sorted(range(G), key=lambda i: rank[genes[i]])  # canonical position -> gene
        gene_cols = [np.unique(np.asarray(by_gene[genes[i]].columns, dtype=np.intp)) for i in order]
        slot_cols = np.unique(np.concatenate(gene_cols)) if G else np.empty(0, dtype=np.intp)
        if slot_cols.size != sum(c.size for c in gene_cols):  # a column of two genes
            return None, None
        # the smallest lookup type that holds the slots (int8: 20 kB for 20,000 genes, in L1)
        ltype = (
            np.int8 if slot_cols.size < 127 else (np.int16 if slot_cols.size < 32_767 else np.int32)
        )
        lookup = np.full(X.shape[1], -1, dtype=ltype)
        lookup[slot_cols] = np.arange(slot_cols.size, dtype=ltype)
        slot_gene = np.empty(slot_cols.size, dtype=np.int64)
        for c_pos, cols in enumerate(gene_cols):
            slot_gene[lookup[cols]] = c_pos
        gslot_ptr = np.concatenate(([0], np.cumsum([c.size for c in gene_cols]))).astype(np.int64)
        gslot = (
            np.concatenate([lookup[c] for c in gene_cols]).astype(np.int64)
            if G
            else np.empty(0, dtype=np.int64)
        )
        centre = np.zeros(G)
        spread = np.ones(G)
        if "centre" in fitted:
            centre = np.asarray(fitted["centre"], dtype=np.float64)[order]
        if "spread" in fitted:
            spread = np.asarray(fitted["spread"], dtype=np.float64)[order]
        tcode = {"_transform_fc": T_FC, "_transform_z": T_Z, "_identity": T_IDENT}.get(
            getattr(method.transform, "__name__", ""), -1
        )
        if tcode < 0:  # a transform the kernel does not know
            return None, None
        with np.errstate(divide="ignore", invalid="ignore"):
            t0 = (0.0 - centre) / spread if tcode == T_Z else np.zeros(G)
        members: list[list[int]] = [[] for _ in range(G)]
        inv = {i: c_pos for c_pos, i in enumerate(order)}
        for j, idx in enumerate(sig_idx):
            for i in idx:
                members[inv[int(i)]].append(j)
        mem_ptr = np.concatenate(([0], np.cumsum([len(m) for m in members]))).astype(np.int64)
        mem_set = np.array([j for m in members for j in m], dtype=np.int64)
        lib = expr.library_size
        plan = AffinePlan(
            lookup=lookup,
            slot_gene=slot_gene,
            gslot_ptr=gslot_ptr,
            gslot=gslot,
            n_genes=G,
            scale=AFFINE_SCALES[expr.scale],
            log_space=log_space,
            direct=direct,
            tcode=tcode,
            centre=centre,
            spread=spread,
            t0=t0,
            all_genes=bool(np.any(t0 != 0.0)),
            mem_ptr=mem_ptr,
            mem_set=mem_set,
            k=np.array([idx.size for idx in sig_idx], dtype=np.int64),
            mean=method.aggregate == "mean",
            omit=nan == "omit",
            limit=_MAX_LOG.get(expr.scale, np.inf),
            library_size=None if lib is None else np.asarray(lib, dtype=np.float64),
        )
        if route == "memory":
            sc, ng, problems = affine_pass(X, plan)
        else:
            got: tuple[np.ndarray, np.ndarray, int] | None
            if route == "dask":
                from ._dask import affine_dask

                got = affine_dask(X, plan, affine_pass=affine_pass)
            else:
                got = affine_blocks(X, plan)
            if got is None:
                return None, None
            sc, ng, problems = got
        if problems:
            return None, None
        if nan == "raise":
            ng = np.broadcast_to(plan.k, sc.shape).copy()
        return sc, ng

    if how in ("sum", "mean"):
        sc, ng = affine_scores()
        if sc is None:
            sc, ng = numpy_scores()
    else:
        sc, ng = numpy_scores()
    if fitted and method.check is not None:
        method.check(fitted, genes)

    class _Lazy(Computed):
        """Per-gene values built on first read (only the gene table reads them)."""

        _values: np.ndarray | None = None

        @property  # type: ignore[override]
        def values(self) -> np.ndarray | None:
            if self._values is None:
                self._values = transformed(expr)
            return self._values

        @values.setter
        def values(self, v: np.ndarray | None) -> None:
            self._values = v

    return _Lazy(sc, ng, {}, genes, fitted or None, None)


def _compute_rows(
    expr: Expression,
    sigs: Sequence[Signature],
    matches: Mapping[str, tuple[GeneMatch, ...]],
    method: RowMethod,
    options: Mapping[str, Any],
) -> Computed:
    sets = []
    n_found = []
    for sig in sigs:
        ms = matches[sig.name]
        up = [c for m in ms if m.found and m.gene in sig.genes for c in m.columns]
        down = [c for m in ms if m.found and m.gene in sig.down for c in m.columns]
        sets.append(
            GeneSet(
                sig.name,
                np.asarray(up, dtype=np.intp),
                np.asarray(down, dtype=np.intp),
                missing_up=sum(not m.found and m.gene in sig.genes for m in ms),
                missing_down=sum(not m.found and m.gene in sig.down for m in ms),
            )
        )
        n_found.append(sum(m.found for m in ms))
    out = _run_rows(expr.X, method, sets, options)
    scores = np.asarray(out.pop("score"), dtype=np.float64).reshape(expr.shape[0], len(sigs))
    n_genes = np.broadcast_to(np.asarray(n_found, dtype=np.int64), scores.shape).copy()
    return Computed(scores, n_genes, dict(out), [], None, None)


def _run_rows(
    X: Any, method: RowMethod, sets: list[GeneSet], options: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """``method.run`` over the whole matrix; for a per-sample method (every row scored on
    its own) on a dask array, chunk by chunk on dask's scheduler, and on a backed or lazy
    array, row block by row block in memory, the next block read while one is scored
    (:func:`ifnscore._gather.iter_row_blocks`). The numbers are those of the whole matrix."""
    from ._gather import _in_memory, backed_block_rows, is_dask, iter_row_blocks, limit_threads

    if _in_memory(X) or method.depends_on_cohort(options) or X.shape[0] == 0:
        return method.run(X, sets, **options)
    if is_dask(X):
        from ._dask import rows_dask

        return rows_dask(X, method.run, sets, options, limit_threads=limit_threads)
    parts: list[dict[str, np.ndarray]] = []
    for _, _, block in iter_row_blocks(X, backed_block_rows(X), reuse=True):
        out = method.run(block, sets, **options)
        parts.append({k: np.asarray(v).reshape(block.shape[0], -1) for k, v in out.items()})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
