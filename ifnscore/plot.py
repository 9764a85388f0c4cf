r"""Figures of interferon scores (matplotlib, the optional extra ``ifnscore[plot]``).

Every function returns a :class:`matplotlib.figure.Figure`, made without
:mod:`matplotlib.pyplot`: nothing is left open in pyplot's figure registry and nothing is drawn
twice; Jupyter shows it as the value of a cell, ``fig.savefig(path)`` writes it. Colours are the
Okabe–Ito palette, safe for colour-blind readers (Okabe & Ito 2008,
https://jfly.uni-koeln.de/color/); the fold-change heatmap uses ColorBrewer's diverging RdBu.
Fonts are sized for slides.

* :func:`trajectory` – one patient's score over time (log axis), the reference range shaded,
  treatment periods as bars, a clinical measure on a second axis;
* :func:`cohort` – scores by group (box + points) with the limit and the fraction above it;
* :func:`gene_heatmap` – per-gene values (fold changes) across samples, from
  :func:`ifnscore.gene_table`;
* :func:`calibration` – the healthy controls' scores, the limit and its confidence interval.

:func:`ifnscore.gene_table` computes the per-gene values behind a score; this module only draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import InputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ._reference import Reference
    from .longitudinal import Followup

__all__ = ["OKABE_ITO", "calibration", "cohort", "gene_heatmap", "trajectory"]

#: Okabe–Ito colour-blind-safe palette (name -> hex).
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}
_CYCLE = [
    OKABE_ITO[k]
    for k in (
        "blue",
        "orange",
        "bluish green",
        "reddish purple",
        "sky blue",
        "vermillion",
        "black",
        "yellow",
    )
]
_SCORE = OKABE_ITO["blue"]
_LIMIT = OKABE_ITO["vermillion"]
_CLINICAL = OKABE_ITO["orange"]
_NORMAL = "#D9EFE6"  # a pale tint of bluish green for the reference range
_RC: Any = {
    "font.size": 13,
    "axes.titlesize": 15,
    "axes.labelsize": 13,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _mpl() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "ifnscore's figures need matplotlib: pip install 'ifnscore[plot]' (or pip install matplotlib)."
        ) from None
    return matplotlib


_FIGURE_CLASS: Any = None


def _shown_figure_class() -> Any:
    """``ifnscore.plot._ShownFigure``: a matplotlib Figure with ``_repr_png_``, so that Jupyter
    displays it once as the value of a cell even when pyplot was never imported. Made on first
    use (matplotlib is optional) and reachable by name, so figures still pickle."""
    global _FIGURE_CLASS
    if _FIGURE_CLASS is None:
        _mpl()
        from matplotlib.figure import Figure

        class _ShownFigure(Figure):
            def _repr_png_(self) -> bytes:
                import io

                buf = io.BytesIO()
                self.savefig(buf, format="png", dpi=100)
                return buf.getvalue()

        _ShownFigure.__module__ = __name__
        _ShownFigure.__qualname__ = "_ShownFigure"
        _FIGURE_CLASS = _ShownFigure
    return _FIGURE_CLASS


def __getattr__(name: str) -> Any:
    if name == "_ShownFigure":
        return _shown_figure_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _figure(width: float, height: float, **kwargs: Any) -> Figure:
    """A new Figure outside pyplot's registry (nothing left open, nothing drawn twice)."""
    cls = _shown_figure_class()
    return cls(figsize=(width, height), layout="constrained", **kwargs)  # type: ignore[no-any-return]


def _use_log(values: np.ndarray, log: bool | None, what: str) -> bool:
    v = values[np.isfinite(values)]
    if log is None:
        return bool(v.size) and bool((v > 0).all())
    if log and v.size and (v <= 0).any():
        raise InputError(
            f"log=True but {what} has values <= 0 (e.g. z-scores); pass log=False or log=None."
        )
    return bool(log)


def _fmt(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}g}" if abs(x) < 1000 else f"{x:,.0f}"


# --------------------------------------------------------------------------- trajectory
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


