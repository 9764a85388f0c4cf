"""Out-of-core and Dask scoring against their floors: the bare row-block read, and in memory.

    PYTHONPATH=. python benchmarks/out_of_core.py --cells 200000            # both sections
    PYTHONPATH=. python benchmarks/out_of_core.py --sections dask --cells 50000

ooc   n x 20,000 CSR float32 counts written once (cached in --workdir) to a backed h5ad and a
      zarr store. For each file, in fresh child processes run in alternation: the *bare
      read* (every row block's ``indptr``/``data``/``indices`` slices read with h5py/zarr and
      nothing else, in the row blocks ifnscore reads) and ifnscore's score of the same file
      (fc_sum, rice6; and a rank method, aucell, with --ooc-rank). Reports medians, the ratio
      score / bare read, the child's peak RSS (``VmHWM``) and whether the scores equal the
      in-memory scores to the last bit.
dask  one n x 20,000 CSR float32 matrix (``ifnscore.datasets.simulate_sparse``) scored in
      memory, as a dask array of CSR chunks on the threaded scheduler, and on a
      ``dask.distributed.LocalCluster`` (2 workers, in-process, one thread each): fc_sum and
      aucell, medians and ratios to in memory, and whether the numbers are identical.

``section_ooc(args)`` / ``section_dask(args)`` return JSON-able dicts; ``render_ooc`` /
``render_dask`` turn them into Markdown for RESULTS.md (benchmarks/compare_peers.py). Given
compare_peers.py's namespace they read ``--big`` (ooc cells), ``--cells``, ``--genes``,
``--workdir`` and ``--repeat``; the options only this script has take their defaults there
(3 child processes per ooc row, aucell timed out of core too, 100,000 dask cells).
Wall times are measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import ifnscore  # noqa: E402
from ifnscore._bench import reference_for, timings  # noqa: E402
from ifnscore._gather import n_threads  # noqa: E402

SIG = "rice6"
RANK = "aucell"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _write_big(workdir: Path, n: int, p: int) -> tuple[Path, Path]:
    from compare_peers import _write_big as write  # the same cached files as compare_peers

    return write(workdir, n, p)


def _du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# ------------------------------------------------------------------------------ out of core

#: A child process: ``kind`` is ``bare`` (read every row block's three slices, nothing else),
#: ``score`` (ifnscore.score of the opened file) or ``memory`` (load X whole, then score: the
#: reference numbers). Prints seconds, peak RSS; saves the scores.
CHILD = r"""
import json, sys, time, warnings
import numpy as np
sys.path.insert(0, sys.argv[1])
path, fmt, kind, method, ref_path, npy = sys.argv[2:8]
def hwm():  # peak RSS of this process image
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
import anndata as ad, h5py, zarr, ifnscore
from ifnscore._gather import backed_block_rows
base = hwm()
def group():
    if fmt == "h5ad":
        return h5py.File(path, "r")["X"]
    return zarr.open_group(path, mode="r")["X"]
def opened():
    if fmt == "h5ad":
        return ad.read_h5ad(path, backed="r")
    g = zarr.open_group(path, mode="r")
    return ad.AnnData(X=ad.io.sparse_dataset(g["X"]), obs=ad.io.read_elem(g["obs"]), var=ad.io.read_elem(g["var"]))
ref = ifnscore.Reference.load(ref_path) if ref_path != "-" else None
kw = {"reference": ref} if ref is not None else {"method": method, "signature": "rice6"}
out = {}
if kind == "bare":
    t = time.perf_counter()
    g = group()
    ip = g["indptr"]
    n = ip.shape[0] - 1
    rows = backed_block_rows(ad.io.sparse_dataset(g))
    nbytes = 0
    for a in range(0, n, rows):
        ptr = ip[a : min(n, a + rows) + 1]
        d = g["data"][ptr[0] : ptr[-1]]
        i = g["indices"][ptr[0] : ptr[-1]]
        nbytes += d.nbytes + i.nbytes + ptr.nbytes
    out["seconds"] = time.perf_counter() - t
    out["block_rows"] = rows
    out["read_gb"] = nbytes / 2**30
