"""Per-gene values across samples: :func:`ifnscore.plot.gene_heatmap`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

from ._style import _CYCLE, _RC, _align_groups, _figure, _mpl


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
