"""Many signatures at the cost of one: affine and rank methods against their floors.

    PYTHONPATH=. python benchmarks/many_signatures.py                  # 100,000 x 20,000 cells
    PYTHONPATH=. python benchmarks/many_signatures.py --cells 20000    # quicker

Workloads (signature genes drawn at random, seeded, from the genes expressed in at least 1 % of
the cells): 1, 10 and 50 signatures of 25 genes, and 50 sets of 30-200 genes (sizes drawn
uniformly, like the MSigDB hallmarks: 32-200 genes, 4,383 distinct genes in all).

* **Affine** (``fc_sum``, ``z_sum``, ``mean_log`` on raw counts, through ``ifnscore.score``):
  the floor is one bare ``X @ w`` with ``w`` the float32 indicator of the union of the
  signatures' genes (scipy's cheapest pass over the stored values; the least work that
  reads every value once, whatever the number of signatures); ``X @ W`` with ``W`` the
  sparse genes x signatures indicator (scipy's sparse product, every signature's sum in one
  pass, no CPM, no transform) is shown beside it.
* **Rank** (``aucell``, ``ucell``, ``singscore``, ``ssgsea`` on log1p-normalised counts): the
  bound is a compiled *sort + search* pass (:func:`rank_bound`): each row's stored values
  copied and sorted once (numpy's vectorised row sort on length-grouped padded rows, the
  fastest sort available here), and every stored signature gene's rank found by two binary
  searches and summed, on the same threads as ifnscore. It is the least work any method
  ranking whole rows by sorting does; ifnscore adds the statistics, the zero group and the
  API (validation, gene matching, the result table).

``benchmarks/compare_peers.py --sections many`` runs this and writes it into ``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ifnscore
from ifnscore._bench import peak_bytes, timings
from ifnscore._gather import n_threads
from ifnscore._methods import GeneSet, get_method

AFFINE = ("fc_sum", "z_sum", "mean_log")
RANK = ("aucell", "ucell", "singscore", "ssgsea")
WORKLOADS = ("1 x 25", "10 x 25", "50 x 25", "50 x 30-200")


def signatures(
    genes: pd.Index, pool: np.ndarray, workload: str, seed: int = 7
) -> dict[str, list[str]]:
    """The signatures of ``workload``: gene names drawn from ``pool`` (column indices)."""
    rng = np.random.default_rng(seed)
    n_sets = int(workload.split(" x ")[0])
    size = workload.split(" x ")[1]
    out = {}
    for i in range(n_sets):
        k = 25 if size == "25" else int(rng.integers(30, 201))
        out[f"set{i:02d}"] = genes[np.sort(rng.choice(pool, k, replace=False))].tolist()
    return out


# ------------------------------------------------------------------ the rank bound


def _bound_rows(indptr, indices, data, rows, P, fill, lookup, out):  # type: ignore[no-untyped-def]
    """Copy rows into ``P`` (padded with ``fill``); remember where the signature genes are."""
    w = P.shape[1]
    for r in range(rows.size):
        i = rows[r]
        a = indptr[i]
        m = indptr[i + 1] - a
        for p in range(m):
            P[r, p] = data[a + p]
        for p in range(m, w):
            P[r, p] = fill


def _bound_search(indptr, indices, data, rows, P, lookup, out):  # type: ignore[no-untyped-def]
    """Per row: the sum of the stored signature genes' (min, max) ranks by binary search."""
    for r in range(rows.size):
        i = rows[r]
        a = indptr[i]
        m = indptr[i + 1] - a
        s = P[r]
        acc = 0
        for p in range(a, a + m):
            if lookup[indices[p]] < 0:
                continue
            v = data[p]
            lo, hi = 0, m
            while lo < hi:  # first >= v
                mid = (lo + hi) >> 1
                if s[mid] < v:
                    lo = mid + 1
                else:
                    hi = mid
            lo2, hi2 = lo, m
            while lo2 < hi2:  # first > v
                mid = (lo2 + hi2) >> 1
                if s[mid] <= v:
                    lo2 = mid + 1
                else:
                    hi2 = mid
            acc += lo + lo2
        out[i] = acc


