"""Scoring methods: a registry of :class:`Method` objects, one module per family.

Two kinds of method:

* :class:`GeneMethod` (``kind="gene"``): per-gene transform of the signature genes' columns (gathered once as a small
  dense block), then an aggregate over genes (sum, mean, median, geometric mean). Sum and mean
  are one matrix product ``T @ W`` with ``W`` a genes x signatures weight matrix.
* :class:`RowMethod` (``kind="rows"``): needs whole rows (rank-based methods); ``run(X, sets, **options)`` is given
  the full matrix (dense, CSR/CSC, or row-sliceable) and the column indices of every set.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..errors import InputError, OptionError

__all__ = [
    "DEFAULT_METHOD",
    "EXECUTION_OPTIONS",
    "METHODS",
    "GeneMethod",
    "GeneSet",
    "Method",
    "RowMethod",
    "check_options",
    "get_method",
    "list_methods",
    "method_options",
    "register",
    "stored_options",
]


from ._base import (
    DEFAULT_METHOD,
    EXECUTION_OPTIONS,
    METHODS,
    GeneMethod,
    GeneSet,
    Method,
    RowMethod,
    register,
)


def get_method(name: str | None) -> Method:
    _load()
    if name is None:
        name = DEFAULT_METHOD
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise InputError(
            f"method={name!r} is not known; choose one of {sorted(METHODS)}."
        ) from None


def method_options(method: Method) -> list[str]:
    """The option names ``method`` takes: its ``run`` kernel's keyword-only parameters."""
    if not isinstance(method, RowMethod):
        return []
    params = inspect.signature(method.run).parameters
    return [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY]


def stored_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options that define what a method computes, i.e. ``options`` less the execution
    settings (:data:`EXECUTION_OPTIONS`: block size, threads), which a Reference never stores
    and never compares."""
    return {k: v for k, v in options.items() if k not in EXECUTION_OPTIONS}


def check_options(
    method: Method, options: Mapping[str, Any], *, func: str = "score", keywords: Sequence[str] = ()
) -> None:
    """Raise :class:`~ifnscore.errors.OptionError` (a ``TypeError``) for keywords that neither
    ``func`` (its own ``keywords``) nor ``method`` (its kernel's keyword-only options) takes."""
    if not options:
        return
    if isinstance(method, RowMethod) and any(
        p.kind is p.VAR_KEYWORD for p in inspect.signature(method.run).parameters.values()
    ):
        return
    allowed = method_options(method)
    unknown = sorted(set(options) - set(allowed))
    if not unknown:
        return
    bad = unknown[0]
    close = difflib.get_close_matches(bad, [*keywords, *allowed], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    takes = f"its options are {allowed}" if allowed else "it takes no options"
    raise OptionError(
        f"{func}() got unexpected keyword argument(s) {unknown}{hint}: not a keyword of {func}(), "
        f"and not an option of method={method.name!r} ({takes})."
    )


def list_methods() -> pd.DataFrame:
    """The scoring methods, one row each, with what they need and where they come from.

    Returns
    -------
    pandas.DataFrame
        Indexed by method name, with ``kind`` (``"gene"``: the signature's columns only;
        ``"rows"``: whole rows), ``space`` (the scale the formula works on),
        ``needs_reference``, ``cohort_dependent``, ``signed``, ``options`` (defaults),
        ``formula`` (LaTeX) and ``citation``.

    Examples
    --------
    >>> import ifnscore
    >>> bool(ifnscore.list_methods().loc["fc_sum", "needs_reference"])
    True
    """
    _load()
    rows = [
        {
            "name": m.name,
            "kind": m.kind,
            "space": m.space,
            "needs_reference": m.needs_reference,
            "cohort_dependent": m.cohort_dependent,
            "signed": m.signed,
            "needs_whole_rows": m.needs_whole_rows,
            "options": ", ".join(
                f"{k}={v!r}" for k, v in (m.options if isinstance(m, RowMethod) else {}).items()
            ),
            "formula": m.formula,
            "citation": m.citation,
        }
        for m in METHODS.values()
    ]
    return pd.DataFrame(rows).set_index("name")


_LOADED = False


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    from . import (  # noqa: F401  (each registers its methods on import)
        _aucell,
        _clinical,
        _gsva,
        _module_score,
        _plage,
        _singscore,
        _ssgsea,
        _ucell,
        _zscore,
    )

    _LOADED = True
