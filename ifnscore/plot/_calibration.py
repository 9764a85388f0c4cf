"""The healthy controls' scores and the limit: :func:`ifnscore.plot.calibration`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .._reference import Reference
from ._style import _LIMIT, _RC, OKABE_ITO, _figure, _fmt, _mpl


def calibration(
    reference: Reference,
    *,
    signature: str | None = None,
    bins: int | str = "auto",
    title: str | None = None,
    width: float = 12.0,
    height: float = 5.5,
) -> Figure:
    """The healthy controls behind a reference: their scores, the upper limit, and its
    confidence interval when the reference has one.

    Parameters
    ----------
    reference
        An :class:`ifnscore.Reference` (it stores the controls' scores up to 10,000).
    signature
        Which of the reference's signatures (default: its only one).
    bins
        Histogram bins (``numpy.histogram_bin_edges`` rule or a count).
    title
        Figure title (default: "Healthy reference: <signature>, <method>").
    width, height
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        One Axes: a histogram of the controls' scores, a solid vertical line at the upper limit
        in use, a dashed one at the controls' own limit when that differs, and a shaded band for
        the limit's confidence interval when the limit records one (``details["ci"] = (low,
        high)``, or ``details["ci_low"]``/``details["ci_high"]``).

    Examples
    --------
    >>> import ifnscore
    >>> from ifnscore import plot
    >>> counts, samples = ifnscore.datasets.load_example(as_frame=True)
    >>> ref = ifnscore.calibrate(counts[samples["group"] == "control"], signature="rice6")
    >>> fig = plot.calibration(ref)
    >>> len(fig.axes)
    1
    """
    _mpl()
    import matplotlib as mpl

    signature = reference.one_signature(signature)
    sref = reference.signatures[signature]
    scores = np.asarray(sref.control_scores, dtype=float)
    if scores.size == 0:
        raise InputError(
            f"The reference stores no control scores for {signature!r} (more than 10,000 controls); "
            "nothing to draw."
        )
    lim = sref.upper_limit
    with mpl.rc_context(_RC):
        fig = _figure(width, height)
        ax = fig.subplots()
        edges = np.histogram_bin_edges(scores, bins=bins)
        if isinstance(bins, str) and edges.size - 1 < 15:
            edges = np.histogram_bin_edges(scores, bins=int(np.clip(scores.size // 2, 8, 20)))
        ax.hist(
            scores,
            bins=edges.tolist(),
            color=OKABE_ITO["sky blue"],
            edgecolor="white",
            zorder=2,
            label=f"healthy controls (n = {scores.size})",
        )
        ci = _limit_ci(lim.details)
        if ci is not None:
            ax.axvspan(
                ci[0],
                ci[1],
                color=_LIMIT,
                alpha=0.15,
                zorder=1,
                label=f"{_ci_label(lim.details)} of the limit: {_fmt(ci[0])}–{_fmt(ci[1])}",
            )
        ax.axvline(
            lim.value,
            color=_LIMIT,
            lw=2.2,
            zorder=3,
            label=f"upper limit {_fmt(lim.value)} ({lim.source})",
        )
        own = sref.limits.get("controls")
        if own is not None and not np.isclose(own.value, lim.value):
            ax.axvline(
                own.value,
                color=OKABE_ITO["black"],
                ls="--",
                lw=1.8,
                zorder=3,
                label=f"controls' limit {_fmt(own.value)} ({own.rule})",
            )
            oci = _limit_ci(own.details)
            if oci is not None and ci is None:
                ax.axvspan(
                    oci[0],
                    oci[1],
                    color="0.5",
                    alpha=0.15,
                    zorder=1,
                    label=f"{_ci_label(own.details)} of the controls' limit: {_fmt(oci[0])}–{_fmt(oci[1])}",
                )
        ax.plot(scores, np.zeros_like(scores), "|", color="0.25", ms=12, zorder=4, clip_on=False)
        above = int((scores >= lim.value).sum())
        ax.set_xlabel(f"{reference.method} score ({signature})")
        ax.set_ylabel("number of controls")
        ax.set_ylim(0, None)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        ax.text(
            1.02,
            0.05,
            f"{above} of {scores.size} controls\n≥ the upper limit",
            transform=ax.transAxes,
            ha="left",
            va="bottom",
            fontsize=11,
        )
        ax.set_title(title or f"Healthy reference: {signature}, {reference.method}", loc="left")
    return fig


def _limit_ci(details: Mapping[str, Any]) -> tuple[float, float] | None:
    ci = details.get("ci")
    if isinstance(ci, Mapping):
        ci = (ci.get("low"), ci.get("high"))
    if ci is None and "ci_low" in details and "ci_high" in details:
        ci = (details["ci_low"], details["ci_high"])
    try:
        lo, hi = (float(x) for x in ci)  # type: ignore[union-attr, arg-type]
    except (TypeError, ValueError):
        return None
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo:
        return None
    return lo, hi


def _ci_label(details: Mapping[str, Any]) -> str:
    level = details.get("ci_level", details.get("confidence"))
    try:
        pct = float(level)
    except (TypeError, ValueError):
        return "confidence interval"
    pct = pct * 100 if pct <= 1 else pct
    return f"{pct:g}% CI"
