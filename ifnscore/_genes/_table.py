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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import IO, Literal

import numpy as np

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
    """Identifier -> table row(s): the keys sorted (a numpy bytes array) and searched with
    :func:`numpy.searchsorted`, so lookups are vectorised and no Python string is kept per key.

    ``code`` at a key's first position is its row, or ``AMBIGUOUS`` when it names several
    genes; those keys' rows are in ``multi``. The table is ASCII (checked on reading), so a
    key that is not ASCII is simply not found.
    """

    def __init__(
        self,
        keys: np.ndarray,
        rows: np.ndarray,
        pick: Callable[[tuple[int, ...]], tuple[int, ...]] | None = None,
    ) -> None:
        if np.all(rows[1:] >= rows[:-1]):  # a stable sort by key keeps each key's rows sorted
            order = np.argsort(keys, kind="stable")
        else:
            order = np.lexsort((rows, keys))
        k, r = keys[order], rows[order].astype(np.int32)
        del order
        first = np.ones(k.size, dtype=bool)
        first[1:] = k[1:] != k[:-1]
        starts = np.flatnonzero(first)
        del first
        counts = np.diff(np.append(starts, k.size))
        # duplicates stay in the sorted keys: a lookup lands on a key's first position,
        # whose code says what the key names
        self.keys = k
        self.code = r
        self.multi: dict[str, tuple[int, ...]] = {}
        for i in np.flatnonzero(counts > 1).tolist():
            at = int(starts[i])
            found = tuple(sorted({int(x) for x in r[at : at + counts[i]]}))
            if len(found) == 1:  # the same (key, row) more than once
                continue
            got = pick(found) if pick is not None else found
            self.multi[k[at].decode("ascii")] = got
            self.code[at] = got[0] if len(got) == 1 else AMBIGUOUS

    def rows(self, keys: Iterable[object]) -> np.ndarray:
        """Row of each key: >= 0, -1 (unknown) or ``AMBIGUOUS``."""
        strs = [str(x) for x in keys]
        ok = np.array([s.isascii() and "\0" not in s for s in strs], dtype=bool)
        query = np.array(
            [s.encode("ascii") if good else b"" for s, good in zip(strs, ok, strict=True)],
            dtype="S",
        )
        if not self.keys.size or not query.size:
            return np.full(len(strs), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.keys, query, side="left"), self.keys.size - 1)
        hit = ok & (self.keys[pos] == query)
        return np.where(hit, self.code[pos], -1).astype(np.int64)

    def get(self, key: str) -> tuple[int, ...] | None:
        if key in self.multi:
            return self.multi[key]
        row = int(self.rows([key])[0])
        return None if row == -1 else (row,)


def _ensembl_core(name: str) -> str:
    """``"ENSG00000165949.12"`` or ``"ENSG00000182378_PAR_Y"`` -> the bare upper-case ID."""
    return name.partition(".")[0].partition("_")[0].upper()


_UPPER = np.arange(256, dtype=np.uint8)  # ASCII upper case, byte by byte
_UPPER[ord("a") : ord("z") + 1] -= ord("a") - ord("A")
_COLUMNS = ("entrez", "symbol", "gene_type", "ensembl", "aliases")
_ENTREZ, _SYMBOL, _GENE_TYPE, _ENSEMBL, _ALIASES = range(5)


def _positions(b: np.ndarray, byte: int, chunk: int = 1 << 19) -> np.ndarray:
    """Positions of ``byte`` in ``b`` as int32, found chunk by chunk (small temporaries)."""
    parts = [
        np.flatnonzero(b[i : i + chunk] == byte).astype(np.int32) + np.int32(i)
        for i in range(0, b.size, chunk)
    ]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)


def _fixed(b: np.ndarray, start: np.ndarray, end: np.ndarray, *, upper: bool) -> np.ndarray:
    """The byte spans ``b[start:end]`` as a fixed-width bytes array (ASCII upper-cased if
    ``upper``), filled one character position at a time: no per-item Python objects."""
    lengths = end - start
    width = max(int(lengths.max(initial=0)), 1)
    out = np.zeros((start.size, width), dtype=np.uint8)
    for k in range(width):
        has = np.flatnonzero(lengths > k)
        chars = b[start[has] + k]
        out[has, k] = np.take(_UPPER, chars) if upper else chars
    return out.view(f"S{width}").ravel()


