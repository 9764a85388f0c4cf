"""ifnscore: type I interferon signature scores for gene-expression data.

The public API is small:

* :func:`score` – score samples (any container) for one or more signatures;
* :func:`calibrate` – learn a healthy-control :class:`Reference` (limits, per-gene centres);
* :class:`Reference` – saved and loaded with :meth:`Reference.save` / :meth:`Reference.load`;
* :func:`list_signatures`, :func:`get_signature`, :class:`Signature` – the signature registry;
* :func:`list_methods` – the scoring methods and what they need;
* :func:`gene_table` – each sample's per-gene fold changes or z-scores behind its score;
* :func:`map_genes` – map gene identifiers (symbols, aliases, Ensembl, NCBI Gene) with the
  shipped human gene table, by the rules scoring uses;
* :func:`follow` – patients over time (:mod:`ifnscore.longitudinal`); figures in
  :mod:`ifnscore.plot` (extra ``ifnscore[plot]``) and an HTML report in :mod:`ifnscore.report`;
* :func:`read` – expression files, pipeline outputs, qPCR plates (as relative quantities) and
  NanoString RCC files;
* :func:`read_ct` – a qPCR plate export as it was run: one row per well and target;
* :func:`verify_limit` – check a transferred upper limit on 20 new healthy samples (CLSI EP28);
* :mod:`ifnscore.datasets` – the bundled example cohort and its simulator;
* :mod:`ifnscore.errors` – exceptions and warnings.
"""

from . import datasets, errors
from ._gene_table import gene_table
from ._genes import map_genes
from ._io import read
from ._io._ct import read_ct
from ._methods import list_methods
from ._reference import Reference, calibrate
from ._score import score
from ._signatures import Signature, get_signature, list_signatures
from ._verify import verify_limit
from ._version import __version__
from .longitudinal import follow

__all__ = [
    "Reference",
    "Signature",
    "__version__",
    "calibrate",
    "datasets",
    "errors",
    "follow",
    "gene_table",
    "get_signature",
    "list_methods",
    "list_signatures",
    "map_genes",
    "read",
    "read_ct",
    "score",
    "verify_limit",
]
