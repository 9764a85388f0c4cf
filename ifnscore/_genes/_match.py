"""Matching signature genes to the data's gene names.

Every signature gene ends up either matched to one or more data columns, with the route that
found it recorded in :attr:`GeneMatch.via`, or reported missing. Nothing is matched by a guess:
an alias, previous symbol or Ensembl ID that names several genes is never used, and a warning
names the candidates.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from ..errors import GeneMatchError, IfnscoreWarning, InputError
from ._table import ENSEMBL_RE, ENTREZ_RE, ID_TYPES, GeneTable, Hit, IdType, classify, load_table

__all__ = [
    "GeneMatch",
    "check_id_type",
    "detect_id_type",
    "gene_likeness",
    "match_genes",
    "matches_frame",
]

Duplicates = Literal["sum", "error"]
_PACKAGE = str(Path(__file__).resolve().parent.parent)


def _stacklevel() -> int:
    """Stack level of the first frame outside ifnscore, so warnings point at the user's line."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


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
    table = load_table()
    kinds: set[str] = set()
    versioned = False
    for n in names:
        s = str(n)
        kind = classify(s)
        if not table.lookup(s, kind).rows:
            continue
        kinds.add(kind)
        if kind == "ensembl" and "." in s:
            versioned = True
    if not kinds:
        return "unknown"
    if len(kinds) > 1:
        return "mixed"
    kind = kinds.pop()
    return "ensembl_versioned" if kind == "ensembl" and versioned else kind


def gene_likeness(names: Sequence[object], hint: Sequence[str] = ()) -> float:
    """Fraction of ``names`` that look like gene identifiers (for orientation detection).

    A name counts when it is one of ``hint`` or a registry signature gene (any case) or has
    the form of an Ensembl gene ID. Other known identifiers (official symbols in their exact
    case, NCBI Gene IDs) count only when they make up at least half of the names, so that a
    few sample names that happen to be gene symbols (``"CAT"``, ``"MAX"``) or numbers do not
    make the sample axis look like genes. Integers ``0..n-1`` or ``1..n`` (a positional index)
    never count.
    """
    from .._signatures import _registry

    n = len(names)
    if n == 0:
        return 0.0
    strs = [str(x) for x in names]
    known = {g.upper() for g in hint}
    for sig in _registry().values():
        known.update(g.upper() for g in sig.all_genes)
    strong = [s.upper() in known or ENSEMBL_RE.match(s) is not None for s in strs]
    n_strong = sum(strong)
    if 2 * n_strong >= n:
        return n_strong / n
    if all(ENTREZ_RE.match(s) or s == "0" for s in strs):
        ints = sorted(int(s) for s in strs)
        if ints == list(range(ints[0], ints[0] + n)) and ints[0] in (0, 1):
            return n_strong / n
    table = load_table()
    weak = sum(
        1
        for s, st in zip(strs, strong, strict=True)
        if not st and (s in table.by_symbol or s in table.by_entrez)
    )
    if 2 * (n_strong + weak) >= n:
        return (n_strong + weak) / n
    return n_strong / n


class _DataNames:
    """The data's gene names, indexed by exact name, upper-case name and (lazily) table gene."""

    def __init__(self, index: pd.Index, id_type: IdType) -> None:
        self.index = index
        self.id_type = id_type
        self.names = [str(g) for g in index]
        self.exact: dict[str, list[int]] = {}
        self.upper: dict[str, list[int]] = {}
        for i, g in enumerate(self.names):
            self.exact.setdefault(g, []).append(i)
            self.upper.setdefault(g.upper(), []).append(i)
        form = {"ensembl": ENSEMBL_RE, "entrez": ENTREZ_RE}.get(id_type)
        if form is not None and not any(form.match(g) for g in self.names):
            what = "an Ensembl gene ID" if id_type == "ensembl" else "an NCBI Gene (Entrez) ID"
            raise InputError(
                f"id_type={id_type!r}, but none of the data's {len(self.names)} gene names is "
                f"{what} (first: {self.names[:3]}); pass the right id_type= or leave it 'auto'."
            )
        self._by_row: dict[int, list[tuple[int, str]]] | None = None
        self._ambiguous: dict[int, list[tuple[int, tuple[int, ...], str]]] = {}

    def by_row(self, table: GeneTable) -> dict[int, list[tuple[int, str]]]:
        """Table row -> [(data column, route)] for names naming exactly one gene."""
        if self._by_row is None:
            by_row: dict[int, list[tuple[int, str]]] = {}
            amb: dict[int, list[tuple[int, tuple[int, ...], str]]] = {}
            for i, name in enumerate(self.names):
                hit = table.resolve(name, self.id_type)
                if hit.unique:
                    by_row.setdefault(hit.rows[0], []).append((i, hit.route))
                elif hit.ambiguous:
                    for r in hit.rows:
                        amb.setdefault(r, []).append((i, hit.rows, hit.route))
            self._by_row, self._ambiguous = by_row, amb
        return self._by_row

    def ambiguous(self, row: int) -> list[tuple[int, tuple[int, ...], str]]:
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
    out = []
    notes: list[str] = []
    for gene in wanted:
        out.append(_match_one(gene, data, notes))
    if notes:
        warnings.warn(
            "Gene identifiers that name several genes were not used: "
            + "; ".join(notes)
            + ". Rename the data's genes (or the signature's) to unambiguous symbols or IDs.",
            IfnscoreWarning,
            stacklevel=_stacklevel(),
        )
    _check_duplicates(out, duplicates)
    return tuple(out)


def _match_one(gene: str, data: _DataNames, notes: list[str]) -> GeneMatch:
    names = data.names
    looks_like_symbol = classify(gene) == "symbol"
    cols = data.exact.get(gene)
    via = "symbol" if looks_like_symbol else "exact name"
    if cols is None:
        cols = data.upper.get(gene.upper())
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
    entries = data.by_row(table).get(row, [])
    direct = [e for e in entries if e[1] != "alias"]
    chosen = direct or entries
    if not chosen:
        for col, rows, route in data.ambiguous(row):
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
    warnings.warn(
        f"Several data columns match one signature gene ({desc}); they are summed on the linear "
        "scale (duplicates='sum'). Pass duplicates='error' to refuse.",
        IfnscoreWarning,
        stacklevel=_stacklevel(),
    )


def matches_frame(matches: Sequence[GeneMatch]) -> pd.DataFrame:
    """One row per signature gene: how it was matched (``via``) and to which data column(s)."""
    return pd.DataFrame(
        {
            "gene": [m.gene for m in matches],
            "found": [m.found for m in matches],
            "via": [m.via for m in matches],
            "columns": [", ".join(m.names) for m in matches],
        }
    )
