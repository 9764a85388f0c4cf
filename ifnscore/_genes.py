"""Matching signature genes to the data's gene names.

Every signature gene ends up either matched to one or more data columns, with the route that
found it recorded, or reported missing. Nothing is matched silently by a guess.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from .errors import GeneMatchError, IfnscoreWarning, InputError

__all__ = ["GeneMatch", "gene_likeness", "match_genes", "matches_frame"]

Duplicates = Literal["sum", "error"]
_ENSEMBL = re.compile(r"^ENS[A-Z]*G\d{6,}(\.\d+)?$", re.IGNORECASE)


@dataclass(frozen=True)
class GeneMatch:
    """How one signature gene was found in the data."""

    gene: str
    columns: tuple[int, ...]  # positions in the data's gene axis
    names: tuple[str, ...]  # the data's names at those positions
    via: str  # "symbol", "symbol (case-insensitive)", ..., or "missing"

    @property
    def found(self) -> bool:
        return bool(self.columns)


def gene_likeness(names: Sequence[object], hint: Sequence[str] = ()) -> float:
    """Fraction of ``names`` that look like gene identifiers (for orientation detection)."""
    from ._signatures import _registry

    known = {g.upper() for g in hint}
    for sig in _registry().values():
        known.update(g.upper() for g in sig.all_genes)
    if len(names) == 0:
        return 0.0
    hits = 0
    for n in names:
        s = str(n).upper()
        if s in known or _ENSEMBL.match(s):
            hits += 1
    return hits / len(names)


def match_genes(
    wanted: Sequence[str],
    data_genes: pd.Index,
    *,
    duplicates: Duplicates = "sum",
) -> tuple[GeneMatch, ...]:
    """Match signature genes to the data's gene names.

    Order of attempts for each gene: exact symbol, then case-insensitive symbol.
    Several data columns with the same name are combined according to ``duplicates``:
    ``"sum"`` (default; summed on the linear scale, reported and warned) or ``"error"``.
    """
    if duplicates not in ("sum", "error"):
        raise InputError(f"duplicates={duplicates!r} is not valid; use 'sum' or 'error'.")
    names = [str(g) for g in data_genes]
    exact: dict[str, list[int]] = {}
    upper: dict[str, list[int]] = {}
    for i, g in enumerate(names):
        exact.setdefault(g, []).append(i)
        upper.setdefault(g.upper(), []).append(i)
    out = []
    for gene in wanted:
        if gene in exact:
            cols, via = exact[gene], "symbol"
        elif gene.upper() in upper:
            cols, via = upper[gene.upper()], "symbol (case-insensitive)"
        else:
            out.append(GeneMatch(gene, (), (), "missing"))
            continue
        out.append(GeneMatch(gene, tuple(cols), tuple(names[c] for c in cols), via))
    _check_duplicates(out, duplicates)
    return tuple(out)


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
        stacklevel=3,
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
