r"""Reference-interval statistics after CLSI EP28-A3c: pure kernels on 1-D float arrays.

Everything here works on the controls' scores (already on the scale chosen for the rule) and
returns plain floats and dicts; :mod:`ifnscore._limits` parses rules and builds
:class:`~ifnscore._limits.Limit` objects from them. :func:`verify_limit` is public.

Sources
-------
* CLSI EP28-A3c (2010, reaffirmed 2016). *Defining, establishing, and verifying reference
  intervals in the clinical laboratory.* Rank method :math:`r = p(n+1)`; at least 120
  reference individuals for the non-parametric limits with 90 % confidence intervals; the
  robust method for smaller samples; Dixon's D/R and Tukey fences for outliers; Harris & Boyd
  partitioning; transference by 20 samples, at most 2 outside.
* Horn PS, Pesce AJ, Copeland BE (1998). A robust approach to reference interval estimation
  and evaluation. *Clin Chem* 44:622-631, doi:10.1093/clinchem/44.3.622.
* Harris EK, Boyd JC (1990). On dividing reference data into subgroups to produce separate
  reference ranges. *Clin Chem* 36:265-270, doi:10.1093/clinchem/36.2.265.
* Reed AH, Henry RJ, Mason WB (1971). Influence of statistical method used on the resulting
  estimate of normal range. *Clin Chem* 17:275-284, doi:10.1093/clinchem/17.4.275 (D/R > 1/3).
* Box GEP, Cox DR (1964). An analysis of transformations. *J R Stat Soc B* 26:211-252,
  doi:10.1111/j.2517-6161.1964.tb00553.x.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InputError

__all__ = [
    "LimitVerification",
    "bootstrap_ci",
    "dixon_screen",
    "harris_boyd",
    "nonparametric_ci_ranks",
    "parametric_ci",
    "percentile_rank",
    "robust_upper",
    "transference",
    "transform",
    "tukey_fences",
]

#: Tukey's biweight tuning constants of Horn, Pesce & Copeland (1998).
C_LOCATION = 3.7
C_SCALE_WIDE = 205.6
#: MAD / 0.6745 estimates the SD of a normal distribution.
MAD_TO_SD = 0.6745
#: Bootstrap resamples and seed for the robust limit's confidence interval.
N_BOOT = 1000
BOOT_SEED = 0


# ---------------------------------------------------------------------------- transforms
def transform(
    x: np.ndarray, kind: str, *, lmbda: float | None = None
) -> tuple[np.ndarray, Callable[[float], float], dict[str, Any]]:
    r"""Map scores to the scale a rule works on; return ``(y, back, info)``.

    ``kind`` is ``"raw"`` (identity), ``"log"`` (:math:`y = \ln x`) or ``"boxcox"``
    (:math:`y = (x^\lambda - 1)/\lambda`, :math:`\ln x` at :math:`\lambda = 0`, with
    :math:`\lambda` by maximum likelihood, :func:`scipy.stats.boxcox`, unless given).
    ``back`` maps a value on the transformed scale back to the score scale (NaN where
    the Box-Cox inverse is undefined: :math:`1 + \lambda y \le 0`).
    """
    x = np.asarray(x, dtype=np.float64)
    if kind == "raw":
        return x, float, {}
    if np.any(x <= 0):
        raise InputError(
            f"The {kind!r} transform needs positive control scores, but {int(np.sum(x <= 0))} are <= 0 "
            "(e.g. z_* or mean_log scores); use a rule without a transform prefix."
        )
    if kind == "log":
        return np.log(x), lambda v: float(np.exp(v)), {}
    if kind == "boxcox":
        from scipy import special  # not scipy.stats: importing it costs ~40 MiB

        if lmbda is None:
            if np.ptp(x) == 0:
                raise InputError(
                    "The 'boxcox' transform needs control scores that are not all equal."
                )
            # the MLE on the sorted scores, so that lambda does not depend on their order
            lmbda = boxcox_mle(np.sort(x))
        y = special.boxcox(x, lmbda)
        lam = float(lmbda)

        def back(v: float) -> float:
            from scipy import special

            # NaN where 1 + lambda * v <= 0 (beyond the transform's range when lambda < 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                out = float(special.inv_boxcox(v, lam))
            return out if np.isfinite(out) else float("nan")

        return np.asarray(y, dtype=np.float64), back, {"lambda": lam}
    raise InputError(f"Unknown transform {kind!r}; use 'log' or 'boxcox'.")


def boxcox_llf(lmbda: float, x: np.ndarray) -> float:
    r"""Box-Cox profile log-likelihood (Box & Cox 1964), as :func:`scipy.stats.boxcox_llf`:
    :math:`(\lambda - 1)\sum \ln x_i - \tfrac n2 \ln \hat\sigma^2_\lambda`, with
    :math:`\hat\sigma^2_\lambda` the variance (ddof 0) of the transformed values."""
    from scipy import special

    y = special.boxcox(x, lmbda)
    return float((lmbda - 1) * np.sum(np.log(x)) - x.size / 2 * np.log(np.var(y)))


def boxcox_mle(x: np.ndarray) -> float:
    """Maximum-likelihood Box-Cox lambda: Brent's method from the bracket (-2, 2), as
    ``scipy.stats.boxcox_normmax(x, method="mle")`` (without importing scipy.stats)."""
    from scipy import optimize

    return float(optimize.brent(lambda lm: -boxcox_llf(lm, x), brack=(-2.0, 2.0)))


# ---------------------------------------------------------------------------- parametric
def parametric_ci(y: np.ndarray, k: float, conf: float) -> tuple[float, float]:
    r"""Exact CI of :math:`\theta = \mu + k\sigma` for normal ``y`` (estimate :math:`\bar y + k s`).

    :math:`T = \sqrt n(\bar y - \theta)/s` follows a non-central t distribution with
    :math:`n - 1` degrees of freedom and non-centrality :math:`-k\sqrt n`, so
    :math:`\theta \in [\bar y - t_{(1+c)/2}\, s/\sqrt n,\ \bar y - t_{(1-c)/2}\, s/\sqrt n]`.
    """
    from scipy import special  # scipy.stats would cost ~40 MiB to import

    n = y.size
    mean, sd = float(y.mean()), float(y.std(ddof=1))
    nc = -k * np.sqrt(n)
    q_lo, q_hi = (float(special.nctdtrit(n - 1, nc, q)) for q in ((1 - conf) / 2, (1 + conf) / 2))
    return mean - q_hi * sd / np.sqrt(n), mean - q_lo * sd / np.sqrt(n)


# ---------------------------------------------------------------------------- non-parametric
def _rank(p: float, n: int) -> float:
    # p (n + 1), rounded to 9 decimals so that e.g. 0.975 * 40 is exactly rank 39
    return round(p * (n + 1), 9)


def percentile_rank(scores: np.ndarray, p: float) -> float:
    r"""EP28 rank-method percentile: the value at rank :math:`r = p(n+1)` (1-based).

    Linear interpolation between the order statistics :math:`x_{(\lfloor r\rfloor)}` and
    :math:`x_{(\lfloor r\rfloor + 1)}`; clamped to the sample minimum/maximum when :math:`r`
    falls outside :math:`[1, n]`.
    """
    s = np.sort(np.asarray(scores, dtype=np.float64))
    n = s.size
    r = _rank(p, n)
    if r <= 1:
        return float(s[0])
    if r >= n:
        return float(s[-1])
    lo = int(np.floor(r))
    frac = r - lo
    return float(s[lo - 1] + frac * (s[lo] - s[lo - 1]))


def nonparametric_ci_ranks(n: int, p: float, conf: float = 0.90) -> tuple[int, int] | None:
    r"""Ranks :math:`(r_\mathrm{lo}, r_\mathrm{hi})` of the order statistics bounding a CI of the
    ``p`` quantile, or ``None`` when ``n`` is too small.

    With :math:`B \sim \mathrm{Bin}(n, p)` the number of observations below the true quantile
    :math:`\xi_p`, :math:`P(x_{(r)} > \xi_p) = F_B(r - 1)`. Each tail gets at most
    :math:`\alpha/2 = (1 - c)/2`: :math:`r_\mathrm{lo}` is the largest rank with
    :math:`F_B(r - 1) \le \alpha/2` and :math:`r_\mathrm{hi}` the smallest with
    :math:`F_B(r - 1) \ge 1 - \alpha/2`; the coverage
    :math:`F_B(r_\mathrm{hi} - 1) - F_B(r_\mathrm{lo} - 1)` is then at least ``conf``.
    For the 97.5th percentile and ``conf = 0.90`` this needs :math:`n \ge 119`
    (EP28-A3c asks for 120 reference individuals).
    """
    from scipy import special

    alpha = (1 - conf) / 2
    cdf = special.bdtr(np.arange(n), n, p)  # binomial F(r - 1) for r = 1..n
    lo = np.flatnonzero(cdf <= alpha)
    hi = np.flatnonzero(cdf >= 1 - alpha)
    if lo.size == 0 or hi.size == 0:
        return None
    return int(lo[-1]) + 1, int(hi[0]) + 1


# ---------------------------------------------------------------------------- robust
def _biweight_scale(y: np.ndarray, centre: np.ndarray, s: np.ndarray, c: float) -> np.ndarray:
    r"""Per row: :math:`c\,s\,\sqrt{\sum u^2(1-u^2)^4 / (S \max(1, S - 1))}` over :math:`|u| < 1`,
    :math:`u = (y - \mathrm{centre})/(c s)`, :math:`S = \sum (1-u^2)(1-5u^2)`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (y - centre[:, None]) / (c * s[:, None])
        inside = np.abs(u) < 1
        u2 = np.where(inside, u * u, 0.0)
        num = np.sum(np.where(inside, u2 * (1 - u2) ** 4, 0.0), axis=1)
        big_s = np.sum(np.where(inside, (1 - u2) * (1 - 5 * u2), 0.0), axis=1)
        out = c * s * np.sqrt(num / (big_s * np.maximum(1.0, big_s - 1)))
    return np.where(big_s > 0, out, np.nan)


