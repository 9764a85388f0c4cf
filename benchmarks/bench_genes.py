"""Gene identifier resolution: first load of the table, then resolving 60,000 Ensembl IDs.

    PYTHONPATH=. python benchmarks/bench_genes.py [--repeat 7]

The 60,000 IDs are the size of a GENCODE gene annotation: every Ensembl ID in the shipped
table (about 40,000) plus made-up ENSG IDs absent from it, all with a version suffix, shuffled
(seed 0). Timed: ``map_genes(ids)``, and ``match_genes`` of every registry signature gene
against those IDs as a fresh gene index (what ``score()`` does once per call). Prints medians
of ``--repeat`` runs, the size of the table and of ``ifnscore/data/genes`` on disk. Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from importlib import resources
from pathlib import Path


def _median_time(fn, repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (steadier on a busy machine)."""
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--n", type=int, default=60_000)
    args = p.parse_args(argv)

    t = time.perf_counter()
    import numpy as np
    import pandas as pd

    import ifnscore
    from ifnscore._genes import load_table, match_genes, table_provenance

    t_import = time.perf_counter() - t
    t, c = time.perf_counter(), time.process_time()
    table = load_table()
    t_load, c_load = time.perf_counter() - t, time.process_time() - c

    known = sorted({e for ens in table.ensembl if ens for e in ens.split("|")})
    n_fake = max(0, args.n - len(known))
    fake = [f"ENSG{90000000000 + i:011d}" for i in range(n_fake)]
    rng = np.random.default_rng(0)
    ids = [f"{e}.{rng.integers(1, 20)}" for e in known + fake][: args.n]
    ids = [ids[i] for i in rng.permutation(len(ids))]
    wanted = sorted(
        {
            g
            for name in ifnscore.list_signatures().index
            for g in ifnscore.get_signature(name).all_genes
        }
    )

    res = ifnscore.map_genes(ids)
    n_mapped = int(res["symbol"].notna().sum())
    t_map = _median_time(lambda: ifnscore.map_genes(ids), args.repeat)

    def match_fresh() -> None:
        # a new Index object each time, so nothing is reused from the previous call
        match_genes(wanted, pd.Index(ids), duplicates="sum")

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # IFI27, IRF7, LY6E have two Ensembl IDs each: summed
        t_match = _median_time(match_fresh, args.repeat)
        matches = match_genes(wanted, pd.Index(ids))
    n_found = sum(m.found for m in matches)

    folder = Path(str(resources.files("ifnscore").joinpath("data/genes")))
    files = {f.name: f.stat().st_size for f in sorted(folder.iterdir()) if f.is_file()}
    prov = table_provenance()
    src = prov["source"]
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}")
    print(
        f"gene table: {len(table)} genes, {prov['n_ensembl_ids']} Ensembl IDs, {prov['n_aliases']} "
        f"aliases; from {src['debian_package']} {src['debian_version']} "
        f"(NCBI Gene {prov['database_metadata'].get('EGSOURCEDATE')})"
    )
    for name, size in files.items():
        print(f"  {folder.name}/{name}: {size / 1e6:.3f} MB")
    print(f"  installed total: {sum(files.values()) / 1e6:.3f} MB")
    print(f"import ifnscore: {t_import:.3f} s")
    print(
        f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"
    )
    print(f"first load of the table (read + index): wall {t_load:.3f} s, CPU {c_load:.3f} s")
    print(
        f"map_genes({len(ids)} versioned Ensembl IDs): median wall {t_map[0]:.3f} s, CPU "
        f"{t_map[1]:.3f} s over {args.repeat} runs; {n_mapped} mapped"
    )
    print(
        f"match_genes({len(wanted)} signature genes vs {len(ids)} Ensembl IDs, fresh index): "
        f"median wall {t_match[0]:.3f} s, CPU {t_match[1]:.3f} s; {n_found} of {len(wanted)} found"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