_BOUND: Any = None


def rank_bound(X: sp.csr_matrix, columns: np.ndarray, *, chunk: int = 1 << 16) -> np.ndarray:
    """The compiled sort + search bound (see the module docstring) over CSR ``X`` for the
    signature genes ``columns``; returns each row's sum of ranks (so nothing is optimised
    away)."""
    global _BOUND
    if _BOUND is None:
        import numba

        jit = numba.njit(cache=True, nogil=True)
        _BOUND = (jit(_bound_rows), jit(_bound_search))
    pad, search = _BOUND
    lookup = np.full(X.shape[1], -1, dtype=np.int16)
    lookup[columns] = 0
    out = np.zeros(X.shape[0], dtype=np.int64)
    lengths = np.diff(X.indptr).astype(np.int64)
    order = np.argsort(lengths, kind="stable")
    ls = lengths[order]
    groups = []
    i = 0
    while i < order.size:
        j = int(np.searchsorted(ls, max(int(ls[i] * 1.15), int(ls[i]) + 16), side="right"))
        w = max(int(ls[j - 1]), 1)
        step = max(8, chunk // w)
        groups += [(order[c : min(j, c + step)], w) for c in range(i, j, step)]
        i = j
    fill = np.float32(np.inf) if X.dtype == np.float32 else np.inf

    def work(part: list[tuple[np.ndarray, int]]) -> None:
        for rows, w in part:
            P = np.empty((rows.size, w), dtype=X.dtype)
            pad(X.indptr, X.indices, X.data, rows, P, fill, lookup, out)
            P.sort(axis=1)
            search(X.indptr, X.indices, X.data, rows, P, lookup, out)

    t = n_threads()
    cuts = np.linspace(0, len(groups), t + 1).round().astype(int)
    with ThreadPoolExecutor(max_workers=t) as ex:
        list(ex.map(work, [groups[a:b] for a, b in itertools.pairwise(cuts)]))
    return out


# ------------------------------------------------------------------ the section


def _engine_call(X: Any, genes: pd.Index, sigs: dict[str, list[str]], method: str, ref: Any) -> Any:
    """The scoring alone (``ifnscore._engine.compute``: the pass over the matrix and the
    aggregation), with the input gate and gene matching done once beforehand."""
    from ifnscore._engine import compute, prepare
    from ifnscore._score import _signatures_of
    from ifnscore._signatures import as_signatures

    meth = get_method(method)
    sig_objs = as_signatures(sigs) if ref is None else _signatures_of(ref)
    expr, matches = prepare(
        X, sig_objs, meth, ref, dict(getattr(ref, "method_options", {}) or {}), genes=list(genes),
        samples=None, rows="samples", layer=None, use_raw=False, scale="counts", min_genes=None,
        duplicates="sum", id_type="auto",
    )  # fmt: skip
    params = None if ref is None else ref.gene_params
    return lambda: compute(expr, sig_objs, matches, meth, params=params, nan="raise", options={})


def _pseudobulk_controls(X: sp.csr_matrix, genes: pd.Index, n: int = 40) -> pd.DataFrame:
    """Healthy-control stand-ins for the references: 40 pseudo-bulk samples (sums of
    consecutive cells), so every gene has a positive median."""
    per = X.shape[0] // n
    rows = [np.asarray(X[i * per : (i + 1) * per].sum(axis=0)).ravel() for i in range(n)]
    return pd.DataFrame(np.vstack(rows), columns=genes, index=[f"pb{i}" for i in range(n)])


def many_section(cells: int, n_genes: int, *, repeat: int = 3) -> dict[str, Any]:
    """Times (medians), ratios and peak memory of every workload, as a dict for RESULTS."""
    adata = ifnscore.datasets.simulate_sparse(cells, n_genes, seed=0)
    X, genes = adata.X, adata.var_names
    controls = _pseudobulk_controls(X, genes)
    # genes expressed in at least 1 % of the cells (and in every pseudo-bulk control)
    expressed = (np.diff(X.tocsc().indptr) >= 0.01 * cells) & (controls.to_numpy() > 0).all(axis=0)
    pool = np.flatnonzero(expressed)
    lib = np.asarray(X.sum(axis=1)).ravel()
    # normalised in place, as scanpy's normalize_total + log1p do (the CSR stays canonical)
    Xn = X.copy()
    Xn.data *= np.repeat((1e4 / lib).astype(np.float32), np.diff(Xn.indptr))
    Xn.data = np.log1p(Xn.data)
    out: dict[str, Any] = {
        "cells": cells,
        "genes": n_genes,
        "nnz": int(X.nnz),
        "density": X.nnz / (cells * n_genes),
        "threads": n_threads(),
        "pool": int(pool.size),
        "rows": [],
    }
    warnings.simplefilter("ignore")
    for wl in WORKLOADS:
        sigs = signatures(genes, pool, wl)
        cols = np.flatnonzero(genes.isin({g for s in sigs.values() for g in s}))
        W = sp.csr_matrix(
            (
                np.ones(sum(len(s) for s in sigs.values()), dtype=np.float32),
                (
                    np.concatenate([genes.get_indexer(s) for s in sigs.values()]),
                    np.repeat(np.arange(len(sigs)), [len(s) for s in sigs.values()]),
                ),
            ),
            shape=(n_genes, len(sigs)),
        )
        w = np.zeros(n_genes, dtype=np.float32)
        w[cols] = 1.0
        fns: dict[str, Any] = {
            "floor": lambda w=w: X @ w,
            "X @ W": lambda W=W: X @ W,
            "bound": lambda c=cols: rank_bound(Xn, c),
        }
        for m in AFFINE:
            if m == "mean_log":
                kw: dict[str, Any] = {"method": m, "signature": sigs}
            else:
                kw = {
                    "reference": ifnscore.calibrate(
                        controls, signature=sigs, method=m, scale="counts"
                    )
                }
            fns[m] = lambda kw=kw: ifnscore.score(
                X, genes=genes, rows="samples", scale="counts", **kw
            )
            fns[f"{m} (engine)"] = _engine_call(X, genes, sigs, m, kw.get("reference"))
        sets = [GeneSet(k, genes.get_indexer(v).astype(np.intp)) for k, v in sigs.items()]
        for m in RANK:
            fns[m] = lambda m=m, s=sigs: ifnscore.score(
                Xn, genes=genes, rows="samples", scale="log1p", method=m, signature=s
            )
            fns[f"{m} (engine)"] = lambda m=m, sets=sets: get_method(m).run(Xn, sets)
        print(f"[{time.strftime('%H:%M:%S')}] many: {wl} ({cols.size} distinct genes)", flush=True)
        times = timings(fns, repeat)
        peaks = {k: peak_bytes(f) / 2**20 for k, f in fns.items()}
        out["rows"].append(
            {
                "workload": wl,
                "n_sets": len(sigs),
                "distinct_genes": int(cols.size),
                "genes_per_set": [
                    min(len(s) for s in sigs.values()),
                    max(len(s) for s in sigs.values()),
                ],
                "s": {k: statistics.median(v) for k, v in times.items()},
                "runs": repeat,
                "peak_mb": peaks,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=100_000)
    ap.add_argument("--genes", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    res = many_section(args.cells, args.genes, repeat=args.repeat)
    one = res["rows"][0]["s"]
    for r in res["rows"]:
        s = r["s"]
        print(f"{r['workload']} ({r['distinct_genes']} distinct genes):")
        for k, v in s.items():
            base = k.split(" ")[0]
            ref = "floor" if base in AFFINE else ("bound" if base in RANK else None)
            extra = f", {v / s[ref]:.2f}x {ref}" if ref else ""
            print(f"    {k:22} {v:8.3f} s  {v / one[k]:6.2f}x one signature{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
