"""Gene identifiers: the shipped human gene table, matching signature genes to the data's
gene names (symbols in any case, aliases and previous symbols, Ensembl with or without version,
NCBI Gene IDs), and :func:`map_genes`.

The table is built by :mod:`ifnscore._genes._build` (see there to rebuild it) and read lazily.
"""

from ._map import map_genes
from ._match import (
    GeneMatch,
    check_id_type,
    detect_id_type,
    gene_likeness,
    match_genes,
    match_records,
    matches_frame,
)
from ._table import ID_TYPES, IdType, load_table, table_provenance

__all__ = [
    "ID_TYPES",
    "GeneMatch",
    "IdType",
    "check_id_type",
    "detect_id_type",
    "gene_likeness",
    "load_table",
    "map_genes",
    "match_genes",
    "match_records",
    "matches_frame",
    "table_provenance",
]
