"""Rebuild the shipped human gene table (run by maintainers; users never need it).

    python -m ifnscore._genes._build                    # apt-get download + dpkg -x, then build
    python -m ifnscore._genes._build --deb FILE.deb     # use an already downloaded package

Source: Bioconductor's ``org.Hs.eg.db`` annotation package as Debian ships it
(``r-bioc-org.hs.eg.db``). Its ``org.Hs.eg.sqlite`` is built from NCBI Gene (``gene_info``,
``gene2ensembl``) and Ensembl; no R is needed, Python's :mod:`sqlite3` reads it. The script

1. runs ``apt-get download r-bioc-org.hs.eg.db`` in a temporary folder (or takes ``--deb``),
2. unpacks it with ``dpkg -x`` and reads the package name and version with ``dpkg-deb -f``,
3. writes one row per NCBI (Entrez) gene to ``ifnscore/data/genes/human_genes.tsv.gz``:

   ``entrez``
       NCBI Gene ID (table ``genes``).
   ``symbol``
       Official symbol (``gene_info.symbol``; HGNC's where HGNC names the gene).
   ``gene_type``
       NCBI gene type (``genetype``: protein-coding, ncRNA, pseudo, ...).
   ``ensembl``
       Ensembl gene IDs without version, ``|``-separated (table ``ensembl``; a gene has several
       when it also lies on alternative haplotypes, e.g. IFI27: ENSG00000165949 and
       ENSG00000275214).
   ``aliases``
       NCBI Synonyms, i.e. aliases and previous symbols (the source does not tell them apart),
       ``|``-separated, the official symbol itself left out (table ``alias``).

4. writes ``ifnscore/data/genes/provenance.json``: source package, version and SHA-256, the
   database's own ``metadata`` table (NCBI Gene date ``EGSOURCEDATE``, Ensembl date
   ``ENSOURCEDATE``, ...), the build date and row counts.

The gzip stream is written with a fixed timestamp, so the same source gives the same bytes.
Both files are written atomically.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import sqlite3
import subprocess
import tempfile
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from .._io_util import atomic_write

PACKAGE = "r-bioc-org.hs.eg.db"
OUT = Path(__file__).resolve().parent.parent / "data" / "genes"
TABLE = "human_genes.tsv.gz"
PROVENANCE = "provenance.json"
COLUMNS = ("entrez", "symbol", "gene_type", "ensembl", "aliases")
SEP = "|"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(dest: Path) -> Path:
    """``apt-get download`` the source package into ``dest``; return the .deb path."""
    subprocess.run(["apt-get", "download", PACKAGE], cwd=dest, check=True)
    debs = sorted(dest.glob(f"{PACKAGE}_*.deb"))
    if len(debs) != 1:
        raise RuntimeError(f"expected one {PACKAGE} .deb in {dest}, found {debs}")
    return debs[0]


def unpack(deb: Path, dest: Path) -> tuple[dict[str, str], Path]:
    """``dpkg -x`` the package; return its control fields and the sqlite path."""
    fields = {}
    for key in ("Package", "Version"):
        out = subprocess.run(
            ["dpkg-deb", "-f", str(deb), key], check=True, capture_output=True, text=True
        )
        fields[key] = out.stdout.strip()
    subprocess.run(["dpkg", "-x", str(deb), str(dest)], check=True)
    found = sorted(dest.rglob("org.Hs.eg.sqlite"))
    if len(found) != 1:
        raise RuntimeError(f"expected one org.Hs.eg.sqlite in {deb}, found {found}")
    return fields, found[0]


def read_rows(sqlite_path: Path) -> tuple[list[tuple[str, ...]], dict[str, str]]:
    """One row per gene (see the module docstring) and the database's metadata table."""
    con = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        genes = con.execute(
            "select g._id, g.gene_id, i.symbol, coalesce(t.gene_type, '') from genes g "
            "join gene_info i on i._id = g._id left join genetype t on t._id = g._id"
        ).fetchall()
        ensembl: dict[int, set[str]] = {}
        for _id, ens in con.execute("select _id, ensembl_id from ensembl"):
            ensembl.setdefault(_id, set()).add(ens)
        aliases: dict[int, set[str]] = {}
        for _id, alias in con.execute("select _id, alias_symbol from alias"):
            aliases.setdefault(_id, set()).add(alias)
        meta = {str(k): str(v) for k, v in con.execute("select name, value from metadata")}
    finally:
        con.close()
    rows: list[tuple[str, ...]] = []
    for _id, entrez, symbol, gtype in genes:
        ens = sorted(ensembl.get(_id, ()))
        als = sorted(a for a in aliases.get(_id, ()) if a != symbol)
        for v in (symbol, gtype, *ens, *als):
            if SEP in v or "\t" in v or "\n" in v:
                raise RuntimeError(f"identifier {v!r} of gene {entrez} contains a separator")
            if not v.isascii():  # the reader indexes the table as ASCII bytes
                raise RuntimeError(f"identifier {v!r} of gene {entrez} is not ASCII")
        for v in ens:
            if not v.startswith("ENS"):  # resolve_many relies on it
                raise RuntimeError(f"Ensembl ID {v!r} of gene {entrez} does not start with ENS")
        rows.append((str(int(entrez)), symbol, gtype, SEP.join(ens), SEP.join(als)))
    rows.sort(key=lambda r: int(r[0]))
    return rows, meta


