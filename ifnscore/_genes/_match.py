"""Matching signature genes to the data's gene names.

Every signature gene ends up either matched to one or more data columns, with the route that
found it recorded in :attr:`GeneMatch.via`, or reported missing. Nothing is matched by a guess:
an alias, previous symbol or Ensembl ID that names several genes is never used, and a warning
names the candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .._frozen import ConstDict, ConstList
from .._warn import warn
from ..errors import GeneMatchError, IfnscoreWarning, InputError
from ._table import (
    AMBIGUOUS,
    ENSEMBL_RE,
    ENSEMBL_STRIPPED,
    ENTREZ_RE,
    ID_TYPES,
    KIND_OF_ROUTE,
    ROUTES,
    GeneTable,
    Hit,
    IdType,
    classify,
    load_table,
)

__all__ = [
    "GeneMatch",
    "check_id_type",
    "detect_id_type",
    "gene_likeness",
    "id_type_of_routes",
    "match_genes",
    "match_records",
    "matches_frame",
]

Duplicates = Literal["sum", "error"]


@dataclass(frozen=True)
class GeneMatch:
    """How one signature gene was found in the data."""

    gene: str
    columns: tuple[int, ...]  # positions in the data's gene axis
    names: tuple[str, ...]  # the data's names at those positions
    via: str  # "symbol", "symbol (case-insensitive)", "ensembl", ..., or "missing ..."

    @property
    def found(self) -> bool:
        return bool(self.columns)


def check_id_type(id_type: object) -> IdType:
    if id_type not in ID_TYPES:
        raise InputError(
            f"id_type={id_type!r} is not valid; use one of {', '.join(map(repr, ID_TYPES))}."
        )
    return id_type  # type: ignore[return-value]


def detect_id_type(names: Sequence[object]) -> str:
    """The kind of identifiers in ``names``, from their form and the gene table.

    Returns ``"symbol"``, ``"ensembl"``, ``"ensembl_versioned"`` (some or all carry a version
    suffix), ``"entrez"``, ``"mixed"`` (recognised names of more than one kind) or
    ``"unknown"`` (no name is a known human gene identifier). Names found nowhere (e.g.
    HTSeq's ``__no_feature``) do not count.
    """
    rows, route = load_table().resolve_many([str(n) for n in names])
    return id_type_of_routes(route[rows != -1])


def id_type_of_routes(routes: np.ndarray) -> str:
    """:func:`detect_id_type` from the route codes of the names that were found."""
    codes = set(np.unique(routes).tolist())
    kinds = {KIND_OF_ROUTE[c] for c in codes}
    if not kinds:
        return "unknown"
    if len(kinds) > 1:
        return "mixed"
    if kinds == {"ensembl"} and ENSEMBL_STRIPPED in codes:
        return "ensembl_versioned"
    return str(kinds.pop())


_MIN_NUMERIC = 500  # fewer numbers than this are more likely sample IDs than NCBI Gene IDs


def _positional(strs: list[str]) -> bool:
    """``0..n-1`` or ``1..n`` in any order: a positional index, not gene IDs."""
    if not all(s.isascii() and s.isdigit() for s in strs):
        return False
    ints = sorted(int(s) for s in strs)
    return ints[0] in (0, 1) and ints == list(range(ints[0], ints[0] + len(ints)))


def gene_likeness(names: Sequence[object], hint: Sequence[str] = ()) -> float:
    """Fraction of ``names`` that look like gene identifiers (for orientation detection).

    A name counts when it is one of ``hint`` or a registry signature gene (as a symbol in any
    case, or as its NCBI Gene ID) or has the form of an Ensembl gene ID. Other official
    symbols (exact case) and NCBI Gene IDs count only when known identifiers make up at least
    half of the names, so that a few sample names that happen to be gene symbols (``"CAT"``,
    ``"MAX"``) do not make the sample axis look like genes; other NCBI Gene IDs count only in
    lists of at least 500 names that are not simply ``0..n-1`` or ``1..n``, since shorter
    lists of numbers are more often sample IDs.
    """
    from .._signatures import _registry

    n = len(names)
    if n == 0:
        return 0.0
    strs = [str(x) for x in names]
    known = {g.upper() for g in hint}
    for sig in _registry().values():
        known.update(g.upper() for g in sig.all_genes)
    strong = np.array([s.upper() in known or ENSEMBL_RE.match(s) is not None for s in strs])
    if 2 * strong.sum() >= n:
        return float(strong.mean())
    table = load_table()
    keys = np.array(strs, dtype=object)
    entrez_rows = table.by_entrez.rows(keys)
    known_rows = table.by_upper.rows(np.array(sorted(known), dtype=object))
    strong |= np.isin(entrez_rows, known_rows[known_rows >= 0])
    weak = table.by_symbol.rows(keys) != -1
    if n >= _MIN_NUMERIC and not _positional(strs):
        weak |= entrez_rows != -1
    either = strong | weak
    if 2 * either.sum() >= n:
        return float(either.mean())
    return float(strong.mean())


class _DataNames:
    """The data's gene names, indexed by exact name, upper-case name and (lazily) table gene."""

    def __init__(self, index: pd.Index, id_type: IdType) -> None:
        self.index = index
        self.id_type = id_type
        self.names = [str(g) for g in index]
        self._exact: dict[str, list[int]] | None = None
        self._upper: dict[str, list[int]] | None = None
        form = {"ensembl": ENSEMBL_RE, "entrez": ENTREZ_RE}.get(id_type)
        if form is not None and not any(form.match(g) for g in self.names):
            what = "an Ensembl gene ID" if id_type == "ensembl" else "an NCBI Gene (Entrez) ID"
            raise InputError(
                f"id_type={id_type!r}, but none of the data's {len(self.names)} gene names is "
                f"{what} (first: {self.names[:3]}); pass the right id_type= or leave it 'auto'."
            )
        self._rows: np.ndarray | None = None
        self._route: np.ndarray | None = None
        self._ambiguous: dict[int, list[tuple[int, tuple[int, ...], str]]] | None = None

    def positions(self, wanted: Sequence[str], *, upper: bool) -> dict[str, list[int]]:
        """Name (upper-cased if ``upper``) -> its data columns, for the ``wanted`` names only."""
        if upper:
            if self._upper is None:
                self._upper = self._columns_by_name(g.upper() for g in self.names)
            where, keys = self._upper, [g.upper() for g in wanted]
        else:
            if self._exact is None:
                self._exact = self._columns_by_name(self.names)
            where, keys = self._exact, list(wanted)
        return {k: where[k] for k in keys if k in where}

    @staticmethod
    def _columns_by_name(names: Iterable[str]) -> dict[str, list[int]]:
        """Name -> its data columns in order, built once per gene index (every signature of a
        call, and every call on the same index, looks names up in it)."""
        out: dict[str, list[int]] = {}
        for c, g in enumerate(names):
            if g in out:
                out[g].append(c)
            else:
                out[g] = [c]
        return out

    def resolved(self, table: GeneTable) -> tuple[np.ndarray, np.ndarray]:
        """Table row (-1 none, ``AMBIGUOUS``) and route code of every name, computed once."""
        if self._rows is None or self._route is None:
            self._rows, self._route = table.resolve_many(self.names, self.id_type)
        return self._rows, self._route

    def columns_of(self, table: GeneTable, row: int) -> list[tuple[int, str]]:
        """[(data column, route)] of the names that name exactly table gene ``row``."""
        rows, route = self.resolved(table)
        return [(int(c), ROUTES[route[c]]) for c in np.flatnonzero(rows == row)]

    def ambiguous(self, table: GeneTable, row: int) -> list[tuple[int, tuple[int, ...], str]]:
        """[(data column, its candidate rows, route)] of ambiguous names that could be ``row``."""
        if self._ambiguous is None:
            rows, _ = self.resolved(table)
            amb: dict[int, list[tuple[int, tuple[int, ...], str]]] = {}
            for c in np.flatnonzero(rows == AMBIGUOUS):
                hit = table.resolve(self.names[c], self.id_type)
                for r in hit.rows:
                    amb.setdefault(r, []).append((int(c), hit.rows, hit.route))
            self._ambiguous = amb
        return self._ambiguous.get(row, [])


# One-slot cache: score() matches every signature against the same gene index.
_last: tuple[pd.Index, str, _DataNames] | None = None


def _data_names(index: pd.Index, id_type: IdType) -> _DataNames:
    global _last
    last = _last
    if last is not None and last[0] is index and last[1] == id_type:
        return last[2]
    data = _DataNames(index, id_type)
    _last = (index, id_type, data)
    return data


def match_genes(
    wanted: Sequence[str],
    data_genes: pd.Index,
    *,
    duplicates: Duplicates = "sum",
    id_type: IdType = "auto",
) -> tuple[GeneMatch, ...]:
    """Match signature genes to the data's gene names.

    For each signature gene, in order, the first step that finds a data column wins:

    1. the exact name (``via="symbol"``);
    2. the name in any case (``"symbol (case-insensitive)"``);
    3. through the gene table: the signature gene resolves to one gene (official symbol, any
       case, or an Ensembl/NCBI ID), and data columns whose names resolve to that same gene as
       an Ensembl ID (version stripped), an NCBI Gene (Entrez) ID or an official symbol;
    4. aliases and previous symbols, only when they name exactly one gene: a signature gene
       given by an old name (``G1P3`` -> IFI6) or data columns named by one.

    ``id_type`` says how data names are read in step 3 (``"auto"``: each by its form). A name
    that names several genes (an ambiguous alias, an Ensembl ID shared by several genes, a
    symbol NCBI gives to two genes) is never used; when a signature gene stays missing because
    of one, an :class:`~ifnscore.errors.IfnscoreWarning` names the candidates.

    Several data columns matching one gene (duplicated names, two Ensembl IDs of one gene) are
    combined according to ``duplicates``: ``"sum"`` (default; summed on the linear scale,
    reported and warned) or ``"error"``.
    """
    if duplicates not in ("sum", "error"):
        raise InputError(f"duplicates={duplicates!r} is not valid; use 'sum' or 'error'.")
    check_id_type(id_type)
    data = _data_names(data_genes, id_type)
    exact = data.positions(wanted, upper=False)
    upper = data.positions(wanted, upper=True) if len(exact) < len(set(wanted)) else {}
    out = []
    notes: list[str] = []
    for gene in wanted:
        out.append(_match_one(gene, data, exact, upper, notes))
    if notes:
        warn(
            "Gene identifiers that name several genes were not used: "
            + "; ".join(notes)
            + ". Rename the data's genes (or the signature's) to unambiguous symbols or IDs.",
            IfnscoreWarning,
        )
    _check_shared(out)
    _check_duplicates(out, duplicates)
    return tuple(out)


def _check_shared(matches: Sequence[GeneMatch]) -> None:
    """Two signature genes must not take the same data column (e.g. IFI6 and its old name
    G1P3 in one list): the gene would count twice."""
    owner: dict[int, str] = {}
    for m in matches:
        for c, name in zip(m.columns, m.names, strict=True):
            other = owner.setdefault(c, m.gene)
            if other != m.gene:
                raise GeneMatchError(
                    f"Signature genes {other!r} and {m.gene!r} both match data column {name!r}: "
                    "they name the same gene, which would count twice. Keep one of them."
                )


def _match_one(
    gene: str,
    data: _DataNames,
    exact: dict[str, list[int]],
    upper: dict[str, list[int]],
    notes: list[str],
) -> GeneMatch:
    names = data.names
    looks_like_symbol = classify(gene) == "symbol"
    cols = exact.get(gene)
    via = "symbol" if looks_like_symbol else "exact name"
    if cols is None:
        cols = upper.get(gene.upper())
        via = "symbol (case-insensitive)" if looks_like_symbol else "exact name (case-insensitive)"
    if cols is not None:
        return GeneMatch(gene, tuple(cols), tuple(names[c] for c in cols), via)
    table = load_table()
    hit: Hit = table.resolve(gene, "auto")
    if not hit.rows:
        return GeneMatch(gene, (), (), "missing (not in the data, not in the gene table)")
    if hit.ambiguous:
        notes.append(
            f"signature gene {gene!r} ({hit.route}) names {len(hit.rows)} genes: "
            f"{table.describe(hit.rows)}"
        )
        return GeneMatch(gene, (), (), f"missing (ambiguous {hit.route})")
    row = hit.rows[0]
    entries = data.columns_of(table, row)
    direct = [e for e in entries if e[1] != "alias"]
    chosen = direct or entries
    if not chosen:
        for col, rows, route in data.ambiguous(table, row):
            notes.append(
                f"data column {names[col]!r} ({route}) names {len(rows)} genes: "
                f"{table.describe(rows)}; not used for {gene!r}"
            )
        return GeneMatch(gene, (), (), "missing")
    chosen.sort()
    routes = sorted({"alias in data" if r == "alias" else r for _, r in chosen})
    via = ", ".join(routes)
    if hit.route != "symbol":
        via = f"{hit.route} {gene} -> {table.symbol[row]}, then {via}"
    cols = [c for c, _ in chosen]
    return GeneMatch(gene, tuple(cols), tuple(names[c] for c in cols), via)


def _check_duplicates(matches: Sequence[GeneMatch], duplicates: Duplicates) -> None:
    multi = [m for m in matches if len(m.columns) > 1]
    if not multi:
        return
    desc = "; ".join(f"{m.gene} <- {list(m.names)}" for m in multi)
    if duplicates == "error":
        raise GeneMatchError(
            f"Several data columns match one signature gene ({desc}); make the gene names unique "
            "or pass duplicates='sum' to add them up on the linear scale."
        )
    warn(
        f"Several data columns match one signature gene ({desc}); they are summed on the linear "
        "scale (duplicates='sum'). Pass duplicates='error' to refuse.",
        IfnscoreWarning,
    )


def match_records(matches: Sequence[GeneMatch]) -> ConstList:
    """One read-only record per signature gene: ``gene``, ``found``, ``via`` (how it was
    matched) and ``columns`` (the data's names it was matched to, comma-separated)."""
    return ConstList(
        ConstDict(gene=m.gene, found=m.found, via=m.via, columns=", ".join(m.names))
        for m in matches
    )


def matches_frame(matches: Sequence[GeneMatch]) -> pd.DataFrame:
    """:func:`match_records` as a table, one row per signature gene."""
    return pd.DataFrame(match_records(matches), columns=["gene", "found", "via", "columns"])
