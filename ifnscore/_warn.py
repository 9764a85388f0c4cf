"""Warnings that point at the user's line, not at ifnscore's internals."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

__all__ = ["warn"]

_PACKAGE = str(Path(__file__).resolve().parent)


def _stacklevel() -> int:
    """Stack level (for a call made in this module's caller) of the first frame outside ifnscore."""
    level, frame = 1, sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the first caller outside the ifnscore package."""
    warnings.warn(message, category, stacklevel=_stacklevel() + 1)
