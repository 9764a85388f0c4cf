"""ifnscore against its peers and against the hardware floor, side by side, in one run.

    PYTHONPATH=. nohup python benchmarks/compare_peers.py > benchmarks/compare_peers.log 2>&1 &
    PYTHONPATH=. python benchmarks/compare_peers.py --sections affine,peers --cells 20000  # quick

Builds each data set once and times ifnscore and each peer *in the same process, in
alternation* (so that load on the machine hits both alike); reports medians of repeated
runs, ratios, peak extra memory (``tracemalloc``: numpy/scipy buffers allocated while the
call runs; out-of-core runs: peak RSS of a child process) and whether the numbers agree where
the semantics match. Writes ``benchmarks/results/compare_peers.json`` (merged section by
section, so one section can be re-run) and renders ``benchmarks/RESULTS.md`` and
``benchmarks/scaling.png`` from it.

Sections
--------
affine   100,000 x 20,000 CSR float32 counts: fc_sum / z_sum / mean_log vs one bare X @ w;
         one signature on each container (AnnData in place, CSR, CSC, a dense ndarray of the
         first --dense-cells cells), each against its own X @ w.
peers    the same cells normalised by scanpy (normalize_total + log1p): scanpy score_genes vs
         module_score and the affine scores; decoupler aucell vs aucell; pyucell vs ucell;
         singscore and ssgsea vs both of those peers (a different statistic: timing only;
         each peer timed once, in alternation with both methods, for the two rows).
bulk     dense 10,000 x 20,000 bulk cohort (log2 CPM): gseapy ssgsea (on a subset of rows,
         gseapy being dense and memory-hungry) vs ssgsea.
dask     100,000 x 20,000 CSR in memory vs a dask array of CSR chunks, threaded and on a
         2-worker LocalCluster (benchmarks/out_of_core.py).
ooc      1,000,000 x 20,000 cells written to a backed h5ad and a zarr store (cached in
         --workdir), each scored out of core in child processes against the bare row-block
         read of the same file (peak RSS, same numbers as in memory; benchmarks/out_of_core.py).
read     ifnscore.read of a 20,000 x 2,000 TSV (each parser) vs bare pandas, polars and pyarrow,
         each run in a fresh child process (benchmarks/bench_read.py).
scaling  fc_sum and the floor on row prefixes of those cells in memory, 1e3 to 1e6 samples
         (log-log slope, plot).

Methods not (yet) in ifnscore and peers not installed are skipped with a printed reason.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_read import render_read, section_read  # noqa: E402
from floor import CONTAINER_METHODS, containers_section, floor_section  # noqa: E402
from many_signatures import AFFINE as MANY_AFFINE  # noqa: E402
from many_signatures import RANK as MANY_RANK  # noqa: E402
from many_signatures import many_section  # noqa: E402
from out_of_core import render_dask, render_ooc, section_dask, section_ooc  # noqa: E402

import ifnscore  # noqa: E402
from ifnscore._bench import peak_bytes, reference_for, timings  # noqa: E402
from ifnscore._gather import n_threads  # noqa: E402

RESULTS_JSON = HERE / "results" / "compare_peers.json"
RESULTS_MD = HERE / "RESULTS.md"
PLOT = HERE / "scaling.png"
COMMAND = "PYTHONPATH=. python benchmarks/compare_peers.py"

SIG = "rice6"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def has_method(name: str) -> bool:
    return name in ifnscore.list_methods().index


def has_peer(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def agree(a: Any, b: Any, *, rtol: float = 1e-5, atol: float = 1e-6) -> dict[str, Any]:
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    diff = np.abs(a - b)
    ok = bool(np.allclose(a, b, rtol=rtol, atol=atol))
    corr = float(np.corrcoef(a, b)[0, 1]) if a.size > 1 and a.std() > 0 and b.std() > 0 else np.nan
    return {
        "agree": ok,
        "max_abs_diff": float(diff.max()),
        "max_rel_diff": float(np.max(diff / np.maximum(np.abs(b), atol))),
        "n_differ": int(np.sum(~np.isclose(a, b, rtol=rtol, atol=atol))),
        "n": int(a.size),
        "pearson_r": corr,
        "rtol": rtol,
        "atol": atol,
    }


def measure(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, dict[str, Any]]:
    """Median time (functions run in alternation), peak memory (one extra run) and output
    of each function."""
    log(f"timing {list(fns)} x{repeat}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        times = timings(fns, repeat)
        outputs: dict[str, Any] = {}
        peaks = {
            k: peak_bytes(lambda f=f, k=k: outputs.__setitem__(k, f())) for k, f in fns.items()
        }
    return {
        k: {
            "s": statistics.median(ts),
            "runs": len(ts),
            "peak_mb": peaks[k] / 2**20,
            "out": outputs[k],
        }
        for k, ts in times.items()
    }


def make_row(
    label: str,
    got: dict[str, dict[str, Any]],
    *,
    why_skipped: str = "",
    peer_rows: int | None = None,
    our_rows: int | None = None,
) -> dict[str, Any]:
    """A table row from :func:`measure`'s ``"ifnscore"`` and ``"peer"`` entries."""
    row: dict[str, Any] = {"label": label, "skipped": why_skipped, "_outputs": {}}
    for k, m in got.items():
        row[f"{k}_s"], row[f"{k}_runs"], row[f"{k}_peak_mb"] = m["s"], m["runs"], m["peak_mb"]
        row["_outputs"][k] = m["out"]
    if "ifnscore_s" in row and "peer_s" in row:
        per_peer = row["peer_s"] / (peer_rows or 1)
        per_ours = row["ifnscore_s"] / (our_rows or 1)
        row["speedup"] = per_peer / per_ours
        row["peer_rows"], row["our_rows"] = peer_rows, our_rows
    return row