def _robust_rows(y: np.ndarray, p: float, tol: float = 1e-12, max_iter: int = 500) -> dict:
    """Horn-Pesce robust upper limit for every row of ``y`` (shape (B, n)); vectorised."""
    from scipy import special

    n = y.shape[1]
    med = np.median(y, axis=1)
    mad = np.median(np.abs(y - med[:, None]), axis=1)
    scale = mad / MAD_TO_SD
    with np.errstate(divide="ignore", invalid="ignore"):
        tbi = med.copy()
        active = np.flatnonzero(scale > 0)
        tbi[scale <= 0] = np.nan
        it = 0
        for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported
            ya = y[active]
            u2 = np.square((ya - tbi[active, None]) / (C_LOCATION * scale[active, None]))
            w = np.square(1.0 - np.minimum(u2, 1.0))  # (1 - u^2)^2 inside |u| < 1, else 0
            new = np.einsum("ij,ij->i", w, ya) / w.sum(axis=1)
            moving = np.isfinite(new) & (np.abs(new - tbi[active]) > tol * scale[active])
            tbi[active] = new
            active = active[moving]
            if active.size == 0:
                break
        s_wide = _biweight_scale(y, med, scale, C_SCALE_WIDE) * np.sqrt(n)
        s_loc = _biweight_scale(y, med, scale, C_LOCATION) * np.sqrt(n)
        s_t = _biweight_scale(y, tbi, s_loc, C_LOCATION)
        t = float(special.stdtrit(n - 1, p))  # Student t quantile
        limit = tbi + t * np.sqrt(s_wide**2 + s_t**2)
    bad = ~(scale > 0)
    limit = np.where(bad, np.nan, limit)
    return {
        "limit": limit,
        "t_bi": tbi,
        "s_bi_205_6": s_wide,
        "s_bi_3_7": s_loc,
        "s_t_3_7": s_t,
        "t": t,
        "mad": mad,
        "iterations": it,
    }


