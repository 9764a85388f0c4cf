"""Palette, figure factory and the helpers every figure shares (no figure here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


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

        _ShownFigure.__module__ = "ifnscore.plot"  # reachable by name: figures pickle
        _ShownFigure.__qualname__ = "_ShownFigure"
        _FIGURE_CLASS = _ShownFigure
    return _FIGURE_CLASS


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
    from ..longitudinal import _borderline

    return _borderline(scores, "ifnscore", signature, limit)


def _score_series(
    scores: Any, signature: str | None, upper_limit: Any
) -> tuple[pd.Series, float | None, str | None]:
    """The scores and the limit to draw: the same reading and the same limit rule as
    :func:`ifnscore.follow` (``upper_limit=``, else the recorded one); no limit line when
    none is known."""
    from ..errors import InputError
    from ..longitudinal import _resolve_limit, _scores_from_frame

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