def pair(
    label: str,
    ours: Callable[[], Any] | None,
    peer: Callable[[], Any] | None,
    *,
    repeat: int,
    why_skipped: str = "",
    peer_rows: int | None = None,
    our_rows: int | None = None,
) -> dict[str, Any]:
    """Time ifnscore and a peer in alternation; peak memory of each in one extra run."""
    fns = {k: f for k, f in (("ifnscore", ours), ("peer", peer)) if f is not None}
    if not fns:
        return {"label": label, "skipped": why_skipped}
    log(f"{label}:")
    return make_row(
        label,
        measure(fns, repeat),
        why_skipped=why_skipped,
        peer_rows=peer_rows,
        our_rows=our_rows,
    )


# ------------------------------------------------------------------------------- sections


def section_affine(args: argparse.Namespace) -> dict[str, Any]:
    log(f"affine: simulating {args.cells:,} x {args.genes:,}")
    adata = ifnscore.datasets.simulate_sparse(args.cells, args.genes, seed=0)
    X, genes = adata.X, adata.var_names
    out = floor_section(X, genes, repeat=args.repeat)
    log("affine: one signature on each container (AnnData, CSR, CSC, ndarray)")
    out["containers"] = containers_section(
        adata, repeat=args.repeat, dense_cells=min(args.cells, args.dense_cells)
    )
    return out


def controls() -> pd.DataFrame:
    counts, samples = ifnscore.datasets.load_example(as_frame=True)
    return counts[samples["group"] == "control"]


def wanted(args: argparse.Namespace, label: str) -> bool:
    """Whether a peers row is (re-)timed in this run (``--only``)."""
    return not args.only or any(w in label for w in args.only.split(","))


