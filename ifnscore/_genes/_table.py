"""The shipped human gene table and the lookup of one identifier in it.

The table (``ifnscore/data/genes/human_genes.tsv.gz``, one row per NCBI Gene ID, built by
:mod:`ifnscore._genes._build` from Bioconductor's org.Hs.eg.db) is read on first use and cached
for the life of the process. Its provenance is in ``provenance.json`` next to it
(:func:`table_provenance`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import IO, Literal

import numpy as np
import pandas as pd

__all__ = [
    "ID_TYPES",
    "GeneTable",
    "Hit",
    "IdType",
    "classify",
    "load_table",
    "read_table",
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

# route codes of :meth:`GeneTable.resolve_many`
NOT_FOUND, SYMBOL, SYMBOL_CI, ALIAS, ENSEMBL, ENSEMBL_STRIPPED, ENTREZ = range(7)
ROUTES = (
    "not found",
    "symbol",
    "symbol (case-insensitive)",
    "alias",
    "ensembl",
    "ensembl (version stripped)",
    "entrez",
)
KIND_OF_ROUTE: tuple[str | None, ...] = (
    None,
    "symbol",
    "symbol",
    "symbol",
    "ensembl",
    "ensembl",
    "entrez",
)
AMBIGUOUS = -2  # row code of an identifier naming several genes (-1: none)


class _KeyMap:
    """Identifier -> table row(s), as a hashed pandas Index for vectorised lookups."""

    def __init__(
        self,
        keys: np.ndarray,
        rows: np.ndarray,
        pick: Callable[[tuple[int, ...]], tuple[int, ...]] | None = None,
    ) -> None:
        pairs = pd.DataFrame({"key": keys, "row": rows}).drop_duplicates()
        dup = pairs["key"].duplicated(keep=False).to_numpy()
        self.multi: dict[str, tuple[int, ...]] = {}
        for key, grp in pairs[dup].groupby("key", sort=False)["row"]:
            found = tuple(int(r) for r in grp)
            self.multi[str(key)] = pick(found) if pick is not None else found
        first = pairs[~pairs["key"].duplicated()]
        self.index = pd.Index(first["key"].to_numpy(dtype=object))
        self.code = first["row"].to_numpy(dtype=np.int64).copy()
        if self.multi:
            got = list(self.multi.values())
            self.code[self.index.get_indexer(list(self.multi))] = [
                g[0] if len(g) == 1 else AMBIGUOUS for g in got
            ]

    def rows(self, keys: object) -> np.ndarray:
        """Row of each key: >= 0, -1 (unknown) or ``AMBIGUOUS``."""
        pos = self.index.get_indexer(keys)
        return np.where(pos >= 0, self.code[pos], -1)

    def get(self, key: str) -> tuple[int, ...] | None:
        if key in self.multi:
            return self.multi[key]
        pos = self.index.get_indexer([key])[0]
        return None if pos < 0 else (int(self.code[pos]),)


def _ensembl_core(name: str) -> str:
    """``"ENSG00000165949.12"`` or ``"ENSG00000182378_PAR_Y"`` -> the bare upper-case ID."""
    return name.partition(".")[0].partition("_")[0].upper()


def _explode(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``"a|b"`` cells -> (items, row of each item)."""
    s = pd.Series(cells).str.split(_SEP).explode()
    s = s[s.notna() & (s != "")]
    return s.to_numpy(dtype=object), s.index.to_numpy(dtype=np.int64)


