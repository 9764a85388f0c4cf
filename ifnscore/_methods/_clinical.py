"""Reference-relative (clinical) methods and ``mean_log``.

fc_*:  :math:`f_{ig} = x_{ig} / \\tilde{c}_g` with :math:`\\tilde{c}_g` the median of gene
``g`` over healthy controls (linear scale: CPM for counts), aggregated over the signature's
genes by sum, median, geometric mean or mean. ``fc_median`` is the Rice 2013 score.

z_*:   :math:`z_{ig} = (\\log_2(x_{ig} + 1) - \\mu_g) / s_g` with the controls' mean and SD
(ddof = 1) on the log2 scale, summed (Kirou/NIH style) or averaged.

mean_log: mean over the signature genes of :math:`\\log_2(x_{ig} + 1)`; needs no reference.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import InputError
from ._base import GeneMethod, register

RICE = "Rice GI et al. Lancet Neurol 2013;12:1159-69, doi:10.1016/S1474-4422(13)70258-8"
KIROU = (
    "Kirou KA et al. Arthritis Rheum 2005;52:1491-503, doi:10.1002/art.21031 "
    "(sum of per-gene z-scores against healthy controls)"
)


def _fit_fc(G: np.ndarray) -> dict[str, np.ndarray]:
    centre = np.median(G, axis=0)
    return {"centre": centre}


def _check_fc(params: Mapping[str, np.ndarray], genes: list[str]) -> None:
    bad = [
        g for g, c in zip(genes, params["centre"], strict=True) if not (c > 0 and np.isfinite(c))
    ]
    if bad:
        raise InputError(
            f"Genes {bad} have a control median of 0, so fold changes are undefined; check that the "
            "controls express them, or use a z_* or single-sample method."
        )


def _transform_fc(G: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
    return G / params["centre"]


def _fit_z(G: np.ndarray) -> dict[str, np.ndarray]:
    if G.shape[0] < 2:
        raise InputError(
            "z_* methods need at least 2 control samples to estimate a standard deviation."
        )
    spread = G.std(axis=0, ddof=1)
    # a gene with one value in every control has no spread: rounding alone would give ~1e-16,
    # and z-scores of ~1e13 (decide "constant" by max == min, not by the rounded SD)
    spread[G.max(axis=0) == G.min(axis=0)] = 0.0
    return {"centre": G.mean(axis=0), "spread": spread}


def _check_z(params: Mapping[str, np.ndarray], genes: list[str]) -> None:
    bad = [
        g for g, s in zip(genes, params["spread"], strict=True) if not (s > 0 and np.isfinite(s))
    ]
    if bad:
        raise InputError(
            f"Genes {bad} have zero spread in the controls, so z-scores are undefined; use more "
            "controls or an fc_* method."
        )


def _transform_z(G: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
    return (G - params["centre"]) / params["spread"]


def _identity(G: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
    return G


_FC_FORMULA = {
    "sum": r"\sum_{g \in S} x_{ig} / \tilde c_g",
    "median": r"\operatorname{median}_{g \in S} x_{ig} / \tilde c_g",
    "geomean": r"\left(\prod_{g \in S} x_{ig} / \tilde c_g\right)^{1/|S|}",
    "mean": r"\frac{1}{|S|}\sum_{g \in S} x_{ig} / \tilde c_g",
}
for _agg, _formula in _FC_FORMULA.items():
    register(
        GeneMethod(
            name=f"fc_{_agg}",
            space="linear",
            aggregate=_agg,  # type: ignore[arg-type]
            needs_reference=True,
            cohort_dependent=False,
            signed=False,
            formula=_formula
            + r",\ \tilde c_g = \text{median of gene } g \text{ in healthy controls (linear scale)}",
            citation=RICE
            if _agg == "median"
            else RICE + "; sum: the scale of the < 12.49 range (doi:10.3390/jcm15020709)",
            fit=_fit_fc,
            transform=_transform_fc,
            check=_check_fc,
            params=("centre",),
        )
    )

for _agg in ("sum", "mean"):
    register(
        GeneMethod(
            name=f"z_{_agg}",
            space="log2",
            aggregate=_agg,  # type: ignore[arg-type]
            needs_reference=True,
            cohort_dependent=False,
            signed=False,
            formula=(r"\sum" if _agg == "sum" else r"\frac{1}{|S|}\sum")
            + r"_{g \in S} \frac{\log_2(x_{ig}+1) - \mu_g}{s_g},\ \mu_g, s_g = \text{mean, SD (ddof 1) in healthy controls}",
            citation=KIROU,
            fit=_fit_z,
            transform=_transform_z,
            check=_check_z,
            params=("centre", "spread"),
        )
    )

register(
    GeneMethod(
        name="mean_log",
        space="log2",
        aggregate="mean",
        needs_reference=False,
        cohort_dependent=False,
        signed=False,
        formula=r"\frac{1}{|S|}\sum_{g \in S} \log_2(x_{ig} + 1)",
        citation="Mean log expression of the signature genes (single-sample; no reference needed).",
        fit=None,
        transform=_identity,
    )
)