def robust_upper(y: np.ndarray, p: float = 0.975) -> tuple[float, dict[str, Any]]:
    r"""Robust upper reference limit of Horn, Pesce & Copeland (1998), as in CLSI EP28-A3c.

    With :math:`M` the median and :math:`\mathrm{MAD}` the median absolute deviation,
    :math:`\hat\sigma = \mathrm{MAD}/0.6745`:

    1. biweight location :math:`T_{bi}`, iterated from :math:`T = M`:
       :math:`u_i = (y_i - T)/(3.7\hat\sigma)`, :math:`w_i = (1 - u_i^2)^2` for
       :math:`|u_i| < 1` (else 0), :math:`T \leftarrow \sum w_i y_i / \sum w_i`;
    2. biweight scales about the median,
       :math:`s_{bi}(c) = c\hat\sigma\sqrt{n\sum u_i^2(1-u_i^2)^4 / (S\,\max(1, S-1))}` with
       :math:`u_i = (y_i - M)/(c\hat\sigma)`, :math:`S = \sum (1-u_i^2)(1-5u_i^2)`, sums over
       :math:`|u_i| < 1`, for :math:`c = 205.6` (close to the classical SD) and :math:`c = 3.7`;
    3. the standard error of :math:`T_{bi}`: the same expression without the factor :math:`n`,
       :math:`u_i = (y_i - T_{bi})/(3.7\,s_{bi}(3.7))` and :math:`3.7\,s_{bi}(3.7)` in front;
    4. :math:`\mathrm{URL} = T_{bi} + t_{p,\,n-1}\sqrt{s_{bi}(205.6)^2 + s_{T}(3.7)^2}`.

    This reproduces the EP28-A3c Appendix B example (robust interval 9.05-10.20 on 20
    calcium values) as implemented and tested by the R package mcradds (``robustRI``); the
    1998 paper itself could not be read here, so the details of steps 2-3 (MAD kept fixed
    during the iteration, the :math:`\max(1, S-1)` guard) follow that implementation.
    """
    y = np.sort(np.asarray(y, dtype=np.float64))
    if y.size < 3:
        raise InputError(f"The robust rule needs at least 3 control scores, got {y.size}.")
    r = _robust_rows(y[None, :], p)
    value = float(r["limit"][0])
    if not np.isfinite(value):
        raise InputError(
            "The robust rule failed: at least half of the control scores are equal (MAD = 0); "
            "use a percentile or mean+Ksd rule."
        )
    details = {k: float(r[k][0]) for k in ("t_bi", "s_bi_205_6", "s_bi_3_7", "s_t_3_7", "mad")}
    details.update(t=r["t"], iterations=int(r["iterations"]))
    return value, details


