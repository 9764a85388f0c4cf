"""The public identifier mapper, :func:`map_genes`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import InputError
from ._match import check_id_type, id_type_of_routes
from ._table import AMBIGUOUS, ROUTES, IdType, load_table, table_provenance

__all__ = ["map_genes"]

Target = Literal["symbol", "ensembl", "entrez"]
_TARGETS = ("symbol", "ensembl", "entrez")


def map_genes(
    ids: Iterable[object],
    *,
    to: Target = "symbol",
    id_type: IdType = "auto",
) -> pd.DataFrame:
    """Map human gene identifiers to official symbols, Ensembl gene IDs or NCBI Gene IDs.

    Uses the same table and rules as scoring (see :func:`ifnscore.score`), so what this
    returns is what ``score`` would match.

    Parameters
    ----------
    ids
        Identifiers, in any mix of kinds: official symbols (any case), aliases and previous
        symbols (``G1P3``), Ensembl gene IDs with or without version (``ENSG00000165949.12``),
        NCBI Gene (Entrez) IDs (``3429``). A list, tuple, array, Series or Index; each value
        is read as text.
    to
        ``"symbol"`` (default), ``"ensembl"`` or ``"entrez"``.
    id_type
        How to read ``ids``: ``"auto"`` (default; each by its form: ``ENS...G`` + 11 digits
        is Ensembl, digits are Entrez, anything else a symbol or alias), ``"symbol"``,
        ``"ensembl"`` or ``"entrez"``.

    Returns
    -------
    pandas.DataFrame
        One row per input, in input order, indexed by the input (as text, index name
        ``"input"``), with columns:

        ``<to>``
            The mapped identifier (string dtype), ``<NA>`` when the input names no gene or
            several. A gene with several Ensembl IDs (e.g. on alternative haplotypes) gets
            all of them, sorted and joined by ``"|"``.
        ``via``
            How the input was resolved: ``"symbol"``, ``"symbol (case-insensitive)"``,
            ``"alias"`` (alias or previous symbol), ``"ensembl"``, ``"ensembl (version
            stripped)"``, ``"entrez"``, ``"ambiguous <route>"`` or ``"not found"``.
        ``candidates``
            For ambiguous inputs, the genes it could name (``"PSMD9 (Entrez 5715), ..."``);
            otherwise empty. Ambiguous inputs are never mapped to one of them.

        ``attrs["id_type"]`` holds the detected kind of the inputs (``"symbol"``,
        ``"ensembl"``, ``"ensembl_versioned"``, ``"entrez"``, ``"mixed"`` or ``"unknown"``)
        and ``attrs["gene_table"]`` the table's source and version.

    Raises
    ------
    ifnscore.errors.InputError
        ``ids`` is a single string, or ``to``/``id_type`` is not one of the values above.

    Notes
    -----
    The table holds every human gene in NCBI Gene with its Ensembl IDs and synonyms, from
    Bioconductor's org.Hs.eg.db (Debian package ``r-bioc-org.hs.eg.db``; NCBI Gene of
    September 2022); see ``ifnscore/data/genes/provenance.json`` and
    :mod:`ifnscore._genes._build` to rebuild it from a newer release.

    Examples
    --------
    >>> import ifnscore
    >>> res = ifnscore.map_genes(["ifi27", "ENSG00000126709.15", "3429", "G1P3", "p27"])
    >>> res["symbol"].tolist()
    ['IFI27', 'IFI6', 'IFI27', 'IFI6', <NA>]
    >>> res["via"].tolist()
    ['symbol (case-insensitive)', 'ensembl (version stripped)', 'entrez', 'alias', 'ambiguous alias']
    >>> ifnscore.map_genes(["IFI27"], to="ensembl").loc["IFI27", "ensembl"]
    'ENSG00000165949|ENSG00000275214'
    """
    if isinstance(ids, str | bytes):
        raise InputError(
            f"ids={ids!r} is a single string; pass a list of identifiers, e.g. [{ids!r}]."
        )
    if to not in _TARGETS:
        raise InputError(f"to={to!r} is not valid; use one of {', '.join(map(repr, _TARGETS))}.")
    check_id_type(id_type)
    names = [str(x) for x in ids]
    table = load_table()
    rows, route = table.resolve_many(names, id_type)
    unique = rows >= 0
    source = {"symbol": table.symbol, "entrez": table.entrez, "ensembl": table.ensembl}[to]
    out = np.full(len(names), None, dtype=object)
    out[unique] = source[rows[unique]]
    out[out == ""] = None  # genes without an Ensembl ID
    via = np.array(ROUTES, dtype=object)[route]
    cands = np.full(len(names), "", dtype=object)
    for i in np.flatnonzero(rows == AMBIGUOUS):
        hit = table.resolve(names[i], id_type)
        via[i] = f"ambiguous {hit.route}"
        cands[i] = table.describe(hit.rows)
    res = pd.DataFrame(
        {to: pd.array(out, dtype="string"), "via": via, "candidates": cands},
        index=pd.Index(names, name="input", dtype=object),
    )
    res.attrs["id_type"] = id_type_of_routes(route[rows != -1]) if id_type == "auto" else id_type
    res.attrs["gene_table"] = dict(table_provenance()["source"])
    return res
