"""Streaming signature rows vs reading the whole table: time and peak memory.

Generates (once, cached) a genes-as-rows TSV of integer counts, 20,000 genes x 5,000 samples
by default (negative-binomial-like: Poisson with gamma-distributed means; ~250 MB), then runs
each contender in a fresh Python process so peak RSS is its own:

* ``pandas``: ``pandas.read_csv`` of the whole table, then calibrate on the first 100
  samples and score all (``ifnscore.score`` on the DataFrame, genes as rows);
* ``ifnscore``: ``ifnscore.read(path, signature="rice6")`` (keeps 6 rows, sums every column
  in the same pass), then the same calibrate + score.

Both score lists are compared (they must agree to 1e-9 relative). Run:

    PYTHONPATH=. python benchmarks/bench_read.py            # 20,000 x 5,000
    PYTHONPATH=. python benchmarks/bench_read.py --genes 2000 --samples 500 --repeat 1

The clock starts after the imports (numpy, pandas, anndata, ifnscore) in both processes; it
covers reading, calibrating and scoring (and, for ifnscore only, loading the gene table: the
streaming filter keeps rows named by any identifier of a signature gene; the pandas path
matches the exact symbols without it).
Peak memory is the process's peak resident set size (``VmHWM``: unlike ``ru_maxrss``, it does
not carry over the RSS of a large parent process from before the exec), which includes the
interpreter and imported libraries (anndata alone is ~55 MiB of it); the
baseline after imports is reported alongside. Both contenders parse on one core: the
streaming reader by default in the calling thread, ``pandas.read_csv`` always. The load
average is printed before and after, since other work on the machine slows both.

Measured on 2 shared cores, 20,000 x 5,000 (the pandas time swings most with the load from
other jobs, so the speed-up ranges; the memory ratio is stable):

    load 3-4, median of 5:  pandas  9.70 s, ifnscore 1.26 s  -> 7.7x faster
    load 4,   median of 3:  pandas 11.64 s, ifnscore 2.00 s  -> 5.8x faster
    load 3-4, median of 3 (after scipy.stats left the default calibrate path):
                            pandas 1916 MiB, ifnscore 185 MiB peak RSS (161 MiB after imports)
                            -> 10.4x lower peak RSS, 74x lower above the import baseline

Whole tables (``--whole``; :func:`section_read` and :func:`render_read` are the section of
``compare_peers.py``): ``ifnscore.read(path)`` of a genes-as-rows count table, 20,000 genes x
2,000 samples by default, with each of its parsers (polars, pyarrow, pandas: the ``io``
extra's multi-threaded parsers, or pandas without them) against the bare readers of
pandas, polars and pyarrow, each run in a fresh child process (peak RSS its own), medians of
repeated runs in alternation:

    PYTHONPATH=. python benchmarks/bench_read.py --whole
    PYTHONPATH=. python benchmarks/bench_read.py --whole --read-genes 5000 --read-repeat 1

Measured on 2 shared cores (load average 4-6 from other jobs, so every time swings by
tens of per cent between runs; alternation keeps the ratios fairer), 20,000 x 2,000,
97 MiB, uncompressed, median of 3, peak RSS of the child (after imports: ~194 MiB):

    run 1: ifnscore[polars] 5.80 s  771 MiB | bare polars 3.77 s  684 MiB | bare pandas 6.24 s  902 MiB
           ifnscore[pyarrow] 7.97 s 1149 MiB | ifnscore[pandas] 6.58 s 1129 MiB | bare pyarrow 4.66 s 921 MiB
    run 2: ifnscore[polars] 4.10 s  870 MiB | bare polars 4.42 s  661 MiB | bare pandas 6.38 s  902 MiB
           ifnscore[pyarrow] 4.83 s 1145 MiB | ifnscore[pandas] 6.08 s 1129 MiB | bare pyarrow 6.81 s 917 MiB

    run 3: ifnscore[polars] 2.34 s  869 MiB | bare polars 2.59 s  692 MiB | bare pandas 4.23 s  901 MiB
           ifnscore[pyarrow] 3.68 s 1142 MiB | ifnscore[pandas] 5.96 s 1128 MiB | bare pyarrow 2.43 s 921 MiB
           (fastest runs: ifnscore[polars] 2.16 s, bare polars 1.30 s, bare pandas 3.41 s)

    after pyarrow's pool hands freed columns back while the matrix fills (now the default):
    run 4: ifnscore[pyarrow] 2.37 s  832 MiB | ifnscore[polars] 2.80 s  948 MiB
           bare polars 2.90 s  661 MiB | bare pandas 4.81 s  903 MiB | bare pyarrow 4.39 s 920 MiB
    run 5: ifnscore[pyarrow] 4.08 s  837 MiB | ifnscore[polars] 4.16 s  845 MiB
           bare polars 2.55 s  661 MiB | bare pandas 4.47 s  902 MiB (median of 4)
    run 6 (default = pyarrow): ifnscore 3.29 s (fastest 1.77) 837 MiB | bare polars 2.26 s 676 MiB
           bare pandas 4.68 s 904 MiB | bare pyarrow 3.41 s 920 MiB | ifnscore[pandas] 5.57 s 1129 MiB
    (a 500 x 50 table: ifnscore.read ~0.43 s with any parser, bare readers 0.01-0.04 s: the
    fixed cost is sniffing the format and matching the labels against the gene table.)

(run 1 before pyarrow's quick try, run 3 at the lowest load; ifnscore's time includes
sniffing the format, the orientation from the labels and the AnnData, ~0.5 s of it not
spent parsing; the runs of one contender spread up to 3x with the load.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RICE6 = ["IFI27", "IFI44L", "IFIT1", "ISG15", "RSAD2", "SIGLEC1"]

CHILD = r"""
import json, sys, time
def _hwm():  # peak RSS of this process image: VmHWM restarts at exec, ru_maxrss does not
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
import anndata, numpy as np, pandas as pd
import ifnscore
base = _hwm()
path, how = sys.argv[1], sys.argv[2]
t = time.perf_counter()
if how == "pandas":
    data = pd.read_csv(path, sep="\t", index_col=0)
    kw = {"rows": "genes"}
    controls = data.iloc[:, :100]
