"""Golden values for every issue-2 method, computed by hand in plain Python.

The expected numbers come from ``statistics``/``math`` loops over Python floats (and a few
literal values worked out on paper), never from the numpy code path under test.
Tolerance: rtol 1e-12 (float64; log inputs add one exp/log round trip, ~1e-15).
"""

import math
import statistics

import numpy as np
import pytest

import ifnscore
from ifnscore._limits import controls_limit, percentile_rank

RTOL = 1e-12
RICE6 = ["IFI27", "IFI44L", "IFIT1", "ISG15", "RSAD2", "SIGLEC1"]
METHODS = ["fc_sum", "fc_median", "fc_geomean", "fc_mean", "z_sum", "z_mean", "mean_log"]

# 4 healthy controls x the 6 rice6 genes, linear scale (e.g. CPM or qPCR RQ).
CONTROLS = [
    [1.0, 2.0, 4.0, 8.0, 10.0, 3.0],
    [3.0, 2.0, 2.0, 4.0, 20.0, 5.0],
    [2.0, 6.0, 6.0, 8.0, 30.0, 1.0],
    [4.0, 4.0, 8.0, 16.0, 40.0, 7.0],
]
# Control medians per gene, by hand: 2.5, 3, 5, 8, 25, 4.
MEDIANS = [2.5, 3.0, 5.0, 8.0, 25.0, 4.0]
# Patient 1: every fold change is 2. Patient 2: fold changes 10, 1, 1, 0.5, 1, 10.
PATIENTS = [
    [5.0, 6.0, 10.0, 16.0, 50.0, 8.0],
    [25.0, 3.0, 5.0, 4.0, 25.0, 40.0],
]


def hand_scores(method, controls, patients):
    """The issue-2 formulas as plain Python loops over lists of linear values."""
    cols = list(zip(*controls, strict=True))
    if method.startswith("fc_"):
        centre = [statistics.median(c) for c in cols]
        out = []
        for row in patients:
            f = [x / c for x, c in zip(row, centre, strict=True)]
            agg = method[3:]
            if agg == "sum":
                out.append(math.fsum(f))
            elif agg == "mean":
                out.append(math.fsum(f) / len(f))
            elif agg == "median":
                out.append(statistics.median(f))
            else:
                out.append(math.prod(f) ** (1 / len(f)))
        return out
    if method.startswith("z_"):
        logc = [[math.log2(x + 1) for x in c] for c in cols]
        mu = [statistics.fmean(c) for c in logc]
        sd = [statistics.stdev(c) for c in logc]  # ddof = 1
        out = []
        for row in patients:
            z = [(math.log2(x + 1) - m) / s for x, m, s in zip(row, mu, sd, strict=True)]
            out.append(math.fsum(z) if method == "z_sum" else math.fsum(z) / len(z))
        return out
    assert method == "mean_log"
    return [statistics.fmean(math.log2(x + 1) for x in row) for row in patients]


def test_hand_helper_matches_paper_values():
    assert [statistics.median(c) for c in zip(*CONTROLS, strict=True)] == MEDIANS
    assert hand_scores("fc_sum", CONTROLS, PATIENTS) == [12.0, 23.5]
    assert hand_scores("fc_median", CONTROLS, PATIENTS) == [2.0, 1.0]
    np.testing.assert_allclose(
        hand_scores("fc_geomean", CONTROLS, PATIENTS), [2.0, 50 ** (1 / 6)], rtol=1e-15
    )
    np.testing.assert_allclose(
        hand_scores("fc_mean", CONTROLS, PATIENTS), [2.0, 23.5 / 6], rtol=1e-15
    )
    # mean_log of patient 1: log2 of 6, 7, 11, 17, 51, 9, averaged
    expected = (math.log2(6 * 7 * 11 * 17 * 51 * 9)) / 6
    np.testing.assert_allclose(hand_scores("mean_log", CONTROLS, PATIENTS)[0], expected, rtol=1e-15)


def _on_scale(rows, scale):
    X = np.array(rows, dtype=np.float64)
    if scale == "log2":
        return np.log2(X + 1.0)
    if scale == "log1p":
        return np.log1p(X)
    return X