# --------------------------------------------------------------------------- cohort
def cohort(
    scores: Any,
    groups: Any,
    *,
    upper_limit: float | None = None,
    signature: str | None = None,
    order: Sequence[str] | None = None,
    log: bool | None = None,
    title: str | None = "IFN score by group",
    ylabel: str | None = None,
    width: float | None = None,
    height: float = 6.0,
    seed: int = 0,
) -> Figure:
    """Scores by group: a box per group with every sample as a point, the limit, and the
    fraction of each group at or above it.

    Parameters
    ----------
    scores
        The DataFrame from :func:`ifnscore.score` (``signature=`` picks one of several) or a
        Series of scores indexed by sample.
    groups
        Group of each sample: a Series indexed by sample (e.g. ``samples["group"]``) or a
        sequence aligned with ``scores``. Samples with a missing group form the group "NA".
    upper_limit
        Default: the limit recorded by :func:`ifnscore.score`. Without one, no line or
        fractions are drawn.
    signature
        Which signature to draw when ``scores`` holds several (default: its only one).
    order
        Group order (default: sorted by median score, lowest first).
    log
        Logarithmic axis: ``None`` (default) when all scores are positive.
    title, ylabel
        Title and score-axis label (default ``"IFN score (<signature>)"``).
    width, height
        Figure size in inches (default width: grows with the number of groups).
    seed
        Seed of the horizontal jitter of the points (deterministic figures).

    Returns
    -------
    matplotlib.figure.Figure
        One Axes with the boxes, the points, the dashed limit line and a text per group
        ``"NN% ≥ limit (k/n)"``.

    Examples
    --------
    >>> import ifnscore
    >>> from ifnscore import plot
    >>> counts, samples = ifnscore.datasets.load_example(as_frame=True)
    >>> ref = ifnscore.calibrate(counts[samples["group"] == "control"], signature="rice6")
    >>> fig = plot.cohort(ifnscore.score(counts, reference=ref), samples["group"])
    >>> fig.axes[0].get_yscale()
    'log'
    """
    _mpl()
    import matplotlib as mpl

    s, limit, sig = _score_series(scores, signature, upper_limit)
    g = _align_groups(groups, s)
    names = order or list(
        s.groupby(g, sort=True).median().sort_values(kind="stable").index.astype(str)
    )
    missing = [n for n in names if n not in set(g)]
    if missing:
        raise InputError(
            f"order= names groups {missing} that no sample has; groups: {sorted(set(g))}."
        )
    use_log = _use_log(s.to_numpy(dtype=float), log, "the score")
    rng = np.random.default_rng(seed)
    with mpl.rc_context(_RC):
        fig = _figure(width or max(5.5, 1.9 * len(names) + 2.5), height)
        ax = fig.subplots()
        data = [s[g == n].to_numpy(dtype=float) for n in names]
        data = [d[np.isfinite(d)] for d in data]
        if use_log:
            ax.set_yscale("log")
        ax.boxplot(
            data,
            positions=range(len(names)),
            widths=0.55,
            showfliers=False,
            medianprops={"color": "black", "lw": 2},
            boxprops={"color": "0.35"},
            whiskerprops={"color": "0.35"},
            capprops={"color": "0.35"},
            zorder=2,
        )
        for i, d in enumerate(data):
            x = i + rng.uniform(-0.2, 0.2, d.size)
            ax.scatter(
                x,
                d,
                s=30 if max(x.size for x in data) <= 150 else 12,
                color=_CYCLE[i % len(_CYCLE)],
                alpha=0.8,
                edgecolor="0.25",
                linewidth=0.3,
                zorder=3,
            )
        ax.set_xticks(
            range(len(names)), [f"{n}\nn = {d.size}" for n, d in zip(names, data, strict=True)]
        )
        if limit is not None:
            ax.axhline(
                limit, color=_LIMIT, ls="--", lw=1.8, zorder=1, label=f"upper limit {_fmt(limit)}"
            )
            _borderline_band(ax, _recorded_zone(scores, sig, limit))
            for i, d in enumerate(data):
                k = int((d >= limit).sum())
                frac = f"{100 * k / d.size:.0f}%" if d.size else "–"
                ax.annotate(
                    f"{frac} ≥ limit\n({k}/{d.size})",
                    (i, 1.0),
                    xycoords=("data", "axes fraction"),
                    xytext=(0, 4),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=11,
                )
            ax.legend(loc="upper left", bbox_to_anchor=(0, -0.16), frameon=False)
        ax.set_ylabel(ylabel or f"IFN score{f' ({sig})' if sig else ''}")
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.grid(axis="y", which="major", color="0.9", zorder=0)
        if title:
            ax.set_title(title, loc="left", pad=44 if limit is not None else 6)
    return fig


