"""Signature registry: published IFN signatures with their provenance, plus custom ones.

Each published signature is one human-readable TOML file in ``ifnscore/data/signatures``.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from .errors import SignatureError

__all__ = [
    "DEFAULT_SIGNATURE",
    "Signature",
    "Threshold",
    "get_signature",
    "list_signatures",
    "read_gmt",
]


@dataclass(frozen=True)
class Threshold:
    """A published upper limit, valid for one ifnscore method on the source's scale."""

    method: str
    value: float
    rule: str = ""
    source: str = ""
    doi: str = ""
    notes: str = ""


@dataclass(frozen=True)
class Signature:
    """A named gene set with its provenance.

    Parameters
    ----------
    name
        Identifier used in results (column names, AnnData keys).
    genes
        Gene symbols (HGNC) of the set; for signed signatures, the up-regulated genes.
    down
        Down-regulated genes of a signed signature (empty for IFN signatures).
    title, tissue, platform, formula, citation, doi, notes
        Provenance, as published.
    reference_genes
        Housekeeping genes the source normalised against (qPCR), if any.
    thresholds
        Published upper limits, each for one ifnscore method.

    Examples
    --------
    >>> import ifnscore
    >>> sig = ifnscore.get_signature("rice6")
    >>> sig.genes
    ('IFI27', 'IFI44L', 'IFIT1', 'ISG15', 'RSAD2', 'SIGLEC1')
    >>> sig.published_limit("fc_median").value
    2.466
    >>> ifnscore.Signature("my_isgs", ["MX1", "OAS1"]).genes
    ('MX1', 'OAS1')
    """

    name: str
    genes: tuple[str, ...]
    down: tuple[str, ...] = ()
    title: str = ""
    tissue: str = ""
    platform: str = ""
    formula: str = ""
    citation: str = ""
    doi: str = ""
    notes: str = ""
    reference_genes: tuple[str, ...] = ()
    thresholds: tuple[Threshold, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SignatureError(f"Signature name must be a non-empty string, got {self.name!r}.")
        object.__setattr__(self, "genes", _gene_tuple(self.genes, f"signature {self.name!r} genes"))
        object.__setattr__(
            self, "down", _gene_tuple(self.down, f"signature {self.name!r} down", empty_ok=True)
        )
        object.__setattr__(self, "reference_genes", tuple(self.reference_genes))
        object.__setattr__(self, "thresholds", tuple(self.thresholds))
        both = set(self.genes) & set(self.down)
        if both:
            raise SignatureError(
                f"Signature {self.name!r} lists {sorted(both)} both as up and down genes; keep each gene in one list."
            )

    @property
    def all_genes(self) -> tuple[str, ...]:
        """Up genes followed by down genes."""
        return self.genes + self.down

    def published_limit(self, method: str) -> Threshold | None:
        """The published upper limit for ``method``, or ``None`` when the source gives none.

        Parameters
        ----------
        method : str
            A method name, e.g. ``"fc_median"``.

        Returns
        -------
        Threshold or None
            The limit with its rule, source and DOI.
        """
        for t in self.thresholds:
            if t.method == method:
                return t
        return None

    def to_dict(self) -> dict:
        """A JSON-serialisable description (used in saved references).

        Returns
        -------
        dict
            ``name``, ``genes``, ``down``, ``title``, ``citation`` and ``doi``.
        """
        return {
            "name": self.name,
            "genes": list(self.genes),
            "down": list(self.down),
            "title": self.title,
            "citation": self.citation,
            "doi": self.doi,
        }


def _gene_tuple(genes: object, what: str, *, empty_ok: bool = False) -> tuple[str, ...]:
    if isinstance(genes, str):
        raise SignatureError(
            f"{what} must be a list of gene names, not the single string {genes!r}."
        )
    try:
        out = tuple(str(g).strip() for g in genes)  # type: ignore[attr-defined]
    except TypeError:
        raise SignatureError(
            f"{what} must be a list of gene names, got {type(genes).__name__}."
        ) from None
    if not out and not empty_ok:
        raise SignatureError(f"{what} is empty; a signature needs at least one gene.")
    if any(not g for g in out):
        raise SignatureError(f"{what} contains an empty gene name.")
    dup = sorted({g for g in out if out.count(g) > 1})
    if dup:
        raise SignatureError(f"{what} lists {dup} more than once; list each gene once.")
    return out


@functools.cache
def _registry() -> dict[str, Signature]:
    reg: dict[str, Signature] = {}
    folder = resources.files("ifnscore") / "data" / "signatures"
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".toml"):
            continue
        raw = tomllib.loads(entry.read_text(encoding="utf-8"))
        thresholds = tuple(Threshold(**t) for t in raw.pop("thresholds", []))
        sig = Signature(thresholds=thresholds, **raw)
        reg[sig.name] = sig
    return reg


def list_signatures() -> pd.DataFrame:
    """The published signatures shipped with ifnscore, one row each.

    Returns
    -------
    pandas.DataFrame
        Indexed by name, with columns ``title``, ``n_genes``, ``genes``, ``tissue``, ``platform``,
        ``thresholds`` (``method: value`` pairs) and ``doi``.

    Examples
    --------
    >>> import ifnscore
    >>> "rice6" in ifnscore.list_signatures().index
    True
    """
    rows = []
    for sig in _registry().values():
        rows.append(
            {
                "name": sig.name,
                "title": sig.title,
                "n_genes": len(sig.genes),
                "genes": ", ".join(sig.genes),
                "tissue": sig.tissue,
                "platform": sig.platform,
                "thresholds": "; ".join(f"{t.method}: {t.value:g}" for t in sig.thresholds),
                "doi": sig.doi,
            }
        )
    return pd.DataFrame(rows).set_index("name")


