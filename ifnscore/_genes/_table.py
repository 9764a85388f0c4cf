"""The shipped human gene table and the lookup of one identifier in it.

The table (``ifnscore/data/genes/human_genes.tsv.gz``, one row per NCBI Gene ID, built by
:mod:`ifnscore._genes._build` from Bioconductor's org.Hs.eg.db) is read on first use and cached
for the life of the process. Its provenance is in ``provenance.json`` next to it
(:func:`table_provenance`).
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

__all__ = [
    "ID_TYPES",
    "GeneTable",
    "Hit",
    "IdType",
    "classify",
    "load_table",
    "table_provenance",
]

IdType = Literal["auto", "symbol", "ensembl", "entrez"]
ID_TYPES = ("auto", "symbol", "ensembl", "entrez")
Kind = Literal["symbol", "ensembl", "entrez"]

# Ensembl gene IDs (any species prefix; the table holds human ENSG only), with an optional
# version (ENSG00000165949.12) and GENCODE's pseudo-autosomal copy suffix (..._PAR_Y).
ENSEMBL_RE = re.compile(r"^(ENS[A-Z]*G\d{11})(\.\d+)?(_PAR_Y)?$", re.IGNORECASE)
ENTREZ_RE = re.compile(r"^[1-9]\d*$")

_DATA = ("ifnscore", "data/genes")
_TABLE = "human_genes.tsv.gz"
_PROVENANCE = "provenance.json"
_SEP = "|"


def classify(name: str) -> Kind:
    """The kind of identifier ``name`` looks like: ``"ensembl"``, ``"entrez"`` or ``"symbol"``."""
    if ENSEMBL_RE.match(name):
        return "ensembl"
    if ENTREZ_RE.match(name):
        return "entrez"
    return "symbol"


@dataclass(frozen=True)
class Hit:
    """What one identifier resolved to: table rows (genes) and the route that found them.

    ``rows`` is empty when nothing was found and holds several rows when the identifier is
    ambiguous (an alias or Ensembl ID shared by several genes); it is used only when it holds
    exactly one.
    """

    rows: tuple[int, ...]
    route: str  # "symbol", "symbol (case-insensitive)", "alias", "ensembl", ... or "not found"

    @property
    def unique(self) -> bool:
        return len(self.rows) == 1

    @property
    def ambiguous(self) -> bool:
        return len(self.rows) > 1


_NOT_FOUND = Hit((), "not found")


class GeneTable:
    """All human genes with their identifiers, indexed for lookups (read once, cached)."""

    def __init__(
        self,
        entrez: list[str],
        symbol: list[str],
        gene_type: list[str],
        ensembl: list[tuple[str, ...]],
        aliases: list[tuple[str, ...]],
    ) -> None:
        self.entrez = entrez
        self.symbol = symbol
        self.gene_type = gene_type
        self.ensembl = ensembl
        self.aliases = aliases
        by_symbol: dict[str, list[int]] = {}
        by_upper: dict[str, list[int]] = {}
        by_ensembl: dict[str, list[int]] = {}
        by_alias: dict[str, list[int]] = {}
        for i, s in enumerate(symbol):
            by_symbol.setdefault(s, []).append(i)
            by_upper.setdefault(s.upper(), []).append(i)
            for e in ensembl[i]:
                by_ensembl.setdefault(e.upper(), []).append(i)
            for a in aliases[i]:
                rows = by_alias.setdefault(a.upper(), [])
                if not rows or rows[-1] != i:  # aliases differing only in case
                    rows.append(i)
        self.by_symbol = {k: tuple(v) for k, v in by_symbol.items()}
        self.by_upper = {k: tuple(v) for k, v in by_upper.items()}
        self.by_ensembl = {k: tuple(v) for k, v in by_ensembl.items()}
        self.by_alias = {k: tuple(v) for k, v in by_alias.items()}
        self.by_entrez = {e: i for i, e in enumerate(entrez)}

    def __len__(self) -> int:
        return len(self.symbol)

    def lookup(self, name: str, kind: Kind) -> Hit:
        """Resolve one identifier read as ``kind``.

        Symbols: exact official symbol, else case-insensitive symbol, else alias or previous
        symbol (case-insensitive). Ensembl: version and ``_PAR_Y`` suffix stripped. Entrez:
        the NCBI Gene ID.
        """
        if kind == "ensembl":
            m = ENSEMBL_RE.match(name)
            if m is None:
                return _NOT_FOUND
            rows = self.by_ensembl.get(m[1].upper())
            if rows is None:
                return _NOT_FOUND
            route = "ensembl (version stripped)" if m[2] or m[3] else "ensembl"
            return Hit(rows, route)
        if kind == "entrez":
            if ENTREZ_RE.match(name) is None:
                return _NOT_FOUND
            row = self.by_entrez.get(name)
            return _NOT_FOUND if row is None else Hit((row,), "entrez")
        rows = self.by_symbol.get(name)
        if rows is not None:
            return Hit(rows, "symbol")
        rows = self.by_upper.get(name.upper())
        if rows is not None:
            return Hit(rows, "symbol (case-insensitive)")
        rows = self.by_alias.get(name.upper())
        if rows is not None:
            return Hit(rows, "alias")
        return _NOT_FOUND

    def resolve(self, name: str, id_type: IdType = "auto") -> Hit:
        """Resolve ``name`` as ``id_type`` (``"auto"``: by its form, see :func:`classify`)."""
        return self.lookup(name, classify(name) if id_type == "auto" else id_type)

    def describe(self, rows: tuple[int, ...]) -> str:
        """``"PSMD9 (Entrez 5715), ZNRD2 (Entrez 10534)"``: for messages about ambiguity."""
        return ", ".join(f"{self.symbol[r]} (Entrez {self.entrez[r]})" for r in rows)


def _split(cell: str) -> tuple[str, ...]:
    return tuple(cell.split(_SEP)) if cell else ()


@cache
def load_table() -> GeneTable:
    """The shipped gene table, read on first call and cached."""
    path = resources.files(_DATA[0]).joinpath(_DATA[1], _TABLE)
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        if header != ["entrez", "symbol", "gene_type", "ensembl", "aliases"]:
            raise RuntimeError(f"ifnscore's gene table has unexpected columns {header}")
        entrez, symbol, gtype, ens, als = [], [], [], [], []
        for line in fh:
            e, s, t, en, al = line.rstrip("\n").split("\t")
            entrez.append(e)
            symbol.append(s)
            gtype.append(t)
            ens.append(_split(en))
            als.append(_split(al))
    return GeneTable(entrez, symbol, gtype, ens, als)


@cache
def table_provenance() -> dict:
    """Source, version and build date of the shipped gene table."""
    path = resources.files(_DATA[0]).joinpath(_DATA[1], _PROVENANCE)
    return json.loads(path.read_text(encoding="utf-8"))
