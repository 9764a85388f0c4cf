"""ifnscore.plot: every figure draws the expected elements (inspected on the Axes, Agg)."""

import sys

import numpy as np
import pandas as pd
import pytest

import ifnscore
from ifnscore.datasets import example_files
from ifnscore.errors import InputError

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")

from matplotlib.collections import PathCollection, PolyCollection  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from ifnscore import plot  # noqa: E402

LIMIT = 12.49


@pytest.fixture(scope="module")
def scored(example, ref_fc_sum):
    counts, samples = example
    return ifnscore.score(counts, reference=ref_fc_sum), samples


@pytest.fixture(scope="module")
def case(scored):
    res, samples = scored
    return ifnscore.follow(res, samples, clinical="cmas", treatments=example_files()["treatments"])


def _hlines(ax, y):
    return [
        ln
        for ln in ax.get_lines()
        if len(set(np.asarray(ln.get_ydata(), dtype=float))) == 1
        and np.isclose(ln.get_ydata()[0], y)
    ]


def test_trajectory_elements(case):
    fig = plot.trajectory(case)
    assert isinstance(fig, mpl.figure.Figure)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert "IFN score" in ax.get_ylabel()
    # the score line holds every visit
    v = case.patient("JDM01")
    lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == len(v)]
    np.testing.assert_allclose(lines[0].get_xdata(), v["time"])
    np.testing.assert_allclose(lines[0].get_ydata(), v["score"])
    # open markers for the 3 visits below the limit
    assert any(
        len(ln.get_xdata()) == 3 and ln.get_markerfacecolor() == "white" for ln in ax.get_lines()
    )
    # limit line and the shaded reference range from the bottom of the axis up to the limit
    assert _hlines(ax, LIMIT)
    spans = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(spans) == 1
    y0, y1 = spans[0].get_y(), spans[0].get_y() + spans[0].get_height()
    np.testing.assert_allclose(y1, LIMIT)
    assert y0 <= ax.get_ylim()[0]
    labels = ax.get_legend().get_texts()
    assert any("reference range (< 12.49)" in t.get_text() for t in labels)
    # second axis with CMAS
    twin = [
        a
        for a in fig.axes
        if a is not ax and a.get_shared_x_axes().joined(a, ax) and a.get_ylabel()
    ]
    cmas = [a for a in twin if a.get_ylabel() == "CMAS"]
    assert len(cmas) == 1
    np.testing.assert_allclose(cmas[0].get_lines()[0].get_ydata(), v["cmas"])
    # treatment bars: one row per drug, ongoing baricitinib reaching the right edge
    axt = fig.axes[1]
    assert [t.get_text() for t in axt.get_yticklabels()] == [
        "baricitinib",
        "prednisolone",
        "methylprednisolone",
    ]
    bars = [c for c in axt.collections if isinstance(c, PolyCollection)]
    assert len(bars) == 3
    right = max(p.vertices[:, 0].max() for c in bars for p in c.get_paths())
    np.testing.assert_allclose(right, axt.get_xlim()[1])
    assert "days" in axt.get_xlabel()
    assert any(t.get_text().startswith("ongoing") for t in axt.texts)


def test_trajectory_without_clinical_or_treatments(scored):
    res, samples = scored
    fu = ifnscore.follow(res, samples)
    fig = plot.trajectory(fu, "JDM01", clinical=None)
    assert len(fig.axes) == 1
    assert fig.axes[0].get_xlabel() == "Time (days)"
    with pytest.raises(InputError, match="clinical="):
        plot.trajectory(fu, clinical="cmas")


def test_trajectory_linear_for_signed_scores():
    m = pd.DataFrame(
        {"patient": "P", "day": [0, 5, 9], "score": [4.0, -1.0, 0.5]}, index=["a", "b", "c"]
    )
    fu = ifnscore.follow(m["score"], m, upper_limit=2)
    fig = plot.trajectory(fu)
    assert fig.axes[0].get_yscale() == "linear"
    with pytest.raises(InputError, match="log=True"):
        plot.trajectory(fu, log=True)


