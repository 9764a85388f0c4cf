"""The real files in ``../shared/data/real/`` (copied unchanged from public repositories).

Tests use them from there and skip cleanly when the folder is absent; they are never copied
into the repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def real(relative: str) -> Path:
    """The path of a real file or folder (relative to ``shared/data/real``), or skip the test."""
    p = REAL / relative
    if not p.exists():
        pytest.skip(f"real data not available: {p}")
    return p