class GeneTable:
    """All human genes with their identifiers, indexed for lookups (read once, cached).

    Row ``i`` is one NCBI gene: ``entrez[i]``, ``symbol[i]``, ``gene_type[i]`` and
    ``ensembl[i]`` (``"|"``-joined Ensembl IDs, empty when none).

    The table is held as its text (about 3.5 MB) plus the position of every cell; the lookup
    indexes (by symbol, symbol in any case, NCBI Gene ID, Ensembl ID, alias) are numpy bytes
    arrays, each built on first use, and the columns above are turned into arrays of Python
    strings only when asked for. Reading it and building every index takes about 0.1 s and
    12 MB.
    """

    def __init__(self, text: bytes, skip: int = 0) -> None:
        """``text``: the table file's text; its first ``skip`` bytes (the header) are no gene."""
        if len(text) > skip and not text.endswith(b"\n"):
            text += b"\n"
        if len(text) >= 2**31:
            raise RuntimeError("ifnscore's gene table is too large")
        b = np.frombuffer(text, dtype=np.uint8, offset=skip)
        if b.size and int(b.max()) >= 128:
            raise RuntimeError("ifnscore's gene table is not ASCII")
        nl, tabs = _positions(b, ord("\n")), _positions(b, ord("\t"))
        n = nl.size
        line_start = np.zeros(n, dtype=np.int32)
        line_start[1:] = nl[:-1] + 1
        if tabs.size != 4 * n:
            raise RuntimeError("ifnscore's gene table does not have 5 cells on every line")
        tabs = tabs.reshape(n, 4)
        # 4n tabs in all and none before its line's start or after its end: 4 on every line
        if n and (np.any(tabs[:, 0] < line_start) or np.any(tabs[:, 3] > nl)):
            raise RuntimeError("ifnscore's gene table does not have 5 cells on every line")
        self._text = memoryview(text)[skip:]
        self._b = b
        # cell c of line i spans [_bounds[i, c] + 1, _bounds[i, c + 1]); _bounds[i, 0] is the
        # previous line's newline (-1 for the first line)
        self._bounds = np.column_stack([line_start - 1, tabs, nl])

    def _span(self, col: int) -> tuple[np.ndarray, np.ndarray]:
        return self._bounds[:, col] + 1, self._bounds[:, col + 1]

    def _cell(self, row: int, col: int) -> str:
        return str(self._text[self._bounds[row, col] + 1 : self._bounds[row, col + 1]], "ascii")

    def _column(self, col: int) -> np.ndarray:
        text, (s, e) = self._text, (x.tolist() for x in self._span(col))
        return np.array([str(text[i:j], "ascii") for i, j in zip(s, e, strict=True)], dtype=object)

    def _keys(self, col: int, *, upper: bool) -> np.ndarray:
        return _fixed(self._b, *self._span(col), upper=upper)

    def _items(self, col: int) -> tuple[np.ndarray, np.ndarray]:
        """A ``"|"``-separated column's items (upper-cased) and the row of each."""
        s, e = self._span(col)
        pipes = np.flatnonzero(self._b == ord(_SEP))
        row = np.searchsorted(self._bounds[:, -1], pipes)  # the line each "|" is on
        inside = (pipes >= s[row]) & (pipes < e[row])
        full = np.flatnonzero(e > s)
        # within a cell the items run start..pipe, pipe+1..pipe, ..., pipe+1..end
        begin = np.concatenate([s[full], pipes[inside] + 1])
        order = np.argsort(begin, kind="stable")
        begin = begin[order]
        rows = np.concatenate([full, row[inside]])[order]
        end = np.sort(np.concatenate([e[full], pipes[inside]]))
        some = end > begin  # empty items ("a||b") are no identifiers
        return _fixed(self._b, begin[some], end[some], upper=True), rows[some]

    @cached_property
    def entrez(self) -> np.ndarray:
        return self._column(_ENTREZ)

    @cached_property
    def symbol(self) -> np.ndarray:
        return self._column(_SYMBOL)

    @cached_property
    def gene_type(self) -> np.ndarray:
        return self._column(_GENE_TYPE)

    @cached_property
    def ensembl(self) -> np.ndarray:
        return self._column(_ENSEMBL)

    @cached_property
    def _unknown_type(self) -> np.ndarray:
        return self._keys(_GENE_TYPE, upper=False) == b"unknown"

    @cached_property
    def by_symbol(self) -> _KeyMap:
        return _KeyMap(self._keys(_SYMBOL, upper=False), np.arange(len(self)), self._known)

    @cached_property
    def by_upper(self) -> _KeyMap:
        return _KeyMap(self._keys(_SYMBOL, upper=True), np.arange(len(self)), self._known)

    @cached_property
    def by_entrez(self) -> _KeyMap:
        return _KeyMap(self._keys(_ENTREZ, upper=False), np.arange(len(self)))

    @cached_property
    def by_ensembl(self) -> _KeyMap:
        keys, rows = self._items(_ENSEMBL)
        if not np.all(np.char.startswith(keys, b"ENS")):
            raise RuntimeError("ifnscore's gene table holds an Ensembl ID not starting with ENS")
        return _KeyMap(keys, rows)

    @cached_property
    def by_alias(self) -> _KeyMap:
        return _KeyMap(*self._items(_ALIASES))

    def identifiers(self, row: int) -> list[str]:
        """Every identifier of gene ``row``: symbol, NCBI Gene ID, Ensembl IDs, aliases."""
        out = [self._cell(row, _SYMBOL), self._cell(row, _ENTREZ)]
        for col in (_ENSEMBL, _ALIASES):
            out.extend(x for x in self._cell(row, col).split(_SEP) if x)
        return out

    def _known(self, rows: tuple[int, ...]) -> tuple[int, ...]:
        """Rows sharing one official symbol: NCBI gives a few symbols both to a gene and to a
        phenotype-only record of gene type ``unknown`` (HBD: hemoglobin delta, 3045, and
        hypophosphatemic bone disease, 100187828). When exactly one of them has a known type,
        the symbol names that gene; otherwise all stay (ambiguous)."""
        known = [r for r in rows if not self._unknown_type[r]]
        return (known[0],) if len(known) == 1 else rows

    def __len__(self) -> int:
        return int(self._bounds.shape[0])

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
        # every Ensembl ID in the table starts with "ENS" (checked when the index is built), so
        # the index is needed only when some name could be one
        if id_type in ("auto", "ensembl") and any(c.startswith("ENS") for c in core):
            r_ens = self.by_ensembl.rows(core)
        else:
            r_ens = np.full(n, -1, dtype=np.int64)
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
            for attr, code in (("by_symbol", SYMBOL), ("by_upper", SYMBOL_CI), ("by_alias", ALIAS)):
                km = getattr(self, attr)  # an index is built only when names are left for it
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
        return ", ".join(
            f"{self._cell(r, _SYMBOL)} (Entrez {self._cell(r, _ENTREZ)})" for r in rows
        )


@cache
def load_table() -> GeneTable:
    """The shipped gene table, read on first call and cached."""
    path = resources.files(_DATA[0]).joinpath(_DATA[1], _TABLE)
    with path.open("rb") as raw:
        return read_table(raw)


def read_table(raw: IO[bytes]) -> GeneTable:
    """Read a gene table written by :mod:`ifnscore._genes._build` (gzip TSV) from a binary file.

    Cells are taken literally (no quoting, no missing-value markers), as they were written.
    """
    text = gzip.decompress(raw.read())
    head = text[: text.find(b"\n") + 1]
    columns = head.decode("ascii", errors="replace").rstrip("\r\n").split("\t")
    if tuple(columns) != _COLUMNS:
        raise RuntimeError(f"ifnscore's gene table has unexpected columns {columns}")
    return GeneTable(text, len(head))


@cache
def table_provenance() -> dict:
    """Source, version and build date of the shipped gene table."""
    path = resources.files(_DATA[0]).joinpath(_DATA[1], _PROVENANCE)
    return json.loads(path.read_text(encoding="utf-8"))
