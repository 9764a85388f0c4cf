"""One patient's score over time: :func:`ifnscore.plot.trajectory`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import InputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..longitudinal import Followup
from ._style import (
    _CLINICAL,
    _CYCLE,
    _LIMIT,
    _NORMAL,
    _RC,
    _SCORE,
    _borderline_band,
    _figure,
    _fmt,
    _mpl,
    _use_log,
)


def trajectory(
    followup: Followup,
    patient: str | None = None,
    *,
    clinical: str | None = "auto",
    log: bool | None = None,
    title: str | None = None,
    score_label: str | None = None,
    width: float = 10.0,
    height: float = 6.5,
) -> Figure:
    """One patient's score over time, as in a case report.

    Parameters
    ----------
    followup
        From :func:`ifnscore.follow`.
    patient
        Which patient (default: the only one; required when several are followed).
    clinical
        The clinical measure drawn on a second y axis: ``"auto"`` (default) the followup's first
        clinical measure if it has one, a column name, or ``None`` for none.
    log
        Logarithmic score axis: ``None`` (default) when every score is positive, as fold-change
        scores are; ``True``/``False`` to force.
    title, score_label
        Figure title (default: the patient) and score axis label (default from the signature).
    width, height
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Axes: ``fig.axes[0]`` the score (visits as a line with markers; the reference range
        below the limit shaded; the limit as a dashed line), the clinical measure's twin axis
        when drawn, and a treatment axis below (one bar per period; ongoing periods run to the
        right edge with an arrow) when the patient has treatments.

    Examples
    --------
    >>> import ifnscore
    >>> from ifnscore import plot
    >>> from ifnscore.datasets import load_example
    >>> adata = load_example()
    >>> ref = ifnscore.calibrate(adata[adata.obs["group"] == "control"], signature="rice6")
    >>> ifnscore.score(adata, reference=ref)
    >>> fig = plot.trajectory(ifnscore.follow(adata, clinical="cmas"))
    >>> fig.axes[0].get_yscale()
    'log'
    """
    _mpl()
    import matplotlib as mpl

    if patient is None:
        if len(followup.patients) != 1:
            raise InputError(
                f"patient= is required: {len(followup.patients)} patients are followed "
                f"({followup.patients[:5]}{' ...' if len(followup.patients) > 5 else ''})."
            )
        patient = followup.patients[0]
    v = followup.patient(patient)
    if clinical == "auto":
        clinical = followup.clinical[0] if followup.clinical else None
    if clinical is not None and clinical not in v.columns:
        raise InputError(
            f"clinical={clinical!r} is not a clinical measure of this followup; it has "
            f"{list(followup.clinical)} (pass clinical= to ifnscore.follow)."
        )
    treat = followup.treatments[followup.treatments["patient"] == patient]
    limit = followup.upper_limit
    unit = followup.time_unit
    t = v["time"].to_numpy(dtype=float)
    s = v["score"].to_numpy(dtype=float)
    ok = np.isfinite(s)
    use_log = _use_log(s, log, "the score")
    with mpl.rc_context(_RC):
        ndrugs = treat["drug"].nunique()
        if ndrugs:
            fig = _figure(width, height + 0.35 * ndrugs)
            ax, axt = fig.subplots(
                2, 1, sharex=True, gridspec_kw={"height_ratios": [4.5, 0.55 + 0.4 * ndrugs]}
            )
        else:
            fig = _figure(width, height)
            ax, axt = fig.subplots(), None
        t_end = _time_end(t, treat)
        starts = treat["start"].to_numpy(dtype=float)
        lo_x = min([0.0, *t[np.isfinite(t)], *starts[np.isfinite(starts)]])
        pad = 0.03 * (t_end - lo_x if t_end > lo_x else 1.0)
        ax.set_xlim(lo_x - pad, t_end + pad)
        if use_log:
            ax.set_yscale("log")
            lo = min(float(np.nanmin(s[ok])) if ok.any() else limit, limit) / 2.5
            hi = max(float(np.nanmax(s[ok])) if ok.any() else limit, limit) * 2.5
            ax.set_ylim(lo, hi)
        bottom = (
            ax.get_ylim()[0] if use_log else min(0.0, float(np.nanmin(s[ok])) if ok.any() else 0.0)
        )
        ax.axhspan(
            bottom, limit, color=_NORMAL, zorder=0, label=f"reference range (< {_fmt(limit)})"
        )
        ax.axhline(
            limit, color=_LIMIT, ls="--", lw=1.8, zorder=1, label=f"upper limit {_fmt(limit)}"
        )
        _borderline_band(ax, followup.borderline)
        ax.plot(t[ok], s[ok], color=_SCORE, lw=2.2, marker="o", ms=8, zorder=3, label="IFN score")
        above = ok & (s >= limit)
        ax.plot(
            t[ok & ~above],
            s[ok & ~above],
            ls="none",
            marker="o",
            ms=8,
            mfc="white",
            mec=_SCORE,
            mew=2,
            zorder=4,
        )
        rel = v["re_elevation"].to_numpy(dtype=bool)
        if rel.any():
            ax.plot(
                t[rel],
                s[rel],
                ls="none",
                marker="o",
                ms=16,
                mfc="none",
                mec=_LIMIT,
                mew=2,
                zorder=4,
                label="re-elevation (above the limit again after normalising)",
            )
        for ti, si in zip(t[ok], s[ok], strict=True):
            ax.annotate(
                _fmt(si, 3),
                (ti, si),
                textcoords="offset points",
                xytext=(0, 9),
                ha="center",
                fontsize=10,
                color=_SCORE,
            )
        ax.set_ylabel(score_label or _score_label(followup))
        fig.suptitle(
            title or f"Patient {patient}: IFN score over time", x=0.01, ha="left", fontsize=15
        )
        ax.grid(axis="y", which="major", color="0.9", zorder=0)
        handles, labels = ax.get_legend_handles_labels()
        ax2 = None
        if clinical is not None:
            c = v[clinical].to_numpy(dtype=float)
            cok = np.isfinite(c)
            ax2 = ax.twinx()
            ax2.spines["right"].set_visible(True)
            ax2.plot(
                t[cok],
                c[cok],
                color=_CLINICAL,
                lw=2,
                ls="-",
                marker="s",
                ms=7,
                label=clinical.upper() if len(clinical) <= 6 else clinical,
            )
            ax2.set_ylabel(clinical.upper() if len(clinical) <= 6 else clinical, color=_CLINICAL)
            ax2.tick_params(axis="y", colors=_CLINICAL)
            if cok.any():
                top = float(np.nanmax(c[cok]))
                ax2.set_ylim(min(0.0, float(np.nanmin(c[cok]))), top * 1.15 if top > 0 else 1.0)
            h2, l2 = ax2.get_legend_handles_labels()
            handles, labels = handles + h2, labels + l2
        ax.legend(handles, labels, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=4, frameon=False)
        units = unit if unit.endswith("s") else f"{unit}s"
        xlabel = f"Time ({units} since first visit)" if "date" in v.columns else f"Time ({units})"
        if axt is not None:
            _treatment_bars(axt, treat, t_end)
            axt.set_xlabel(xlabel)
            ax.tick_params(labelbottom=False)
        else:
            ax.set_xlabel(xlabel)
    return fig


def _time_end(t: np.ndarray, treat: pd.DataFrame) -> float:
    ends = [float(np.nanmax(t))] if t.size else [1.0]
    for c in ("start", "stop"):
        vals = treat[c].to_numpy(dtype=float)
        if np.isfinite(vals).any():
            ends.append(float(np.nanmax(vals)))
    return max(ends)


def _treatment_bars(ax: Axes, treat: pd.DataFrame, t_end: float) -> None:
    drugs = list(dict.fromkeys(treat["drug"]))
    right = ax.get_xlim()[1]
    for i, drug in enumerate(drugs):
        colour = _CYCLE[(i + 2) % len(_CYCLE)]
        y = len(drugs) - 1 - i
        for _, r in treat[treat["drug"] == drug].iterrows():
            start = float(r["start"])
            stop = right if bool(r["ongoing"]) else float(r["stop"])
            ax.broken_barh([(start, max(stop - start, 0.5))], (y - 0.35, 0.7), color=colour)
            if bool(r["ongoing"]):
                ax.text(right, y, "ongoing ▶ ", ha="right", va="center", fontsize=10, color="white")
    ax.set_yticks(range(len(drugs)), drugs[::-1])
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(-0.6, len(drugs) - 0.4)
    ax.spines[["left", "right", "top"]].set_visible(False)


def _score_label(followup: Followup) -> str:
    sig = f" ({followup.signature})" if followup.signature else ""
    return f"IFN score{sig}"
