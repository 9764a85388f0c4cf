"""Scores by group: :func:`ifnscore.plot.cohort`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

from ._style import (
    _CYCLE,
    _LIMIT,
    _RC,
    _align_groups,
    _borderline_band,
    _figure,
    _fmt,
    _mpl,
    _recorded_zone,
    _score_series,
    _use_log,
)


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