def bootstrap_ci(
    y: np.ndarray, p: float, conf: float, *, n_boot: int = N_BOOT, seed: int = BOOT_SEED
) -> tuple[float, float, int]:
    """Percentile bootstrap CI of the robust limit (EP28-A3c suggests the bootstrap for it).

    Returns ``(low, high, n_valid)``; resamples where the robust limit is undefined (MAD = 0)
    are left out and counted. Deterministic for a given ``seed``.
    """
    y = np.sort(y)  # resample the sorted values so that the CI ignores the controls' order
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, y.size, size=(n_boot, y.size))
    lim = _robust_rows(y[idx], p)["limit"]
    lim = lim[np.isfinite(lim)]
    if lim.size < n_boot // 2:
        return float("nan"), float("nan"), int(lim.size)
    lo, hi = np.quantile(lim, [(1 - conf) / 2, (1 + conf) / 2])
    return float(lo), float(hi), int(lim.size)


# ---------------------------------------------------------------------------- outliers
def tukey_fences(y: np.ndarray) -> tuple[float, float]:
    r"""Tukey's fences :math:`[Q_1 - 1.5\,\mathrm{IQR},\ Q_3 + 1.5\,\mathrm{IQR}]`.

    Quartiles by linear interpolation (:func:`numpy.percentile`, Hyndman & Fan type 7).
    """
    q1, q3 = np.percentile(y, [25, 75])
    iqr = q3 - q1
    return float(q1 - 1.5 * iqr), float(q3 + 1.5 * iqr)