def merge_rows(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new``'s rows replace ``old``'s of the same label; ``old``'s other rows are kept
    (``--only``: the rows not re-timed stay as the previous run measured them)."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    got = {r["label"]: {**r, "retimed": when} for r in new.get("rows", [])}
    kept = [got.pop(r["label"], r) for r in old.get("rows", [])]
    return {**new, "rows": kept + list(got.values())}


def section_peers(args: argparse.Namespace) -> dict[str, Any]:
    import anndata as ad

    log(f"peers: simulating {args.cells:,} x {args.genes:,} and normalising with scanpy")
    adata = ifnscore.datasets.simulate_sparse(args.cells, args.genes, seed=0)
    genes = adata.var_names
    sig_genes = list(ifnscore.get_signature(SIG).genes)
    if has_peer("scanpy"):
        import scanpy as sc

        sc.pp.normalize_total(adata, target_sum=1e4)
        sc.pp.log1p(adata)
    else:
        X = adata.X.copy()
        lib = np.asarray(X.sum(axis=1)).ravel()
        X = sp.diags((1e4 / lib).astype(np.float32)) @ X
        X.data = np.log1p(X.data)
        adata.X = X
    X = adata.X  # log1p of normalised counts, CSR float32
    w32 = np.asarray(genes.isin(sig_genes), dtype=np.float32)
    rows: list[dict[str, Any]] = []

    def ours(method: str, **kw: Any) -> Callable[[], Any] | None:
        if not has_method(method):
            return None
        ref = (
            reference_for(method, [SIG])
            if ifnscore.list_methods().loc[method, "needs_reference"]
            else None
        )
        if ref is not None:
            # calibrate on the bundled controls, on the scale of these data (log1p of CPM/100)
            c = controls()
            cn = np.log1p(c.div(c.sum(axis=1), axis=0) * 1e4)
            ref = ifnscore.calibrate(cn, signature=SIG, method=method, scale="log1p")
            kw["reference"] = ref
        else:
            kw["method"] = method
        return lambda: ifnscore.score(
            X, signature=SIG, genes=genes, rows="samples", scale="log1p", **kw
        )

    def scanpy_score() -> Callable[[], Any] | None:
        if not has_peer("scanpy"):
            return None
        import scanpy as sc

        A = ad.AnnData(X=X, var=pd.DataFrame(index=genes))
        return lambda: sc.tl.score_genes(A, sig_genes, score_name="s", copy=True).obs["s"]

    peer_sc = scanpy_score()
    why_sc = "" if peer_sc else "scanpy not installed"
    floor = pair("floor", lambda: X @ w32, None, repeat=args.repeat)
    for m in ("module_score", "fc_sum", "z_sum", "mean_log"):
        if not wanted(args, f"{m} vs scanpy score_genes"):
            continue
        f = ours(m)
        if f is None:
            why = f"ifnscore has no method {m!r} yet (branch 'methods' has not landed on main)"
            log(f"skip {m} vs scanpy score_genes: {why}")
            rows.append({"label": f"{m} vs scanpy score_genes", "skipped": why})
            continue
        r = pair(f"{m} vs scanpy score_genes", f, peer_sc, repeat=args.repeat, why_skipped=why_sc)
        out = r.pop("_outputs")
        if m == "module_score" and peer_sc is not None:
            r["numbers"] = agree(out["ifnscore"]["score"], out["peer"])
        rows.append(r)

    # rank methods vs decoupler / pyucell (slow peers: fewer repeats)
    net = pd.DataFrame({"source": SIG, "target": sig_genes})
    A = ad.AnnData(X=X, var=pd.DataFrame(index=genes))

    def dc_aucell() -> Any:
        import decoupler as dc

        B = A.copy()
        dc.mt.aucell(B, net, tmin=1, verbose=False)
        return B.obsm["score_aucell"][SIG].to_numpy()

    def py_ucell() -> Any:
        import pyucell

        B = A.copy()
        pyucell.compute_ucell_scores(B, {SIG: sig_genes}, n_jobs=n_threads())
        return B.obs[next(c for c in B.obs.columns if SIG in c)].to_numpy()

    for method, label, module, fn in (
        ("aucell", "aucell vs decoupler aucell", "decoupler", dc_aucell),
        ("ucell", "ucell vs pyucell", "pyucell", py_ucell),
    ):
        if not wanted(args, label):
            continue
        f = ours(method)
        peer = fn if has_peer(module) else None
        why = (
            ""
            if f
            else f"ifnscore has no method {method!r} yet (branch 'methods' has not landed on main)"
        )
        if not has_peer(module):
            why = (why + "; " if why else "") + f"{module} not installed"
        if f is None:
            log(f"skip {label}: {why}")
            rows.append({"label": label, "skipped": why})
            continue
        r = pair(label, f, peer, repeat=args.slow_repeat, why_skipped=why)
        out = r.pop("_outputs")
        if peer is not None:
            r["numbers"] = agree(out["ifnscore"]["score"], out["peer"])
            r["numbers"]["note"] = (
                "these data have many tied values (zeros, small counts); the peers break ties "
                "by position or at random, ifnscore by mid-rank/expected value (equal on tie-free "
                "data: tests/test_crosscheck.py)"
            )
        rows.append(r)

    # singscore and ssgsea against the same two peers (a different statistic: timing only).
    # Each peer is timed once per run, in alternation with both methods, and that one timing
    # is the peer column of both rows (decoupler aucell takes minutes a call).
    for peer_name, module, fn in (
        ("decoupler aucell", "decoupler", dc_aucell),
        ("pyucell", "pyucell", py_ucell),
    ):
        labels = {m: f"{m} vs {peer_name}" for m in ("singscore", "ssgsea")}
        labels = {m: lab for m, lab in labels.items() if wanted(args, lab)}
        if not labels:
            continue
        fns = {m: f for m in labels if (f := ours(m)) is not None}
        for m in [k for k in labels if k not in fns]:
            why = f"ifnscore has no method {m!r}"
            log(f"skip {labels[m]}: {why}")
            rows.append({"label": labels[m], "skipped": why})
        if not fns:
            continue
        why = "" if has_peer(module) else f"{module} not installed"
        if has_peer(module):
            fns["peer"] = fn
        log(f"{' and '.join(labels[m] for m in fns if m != 'peer')}:")
        got = measure(fns, args.slow_repeat)
        for m in [k for k in fns if k != "peer"]:
            r = make_row(
                labels[m],
                {"ifnscore": got[m], **({"peer": got["peer"]} if "peer" in got else {})},
                why_skipped=why,
            )
            r.pop("_outputs")
            r["timing_only"] = "different statistic: timing only"
            r["peer_shared_with"] = sorted(labels[k] for k in fns.keys() - {"peer", m})
            rows.append(r)
    nbytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return {
        "shape": list(X.shape),
        "nnz": int(X.nnz),
        "matrix_mb": nbytes / 2**20,
        "floor_s": floor["ifnscore_s"],
        "threads": n_threads(),
        "rows": rows,
    }


def section_many(args: argparse.Namespace) -> dict[str, Any]:
    log(f"many: {args.cells:,} x {args.genes:,}, 1 / 10 / 50 signatures and 50 hallmark-sized sets")
    return many_section(args.cells, args.genes, repeat=args.many_repeat)


def section_bulk(args: argparse.Namespace) -> dict[str, Any]:
    n, p = args.bulk, args.genes
    log(f"bulk: simulating a dense {n:,} x {p:,} cohort (log2 CPM)")
    rng = np.random.default_rng(3)
    # log2(1 + e^z): positive, continuous (tie-free, like the peers' own cross-checks need)
    base = rng.normal(1.5, 2.0, size=p)
    B = np.log2(1.0 + np.exp(base + rng.normal(0.0, 0.6, size=(n, p)))).astype(np.float32)
    genes = ifnscore.datasets._singlecell._gene_names(p)
    sig_genes = list(ifnscore.get_signature(SIG).genes)
    f: Callable[[], Any] | None = None
    if has_method("ssgsea"):

        def f() -> Any:
            return ifnscore.score(
                B, signature=SIG, genes=genes, rows="samples", method="ssgsea", scale="log2"
            )

    m = min(n, args.gseapy_rows)

    def gseapy_run() -> Any:
        import gseapy

        names = [f"S{i}" for i in range(m)]
        df = pd.DataFrame(B[:m].T, index=genes, columns=names)
        res = gseapy.ssgsea(
            data=df,
            gene_sets={SIG: sig_genes},
            outdir=None,
            min_size=1,
            no_plot=True,
            sample_norm_method="rank",
            threads=1,
            verbose=False,
        )
        es = res.res2d.pivot(index="Name", columns="Term", values="ES")[SIG]
        return es.loc[names].to_numpy(dtype=float)

    peer = gseapy_run if has_peer("gseapy") else None
    why = (
        "" if f else "ifnscore has no method 'ssgsea' yet (branch 'methods' has not landed on main)"
    )
    if f is None:
        log(f"skip ssgsea vs gseapy: {why}")
        row = {"label": "ssgsea vs gseapy ssgsea", "skipped": why}
    else:
        row = pair(
            "ssgsea vs gseapy ssgsea",
            f,
            peer,
            repeat=args.slow_repeat,
            why_skipped=why,
            peer_rows=m,
            our_rows=n,
        )
        out = row.pop("_outputs")
        if peer is not None:
            row["numbers"] = agree(
                out["ifnscore"]["score"].to_numpy()[:m], out["peer"], rtol=1e-6, atol=1e-9
            )
            row["numbers"]["note"] = (
                "checked: the differing samples are those where a signature gene's float32 value "
                "ties another gene's, which gseapy orders by position and ifnscore by mid-rank "
                "(equal to 1e-9 on tie-free data: tests/test_crosscheck.py)"
            )
    return {"shape": [n, p], "gseapy_rows": m, "matrix_mb": B.nbytes / 2**20, "rows": [row]}


def _write_big(workdir: Path, n: int, p: int) -> tuple[Path, Path]:
    """Write the n x p cells once (block by block) to h5ad and zarr; reuse when present."""
    import anndata as ad
    import h5py
    import zarr

    from ifnscore.datasets._singlecell import iter_sparse_blocks

    h5 = workdir / f"cells_{n}x{p}.h5ad"
    zp = workdir / f"cells_{n}x{p}.zarr"
    done = workdir / f"cells_{n}x{p}.done"
    if done.exists():
        return h5, zp
    workdir.mkdir(parents=True, exist_ok=True)
    width = len(str(n))
    obs = pd.DataFrame(index=pd.Index([f"cell{i:0{width}d}" for i in range(n)]))
    var = pd.DataFrame(index=ifnscore.datasets._singlecell._gene_names(p))
    skeleton = ad.AnnData(obs=obs, var=var)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with h5py.File(h5, "w") as f:
            g = zarr.open_group(str(zp), mode="w", zarr_format=2)
            ad.io.write_elem(f, "/", skeleton)
            ad.io.write_elem(g, "/", skeleton)
            Xh = Xz = None
            t0 = time.perf_counter()
            for i, block in enumerate(iter_sparse_blocks(n, p, seed=0)):
                if Xh is None:
                    ad.io.write_elem(f, "X", block)
                    ad.io.write_elem(g, "X", block, dataset_kwargs={"chunks": (1 << 21,)})
                    Xh, Xz = ad.io.sparse_dataset(f["X"]), ad.io.sparse_dataset(g["X"])
                else:
                    Xh.append(block)
                    Xz.append(block)
                if i % 50 == 0:
                    log(
                        f"big: wrote {(i + 1) * block.shape[0]:,} rows ({time.perf_counter() - t0:.0f} s)"
                    )
    done.write_text("ok\n")
    return h5, zp


def section_scaling(args: argparse.Namespace) -> dict[str, Any]:
    import anndata as ad

    n, p = args.big, args.genes
    workdir = Path(args.workdir)
    h5, _ = _write_big(workdir, n, p)
    ref = reference_for("fc_sum", [SIG])
    log("scaling: loading the matrix into memory")
    X = ad.read_h5ad(h5).X
    genes = ifnscore.datasets._singlecell._gene_names(p)
    out: dict[str, Any] = {"shape": [n, p], "nnz": int(X.nnz)}
    out["matrix_gb"] = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**30
    # scaling: row prefixes of the same matrix (zero-copy views)
    from ifnscore._gather import _csr_view

    sizes = [s for s in (1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000) if s <= n]
    w32 = np.asarray(genes.isin(ifnscore.get_signature(SIG).genes), dtype=np.float32)
    scale_rows = []
    for s in sizes:
        V = _csr_view(X, 0, s)
        reps = args.repeat if s <= 100_000 else max(3, args.repeat // 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = timings(
                {
                    "fc_sum": lambda V=V: ifnscore.score(
                        V, genes=genes, rows="samples", reference=ref, scale="counts"
                    ),
                    "floor": lambda V=V: V @ w32,
                },
                reps,
            )
        scale_rows.append(
            {
                "samples": s,
                "fc_sum_s": statistics.median(t["fc_sum"]),
                "floor_s": statistics.median(t["floor"]),
            }
        )
        log(
            f"big: scaling {s:,}: fc_sum {scale_rows[-1]['fc_sum_s']:.3f} s, floor {scale_rows[-1]['floor_s']:.3f} s"
        )
    out["scaling"] = scale_rows
    xs = np.log10([r["samples"] for r in scale_rows])
    for k in ("fc_sum_s", "floor_s"):
        ys = np.log10([r[k] for r in scale_rows])
        big = xs >= 4  # the slope where fixed per-call costs no longer dominate
        out[f"slope_{k[:-2]}"] = (
            float(np.polyfit(xs[big], ys[big], 1)[0]) if big.sum() >= 2 else None
        )
        out[f"slope_{k[:-2]}_all"] = float(np.polyfit(xs, ys, 1)[0])
    return out


#: Where the part of RESULTS.md that other scripts write begins (kept verbatim on re-render).
KEPT_FROM = "\n## Accuracy on real data"


def _kept_tail() -> str:
    """The sections of RESULTS.md this script does not write (benchmarks/accuracy.py's),
    as they are in the file now."""
    if not RESULTS_MD.exists():
        return ""
    text = RESULTS_MD.read_text()
    i = text.find(KEPT_FROM)
    return text[i:].lstrip("\n").join(("\n", "")) if i >= 0 else ""


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=HERE,
            check=False,
        )
        return out.stdout.strip()
    except OSError:
        return ""


