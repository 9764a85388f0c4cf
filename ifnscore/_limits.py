r"""Upper reference limits: derived from healthy controls' scores (CLSI EP28-A3c), taken
from a publication, or given by the user; validated wherever they enter, resolved by one
function (:func:`resolve_limits`) and carried as :class:`Limit` objects with their provenance.

A controls' rule is ``"[transform:]method"``:

============================  ==========================================================
``transform`` (optional)      ``log`` (:math:`\ln s`), ``boxcox`` (Box-Cox, :math:`\lambda`
                              by maximum likelihood) or ``raw`` (none); the limit is computed
                              on that scale and back-transformed (CIs too; a Box-Cox CI
                              ignores the uncertainty of lambda and undercovers, about 82 %
                              for a nominal 90 % in docs/intervals_simulation.md). Without a
                              prefix: the raw score scale, except for ``ep28`` (below).
``mean+Ksd``                  :math:`\bar y + K\,\mathrm{SD}(y)` (SD with ddof = 1); 90 % CI
                              exact under normality (non-central t). ``"mean+2sd"`` is Rice
                              et al. 2013's convention (mean + 2 SD of 29 controls,
                              doi:10.1016/S1474-4422(13)70258-8). Minimum 20 controls.
``pNN`` (e.g. ``p97.5``)      the non-parametric NN-th percentile by the EP28 rank method,
                              :math:`r = p(n+1)`, with the 90 % CI from the order statistics.
                              Minimum 120 controls for the 2.5th/97.5th percentiles (EP28);
                              refused outright when the rank falls outside the data
                              (:math:`n < 39` for p97.5), where the "limit" would only be the
                              largest control.
``robust``                    Horn & Pesce biweight limit (97.5th percentile), 90 % CI by
                              bootstrap (1000 resamples, seed 0). Minimum 20 controls.
``ep28`` (the default)        EP28's choice by the number of controls :math:`n`: ``p97.5``
                              from 120, ``robust`` from 20 to 119 (and below 20, with the
                              minimum's warning). Without a prefix, positive and skewed scores
                              (adjusted sample skewness :math:`|G_1| > 0.5`) are Box-Cox
                              transformed first (``log`` when the Box-Cox limit has no
                              back-transform); ``raw:ep28`` forces the raw scale.
============================  ==========================================================

Every rule states its minimum number of controls (:func:`rule_minimum`). Below it a limit is
still computed, with an :class:`~ifnscore.errors.IfnscoreWarning` naming the rule, ``n`` and
the minimum (an :class:`~ifnscore.errors.InputError` with ``strict=True``). A limit that is not
above the controls' median is refused: it would call half of the healthy controls positive.

Every limit also screens the controls for outliers (Tukey's fences and Dixon's D/R > 1/3 for
the extremes) on the rule's scale. Outliers are reported in ``Limit.details["outliers"]``
and kept, unless ``exclude_outliers=True`` (then they are left out once, and listed in
``details["excluded"]``).

The skewness threshold: :math:`|G_1| \le 0.5` is "approximately symmetric" by Bulmer's rule of
thumb (Bulmer MG, *Principles of Statistics*, 1979, p. 63). A formal test (D'Agostino's) was
not used as the gate: for the skew of healthy ``fc_sum`` scores (lognormal, sdlog 0.4,
skewness 1.3) it detects the skew in only 38 % of samples of 20 controls, and leaving such
scores untransformed makes the robust limit cover about 94.5 % instead of 97.5 %, while
transforming symmetric scores costs nothing measurable (their :math:`\lambda` is near 1);
see docs/intervals_simulation.md.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import _intervals as iv
from ._intervals import percentile_rank
from ._warn import warn
from .errors import FewControlsWarning, InputError, ReferenceError

if TYPE_CHECKING:  # _reference imports this module, never the reverse
    from ._reference import Reference
    from ._signatures import Signature, Threshold

__all__ = [
    "LIMIT_SOURCES",
    "POSITIVE_METHODS",
    "Limit",
    "check_limit",
    "check_value",
    "controls_limit",
    "fold_over",
    "fold_over_note",
    "group_labels",
    "partition_limits",
    "percentile_rank",
    "published_limit",
    "resolve_limits",
    "rule_minimum",
    "sample_limits",
    "scores_positive",
]

_RULE = re.compile(
    r"^(?:(?P<tf>log|boxcox|raw):)?"
    r"(?:mean\+(?P<k>\d+(?:\.\d+)?)sd|p(?P<p>\d+(?:\.\d+)?)|(?P<robust>robust)|(?P<ep28>ep28))$"
)
EP28_NONPARAMETRIC_N = 120
EP28_MIN_N = 20
#: Minimum controls for ``mean+Ksd``: EP28-A3c's smallest sample for any estimate (its robust
#: method and the 20-sample transference). Under normality the limit's uncertainty at this n
#: is reported exactly by its non-central-t CI; 120 would be the non-parametric reasoning,
#: which does not apply to a parametric estimate.
MEAN_SD_MIN_N = 20
#: Adjusted sample skewness above which ``ep28`` transforms positive scores (Bulmer 1979).
SKEW_THRESHOLD = 0.5
#: ``ep28`` clips the Box-Cox lambda to +/- this: Box & Cox (1964) worked within [-2, 2];
#: far beyond it (e.g. lambda = -30 for six nearly equal scores) x**lambda underflows and the
#: transformed scores collapse to one value.
BOXCOX_MAX_LAMBDA = 2.0
#: Transference (EP28-A3c): at least this many local controls to verify a published limit.
TRANSFERENCE_N = 20
#: How a published limit's notes begin the sentence on its transfer to local controls.
TRANSFERRED_NOTE = "a limit transferred from the source's laboratory"
CI_LEVEL = 0.90
#: Where each kind of limit comes from; ``partition`` only inside ``Reference`` partitions.
LIMIT_SOURCES = ("published", "controls", "user", "partition")
_HELP = (
    "use 'ep28' (the default), 'mean+Ksd' (e.g. 'mean+2sd'), a percentile 'pNN' (e.g. 'p97.5') "
    "or 'robust', optionally after 'log:', 'boxcox:' or 'raw:' (e.g. 'log:robust')"
)
_CITE = {
    "mean": "mean + K SD of the controls (Rice et al. 2013 used mean + 2 SD, doi:10.1016/S1474-4422(13)70258-8)",
    "p": "CLSI EP28-A3c rank method, r = p(n + 1); CI from order statistics",
    "robust": "Horn, Pesce & Copeland 1998, Clin Chem 44:622, doi:10.1093/clinchem/44.3.622 (CLSI EP28-A3c)",
}

#: Methods whose scores are positive: ratios or sums of positive terms (fc_*), a mean of
#: log2(x + 1) of non-negative expression (mean_log), and rank scores in [0, 1] (aucell,
#: ucell). A limit for them must be > 0 (0 would call every sample positive), and
#: ``fold_over_limit = score / limit`` is meaningful. Every other method (z_*, singscore,
#: module_score, gsva, zscore, plage, ssgsea, and methods registered later) has scores that
#: can be zero or negative: any finite limit is allowed and ``fold_over_limit`` is NaN.
POSITIVE_METHODS = frozenset(
    {"fc_sum", "fc_median", "fc_geomean", "fc_mean", "mean_log", "aucell", "ucell"}
)


@dataclass(frozen=True)
class Limit:
    """An upper limit and how it was made.

    Attributes
    ----------
    value : float
        Samples with ``score >= value`` are positive.
    source : str
        ``"published"``, ``"controls"``, ``"user"`` or ``"partition"``.
    rule : str
        How it was made (the controls' rule applied, or the source's own words).
    citation : str
    details : dict
        For controls' limits: ``n``, ``min_n``, the estimates, the CI and the outlier screen;
        for published ones: ``transference`` (the EP28 check on the local controls) when run.
    notes : tuple of str
        Provenance a report prints: where the limit comes from, whether it is interpreted or
        transferred, whether it was verified on local controls, and any shortfall (too few
        controls for the rule).

    Examples
    --------
    >>> lim = Limit(2.466, "published", "mean + 2 SD of 29 controls", notes=("Rice 2013",))
    >>> Limit.from_dict(lim.to_dict()) == lim
    True
    """

    value: float
    source: str
    rule: str
    citation: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "source": self.source,
            "rule": self.rule,
            "citation": self.citation,
            "details": copy.deepcopy(self.details),  # a copy: the Reference stays immutable
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: Any, *, where: str = "limit") -> Limit:
        """Read a limit from its JSON form, checking every field's type (a
        :class:`~ifnscore.errors.ReferenceError` naming ``where`` otherwise). ``notes`` is
        optional (files written before it existed)."""
        if not isinstance(d, Mapping):
            raise ReferenceError(f"{where} must be a JSON object, got {type(d).__name__}.")
        for key in ("value", "source", "rule"):
            if key not in d:
                raise ReferenceError(f"{where} has no {key!r}.")
        value = _json_number(d["value"], f"{where} value")
        for key in ("source", "rule", "citation"):
            if key in d and not isinstance(d[key], str):
                raise ReferenceError(f"{where} {key} must be a string, got {d[key]!r}.")
        if d["source"] not in LIMIT_SOURCES:
            raise ReferenceError(
                f"{where} has source {d['source']!r}; expected one of {list(LIMIT_SOURCES)}."
            )
        details = d.get("details", {})
        if not isinstance(details, Mapping):
            raise ReferenceError(f"{where} details must be a JSON object.")
        notes = d.get("notes", [])
        if not isinstance(notes, list | tuple) or not all(isinstance(x, str) for x in notes):
            raise ReferenceError(f"{where} notes must be a list of strings.")
        return cls(
            value=value,
            source=d["source"],
            rule=d["rule"],
            citation=str(d.get("citation", "")),
            details=dict(details),
            notes=tuple(notes),
        )


def _json_number(x: Any, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise ReferenceError(f"{where} must be a number, got {x!r}.")
    try:
        v = float(x)
    except OverflowError:
        raise ReferenceError(f"{where} is too large to be a number.") from None
    if not math.isfinite(v):
        raise ReferenceError(f"{where} must be finite, got {x!r}.")
    return v


# ---------------------------------------------------------------------------- sign of scores
def scores_positive(method: Any) -> bool:
    """Whether ``method``'s scores are positive (a ratio scale), so that a limit must be
    > 0 and ``score / limit`` means something. See :data:`POSITIVE_METHODS`.

    >>> scores_positive("fc_sum"), scores_positive("z_sum")
    (True, False)
    """
    name = getattr(method, "name", method)
    return name in POSITIVE_METHODS


def fold_over_note(method: Any) -> str | None:
    """Why ``fold_over_limit`` is NaN for ``method`` (``None`` when it is computed).

    >>> fold_over_note("fc_sum") is None
    True
    >>> print(fold_over_note("singscore"))
    fold_over_limit is NaN for method='singscore': its scores can be zero or negative, so score / limit has no meaning (its sign flips with the limit's); use score - limit or positive.
    """
    name = getattr(method, "name", method)
    if scores_positive(name):
        return None
    return (
        f"fold_over_limit is NaN for method={name!r}: its scores can be zero or negative, so "
        "score / limit has no meaning (its sign flips with the limit's); use score - limit or "
        "positive."
    )


def fold_over(score: Any, limit: Any, method: Any) -> np.ndarray:
    """``score / limit`` for positive methods, NaN (of the same shape) for the others.

    ``limit`` may be a number, a :class:`Limit` or an array aligned with ``score``
    (partitions). The reason for NaN is :func:`fold_over_note`.

    >>> fold_over([6.0, 25.0], 12.5, "fc_sum").tolist()
    [0.48, 2.0]
    >>> fold_over([0.1, -0.2], -0.05, "singscore").tolist()
    [nan, nan]
    """
    s = np.asarray(score, dtype=np.float64)
    lim = limit.value if isinstance(limit, Limit) else limit
    lim = np.asarray(lim, dtype=np.float64)
    if not scores_positive(method):
        return np.full(np.broadcast(s, lim).shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(s / lim, dtype=np.float64)


def _show(arg: str, value: Any) -> str:
    """How a message names an argument's value: ``upper_limit=-5`` or ``--upper-limit -5``."""
    return f"{arg} {value}" if arg.startswith("-") else f"{arg}={value!r}"


def check_value(
    value: Any,
    *,
    method: Any = None,
    arg: str = "upper_limit",
    error: type[Exception] = InputError,
    shown: Any = None,
) -> float:
    """A limit's value as a float, or ``error`` saying why it cannot be one.

    Refused: booleans and non-numbers, NaN and infinities, and for positive methods
    (:func:`scores_positive`) values <= 0.

    >>> check_value(12.49, method="fc_sum")
    12.49
    >>> check_value(-0.1, method="singscore")
    -0.1
    >>> check_value(-5, method="fc_sum")
    Traceback (most recent call last):
    ...
    ifnscore.errors.InputError: upper_limit=-5 must be > 0: method='fc_sum' scores are ratios or sums of positive terms, so a limit <= 0 would call every sample positive; give a positive number.
    """
    name = getattr(method, "name", method)
    said = _show(arg, value if shown is None else shown)
    if isinstance(value, bool | np.bool_ | str | bytes):
        raise error(f"{said} must be a number.")
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise error(f"{said} must be a number.") from None
    if not math.isfinite(v):
        raise error(f"{said} must be a finite number.")
    if name is not None and scores_positive(name) and v <= 0:
        raise error(
            f"{said} must be > 0: method={name!r} scores are "
            + (
                "ranks in [0, 1]"
                if name in ("aucell", "ucell")
                else "means of log2(x + 1), never negative"
                if name == "mean_log"
                else "ratios or sums of positive terms"
            )
            + ", so a limit <= 0 would call every sample positive; give a positive number."
        )
    return v


# ---------------------------------------------------------------------------- rules
def _parse(rule: Any) -> re.Match[str]:
    if not isinstance(rule, str):
        raise InputError(f"rule={rule!r} must be a string; {_HELP}.")
    m = _RULE.match(rule.replace(" ", "").lower())
    if m is None:
        raise InputError(f"rule={rule!r} is not a known limit rule; {_HELP}.")
    if m.group("p") is not None and not 50 < float(m.group("p")) < 100:
        raise InputError(
            f"rule={rule!r}: an upper limit's percentile must lie strictly between 50 and 100 "
            "(e.g. 'p97.5')."
        )
    return m


def _percentile_exists_n(p: float) -> int:
    """Fewest controls for which the rank p(n + 1) lies within 1..n."""
    return math.ceil(round(max(1 / p - 1, p / (1 - p)), 9))


def _percentile_min_n(p: float) -> int:
    """EP28's 120 for the 2.5th/97.5th percentiles; otherwise the fewest controls giving a
    90 % CI from order statistics (:func:`ifnscore._intervals.nonparametric_ci_ranks`)."""
    if math.isclose(p, 0.975) or math.isclose(p, 0.025):
        return EP28_NONPARAMETRIC_N
    n = _percentile_exists_n(p)
    while iv.nonparametric_ci_ranks(n, p, CI_LEVEL) is None:
        n += 1
    return n


def rule_minimum(rule: str) -> int:
    """The fewest controls ``rule`` needs for a reliable limit.

    ``mean+Ksd``: 20 (:data:`MEAN_SD_MIN_N`: EP28-A3c's smallest sample for any estimate);
    ``robust`` and ``ep28``: 20 (Horn & Pesce's robust method, CLSI EP28-A3c); ``p97.5`` and
    ``p2.5``: 120 (EP28-A3c), other percentiles: the fewest controls with a 90 % CI from the
    order statistics. Below it :func:`controls_limit` warns (or raises with ``strict=True``).

    >>> rule_minimum("ep28"), rule_minimum("mean+2sd"), rule_minimum("log:p97.5")
    (20, 20, 120)
    """
    m = _parse(rule)
    if m.group("p") is not None:
        return _percentile_min_n(float(m.group("p")) / 100.0)
    return MEAN_SD_MIN_N if m.group("k") is not None else EP28_MIN_N


def _skewness(s: np.ndarray) -> float:
    """Adjusted Fisher-Pearson sample skewness G1 (as ``scipy.stats.skew(bias=False)``)."""
    n = s.size
    d = s - s.mean()
    m2 = float(np.mean(d * d))
    if n < 3 or m2 == 0:
        return 0.0
    g1 = float(np.mean(d**3)) / m2**1.5
    return g1 * math.sqrt(n * (n - 1)) / (n - 2)


def _auto_transform(s: np.ndarray) -> tuple[str, dict[str, Any]]:
    """The scale ``ep28`` works on without a prefix: Box-Cox for positive, skewed scores."""
    g1 = _skewness(s)
    if np.any(s <= 0) or np.ptp(s) == 0:
        why = "raw: some scores are <= 0 (or all equal), so no log or Box-Cox transform applies"
        return "raw", {"skewness": g1, "transform_choice": why}
    if abs(g1) > SKEW_THRESHOLD:
        why = (
            f"boxcox: all scores positive and skewness G1 = {g1:.3g} beyond "
            f"+/-{SKEW_THRESHOLD} (Bulmer 1979)"
        )
        lam = iv.boxcox_mle(np.sort(s))
        if abs(lam) > BOXCOX_MAX_LAMBDA:
            clipped = math.copysign(BOXCOX_MAX_LAMBDA, lam)
            why += (
                f"; the MLE lambda {lam:.3g} lies beyond +/-{BOXCOX_MAX_LAMBDA:g}, where the "
                f"transform is ill-determined (and can collapse the scores), so lambda = {clipped:g}"
            )
            lam = clipped
        return "boxcox", {"skewness": g1, "transform_choice": why, "_lambda": lam}
    why = f"raw: skewness G1 = {g1:.3g} within +/-{SKEW_THRESHOLD} (approximately symmetric)"
    return "raw", {"skewness": g1, "transform_choice": why}


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
    rule: str = "ep28",
    *,
    samples: Sequence[str] | None = None,
    exclude_outliers: bool = False,
    strict: bool = False,
    lmbda: float | None = None,
    warn_small: bool = True,
) -> Limit:
    r"""Upper limit of the controls' scores by ``rule`` (see the module docstring).

    Parameters
    ----------
    scores
        The controls' scores (1-D); NaN/inf are an error.
    rule
        ``"[log:|boxcox:|raw:](ep28 | mean+Ksd | pNN | robust)"``; default ``"ep28"``.
    samples
        The controls' names, for the outlier report (default: a Series' index, else positions).
    exclude_outliers
        Leave the flagged outliers out of the limit (once, not iteratively) and list them in
        ``details["excluded"]``. By default they are only reported.
    strict
        Raise :class:`~ifnscore.errors.InputError` instead of warning when there are fewer
        controls than the rule's minimum (:func:`rule_minimum`).
    lmbda
        Box-Cox :math:`\lambda` to use instead of estimating it (for partitions).
    warn_small
        ``False``: record a shortfall below the minimum in ``notes`` and
        ``details["below_minimum"]`` without warning (for a limit that will not classify).

    Returns
    -------
    Limit
        ``source="controls"``; ``rule`` is the rule applied (``"ep28"`` resolved to the method
        and scale it chose, the request kept in ``details["requested_rule"]``); ``details``
        holds ``n``, ``min_n``, the estimates, ``ci_low``/``ci_high`` (``None`` when not
        computable, with ``ci_note``), ``outliers`` and the screen's fences and ratios.

    Raises
    ------
    ifnscore.errors.InputError
        Non-finite scores, fewer than 2; a percentile whose rank falls outside the data; a
        limit not above the controls' median; with ``strict=True``, fewer controls than
        the rule's minimum.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.exp(np.random.default_rng(0).normal(1.8, 0.4, 240))
    >>> lim = controls_limit(x)  # ep28: 240 controls -> non-parametric 97.5th percentile
    >>> lim.rule, lim.details["n"]
    ('boxcox:p97.5', 240)
    >>> int(np.sum(x >= lim.value))  # 2.5 % of 240 is 6
    6
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
    auto = m.group("ep28") is not None and m.group("tf") is None and lmbda is None
    choice: dict[str, Any] = {}
    if auto:
        tf, choice = _auto_transform(s)
        lmbda = choice.pop("_lambda", None)
    else:
        tf = m.group("tf") or "raw"
    try:
        return _controls_limit(
            s, names, m, rule, tf, choice, exclude_outliers, strict, lmbda, warn_small
        )
    except _NoBackTransform as exc:
        if not auto:
            raise InputError(str(exc)) from None
        # the Box-Cox limit lies beyond the transform's range: the log scale always maps back
        choice["transform_choice"] += f"; log instead, as {exc}"
        return _controls_limit(
            s, names, m, rule, "log", choice, exclude_outliers, strict, None, warn_small
        )


class _NoBackTransform(Exception):
    pass


def _controls_limit(
    s: np.ndarray,
    names: list[str],
    m: re.Match[str],
    rule: str,
    tf: str,
    choice: dict[str, Any],
    exclude_outliers: bool,
    strict: bool,
    lmbda: float | None,
    warn_small: bool,
) -> Limit:
    y, back, tinfo = iv.transform(s, tf, lmbda=lmbda)
    if tf == "boxcox" and (np.ptp(y) == 0 or 2 * np.unique(y).size < np.unique(s).size):
        raise InputError(
            f"rule={rule!r}: the Box-Cox transform (lambda = {tinfo['lambda']:.4g}) maps distinct "
            "control scores to equal values (it is ill-determined for these scores); use a "
            "'log:' rule instead."
        )
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
    method, requested = _method(m, n)
    prefix = "" if tf == "raw" else f"{tf}:"
    applied_kind = {"mean": f"mean+{method[1]}sd", "p": f"p{method[1]}", "robust": "robust"}
    applied = prefix + applied_kind[method[0]]
    min_n = rule_minimum(applied)
    details: dict[str, Any] = {"n": n, "min_n": min_n, "scale": tf, **tinfo, **choice}
    if m.group("ep28"):
        details["requested_rule"] = f"{m.group('tf') + ':' if m.group('tf') else ''}ep28"
    if requested:
        details["ep28_choice"] = requested
    notes: list[str] = []
    if method[0] == "p":
        p = float(method[1]) / 100.0
        need = _percentile_exists_n(p)
        if n < need:
            raise InputError(
                f"rule={rule!r}: the {method[1]}th percentile by rank p(n + 1) = "
                f"{iv._rank(p, n):g} lies beyond the {n} controls (it needs at least {need}); "
                "the 'limit' would only be the most extreme control. Use rule='ep28' or "
                "'robust' (from 20 controls), or add controls."
            )
    shortfall = _shortfall(rule, applied, n, min_n, strict)
    if shortfall:
        details["below_minimum"] = shortfall
        notes.append(shortfall)
        if warn_small:
            warn(
                shortfall
                + "; the limit is unreliable (add controls, or pass strict=True to refuse it).",
                FewControlsWarning,
            )
    ci: tuple[float, float] | None = None
    ci_note = ""
    if method[0] == "mean":
        k = float(method[1])
        mean, sd = float(y.mean()), float(y.std(ddof=1))
        point = mean + k * sd
        details.update(k=k, mean=mean, sd=sd)
        ci = iv.parametric_ci(y, k, CI_LEVEL)
        ci_note = "exact under normality on this scale (non-central t)"
        cite = _CITE["mean"]
    elif method[0] == "p":
        p = float(method[1]) / 100.0
        point = percentile_rank(y, p)
        details.update(p=p, rank=iv._rank(p, n))
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
        cite = _CITE["p"]
    else:
        _robust_spread(s, y, rule, applied)
        point, rob = iv.robust_upper(y, 0.975)
        details.update(rob)
        lo, hi, n_valid = iv.bootstrap_ci(y, 0.975, CI_LEVEL)
        if math.isfinite(lo):
            ci = (lo, hi)
            ci_note = f"bootstrap percentile, {iv.N_BOOT} resamples (seed {iv.BOOT_SEED}), {n_valid} valid"
        else:
            ci_note = "not computable: most bootstrap resamples have MAD = 0"
        cite = _CITE["robust"]
    value = back(point)
    if not math.isfinite(value):
        raise _NoBackTransform(
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
    median = float(np.median(s))
    if not value > median:
        ties = int(np.sum(s == median))
        tied = f" ({ties} of {n} controls score exactly {median:.6g})" if ties > 1 else ""
        raise InputError(
            f"The controls' limit by rule={rule!r} is {value:.6g}, not above the controls' "
            f"median {median:.6g}{tied}: it would "
            "call at least half of the healthy controls positive. The method's scores do not "
            "vary among these controls; use a method whose healthy scores vary (e.g. fc_sum "
            "against a reference, or singscore/ucell on whole transcriptomes), more controls, "
            "or a validated number as upper_limit=."
        )
    details["ci_level"] = CI_LEVEL
    details["ci_low"] = None if ci is None else ci[0]
    details["ci_high"] = None if ci is None else ci[1]
    details["ci_note"] = ci_note
    details["outliers"] = flagged
    details["outlier_screen"] = screen
    if exclude_outliers:
        details["excluded"] = excluded
    how = f"derived from {n} healthy controls by rule {applied!r}"
    if requested:
        how += f" (ep28 chose {requested})"
    if choice.get("transform_choice"):
        how += f"; scale: {choice['transform_choice']}"
    notes.insert(0, how)
    return Limit(value, "controls", applied, citation=cite, details=details, notes=tuple(notes))


def _robust_spread(s: np.ndarray, y: np.ndarray, rule: str, applied: str) -> None:
    """Refuse the robust rule, in words, when half the controls share one score (MAD = 0)."""
    med = float(np.median(y))
    if np.median(np.abs(y - med)) > 0:
        return
    centre = float(np.median(s))
    ties = int(np.sum(y == med))
    shown = f"rule={rule!r}" + ("" if applied == rule else f" ({applied})")
    raise InputError(
        f"The controls' limit by {shown} cannot be derived: {ties} of {s.size} controls score "
        f"exactly {centre:.6g} (MAD = 0), so at least half of the healthy controls share one "
        "score and a limit at or near it would call them positive. Use a method whose scores vary "
        "among healthy controls (e.g. fc_sum against a reference), or rule='mean+2sd' when the "
        "scores do vary above that value."
    )


def _shortfall(rule: str, applied: str, n: int, min_n: int, strict: bool) -> str:
    """The sentence for a rule applied below its minimum (raises with ``strict``), or ''."""
    if n >= min_n:
        return ""
    shown = f"rule={rule!r}" + ("" if applied == rule else f" ({applied})")
    kind = applied.split(":")[-1]
    if kind in ("p97.5", "p2.5"):
        why = "CLSI EP28-A3c, for the 2.5th/97.5th percentiles"
    elif kind.startswith("p"):
        why = f"the fewest controls giving a {CI_LEVEL:.0%} CI from order statistics"
    else:
        why = "CLSI EP28-A3c's smallest sample for any estimate"
    msg = f"{shown}: {n} controls, below the rule's minimum of {min_n} ({why})"
    if strict:
        raise InputError(
            msg + "; add controls, or pass strict=False to accept the limit with a warning."
        )
    return msg


def _method(m: re.Match[str], n: int) -> tuple[tuple[str, str], str]:
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
    return ("robust", ""), f"robust, below EP28's minimum: n = {n} < {EP28_MIN_N}"


# ---------------------------------------------------------------------------- published limits
def published_limit(sig: Signature, method: Any) -> Limit | None:
    """The signature's published limit for ``method`` as a :class:`Limit` whose notes say
    where it comes from and that it is transferred (unverified until checked on local
    controls), or ``None`` when the source publishes none for this method.

    >>> import ifnscore
    >>> lim = published_limit(ifnscore.get_signature("rice6"), "fc_sum")
    >>> lim.value, lim.source
    (12.49, 'published')
    >>> print(lim.notes[0])
    published by Case report of anti-MDA5 juvenile dermatomyositis treated with baricitinib, J Clin Med 2026 (doi:10.3390/jcm15020709): upper reference limit '< 12.49' reported with a patient value of 892.89
    """
    name = getattr(method, "name", method)
    t: Threshold | None = sig.published_limit(name)
    if t is None:
        return None
    notes = [f"published by {t.source} (doi:{t.doi}): {t.rule}"]
    if t.notes:
        notes.append(" ".join(t.notes.split()))
    notes.append(
        f"{TRANSFERRED_NOTE}: unverified until checked on at least {TRANSFERENCE_N} local "
        "healthy controls (CLSI EP28-A3c transference)"
    )
    return Limit(
        float(t.value), "published", t.rule, f"{t.source}, doi:{t.doi}", notes=tuple(notes)
    )


def with_note(lim: Limit, note: str, **details: Any) -> Limit:
    """A copy of ``lim`` with ``note`` appended (and ``details`` merged)."""
    return replace(lim, notes=(*lim.notes, note), details={**lim.details, **details})


# ---------------------------------------------------------------------------- resolution
_KEYWORDS = ("published", "controls")


def _resolve_one(
    value: Any,
    *,
    name: str,
    method: str,
    available: Mapping[str, Limit],
    why_not: Mapping[str, str],
    default: Limit | None,
    arg: str,
) -> Limit | None:
    """One signature's limit from one ``upper_limit`` value (see :func:`resolve_limits`)."""
    if value is None:
        return default
    if isinstance(value, Limit):
        check_value(value.value, method=method, arg=arg)
        return value
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _KEYWORDS:
            if key in available:
                return available[key]
            other = " or ".join(repr(k) for k in _KEYWORDS if k != key)
            why = why_not.get(key, "none is known")
            raise InputError(
                f"{_show(arg, value)} for signature {name!r}: {why}"
                + (" or use " if why.endswith("=") else "; use ")
                + f"{other} or a number."
            )
        try:
            number: Any = float(value)
        except ValueError:
            raise InputError(
                f"{_show(arg, value)} is not valid; use a number, 'published' or 'controls'"
                + ("" if arg.startswith("-") else " (or a dict signature -> one of these)")
                + "."
            ) from None
    elif isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        raise InputError(
            f"{_show(arg, value)} is not valid; use a number, 'published' or 'controls'"
            + ("" if arg.startswith("-") else " (or a dict signature -> one of these)")
            + "."
        )
    else:
        number = value
    v = check_value(number, method=method, arg=arg, shown=value)
    return Limit(
        v,
        "user",
        "given by the user",
        notes=(
            "given by the user: its source and its verification on local controls are the user's",
        ),
    )


