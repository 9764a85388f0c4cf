"""Exceptions and warnings raised by ifnscore.

Every error is a subclass of :class:`IfnscoreError` *and* of the built-in
exception a Python user would expect (``ValueError``, ``KeyError``), so both
``except ifnscore.errors.IfnscoreError`` and ``except ValueError`` work.
Messages name the argument, what was wrong, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "FewControlsWarning",
    "GeneMatchError",
    "IfnscoreError",
    "IfnscoreWarning",
    "InputError",
    "MissingGenesWarning",
    "OptionError",
    "ReferenceError",
    "ReferenceMismatchError",
    "ScaleError",
    "SignatureError",
]


class IfnscoreError(Exception):
    """Base class of every error raised by ifnscore."""


class InputError(IfnscoreError, ValueError):
    """The expression data (or another argument) is malformed: NaN, negative values,
    duplicate names, wrong shape, non-numeric cells, empty input."""


class OptionError(IfnscoreError, TypeError):
    """A keyword argument that the function (or the chosen method) does not take: a typo such
    as ``min_gene=`` for ``min_genes=``. A :class:`TypeError`, as Python raises for an
    unexpected keyword; the message names it, the closest valid keyword and the valid ones."""


class ScaleError(InputError):
    """The expression scale is unknown, inconsistent with the values, or could not be
    detected unambiguously (pass ``scale=``)."""


class SignatureError(IfnscoreError, KeyError):
    """An unknown signature name or a malformed custom signature."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class GeneMatchError(IfnscoreError, ValueError):
    """Too few signature genes were found in the data, or a gene matched ambiguously."""


class ReferenceError(IfnscoreError, ValueError):
    """A saved reference could not be read or is invalid."""


class ReferenceMismatchError(ReferenceError):
    """The reference does not fit the data or the request (genes, method, scale, signature)."""


class IfnscoreWarning(UserWarning):
    """Base class of warnings emitted by ifnscore."""


class FewControlsWarning(IfnscoreWarning):
    """Fewer healthy controls than the limit rule needs (CLSI EP28-A3c minimums); the limit is
    still computed, but is unreliable. ``strict=True`` (CLI ``--strict``) refuses instead."""


class MissingGenesWarning(IfnscoreWarning):
    """Some signature genes were not found in the data; the score uses the rest."""