def _borderline_band(ax: Axes, zone: tuple[float, float] | None) -> None:
    """The borderline zone of ``call`` (ifnscore.score's ``call_zone``) as a hatched band."""
    if zone is None:
        return
    ax.axhspan(
        zone[0],
        zone[1],
        facecolor="none",
        edgecolor=_LIMIT,
        hatch="///",
        lw=0,
        alpha=0.45,
        zorder=0.5,
        label=f"borderline zone {_fmt(zone[0])}–{_fmt(zone[1])}",
    )


def _recorded_zone(scores: Any, signature: str | None, limit: float) -> tuple[float, float] | None:
    from .longitudinal import _borderline

    return _borderline(scores, "ifnscore", signature, limit)


def _score_series(
    scores: Any, signature: str | None, upper_limit: Any
) -> tuple[pd.Series, float | None, str | None]:
    """The scores and the limit to draw: the same reading and the same limit rule as
    :func:`ifnscore.follow` (``upper_limit=``, else the recorded one); no limit line when
    none is known."""
    from .errors import InputError
    from .longitudinal import _resolve_limit, _scores_from_frame

    series, rec, sig = _scores_from_frame(scores, signature)
    method = getattr(scores, "attrs", {}).get("ifnscore", {}).get("method")
    try:
        return series, _resolve_limit(upper_limit, rec, series, method), sig
    except InputError:
        if upper_limit is not None:
            raise
        return series, None, sig


def _align_groups(groups: Any, s: pd.Series) -> pd.Series:
    if isinstance(groups, pd.Series):
        lost = s.index.difference(groups.index)
        if len(lost):
            raise InputError(
                f"groups has no entry for {len(lost)} scored samples (first: {list(lost[:5])}); "
                "index it by sample name."
            )
        g = groups.reindex(s.index)
    else:
        g = pd.Series(list(groups), dtype=object)
        if len(g) != len(s):
            raise InputError(
                f"groups has {len(g)} values for {len(s)} scores; give one per sample."
            )
        g.index = s.index
    return g.astype(object).where(g.notna(), "NA").astype(str)


