"""The method types and the registry every method module registers with (a leaf below
:mod:`ifnscore._methods`, so method modules never import their package)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["DEFAULT_METHOD", "EXECUTION_OPTIONS", "METHODS", "GeneSet", "Method", "register"]

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


@dataclass(frozen=True)
class Method:
    """A scoring formula and what it needs.

    Attributes
    ----------
    name : str
    kind : {"gene", "rows"}
    space : {"linear", "log2", "data"}
        The scale the per-gene values are put on before the formula ("data": as given).
    aggregate : {"sum", "mean", "median", "geomean", None}
    needs_reference : bool
        Reference-relative methods need :func:`ifnscore.calibrate` on healthy controls first.
    cohort_dependent : bool
        The value of one sample depends on the other samples scored with it.
    signed : bool
        Accepts signatures with down-regulated genes.
    formula, citation : str
    fit : callable, optional
        ``fit(G) -> dict of per-gene arrays`` from the controls' values (``kind="gene"``).
    transform : callable, optional
        ``transform(G, params) -> T`` per-gene values (``kind="gene"``).
    params : tuple of str
        Names of the per-gene parameters ``fit`` returns (stored in a reference).
    check : callable, optional
        ``check(params, genes)`` raises when the fitted parameters make the formula undefined.
    run : callable, optional
        ``run(X, sets, **options) -> dict[str, ndarray (n_samples, n_sets)]`` with at least
        ``"score"`` (``kind="rows"``); extra keys become extra result columns.
    options : mapping
        Default values of the method's options (``kind="rows"``), for :func:`list_methods`:
        derived from ``run``'s keyword-only parameters at registration (:func:`register`).
    needs_whole_rows : bool
        The formula needs every gene of a sample (rank-based), not only the signature's.
    cohort_options : mapping
        Option values that make an otherwise cohort-independent method cohort-dependent;
        see :meth:`depends_on_cohort`.
    """

    name: str
    kind: Literal["gene", "rows"]
    space: Literal["linear", "log2", "data"]
    aggregate: Literal["sum", "mean", "median", "geomean"] | None
    needs_reference: bool
    cohort_dependent: bool
    signed: bool
    formula: str
    citation: str
    fit: Callable[[np.ndarray], dict[str, np.ndarray]] | None = None
    transform: Callable[[np.ndarray, Mapping[str, np.ndarray]], np.ndarray] | None = None
    check: Callable[[Mapping[str, np.ndarray], list[str]], None] | None = None
    params: tuple[str, ...] = ()
    run: Callable[..., dict[str, np.ndarray]] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    needs_whole_rows: bool = False
    cohort_options: Mapping[str, Any] = field(default_factory=dict)

    def depends_on_cohort(self, options: Mapping[str, Any]) -> bool:
        """Whether scores with these ``options`` depend on the other samples scored together:
        always for ``cohort_dependent`` methods, and for option values listed in
        ``cohort_options`` (e.g. ``ssgsea`` with ``normalize=True``)."""
        return self.cohort_dependent or any(
            k in options and options[k] == v for k, v in self.cohort_options.items()
        )


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
    if method.run is not None:
        derived = kernel_options(method.run)
        if method.options and dict(method.options) != derived:
            raise RuntimeError(
                f"method {method.name!r} states options {dict(method.options)} but its kernel's "
                f"signature gives {derived}; drop options= (it is derived)."
            )
        object.__setattr__(method, "options", derived)
    METHODS[method.name] = method
    return method
