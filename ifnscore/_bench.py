"""``ifnscore bench``: time scoring on a synthetic cohort, to size a job.

Builds a seeded sparse single-cell count matrix (:func:`ifnscore.datasets.simulate_sparse`)
in the chosen container, scores it with each chosen method, and reports the median wall time
of repeated runs, the throughput (samples per second), the peak memory allocated while
scoring (``tracemalloc``: numpy and scipy buffers, i.e. the *extra* memory beyond the data)
and, for in-memory containers, the ratio to the floor: one bare sparse matrix-vector product
``X @ w`` over the same matrix (``w`` float32 like the data: scipy's cheapest product).

Reference-relative methods are calibrated on the bundled example's healthy controls (bulk
RNA-seq counts; only the signature genes' medians are used), so the numbers are timings, not
a biological analysis.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = [
    "CONTAINERS",
    "Data",
    "configure_parser",
    "make_data",
    "peak_bytes",
    "reference_for",
    "run",
    "timings",
]

CONTAINERS = ("csr", "csc", "dense", "h5ad", "zarr", "dask")


@dataclass
class Data:
    """A benchmark matrix in one container, plus its in-memory CSR twin (for the floor)."""

    data: Any  # what is passed to ifnscore.score
    genes: pd.Index
    csr: sp.csr_matrix
    container: str
    nbytes: int  # bytes of the stored matrix (data + indices + indptr, or the dense array)

    @property
    def n_cells(self) -> int:
        return int(self.csr.shape[0])


def make_data(
    n_cells: int,
    n_genes: int,
    *,
    density: float,
    container: str,
    seed: int = 0,
    workdir: str | os.PathLike | None = None,
) -> Data:
    """Simulate the matrix and put it in ``container`` (files go under ``workdir``)."""
    from .datasets import simulate_sparse

    if container not in CONTAINERS:
        raise ValueError(f"container={container!r} is not one of {CONTAINERS}.")
    adata = simulate_sparse(n_cells, n_genes, density=density, seed=seed)
    X = adata.X
    genes = adata.var_names
    sparse_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    if container == "csr":
        return Data(X, genes, X, container, sparse_bytes)
    if container == "csc":
        return Data(X.tocsc(), genes, X, container, sparse_bytes)
    if container == "dense":
        D = X.toarray()
        return Data(D, genes, X, container, D.nbytes)
    if container in ("h5ad", "zarr") and workdir is None:
        raise ValueError(f"container={container!r} needs a workdir for its files.")
    path = Path(workdir or ".")
    if container == "h5ad":
        import anndata as ad

        adata.write_h5ad(path / "bench.h5ad")
        return Data(
            ad.read_h5ad(path / "bench.h5ad", backed="r"), genes, X, container, sparse_bytes
        )
    if container == "zarr":
        import anndata as ad
        import zarr

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # anndata's zarr v2/v3 notice
            adata.write_zarr(path / "bench.zarr")
        group = zarr.open_group(str(path / "bench.zarr"), mode="r")
        lazy = ad.AnnData(X=ad.io.sparse_dataset(group["X"]), obs=adata.obs, var=adata.var)
        return Data(lazy, genes, X, container, sparse_bytes)
    # dask: scipy CSR chunks of 10,000 rows, read lazily by dask's scheduler
    import dask
    import dask.array as da

    rows = 10_000
    parts = [
        da.from_delayed(
            dask.delayed(X.__getitem__)(slice(a, min(a + rows, n_cells))),
            shape=(min(a + rows, n_cells) - a, n_genes),
            dtype=X.dtype,
            meta=X[:0],
        )
        for a in range(0, n_cells, rows)
    ]
    return Data(da.concatenate(parts, axis=0), genes, X, container, sparse_bytes)


def reference_for(method: str, signatures: Sequence[str]) -> Any:
    """A reference for ``method`` calibrated on the bundled healthy controls, or None."""
    from . import calibrate, datasets
    from ._methods import get_method

    if not get_method(method).needs_reference:
        return None
    counts, samples = datasets.load_example(as_frame=True)
    controls = counts[samples["group"] == "control"]
    return calibrate(controls, signature=list(signatures), method=method, scale="counts")


def scorer(data: Data, method: str, signatures: Sequence[str]) -> Callable[[], Any]:
    """A no-argument function that scores ``data`` once (AnnData: written to a copy of obs)."""
    from . import score

    ref = reference_for(method, signatures)
    sig = list(signatures) if len(signatures) > 1 else signatures[0]
    kwargs: dict[str, Any] = {"signature": sig, "method": method, "scale": "counts"}
    if ref is not None:
        kwargs["reference"] = ref
    if type(data.data).__name__ == "AnnData":
        return lambda: score(data.data, **kwargs)
    return lambda: score(data.data, genes=data.genes, rows="samples", **kwargs)


def floor(data: Data, signatures: Sequence[str]) -> Callable[[], Any]:
    """The floor: one bare ``X @ w`` with weights of the data's float type (for float32 data
    one pass and no allocation; float64 weights would make scipy copy the data first)."""
    from ._signatures import as_signatures

    genes = {g for s in as_signatures(list(signatures)) for g in s.all_genes}
    X = data.csr
    dtype = X.dtype if X.dtype.kind == "f" else np.float64
    w = np.asarray(data.genes.isin(genes), dtype=dtype)
    return lambda: X @ w


def timings(
    fns: dict[str, Callable[[], Any]],
    repeat: int,
    *,
    progress: Callable[[str], None] | None = None,
) -> dict[str, list[float]]:
    """Wall times of each function, run in alternation ``repeat`` times (after one warm-up);
    ``progress`` is told of each call as it ends."""
    out: dict[str, list[float]] = {k: [] for k in fns}
    for k, f in fns.items():
        t = time.perf_counter()
        f()
        if progress is not None:
            progress(f"warm-up  {k}: {time.perf_counter() - t:.3f} s")
    for r in range(repeat):
        for k, f in fns.items():
            gc.collect()
            t = time.perf_counter()
            f()
            out[k].append(time.perf_counter() - t)
            if progress is not None:
                progress(f"run {r + 1}/{repeat}  {k}: {out[k][-1]:.3f} s")
    return out


def peak_bytes(fn: Callable[[], Any]) -> int:
    """Peak memory allocated (and traced by ``tracemalloc``) while ``fn`` runs."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return int(peak)