else:
    data = ifnscore.read(path, signature="rice6")
    kw = {}
    controls = data[:100]
ref = ifnscore.calibrate(controls, signature="rice6", method="fc_sum", scale="counts", **kw)
res = ifnscore.score(data, reference=ref, scale="counts", **kw)
scores = (res["score"] if how == "pandas" else data.obs["ifnscore"]).to_numpy()
elapsed = time.perf_counter() - t
peak = _hwm()
print(json.dumps({"seconds": elapsed, "peak_mib": peak, "baseline_mib": base, "scores": scores[:50].tolist(),
                  "checksum": float(np.sum(scores))}))
"""


def make_table(path: Path, n_genes: int, n_samples: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    genes = [*RICE6, *(f"GENE{i:05d}" for i in range(n_genes - len(RICE6)))]
    rng.shuffle(genes)
    mu = np.exp(rng.normal(2.0, 2.0, n_genes))
    tmp = path.with_suffix(".part")
    with open(tmp, "w") as f:
        f.write("gene\t" + "\t".join(f"S{i:05d}" for i in range(n_samples)) + "\n")
        for s in range(0, n_genes, 500):
            blk = rng.poisson(
                mu[s : s + 500, None] * rng.gamma(5, 0.2, (min(500, n_genes - s), n_samples))
            )
            f.write(
                "".join(
                    f"{genes[s + k]}\t" + "\t".join(map(str, row.tolist())) + "\n"
                    for k, row in enumerate(blk)
                )
            )
    os.replace(tmp, path)


def run(path: Path, how: str) -> dict:
    return _child(CHILD, str(path), how)


WHOLE_CHILD = r"""
import hashlib, json, sys, time
def _hwm():  # peak RSS of this process image: VmHWM restarts at exec, ru_maxrss does not
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
import numpy as np, pandas as pd, anndata, polars as pl, pyarrow as pa, pyarrow.csv as pcsv
import ifnscore
from ifnscore._io import _delimited
path, how, sep = sys.argv[1], sys.argv[2], sys.argv[3]
base = _hwm()
if how.startswith("ifnscore"):
    engine = how.partition(":")[2]
    _delimited.FAST_ENGINES = {"": _delimited.FAST_ENGINES, "pandas": ()}.get(engine, (engine,))
t = time.perf_counter()
if how.startswith("ifnscore"):
    out = ifnscore.read(path)
elif how == "pandas":
    out = pd.read_csv(path, sep=sep, index_col=0)
elif how == "polars":
    out = pl.read_csv(path, separator=sep)
else:
    out = pcsv.read_csv(path, parse_options=pcsv.ParseOptions(delimiter=sep))
seconds = time.perf_counter() - t
peak = _hwm()
if how.startswith("ifnscore"):
    X = np.ascontiguousarray(out.X)
    digest = hashlib.sha256(X.tobytes()).hexdigest()[:16]
    used, total = out.uns["ifnscore_read"].get("engine", "?"), float(X.sum())
elif how == "pandas":
    digest, used, total = None, how, float(out.to_numpy(dtype=np.float64).sum())
elif how == "polars":
    digest, used, total = None, how, float(out.drop(out.columns[0]).sum_horizontal().sum())
else:
    digest, used = None, how
    total = float(sum(pa.compute.sum(c).as_py() for c in out.columns[1:]))
print(json.dumps({"seconds": seconds, "peak_mib": peak, "baseline_mib": base, "digest": digest,
                  "engine": used, "total": total}))
