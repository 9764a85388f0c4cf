"""Healthy-control references: :func:`calibrate` and the immutable :class:`Reference`."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import _intervals as iv
from ._engine import compute, prepare
from ._genes import GeneMatch, IdType
from ._io_util import atomic_write
from ._limits import (
    TRANSFERENCE_N,
    TRANSFERRED_NOTE,
    Limit,
    _resolve_one,
    check_limit,
    controls_limit,
    excluded_reason,
    group_labels,
    partition_limits,
    published_limit,
    rule_minimum,
    with_note,
)
from ._methods import GeneMethod, Method, check_options, get_method, stored_options
from ._signatures import Signature, SignatureLike, as_signatures
from ._validation import SCALES, Expression, Rows, Scale
from ._version import __version__
from ._warn import warn
from .errors import (
    FewControlsWarning,
    IfnscoreWarning,
    InputError,
    ReferenceError,
    ReferenceMismatchError,
)

__all__ = ["Reference", "SignatureReference", "calibrate"]

SCHEMA = "ifnscore.reference"
#: 2 adds ``excluded_genes`` and ``Limit.notes``: an older ifnscore would ignore the exclusions
#: and score with every gene, so it must refuse these files (it reads only versions <= its own).
SCHEMA_VERSION = 2
KNOWN_SCHEMA_VERSIONS = (1, 2)
#: Sources of the classifying limit (partitions have their own, "partition").
LIMIT_SOURCES = ("published", "controls", "user")
#: Control scores are stored in the JSON up to this many controls (for plots and re-derivation).
MAX_STORED_SCORES = 10_000


class _FrozenDict(dict):
    """A dict that refuses mutation (and still pickles)."""

    def _readonly(self, *args: object, **kwargs: object) -> None:
        raise TypeError("Reference contents are read-only; calibrate again to change them.")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))


def _freeze(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return _FrozenDict({k: _freeze(v) for k, v in obj.items()})
    if isinstance(obj, list | tuple):
        return tuple(_freeze(v) for v in obj)
    return obj


def _thaw(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _thaw(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return [_thaw(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


@dataclass(frozen=True)
class SignatureReference:
    """What calibration learned for one signature."""

    name: str
    genes: tuple[str, ...]
    down: tuple[str, ...]
    genes_used: tuple[str, ...]
    upper_limit: Limit
    limits: Mapping[str, Limit]
    control_scores: tuple[float, ...]
    summary: Mapping[str, float]
    citation: str = ""
    doi: str = ""
    #: Per-group limits (``calibrate(..., groups=)``) and the Harris & Boyd test.
    partitions: Mapping[str, Limit] = field(default_factory=_FrozenDict)
    partition_test: Mapping[str, Any] = field(default_factory=_FrozenDict)
    #: Genes left out at calibration (``exclude_genes=``); scoring with this reference leaves
    #: them out too (:meth:`Reference.scoring_signatures`).
    excluded_genes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "genes": list(self.genes),
            "down": list(self.down),
            "genes_used": list(self.genes_used),
            "excluded_genes": list(self.excluded_genes),
            "citation": self.citation,
            "doi": self.doi,
            "upper_limit": self.upper_limit.to_dict(),
            "limits": {k: v.to_dict() for k, v in self.limits.items()},
            "control_summary": _thaw(self.summary),
            "control_scores": list(self.control_scores),
            "partitions": {k: v.to_dict() for k, v in self.partitions.items()},
            "partition_test": _thaw(self.partition_test),
        }

    @classmethod
    def from_dict(cls, name: str, d: Any, *, where: str = "signature") -> SignatureReference:
        """Read one signature's entry, checking every field's type (a
        :class:`~ifnscore.errors.ReferenceError` naming ``where`` otherwise)."""
        _mapping(d, where)
        for key in ("genes", "genes_used", "upper_limit", "limits"):
            if key not in d:
                raise ReferenceError(f"{where} has no field {key!r}.")
        limits = _mapping(d["limits"], f"{where} limits")
        parts = _mapping(d.get("partitions", {}), f"{where} partitions")
        summary = _mapping(d.get("control_summary", {}), f"{where} control_summary")
        for k, v in summary.items():
            if k == "n":
                _count(v, f"{where} control_summary n", minimum=0)
            else:
                _number(v, f"{where} control_summary {k}")
        return cls(
            name=name,
            genes=_names_list(d["genes"], f"{where} genes", nonempty=True),
            down=_names_list(d.get("down", []), f"{where} down"),
            genes_used=_names_list(d["genes_used"], f"{where} genes_used", nonempty=True),
            upper_limit=Limit.from_dict(d["upper_limit"], where=f"{where} upper_limit"),
            limits=_FrozenDict(
                {
                    str(k): Limit.from_dict(v, where=f"{where} limit {k!r}")
                    for k, v in limits.items()
                }
            ),
            control_scores=tuple(
                _number(x, f"{where} control_scores[{i}]")
                for i, x in enumerate(_list(d.get("control_scores", []), f"{where} control_scores"))
            ),
            summary=_freeze(summary),
            citation=_string(d.get("citation", ""), f"{where} citation"),
            doi=_string(d.get("doi", ""), f"{where} doi"),
            partitions=_FrozenDict(
                {
                    str(k): Limit.from_dict(v, where=f"{where} partition {k!r}")
                    for k, v in parts.items()
                }
            ),
            partition_test=_freeze(
                _mapping(d.get("partition_test", {}), f"{where} partition_test")
            ),
            excluded_genes=_names_list(d.get("excluded_genes", []), f"{where} excluded_genes"),
        )


# ---------------------------------------------------------------------------- JSON field checks
def _mapping(x: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(x, Mapping):
        raise ReferenceError(f"{where} must be a JSON object, got {type(x).__name__}.")
    return x


def _list(x: Any, where: str) -> list[Any]:
    if not isinstance(x, list | tuple):
        raise ReferenceError(f"{where} must be a JSON list, got {type(x).__name__}.")
    return list(x)


def _string(x: Any, where: str) -> str:
    if not isinstance(x, str):
        raise ReferenceError(f"{where} must be a string, got {x!r}.")
    return x


def _names_list(x: Any, where: str, *, nonempty: bool = False) -> tuple[str, ...]:
    out = tuple(_string(v, f"{where} entry") for v in _list(x, where))
    if nonempty and not out:
        raise ReferenceError(f"{where} is empty.")
    if len(set(out)) != len(out):
        raise ReferenceError(f"{where} lists a name more than once.")
    return out


def _number(x: Any, where: str) -> float:
    """A finite JSON number (not a bool)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise ReferenceError(f"{where} must be a number, got {x!r}.")
    try:
        v = float(x)
    except OverflowError:
        raise ReferenceError(f"{where} is too large to be a number.") from None
    if not math.isfinite(v):
        raise ReferenceError(f"{where} must be finite, got {x!r}.")
    return v


