r"""Upper reference limits derived from healthy controls' scores (CLSI EP28-A3c).

A rule is ``"[transform:]method"``:

============================  ==========================================================
``transform`` (optional)      ``log`` (:math:`\ln s`) or ``boxcox`` (Box-Cox, :math:`\lambda`
                              by maximum likelihood); the limit is computed on that scale and
                              back-transformed (CIs too; a Box-Cox CI ignores the
                              uncertainty of lambda and undercovers, about 82 % for a nominal
                              90 % in docs/intervals_simulation.md). Without a prefix: the raw
                              score scale.
``mean+Ksd``                  :math:`\bar y + K\,\mathrm{SD}(y)` (SD with ddof = 1); 90 % CI
                              exact under normality (non-central t). ``"mean+2sd"`` is the
                              default of :func:`ifnscore.calibrate` (Rice 2013: mean + 2 SD of
                              29 controls).
``pNN`` (e.g. ``p97.5``)      the non-parametric NN-th percentile by the EP28 rank method,
                              :math:`r = p(n+1)`, with the 90 % CI from the order statistics
                              (binomial; needs about 120 controls for p97.5, else reported as
                              not computable).
``robust``                    Horn & Pesce biweight limit (97.5th percentile), 90 % CI by
                              bootstrap (1000 resamples, seed 0).
``ep28``                      EP28's choice by the number of controls :math:`n`: ``p97.5``
                              from 120, ``robust`` from 20 to 119, and ``robust`` with an
                              :class:`~ifnscore.errors.IfnscoreWarning` below 20 (an
                              :class:`~ifnscore.errors.InputError` with ``strict=True``).
============================  ==========================================================

Every limit also screens the controls for outliers (Tukey's fences on the rule's scale and
Dixon's D/R > 1/3 for the extremes). Outliers are reported in ``Limit.details["outliers"]``
and kept, unless ``exclude_outliers=True`` (then they are left out once, and listed in
``details["excluded"]``).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import _intervals as iv
from ._intervals import percentile_rank
from ._warn import warn
from .errors import IfnscoreWarning, InputError, ReferenceError

__all__ = [
    "Limit",
    "check_limit",
    "controls_limit",
    "group_labels",
    "partition_limits",
    "percentile_rank",
    "sample_limits",
]

_RULE = re.compile(
    r"^(?:(?P<tf>log|boxcox):)?"
    r"(?:mean\+(?P<k>\d+(?:\.\d+)?)sd|p(?P<p>\d+(?:\.\d+)?)|(?P<robust>robust)|(?P<ep28>ep28))$"
)
EP28_NONPARAMETRIC_N = 120
EP28_MIN_N = 20
CI_LEVEL = 0.90
_HELP = (
    "use 'mean+Ksd' (e.g. 'mean+2sd'), a percentile 'pNN' (e.g. 'p97.5'), 'robust' or 'ep28', "
    "optionally after 'log:' or 'boxcox:' (e.g. 'log:mean+2sd')"
)
_CITE = {
    "mean": "mean + K SD of the controls",
    "p": "CLSI EP28-A3c rank method, r = p(n + 1); CI from order statistics",
    "robust": "Horn, Pesce & Copeland 1998, Clin Chem 44:622, doi:10.1093/clinchem/44.3.622 (CLSI EP28-A3c)",
}


@dataclass(frozen=True)
class Limit:
    """An upper limit and how it was made."""

    value: float
    source: str  # "published", "controls", "user" or "partition"
    rule: str
    citation: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "source": self.source,
            "rule": self.rule,
            "citation": self.citation,
            "details": copy.deepcopy(self.details),  # a copy: the Reference stays immutable
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


def _parse(rule: Any) -> re.Match[str]:
    if not isinstance(rule, str):
        raise InputError(f"rule={rule!r} must be a string; {_HELP}.")
    m = _RULE.match(rule.replace(" ", "").lower())
    if m is None:
        raise InputError(f"rule={rule!r} is not a known limit rule; {_HELP}.")
    if m.group("p") is not None and not 0 < float(m.group("p")) < 100:
        raise InputError(f"rule={rule!r}: the percentile must lie strictly between 0 and 100.")
    return m


def _names(scores: Any, samples: Sequence[str] | None, n: int) -> list[str]:
    if samples is not None:
        names = [str(s) for s in samples]
    elif isinstance(scores, pd.Series):
        names = [str(s) for s in scores.index]
    else:
        names = [str(i) for i in range(n)]
    if len(names) != n:
        raise InputError(f"samples= has {len(names)} names for {n} control scores.")
    return names


def controls_limit(
    scores: Any,
    rule: str = "mean+2sd",
    *,
    samples: Sequence[str] | None = None,
    exclude_outliers: bool = False,
    strict: bool = False,
    lmbda: float | None = None,
) -> Limit:
    r"""Upper limit of the controls' scores by ``rule`` (see the module docstring).

    Parameters
    ----------
    scores
        The controls' scores (1-D); NaN/inf are an error.
    rule
        ``"[log:|boxcox:](mean+Ksd | pNN | robust | ep28)"``.
    samples
        The controls' names, for the outlier report (default: a Series' index, else positions).
    exclude_outliers
        Leave the flagged outliers out of the limit (once, not iteratively) and list them in
        ``details["excluded"]``. By default they are only reported.
    strict
        With ``rule="ep28"``: raise instead of warning below 20 controls.
    lmbda
        Box-Cox :math:`\lambda` to use instead of estimating it (for partitions).

    Returns
    -------
    Limit
        ``source="controls"``; ``rule`` is the rule applied (``"ep28"`` resolved to the method
        it chose, the request kept in ``details["requested_rule"]``); ``details`` holds
        ``n``, the estimates, ``ci_low``/``ci_high`` (``None`` when not computable, with
        ``ci_note``), ``outliers`` and the screen's fences and ratios.
    """
    m = _parse(rule)
    s = np.asarray(scores, dtype=np.float64).ravel()
    names = _names(scores, samples, s.size)
    if not np.all(np.isfinite(s)):
        raise InputError(
            f"{int(np.sum(~np.isfinite(s)))} control scores are NaN or infinite; "
            "a limit needs finite scores."
        )
    if s.size < 2:
        raise InputError(f"At least 2 control scores are needed to derive a limit, got {s.size}.")
    tf = m.group("tf") or "raw"
    y, back, tinfo = iv.transform(s, tf, lmbda=lmbda)
    flagged, screen = iv.screen_outliers(y, names)
    flagged_at = [f.pop("index") for f in flagged]
    for f, i in zip(flagged, flagged_at, strict=True):
        f["score"] = float(s[i])
    excluded: list[str] = []
    if exclude_outliers and flagged:
        keep = np.ones(s.size, dtype=bool)
        keep[flagged_at] = False
        excluded = [f["sample"] for f in flagged]
        s = s[keep]
        if s.size < 2:
            raise InputError("exclude_outliers=True leaves fewer than 2 controls.")
        y = y[keep]
    n = int(s.size)
    method, requested = _method(m, n, strict)
    prefix = "" if tf == "raw" else f"{tf}:"
    details: dict[str, Any] = {"n": n, "scale": tf, **tinfo}
    if m.group("ep28"):
        details["requested_rule"] = f"{prefix}ep28"
    ci: tuple[float, float] | None = None
    ci_note = ""
    if method[0] == "mean":
        k = float(method[1])
        mean, sd = float(y.mean()), float(y.std(ddof=1))
        point = mean + k * sd
        details.update(k=k, mean=mean, sd=sd)
        ci = iv.parametric_ci(y, k, CI_LEVEL)
        ci_note = "exact under normality on this scale (non-central t)"
        applied = f"{prefix}mean+{m.group('k')}sd"
        cite = _CITE["mean"]
    elif method[0] == "p":
        p = float(method[1]) / 100.0
        point = percentile_rank(y, p)
        r = iv._rank(p, n)
        details.update(p=p, rank=r)
        if not 1 <= r <= n:
            need = math.ceil(round(max(1 / p, 1 / (1 - p)), 9)) - 1
            details["rank_note"] = (
                f"rank {r:g} lies outside 1..{n}: the limit is just the most extreme control "
                f"(this percentile needs at least {need} controls)"
            )
        ranks = iv.nonparametric_ci_ranks(n, p, CI_LEVEL)
        if ranks is None:
            ci_note = (
                f"not computable: {n} controls are too few for a {CI_LEVEL:.0%} CI from order "
                "statistics (EP28-A3c: 120 for the 2.5th/97.5th percentiles)"
            )
        else:
            ys = np.sort(y)
            ci = (float(ys[ranks[0] - 1]), float(ys[ranks[1] - 1]))
            details.update(ci_rank_low=ranks[0], ci_rank_high=ranks[1])
            ci_note = "order statistics, binomial coverage >= 90%"
        applied = f"{prefix}p{method[1]}"
        cite = _CITE["p"]
    else:
        point, rob = iv.robust_upper(y, 0.975)
        details.update(rob)
        lo, hi, n_valid = iv.bootstrap_ci(y, 0.975, CI_LEVEL)
        if math.isfinite(lo):
            ci = (lo, hi)
            ci_note = f"bootstrap percentile, {iv.N_BOOT} resamples (seed {iv.BOOT_SEED}), {n_valid} valid"
        else:
            ci_note = "not computable: most bootstrap resamples have MAD = 0"
        applied = f"{prefix}robust"
        cite = _CITE["robust"]
    if requested:
        details["ep28_choice"] = requested
    value = back(point)
    if not math.isfinite(value):
        raise InputError(
            f"rule={rule!r}: the limit {point:.6g} on the Box-Cox scale (lambda = "
            f"{tinfo['lambda']:.4g}) lies beyond the transform's range and has no back-transform; "
            "use a 'log:' rule instead."
        )
    if ci is not None:
        ci = (back(ci[0]), back(ci[1]))
        if not all(math.isfinite(v) for v in ci):
            ci = None
            ci_note = (
                "not computable: an end of the CI lies beyond the Box-Cox transform's range "
                f"(lambda = {tinfo['lambda']:.4g} < 0), i.e. it is unbounded"
            )
    details["ci_level"] = CI_LEVEL
    details["ci_low"] = None if ci is None else ci[0]
    details["ci_high"] = None if ci is None else ci[1]
    details["ci_note"] = ci_note
    details["outliers"] = flagged
    details["outlier_screen"] = screen
    if exclude_outliers:
        details["excluded"] = excluded
    return Limit(value, "controls", applied, citation=cite, details=details)


def _method(m: re.Match[str], n: int, strict: bool) -> tuple[tuple[str, str], str]:
    """The concrete method (kind, parameter) and, for ep28, why it was chosen."""
    if m.group("k") is not None:
        return ("mean", m.group("k")), ""
    if m.group("p") is not None:
        return ("p", m.group("p")), ""
    if m.group("robust"):
        return ("robust", ""), ""
    if n >= EP28_NONPARAMETRIC_N:
        return ("p", "97.5"), f"non-parametric: n = {n} >= {EP28_NONPARAMETRIC_N}"
    if n >= EP28_MIN_N:
        return ("robust", ""), f"robust: {EP28_MIN_N} <= n = {n} < {EP28_NONPARAMETRIC_N}"
    msg = (
        f"rule='ep28': only {n} controls; CLSI EP28-A3c needs at least {EP28_MIN_N} (robust method) "
        f"and {EP28_NONPARAMETRIC_N} (non-parametric) reference individuals"
    )
    if strict:
        raise InputError(msg + "; add controls or pass strict=False to accept a robust limit.")
    warn(msg + "; the robust limit below is unreliable.", IfnscoreWarning)
    return ("robust", ""), f"robust, below EP28's minimum: n = {n} < {EP28_MIN_N}"


# ---------------------------------------------------------------------------- partitions
def group_labels(groups: Any, samples: Sequence[str], arg: str = "groups") -> np.ndarray:
    """Group labels (as str) aligned with ``samples``: a Series is matched by index, any other
    1-D sequence by position. Missing labels are an error."""
    if isinstance(groups, pd.Series):
        missing = [s for s in samples if s not in groups.index]
        if missing:
            raise InputError(
                f"{arg}= (a Series) has no label for samples {missing[:5]}; index it by sample name."
            )
        if not groups.index.is_unique:
            raise InputError(f"{arg}= (a Series) has duplicate index entries.")
        vals = groups.reindex(list(samples))
    else:
        if isinstance(groups, str | bytes) or not hasattr(groups, "__len__"):
            raise InputError(f"{arg}= must be a pandas Series or a 1-D sequence of labels.")
        vals = pd.Series(list(groups))
        if len(vals) != len(samples):
            raise InputError(
                f"{arg}= has {len(vals)} labels for {len(samples)} samples; give one per sample "
                "(or a Series indexed by sample name)."
            )
    if vals.isna().any():
        raise InputError(f"{arg}= has missing labels; give every sample a group.")
    return np.asarray([str(v) for v in vals], dtype=object)


def partition_limits(
    scores: np.ndarray,
    labels: np.ndarray,
    rule: str,
    *,
    samples: Sequence[str],
    exclude_outliers: bool = False,
    strict: bool = False,
) -> tuple[dict[str, Limit], dict[str, Any]]:
    """A limit per group by ``rule``, and the Harris & Boyd test on the rule's scale.

    With a ``boxcox:`` rule, one :math:`\\lambda` (from all controls) is used for every group
    so that the groups are compared on one scale.
    """
    m = _parse(rule)
    tf = m.group("tf") or "raw"
    s = np.asarray(scores, dtype=np.float64)
    y, _, tinfo = iv.transform(s, tf)
    names = np.asarray([str(x) for x in samples], dtype=object)
    out: dict[str, Limit] = {}
    ys: dict[str, np.ndarray] = {}
    for g in sorted(set(labels)):
        sel = labels == g
        if sel.sum() < 3:
            raise InputError(
                f"groups=: group {g!r} has {int(sel.sum())} controls; each partition needs at least 3."
            )
        lim = controls_limit(
            s[sel],
            rule,
            samples=list(names[sel]),
            exclude_outliers=exclude_outliers,
            strict=strict,
            lmbda=tinfo.get("lambda"),
        )
        out[g] = Limit(lim.value, "partition", lim.rule, lim.citation, {"group": g, **lim.details})
        ys[g] = y[sel]
    if len(out) < 2:
        raise InputError(f"groups= has a single group {list(out)}; partitioning needs at least 2.")
    test = iv.harris_boyd(ys)
    test["scale"] = tf
    return out, test


def sample_limits(
    partitions: Mapping[str, Limit], samples: Sequence[str], groups: Any
) -> np.ndarray:
    """Each sample's partition limit (for ``score(..., groups=)``)."""
    if not partitions:
        raise InputError(
            "groups= needs a reference calibrated with groups= (it holds no partitions)."
        )
    labels = group_labels(groups, samples)
    unknown = sorted(set(labels) - set(partitions))
    if unknown:
        raise InputError(
            f"groups= has labels {unknown} that the reference has no partition for "
            f"(it has {sorted(partitions)})."
        )
    return np.asarray([partitions[g].value for g in labels], dtype=np.float64)


def check_limit(lim: Limit, where: str) -> None:
    """Validate a loaded limit: finite value, and a CI (when given) that is ordered and finite."""
    if not math.isfinite(lim.value):
        raise ReferenceError(f"{where} has a non-finite limit {lim.value!r}.")
    lo, hi = lim.details.get("ci_low"), lim.details.get("ci_high")
    if (lo is None) != (hi is None):
        raise ReferenceError(f"{where} has only one end of its confidence interval.")
    if lo is not None and hi is not None:
        lo, hi = float(lo), float(hi)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ReferenceError(f"{where} has an invalid confidence interval [{lo}, {hi}].")
    outl = lim.details.get("outliers", [])
    if not isinstance(outl, list | tuple) or not all(
        isinstance(o, Mapping) and "sample" in o for o in outl
    ):
        raise ReferenceError(f"{where} has a malformed outlier list.")