"""

#: Contenders of the whole-table section: ifnscore (its default parser), with polars, with
#: pandas, then the bare readers.
WHOLE = ("ifnscore", "ifnscore:polars", "ifnscore:pandas", "pandas", "polars", "pyarrow")


def _child(code: str, *argv: str) -> dict[str, Any]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env
    )
    if out.returncode != 0:
        raise RuntimeError(f"child {argv} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _compressed(path: Path, comp: str) -> Path:
    """``path`` compressed as ``comp`` ("none", "gz", "bz2", "xz", "zst"), made once."""
    if comp == "none":
        return path
    out = path.with_name(path.name + "." + comp)
    if not out.exists():
        import bz2
        import gzip
        import lzma

        data = path.read_bytes()
        if comp == "gz":
            blob = gzip.compress(data, compresslevel=6, mtime=0)
        elif comp == "bz2":
            blob = bz2.compress(data)
        elif comp == "xz":
            blob = lzma.compress(data, preset=1)
        else:
            import zstandard

            blob = zstandard.ZstdCompressor(level=3).compress(data)
        tmp = out.with_name(out.name + ".part")
        tmp.write_bytes(blob)
        os.replace(tmp, out)
    return out


def section_read(args: Any) -> dict[str, Any]:
    """Whole-table reading: ``ifnscore.read`` with each parser vs the bare readers of pandas,
    polars and pyarrow (see the module docstring). Options read from ``args`` when present:
    ``read_genes`` (20,000), ``read_samples`` (2,000), ``read_repeat`` (3),
    ``read_compression`` ("none"), ``data`` or ``workdir`` (where the table is cached)."""
    import polars
    import pyarrow

    genes = int(getattr(args, "read_genes", 20_000))
    samples = int(getattr(args, "read_samples", 2_000))
    repeat = int(getattr(args, "read_repeat", 3))
    comp = str(getattr(args, "read_compression", "none"))
    folder = Path(
        getattr(args, "data", None)
        or getattr(args, "workdir", None)
        or Path(tempfile.gettempdir()) / "ifnscore_bench"
    )
    folder.mkdir(parents=True, exist_ok=True)
    plain = folder / f"counts_{genes}x{samples}.tsv"
    if not plain.exists():
        make_table(plain, genes, samples)
    path = _compressed(plain, comp)
    contenders = [c for c in WHOLE if comp == "none" or c.startswith("ifnscore") or c == "pandas"]
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in contenders}
    for _ in range(repeat):  # alternate, so drifts in machine load hit all alike
        for c in contenders:
            runs[c].append(_child(WHOLE_CHILD, str(path), c, "\t"))
    med = {
        c: {
            k: float(np.median([r[k] for r in rs])) for k in ("seconds", "peak_mib", "baseline_mib")
        }
        | {"engine": rs[0]["engine"], "runs_s": [round(r["seconds"], 3) for r in rs]}
        for c, rs in runs.items()
    }
    digests = {runs[c][0]["digest"] for c in contenders if c.startswith("ifnscore")}
    totals = {c: runs[c][0]["total"] for c in contenders}
    ref = totals["pandas"]
    return {
        "genes": genes,
        "samples": samples,
        "file_mb": path.stat().st_size / 2**20,
        "text_mb": plain.stat().st_size / 2**20,
        "compression": comp,
        "repeat": repeat,
        "cores": os.cpu_count(),
        "threads": {"polars": polars.thread_pool_size(), "pyarrow": pyarrow.cpu_count()},
        "versions": {"polars": polars.__version__, "pyarrow": pyarrow.__version__},
        "results": med,
        "identical_across_parsers": len(digests) == 1,
        "totals_agree": all(abs(t - ref) <= 1e-9 * max(abs(ref), 1.0) for t in totals.values()),
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
    }


def render_read(res: dict[str, Any]) -> str:
    """Markdown for RESULTS.md from :func:`section_read`'s result."""
    r = res["results"]
    L = [f"## Reading whole tables ({res['genes']:,} genes x {res['samples']:,} samples)\n"]
    comp = "uncompressed" if res["compression"] == "none" else res["compression"]
    L.append(
        f"Workload: a genes-as-rows TSV of integer counts, {res['genes']:,} rows x "
        f"{res['samples']:,} columns, {res['file_mb']:.0f} MiB on disk ({comp}; "
        f"{res['text_mb']:.0f} MiB of text); {res['cores']} cores, polars "
        f"{res['threads']['polars']} threads, pyarrow {res['threads']['pyarrow']} threads "
        f"(polars {res['versions']['polars']}, pyarrow {res['versions']['pyarrow']}). Each run in "
        f"a fresh child process that has imported numpy, pandas, anndata, polars, pyarrow and "
        f"ifnscore; median of {res['repeat']} runs in alternation. Peak memory is the child's "
        "peak RSS (`VmHWM`, Arrow's and polars' buffers included); above the baseline "
        "after the imports beside it. ifnscore returns a samples x genes float64 AnnData (the "
        "checks, the orientation and the labels included); the bare readers their own table "
        "(int64 columns, no checks).\n"
    )
    L.append(
        "| reader | parser | seconds (median) | fastest run | vs polars | vs pandas | "
        "peak RSS MiB | above imports MiB |"
    )
    L.append("|---|---|---:|---:|---:|---:|---:|---:|")
    pol = r.get("polars", {}).get("seconds")
    pan = r["pandas"]["seconds"]
    for name, m in r.items():
        who = "ifnscore.read" if name.startswith("ifnscore") else f"{name} (bare)"
        vs_pol = f"{m['seconds'] / pol:.2f}x" if pol else "-"
        L.append(
            f"| {who} | {m['engine']} | {m['seconds']:.2f} | {min(m['runs_s']):.2f} | {vs_pol} | "
            f"{m['seconds'] / pan:.2f}x | "
            f"{m['peak_mib']:.0f} | {m['peak_mib'] - m['baseline_mib']:.0f} |"
        )
    L.append("")
    L.append(
        f"The three ifnscore parsers give the same table bit for bit: "
        f"{'yes' if res['identical_across_parsers'] else 'NO'}; the sums of all values agree "
        f"with pandas: {'yes' if res['totals_agree'] else 'NO'}. Load average (1, 5, 15 min) "
        f"before {', '.join(f'{x:.1f}' for x in res['load_average_before'])}, after "
        f"{', '.join(f'{x:.1f}' for x in res['load_average_after'])}; the ratios are of the "
        "medians.\n"
    )
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--genes", type=int, default=20_000)
    ap.add_argument("--samples", type=int, default=5_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per contender (median reported)")
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "ifnscore_bench")
    ap.add_argument("--whole", action="store_true", help="whole-table reading instead of streaming")
    ap.add_argument("--read-genes", type=int, default=20_000, help="--whole: rows of the table")
    ap.add_argument("--read-samples", type=int, default=2_000, help="--whole: its columns")
    ap.add_argument("--read-repeat", type=int, default=3, help="--whole: runs per contender")
    ap.add_argument(
        "--read-compression",
        default="none",
        choices=["none", "gz", "bz2", "xz", "zst"],
        help="--whole: the table compressed so (then only ifnscore and pandas are timed)",
    )
    ap.add_argument("--json", type=Path, help="--whole: also write the result here")
    args = ap.parse_args()
    if args.whole:
        res = section_read(args)
        if args.json:
            args.json.write_text(json.dumps(res, indent=1))
        print(render_read(res))
        return
    args.data.mkdir(parents=True, exist_ok=True)
    path = args.data / f"counts_{args.genes}x{args.samples}.tsv"
    if not path.exists():
        t = time.perf_counter()
        make_table(path, args.genes, args.samples)
        print(
            f"generated {path} ({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t:.0f} s"
        )
    load_before = os.getloadavg()
    results: dict[str, list[dict]] = {"pandas": [], "ifnscore": []}
    for _ in range(args.repeat):  # alternate, so drifts in machine load hit both
        for how in results:
            results[how].append(run(path, how))
    a, b = results["pandas"][0], results["ifnscore"][0]
    np.testing.assert_allclose(a["scores"], b["scores"], rtol=1e-9)
    np.testing.assert_allclose(a["checksum"], b["checksum"], rtol=1e-9)
    med = {
        h: {
            k: float(np.median([r[k] for r in rs])) for k in ("seconds", "peak_mib", "baseline_mib")
        }
        for h, rs in results.items()
    }
    print(
        f"table {args.genes} genes x {args.samples} samples, {path.stat().st_size / 2**20:.0f} MiB; median of {args.repeat}"
    )
    for h, m in med.items():
        print(
            f"  {h:9s} {m['seconds']:7.2f} s   peak RSS {m['peak_mib']:7.0f} MiB (after imports {m['baseline_mib']:.0f} MiB)"
        )
    p, i = med["pandas"], med["ifnscore"]
    print(
        f"  speed-up {p['seconds'] / i['seconds']:.1f}x; peak RSS {p['peak_mib'] / i['peak_mib']:.1f}x lower; "
        f"above the import baseline {(p['peak_mib'] - p['baseline_mib']) / max(i['peak_mib'] - i['baseline_mib'], 1):.0f}x lower"
    )
    print("  scores agree (rtol 1e-9)")
    after = os.getloadavg()
    print(
        f"  load average (1, 5, 15 min) before {', '.join(f'{x:.1f}' for x in load_before)}; "
        f"after {', '.join(f'{x:.1f}' for x in after)} ({os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
