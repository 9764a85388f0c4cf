"""The method types and the registry every method module registers with (a leaf below
:mod:`ifnscore._methods`, so method modules never import their package)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

__all__ = [
    "DEFAULT_METHOD",
    "EXECUTION_OPTIONS",
    "METHODS",
    "GeneMethod",
    "GeneSet",
    "Method",
    "RowMethod",
    "register",
]

#: The method used when none is named: the sum of fold changes over the healthy medians.
DEFAULT_METHOD = "fc_sum"
#: Keywords of a kernel that say how to run it, not what it computes: never stored in a
#: Reference, never a reason for a mismatch.
EXECUTION_OPTIONS = frozenset({"block_rows", "threads", "n_jobs"})


@dataclass(frozen=True)
class GeneSet:
    """Column indices of one signature in the data (for ``kind="rows"`` methods).

    ``missing_up`` and ``missing_down`` count the signature's genes that were not found
    (UCell counts them at the maximum rank, as the R package does).
    """

    name: str
    up: np.ndarray
    down: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.intp))
    missing_up: int = 0
    missing_down: int = 0


@dataclass(frozen=True, kw_only=True)
class Method:
    """What every scoring method declares, whatever its contract: its descriptive metadata.

    The two contracts are the subclasses :class:`GeneMethod` (per-gene transform of the
    signature genes' columns, then an aggregate over genes) and :class:`RowMethod` (a kernel
    over whole rows). ``kind`` (``"gene"`` or ``"rows"``) names the contract.

    Attributes
    ----------
    name : str
    space : {"linear", "log2", "data"}
        The scale the per-gene values are put on before the formula ("data": as given).
    needs_reference : bool
        Reference-relative methods need :func:`ifnscore.calibrate` on healthy controls first.
    cohort_dependent : bool
        The value of one sample depends on the other samples scored with it.
    signed : bool
        Accepts signatures with down-regulated genes.
    formula, citation : str
    needs_whole_rows : bool
        The formula needs every gene of a sample (rank-based), not only the signature's.
    cohort_options : mapping
        Option values that make an otherwise cohort-independent method cohort-dependent;
        see :meth:`depends_on_cohort`.
    """

    kind: ClassVar[str] = ""
    name: str
    space: Literal["linear", "log2", "data"]
    needs_reference: bool
    cohort_dependent: bool
    signed: bool
    formula: str
    citation: str
    needs_whole_rows: bool = False
    cohort_options: Mapping[str, Any] = field(default_factory=dict)

    def depends_on_cohort(self, options: Mapping[str, Any]) -> bool:
        """Whether scores with these ``options`` depend on the other samples scored together:
        always for ``cohort_dependent`` methods, and for option values listed in
        ``cohort_options`` (e.g. ``ssgsea`` with ``normalize=True``)."""
        return self.cohort_dependent or any(
            k in options and options[k] == v for k, v in self.cohort_options.items()
        )


@dataclass(frozen=True, kw_only=True)
class GeneMethod(Method):
    """A gene-wise method: per-gene values of the signature genes' columns (gathered in one
    scan), ``transform`` (with parameters ``fit`` on healthy controls), then ``aggregate``.

    Attributes
    ----------
    aggregate : {"sum", "mean", "median", "geomean"}
    transform : callable
        ``transform(G, params) -> T`` per-gene values.
    fit : callable, optional
        ``fit(G) -> dict of per-gene arrays`` from the controls' values.
    check : callable, optional
        ``check(params, genes)`` raises when the fitted parameters make the formula undefined.
    params : tuple of str
        Names of the per-gene parameters ``fit`` returns (stored in a reference).
    """

    kind: ClassVar[str] = "gene"
    aggregate: Literal["sum", "mean", "median", "geomean"]
    transform: Callable[[np.ndarray, Mapping[str, np.ndarray]], np.ndarray]
    fit: Callable[[np.ndarray], dict[str, np.ndarray]] | None = None
    check: Callable[[Mapping[str, np.ndarray], list[str]], None] | None = None
    params: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RowMethod(Method):
    """A row-wise method: ``run(X, sets, **options) -> dict[str, ndarray (n_samples,
    n_sets)]`` with at least ``"score"`` over the full matrix (dense, CSR/CSC or row-sliceable)
    and the column indices of every set; extra keys become extra result columns.

    Attributes
    ----------
    run : callable
    options : mapping
        The kernel's options with their defaults, read from ``run``'s keyword-only parameters
        at registration (:func:`register`); never stated by hand.
    """

    kind: ClassVar[str] = "rows"
    run: Callable[..., dict[str, np.ndarray]]
    options: Mapping[str, Any] = field(default_factory=dict)


METHODS: dict[str, Method] = {}


def kernel_options(run: Callable[..., Any]) -> dict[str, Any]:
    """The options a row kernel takes, with their defaults: its keyword-only parameters, less
    the execution settings (:data:`EXECUTION_OPTIONS`)."""
    import inspect

    return {
        n: p.default
        for n, p in inspect.signature(run).parameters.items()
        if p.kind is p.KEYWORD_ONLY and n not in EXECUTION_OPTIONS
    }


def register(method: Method) -> Method:
    """Add ``method`` to the registry. A row method's ``options`` are read from its kernel's
    signature here, once (:func:`kernel_options`): a method that also states them must state
    the same, so the two cannot drift apart."""
    if not isinstance(method, GeneMethod | RowMethod):
        raise TypeError(
            f"register() takes a GeneMethod or a RowMethod, got {type(method).__name__}."
        )
    if isinstance(method, RowMethod):
        derived = kernel_options(method.run)
        if method.options and dict(method.options) != derived:
            raise RuntimeError(
                f"method {method.name!r} states options {dict(method.options)} but its kernel's "
                f"signature gives {derived}; drop options= (it is derived)."
            )
        object.__setattr__(method, "options", derived)
    METHODS[method.name] = method
    return method