@pytest.mark.parametrize("scale", ["linear", "log2", "log1p"])
@pytest.mark.parametrize("method", METHODS)
def test_golden_scores(method, scale):
    ctrl, pat = _on_scale(CONTROLS, scale), _on_scale(PATIENTS, scale)
    expected = hand_scores(method, CONTROLS, PATIENTS)
    if method == "mean_log":
        res = ifnscore.score(pat, genes=RICE6, scale=scale, method=method)
    else:
        ref = ifnscore.calibrate(ctrl, genes=RICE6, scale=scale, method=method)
        res = ifnscore.score(pat, genes=RICE6, scale=scale, reference=ref)
        # the controls' own scores were computed with the same formula
        np.testing.assert_allclose(
            ref.signatures["rice6"].control_scores,
            hand_scores(method, CONTROLS, CONTROLS),
            rtol=RTOL,
        )
    np.testing.assert_allclose(res["score"].to_numpy(), expected, rtol=RTOL)
    assert res["n_genes"].tolist() == [6, 6]
    assert res["score"].dtype == np.float64


def test_golden_reference_parameters():
    ref = ifnscore.calibrate(np.array(CONTROLS), genes=RICE6, scale="linear", method="fc_sum")
    np.testing.assert_allclose([ref.gene_params[g]["centre"] for g in RICE6], MEDIANS, rtol=0)
    refz = ifnscore.calibrate(np.array(CONTROLS), genes=RICE6, scale="linear", method="z_sum")
    # IFI27 on log2(x + 1): log2 of 2, 4, 3, 5 -> mean and SD (ddof 1) by hand
    logs = [1.0, 2.0, math.log2(3), math.log2(5)]
    np.testing.assert_allclose(refz.gene_params["IFI27"]["centre"], sum(logs) / 4, rtol=RTOL)
    m = sum(logs) / 4
    sd = math.sqrt(sum((v - m) ** 2 for v in logs) / 3)
    np.testing.assert_allclose(refz.gene_params["IFI27"]["spread"], sd, rtol=RTOL)


# Counts: 6 signature genes + 2 other genes; CPM uses the library size over all 8 genes.
COUNT_CONTROLS = [
    [10, 20, 40, 80, 100, 30, 500, 220],
    [30, 20, 20, 40, 200, 50, 300, 340],
    [20, 60, 60, 80, 300, 10, 1000, 470],
    [8, 8, 16, 32, 80, 14, 42, 0],
]
COUNT_PATIENTS = [[50, 60, 100, 160, 500, 80, 9000, 50], [1, 0, 0, 0, 0, 0, 0, 0]]


def _cpm_rows(rows):
    return [[1e6 * x / sum(row) for x in row[:6]] for row in rows]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float32, np.float64])
def test_golden_counts_are_scored_as_cpm(method, dtype):
    genes = [*RICE6, "ACTB", "GAPDH"]
    ctrl = np.array(COUNT_CONTROLS, dtype=dtype)
    pat = np.array(COUNT_PATIENTS, dtype=dtype)
    expected = hand_scores(method, _cpm_rows(COUNT_CONTROLS), _cpm_rows(COUNT_PATIENTS))
    if method == "mean_log":
        res = ifnscore.score(pat, genes=genes, scale="counts", method=method)
    else:
        ref = ifnscore.calibrate(ctrl, genes=genes, scale="counts", method=method)
        assert ref.scale == "counts"
        res = ifnscore.score(pat, genes=genes, scale="counts", reference=ref)
    np.testing.assert_allclose(res["score"].to_numpy(), expected, rtol=RTOL)
    assert res["score"].dtype == np.float64


