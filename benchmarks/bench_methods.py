"""Time each single-sample method against its peer on the same data, in one run.

    PYTHONPATH=. python benchmarks/bench_methods.py                 # 20k cells x 5k genes
    PYTHONPATH=. python benchmarks/bench_methods.py --cells 2000    # quicker

Single-cell-like data (CSR, about 10% non-zeros, log1p values) for module_score, aucell,
ucell, singscore and ssgsea; a bulk-like dense cohort (``--bulk`` samples) for the
cohort methods gsva, zscore and plage. Peers that are much slower run on a subset of rows
(printed); the ratio compares time per row. Each timing is the best of ``--repeat`` runs.
Peers missing from the environment are skipped (``pip install ifnscore[crosscheck]``).
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ifnscore._methods import GeneSet, get_method


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def single_cell(n: int, p: int, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    nnz_per_row = max(1, p // 10)
    rows = np.repeat(np.arange(n), nnz_per_row)
    cols = np.concatenate([rng.choice(p, nnz_per_row, replace=False) for _ in range(n)])
    vals = np.log1p(rng.gamma(1.0, 2.0, rows.size)).astype(np.float32)
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, p))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=20_000)
    ap.add_argument("--genes", type=int, default=5_000)
    ap.add_argument("--bulk", type=int, default=200, help="samples of the bulk cohort")
    ap.add_argument("--slow-peer-rows", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")

    n, p = args.cells, args.genes
    X = single_cell(n, p)
    genes = np.array([f"G{i}" for i in range(p)])
    rng = np.random.default_rng(1)
    sets = [GeneSet(f"s{i}", np.sort(rng.choice(p, 20 + 10 * i, replace=False))) for i in range(3)]
    gsets = {s.name: list(genes[s.up]) for s in sets}
    net = pd.DataFrame([(k, g) for k, v in gsets.items() for g in v], columns=["source", "target"])
    print(f"single-cell: {n} x {p} CSR, {X.nnz} non-zeros; {len(sets)} sets of 20-40 genes")

    rows: list[tuple[str, float, str, float | None, int]] = []

    def ours(name: str, M: Any, **kw: Any) -> float:
        return best_of(lambda: get_method(name).run(M, sets, **kw), args.repeat)

    def adata(M: Any) -> Any:
        import anndata as ad

        A = ad.AnnData(M.copy())
        A.var_names = genes
        return A

    def peer(label: str, fn: Callable[[], Any]) -> float | None:
        try:
            return best_of(fn, args.repeat)
        except ImportError:
            print(f"  ({label} not installed; skipped)")
            return None

    # module_score vs scanpy
    t = ours("module_score", X)

    def run_scanpy() -> None:
        import scanpy as sc

        A = adata(X)
        for k, g in gsets.items():
            sc.tl.score_genes(A, g, score_name=k)

    rows.append(("module_score", t, "scanpy tl.score_genes", peer("scanpy", run_scanpy), n))

    # aucell vs decoupler
    t = ours("aucell", X)

    def run_dc_aucell() -> None:
        import decoupler as dc

        dc.mt.aucell(adata(X), net, tmin=1, verbose=False)

    rows.append(("aucell", t, "decoupler aucell", peer("decoupler", run_dc_aucell), n))

    # ucell vs pyucell (2 jobs)
    t = ours("ucell", X)

    def run_pyucell() -> None:
        import pyucell

        pyucell.compute_ucell_scores(adata(X), gsets, n_jobs=2)

    rows.append(("ucell", t, "pyucell (2 jobs)", peer("pyucell", run_pyucell), n))

    # singscore: no Python peer; ours only
    rows.append(("singscore", ours("singscore", X), "-", None, n))

    # ssgsea vs gseapy on a subset of rows (gseapy is dense and slow)
    t = ours("ssgsea", X)
    m = min(n, args.slow_peer_rows)
    sub = X[:m]

    def run_gseapy() -> None:
        import gseapy

        df = pd.DataFrame(sub.toarray().T, index=genes)
        gseapy.ssgsea(
            data=df,
            gene_sets=gsets,
            outdir=None,
            min_size=1,
            no_plot=True,
            threads=1,
            verbose=False,
        )

    rows.append(("ssgsea", t, f"gseapy ssgsea ({m} rows)", peer("gseapy", run_gseapy), m))

    # bulk cohort: gsva / zscore / plage
    b = args.bulk
    B = np.random.default_rng(2).normal(6, 1.5, (b, p))
    print(f"bulk: {b} x {p} dense")
    dfb = pd.DataFrame(B.T, index=genes, columns=[f"S{i}" for i in range(b)])
    t = best_of(lambda: get_method("gsva").run(B, sets, kcdf="gaussian"), args.repeat)

    def run_dc_gsva() -> None:
        import anndata as ad
        import decoupler as dc

        A = ad.AnnData(B.copy())
        A.var_names = genes
        dc.mt.gsva(A, net, tmin=1, kcdf="gaussian", verbose=False)

    rows.append(("gsva (gaussian)", t, "decoupler gsva", peer("decoupler", run_dc_gsva), b))
    t = best_of(lambda: get_method("zscore").run(B, sets), args.repeat)

    def run_pygsva_zscore() -> None:
        import pygsva

        pygsva.zscore(dfb, gsets, verbose=False)

    rows.append(("zscore", t, "pygsva zscore", peer("pygsva", run_pygsva_zscore), b))
    # pygsva 0.2.0's plage() fails on dense DataFrames (IndexError), so PLAGE is timed alone
    rows.append(
        ("plage", best_of(lambda: get_method("plage").run(B, sets), args.repeat), "-", None, b)
    )

    total_rows = {"gsva (gaussian)": b, "zscore": b, "plage": b}
    print(f"\n{'method':<16}{'ifnscore s':>12}  {'peer':<28}{'peer s':>10}{'peer/ours':>11}")
    for name, ours_t, peer_name, peer_t, peer_rows in rows:
        all_rows = total_rows.get(name, n)
        ratio = "" if peer_t is None else f"{(peer_t / peer_rows) / (ours_t / all_rows):10.1f}x"
        pt = "" if peer_t is None else f"{peer_t:10.2f}"
        print(f"{name:<16}{ours_t:12.2f}  {peer_name:<28}{pt:>10}{ratio:>11}")
    print("(peer/ours: peer time per row over ifnscore time per row; > 1 means ifnscore is faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