def dixon_screen(y: np.ndarray) -> tuple[float | None, float | None]:
    r"""Dixon's ratio :math:`D/R` for the smallest and the largest value.

    :math:`D` is the gap between the extreme and its nearest neighbour, :math:`R` the range;
    an extreme with :math:`D/R > 1/3` is an outlier (Reed, Henry & Mason 1971; EP28-A3c).
    ``None`` with fewer than 3 values or a zero range.
    """
    s = np.sort(y)
    if s.size < 3 or s[-1] == s[0]:
        return None, None
    r = s[-1] - s[0]
    return float((s[1] - s[0]) / r), float((s[-1] - s[-2]) / r)


def screen_outliers(y: np.ndarray, names: Sequence[str]) -> tuple[list[dict[str, Any]], dict]:
    """Flag outliers by Tukey's fences and Dixon's D/R; return (flagged, screen summary)."""
    low, high = tukey_fences(y)
    d_min, d_max = dixon_screen(y)
    tests: dict[int, list[str]] = {}
    for i in np.flatnonzero(y < low):
        tests.setdefault(int(i), []).append("tukey_low")
    for i in np.flatnonzero(y > high):
        tests.setdefault(int(i), []).append("tukey_high")
    if d_min is not None and d_min > 1 / 3:
        tests.setdefault(int(np.argmin(y)), []).append("dixon_min")
    if d_max is not None and d_max > 1 / 3:
        tests.setdefault(int(np.argmax(y)), []).append("dixon_max")
    flagged = [{"sample": str(names[i]), "index": i, "tests": t} for i, t in sorted(tests.items())]
    screen = {"tukey_low": low, "tukey_high": high, "dixon_min": d_min, "dixon_max": d_max}
    return flagged, screen


# ---------------------------------------------------------------------------- partitioning
def harris_boyd(groups: dict[str, np.ndarray]) -> dict[str, Any]:
    r"""Harris & Boyd (1990) test of whether subgroups need separate reference limits.

    For each pair of groups (values on the rule's scale):
    :math:`z = |\bar y_1 - \bar y_2| / \sqrt{s_1^2/n_1 + s_2^2/n_2}` against
    :math:`z^* = 3\sqrt{\bar n/120}`, :math:`\bar n = (n_1 + n_2)/2`; and the SD ratio
    :math:`s_\mathrm{large}/s_\mathrm{small}` against 1.5. Partitioning is warranted for a pair
    when :math:`z > z^*` or the ratio exceeds 1.5, and overall when it is for any pair.

    The criteria were built for groups of about 120 (EP28's minimum for separate
    non-parametric limits); :math:`z^*` shrinks with :math:`\bar n`, so with small groups
    random splits often pass. The result then carries a ``note`` saying so.
    """
    names = list(groups)
    pairs = []
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            y1, y2 = groups[names[a]], groups[names[b]]
            n1, n2 = y1.size, y2.size
            s1, s2 = float(y1.std(ddof=1)), float(y2.std(ddof=1))
            se = np.sqrt(s1**2 / n1 + s2**2 / n2)
            diff = abs(float(y1.mean()) - float(y2.mean()))
            z = float(diff / se) if se > 0 else (0.0 if diff == 0 else float("inf"))
            z_star = float(3 * np.sqrt((n1 + n2) / 2 / 120))
            ratio = max(s1, s2) / min(s1, s2) if min(s1, s2) > 0 else None
            pairs.append(
                {
                    "groups": [names[a], names[b]],
                    "n": [int(n1), int(n2)],
                    "z": z if np.isfinite(z) else None,
                    "z_star": z_star,
                    "sd_ratio": None if ratio is None else float(ratio),
                    "warranted": bool(z > z_star or (ratio is not None and ratio > 1.5)),
                }
            )
    out: dict[str, Any] = {
        "test": "Harris & Boyd 1990 (doi:10.1093/clinchem/36.2.265)",
        "pairs": pairs,
        "warranted": any(p["warranted"] for p in pairs),
    }
    smallest = min(int(v.size) for v in groups.values())
    if smallest < 120:
        out["note"] = (
            f"the smallest group has {smallest} controls; the criteria assume about 120 per "
            "group and are lenient with fewer"
        )
    return out


