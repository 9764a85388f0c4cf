"""The computation shared by :func:`ifnscore.score` and :func:`ifnscore.calibrate`.

For gene-wise methods, every requested signature is scored from *one* gathered block holding
the union of their genes' columns: one pass over the matrix whatever the number of signatures.
Sum and mean aggregates are a single matrix product ``T @ W``; median and geometric mean work
on the (few) columns of each signature.
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
from ._methods import GeneSet, Method
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
    ``-inf`` on a log scale is caught); linear values must not be negative.
    """
    genes = [g for g, m in matches.items() if m.found]
    groups = [np.asarray(matches[g].columns, dtype=np.intp) for g in genes]
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
        sizes = np.array([len(c) for c in groups])
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        L = np.add.reduceat(L, starts, axis=1)
    if space == "log2":
        # relative quantities: log2 RQ = -ddCt exactly (no pseudocount: a pseudocount would make
        # the value depend on the calibrator's scale)
        return genes, (np.log2(L) if expr.scale == "rq" else np.log2(L + 1.0))
    return genes, L


def _aggregate(T: np.ndarray, idx: np.ndarray, how: str, nan: Nan) -> tuple[np.ndarray, np.ndarray]:
    sub = T[:, idx]
    if nan == "omit":
        ok = np.isfinite(sub)
        n = ok.sum(axis=1)
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            if how in ("sum", "mean"):
                mean = np.nanmean(sub, axis=1)
                s = mean * idx.size if how == "sum" else mean
            elif how == "median":
                s = np.nanmedian(sub, axis=1)
            else:
                s = np.exp(np.nanmean(np.log(sub), axis=1))
        return s, n
    n = np.full(sub.shape[0], idx.size)
    if how == "median":
        return np.median(sub, axis=1), n
    with np.errstate(divide="ignore"):
        return np.exp(np.log(sub).mean(axis=1)), n


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
    (from a reference); ``None`` fits them on ``expr`` itself (calibration)."""
    if nan not in ("raise", "omit"):
        raise InputError(f"nan={nan!r} is not valid; use 'raise' or 'omit'.")
    if method.kind == "rows":
        return _compute_rows(expr, sigs, matches, method, options)
    by_gene: dict[str, GeneMatch] = {}
    for sig in sigs:
        for m in matches[sig.name]:
            by_gene.setdefault(m.gene, m)
    genes, V = gene_values(expr, by_gene, method.space, nan)
    if method.fit is None:
        fitted: dict[str, np.ndarray] = {}
    elif params is None:
        if nan == "omit" and not np.isfinite(V).all():
            raise InputError(
                "Controls used for calibration must not have NaN in signature genes; fix or drop them."
            )
        fitted = method.fit(V)
    else:
        keys = sorted({k for g in genes for k in params[g]})
        fitted = {k: np.array([params[g][k] for g in genes], dtype=np.float64) for k in keys}
    if fitted and method.check is not None:
        method.check(fitted, genes)
    T = method.transform(V, fitted)  # type: ignore[misc]
    pos = {g: i for i, g in enumerate(genes)}
    n, s = T.shape[0], len(sigs)
    scores = np.empty((n, s), dtype=np.float64)
    n_genes = np.empty((n, s), dtype=np.int64)
    if method.aggregate in ("sum", "mean") and nan == "raise":
        # Each row summed on its own, in gene order (not one BLAS product T @ W, whose
        # blocking changes with the number of rows): a sample's score is the same float
        # whether it is scored alone or in any batch.
        for j, sig in enumerate(sigs):
            used = np.array([pos[m.gene] for m in matches[sig.name] if m.found], dtype=np.intp)
            total = np.ascontiguousarray(T[:, used]).sum(axis=1)
            scores[:, j] = total if method.aggregate == "sum" else total / used.size
            n_genes[:, j] = used.size
    else:
        for j, sig in enumerate(sigs):
            idx = np.array([pos[m.gene] for m in matches[sig.name] if m.found], dtype=np.intp)
            scores[:, j], n_genes[:, j] = _aggregate(T, idx, method.aggregate or "mean", nan)
    return Computed(scores, n_genes, {}, genes, fitted or None, T)


def _compute_rows(
    expr: Expression,
    sigs: Sequence[Signature],
    matches: Mapping[str, tuple[GeneMatch, ...]],
    method: Method,
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
    out = method.run(expr.X, sets, **options)  # type: ignore[misc]
    scores = np.asarray(out.pop("score"), dtype=np.float64).reshape(expr.shape[0], len(sigs))
    n_genes = np.broadcast_to(np.asarray(n_found, dtype=np.int64), scores.shape).copy()
    return Computed(scores, n_genes, dict(out), [], None, None)