def test_cohort_elements(scored):
    res, samples = scored
    fig = plot.cohort(res, samples["group"])
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert _hlines(ax, LIMIT)
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    sizes = [len(c.get_offsets()) for c in points]
    order = [t.get_text().split("\n")[0] for t in ax.get_xticklabels()]
    counts = samples["group"].value_counts()
    assert sizes == [counts[g] for g in order]
    # positive fraction per group, by hand: score >= limit
    texts = {t.get_text() for t in ax.texts}
    for g in order:
        s = res.loc[samples["group"] == g, "score"]
        k, n = int((s >= LIMIT).sum()), len(s)
        assert f"{100 * k / n:.0f}% ≥ limit\n({k}/{n})" in texts
    assert "rice6" in ax.get_ylabel()


def test_cohort_groups_must_cover_samples(scored):
    res, samples = scored
    with pytest.raises(InputError, match="groups has no entry"):
        plot.cohort(res, samples["group"].iloc[:10])


def test_gene_values_match_scores(example, controls, ref_fc_sum):
    counts, _ = example
    fc = ifnscore.gene_table(counts, ref_fc_sum)
    res = ifnscore.score(counts, reference=ref_fc_sum)
    # fc_sum is the sum of the per-gene fold changes (same arithmetic, 1e-12)
    np.testing.assert_allclose(fc.sum(axis=1), res["score"], rtol=1e-12)
    # hand computation for one gene: CPM / controls' median CPM
    cpm = counts.div(counts.sum(axis=1), axis=0) * 1e6
    med = cpm.loc[controls.index, "IFI27"].median()
    np.testing.assert_allclose(fc["IFI27"], cpm["IFI27"] / med, rtol=1e-12)
    ref_med = ifnscore.calibrate(controls, signature="rice6", method="fc_median")
    fcm = ifnscore.gene_table(counts, ref_med)
    np.testing.assert_allclose(
        fcm.median(axis=1), ifnscore.score(counts, reference=ref_med)["score"], rtol=1e-12
    )
    ref_z = ifnscore.calibrate(controls, signature="rice6", method="z_sum")
    z = ifnscore.gene_table(counts, ref_z)
    assert z.attrs["ifnscore"]["kind"] == "z"
    np.testing.assert_allclose(
        z.sum(axis=1), ifnscore.score(counts, reference=ref_z)["score"], rtol=1e-12, atol=1e-12
    )


def test_gene_heatmap_elements(example, ref_fc_sum):
    counts, samples = example
    fc = ifnscore.gene_table(counts, ref_fc_sum)
    fig = plot.gene_heatmap(fc, groups=samples["group"])
    axg, ax = fig.axes[0], fig.axes[1]
    img = next(c for c in ax.get_children() if isinstance(c, AxesImage))
    arr = np.asarray(img.get_array())
    assert arr.shape == (6, len(counts))
    # columns are samples (reordered), rows genes: the same multiset of log2 values per gene
    np.testing.assert_allclose(np.sort(arr[0]), np.sort(np.log2(fc.iloc[:, 0].to_numpy())))
    vmin, vmax = img.get_clim()
    np.testing.assert_allclose(vmin, -vmax)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(fc.columns)
    cbar = fig.axes[-1]
    assert "log$_2$ fold change" in cbar.get_ylabel()
    assert {t.get_text() for t in axg.texts} == {"control", "JDM", "SLE"}
    # without groups, samples ordered by their sum
    fig2 = plot.gene_heatmap(fc.iloc[:10], order="score", labels=True)
    ax2 = fig2.axes[0]
    shown = [t.get_text() for t in ax2.get_xticklabels()]
    assert shown == list(fc.iloc[:10].sum(axis=1).sort_values(kind="stable").index)