def _measured(sec: dict[str, Any]) -> str:
    """When (and on which commit) a section was measured, or that it predates this format."""
    if "measured" not in sec:
        return (
            "*Not re-measured in the latest run: these numbers come from an earlier run, before "
            "the one-pass kernels (commit c045e58 and later).*\n"
        )
    c = f", commit {sec['ifnscore_commit']}" if sec.get("ifnscore_commit") else ""
    return f"*Measured {sec['measured']}{c}.*\n"


# ------------------------------------------------------------------------------- report


def machine() -> dict[str, Any]:
    import psutil

    versions = {}
    for pkg in (
        "ifnscore",
        "numpy",
        "scipy",
        "pandas",
        "anndata",
        "scanpy",
        "decoupler",
        "pyucell",
        "gseapy",
        "dask",
        "zarr",
        "h5py",
    ):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    versions["ifnscore"] = ifnscore.__version__
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ifnscore_threads": n_threads(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_end": os.getloadavg(),
        "versions": versions,
    }


def render(res: dict[str, Any]) -> str:
    L: list[str] = []
    m = res.get("machine", {})
    L.append("# Benchmark results\n")
    L.append(
        "Written by `benchmarks/compare_peers.py` (do not edit by hand). Every timing is the "
        "median of repeated runs, ifnscore and the peer timed in alternation in the same "
        "process; peak memory is what `tracemalloc` saw allocated during one call (extra to the "
        "data), or the peak RSS of a child process for out-of-core runs.\n"
    )
    L.append(f"Command: `{COMMAND}` (sections and sizes: `--help`).\n")
    if m:
        L.append(
            f"Machine: {m['cpu']}, {m['cores']} cores (ifnscore used {m['ifnscore_threads']} threads), "
            f"{m['memory_gb']} GiB RAM, Python {m['python']}, {m['platform']}. The machine was shared "
            f"with other jobs (load average at the end {', '.join(f'{x:.1f}' for x in m['load_average_at_end'])}), "
            "so absolute times are noisy; ratios measured in alternation are the robust numbers.\n"
        )
        L.append("Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + "\n")
    a = res.get("affine")
    if a:
        L.append(
            f"## Affine scores vs the floor ({a['shape'][0]:,} x {a['shape'][1]:,} CSR {a['dtype']}, {a['nnz']:,} non-zeros, {a['matrix_mb']:.0f} MB)\n"
        )
        L.append(_measured(a))
        L.append(
            f"Workload: {a['shape'][0]:,} cells x {a['shape'][1]:,} genes, 1 signature (rice6, 6 "
            f"genes), density {a['nnz'] / (a['shape'][0] * a['shape'][1]):.4f}, "
            f"{a.get('threads', '?')} threads.\n"
        )
        L.append(
            'Raw counts (`scale="counts"`: library sizes summed *and* signature values transformed '
            "in the same compiled pass (CPM, per-gene transform, sum per signature), signature rice6, "
            "through `ifnscore.score` (validation, gene matching and the result DataFrame included). "
            "The floor is one bare `X @ w` with `w` float32 like the data (one pass, no allocation, "
            "float32 accumulation: the cheapest product scipy has). With float64 `w` scipy first copies "
            "the data to float64 (slower, and the matrix's size again in memory); shown for reference.\n"
        )
        L.append("| computation | median s | x floor | peak extra MB | % of matrix |")
        L.append("|---|---:|---:|---:|---:|")
        for k, r in a["rows"].items():
            L.append(
                f"| {k} | {r['median_s']:.3f} | {r['x_floor']:.2f} | {r['peak_extra_mb']:.1f} | {r['peak_pct_of_matrix']:.1f} |"
            )
        L.append(
            f"\nfc_sum equals the floor's own arithmetic `(X @ (1/c)) * 1e6 / lib` to a relative "
            f"{a['fc_sum_vs_floor_arithmetic_max_rel_diff']:.1e}. Many signatures at once: the "
            'section "Many signatures" below.\n'
        )
        c = a.get("containers")
        if c:
            L.extend(_render_containers(c, a))
    p = res.get("peers")
    if p:
        L.append(
            f"## Single-cell peers ({p['shape'][0]:,} x {p['shape'][1]:,} CSR, scanpy normalize_total + log1p)\n"
        )
        L.append(_measured(p))
        L.append(
            f"Workload: {p['shape'][0]:,} cells x {p['shape'][1]:,} genes, 1 signature (rice6, 6 "
            f"genes), density {p['nnz'] / (p['shape'][0] * p['shape'][1]):.4f}, "
            f"{p.get('threads', res.get('machine', {}).get('ifnscore_threads', '?'))} threads.\n"
        )
        L.append(
            "| comparison | ifnscore s | peer s | speed-up | ifnscore peak MB | peer peak MB | numbers |"
        )
        L.append("|---|---:|---:|---:|---:|---:|---|")
        for r in p["rows"]:
            L.append(_peer_line(r))
        shared = [r for r in p["rows"] if r.get("peer_shared_with") and "peer_s" in r]
        if shared:
            L.append(
                "\nOne peer timing for two rows (decoupler aucell takes minutes a call): "
                + "; ".join(
                    f"{r['label']} and {', '.join(r['peer_shared_with'])}"
                    for r in shared
                    if r["label"] < min(r["peer_shared_with"])
                )
                + ". In each pair the peer ran once per round, in alternation with both ifnscore "
                "methods in the same process, and its one median is the peer column of both rows."
            )
        again = [f"{r['label']} ({r['retimed']})" for r in p["rows"] if r.get("retimed")]
        if again:
            L.append(
                "\nRe-timed on their own (`--sections peers --only ...`), after the other rows: "
                + "; ".join(again)
                + "."
            )
    b = res.get("bulk")
    if b:
        L.append(f"\n## Bulk ({b['shape'][0]:,} x {b['shape'][1]:,} dense float32, log2 CPM)\n")
        L.append(_measured(b))
        L.append(
            f"Workload: {b['shape'][0]:,} samples x {b['shape'][1]:,} genes, dense (density 1), "
            "1 signature (rice6, 6 genes), "
            f"{res.get('machine', {}).get('ifnscore_threads', '?')} threads.\n"
        )
        L.append(
            f"gseapy is dense and memory-hungry, so it runs on the first {b['gseapy_rows']:,} samples; the "
            "speed-up compares time per sample.\n"
        )
        L.append(
            "| comparison | ifnscore s | peer s | speed-up (per sample) | ifnscore peak MB | peer peak MB | numbers |"
        )
        L.append("|---|---:|---:|---:|---:|---:|---|")
        for r in b["rows"]:
            L.append(_peer_line(r))
    rd = res.get("read")
    if rd:
        L.append("")
        L.append(render_read(rd).replace("\n\n", "\n\n" + _measured(rd) + "\n", 1))
    o = res.get("ooc")
    if o:
        L.append("")
        L.append(render_ooc(o).replace("\n\n", "\n\n" + _measured(o) + "\n", 1))
    dk = res.get("dask")
    if dk:
        L.append("")
        L.append(render_dask(dk).replace("\n\n", "\n\n" + _measured(dk) + "\n", 1))
    g = res.get("scaling")
    if g:
        L.append(
            f"\n## Scaling (row prefixes of {g['shape'][0]:,} x {g['shape'][1]:,} cells in memory, {g.get('nnz', 0):,} non-zeros, {g.get('matrix_gb', 0):.1f} GB)\n"
        )
        L.append(_measured(g))
        L.append("\n| samples | fc_sum s | floor s | x floor |")
        L.append("|---:|---:|---:|---:|")
        for r in g["scaling"]:
            L.append(
                f"| {r['samples']:,} | {r['fc_sum_s']:.4f} | {r['floor_s']:.4f} | {r['fc_sum_s'] / r['floor_s']:.2f} |"
            )
        pts = [(r["samples"], r["fc_sum_s"], r["floor_s"]) for r in g["scaling"]]
        big = [x for x in pts if x[0] >= 100_000]
        if len(big) >= 2:
            lx = np.log10([x[0] for x in big])
            s_fc = np.polyfit(lx, np.log10([x[1] for x in big]), 1)[0]
            s_fl = np.polyfit(lx, np.log10([x[2] for x in big]), 1)[0]
            L.append(
                f"\nLog-log slope from 1e5 to 1e6 samples: fc_sum **{s_fc:.2f}**, floor {s_fl:.2f}."
            )
        if g.get("slope_fc_sum") is not None:
            L.append(
                f"From 1e4 to 1e6: fc_sum {g['slope_fc_sum']:.2f}, floor "
                f"{g['slope_floor']:.2f} (over 1e3 to 1e6, where fixed per-call costs weigh at the small end: "
                f"{g['slope_fc_sum_all']:.2f} and {g['slope_floor_all']:.2f}). Plot: `benchmarks/scaling.png`.\n"
            )
    mn = res.get("many")
    if mn:
        L.extend(_render_many(mn))
    return "\n".join(L) + "\n"


def res_cells(mn: dict[str, Any]) -> int:
    """Cells of the main single-cell sections (100,000 by default)."""
    return 100_000


def _render_containers(c: dict[str, Any], a: dict[str, Any]) -> list[str]:
    L = [
        "### One signature on each container\n",
        f"Workload: {c['genes']:,} genes, density {c['density']:.4f}, 1 signature (rice6, 6 genes), "
        f"raw counts, {a.get('threads', '?')} threads; cells per row below (the ndarray is a dense "
        "float32 copy of the first cells: all of them would take 4 bytes x cells x genes). Each "
        "container against its own bare `X @ w` (float32 `w`; for the AnnData, `adata.X @ w`); "
        "the AnnData is scored in place (scores written into `obs`, `obsm` and `uns`). "
        "*identical*: the scores equal the CSR's to the last bit.\n",
    ]
    head = " | ".join(
        f"{m} s | {m} x floor | {m} peak MB | {m} identical" for m in CONTAINER_METHODS
    )
    L.append(f"| container | cells | floor s | {head} |")
    L.append("|---|---:|---:|" + "---:|---:|---:|---|" * len(CONTAINER_METHODS))
    for name, r in c["rows"].items():
        cells = " | ".join(
            f"{r[m]['s']:.3f} | **{r[m]['x_floor']:.2f}** | {r[m]['peak_extra_mb']:.0f} | "
            f"{r[m]['identical_to_csr']}"
            for m in CONTAINER_METHODS
        )
        L.append(f"| {name} | {r['cells']:,} | {r['floor_s']:.3f} | {cells} |")
    L.append("")
    return L


def _render_many(mn: dict[str, Any]) -> list[str]:
    L = [
        f"\n## Many signatures ({mn['cells']:,} x {mn['genes']:,} CSR float32, density "
        f"{mn['density']:.4f}, {mn['threads']} threads)\n",
        _measured(mn),
        (
            f"Fewer cells than the sections above ({mn['cells']:,}), to keep the benchmark run "
            "short (`--sections many --cells N` for another size); every ratio is within one run. "
            if mn["cells"] < res_cells(mn)
            else ""
        )
        + "Signatures of genes drawn at random (seeded) from the "
        f"{mn['pool']:,} genes expressed in at least 1 % of the cells. Affine methods on raw "
        "counts (references calibrated on 40 pseudo-bulk samples of the same cells); the floor is "
        "one bare `X @ w` (`w` the float32 indicator of the union of the signatures' genes: one "
        "pass over the stored values, the least work that reads each once, whatever the number "
        "of signatures); `X @ W` (`W` the sparse genes x signatures indicator: scipy's product "
        "of every signature's sum in one pass, no CPM, no transform) is shown beside it. Rank "
        "methods on log1p-normalised counts (normalised in place, as scanpy does); the bound "
        "is a compiled sort + search pass (`benchmarks/many_signatures.py`: each row's stored "
        "values sorted once by numpy's vectorised row sort, every stored signature gene's rank by "
        "two binary searches, same threads): the least work of any method that ranks rows by "
        "sorting. *score* is `ifnscore.score` end to end (input gate, gene matching, scoring, "
        "limits, the result table and its metadata, the depth diagnostic); *engine* is the scoring "
        "alone (`_engine.compute` for affine methods, the method's kernel for rank methods). "
        "x one: time over the same column's time for one signature.\n",
    ]
    rows = mn["rows"]
    one = rows[0]["s"]
    for fam, ref, names in (("affine", "floor", MANY_AFFINE), ("rank", "bound", MANY_RANK)):
        extra = " X @ W s |" if fam == "affine" and "X @ W" in one else ""
        L.append(
            f"| {fam} workload | distinct genes | {ref} s |{extra} "
            + " | ".join(
                f"{m} score s (x one, x {ref}) | {m} engine s (x one, x {ref})" for m in names
            )
            + " |"
        )
        L.append("|---|---:|---:|" + ("---:|" if extra else "") + "---:|" * (2 * len(names)))
        for r in rows:
            t = r["s"]
            cells = [f"{r['workload']} genes", f"{r['distinct_genes']:,}", f"{t[ref]:.3f}"]
            if extra:
                cells.append(f"{t['X @ W']:.3f}")
            for m in names:
                for k in (m, f"{m} (engine)"):
                    cells.append(f"{t[k]:.3f} ({t[k] / one[k]:.2f}x, {t[k] / t[ref]:.2f}x)")
            L.append("| " + " | ".join(cells) + " |")
        L.append("")
    peaks = ", ".join(
        f"{r['workload']}: "
        + ", ".join(f"{m} {r['peak_mb'][m]:.0f}" for m in (*MANY_AFFINE, *MANY_RANK))
        for r in rows
    )
    L.append(
        f"Peak extra memory of one `score` call (MB, `tracemalloc`; numba's own scratch is not "
        f"traced, and is at most a few rows): {peaks}.\n"
    )
    return L


def _peer_line(r: dict[str, Any]) -> str:
    if "ifnscore_s" not in r:
        return f"| {r['label']} | - | - | - | - | - | skipped: {r.get('skipped', '')} |"
    peer_s = f"{r['peer_s']:.3f}" if "peer_s" in r else "-"
    speed = f"**{r['speedup']:.1f}x**" if "speedup" in r else "-"
    ppk = f"{r['peer_peak_mb']:.0f}" if "peer_peak_mb" in r else "-"
    num = r.get("numbers")
    if num:
        verdict = "agree" if num["agree"] else "differ"
        if not num["agree"] and "n_differ" in num:
            verdict += f" in {num['n_differ']:,} of {num['n']:,} samples"
        rel = f", max rel diff {num['max_rel_diff']:.1e}" if "max_rel_diff" in num else ""
        numbers = (
            f"{verdict} (max abs diff {num['max_abs_diff']:.1e}{rel}, r = {num['pearson_r']:.5f})"
        )
        if not num["agree"] and num.get("note"):
            numbers += f"; {num['note']}"
    else:
        numbers = (
            r.get("timing_only", "semantics differ: timing only")
            if "peer_s" in r
            else (r.get("skipped") or "")
        )
    return f"| {r['label']} | {r['ifnscore_s']:.3f} | {peer_s} | {speed} | {r['ifnscore_peak_mb']:.0f} | {ppk} | {numbers} |"


def plot(res: dict[str, Any]) -> None:
    g = res.get("scaling")
    if not g:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = [r["samples"] for r in g["scaling"]]
    big = [r for r in g["scaling"] if r["samples"] >= 100_000]

    def slope(key: str) -> float:
        if len(big) < 2:
            return float("nan")
        x = np.log10([r["samples"] for r in big])
        return float(np.polyfit(x, np.log10([r[key] for r in big]), 1)[0])

    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.loglog(
        s,
        [r["fc_sum_s"] for r in g["scaling"]],
        "o-",
        label=f"ifnscore fc_sum (slope {slope('fc_sum_s'):.2f} from 1e5)",
    )
    ax.loglog(
        s,
        [r["floor_s"] for r in g["scaling"]],
        "s--",
        label=f"floor: X @ w (slope {slope('floor_s'):.2f} from 1e5)",
    )
    ax.set_xlabel("samples (cells), 20,000 genes, CSR float32")
    ax.text(0.02, 0.98, "floor: X @ w, float32 w", transform=ax.transAxes, va="top", fontsize=8)
    ax.set_ylabel("seconds (median)")
    ax.set_title("Time vs samples")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(PLOT, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", default="affine,peers,bulk,many,read,dask,ooc,scaling")
    ap.add_argument("--read-genes", type=int, default=20_000, help="rows of the read section's TSV")
    ap.add_argument("--read-samples", type=int, default=2_000, help="its columns")
    ap.add_argument("--read-repeat", type=int, default=3, help="runs per reader, read section")
    ap.add_argument("--many-repeat", type=int, default=3, help="runs per call, many section")
    ap.add_argument("--cells", type=int, default=100_000)
    ap.add_argument("--genes", type=int, default=20_000)
    ap.add_argument(
        "--dense-cells",
        type=int,
        default=20_000,
        help="cells of the dense ndarray in the affine section's container table",
    )
    ap.add_argument("--bulk", type=int, default=10_000, help="samples of the dense bulk cohort")
    ap.add_argument("--gseapy-rows", type=int, default=500, help="bulk samples given to gseapy")
    ap.add_argument("--big", type=int, default=1_000_000, help="cells of the out-of-core files")
    ap.add_argument(
        "--workdir", default="/tmp/ifnscore-bench", help="where the big files are cached"
    )
    ap.add_argument("--repeat", type=int, default=7, help="runs of fast calls")
    ap.add_argument("--slow-repeat", type=int, default=2, help="runs of slow peers (> 10 s)")
    ap.add_argument(
        "--only",
        default="",
        help="peers section: re-time only the rows whose label contains one of these "
        "comma-separated texts (e.g. module_score); the other rows keep the previous run's numbers",
    )
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    ap.add_argument(
        "--render-only",
        action="store_true",
        help="re-render RESULTS.md from the JSON; time nothing",
    )
    args = ap.parse_args(argv)
    res: dict[str, Any] = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    res.pop("big", None)  # the former name of the ooc + scaling sections
    if "cells" not in res.get("ooc", {"cells": 0}):
        res.pop("ooc")  # the ooc section before benchmarks/out_of_core.py (no bare read)
    if args.render_only:
        from ifnscore._io_util import atomic_write

        text = render(res) + _kept_tail()
        atomic_write(RESULTS_MD, lambda p: p.write_text(text))
        return 0
    t0 = time.perf_counter()
    for name in [s.strip() for s in args.sections.split(",") if s.strip()]:
        fn = {
            "affine": section_affine,
            "peers": section_peers,
            "bulk": section_bulk,
            "ooc": section_ooc,
            "dask": section_dask,
            "scaling": section_scaling,
            "many": section_many,
            "read": section_read,
        }[name]
        new = fn(args)
        new["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        new["ifnscore_commit"] = _commit()
        res[name] = merge_rows(res[name], new) if args.only and name in res else new
        res[name]["seconds_total"] = time.perf_counter() - t0
        res["machine"] = machine()
        if not args.no_write:
            from ifnscore._io_util import atomic_write

            RESULTS_JSON.parent.mkdir(exist_ok=True)
            atomic_write(
                RESULTS_JSON, lambda p: p.write_text(json.dumps(res, indent=1, default=float))
            )
            text = render(res) + _kept_tail()
            atomic_write(RESULTS_MD, lambda p, text=text: p.write_text(text))
            plot(res)
        log(f"section {name} done ({time.perf_counter() - t0:.0f} s so far)")
    print(render(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