# ---------------------------------------------------------------------------- verification
@dataclass(frozen=True)
class LimitVerification:
    """The result of :func:`verify_limit`.

    Attributes
    ----------
    limit : float
        The upper limit checked.
    n, n_outside, max_outside : int
        Samples checked, samples at or above the limit, and the most allowed.
    accepted : bool
        ``n_outside <= max_outside``.
    p_value : float
        :math:`P(X \\ge n_\\mathrm{outside})`, :math:`X \\sim \\mathrm{Bin}(n, \\pi_0)`:
        how surprising this many samples outside would be if the limit were right.
    expected_outside : float
        :math:`\\pi_0`, the fraction of healthy samples expected at or above the limit.
    outside : tuple of str
        The samples at or above the limit.
    note : str
        EP28's next step when the limit is not accepted outright.
    """

    limit: float
    n: int
    n_outside: int
    max_outside: int
    accepted: bool
    p_value: float
    expected_outside: float
    outside: tuple[str, ...]
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "n": self.n,
            "n_outside": self.n_outside,
            "max_outside": self.max_outside,
            "accepted": self.accepted,
            "p_value": self.p_value,
            "expected_outside": self.expected_outside,
            "outside": list(self.outside),
            "note": self.note,
        }


def transference(
    values: np.ndarray,
    limit: float,
    names: Sequence[str],
    *,
    expected_outside: float = 0.025,
    max_fraction: float = 0.10,
) -> LimitVerification:
    """CLSI EP28-A3c transference check of an upper ``limit`` on healthy ``values`` (finite).

    A sample is outside when its score is ``>= limit`` (as :func:`ifnscore.score` classifies
    it positive). ``max_outside = floor(max_fraction * n)`` (2 of 20); the p-value is the
    binomial :math:`P(X \\ge n_\\mathrm{outside})`, :math:`X \\sim \\mathrm{Bin}(n, \\pi_0)`.
    """
    from scipy import special

    n = int(values.size)
    out = values >= limit
    n_out = int(out.sum())
    max_out = int(np.floor(max_fraction * n + 1e-9))
    accepted = n_out <= max_out
    if accepted:
        note = "accepted: the limit transfers to these samples"
    elif n == 20 and n_out <= 4:
        note = "not accepted yet: EP28 asks for 20 more healthy samples, then at most 2 of them outside"
    else:
        note = "rejected: the limit does not transfer; establish a local reference interval"
    return LimitVerification(
        limit=float(limit),
        n=n,
        n_outside=n_out,
        max_outside=max_out,
        accepted=bool(accepted),
        p_value=float(special.bdtrc(n_out - 1, n, expected_outside)),  # binomial P(X >= n_out)
        expected_outside=float(expected_outside),
        outside=tuple(str(s) for s, o in zip(names, out, strict=True) if o),
        note=note,
    )