def test_calibration_without_and_with_ci(ref_fc_sum):
    bare = ref_fc_sum.to_dict()  # the controls' limit without its CI (as in older references)
    for key in ("ci_low", "ci_high"):
        bare["signatures"]["rice6"]["limits"]["controls"]["details"].pop(key)
    fig = plot.calibration(ifnscore.Reference.from_dict(bare))
    ax = fig.axes[0]
    sref = ref_fc_sum.signatures["rice6"]
    heights = [p.get_height() for p in ax.patches if isinstance(p, Rectangle)]
    assert sum(heights) == len(sref.control_scores) == 40
    xs = {
        round(float(ln.get_xdata()[0]), 6) for ln in ax.get_lines() if len(set(ln.get_xdata())) == 1
    }
    assert round(LIMIT, 6) in xs
    assert round(sref.limits["controls"].value, 6) in xs
    assert ax.get_xlabel() == "fc_sum score (rice6)"
    assert ax.get_ylabel() == "number of controls"
    assert not any("CI" in t.get_text() for t in ax.get_legend().get_texts())
    d = ref_fc_sum.to_dict()
    d["signatures"]["rice6"]["upper_limit"]["details"] = {"ci": [11.0, 14.0], "ci_level": 0.9}
    ref_ci = ifnscore.Reference.from_dict(d)
    ax2 = plot.calibration(ref_ci).axes[0]
    band = [
        p
        for p in ax2.patches
        if isinstance(p, Rectangle)
        and np.isclose(p.get_x(), 11.0)
        and np.isclose(p.get_width(), 3.0)
    ]
    assert len(band) == 1
    assert any("90% CI" in t.get_text() for t in ax2.get_legend().get_texts())


def test_missing_matplotlib_gives_a_clear_error(monkeypatch, case):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"ifnscore\[plot\]"):
        plot.trajectory(case)


def test_figures_display_in_jupyter_and_pickle(ref_fc_sum):
    import pickle

    fig = plot.calibration(ref_fc_sum)
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    again = pickle.loads(pickle.dumps(fig))
    assert isinstance(again, mpl.figure.Figure)
    assert again.axes[0].get_xlabel() == fig.axes[0].get_xlabel()


def test_trajectory_marks_re_elevations_and_early_treatments():
    m = pd.DataFrame(
        {
            "patient": "P",
            "date": ["2025-01-10", "2025-02-01", "2025-02-20", "2025-04-15"],
            "score": [240.0, 9.0, 30.0, 6.0],
        },
        index=list("abcd"),
    )
    t = pd.DataFrame(
        {"patient": ["P"], "drug": ["hydroxychloroquine"], "start": ["2024-12-01"], "stop": [""]}
    )
    fu = ifnscore.follow(m["score"], m, time="date", upper_limit=LIMIT, treatments=t)
    fig = plot.trajectory(fu)
    ax = fig.axes[0]
    ring = [ln for ln in ax.get_lines() if ln.get_label().startswith("re-elevation")]
    assert len(ring) == 1
    np.testing.assert_allclose(ring[0].get_xdata(), [41.0])  # 2025-02-20 is day 41
    np.testing.assert_allclose(ring[0].get_ydata(), [30.0])
    assert ax.get_xlim()[0] < -40  # the treatment began 40 days before the first visit
    assert fig.axes[-1].get_xlabel() == "Time (days since first visit)"


def test_gene_heatmap_z_scores_are_not_logged(example, controls):
    counts, _ = example
    ref_z = ifnscore.calibrate(controls, signature="rice6", method="z_sum")
    z = ifnscore.gene_table(counts.iloc[:12], ref_z)
    fig = plot.gene_heatmap(z, order="none")
    ax = fig.axes[0]
    img = next(c for c in ax.get_children() if isinstance(c, AxesImage))
    np.testing.assert_allclose(np.asarray(img.get_array()), z.to_numpy().T)
    assert ax.get_title(loc="left") == "Per-gene z-score against healthy controls"
    assert "z-score" in fig.axes[-1].get_ylabel()


def test_gene_values_of_ensembl_keyed_data(example, ref_fc_sum):
    counts, _ = example
    ens = ifnscore.map_genes(counts.columns, to="ensembl")["ensembl"]
    keyed = counts.loc[:, ens.notna().to_numpy()]
    keyed.columns = [str(e).split("|")[0] for e in ens.dropna()]
    by_symbol = ifnscore.gene_table(counts.loc[:, ens.notna().to_numpy()], ref_fc_sum)
    by_ensembl = ifnscore.gene_table(keyed, ref_fc_sum, id_type="ensembl")
    pd.testing.assert_frame_equal(by_ensembl, by_symbol)