else:
    t = time.perf_counter()
    a = opened() if kind == "score" else ad.read_h5ad(path)
    out["open_seconds"] = time.perf_counter() - t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        ifnscore.score(a, scale="counts", **kw)
        out["seconds"] = time.perf_counter() - t
        out["peak_rss_mb"] = hwm()  # of this one call (a second call holds two results)
        if kind == "score" and "--warm" in sys.argv:
            t = time.perf_counter()
            ifnscore.score(a, scale="counts", **kw)
            out["warm_seconds"] = time.perf_counter() - t
    np.save(npy, a.obs["ifnscore"].to_numpy())
out.setdefault("peak_rss_mb", hwm())
out["rss_after_imports_mb"] = base
print(json.dumps(out))
"""


def _child(*argv: str) -> dict[str, Any]:
    res = subprocess.run(
        [sys.executable, "-c", CHILD, str(HERE.parent), *argv],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def section_ooc(args: argparse.Namespace) -> dict[str, Any]:
    """Backed h5ad and zarr: bare row-block read vs ifnscore's score, in child processes."""
    # compare_peers.py's namespace: --big cells, no ooc options (their defaults here)
    n, p = getattr(args, "big", None) or args.cells, args.genes
    ooc_repeat = getattr(args, "ooc_repeat", 3)
    ooc_rank = getattr(args, "ooc_rank", True)
    workdir = Path(args.workdir)
    log(f"ooc: {n:,} x {p:,} cells to h5ad + zarr in {workdir} (cached)")
    h5, zp = _write_big(workdir, n, p)
    methods = ["fc_sum"] + ([RANK] if ooc_rank else [])
    refs: dict[str, str] = {}
    for m in methods:
        ref = reference_for(m, [SIG])
        if ref is None:
            refs[m] = "-"
        else:
            path = workdir / f"ref_{m}_{SIG}.json"
            ref.save(path)
            refs[m] = str(path)
    import h5py

    with h5py.File(h5, "r") as f:
        nnz = int(f["X"]["indptr"][n])
    out: dict[str, Any] = {
        "cells": n,
        "genes": p,
        "nnz": nnz,
        "density": nnz / (n * p),
        "signatures": [SIG],
        "distinct_genes": len(ifnscore.get_signature(SIG).genes),
        "threads": n_threads(),
        "repeat": ooc_repeat,
        "rows": [],
    }
    for m in methods:
        want_npy = workdir / f"scores_memory_{n}x{p}_{m}.npy"
        if not want_npy.exists():
            log(f"ooc: {m} in memory (the reference numbers; loads the whole matrix)")
            _child(str(h5), "h5ad", "memory", m, refs[m], str(want_npy))
        want = np.load(want_npy, allow_pickle=False)
        for fmt, path in (("h5ad", h5), ("zarr", zp)):
            log(f"ooc: {fmt} {m}: bare read and score in alternation x{ooc_repeat}")
            _child(str(path), fmt, "bare", m, refs[m], "-")  # warm the page cache
            bare, score = [], []
            npy = workdir / f"scores_{fmt}_{m}.npy"
            for _ in range(ooc_repeat):
                bare.append(_child(str(path), fmt, "bare", m, refs[m], "-"))
                score.append(_child(str(path), fmt, "score", m, refs[m], str(npy), "--warm"))
            got = np.load(npy, allow_pickle=False)
            b = statistics.median(r["seconds"] for r in bare)
            s = statistics.median(r["seconds"] for r in score)
            w = statistics.median(r["warm_seconds"] for r in score)
            row = {
                "file": fmt,
                "method": m,
                "size_gb": _du(path) / 2**30,
                "block_rows": bare[0]["block_rows"],
                "bare_read_s": b,
                "score_s": s,
                "score_warm_s": w,
                "open_s": statistics.median(r["open_seconds"] for r in score),
                "ratio": s / b,
                "ratio_warm": w / b,
                "peak_rss_mb": max(r["peak_rss_mb"] for r in score),
                "bare_peak_rss_mb": max(r["peak_rss_mb"] for r in bare),
                "rss_after_imports_mb": score[0]["rss_after_imports_mb"],
                "identical_to_in_memory": bool(np.array_equal(got, want, equal_nan=True)),
            }
            log(
                f"ooc: {fmt} {m}: bare {b:.2f} s, score {s:.2f} s (warm {w:.2f} s), "
                f"x{row['ratio']:.2f} (warm x{row['ratio_warm']:.2f}), "
                f"peak RSS {row['peak_rss_mb']:.0f} MB, identical {row['identical_to_in_memory']}"
            )
            out["rows"].append(row)
    return out