class GeneTable:
    """All human genes with their identifiers, indexed for lookups (read once, cached).

    Row ``i`` is one NCBI gene: ``entrez[i]``, ``symbol[i]``, ``gene_type[i]`` and
    ``ensembl[i]`` (``"|"``-joined Ensembl IDs, empty when none).
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.entrez = frame["entrez"].to_numpy(dtype=object)
        self.symbol = frame["symbol"].to_numpy(dtype=object)
        self.gene_type = frame["gene_type"].to_numpy(dtype=object)
        self.ensembl = frame["ensembl"].to_numpy(dtype=object)
        n = len(frame)
        rows = np.arange(n, dtype=np.int64)
        upper = frame["symbol"].str.upper().to_numpy(dtype=object)
        self.by_symbol = _KeyMap(self.symbol, rows, self._known)
        self.by_upper = _KeyMap(upper, rows, self._known)
        self.by_entrez = _KeyMap(self.entrez, rows)
        ens, ens_rows = _explode(frame["ensembl"].str.upper().to_numpy(dtype=object))
        self.by_ensembl = _KeyMap(ens, ens_rows)
        als, als_rows = _explode(frame["aliases"].str.upper().to_numpy(dtype=object))
        self.by_alias = _KeyMap(als, als_rows)

    def _known(self, rows: tuple[int, ...]) -> tuple[int, ...]:
        """Rows sharing one official symbol: NCBI gives a few symbols both to a gene and to a
        phenotype-only record of gene type ``unknown`` (HBD: hemoglobin delta, 3045, and
        hypophosphatemic bone disease, 100187828). When exactly one of them has a known type,
        the symbol names that gene; otherwise all stay (ambiguous)."""
        known = [r for r in rows if self.gene_type[r] != "unknown"]
        return (known[0],) if len(known) == 1 else rows

    def __len__(self) -> int:
        return len(self.symbol)

    def resolve(self, name: str, id_type: IdType = "auto") -> Hit:
        """Resolve one identifier (see :meth:`resolve_many`), with all candidates when it
        names several genes."""
        rows, route = self.resolve_many([name], id_type)
        code, row = int(route[0]), int(rows[0])
        if row == -1:
            return _NOT_FOUND
        if row != AMBIGUOUS:
            return Hit((row,), ROUTES[code])
        km, key = {
            SYMBOL: (self.by_symbol, name),
            SYMBOL_CI: (self.by_upper, name.upper()),
            ALIAS: (self.by_alias, name.upper()),
            ENSEMBL: (self.by_ensembl, _ensembl_core(name)),
            ENSEMBL_STRIPPED: (self.by_ensembl, _ensembl_core(name)),
            ENTREZ: (self.by_entrez, name),
        }[code]
        return Hit(km.get(key) or (), ROUTES[code])

    def resolve_many(
        self, names: Sequence[str], id_type: IdType = "auto"
    ) -> tuple[np.ndarray, np.ndarray]:
        """The table row of each name (-1: none, ``AMBIGUOUS``: several genes) and the route
        that found it (an index into ``ROUTES``).

        ``id_type="auto"`` tries, in order: an Ensembl gene ID (what precedes a version
        ``.12`` or a ``_PAR_Y`` suffix, any case; no symbol has that form), an NCBI Gene ID
        (digits), then a symbol: exact official symbol, official symbol in any case, alias or
        previous symbol in any case. An explicit ``id_type`` tries only that kind.
        """
        names = [str(x) for x in names]
        n = len(names)
        rows = np.full(n, -1, dtype=np.int64)
        route = np.zeros(n, dtype=np.int8)
        # Ensembl: whatever precedes a version (".12") or "_PAR_Y" must be a known gene ID;
        # no symbol has that form, so in "auto" mode every name is tried as one first
        core = np.array([_ensembl_core(x) for x in names], dtype=object)
        r_ens = self.by_ensembl.rows(core)
        ens = np.full(n, id_type in ("auto", "ensembl")) & (r_ens != -1)
        ent = np.array([x.isascii() and x.isdigit() and x[:1] != "0" for x in names], dtype=bool)
        ent &= ~ens & (id_type in ("auto", "entrez"))
        sym = ~(ens | ent) & (id_type in ("auto", "symbol"))
        idx = np.flatnonzero(ens)
        if idx.size:
            stripped = np.array([len(core[i]) != len(names[i]) for i in idx], dtype=bool)
            rows[idx] = r_ens[idx]
            route[idx] = np.where(stripped, ENSEMBL_STRIPPED, ENSEMBL)
        idx = np.flatnonzero(ent)
        if idx.size:
            r = self.by_entrez.rows(np.array([names[i] for i in idx], dtype=object))
            rows[idx] = r
            route[idx] = np.where(r != -1, ENTREZ, NOT_FOUND)
        idx = np.flatnonzero(sym)
        if idx.size:
            exact = np.array([names[i] for i in idx], dtype=object)
            upper = np.array([x.upper() for x in exact], dtype=object)
            for km, code in (
                (self.by_symbol, SYMBOL),
                (self.by_upper, SYMBOL_CI),
                (self.by_alias, ALIAS),
            ):
                r = km.rows(exact if code == SYMBOL else upper)
                hit = r != -1
                rows[idx[hit]] = r[hit]
                route[idx[hit]] = code
                idx, exact, upper = idx[~hit], exact[~hit], upper[~hit]
                if not idx.size:
                    break
        return rows, route

    def describe(self, rows: tuple[int, ...]) -> str:
        """``"PSMD9 (Entrez 5715), ZNRD2 (Entrez 10534)"``: for messages about ambiguity."""
        return ", ".join(f"{self.symbol[r]} (Entrez {self.entrez[r]})" for r in rows)


@cache
def load_table() -> GeneTable:
    """The shipped gene table, read on first call and cached."""
    path = resources.files(_DATA[0]).joinpath(_DATA[1], _TABLE)
    with path.open("rb") as raw:
        return read_table(raw)


def read_table(raw: IO[bytes]) -> GeneTable:
    """Read a gene table written by :mod:`ifnscore._genes._build` (gzip TSV) from a binary file."""
    frame = pd.read_csv(
        raw,
        sep="\t",
        compression="gzip",
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        quoting=3,  # csv.QUOTE_NONE: identifiers are taken literally
    )
    if list(frame.columns) != ["entrez", "symbol", "gene_type", "ensembl", "aliases"]:
        raise RuntimeError(f"ifnscore's gene table has unexpected columns {list(frame.columns)}")
    return GeneTable(frame)


@cache
def table_provenance() -> dict:
    """Source, version and build date of the shipped gene table."""
    path = resources.files(_DATA[0]).joinpath(_DATA[1], _PROVENANCE)
    return json.loads(path.read_text(encoding="utf-8"))