def get_signature(name: str) -> Signature:
    """Return a published signature by name (see :func:`list_signatures`).

    Parameters
    ----------
    name : str
        A registry name such as ``"rice6"`` (a :class:`Signature` is returned as it is).

    Returns
    -------
    Signature
        The genes with their provenance: tissue, platform, source formula, published
        thresholds and citation.

    Raises
    ------
    ifnscore.errors.SignatureError
        If no signature of that name is shipped.

    Examples
    --------
    >>> import ifnscore
    >>> sig = ifnscore.get_signature("ifngs4")
    >>> sig.genes
    ('IFI27', 'IFI44', 'IFI44L', 'RSAD2')
    >>> sig.doi
    '10.1136/annrheumdis-2021-221425'
    """
    reg = _registry()
    if isinstance(name, Signature):
        return name
    try:
        return reg[name]
    except (KeyError, TypeError):
        raise SignatureError(
            f"signature={name!r} is not a published signature; choose one of {sorted(reg)}, "
            "or pass a list of genes, a dict of name -> genes, a Signature, or a .gmt file."
        ) from None


def read_gmt(path: str | os.PathLike) -> list[Signature]:
    """Read gene sets from a GMT file (one set per line: name, description, genes...).

    Parameters
    ----------
    path
        The ``.gmt`` file.

    Returns
    -------
    list of Signature
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SignatureError(
            f"signature={str(path)!r}: cannot read the GMT file ({exc})."
        ) from None
    sigs = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.rstrip("\n").split("\t")]
        genes = [g for g in parts[2:] if g]
        if len(parts) < 3 or not genes:
            raise SignatureError(
                f"{path}, line {lineno}: a GMT line needs a name, a description and at least one gene, "
                "separated by tabs."
            )
        sigs.append(Signature(parts[0], tuple(genes), title=parts[1]))
    if not sigs:
        raise SignatureError(f"{path}: the GMT file holds no gene set.")
    names = [s.name for s in sigs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SignatureError(f"{path}: gene set names {dup} occur more than once.")
    return sigs


SignatureLike = str | Signature | Sequence[str] | Mapping[str, object] | os.PathLike


#: The signature scored when none is named: Rice et al. 2013's six genes.
DEFAULT_SIGNATURE = "rice6"


def as_signatures(signature: SignatureLike | None, default: str | None = None) -> list[Signature]:
    """Normalise every accepted way of naming signatures to a list of :class:`Signature`.

    Accepted: a registry name; a :class:`Signature`; a list of registry names; a list of genes
    (one custom signature named ``"custom"``); a dict name -> genes (or -> ``{"up": [...],
    "down": [...]}``, or -> Signature); a path to a ``.gmt`` file; a list mixing names and Signatures.
    """
    if signature is None:
        signature = DEFAULT_SIGNATURE if default is None else default
    if isinstance(signature, Signature):
        return [signature]
    if isinstance(signature, os.PathLike) or (
        isinstance(signature, str) and signature.lower().endswith(".gmt")
    ):
        return read_gmt(signature)
    if isinstance(signature, str):
        return [get_signature(signature)]
    if isinstance(signature, Mapping):
        out = []
        for name, spec in signature.items():
            if isinstance(spec, Signature):
                out.append(spec if spec.name == name else _renamed(spec, str(name)))
            elif isinstance(spec, Mapping):
                unknown = set(spec) - {"up", "down"}
                if unknown:
                    raise SignatureError(
                        f"signature[{name!r}] has keys {sorted(unknown)}; use 'up' and 'down' for signed sets."
                    )
                out.append(Signature(str(name), spec.get("up", ()), down=spec.get("down", ())))
            else:
                out.append(Signature(str(name), spec))  # type: ignore[arg-type]
        if not out:
            raise SignatureError("signature={} is empty; give at least one gene set.")
        return _unique(out)
    if isinstance(signature, Iterable):
        items = list(signature)
        if not items:
            raise SignatureError("signature=[] is empty; give a signature name or a list of genes.")
        reg = _registry()
        if all(isinstance(i, Signature) or (isinstance(i, str) and i in reg) for i in items):
            return _unique([get_signature(i) for i in items])  # type: ignore[arg-type]
        named = [i for i in items if isinstance(i, str) and i in reg]
        if named or any(isinstance(i, Signature) for i in items):
            raise SignatureError(
                f"signature= mixes signature names {named} with other entries; pass either a list of "
                "signature names or a list of genes."
            )
        return [Signature("custom", tuple(str(i) for i in items))]
    raise SignatureError(
        f"signature= must be a name, a list of genes, a dict or a Signature, got {type(signature).__name__}."
    )


def _renamed(sig: Signature, name: str) -> Signature:
    from dataclasses import replace

    return replace(sig, name=name)


def _unique(sigs: list[Signature]) -> list[Signature]:
    names = [s.name for s in sigs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SignatureError(f"signature= names {dup} more than once; name each signature once.")
    return sigs
