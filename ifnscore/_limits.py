"""Upper reference limits derived from healthy controls' scores.

Rules (``rule=``):

* ``"mean+2sd"`` (default; any ``"mean+Ksd"``): :math:`\\bar s + K\\,\\mathrm{SD}(s)`, SD with ddof = 1.
  Rice 2013 used mean + 2 SD of 29 controls.
* ``"pNN"`` / ``"pNN.N"`` (e.g. ``"p97.5"``): the non-parametric NN-th percentile by the rank
  method of CLSI EP28-A3c: rank :math:`r = p(n + 1)`, linear interpolation between the order
  statistics around ``r`` (clamped to the sample range).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["Limit", "controls_limit", "percentile_rank"]

_MEAN_SD = re.compile(r"^mean\+(\d+(?:\.\d+)?)sd$")
_PCT = re.compile(r"^p(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Limit:
    """An upper limit and how it was made."""

    value: float
    source: str  # "published", "controls" or "user"
    rule: str
    citation: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "source": self.source,
            "rule": self.rule,
            "citation": self.citation,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Limit:
        return cls(
            value=float(d["value"]),
            source=str(d["source"]),
            rule=str(d["rule"]),
            citation=str(d.get("citation", "")),
            details=dict(d.get("details", {})),
        )


def percentile_rank(scores: np.ndarray, p: float) -> float:
    """EP28 rank-based percentile: value at rank ``p (n + 1)`` (1-based), interpolated."""
    s = np.sort(np.asarray(scores, dtype=np.float64))
    n = s.size
    r = p * (n + 1)
    if r <= 1:
        return float(s[0])
    if r >= n:
        return float(s[-1])
    lo = int(np.floor(r))
    frac = r - lo
    return float(s[lo - 1] + frac * (s[lo] - s[lo - 1]))


def controls_limit(scores: np.ndarray, rule: str = "mean+2sd") -> Limit:
    """Upper limit of the controls' scores by ``rule`` (see module docstring)."""
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size < 2:
        raise InputError(f"At least 2 control scores are needed to derive a limit, got {s.size}.")
    if not isinstance(rule, str):
        raise InputError(f"rule={rule!r} must be a string such as 'mean+2sd' or 'p97.5'.")
    m = _MEAN_SD.match(rule.replace(" ", "").lower())
    if m:
        k = float(m.group(1))
        mean, sd = float(s.mean()), float(s.std(ddof=1))
        return Limit(
            mean + k * sd,
            "controls",
            rule,
            details={"n": int(s.size), "mean": mean, "sd": sd, "k": k},
        )
    m = _PCT.match(rule.replace(" ", "").lower())
    if m:
        p = float(m.group(1)) / 100.0
        if not 0 < p < 1:
            raise InputError(f"rule={rule!r}: the percentile must lie strictly between 0 and 100.")
        return Limit(
            percentile_rank(s, p),
            "controls",
            rule,
            citation="CLSI EP28-A3c rank method, r = p(n + 1)",
            details={"n": int(s.size), "p": p},
        )
    raise InputError(
        f"rule={rule!r} is not a known limit rule; use 'mean+2sd' (any 'mean+Ksd') or a percentile such as 'p97.5'."
    )