def write(rows: list[tuple[str, ...]], provenance: dict, out: Path = OUT) -> None:
    """Write the table (gzip TSV, fixed timestamp: same rows, same bytes) and its provenance."""
    text = "\t".join(COLUMNS) + "\n" + "".join("\t".join(r) + "\n" for r in rows)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    blob = json.dumps(provenance, indent=1, sort_keys=True) + "\n"
    for name, data in ((TABLE, buf.getvalue()), (PROVENANCE, blob.encode("utf-8"))):
        path = atomic_write(out / name, partial(Path.write_bytes, data=data))
        path.chmod(0o644)  # the temporary file was private


def build(deb: Path | None = None, out: Path = OUT) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        deb = download(tmpdir) if deb is None else Path(deb)
        fields, sqlite_path = unpack(deb, tmpdir / "pkg")
        rows, meta = read_rows(sqlite_path)
        provenance = {
            "source": {
                "debian_package": fields["Package"],
                "debian_version": fields["Version"],
                "deb_file": deb.name,
                "deb_sha256": _sha256(deb),
                "sqlite": "org.Hs.eg.sqlite",
                "sqlite_sha256": _sha256(sqlite_path),
                "obtained_with": f"apt-get download {PACKAGE}; dpkg -x",
            },
            "database_metadata": meta,
            "built": datetime.now(UTC).isoformat(timespec="seconds"),
            "built_by": "python -m ifnscore._genes._build",
            "table": TABLE,
            "columns": list(COLUMNS),
            "separator_within_cells": SEP,
            "n_genes": len(rows),
            "n_with_ensembl": sum(1 for r in rows if r[3]),
            "n_ensembl_ids": sum(len(r[3].split(SEP)) for r in rows if r[3]),
            "n_aliases": sum(len(r[4].split(SEP)) for r in rows if r[4]),
        }
    write(rows, provenance, out)
    return provenance


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--deb", type=Path, help=f"an already downloaded {PACKAGE} .deb")
    p.add_argument("--out", type=Path, default=OUT, help="output folder (default: the package's)")
    args = p.parse_args(argv)
    prov = build(args.deb, args.out)
    size = (args.out / TABLE).stat().st_size
    print(
        f"wrote {prov['n_genes']} genes ({prov['n_ensembl_ids']} Ensembl IDs, {prov['n_aliases']} "
        f"aliases) to {args.out / TABLE} ({size / 1e6:.2f} MB) from {prov['source']['debian_package']} "
        f"{prov['source']['debian_version']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