#: Longest integer literal a reference file may hold (Python refuses > 4300 digits anyway).
_MAX_INT_DIGITS = 30


def _no_constant(name: str) -> Any:
    raise ValueError(f"it holds {name}, which is not a finite number")


def _int_literal(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(f"it holds a {len(text.lstrip('-'))}-digit number")
    return int(text)


def without_genes(sig: Signature, genes: Sequence[str]) -> Signature:
    """``sig`` without ``genes`` (and without its published thresholds, which were made with
    every gene)."""
    drop = set(genes)
    return replace(
        sig,
        genes=tuple(g for g in sig.genes if g not in drop),
        down=tuple(g for g in sig.down if g not in drop),
        thresholds=(),
    )


def _count(x: Any, where: str, *, minimum: int) -> int:
    """A whole JSON number (not a bool, not 40.7) of at least ``minimum``."""
    if isinstance(x, bool) or not isinstance(x, int):
        raise ReferenceError(f"{where} must be a whole number, got {x!r}.")
    if x < minimum:
        raise ReferenceError(f"{where} is {x}; it must be at least {minimum}.")
    return int(x)


@dataclass(frozen=True)
class Reference:
    """A healthy-control reference: per-gene centres, the controls' scores and the upper limits.

    Made by :func:`calibrate`; saved with :meth:`save` and read back with :meth:`load`.
    Immutable: calibrate again to change it.

    Attributes
    ----------
    method : str
        The scoring method the reference was made for.
    scale : str
        The expression scale of the controls ("counts", "linear", "log2", "log1p"); data
        scored against the reference must be on the same scale.
    gene_params : Mapping[str, Mapping[str, float]]
        Per gene: ``centre`` (median for fc_*, mean for z_*) and ``spread`` (SD, z_*).
    signatures : Mapping[str, SignatureReference]
    n_controls : int
    control_samples : tuple of str
    method_options : Mapping
    created, ifnscore_version : str
    schema_version : int

    Examples
    --------
    >>> import ifnscore
    >>> counts, samples = ifnscore.datasets.load_example(as_frame=True)
    >>> controls = counts[samples["group"] == "control"]
    >>> ref = ifnscore.calibrate(controls, signature="rice6", method="fc_sum")
    >>> ref.upper_limit
    12.49
    >>> ref.signatures["rice6"].upper_limit.source
    'published'
    """

    method: str
    scale: str
    gene_params: Mapping[str, Mapping[str, float]]
    signatures: Mapping[str, SignatureReference]
    n_controls: int
    control_samples: tuple[str, ...] = ()
    method_options: Mapping[str, Any] = field(default_factory=_FrozenDict)
    created: str = ""
    ifnscore_version: str = __version__
    schema_version: int = SCHEMA_VERSION

    # ------------------------------------------------------------------ convenience
    @property
    def upper_limit(self) -> float:
        """The upper limit, when the reference holds a single signature."""
        if len(self.signatures) != 1:
            raise ReferenceMismatchError(
                f"This reference holds {len(self.signatures)} signatures {list(self.signatures)}; use "
                "reference.signatures[name].upper_limit.value."
            )
        return next(iter(self.signatures.values())).upper_limit.value

    def one_signature(self, signature: str | None = None) -> str:
        """The name of the signature meant: ``signature``, or the only one this reference holds.

        Parameters
        ----------
        signature
            A signature name, or ``None`` when the reference holds exactly one.

        Returns
        -------
        str

        Raises
        ------
        ifnscore.errors.InputError
            ``None`` with several signatures, or a name the reference does not hold.

        Examples
        --------
        >>> import ifnscore
        >>> counts, samples = ifnscore.datasets.load_example(as_frame=True)
        >>> ifnscore.calibrate(counts[samples["group"] == "control"], "rice6").one_signature()
        'rice6'
        """
        names = list(self.signatures)
        if signature is None:
            if len(names) != 1:
                raise InputError(
                    f"The reference holds signatures {names}; choose one with signature=."
                )
            return names[0]
        if signature not in self.signatures:
            raise InputError(f"signature={signature!r} is not in the reference (it holds {names}).")
        return signature

    def summary(self, *, partitions: bool = False) -> pd.DataFrame:
        """One row per signature: genes used, the chosen limit and how it was made, the controls'
        limit with its rule, 90 % CI and outliers, and the controls' scores.

        With ``partitions=True``: one row per signature and control group (from
        ``calibrate(..., groups=)``), with each group's limit, CI, outliers and whether
        Harris & Boyd's test warrants partitioning.

        Parameters
        ----------
        partitions : bool
            One row per signature and control group instead of one per signature.

        Returns
        -------
        pandas.DataFrame
            Indexed by signature (and group, with ``partitions=True``): ``method``,
            ``cohort_dependent``, ``n_genes``, ``upper_limit``, ``limit_source``,
            ``limit_rule``, ``limit_notes`` (the chosen limit's provenance, "; "-joined),
            ``transference`` (the EP28 check of a published limit on these controls, or why
            it was not run), ``controls_limit``, ``n_controls``, ``controls_n`` (controls
            the controls' limit used, after any outlier exclusion) and ``controls_min_n``
            (its rule's minimum), the controls' median, mean and SD, the controls' limit
            rule, CI and outliers, ``excluded_genes`` and ``partitioned``.
        """
        if partitions:
            return _partition_summary(self)
        rows = []
        for name, s in self.signatures.items():
            rows.append(
                {
                    "signature": name,
                    "method": self.method,
                    "cohort_dependent": get_method(self.method).depends_on_cohort(
                        self.method_options
                    ),
                    "n_genes": len(s.genes_used),
                    "upper_limit": s.upper_limit.value,
                    "limit_source": s.upper_limit.source,
                    "limit_rule": s.upper_limit.rule,
                    "limit_notes": "; ".join(s.upper_limit.notes),
                    "transference": _transference_text(s.upper_limit),
                    "controls_limit": s.limits["controls"].value
                    if "controls" in s.limits
                    else np.nan,
                    "n_controls": self.n_controls,
                    "controls_n": s.limits["controls"].details.get("n")
                    if "controls" in s.limits
                    else None,
                    "controls_min_n": s.limits["controls"].details.get("min_n")
                    if "controls" in s.limits
                    else None,
                    "controls_median": s.summary.get("median", np.nan),
                    "controls_mean": s.summary.get("mean", np.nan),
                    "controls_sd": s.summary.get("sd", np.nan),
                    **_interval_columns(s.limits.get("controls")),
                    "excluded_genes": ", ".join(s.excluded_genes),
                    "partitioned": s.partition_test.get("warranted", None)
                    if s.partitions
                    else None,
                }
            )
        return pd.DataFrame(rows).set_index("signature")

    def __repr__(self) -> str:
        sigs = ", ".join(
            f"{n}: limit {s.upper_limit.value:.4g} ({s.upper_limit.source})"
            for n, s in self.signatures.items()
        )
        return f"Reference(method={self.method!r}, scale={self.scale!r}, n_controls={self.n_controls}, {sigs})"

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """The JSON-serialisable form that :meth:`save` writes.

        Returns
        -------
        dict
            Schema name and version, ifnscore version, creation time, method and its options,
            scale, number and names of the controls, per-gene parameters and, per signature,
            its genes, limits and the controls' scores.
        """
        return {
            "schema": SCHEMA,
            "schema_version": self.schema_version,
            "ifnscore_version": self.ifnscore_version,
            "created": self.created,
            "method": self.method,
            "method_options": _thaw(self.method_options),
            "scale": self.scale,
            "n_controls": self.n_controls,
            "control_samples": list(self.control_samples),
            "gene_params": _thaw(self.gene_params),
            "signatures": {n: s.to_dict() for n, s in self.signatures.items()},
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the reference as JSON, atomically (a failure never leaves a partial file).

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (conventionally ``.json``); its folder is created if needed.

        Returns
        -------
        pathlib.Path
            The path written.
        """
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False)
        return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: str = "reference") -> Reference:
        """Build and validate a reference from its JSON dictionary.

        Every field is type- and range-checked: numbers must be finite JSON numbers (not
        ``true``/``false``), counts whole numbers, the schema version one this ifnscore
        knows, gene parameters valid for the method (control medians > 0 for ``fc_*``), and
        limits finite (> 0 for positive-score methods, see
        :func:`ifnscore._limits.scores_positive`).

        Parameters
        ----------
        d : Mapping
            A dictionary as made by :meth:`to_dict`.
        source : str
            How to name the origin in error messages (e.g. the file name).

        Returns
        -------
        Reference

        Raises
        ------
        ifnscore.errors.ReferenceError
            If a field is missing or invalid, or the schema version is unknown (e.g. newer
            than this ifnscore).
        """
        try:
            return cls._from_dict(d, source)
        except ReferenceError:
            raise
        except RecursionError:
            raise ReferenceError(
                f"{source} is nested too deeply to be an ifnscore reference."
            ) from None
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise ReferenceError(
                f"{source} is not a valid ifnscore reference: {type(exc).__name__}: {exc}."
            ) from None

    @classmethod
    def _from_dict(cls, d: Mapping[str, Any], source: str) -> Reference:
        _mapping(d, source)
        if d.get("schema") != SCHEMA:
            raise ReferenceError(
                f"{source} is not an ifnscore reference (schema {d.get('schema')!r})."
            )
        if "schema_version" not in d:
            raise ReferenceError(f"{source} has no schema_version.")
        version = d["schema_version"]
        if isinstance(version, bool) or not isinstance(version, int):
            raise ReferenceError(
                f"{source} has schema_version {version!r}; it must be a whole number "
                f"(this ifnscore reads {list(KNOWN_SCHEMA_VERSIONS)})."
            )
        if version > SCHEMA_VERSION:
            raise ReferenceError(
                f"{source} has schema version {version}, newer than this ifnscore ({__version__}) "
                f"reads ({SCHEMA_VERSION}); upgrade ifnscore."
            )
        if version not in KNOWN_SCHEMA_VERSIONS:
            raise ReferenceError(
                f"{source} has schema version {version}, which no ifnscore writes (known: "
                f"{list(KNOWN_SCHEMA_VERSIONS)}); the file is damaged, calibrate again."
            )
        for key in ("method", "scale", "gene_params", "n_controls", "signatures"):
            if key not in d:
                raise ReferenceError(f"{source} has no field {key!r}.")
        name = d["method"]
        if not isinstance(name, str):
            raise ReferenceError(f"{source}: method must be a string, got {name!r}.")
        try:
            method = get_method(name)
        except InputError as exc:
            raise ReferenceError(f"{source}: {exc}") from None
        scale = d["scale"]
        if not isinstance(scale, str) or scale not in SCALES:
            raise ReferenceError(
                f"{source}: unknown scale {scale!r} (expected one of {list(SCALES)})."
            )
        gene_params = {
            _string(g, f"{source} gene_params key"): {
                _string(k, f"{source} gene {g!r} parameter"): _number(
                    v, f"{source} gene {g!r} parameter {k!r}"
                )
                for k, v in _mapping(p, f"{source} gene {g!r}").items()
            }
            for g, p in _mapping(d["gene_params"], f"{source} gene_params").items()
        }
        gene_wise = isinstance(method, GeneMethod) and method.fit is not None
        need = set(method.params) if isinstance(method, GeneMethod) else set()
        if isinstance(method, GeneMethod) and method.fit is not None:
            for g, p in gene_params.items():
                if set(p) != need:
                    raise ReferenceError(
                        f"{source}: gene {g!r} has parameters {sorted(p)}, expected {sorted(need)}."
                    )
            if method.check is not None and gene_params:
                genes = list(gene_params)
                arrays = {k: np.array([gene_params[g][k] for g in genes]) for k in need}
                try:
                    method.check(arrays, genes)
                except InputError as exc:
                    raise ReferenceError(f"{source}: {exc}") from None
        elif gene_params:
            raise ReferenceError(
                f"{source}: method {method.name!r} uses no per-gene parameters, but gene_params "
                "is not empty."
            )
        n_controls = _count(d["n_controls"], f"{source}: n_controls", minimum=2)
        samples = _names_list(d.get("control_samples", []), f"{source} control_samples")
        if samples and len(samples) != n_controls:
            raise ReferenceError(
                f"{source}: control_samples names {len(samples)} controls for n_controls={n_controls}."
            )
        sigs = {
            _string(n, f"{source} signature name"): SignatureReference.from_dict(
                n, s, where=f"{source}: signature {n!r}"
            )
            for n, s in _mapping(d["signatures"], f"{source} signatures").items()
        }
        if not sigs:
            raise ReferenceError(f"{source} holds no signature.")
        for n, s in sigs.items():
            where = f"{source}: signature {n!r}"
            if gene_wise:
                lost = [g for g in s.genes_used if g not in gene_params]
                if lost:
                    raise ReferenceError(f"{where} uses genes {lost} with no parameters.")
            if not set(s.genes_used) <= set(s.genes + s.down):
                raise ReferenceError(f"{where} uses genes outside its gene list.")
            if not set(s.excluded_genes) <= set(s.genes + s.down):
                raise ReferenceError(f"{where} excludes genes outside its gene list.")
            if set(s.excluded_genes) & set(s.genes_used):
                raise ReferenceError(
                    f"{where} both uses and excludes {sorted(set(s.excluded_genes) & set(s.genes_used))}."
                )
            if s.upper_limit.source not in LIMIT_SOURCES:
                raise ReferenceError(
                    f"{where} has upper limit source {s.upper_limit.source!r}; expected one of "
                    f"{list(LIMIT_SOURCES)}."
                )
            if s.control_scores and len(s.control_scores) != n_controls:
                raise ReferenceError(
                    f"{where} stores {len(s.control_scores)} control scores for {n_controls} controls."
                )
            check_limit(s.upper_limit, f"{where} upper limit", method.name)
            for kind, lims in (("limit", s.limits), ("partition", s.partitions)):
                for k, lim in lims.items():
                    check_limit(lim, f"{where} {kind} {k!r}", method.name)
        options = _mapping(d.get("method_options", {}), f"{source} method_options")
        return cls(
            method=method.name,
            scale=scale,
            gene_params=_freeze(gene_params),
            signatures=_FrozenDict(sigs),
            n_controls=n_controls,
            control_samples=samples,
            method_options=_freeze(options),
            created=_string(d.get("created", ""), f"{source} created"),
            ifnscore_version=_string(d.get("ifnscore_version", ""), f"{source} ifnscore_version"),
            schema_version=version,
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> Reference:
        """Read a reference saved by :meth:`save`, validating every field.

        Parameters
        ----------
        path : str or os.PathLike
            A JSON file written by :meth:`save` (UTF-8).

        Returns
        -------
        Reference

        Raises
        ------
        ifnscore.errors.ReferenceError
            If the file is unreadable, not UTF-8 JSON (or pathological JSON: nested too deeply,
            numbers too long, NaN/Infinity), or not a valid reference; always one line.
        """
        path = Path(path)
        shown = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ReferenceError(
                f"Cannot read reference {shown!r}: {exc.strerror or exc}."
            ) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ReferenceError(
                f"Reference {shown!r} is not UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 1]!r}); "
                "it was not written by ifnscore, or was re-saved in another encoding."
            ) from None
        try:
            d = json.loads(text, parse_constant=_no_constant, parse_int=_int_literal)
        except json.JSONDecodeError as exc:
            raise ReferenceError(
                f"Reference {shown!r} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
            ) from None
        except RecursionError:
            raise ReferenceError(
                f"Reference {shown!r} is JSON nested too deeply to be a reference."
            ) from None
        except ValueError as exc:  # _no_constant, _int_literal
            raise ReferenceError(
                f"Reference {shown!r} is not valid reference JSON: {exc}."
            ) from None
        if not isinstance(d, dict):
            raise ReferenceError(f"Reference {shown!r} is not a JSON object.")
        return cls.from_dict(d, source=f"reference {shown!r}")

    def scoring_signatures(self, sigs: Sequence[Signature]) -> list[Signature]:
        """The signatures as scoring against this reference must use them: without the genes
        excluded at calibration (``exclude_genes=``) and, then, without published thresholds
        (they were made with every gene). Signatures the reference does not hold, or with
        no exclusions, are returned unchanged.

        Parameters
        ----------
        sigs : sequence of Signature

        Returns
        -------
        list of Signature
        """
        out = []
        for sig in sigs:
            sref = self.signatures.get(sig.name)
            if sref is None or not sref.excluded_genes:
                out.append(sig)
            else:
                out.append(without_genes(sig, sref.excluded_genes))
        return out

    # ------------------------------------------------------------------ matching
    def check_compatible(
        self,
        expr: Expression,
        sigs: Sequence[Signature],
        method: Method,
        matches: Mapping[str, tuple[GeneMatch, ...]],
        options: Mapping[str, Any],
    ) -> None:
        """Raise :class:`~ifnscore.errors.ReferenceMismatchError` unless this reference fits the request.

        Parameters
        ----------
        expr : Expression
            The validated data to be scored.
        sigs : sequence of Signature
            The signatures requested.
        method : Method
            The scoring method requested.
        matches : Mapping
            Per signature, how each of its genes was matched in the data.
        options : Mapping
            The method options requested.

        Raises
        ------
        ifnscore.errors.ReferenceMismatchError
            If the method, scale, options, signatures or genes found differ from the reference's.
        """
        if method.name != self.method:
            raise ReferenceMismatchError(
                f"The reference was calibrated for method={self.method!r}, but method={method.name!r} was "
                "requested; drop method= or calibrate a reference for that method."
            )
        if expr.scale != self.scale:
            raise ReferenceMismatchError(
                f"The data are on scale {expr.scale!r} ({expr.scale_note}) but the reference was calibrated on "
                f"{self.scale!r} data; give data on the reference's scale (scale={self.scale!r}) or recalibrate."
            )
        if stored_options(options) != stored_options(_thaw(self.method_options)):
            raise ReferenceMismatchError(
                f"Method options {dict(options)} differ from the reference's {dict(self.method_options)}; "
                "drop them to use the reference's, or recalibrate."
            )
        for sig in sigs:
            sref = self.signatures.get(sig.name)
            if sref is None:
                raise ReferenceMismatchError(
                    f"The reference has no signature {sig.name!r} (it holds {list(self.signatures)}); "
                    "calibrate it with that signature."
                )
            ex = set(sref.excluded_genes)
            kept = (
                tuple(g for g in sref.genes if g not in ex),
                tuple(g for g in sref.down if g not in ex),
            )
            if ex and (sig.genes, sig.down) == (sref.genes, sref.down):
                raise ReferenceMismatchError(
                    f"Signature {sig.name!r}: the reference was calibrated without genes "
                    f"{list(sref.excluded_genes)} (exclude_genes=), but the request scores them; "
                    "score with reference.scoring_signatures(signatures), which leaves them out."
                )
            if (sig.genes, sig.down) not in ((sref.genes, sref.down), kept):
                raise ReferenceMismatchError(
                    f"Signature {sig.name!r} has genes {list(sig.all_genes)} but the reference's has "
                    f"{list(sref.genes + sref.down)}; use the same gene list."
                )
            found = tuple(m.gene for m in matches[sig.name] if m.found)
            if found != sref.genes_used:
                missing = [g for g in sref.genes_used if g not in found]
                extra = [g for g in found if g not in sref.genes_used]
                raise ReferenceMismatchError(
                    f"Signature {sig.name!r}: the reference was calibrated on genes {list(sref.genes_used)}, "
                    f"but in these data {missing or 'none'} are missing and {extra or 'none'} are extra. "
                    "Score data with the same genes, or calibrate on controls restricted to the genes present."
                )


def _score_summary(s: np.ndarray) -> dict[str, float]:
    s = s[np.isfinite(s)]
    q = np.quantile(s, [0.25, 0.5, 0.75]) if s.size else [np.nan] * 3
    return {
        "n": int(s.size),
        "mean": float(s.mean()),
        "sd": float(s.std(ddof=1)) if s.size > 1 else float("nan"),
        "min": float(s.min()),
        "q25": float(q[0]),
        "median": float(q[1]),
        "q75": float(q[2]),
        "max": float(s.max()),
    }


def calibrate(
    controls: Any,
    signature: SignatureLike | None = None,
    *,
    method: str = "fc_sum",
    upper_limit: Any = None,
    rule: str = "ep28",
    groups: Any = None,
    exclude_outliers: bool = False,
    exclude_genes: Sequence[str] | None = None,
    strict: bool = False,
    scale: Scale = "auto",
    genes: Sequence[str] | None = None,
    samples: Sequence[str] | None = None,
    rows: Rows = "auto",
    layer: str | None = None,
    use_raw: bool = False,
    min_genes: int | None = None,
    duplicates: str = "sum",
    id_type: IdType = "auto",
    **options: Any,
) -> Reference:
    r"""Learn a healthy-control reference for one or more signatures.

    For reference-relative methods it stores, per signature gene, the controls' centre
    (median on the linear scale for ``fc_*``; mean and SD of :math:`\log_2(x+1)` for ``z_*``).
    For every method it scores the controls themselves and derives the controls' upper limit
    by ``rule``, keeping the published limit alongside where the source gives one.

    Parameters
    ----------
    controls
        Expression of healthy controls, samples x genes: ndarray (with ``genes=``), scipy.sparse,
        DataFrame or AnnData.
    signature
        A published signature name (default ``"rice6"``), a list of names, a list of genes,
        a dict name -> genes, a :class:`Signature`, or a ``.gmt`` path.
    method
        Scoring method (default ``"fc_sum"``); see :func:`ifnscore.list_methods`.
    upper_limit
        Which limit classifies samples: ``None`` (the published limit for this signature and
        method when one exists, every signature gene was found and none excluded, else the
        controls' limit), ``"published"``, ``"controls"``, a number (finite; > 0 for
        positive-score methods such as ``fc_*``, ``aucell``, ``ucell``), or a dict
        signature -> one of these.
    rule
        How the controls' limit is derived (CLSI EP28-A3c). Default ``"ep28"``: the
        non-parametric 97.5th percentile from 120 controls, the robust (Horn & Pesce) limit
        from 20 to 119, after a Box-Cox transform when the scores are positive and skewed
        (:math:`|G_1| > 0.5`). Also ``"mean+2sd"`` (Rice et al. 2013's convention; any
        ``"mean+Ksd"``), a percentile such as ``"p97.5"``, ``"robust"``, each optionally on
        the log, Box-Cox or raw scale (``"log:robust"``, ``"raw:ep28"``). Every rule has a
        minimum number of controls (:func:`ifnscore._limits.rule_minimum`: 20, or 120 for
        ``p97.5``); below it the limit carries a warning. Every rule also screens the
        controls for outliers (Tukey fences, Dixon's D/R) on its scale and reports them in
        ``reference.signatures[name].limits["controls"].details["outliers"]``.
    groups
        Control groups (age band, sex, platform): a Series indexed by control name or a
        sequence aligned with the controls. Adds a limit per group by ``rule`` and Harris &
        Boyd's test of whether partitioning is warranted (``reference.summary(partitions=True)``);
        ``ifnscore.score(..., groups=)`` then classifies each sample by its group's limit.
    exclude_outliers
        Leave the flagged outliers out of the controls' limit (recorded in its details).
        Default: report them only.
    exclude_genes
        Signature genes to leave out (e.g. a gene whose control median is 0), recorded per
        signature in ``reference.signatures[name].excluded_genes`` and left out again when
        scoring with the reference. A published limit no longer applies to a signature
        with excluded genes (it was made with every gene).
    strict
        Raise :class:`~ifnscore.errors.InputError` instead of warning when there are fewer
        controls than the rule's minimum.
    scale, genes, samples, rows, layer, use_raw
        How to read ``controls``; see :func:`ifnscore.score`.
    min_genes
        Fewest signature genes that must be present (default: half, rounded up).
    duplicates
        ``"sum"`` or ``"error"`` when several data columns match one gene.
    id_type
        What the controls' gene names are: ``"auto"``, ``"symbol"``, ``"ensembl"`` or
        ``"entrez"``; see :func:`ifnscore.score`.
    **options
        Method options (e.g. ``max_rank=`` for ``ucell``), stored in the reference.

    Returns
    -------
    Reference

    Raises
    ------
    ifnscore.errors.InputError
        Malformed controls, fewer than 2 controls, an invalid ``upper_limit`` (non-finite,
        <= 0 for a positive-score method), a gene with a control median of 0 (``fc_*``; the
        message names it and ``exclude_genes=``), a controls' limit not above the controls'
        median, or (``strict=True``) fewer controls than the rule's minimum.
    ifnscore.errors.GeneMatchError
        Fewer than ``min_genes`` genes found.

    Warns
    -----
    ifnscore.errors.IfnscoreWarning
        The classifying controls' limit (or a partition's) rests on fewer controls than its
        rule's minimum; a published limit fails EP28's transference check on these controls;
        an ``fc_*`` control median rests on few reads (counts: median below 5 reads or
        1 CPM).

    Notes
    -----
    A published limit chosen with at least 20 controls is checked on them (CLSI EP28-A3c
    transference: at most 10 %, 2 of 20, at or above it); the result is in the limit's
    ``notes`` and ``details["transference"]`` and a failure warns. With fewer controls the
    limit is noted as unverified.

    Examples
    --------
    >>> import ifnscore
    >>> counts, samples = ifnscore.datasets.load_example(as_frame=True)
    >>> controls = counts[samples["group"] == "control"]
    >>> ref = ifnscore.calibrate(controls, signature="rice6", method="fc_sum")
    >>> ref.upper_limit  # the published limit for rice6 / fc_sum
    12.49
    >>> ctl = ref.signatures["rice6"].limits["controls"]  # the controls' own, by EP28
    >>> ctl.rule, ctl.details["n"]
    ('boxcox:robust', 40)
    >>> print(ref.signatures["rice6"].upper_limit.notes[-1])
    12.49 on your 40 controls: 3 at or above it; CLSI EP28-A3c accepts at most 10 % (4 of 40; 2 of 20): accepted (binomial P(>= 3 | 40, 2.5 %) = 0.078)
    """
    rule_minimum(rule)  # the rule's grammar, checked before any data is touched
    meth = get_method(method)
    check_options(meth, options)
    sigs = as_signatures(signature)
    if isinstance(upper_limit, Mapping):
        unknown = sorted(str(k) for k in upper_limit if k not in {s.name for s in sigs})
        if unknown:
            raise InputError(
                f"upper_limit names signatures {unknown} that are not calibrated "
                f"(calibrated: {[s.name for s in sigs]})."
            )
    excluded = _exclusions(exclude_genes, sigs)
    work = [without_genes(s, excluded[s.name]) if excluded[s.name] else s for s in sigs]
    expr, matches = prepare(
        controls,
        work,
        meth,
        None,
        options,
        genes=genes,
        samples=samples,
        rows=rows,
        layer=layer,
        use_raw=use_raw,
        scale=scale,
        min_genes=min_genes,
        duplicates=duplicates,
        id_type=id_type,
        arg="controls",
    )
    if expr.shape[0] < 2:
        raise InputError(
            f"controls has {expr.shape[0]} sample; at least 2 healthy controls are needed to calibrate."
        )
    fc = (
        isinstance(meth, GeneMethod)
        and meth.fit is not None
        and "centre" in meth.params
        and meth.space == "linear"
    )
    # fc_*: the control medians are checked here, by name and with the fix (exclude_genes=),
    # instead of by the method's own check; one pass over the data either way
    run = replace(meth, check=None) if fc and isinstance(meth, GeneMethod) else meth
    with np.errstate(divide="ignore", invalid="ignore"):
        comp = compute(expr, work, matches, run, params=None, nan="raise", options=options)
    if fc:
        _check_control_medians(expr, comp)
    labels = None if groups is None else group_labels(groups, expr.samples)
    gene_params: dict[str, dict[str, float]] = {}
    if comp.params:
        for i, g in enumerate(comp.genes):
            gene_params[g] = {k: float(v[i]) for k, v in comp.params.items()}
    names = [str(x) for x in expr.samples]
    sig_refs: dict[str, SignatureReference] = {}
    for j, sig in enumerate(sigs):
        s = comp.scores[:, j]
        used = tuple(m.gene for m in matches[sig.name] if m.found)
        value = upper_limit.get(sig.name) if isinstance(upper_limit, Mapping) else upper_limit
        arg = f"upper_limit[{sig.name!r}]" if isinstance(upper_limit, Mapping) else "upper_limit"
        limits: dict[str, Limit] = {}
        why_not: dict[str, str] = {}
        failure: InputError | None = None
        try:
            limits["controls"] = controls_limit(
                s,
                rule,
                samples=names,
                exclude_outliers=exclude_outliers,
                strict=strict,
                warn_small=False,
            )
        except InputError as exc:
            if strict:
                raise
            failure = exc
            why_not["controls"] = f"the controls' limit could not be derived: {exc}"
        pub = published_limit(sig, meth.name)
        if pub is None:
            why_not["published"] = (
                f"the source publishes no limit for signature {sig.name!r} with method={meth.name!r}"
            )
        elif excluded[sig.name]:
            why_not["published"] = excluded_reason(sig, excluded[sig.name])
        elif len(used) != len(sig.all_genes):
            lost = [g for g in sig.all_genes if g not in used]
            why_not["published"] = (
                f"the published limit needs every signature gene, and {lost} were not found in the controls"
            )
        else:
            limits["published"] = pub
        default = limits.get("published", limits.get("controls"))
        if default is None and value is None and failure is not None:
            raise failure
        chosen = _resolve_one(
            value,
            name=sig.name,
            method=meth.name,
            available=limits,
            why_not=why_not,
            default=default,
            arg=arg,
        )
        assert chosen is not None
        if chosen.source == "user":
            limits["user"] = chosen
        chosen = _annotate(chosen, s, names, limits, why_not, sig.name)
        for k in list(limits):
            if limits[k].source == chosen.source:
                limits[k] = chosen
        parts, ptest = (
            ({}, {})
            if labels is None
            else partition_limits(
                s,
                labels,
                rule,
                samples=names,
                exclude_outliers=exclude_outliers,
                strict=strict,
            )
        )
        short = [
            f"{g!r} (n = {p.details['n']})"
            for g, p in parts.items()
            if "below_minimum" in p.details
        ]
        if short:
            warn(
                f"groups=: partitions {', '.join(short)} of signature {sig.name!r} have fewer controls "
                f"than rule {rule!r} needs ({next(iter(parts.values())).details['min_n']}); their limits "
                "are unreliable (merge groups or add controls, or pass strict=True to refuse them).",
                FewControlsWarning,
            )
        sig_refs[sig.name] = SignatureReference(
            name=sig.name,
            genes=sig.genes,
            down=sig.down,
            genes_used=used,
            upper_limit=chosen,
            limits=_FrozenDict(limits),
            control_scores=tuple(float(x) for x in s) if s.size <= MAX_STORED_SCORES else (),
            summary=_freeze(_score_summary(s)),
            citation=sig.citation,
            doi=sig.doi,
            partitions=_FrozenDict(parts),
            partition_test=_freeze(ptest),
            excluded_genes=excluded[sig.name],
        )
    return Reference(
        method=meth.name,
        scale=expr.scale,
        gene_params=_freeze(gene_params),
        signatures=_FrozenDict(sig_refs),
        n_controls=expr.shape[0],
        control_samples=tuple(names),
        method_options=_freeze(stored_options(options)),  # never block sizes or threads
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _annotate(
    chosen: Limit,
    s: np.ndarray,
    names: list[str],
    limits: Mapping[str, Limit],
    why_not: Mapping[str, str],
    sig: str,
) -> Limit:
    """The classifying limit with what a clinician must know about it: a controls' limit below
    its rule's minimum warns; a published one is checked on these controls (EP28
    transference) or noted as unverified; a controls' limit that could not be derived is noted."""
    if chosen.source == "controls" and "below_minimum" in chosen.details:
        warn(
            f"Signature {sig!r}: {chosen.details['below_minimum']}; the limit "
            f"{chosen.value:.4g} is unreliable (add controls, or pass strict=True to refuse it).",
            FewControlsWarning,
        )
    if chosen.source == "published":
        n = int(s.size)
        if n >= TRANSFERENCE_N:
            v = iv.transference(s, chosen.value, names)
            allowed = f"{v.max_outside} of {n}" + ("" if n == 20 else "; 2 of 20")
            outcome = "accepted" if v.accepted else v.note
            text = (
                f"{chosen.value:g} on your {n} controls: {v.n_outside} at or above it; CLSI "
                f"EP28-A3c accepts at most 10 % ({allowed}): {outcome} (binomial P(>= "
                f"{v.n_outside} | {n}, 2.5 %) = {v.p_value:.2g})"
            )
            status = "verified" if v.accepted else "NOT verified"
            chosen = _drop_unverified(chosen)
            chosen = with_note(chosen, f"{TRANSFERRED_NOTE}: {status} on {n} local controls")
            chosen = with_note(chosen, text, transference={**v.to_dict(), "text": text})
            if not v.accepted:
                warn(
                    f"Signature {sig!r}: the published limit does not transfer to these controls: "
                    f"{text}; consider upper_limit='controls' (a local limit) or more controls.",
                    IfnscoreWarning,
                )
        else:
            text = (
                f"{TRANSFERRED_NOTE}: unverified on local controls ({n} given, fewer than the "
                f"{TRANSFERENCE_N} CLSI EP28-A3c transference needs)"
            )
            chosen = with_note(_drop_unverified(chosen), text, transference={"text": text, "n": n})
    if "controls" in why_not and chosen.source != "controls":
        chosen = with_note(chosen, why_not["controls"])
    return chosen


def _drop_unverified(lim: Limit) -> Limit:
    """``lim`` without the generic 'unverified until checked' note (replaced by the check)."""
    notes = tuple(x for x in lim.notes if not x.startswith(TRANSFERRED_NOTE))
    return replace(lim, notes=notes)


def _transference_text(lim: Limit) -> str | None:
    t = lim.details.get("transference")
    return t.get("text") if isinstance(t, Mapping) else None


def _exclusions(
    exclude_genes: Sequence[str] | None, sigs: Sequence[Signature]
) -> dict[str, tuple[str, ...]]:
    """Per signature, the genes of ``exclude_genes`` it holds; every gene must be in one."""
    if exclude_genes is None:
        return {s.name: () for s in sigs}
    if isinstance(exclude_genes, str) or not all(isinstance(g, str) for g in exclude_genes):
        raise InputError(
            f"exclude_genes={exclude_genes!r} must be a list of gene names, e.g. ['SIGLEC1']."
        )
    drop = set(exclude_genes)
    known = {g for s in sigs for g in s.all_genes}
    unknown = sorted(drop - known)
    if unknown:
        raise InputError(
            f"exclude_genes= names {unknown}, which no signature calibrated here holds "
            f"({sorted(known)}); give signature genes."
        )
    out = {}
    for s in sigs:
        ex = tuple(g for g in s.all_genes if g in drop)
        if ex and not [g for g in s.genes if g not in drop]:
            raise InputError(
                f"exclude_genes= leaves signature {s.name!r} without any up-regulated gene; "
                "exclude fewer genes."
            )
        out[s.name] = ex
    return out


#: A control median below this many counts per million (counts data) rests on few reads: 1 CPM
#: is 5 reads in a library of 5 million and 10 in one of 10 million, where Poisson counting
#: noise alone (relative SD 1/sqrt(reads): 45 % at 5, 32 % at 10) moves every fold change over
#: that median; it is also the usual expression filter (edgeR's filterByExpr keeps genes from
#: about 10 reads at the median library size; Chen, Lun & Smyth 2016, F1000Research 5:1438).
FEW_CPM = 1.0


def _check_control_medians(expr: Expression, comp: Any) -> None:
    """fc_*: refuse genes whose control median is 0 (by name, pointing at ``exclude_genes=``),
    and warn when a median rests on few reads (counts: below :data:`FEW_CPM`)."""
    centre = np.asarray(comp.params["centre"], dtype=np.float64)
    genes = list(comp.genes)
    zero = [g for g, c in zip(genes, centre, strict=True) if not c > 0]
    if zero:
        raise InputError(
            f"Genes {zero} have a control median of 0 in controls, so their fold changes are "
            f"undefined; pass exclude_genes={zero!r} (CLI --exclude-genes {' '.join(zero)}) to "
            "leave them out (a published limit then no longer applies), or use controls that "
            "express them."
        )
    if expr.scale != "counts":
        return
    few = [(g, c) for g, c in zip(genes, centre, strict=True) if c < FEW_CPM]
    if few:
        names = [g for g, _ in few]
        shown = ", ".join(f"{g} ({c:.3g} CPM)" for g, c in few)
        warn(
            f"Control medians of {shown} lie below {FEW_CPM:g} CPM, i.e. rest on few reads (5 in "
            "a library of 5 million): counting noise alone moves each fold change over them by "
            f"about 45 % or more; consider exclude_genes={names!r} (CLI --exclude-genes "
            f"{' '.join(names)}) or deeper sequencing.",
            IfnscoreWarning,
        )


def _interval_columns(lim: Limit | None) -> dict[str, Any]:
    """The controls' limit rule, CI and outliers, for :meth:`Reference.summary`."""
    d = lim.details if lim is not None else {}
    return {
        "controls_rule": lim.rule if lim is not None else None,
        "controls_ci_low": d.get("ci_low"),
        "controls_ci_high": d.get("ci_high"),
        "controls_outliers": ", ".join(o["sample"] for o in d.get("outliers", ())),
    }


def _partition_summary(ref: Reference) -> pd.DataFrame:
    rows = []
    for name, s in ref.signatures.items():
        for g, lim in s.partitions.items():
            rows.append(
                {
                    "signature": name,
                    "group": g,
                    "n": lim.details.get("n"),
                    "limit": lim.value,
                    **_interval_columns(lim),
                    "partitioned": s.partition_test.get("warranted"),
                }
            )
    cols = ["signature", "group", "n", "limit", "controls_rule", "controls_ci_low"]
    cols += ["controls_ci_high", "controls_outliers", "partitioned"]
    return pd.DataFrame(rows, columns=cols).set_index(["signature", "group"])