@contextlib.contextmanager
def _workdir(container: str) -> Iterator[str | None]:
    if container in ("h5ad", "zarr"):
        d = tempfile.mkdtemp(prefix="ifnscore-bench-")
        try:
            yield d
        finally:
            shutil.rmtree(d, ignore_errors=True)
    else:
        yield None


def run(
    *,
    n_cells: int = 100_000,
    n_genes: int = 20_000,
    density: float = 0.0465,
    methods: Sequence[str] = ("fc_sum", "z_sum", "mean_log"),
    signatures: Sequence[str] = ("rice6",),
    container: str = "csr",
    repeat: int = 3,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Benchmark ``methods`` on a simulated matrix; one row per method (plus the floor).
    ``progress`` (e.g. ``print``) is told what is being done: the simulation, each timed call
    and each memory measurement."""
    from ._methods import get_method

    say = progress or (lambda message: None)
    for m in methods:
        get_method(m)  # unknown names fail before the (slow) simulation
    with _workdir(container) as wd:
        say(f"simulating {n_cells:,} cells x {n_genes:,} genes ({container}, seed {seed}) ...")
        t = time.perf_counter()
        data = make_data(
            n_cells, n_genes, density=density, container=container, seed=seed, workdir=wd
        )
        say(f"simulated {int(data.csr.nnz):,} non-zeros in {time.perf_counter() - t:.1f} s")
        fns = {m: scorer(data, m, signatures) for m in methods}
        in_memory = container in ("csr", "csc", "dense")
        if in_memory:
            fns["floor: X @ w"] = floor(data, signatures)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. cohort-dependent methods with a limit
            times = timings(fns, repeat, progress=progress)
            peaks = {}
            for k, f in fns.items():
                say(f"peak memory  {k} ...")
                peaks[k] = peak_bytes(f)
    floor_t = statistics.median(times["floor: X @ w"]) if in_memory else None
    rows = []
    for k, ts in times.items():
        med = statistics.median(ts)
        rows.append(
            {
                "method": k,
                "container": container,
                "cells": data.n_cells,
                "genes": n_genes,
                "nnz": int(data.csr.nnz),
                "seconds": med,
                "samples_per_s": data.n_cells / med,
                "peak_extra_mb": peaks[k] / 2**20,
                "peak_pct_of_matrix": 100.0 * peaks[k] / data.nbytes,
                "x_floor": med / floor_t if floor_t else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("method")


def configure_parser(p: argparse.ArgumentParser) -> None:
    """Arguments of ``ifnscore bench`` (the subparser is made by ``ifnscore.cli``)."""
    p.add_argument(
        "--cells", type=int, default=100_000, help="samples (rows) (default: %(default)s)"
    )
    p.add_argument(
        "--genes", type=int, default=20_000, help="genes (columns) (default: %(default)s)"
    )
    p.add_argument(
        "--density",
        type=float,
        default=0.0465,
        help="fraction of non-zero entries (default: %(default)s)",
    )
    p.add_argument(
        "--methods",
        default=None,
        help=f"comma-separated methods (default: {_TIMING_METHODS}; with --accuracy: all); "
        "see `ifnscore.list_methods()`",
    )
    p.add_argument(
        "--signatures",
        default=None,
        help=f"comma-separated signatures (default: {_TIMING_SIGNATURES}; with --accuracy: all)",
    )
    p.add_argument(
        "--container",
        choices=CONTAINERS,
        default="csr",
        help="how the matrix is held (default: %(default)s)",
    )
    p.add_argument(
        "--repeat", type=int, default=3, help="timed runs per method (default: %(default)s)"
    )
    p.add_argument("--seed", type=int, default=0, help="simulation seed (default: %(default)s)")
    p.add_argument(
        "--threads", type=int, default=None, help="threads for in-memory scans (default: all CPUs)"
    )
    p.add_argument("-o", "--output", default=None, help="also write the table (.csv, .tsv, .json)")

    acc = p.add_argument_group(
        "accuracy on labelled data (--accuracy; see benchmarks/accuracy.py and docs/accuracy.md)"
    )
    acc.add_argument(
        "--accuracy",
        action="store_true",
        help="instead of timing: AUROC, margins and calls of every method x signature on "
        "--data labelled by --samples",
    )
    from ._accuracy import add_arguments

    add_arguments(acc, standalone=False)
    p.set_defaults(func=_cmd_bench)


_TIMING_METHODS = "fc_sum,z_sum,mean_log"
_TIMING_SIGNATURES = "rice6"
#: Timing options and their defaults: given with --accuracy they would be ignored, so refused.
_TIMING_ONLY = {
    "cells": 100_000,
    "genes": 20_000,
    "density": 0.0465,
    "container": "csr",
    "repeat": 3,
    "seed": 0,
    "threads": None,
    "output": None,
}
#: Accuracy options and their defaults: given without --accuracy they would be ignored.
_ACCURACY_ONLY = {
    "data": None,
    "samples": None,
    "example": False,
    "scale": "auto",
    "out": ".",
    "exclude_genes": "",
    "title": "",
}


def _progress(t0: float) -> Callable[[str], None]:
    """Progress lines on standard error (the table goes to standard output), with the time
    since the start."""

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - t0:7.1f} s] {message}", file=sys.stderr, flush=True)

    return say


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _cmd_bench(args: argparse.Namespace) -> int:
    from ._io._frame import write_frame
    from .errors import InputError

    if args.accuracy:
        given = [_flag(k) for k, v in _TIMING_ONLY.items() if getattr(args, k) != v]
        if given:
            raise InputError(
                f"{', '.join(given)} time the synthetic benchmark and do not apply to --accuracy; "
                "leave them out."
            )
        from ._accuracy import run_from_args

        return run_from_args(args)
    given = [_flag(k) for k, v in _ACCURACY_ONLY.items() if getattr(args, k) != v]
    if given:
        raise InputError(f"{', '.join(given)} need --accuracy; add it, or leave them out.")
    args.methods = args.methods or _TIMING_METHODS
    args.signatures = args.signatures or _TIMING_SIGNATURES

    for name in ("cells", "genes", "repeat"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name} must be at least 1, got {getattr(args, name)}.")
    if not (0.0 < args.density < 0.5):
        raise InputError(f"--density must be in (0, 0.5), got {args.density}.")
    if args.threads is not None:
        if args.threads < 1:
            raise InputError(f"--threads must be at least 1, got {args.threads}.")
        os.environ["IFNSCORE_NUM_THREADS"] = str(args.threads)
    from ._gather import n_threads

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    sigs = [s.strip() for s in args.signatures.split(",") if s.strip()]
    t0 = time.perf_counter()
    table = run(
        n_cells=args.cells,
        n_genes=args.genes,
        density=args.density,
        methods=methods,
        signatures=sigs,
        container=args.container,
        repeat=args.repeat,
        seed=args.seed,
        progress=None if getattr(args, "quiet", False) else _progress(t0),
    )
    out = sys.stdout
    r = table.iloc[0]
    print(
        f"ifnscore bench: {int(r['cells']):,} cells x {int(r['genes']):,} genes, "
        f"{int(r['nnz']):,} non-zeros ({args.container}), signatures {', '.join(sigs)}; "
        f"{n_threads()} thread(s); median of {args.repeat} runs",
        file=out,
    )
    show = table[["seconds", "samples_per_s", "peak_extra_mb", "peak_pct_of_matrix", "x_floor"]]
    with pd.option_context("display.float_format", "{:,.3f}".format, "display.width", 120):
        print(show.to_string(), file=out)
    print(f"(total {time.perf_counter() - t0:.1f} s including the simulation)", file=out)
    if args.output:
        path = write_frame(table, args.output, arg="-o")
        print(f"wrote {path}", file=out)
    return 0