def test_golden_duplicate_gene_columns_are_summed_on_the_linear_scale():
    # IFI27 measured twice under its two Ensembl IDs (two distinct identifiers of one gene;
    # one label twice is refused); default duplicates="sum" adds them (linear scale).
    assert RICE6[0] == "IFI27"
    genes = ["ENSG00000165949", *RICE6[1:], "ENSG00000275214"]
    ctrl = np.array([[*r, r[0]] for r in CONTROLS])  # doubles IFI27 in the controls
    pat = np.log2(np.array([[*r, 3.0 * r[0]] for r in PATIENTS]) + 1)  # 4x IFI27, on log2
    with pytest.warns(ifnscore.errors.IfnscoreWarning, match=r"IFI27 <- \['ENSG00000165949', 'ENSG00000275214'\]"):
        ref = ifnscore.calibrate(ctrl, genes=genes, scale="linear", method="fc_sum")
    with (
        pytest.warns(ifnscore.errors.IfnscoreWarning, match="summed on the linear"),
        pytest.raises(ifnscore.errors.ReferenceMismatchError, match="scale 'log2'"),
    ):
        ifnscore.score(pat, genes=genes, scale="log2", reference=ref)
    with pytest.warns(ifnscore.errors.IfnscoreWarning, match="summed on the linear"):
        res = ifnscore.score(np.exp2(pat) - 1, genes=genes, scale="linear", reference=ref)
    # IFI27 fold changes: 4 * p / (2 * median) = 2x the single-column fold change
    fc = [[x / c for x, c in zip(r, MEDIANS, strict=True)] for r in PATIENTS]
    expected = [2 * f[0] + math.fsum(f[1:]) for f in fc]
    np.testing.assert_allclose(res["score"].to_numpy(), expected, rtol=RTOL)
    with pytest.warns(ifnscore.errors.IfnscoreWarning):
        refz = ifnscore.calibrate(np.log2(ctrl + 1), genes=genes, scale="log2", method="mean_log")
    with pytest.warns(ifnscore.errors.IfnscoreWarning):
        res = ifnscore.score(pat, genes=genes, scale="log2", reference=refz)
    # log2 data are summed after back-transforming: log2(p + 3p + 1) for IFI27
    expected = [
        statistics.fmean([math.log2(4 * r[0] + 1)] + [math.log2(x + 1) for x in r[1:]])
        for r in PATIENTS
    ]
    np.testing.assert_allclose(res["score"].to_numpy(), expected, rtol=RTOL)


# ------------------------------------------------------------------------ limit rules


def test_mean_plus_2sd_limit_by_hand():
    scores = hand_scores("fc_sum", CONTROLS, CONTROLS)
    # paper values: 4.01667, 4.81667, 6.45, 9.88333 (fold changes over the medians)
    np.testing.assert_allclose(scores, [241 / 60, 289 / 60, 6.45, 593 / 60], rtol=1e-15)
    m = sum(scores) / 4
    sd = math.sqrt(sum((s - m) ** 2 for s in scores) / 3)
    ref = ifnscore.calibrate(np.array(CONTROLS), genes=RICE6, scale="linear", rule="mean+2sd")
    lim = ref.signatures["rice6"].limits["controls"]
    np.testing.assert_allclose(lim.value, m + 2 * sd, rtol=RTOL)
    assert lim.rule == "mean+2sd"
    assert lim.details["n"] == 4
    ref3 = ifnscore.calibrate(np.array(CONTROLS), genes=RICE6, scale="linear", rule="mean+3sd")
    np.testing.assert_allclose(
        ref3.signatures["rice6"].limits["controls"].value, m + 3 * sd, rtol=RTOL
    )