# --------------------------------------------------------------------------- per-gene values
# --------------------------------------------------------------------------- heatmap
def gene_heatmap(
    values: pd.DataFrame,
    *,
    groups: Any = None,
    order: str | Sequence[str] = "group",
    title: str | None = "auto",
    width: float | None = None,
    height: float | None = None,
    labels: bool | None = None,
) -> Figure:
    r"""Heatmap of per-gene values (genes x samples), from :func:`ifnscore.gene_table`.

    Fold changes are shown as :math:`\log_2` fold change, centred at 0 (= the controls'
    median) on a diverging colour scale symmetric about 0; z-scores as they are.

    Parameters
    ----------
    values
        Samples x genes, e.g. ``ifnscore.gene_table(data, reference)``.
    groups
        Group of each sample (Series indexed by sample), drawn as a coloured strip above the
        heatmap and used to order the samples.
    order
        ``"group"`` (default: by group, then by the row sum within each group), ``"score"``
        (by the row sum), ``"none"`` (as given), or a list of sample names.
    title
        ``"auto"`` (default): names what is shown (fold change, z-score or log expression);
        ``None`` for no title.
    width, height
        Figure size in inches (default: from the number of samples and genes).
    labels
        Show sample names (default: when there are at most 40 samples).

    Returns
    -------
    matplotlib.figure.Figure
        Axes: the heatmap (an image), the colour bar, and the group strip when ``groups`` is
        given.

    Examples
    --------
    >>> import ifnscore
    >>> from ifnscore import plot
    >>> counts, samples = ifnscore.datasets.load_example(as_frame=True)
    >>> ref = ifnscore.calibrate(counts[samples["group"] == "control"], signature="rice6")
    >>> fig = plot.gene_heatmap(ifnscore.gene_table(counts, ref), groups=samples["group"])
    >>> len(fig.axes) >= 2  # the heatmap and its colour bar, at least
    True
    """
    _mpl()
    import matplotlib as mpl
    from matplotlib.colors import ListedColormap

    if not isinstance(values, pd.DataFrame) or values.empty:
        raise InputError(
            "values must be a non-empty samples x genes DataFrame (from ifnscore.gene_table)."
        )
    kind = values.attrs.get("ifnscore", {}).get("kind", "fold_change")
    V = values.to_numpy(dtype=float)
    if kind == "fold_change":
        with np.errstate(divide="ignore", invalid="ignore"):
            M = np.log2(V)
        cbar_label = "log$_2$ fold change vs. healthy median"
        auto_title = "Per-gene fold change over healthy controls"
    else:
        auto_title = (
            "Per-gene z-score against healthy controls"
            if kind == "z"
            else "Per-gene log expression"
        )
        M = V.copy()
        cbar_label = "z-score vs. healthy controls" if kind == "z" else "log$_2$(expression + 1)"
    g = _align_groups(groups, values.iloc[:, 0]) if groups is not None else None
    total = np.nansum(V, axis=1)
    if isinstance(order, str):
        if order == "none":
            idx = np.arange(len(values))
        elif order == "score" or (order == "group" and g is None):
            idx = np.argsort(total, kind="stable")
        elif order == "group" and g is not None:
            med = pd.Series(total, index=values.index).groupby(g).median()
            rank = g.map(med.rank(method="first")).to_numpy()
            idx = np.lexsort((total, rank))
        else:
            raise InputError(
                f"order={order!r} is not valid; use 'group', 'score', 'none' or a list of samples."
            )
    else:
        pos = {s: i for i, s in enumerate(values.index)}
        lost = [s for s in order if s not in pos]
        if lost:
            raise InputError(f"order= names samples not in values: {lost[:5]}.")
        idx = np.array([pos[s] for s in order])
    M = M[idx].T  # genes x samples
    n_s, n_g = M.shape[1], M.shape[0]
    show = labels if labels is not None else n_s <= 40
    finite = M[np.isfinite(M)]
    if kind == "log2":
        cmap, vmin, vmax = (
            "viridis",
            (finite.min() if finite.size else 0),
            (finite.max() if finite.size else 1),
        )
    else:
        lim = float(np.quantile(np.abs(finite), 0.99)) if finite.size else 1.0
        lim = max(lim, 1.0)
        cmap, vmin, vmax = "RdBu_r", -lim, lim
    with mpl.rc_context(_RC):
        fig = _figure(
            width or min(16.0, max(8.0, 0.22 * n_s + 3.5)),
            height or max(3.5, 0.45 * n_g + (2.4 if show else 1.6) + (0.4 if g is not None else 0)),
        )
        if g is not None:
            axg, ax = fig.subplots(
                2, 1, sharex=True, gridspec_kw={"height_ratios": [0.5, max(n_g, 1)]}
            )
        else:
            ax, axg = fig.subplots(), None
        im = ax.imshow(M, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_yticks(range(n_g), list(values.columns))
        ax.set_ylabel("gene")
        if show:
            ax.set_xticks(range(n_s), list(values.index[idx]), rotation=90, fontsize=9)
        else:
            ax.set_xticks([])
        ax.set_xlabel(f"samples (n = {n_s})")
        cb = fig.colorbar(im, ax=[a for a in (axg, ax) if a is not None], shrink=0.9, pad=0.01)
        cb.set_label(cbar_label)
        if axg is not None and g is not None:
            gs = g.to_numpy()[idx]
            names = list(dict.fromkeys(gs))
            code = np.array([names.index(x) for x in gs])[None, :]
            axg.imshow(
                code,
                aspect="auto",
                cmap=ListedColormap([_CYCLE[i % len(_CYCLE)] for i in range(len(names))]),
                vmin=-0.5,
                vmax=len(names) - 0.5,
                interpolation="nearest",
            )
            axg.set_yticks([])
            axg.tick_params(labelbottom=False, bottom=False)
            for sp in axg.spines.values():
                sp.set_visible(False)
            for name in names:
                where = np.flatnonzero(gs == name)
                axg.text(where.mean(), -0.75, name, ha="center", va="bottom", fontsize=11)
        if title == "auto":
            title = auto_title
        if title:
            (axg if axg is not None else ax).set_title(
                title, loc="left", pad=22 if axg is not None else 6
            )
    return fig


# --------------------------------------------------------------------------- calibration
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