def excluded_reason(sig: Signature, excluded: Sequence[str]) -> str:
    """Why a published limit no longer applies once ``excluded`` genes are left out."""
    return (
        f"the published limit was made with all of {list(sig.all_genes)} and no longer applies "
        f"with genes {list(excluded)} excluded"
    )


def _applies(sig: Signature, genes_used: Sequence[str] | None, excluded: Sequence[str]) -> str:
    """Why the signature's published limit does not apply ('' when it does)."""
    if excluded:
        return excluded_reason(sig, excluded)
    if genes_used is not None and set(genes_used) != set(sig.all_genes):
        lost = [g for g in sig.all_genes if g not in set(genes_used)]
        return f"the published limit needs every signature gene, and {lost} were not found"
    return ""


def resolve_limits(
    upper_limit: Any,
    *,
    signatures: Sequence[Signature],
    method: Any,
    reference: Reference | None = None,
    arg: str = "upper_limit",
    genes_used: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Limit | None]:
    """The limit that classifies each signature, from any form ``upper_limit`` takes.

    Parameters
    ----------
    upper_limit
        ``None``: the reference's chosen limit (when the reference was made for ``method``),
        else the signature's published limit for ``method`` (when it applies), else ``None``
        (no classification). ``"published"``: that published limit (the reference's copy
        when it was made for ``method``). ``"controls"``: the reference's controls' limit
        (only for the method it was derived for). A number or a numeric string: a user limit.
        A :class:`Limit`: as given. A dict signature -> any of these (signatures it does not
        name take ``None``'s choice).
    signatures
        The signatures scored.
    method
        The scoring method (name or :class:`~ifnscore._methods.Method`): decides which
        published limit applies and whether a limit must be > 0 (:func:`check_value`).
    reference
        The :class:`~ifnscore.Reference` scored against, if any.
    arg
        The argument's name in messages (``"--upper-limit"`` from the CLI).
    genes_used
        Per signature, the genes found in the data: a published limit applies only when all
        were found (and, with a reference, none was excluded at calibration).

    Returns
    -------
    dict
        Signature name -> :class:`Limit` or ``None``.

    Raises
    ------
    ifnscore.errors.InputError
        A value that is not a limit (non-finite, a bool, <= 0 for a positive method, an
        unknown word), a dict naming signatures not scored, or ``"published"``/``"controls"``
        where none applies (the message says why).

    Examples
    --------
    >>> import ifnscore
    >>> rice6 = ifnscore.get_signature("rice6")
    >>> resolve_limits(None, signatures=[rice6], method="fc_median")["rice6"].value
    2.466
    >>> resolve_limits({"rice6": 3}, signatures=[rice6], method="fc_sum")["rice6"].source
    'user'
    >>> resolve_limits(None, signatures=[rice6], method="z_sum")
    {'rice6': None}
    """
    meth = str(getattr(method, "name", method))
    names = [s.name for s in signatures]
    if isinstance(upper_limit, Mapping):
        unknown = sorted(str(k) for k in upper_limit if k not in names)
        if unknown:
            raise InputError(
                f"{arg} names signatures {unknown} that are not scored (scored: {names})."
            )
    out: dict[str, Limit | None] = {}
    for sig in signatures:
        if isinstance(upper_limit, Mapping):
            value, where = upper_limit.get(sig.name), f"{arg}[{sig.name!r}]"
        else:
            value, where = upper_limit, arg
        available, why_not, default = _from_reference(sig, meth, reference, genes_used)
        out[sig.name] = _resolve_one(
            value,
            name=sig.name,
            method=meth,
            available=available,
            why_not=why_not,
            default=default,
            arg=where,
        )
    return out


