"""Healthy-control references: :func:`calibrate` and the immutable :class:`Reference`."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._engine import compute, prepare
from ._genes import GeneMatch, IdType
from ._io_util import atomic_write
from ._limits import Limit, check_limit, controls_limit, group_labels, partition_limits
from ._methods import Method, check_options, get_method
from ._signatures import Signature, SignatureLike, as_signatures
from ._validation import SCALES, Expression, Rows, Scale
from ._version import __version__
from .errors import InputError, ReferenceError, ReferenceMismatchError

__all__ = ["Reference", "SignatureReference", "calibrate"]

SCHEMA = "ifnscore.reference"
SCHEMA_VERSION = 1
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "genes": list(self.genes),
            "down": list(self.down),
            "genes_used": list(self.genes_used),
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
    def from_dict(cls, name: str, d: Mapping[str, Any]) -> SignatureReference:
        return cls(
            name=name,
            genes=tuple(d["genes"]),
            down=tuple(d.get("down", ())),
            genes_used=tuple(d["genes_used"]),
            upper_limit=Limit.from_dict(d["upper_limit"]),
            limits=_FrozenDict({k: Limit.from_dict(v) for k, v in d["limits"].items()}),
            control_scores=tuple(float(x) for x in d.get("control_scores", ())),
            summary=_freeze(d.get("control_summary", {})),
            citation=str(d.get("citation", "")),
            doi=str(d.get("doi", "")),
            partitions=_FrozenDict(
                {str(k): Limit.from_dict(v) for k, v in d.get("partitions", {}).items()}
            ),
            partition_test=_freeze(d.get("partition_test", {})),
        )


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
            ``limit_rule``, ``controls_limit``, ``n_controls``, the controls' median, mean
            and SD, the controls' limit rule, CI and outliers, and ``partitioned``.
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
                    "controls_limit": s.limits["controls"].value
                    if "controls" in s.limits
                    else np.nan,
                    "n_controls": self.n_controls,
                    "controls_median": s.summary.get("median", np.nan),
                    "controls_mean": s.summary.get("mean", np.nan),
                    "controls_sd": s.summary.get("sd", np.nan),
                    **_interval_columns(s.limits.get("controls")),
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
            If a field is missing or invalid, or the schema version is newer than this ifnscore.
        """
        try:
            if d.get("schema") != SCHEMA:
                raise ReferenceError(
                    f"{source} is not an ifnscore reference (schema {d.get('schema')!r})."
                )
            version = int(d["schema_version"])
            if version > SCHEMA_VERSION:
                raise ReferenceError(
                    f"{source} has schema version {version}, newer than this ifnscore ({__version__}) "
                    f"reads ({SCHEMA_VERSION}); upgrade ifnscore."
                )
            method = get_method(d["method"])
            scale = d["scale"]
            if scale not in SCALES:
                raise ReferenceError(f"{source}: unknown scale {scale!r}.")
            gene_params = {
                str(g): {k: float(v) for k, v in p.items()} for g, p in d["gene_params"].items()
            }
            need = set(method.params)
            if method.fit is not None:
                for g, p in gene_params.items():
                    if set(p) != need or not all(math.isfinite(v) for v in p.values()):
                        raise ReferenceError(
                            f"{source}: gene {g!r} has parameters {p}, expected finite {sorted(need)}."
                        )
            n_controls = int(d["n_controls"])
            if n_controls < 2:
                raise ReferenceError(
                    f"{source}: n_controls={n_controls}; a reference needs at least 2 controls."
                )
            sigs = {n: SignatureReference.from_dict(n, s) for n, s in d["signatures"].items()}
            if not sigs:
                raise ReferenceError(f"{source} holds no signature.")
            for n, s in sigs.items():
                if method.fit is not None:
                    lost = [g for g in s.genes_used if g not in gene_params]
                    if lost:
                        raise ReferenceError(
                            f"{source}: signature {n!r} uses genes {lost} with no parameters."
                        )
                if not set(s.genes_used) <= set(s.genes + s.down):
                    raise ReferenceError(
                        f"{source}: signature {n!r} uses genes outside its gene list."
                    )
                for lim in (s.upper_limit, *s.limits.values()):
                    if not math.isfinite(lim.value) or lim.source not in LIMIT_SOURCES:
                        raise ReferenceError(
                            f"{source}: signature {n!r} has an invalid limit {lim.to_dict()} (a finite "
                            f"value from one of {list(LIMIT_SOURCES)} is needed)."
                        )
                if s.control_scores and len(s.control_scores) != n_controls:
                    raise ReferenceError(
                        f"{source}: signature {n!r} stores {len(s.control_scores)} control scores "
                        f"for {n_controls} controls."
                    )
                for kind, lims in (("limit", s.limits), ("partition", s.partitions)):
                    for k, lim in lims.items():
                        check_limit(lim, f"{source}: signature {n!r} {kind} {k!r}")
            return cls(
                method=method.name,
                scale=scale,
                gene_params=_freeze(gene_params),
                signatures=_FrozenDict(sigs),
                n_controls=n_controls,
                control_samples=tuple(str(s) for s in d.get("control_samples", ())),
                method_options=_freeze(d.get("method_options", {})),
                created=str(d.get("created", "")),
                ifnscore_version=str(d.get("ifnscore_version", "")),
                schema_version=version,
            )
        except ReferenceError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ReferenceError(
                f"{source} is not a valid ifnscore reference: {type(exc).__name__}: {exc}."
            ) from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> Reference:
        """Read a reference saved by :meth:`save`, validating every field.

        Parameters
        ----------
        path : str or os.PathLike
            A JSON file written by :meth:`save`.

        Returns
        -------
        Reference

        Raises
        ------
        ifnscore.errors.ReferenceError
            If the file is unreadable, not JSON, or not a valid reference.
        """
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ReferenceError(
                f"Cannot read reference {str(path)!r}: {exc.strerror or exc}."
            ) from None
        except json.JSONDecodeError as exc:
            raise ReferenceError(f"Reference {str(path)!r} is not valid JSON ({exc}).") from None
        if not isinstance(d, dict):
            raise ReferenceError(f"Reference {str(path)!r} is not a JSON object.")
        return cls.from_dict(d, source=f"reference {str(path)!r}")

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
        if dict(options) != dict(_thaw(self.method_options)):
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
            if sref.genes != sig.genes or sref.down != sig.down:
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
    upper_limit: float | str | Mapping[str, float] | None = None,
    rule: str = "mean+2sd",
    groups: Any = None,
    exclude_outliers: bool = False,
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
        method when one exists and every signature gene was found, else the controls' limit),
        ``"published"``, ``"controls"``, a number, or a dict signature -> number.
    rule
        How the controls' limit is derived (CLSI EP28-A3c): ``"mean+2sd"`` (default; any
        ``"mean+Ksd"``), a percentile such as ``"p97.5"`` (rank method, with its 90 % CI from
        order statistics), ``"robust"`` (Horn & Pesce biweight), or ``"ep28"`` (non-parametric
        from 120 controls, robust from 20, a warning below 20); each optionally on the log or
        Box-Cox scale: ``"log:mean+2sd"``, ``"boxcox:robust"``. Every rule also screens the
        controls for outliers (Tukey fences, Dixon's D/R) and reports them in
        ``reference.signatures[name].limits["controls"].details["outliers"]``.
    groups
        Control groups (age band, sex, platform): a Series indexed by control name or a
        sequence aligned with the controls. Adds a limit per group by ``rule`` and Harris &
        Boyd's test of whether partitioning is warranted (``reference.summary(partitions=True)``);
        ``ifnscore.score(..., groups=)`` then classifies each sample by its group's limit.
    exclude_outliers
        Leave the flagged outliers out of the controls' limit (recorded in its details).
        Default: report them only.
    strict
        With ``rule="ep28"``: raise :class:`~ifnscore.errors.InputError` instead of warning
        when there are fewer than 20 controls.
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
        Malformed controls, or fewer than 2 controls.
    ifnscore.errors.GeneMatchError
        Fewer than ``min_genes`` genes found.

    Notes
    -----
    With ``rule="mean+2sd"`` the limit is :math:`\bar s + 2\,\mathrm{SD}(s)` over the controls'
    scores :math:`s` (Rice et al. 2013 derived 2.466 this way from 29 controls).

    Examples
    --------
    >>> import ifnscore
    >>> counts, samples = ifnscore.datasets.load_example(as_frame=True)
    >>> controls = counts[samples["group"] == "control"]
    >>> ref = ifnscore.calibrate(controls, signature="rice6", method="fc_sum")
    >>> ref.upper_limit  # the published limit for rice6 / fc_sum
    12.49
    >>> round(ref.signatures["rice6"].limits["controls"].value, 2)  # the controls' own
    12.81
    >>> ifnscore.calibrate(controls, signature="rice6", upper_limit="controls").upper_limit > 12
    True
    """
    meth = get_method(method)
    check_options(meth, options)
    sigs = as_signatures(signature)
    expr, matches = prepare(
        controls,
        sigs,
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
    comp = compute(expr, sigs, matches, meth, params=None, nan="raise", options=options)
    labels = None if groups is None else group_labels(groups, expr.samples)
    gene_params: dict[str, dict[str, float]] = {}
    if comp.params:
        for i, g in enumerate(comp.genes):
            gene_params[g] = {k: float(v[i]) for k, v in comp.params.items()}
    sig_refs: dict[str, SignatureReference] = {}
    for j, sig in enumerate(sigs):
        s = comp.scores[:, j]
        used = tuple(m.gene for m in matches[sig.name] if m.found)
        limits: dict[str, Limit] = {
            "controls": controls_limit(
                s, rule, samples=expr.samples, exclude_outliers=exclude_outliers, strict=strict
            )
        }
        parts, ptest = (
            ({}, {})
            if labels is None
            else partition_limits(
                s,
                labels,
                rule,
                samples=expr.samples,
                exclude_outliers=exclude_outliers,
                strict=strict,
            )
        )
        pub = sig.published_limit(meth.name)
        if pub is not None and len(used) == len(sig.all_genes):
            limits["published"] = Limit(
                pub.value, "published", pub.rule, f"{pub.source}, doi:{pub.doi}"
            )
        chosen = _choose_limit(upper_limit, sig.name, limits, pub is not None)
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
        )
    return Reference(
        method=meth.name,
        scale=expr.scale,
        gene_params=_freeze(gene_params),
        signatures=_FrozenDict(sig_refs),
        n_controls=expr.shape[0],
        control_samples=tuple(str(s) for s in expr.samples),
        method_options=_freeze(options),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _choose_limit(
    upper_limit: Any, name: str, limits: dict[str, Limit], has_published: bool
) -> Limit:
    if isinstance(upper_limit, Mapping):
        if name not in upper_limit:
            raise InputError(
                f"upper_limit= has no entry for signature {name!r} (has {list(upper_limit)})."
            )
        upper_limit = upper_limit[name]
    if upper_limit is None:
        return limits.get("published", limits["controls"])
    if isinstance(upper_limit, str):
        if upper_limit not in ("published", "controls"):
            raise InputError(
                f"upper_limit={upper_limit!r} is not valid; use 'published', 'controls' or a number."
            )
        if upper_limit not in limits:
            why = (
                "not every signature gene was found in the controls"
                if has_published
                else "the source publishes no limit for this method"
            )
            raise InputError(
                f"upper_limit='published' for signature {name!r}: none applies ({why}); use 'controls' or a number."
            )
        return limits[upper_limit]
    try:
        value = float(upper_limit)
    except (TypeError, ValueError):
        raise InputError(
            f"upper_limit={upper_limit!r} is not valid; use 'published', 'controls' or a number."
        ) from None
    if not math.isfinite(value):
        raise InputError(f"upper_limit={upper_limit!r} must be finite.")
    limits["user"] = Limit(value, "user", "given by the user")
    return limits["user"]


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
