"""Affine scores against the floor: one bare ``X @ w`` over the same sparse matrix.

    PYTHONPATH=. python benchmarks/floor.py                   # 100,000 x 20,000 CSR float32
    PYTHONPATH=. python benchmarks/floor.py --cells 20000     # quicker

Times ``fc_sum``, ``z_sum`` and ``mean_log`` (through :func:`ifnscore.score`, on raw counts:
columns gathered, library sizes summed, per-gene transform, one product with the weights)
in alternation with the floor, and prints the median times and ratios. The floor is
``X @ w`` with ``w`` float32 like the data: one pass, no allocation, float32 accumulation,
the cheapest product scipy offers. ``X @ w`` with float64 ``w`` (what a user typically
writes: scipy first copies the data to float64, so it is slower and needs the matrix's size
again in memory) is shown as well. ``benchmarks/
compare_peers.py`` runs this as its first section and writes it into ``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ifnscore
from ifnscore._bench import peak_bytes, reference_for, timings
from ifnscore._gather import n_threads
from ifnscore._results import from_anndata

METHODS = ("fc_sum", "z_sum", "mean_log")
FLOOR = "floor: X @ w (float32 w)"


def floor_section(X: Any, genes: Any, *, repeat: int = 7) -> dict[str, Any]:
    """Median times (s), ratios to the floor and peak extra memory, as a dict of rows."""
    sig_genes = ifnscore.get_signature("rice6").genes
    refs = {m: reference_for(m, ["rice6"]) for m in METHODS}
    w64 = np.asarray(genes.isin(sig_genes), dtype=np.float64)
    w32 = w64.astype(np.float32)
    fns = {
        FLOOR: lambda: X @ w32,
        "X @ w, float64 w (scipy upcasts the data first)": lambda: X @ w64,
    }
    for m in METHODS:
        kw = {"reference": refs[m]} if refs[m] is not None else {"method": m}
        fns[m] = lambda kw=kw: ifnscore.score(X, genes=genes, rows="samples", scale="counts", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        times = timings(fns, repeat)
        peaks = {k: peak_bytes(f) for k, f in fns.items()}
    # numbers: fc_sum must equal the floor's own arithmetic (CPM of the gathered columns)
    centre = refs["fc_sum"].gene_params
    wfc = np.zeros(X.shape[1])
    for g in sig_genes:
        wfc[genes.get_loc(g)] = 1.0 / centre[g]["centre"]
    lib = np.asarray(X.sum(axis=1, dtype=np.float64)).ravel()
    want = (X @ wfc) * 1e6 / lib
    got = ifnscore.score(X, genes=genes, rows="samples", reference=refs["fc_sum"], scale="counts")[
        "score"
    ]
    max_rel = float(np.max(np.abs(got.to_numpy() - want) / np.maximum(np.abs(want), 1e-300)))
    fl = statistics.median(times[FLOOR])
    nbytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    rows = {
        k: {
            "median_s": statistics.median(ts),
            "runs": len(ts),
            "x_floor": statistics.median(ts) / fl,
            "peak_extra_mb": peaks[k] / 2**20,
            "peak_pct_of_matrix": 100.0 * peaks[k] / nbytes,
        }
        for k, ts in times.items()
    }
    return {
        "shape": list(X.shape),
        "nnz": int(X.nnz),
        "dtype": str(X.dtype),
        "matrix_mb": nbytes / 2**20,
        "threads": n_threads(),
        "rows": rows,
        "fc_sum_vs_floor_arithmetic_max_rel_diff": max_rel,
    }


CONTAINER_METHODS = ("fc_sum", "mean_log")


def containers_section(adata: Any, *, repeat: int = 5, dense_cells: int = 20_000) -> dict[str, Any]:
    """One signature (rice6) through :func:`ifnscore.score` on each container, against that
    container's own bare ``X @ w`` (float32 ``w``): the AnnData scored in place (scores
    written into ``obs``/``obsm``/``uns``), its CSR matrix with ``genes=``, the same matrix as
    CSC, and a dense ndarray of the first ``dense_cells`` cells (a dense copy of all the cells
    would need 4 bytes x cells x genes). Also checks that every container gives the CSR's
    scores to the last bit."""
    X, genes = adata.X, adata.var_names
    sig_genes = ifnscore.get_signature("rice6").genes
    w = np.asarray(genes.isin(sig_genes), dtype=np.float32)
    refs = {m: reference_for(m, ["rice6"]) for m in CONTAINER_METHODS}
    kws = {m: ({"reference": r} if r is not None else {"method": m}) for m, r in refs.items()}
    D = np.ascontiguousarray(X[:dense_cells].toarray())
    cases: dict[str, tuple[Any, dict[str, Any], int]] = {
        "AnnData (in place)": (adata, {}, X.shape[0]),
        "CSR, genes=": (X, {"genes": genes, "rows": "samples"}, X.shape[0]),
        "CSC, genes=": (X.tocsc(), {"genes": genes, "rows": "samples"}, X.shape[0]),
        "ndarray, genes=": (D, {"genes": genes, "rows": "samples"}, D.shape[0]),
    }
    rows: dict[str, Any] = {}
    want: dict[str, np.ndarray] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in CONTAINER_METHODS:
            res = ifnscore.score(X, genes=genes, rows="samples", scale="counts", **kws[m])
            want[m] = res["score"].to_numpy()
        for name, (data, extra, n) in cases.items():
            M = data.X if name.startswith("AnnData") else data
            fns: dict[str, Any] = {"floor": lambda M=M: M @ w}
            for m in CONTAINER_METHODS:
                fns[m] = lambda data=data, extra=extra, m=m: ifnscore.score(
                    data, scale="counts", **extra, **kws[m]
                )
            print(f"[{time.strftime('%H:%M:%S')}] containers: {name}", flush=True)
            times = timings(fns, repeat)
            peaks = {k: peak_bytes(f) / 2**20 for k, f in fns.items() if k != "floor"}
            same = {}
            for m in CONTAINER_METHODS:
                got = fns[m]()
                # an AnnData is scored in place: read its scores back from it
                table = from_anndata(data) if name.startswith("AnnData") else got
                same[m] = bool(np.array_equal(table["score"].to_numpy(), want[m][:n]))
            fl = statistics.median(times["floor"])
            rows[name] = {
                "cells": n,
                "floor_s": fl,
                **{
                    m: {
                        "s": statistics.median(times[m]),
                        "x_floor": statistics.median(times[m]) / fl,
                        "peak_extra_mb": peaks[m],
                        "identical_to_csr": same[m],
                    }
                    for m in CONTAINER_METHODS
                },
            }
    return {"genes": int(X.shape[1]), "density": X.nnz / (X.shape[0] * X.shape[1]), "rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=100_000)
    ap.add_argument("--genes", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    adata = ifnscore.datasets.simulate_sparse(args.cells, args.genes, seed=0)
    print(
        f"simulated {adata.shape} CSR float32, {adata.X.nnz:,} non-zeros in {time.perf_counter() - t0:.1f} s"
    )
    res = floor_section(adata.X, adata.var_names, repeat=args.repeat)
    print(f"{'':28}{'median s':>10}{'x floor':>9}{'peak MB':>9}{'% matrix':>9}")
    for k, r in res["rows"].items():
        print(
            f"{k:28}{r['median_s']:10.3f}{r['x_floor']:9.2f}{r['peak_extra_mb']:9.1f}{r['peak_pct_of_matrix']:9.1f}"
        )
    print(
        f"fc_sum vs floor arithmetic: max relative difference {res['fc_sum_vs_floor_arithmetic_max_rel_diff']:.2e}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