def _from_reference(
    sig: Signature,
    method: str,
    reference: Reference | None,
    genes_used: Mapping[str, Sequence[str]] | None,
) -> tuple[dict[str, Limit], dict[str, str], Limit | None]:
    """The limits available for ``sig`` (by kind), why the others are not, and the default."""
    found = None if genes_used is None else genes_used.get(sig.name)
    if reference is not None and reference.method == method:
        sref = reference.signatures.get(sig.name)
        if sref is None:
            raise InputError(
                f"The reference has no signature {sig.name!r} (it holds {list(reference.signatures)}); "
                "calibrate it with that signature."
            )
        available = {k: v for k, v in sref.limits.items() if k in _KEYWORDS}
        why = _applies(sig, sref.genes_used, getattr(sref, "excluded_genes", ()))
        why_not = {
            "published": why
            or f"the source publishes no limit for signature {sig.name!r} with method={method!r}",
            "controls": "the reference holds no controls' limit for it",
        }
        return available, why_not, sref.upper_limit
    available, why_not = {}, {}
    excluded: Sequence[str] = ()
    if reference is not None:
        sref = reference.signatures.get(sig.name)
        if sref is not None:
            excluded = getattr(sref, "excluded_genes", ())
            found = sref.genes_used if found is None else found
        why_not["controls"] = (
            f"the reference's controls' limit was derived for method={reference.method!r}, not "
            f"{method!r}; calibrate a reference with method={method!r}"
        )
    else:
        why_not["controls"] = "the controls' limit comes from a reference; pass reference="
    pub = published_limit(sig, method)
    why = _applies(sig, found, excluded) if pub is not None else ""
    if pub is not None and not why:
        available["published"] = pub
    else:
        why_not["published"] = (
            why
            or f"the source publishes no limit for signature {sig.name!r} with method={method!r}"
        )
    return available, why_not, available.get("published")


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

    One scale for every group: with a ``boxcox:`` rule (or ``ep28``'s automatic choice,
    made on all controls) one :math:`\\lambda`, from all controls, is used for every group so
    that the groups are compared on one scale. Groups below the rule's minimum carry
    ``details["below_minimum"]`` (no warning here; the caller warns once).
    """
    m = _parse(rule)
    s = np.asarray(scores, dtype=np.float64)
    if m.group("ep28") is not None and m.group("tf") is None:
        tf, _ = _auto_transform(s)
        rule = f"{tf}:ep28"
    else:
        tf = m.group("tf") or "raw"
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
            warn_small=False,
        )
        out[g] = Limit(
            lim.value, "partition", lim.rule, lim.citation, {"group": g, **lim.details}, lim.notes
        )
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


def check_limit(lim: Limit, where: str, method: Any = None) -> None:
    """Validate a loaded limit: a finite value (> 0 for positive methods), and a CI (when
    given) that is ordered and finite; a :class:`~ifnscore.errors.ReferenceError` naming
    ``where`` otherwise."""
    check_value(lim.value, method=method, arg=f"{where} value", error=ReferenceError)
    lo, hi = lim.details.get("ci_low"), lim.details.get("ci_high")
    if (lo is None) != (hi is None):
        raise ReferenceError(f"{where} has only one end of its confidence interval.")
    if lo is not None and hi is not None:
        lo, hi = _json_number(lo, f"{where} ci_low"), _json_number(hi, f"{where} ci_high")
        if not lo <= hi:
            raise ReferenceError(f"{where} has an invalid confidence interval [{lo}, {hi}].")
    outl = lim.details.get("outliers", [])
    if not isinstance(outl, list | tuple) or not all(
        isinstance(o, Mapping) and "sample" in o for o in outl
    ):
        raise ReferenceError(f"{where} has a malformed outlier list.")
    n = lim.details.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 2):
        raise ReferenceError(f"{where} has n = {n!r}; a whole number of controls >= 2 is needed.")
