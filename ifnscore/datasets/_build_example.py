"""Rebuild the bundled example files (run by maintainers, not at import).

    python -m ifnscore.datasets._build_example --genes-from org.Hs.eg.sqlite   # gene universe
    python -m ifnscore.datasets._build_example                                # example cohort

Step 1 picks the simulator's gene universe: every signature gene in the registry, common
housekeeping genes and further interferon-stimulated genes, plus protein-coding genes drawn
at random (seed 0) from NCBI Gene (Bioconductor org.Hs.eg.db, Debian package
r-bioc-org.hs.eg.db), keeping only genes whose Ensembl IDs map back to them alone (the lowest,
primary-assembly ID is kept), so the same data can be re-keyed by symbol, Ensembl or Entrez without ambiguity.
Step 2 simulates the example cohort with :func:`ifnscore.datasets.simulate_cohort` (seed 2026).
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from ._simulate import HOUSEKEEPING, ISG_RESPONSE

DATA = Path(__file__).parent / "data"
N_GENES = 2000


def build_gene_universe(sqlite_path: str, n_genes: int = N_GENES) -> pd.DataFrame:
    con = sqlite3.connect(sqlite_path)
    q = """
    select g.gene_id as entrez, i.symbol as symbol, e.ensembl_id as ensembl, t.gene_type as gene_type
    from genes g join gene_info i on g._id = i._id
    join ensembl e on g._id = e._id
    left join genetype t on g._id = t._id
    """
    df = pd.read_sql_query(q, con)
    n_gene = df.groupby("ensembl")["entrez"].transform("nunique")
    shared = set(df.loc[n_gene > 1, "entrez"])
    # genes whose Ensembl IDs all map back to them alone; the lowest ID is the primary-assembly
    # one (the others are alternative-haplotype copies such as IFI27's ENSG00000275214)
    df = df[~df["entrez"].isin(shared)].sort_values("ensembl").drop_duplicates("entrez")
    wanted = set(ISG_RESPONSE) | set(HOUSEKEEPING)
    from .._signatures import _registry

    for sig in _registry().values():
        wanted.update(sig.all_genes)
    must = df[df["symbol"].isin(wanted)]
    lost = sorted(wanted - set(must["symbol"]))
    if lost:
        print("not one-to-one in the source, left out:", lost)
    pool = df[(df["gene_type"] == "protein-coding") & ~df["symbol"].isin(wanted)]
    rng = np.random.default_rng(0)
    extra = pool.iloc[np.sort(rng.choice(len(pool), n_genes - len(must), replace=False))]
    out = pd.concat([must, extra]).sort_values("symbol")[["symbol", "entrez", "ensembl"]]
    return out.reset_index(drop=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--genes-from", help="path to org.Hs.eg.sqlite: rebuild the gene universe")
    args = p.parse_args()
    if args.genes_from:
        genes = build_gene_universe(args.genes_from)
        genes.to_csv(DATA / "genes.tsv", sep="\t", index=False)
        print(f"wrote {len(genes)} genes to {DATA / 'genes.tsv'}")
        return
    from ._simulate import write_example

    write_example(DATA)


if __name__ == "__main__":
    main()
