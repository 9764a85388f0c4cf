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

One private module per figure (``_trajectory``, ``_cohort``, ``_heatmap``, ``_calibration``)
and ``_style`` for what they share.

:func:`ifnscore.gene_table` computes the per-gene values behind a score; this module only draws.
"""

from __future__ import annotations

from typing import Any

from ._calibration import calibration
from ._cohort import cohort
from ._heatmap import gene_heatmap
from ._style import OKABE_ITO, _shown_figure_class
from ._trajectory import trajectory

__all__ = ["OKABE_ITO", "calibration", "cohort", "gene_heatmap", "trajectory"]


def __getattr__(name: str) -> Any:
    if name == "_ShownFigure":  # pickled figures name their class here
        return _shown_figure_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