def _heading(title: str, res: dict[str, Any]) -> str:
    """A section's title and the start of its workload line (cells, genes, non-zeros,
    signatures, distinct genes, threads)."""
    return (
        f"\n## {title} ({res['cells']:,} x {res['genes']:,} cells, CSR float32 counts, "
        f"density {res['density']:.4f})\n\n"
        f"Workload: {res['cells']:,} cells x {res['genes']:,} genes, {res['nnz']:,} non-zeros, "
        f"signature {', '.join(res['signatures'])} ({res['distinct_genes']} distinct genes), "
        f"{res['threads']} threads"
    )


def render_ooc(res: dict[str, Any]) -> str:
    L = [
        _heading("Out of core", res)
        + f"; medians of {res['repeat']} fresh child processes each, run in "
        "alternation. *Bare read*: every row block's `indptr`/`data`/`indices` slices read "
        "with h5py/zarr, nothing else (the floor). *Score*: `ifnscore.score(adata, "
        "reference=ref)` of the opened file (first call, numba's cached kernels loaded; "
        "*warm*: a second call in the same process); opening the file (obs/var) is timed "
        "apart. Peak RSS: the scoring child's `VmHWM` after the first call, imports and obs names included.\n",
        "| file | method | size GB | block rows | bare read s | score s | x bare | warm s | "
        "warm x bare | open s | peak RSS MB | bare read RSS MB | same numbers as in memory |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in res["rows"]:
        L.append(
            f"| {r['file']} | {r['method']} | {r['size_gb']:.1f} | {r['block_rows']:,} | "
            f"{r['bare_read_s']:.2f} | {r['score_s']:.2f} | {r['ratio']:.2f} | "
            f"{r['score_warm_s']:.2f} | {r['ratio_warm']:.2f} | {r['open_s']:.2f} | "
            f"{r['peak_rss_mb']:.0f} | {r['bare_peak_rss_mb']:.0f} | {r['identical_to_in_memory']} |"
        )
    return "\n".join(L) + "\n"


# ------------------------------------------------------------------------------------ dask


def _rows_of(X: Any, a: int, b: int) -> Any:
    from ifnscore._gather import _csr_view

    return _csr_view(X, a, b)


def _dask_of(X: Any, rows: int) -> Any:
    """A dask array of CSR chunks of ``rows`` whole rows each (no rechunk), each a zero-copy
    view of ``X``: what is timed is the scoring, not scipy's copies of row slices (which
    ``da.from_array`` of a CSR matrix would make in every task, in 2 to 3 times the
    in-memory scoring time)."""
    import dask
    import dask.array as da

    parts = []
    for a in range(0, X.shape[0], rows):
        b = min(a + rows, X.shape[0])
        task = dask.delayed(_rows_of, pure=False)(X, a, b)
        parts.append(da.from_delayed(task, shape=(b - a, X.shape[1]), dtype=X.dtype, meta=X[:0]))
    return da.concatenate(parts, axis=0)


def section_dask(args: argparse.Namespace) -> dict[str, Any]:
    """In memory vs dask threaded vs a 2-worker LocalCluster on the same CSR matrix."""
    import dask

    from ifnscore.datasets import simulate_sparse

    n, p = getattr(args, "dask_cells", 100_000) or args.cells, args.genes
    log(f"dask: simulating {n:,} x {p:,} cells")
    a = simulate_sparse(n, p, seed=0)
    X, genes = a.X, a.var_names
    del a
    threads = n_threads()
    rows = max(1, -(-n // (4 * threads)))  # four chunks per core
    D = _dask_of(X, rows)
    out: dict[str, Any] = {
        "cells": n,
        "genes": p,
        "nnz": int(X.nnz),
        "density": X.nnz / (n * p),
        "signatures": [SIG],
        "distinct_genes": len(ifnscore.get_signature(SIG).genes),
        "threads": threads,
        "chunk_rows": rows,
        "n_chunks": len(D.chunks[0]),
        "repeat": args.repeat,
        "rows": [],
    }
    try:
        import distributed
    except ImportError:
        distributed = None
        out["distributed"] = "not installed"
    for m in ("fc_sum", RANK):
        ref = reference_for(m, [SIG])
        kw: dict[str, Any] = {"reference": ref} if ref is not None else {"method": m}
        kw |= {"genes": genes, "scale": "counts", "rows": "samples", "signature": SIG}
        if ref is not None:
            kw.pop("signature")

        def run(data: Any, kw: dict[str, Any] = kw) -> np.ndarray:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return ifnscore.score(data, **kw)["score"].to_numpy()

        log(f"dask: {m}: in memory vs threaded x{args.repeat}")
        want = run(X)
        with dask.config.set(scheduler="threads", num_workers=threads):
            t = timings({"memory": lambda: run(X), "threaded": lambda: run(D)}, args.repeat)
            got_t = run(D)
        row: dict[str, Any] = {
            "method": m,
            "memory_s": statistics.median(t["memory"]),
            "threaded_s": statistics.median(t["threaded"]),
            "threaded_identical": bool(np.array_equal(got_t, want, equal_nan=True)),
        }
        row["threaded_ratio"] = row["threaded_s"] / row["memory_s"]
        if distributed is not None:
            log(f"dask: {m}: LocalCluster(2 workers, in-process) x{args.repeat}")
            with (
                distributed.LocalCluster(
                    n_workers=2,
                    threads_per_worker=max(1, threads // 2),
                    processes=False,
                    dashboard_address=None,
                ) as cluster,
                distributed.Client(cluster),
            ):
                td = timings({"distributed": lambda: run(D)}, args.repeat)
                got_d = run(D)
            # in memory again, right after, for a ratio under the same load
            tm = timings({"memory": lambda: run(X)}, args.repeat)
            row["memory_s"] = statistics.median(t["memory"] + tm["memory"])
            row["threaded_ratio"] = row["threaded_s"] / row["memory_s"]
            row["distributed_s"] = statistics.median(td["distributed"])
            row["distributed_ratio"] = row["distributed_s"] / row["memory_s"]
            row["distributed_identical"] = bool(np.array_equal(got_d, want, equal_nan=True))
        log(f"dask: {m}: {json.dumps(row)}")
        out["rows"].append(row)
    return out


def render_dask(res: dict[str, Any]) -> str:
    L = [
        _heading("Dask", res) + ". The same scipy CSR matrix scored in memory, as a dask array "
        f"of {res['n_chunks']} CSR chunks of {res['chunk_rows']:,} whole rows "
        "(zero-copy row views of the matrix, `da.from_delayed`) on the threaded scheduler "
        f"({res['threads']} workers), and on a `dask.distributed.LocalCluster` of 2 in-process "
        f"workers ({max(1, res['threads'] // 2)} thread each); medians of {res['repeat']} runs "
        "in alternation.\n",
    ]
    if res.get("distributed"):
        L.append(f"dask.distributed: {res['distributed']}.\n")
    L.append(
        "| method | in memory s | threaded s | x in memory | LocalCluster s | x in memory | "
        "identical (threaded / cluster) |"
    )
    L.append("|---|---:|---:|---:|---:|---:|---|")
    for r in res["rows"]:
        ds = f"{r['distributed_s']:.2f}" if "distributed_s" in r else ""
        dr = f"{r['distributed_ratio']:.2f}" if "distributed_ratio" in r else ""
        L.append(
            f"| {r['method']} | {r['memory_s']:.2f} | {r['threaded_s']:.2f} | "
            f"{r['threaded_ratio']:.2f} | {ds} | {dr} | {r['threaded_identical']} / "
            f"{r.get('distributed_identical', '')} |"
        )
    return "\n".join(L) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", default="ooc,dask", help="comma-separated: ooc, dask")
    ap.add_argument("--cells", type=int, default=1_000_000, help="cells of the ooc files")
    ap.add_argument(
        "--dask-cells", type=int, default=100_000, help="cells of the dask matrix (0: --cells)"
    )
    ap.add_argument("--genes", type=int, default=20_000)
    ap.add_argument("--workdir", default="/tmp/ifnscore-bench", help="where files are cached")
    ap.add_argument("--repeat", type=int, default=5, help="runs per call, dask section")
    ap.add_argument("--ooc-repeat", type=int, default=3, help="child processes per ooc row")
    ap.add_argument("--ooc-rank", action="store_true", help=f"also time {RANK} out of core")
    ap.add_argument("--json", default="", help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    res: dict[str, Any] = {}
    for name in [s.strip() for s in args.sections.split(",") if s.strip()]:
        fn = {"ooc": section_ooc, "dask": section_dask}[name]
        res[name] = fn(args)
        res[name]["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        res[name]["load_average"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=float))
    if "ooc" in res:
        print(render_ooc(res["ooc"]))
    if "dask" in res:
        print(render_dask(res["dask"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