def test_percentile_rule_ep28_rank_by_hand():
    scores = sorted(hand_scores("fc_sum", CONTROLS, CONTROLS))
    # r = 0.5 * (4 + 1) = 2.5: halfway between the 2nd and 3rd smallest
    np.testing.assert_allclose(
        percentile_rank(np.array(scores), 0.5), (scores[1] + scores[2]) / 2, rtol=RTOL
    )
    # ... but a median is no upper limit, and 4 controls hold no 97.5th percentile (r = 4.875)
    with pytest.raises(ifnscore.errors.InputError, match="strictly between 50 and 100"):
        ifnscore.calibrate(np.array(CONTROLS), genes=RICE6, scale="linear", rule="p50")
    with pytest.raises(ifnscore.errors.InputError, match=r"lies beyond the 4 controls"):
        ifnscore.calibrate(
            np.array(CONTROLS), genes=RICE6, scale="linear", rule="p97.5", upper_limit="controls"
        )
    n = 59  # r = 0.975 * 60 = 58.5 exists
    lim = controls_limit(np.arange(1.0, n + 1), "p97.5")
    assert lim.value == pytest.approx(58.5, rel=1e-15)
    assert "EP28" in lim.citation


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        (list(range(1, 60)), 0.975, 58.5),  # n = 59: r = 58.5, between 58 and 59
        (list(range(1, 40)), 0.975, 39.0),  # n = 39: r = 39 = n, the largest
        (list(range(1, 120)), 0.975, 117.0),  # n = 119: r = 117 exactly
        ([40.0, 10.0, 30.0, 20.0], 0.5, 25.0),  # r = 2.5
        ([40.0, 10.0, 30.0, 20.0], 0.1, 10.0),  # r = 0.5 < 1: clamped to the smallest
        ([40.0, 10.0, 30.0, 20.0], 0.9, 40.0),  # r = 4.5 > n: clamped to the largest
        ([1.0, 2.0, 4.0, 8.0], 0.7, 4.0 + 0.5 * 4.0),  # r = 3.5
    ],
)
def test_percentile_rank(values, p, expected):
    assert percentile_rank(np.array(values, dtype=float), p) == pytest.approx(expected, rel=1e-15)
    rule = f"p{p * 100:g}"
    if p <= 0.5:  # not an upper limit
        with pytest.raises(ifnscore.errors.InputError, match="strictly between 50 and 100"):
            controls_limit(np.array(values, dtype=float), rule)
        return
    if p * (len(values) + 1) > len(values):  # the rank lies beyond the data: no estimate
        with pytest.raises(ifnscore.errors.InputError, match="lies beyond"):
            controls_limit(np.array(values, dtype=float), rule)
        return
    lim = controls_limit(np.array(values, dtype=float), rule)
    assert lim.value == pytest.approx(expected, rel=1e-15)
    assert {k: lim.details[k] for k in ("n", "p")} == {"n": len(values), "p": p}


@pytest.mark.parametrize("rule", ["p0", "p100", "median", "mean+sd", 2])
def test_bad_limit_rules(rule):
    with pytest.raises(ifnscore.errors.InputError, match="rule="):
        controls_limit(np.arange(10.0), rule)


# ------------------------------------------------------------------------ realistic data


@pytest.mark.parametrize("method", METHODS)
def test_bundled_cohort_against_a_plain_python_loop(example, method):
    """Every sample of the bundled counts, scored by a per-sample loop over Python floats."""
    counts, samples = example
    ctrl_mask = (samples["group"] == "control").to_numpy()
    rows = counts.to_numpy()
    sig = list(ifnscore.get_signature("rice6").genes)
    pos = [counts.columns.get_loc(g) for g in sig]

    def cpm(row):
        lib = math.fsum(float(v) for v in row)
        return [1e6 * float(row[p]) / lib for p in pos]

    ctrl = [cpm(r) for r, c in zip(rows, ctrl_mask, strict=True) if c]
    expected = hand_scores(method, ctrl, [cpm(r) for r in rows])
    ref = None
    if method != "mean_log":
        ref = ifnscore.calibrate(counts[ctrl_mask], method=method)
    res = ifnscore.score(counts, method=method, reference=ref)
    # z sums of terms near +-1 can cancel to near 0: an absolute 1e-12 as well
    np.testing.assert_allclose(res["score"].to_numpy(), expected, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_several_signatures_at_once_equal_one_at_a_time(example, method):
    counts, samples = example
    ctrl = counts[samples["group"] == "control"]
    names = ["rice6", "ifngs4", "feng5", "raupov5", "janssen10"]
    ref_all = None if method == "mean_log" else ifnscore.calibrate(ctrl, names, method=method)
    together = ifnscore.score(counts, names, method=method, reference=ref_all)
    for name in names:
        ref = None if method == "mean_log" else ifnscore.calibrate(ctrl, name, method=method)
        alone = ifnscore.score(counts, name, method=method, reference=ref)
        np.testing.assert_allclose(together[name, "score"], alone["score"], rtol=1e-12)
        assert together[name, "n_genes"].tolist() == alone["n_genes"].tolist()
