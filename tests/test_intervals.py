"""Reference intervals after CLSI EP28-A3c: rules, CIs, outliers, partitions, verification.

Hand computations are written out in the tests; peers are scipy (boxcox, binom, nct) and
numpy's Weibull percentile (Hyndman & Fan type 6, which is EP28's rank r = p(n + 1)).
"""

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize, stats

import ifnscore
from ifnscore._intervals import (
    dixon_screen,
    harris_boyd,
    nonparametric_ci_ranks,
    robust_upper,
    tukey_fences,
)
from ifnscore._limits import controls_limit
from ifnscore.errors import IfnscoreWarning, InputError, ReferenceError

ONE_TO_TEN = np.arange(1.0, 11.0)
# CLSI EP28-A3c Appendix B example (20 values), as used by the R package mcradds.
EP28_B = np.array(
    [8.9, 9.2] + [9.4] * 2 + [9.5] * 3 + [9.6] * 4 + [9.7] * 5 + [9.8] + [9.9] * 2 + [10.2]
)


def _lognormal(n, seed=1):
    return np.exp(np.random.default_rng(seed).normal(1.8, 0.4, n))


# ---------------------------------------------------------------- parametric rules
def test_mean_ksd_by_hand():
    # mean 5.5; sum of squares 82.5; SD = sqrt(82.5 / 9)
    lim = controls_limit(ONE_TO_TEN, "mean+2sd", warn_small=False)  # n = 10 < 20: noted
    np.testing.assert_allclose(lim.value, 5.5 + 2 * math.sqrt(82.5 / 9), rtol=1e-14)
    assert lim.rule == "mean+2sd"
    assert lim.details["n"] == 10
    lim3 = controls_limit(ONE_TO_TEN, "mean+1.96sd", warn_small=False)
    np.testing.assert_allclose(lim3.value, 5.5 + 1.96 * math.sqrt(82.5 / 9), rtol=1e-14)


def test_log_mean_ksd_by_hand():
    x = [2.0, 3.0, 5.0, 7.0, 11.0, 13.0]
    logs = [math.log(v) for v in x]
    m = sum(logs) / 6
    sd = math.sqrt(sum((v - m) ** 2 for v in logs) / 5)
    lim = controls_limit(x, "log:mean+2sd", warn_small=False)
    np.testing.assert_allclose(lim.value, math.exp(m + 2 * sd), rtol=1e-13)
    assert lim.rule == "log:mean+2sd"


def test_boxcox_against_scipy_and_brute_force():
    x = _lognormal(60) ** 0.7
    lim = controls_limit(x, "boxcox:mean+2sd")
    lam = lim.details["lambda"]
    # scipy's MLE and a direct maximisation of the Box-Cox log-likelihood agree with ours
    np.testing.assert_allclose(lam, stats.boxcox(x)[1], rtol=1e-6)
    np.testing.assert_allclose(lam, stats.boxcox_normmax(x, method="mle"), rtol=1e-6)
    best = optimize.minimize_scalar(
        lambda lm: -stats.boxcox_llf(lm, x),
        bounds=(-3, 3),
        method="bounded",
        options={"xatol": 1e-10},
    )
    np.testing.assert_allclose(lam, best.x, atol=1e-5)
    y = (x**lam - 1) / lam
    top = y.mean() + 2 * y.std(ddof=1)
    np.testing.assert_allclose(lim.value, (lam * top + 1) ** (1 / lam), rtol=1e-10)


def test_boxcox_beyond_its_range():
    # lambda < 0 bounds the transformed scale by -1/lambda: a CI end beyond it is unbounded
    # (reported as not computable), a limit beyond it is an error naming the fix.
    heavy = [1 + np.random.default_rng(s).pareto(1.0, 20) for s in (0, 3)]
    lim = controls_limit(heavy[0], "boxcox:mean+2sd")
    assert lim.details["lambda"] < 0
    assert lim.details["ci_low"] is None
    assert "unbounded" in lim.details["ci_note"]
    with pytest.raises(InputError, match="'log:' rule"):
        controls_limit(heavy[1], "boxcox:mean+2sd")


def test_transforms_need_positive_scores():
    with pytest.raises(InputError, match="positive"):
        controls_limit([-1.0, 0.5, 2.0, 3.0], "log:mean+2sd")
    with pytest.raises(InputError, match="positive"):
        controls_limit([0.0, 0.5, 2.0, 3.0], "boxcox:robust")


def test_parametric_ci_against_normal_approximation():
    # Large n: the exact non-central-t CI approaches estimate +- z_0.95 * SE with
    # SE = s * sqrt(1/n + k^2 / (2 (n - 1))) (e.g. Bland & Altman 1986). Tolerance 1 %.
    x = np.random.default_rng(3).normal(10, 2, 20_000)
    lim = controls_limit(x, "mean+2sd")
    se = x.std(ddof=1) * math.sqrt(1 / x.size + 4 / (2 * (x.size - 1)))
    half = stats.norm.ppf(0.95) * se
    np.testing.assert_allclose(lim.details["ci_high"] - lim.value, half, rtol=0.01)
    np.testing.assert_allclose(lim.value - lim.details["ci_low"], half, rtol=0.01)


@pytest.mark.slow
def test_parametric_ci_coverage_monte_carlo():
    # The 90 % CI of mu + 2 sigma covers it in 90 % of normal samples (n = 25);
    # 2000 replicates: binomial SE 0.0067, tolerance 0.025.
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(2000):
        lim = controls_limit(rng.normal(0, 1, 25), "mean+2sd")
        hits += lim.details["ci_low"] <= 2.0 <= lim.details["ci_high"]
    assert abs(hits / 2000 - 0.90) < 0.025


# ---------------------------------------------------------------- non-parametric rule
def test_percentile_rank_by_hand_and_numpy_weibull():
    # p90 of 1..10: rank 0.9 * 11 = 9.9 -> 9 + 0.9 * (10 - 9)
    lim = controls_limit(ONE_TO_TEN, "p90", warn_small=False)
    np.testing.assert_allclose(lim.value, 9.9, rtol=1e-14)
    # rank 0.975 * 40 = 39 exactly: the 39th of 39 sorted values
    x = np.random.default_rng(0).permutation(np.arange(1.0, 40.0))
    assert controls_limit(x, "p97.5", warn_small=False).value == 39.0
    y = _lognormal(200)
    for p in (0.75, 0.9, 0.975):
        np.testing.assert_allclose(
            controls_limit(y, f"p{p * 100:g}", warn_small=False).value,
            np.percentile(y, p * 100, method="weibull"),
            rtol=1e-12,
        )


def test_percentile_rank_beyond_the_sample_is_refused():
    # 38 controls: rank 0.975 * 39 = 38.025 > 38, so the "limit" would be the maximum: refused,
    # with or without strict; 39 controls give rank 39.0 (the maximum is then the estimate).
    for strict in (False, True):
        with pytest.raises(
            InputError,
            match=r"rank p\(n \+ 1\) = 38.025 lies beyond the 38 controls \(it needs at least 39\)",
        ):
            controls_limit(np.arange(1.0, 39.0), "p97.5", strict=strict)
    with pytest.warns(IfnscoreWarning, match="39 controls, below the rule's minimum of 120"):
        lim = controls_limit(np.arange(1.0, 40.0), "p97.5")
    assert lim.value == 39.0
    assert lim.details["ci_low"] is None
    assert "not computable" in lim.details["ci_note"]


@pytest.mark.parametrize(
    ("n", "lower_ranks"),
    [(119, (1, 7)), (120, (1, 7)), (132, (1, 7)), (133, (1, 8)), (160, (1, 8))],
)
def test_ci_ranks_ep28_table(n, lower_ranks):
    # EP28-A3c / IFCC table: ranks of the 90 % CI of the 2.5th percentile; the 97.5th
    # percentile's are n + 1 - r, mirrored.
    assert nonparametric_ci_ranks(n, 0.025) == lower_ranks
    assert nonparametric_ci_ranks(n, 0.975) == (n + 1 - lower_ranks[1], n + 1 - lower_ranks[0])


@pytest.mark.parametrize("n", [119, 120, 200, 500])
def test_ci_ranks_binomial_coverage(n):
    lo, hi = nonparametric_ci_ranks(n, 0.975)
    cdf = stats.binom.cdf
    # coverage P(x_(lo) <= xi <= x_(hi)) = F(hi - 1) - F(lo - 1) >= 0.90, each tail <= 0.05
    assert cdf(hi - 1, n, 0.975) - cdf(lo - 1, n, 0.975) >= 0.90
    assert cdf(lo - 1, n, 0.975) <= 0.05
    assert cdf(hi - 1, n, 0.975) >= 0.95
    # and the ranks are the tightest such: one step inwards breaks a tail
    assert cdf(lo, n, 0.975) > 0.05
    assert hi == n or cdf(hi - 2, n, 0.975) < 0.95


def test_ci_not_computable_below_119():
    assert nonparametric_ci_ranks(118, 0.975) is None
    lim = controls_limit(_lognormal(118), "p97.5", warn_small=False)
    assert "118 controls, below the rule's minimum of 120" in lim.details["below_minimum"]
    assert lim.details["ci_low"] is None
    assert lim.details["ci_high"] is None


def test_percentile_ci_is_order_statistics():
    y = _lognormal(120)
    lim = controls_limit(y, "p97.5")
    ys = np.sort(y)
    assert (lim.details["ci_rank_low"], lim.details["ci_rank_high"]) == (114, 120)
    assert lim.details["ci_low"] == ys[113]
    assert lim.details["ci_high"] == ys[119]


# ---------------------------------------------------------------- robust rule
def test_robust_ep28_appendix_b():
    # mcradds::robustRI on EP28-A3c Appendix B gives 9.049545 - 10.199396 (their iteration
    # stops at an absolute change of 1e-6, ours converges fully: tolerance 2e-6).
    upper, d = robust_upper(EP28_B)
    np.testing.assert_allclose(upper, 10.199396, atol=2e-6)
    lower = d["t_bi"] - d["t"] * math.sqrt(d["s_bi_205_6"] ** 2 + d["s_t_3_7"] ** 2)
    np.testing.assert_allclose(lower, 9.049545, atol=2e-6)
    np.testing.assert_allclose(d["t"], stats.t.ppf(0.975, 19), rtol=1e-14)
    np.testing.assert_allclose(d["mad"], 0.1, rtol=1e-12)


def test_robust_biweight_location_by_hand():
    # one fixed-point step by hand from the converged T_bi returns T_bi
    _, d = robust_upper(EP28_B)
    sigma = d["mad"] / 0.6745
    u = (EP28_B - d["t_bi"]) / (3.7 * sigma)
    w = np.where(np.abs(u) < 1, (1 - u**2) ** 2, 0)
    np.testing.assert_allclose((w * EP28_B).sum() / w.sum(), d["t_bi"], rtol=1e-12)


def test_robust_close_to_normal_quantile_for_large_normal_samples():
    x = np.random.default_rng(5).normal(50, 5, 5000)
    upper, _ = robust_upper(x)
    # true 97.5th percentile 59.80; sampling error about 0.15
    np.testing.assert_allclose(upper, 50 + 1.959964 * 5, atol=0.5)


def test_robust_rule_and_bootstrap_ci():
    y = _lognormal(60)
    lim = controls_limit(y, "robust")
    assert lim.rule == "robust"
    assert lim.details["ci_low"] < lim.value < lim.details["ci_high"]
    assert "bootstrap" in lim.details["ci_note"]
    again = controls_limit(y, "robust")
    assert again.details["ci_low"] == lim.details["ci_low"]  # fixed seed: reproducible


def test_robust_mad_zero_is_an_error():
    with pytest.raises(InputError, match="MAD = 0"):
        controls_limit([1.0, 1.0, 1.0, 1.0, 2.0, 3.0], "robust", warn_small=False)


# ---------------------------------------------------------------- EP28 automatic choice
def test_ep28_choice():
    # lognormal scores are positive and skewed: ep28 works on the Box-Cox scale
    big = controls_limit(_lognormal(150), "ep28")
    assert big.rule == "boxcox:p97.5"
    assert big.details["skewness"] > 0.5
    assert "Bulmer" in big.details["transform_choice"]
    assert controls_limit(_lognormal(150), "raw:ep28").rule == "p97.5"
    lim = controls_limit(_lognormal(50), "log:ep28")
    assert lim.rule == "log:robust"
    assert lim.details["requested_rule"] == "log:ep28"
    assert "robust" in lim.details["ep28_choice"]
    # symmetric scores (1..40: skewness 0) stay on the raw scale
    assert controls_limit(np.arange(1.0, 41.0), "ep28").rule == "robust"
    msg = r"rule='ep28' \(boxcox:robust\): 12 controls, below the rule's minimum of 20"
    with pytest.warns(IfnscoreWarning, match=msg):
        small = controls_limit(_lognormal(12), "ep28")
    assert small.rule == "boxcox:robust"
    assert small.details["below_minimum"] in small.notes
    with pytest.raises(InputError, match=msg + ".*pass strict=False"):
        controls_limit(_lognormal(12), "ep28", strict=True)


@pytest.mark.parametrize("rule", ["mean+", "p100", "p0", "p50", "sqrt:mean+2sd", "robust95", 3])
def test_bad_rules(rule):
    with pytest.raises(InputError, match="rule="):
        controls_limit(ONE_TO_TEN, rule)


# ---------------------------------------------------------------- outliers
def test_outlier_screen_by_hand():
    x = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 30.0])
    # type-7 quartiles 3.25 and 7.75, IQR 4.5: fences -3.5 and 14.5
    np.testing.assert_allclose(tukey_fences(x), (-3.5, 14.5), rtol=1e-14)
    # D/R: (2 - 1) / 29 and (30 - 9) / 29
    np.testing.assert_allclose(dixon_screen(x), (1 / 29, 21 / 29), rtol=1e-14)
    names = [f"c{i}" for i in range(10)]
    lim = controls_limit(x, "mean+2sd", samples=names, warn_small=False)
    assert lim.details["outliers"] == [
        {"sample": "c9", "tests": ["tukey_high", "dixon_max"], "score": 30.0}
    ]
    assert lim.details["n"] == 10  # reported, not removed
    np.testing.assert_allclose(lim.value, x.mean() + 2 * x.std(ddof=1), rtol=1e-14)
    ex = controls_limit(x, "mean+2sd", samples=names, exclude_outliers=True, warn_small=False)
    assert ex.details["excluded"] == ["c9"]
    assert ex.details["n"] == 9
    np.testing.assert_allclose(ex.value, 5 + 2 * x[:9].std(ddof=1), rtol=1e-14)


def test_outliers_on_the_log_scale_and_series_names():
    s = pd.Series([1.0, 2, 4, 8, 16, 32, 64, 128], index=[f"s{i}" for i in range(8)])
    assert controls_limit(s, "mean+2sd", warn_small=False).details["outliers"][0]["sample"] == "s7"
    assert (
        controls_limit(s, "log:mean+2sd", warn_small=False).details["outliers"] == []
    )  # even on the log scale


# ---------------------------------------------------------------- Harris & Boyd
def test_harris_boyd_by_hand():
    a = np.array([1.0, 2.0, 3.0, 4.0])  # mean 2.5, var 5/3
    b = np.array([3.0, 4.0, 5.0, 6.0, 7.0, 8.0])  # mean 5.5, var 3.5
    res = harris_boyd({"a": a, "b": b})
    pair = res["pairs"][0]
    np.testing.assert_allclose(pair["z"], 3 / math.sqrt(5 / 3 / 4 + 3.5 / 6), rtol=1e-14)
    np.testing.assert_allclose(pair["z_star"], 3 * math.sqrt(5 / 120), rtol=1e-14)
    np.testing.assert_allclose(pair["sd_ratio"], math.sqrt(3.5 / (5 / 3)), rtol=1e-14)
    assert pair["warranted"]
    assert res["warranted"]
    same = harris_boyd({"a": a, "b": a + 0.01})
    assert not same["warranted"]


# ---------------------------------------------------------------- calibrate / score / JSON
@pytest.fixture(scope="module")
def partitioned(controls):
    labels = pd.Series(
        np.where(np.arange(len(controls)) % 2 == 0, "child", "adult"), index=controls.index
    )
    ref = ifnscore.calibrate(controls, signature="rice6", rule="log:robust", groups=labels)
    return ref, labels


def test_calibrate_stores_intervals(partitioned, tmp_path):
    ref, labels = partitioned
    sref = ref.signatures["rice6"]
    ctl = sref.limits["controls"]
    assert ctl.rule == "log:robust"
    assert set(sref.partitions) == {"adult", "child"}
    assert sref.partitions["child"].details["n"] == int((labels == "child").sum())
    assert sref.partition_test["pairs"][0]["groups"] == ("adult", "child")
    summ = ref.summary()
    assert summ.loc["rice6", "controls_rule"] == "log:robust"
    np.testing.assert_allclose(summ.loc["rice6", "controls_ci_low"], ctl.details["ci_low"])
    parts = ref.summary(partitions=True)
    assert list(parts.index) == [("rice6", "adult"), ("rice6", "child")]
    path = ref.save(tmp_path / "ref.json")
    back = ifnscore.Reference.load(path)
    assert back.signatures["rice6"].partitions == sref.partitions
    pd.testing.assert_frame_equal(back.summary(partitions=True), parts)


def test_old_reference_files_still_load(ref_fc_sum, tmp_path):
    d = ref_fc_sum.to_dict()
    for s in d["signatures"].values():
        s.pop("partitions")
        s.pop("partition_test")
        s["limits"]["controls"]["details"] = {"n": 40, "mean": 7.0, "sd": 2.9, "k": 2.0}
    p = tmp_path / "old.json"
    p.write_text(json.dumps(d))
    old = ifnscore.Reference.load(p)
    assert old.signatures["rice6"].partitions == {}
    assert old.summary().loc["rice6", "controls_outliers"] == ""


def test_load_rejects_bad_interval(ref_fc_sum, tmp_path):
    d = ref_fc_sum.to_dict()
    det = d["signatures"]["rice6"]["limits"]["controls"]["details"]
    det["ci_low"], det["ci_high"] = 20.0, 10.0
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    with pytest.raises(ReferenceError, match="confidence interval"):
        ifnscore.Reference.load(p)


def test_score_with_groups(example, partitioned):
    counts, _ = example
    ref, _ = partitioned
    patients = counts.iloc[:12]
    labels = ["child", "adult"] * 6
    res = ifnscore.score(patients, reference=ref, groups=labels)
    parts = ref.signatures["rice6"].partitions
    lim = np.array([parts[g].value for g in labels])
    np.testing.assert_array_equal(res["positive"], res["score"].to_numpy() >= lim)
    np.testing.assert_allclose(res["fold_over_limit"], res["score"] / lim, rtol=1e-15)
    meta = res.attrs["ifnscore"]["signatures"]["rice6"]
    assert meta["upper_limit_source"] == "partition"
    np.testing.assert_allclose(meta["upper_limit"], lim)
    with pytest.raises(InputError, match="no partition"):
        ifnscore.score(patients, reference=ref, groups=["teen"] * 12)
    with pytest.raises(InputError, match="12 samples"):
        ifnscore.score(patients, reference=ref, groups=["child"] * 5)


def test_score_groups_needs_partitions(example, ref_fc_sum):
    counts, _ = example
    with pytest.raises(InputError, match="no partitions"):
        ifnscore.score(counts.iloc[:3], reference=ref_fc_sum, groups=["a", "b", "c"])


def test_calibrate_groups_validation(controls):
    with pytest.raises(InputError, match="labels for"):
        ifnscore.calibrate(controls, signature="rice6", groups=["a", "b"])
    with pytest.raises(InputError, match="single group"):
        ifnscore.calibrate(controls, signature="rice6", groups=["a"] * len(controls))


def test_calibrate_exclude_outliers_recorded(controls):
    ref = ifnscore.calibrate(controls, signature="rice6", exclude_outliers=True)
    d = ref.signatures["rice6"].limits["controls"].details
    assert d["excluded"] == [o["sample"] for o in d["outliers"]]
    assert d["n"] == len(controls) - len(d["excluded"])


def test_calibrate_default_rule_is_ep28_and_mean_2sd_stays_available(controls):
    ref = ifnscore.calibrate(controls, signature="rice6")
    lim = ref.signatures["rice6"].limits["controls"]
    s = np.asarray(ref.signatures["rice6"].control_scores)
    # 40 bundled controls, positive and right-skewed: EP28's robust limit on the Box-Cox scale
    assert lim.rule == "boxcox:robust"
    assert lim.details["requested_rule"] == "ep28"
    assert lim.details["n"] == 40
    assert lim.details["min_n"] == 20
    direct = controls_limit(s, "boxcox:robust", samples=list(controls.index))
    np.testing.assert_allclose(lim.value, direct.value, rtol=1e-14)
    old = ifnscore.calibrate(controls, signature="rice6", rule="mean+2sd")
    lim = old.signatures["rice6"].limits["controls"]
    assert lim.rule == "mean+2sd"
    np.testing.assert_allclose(lim.value, s.mean() + 2 * s.std(ddof=1), rtol=1e-14)


# ---------------------------------------------------------------- verification
def _twenty(n_outside, limit=12.49):
    inside = np.linspace(4.0, 11.0, 20 - n_outside)
    return np.concatenate([inside, np.full(n_outside, limit + 1.0)])


@pytest.mark.parametrize(("k", "accepted"), [(0, True), (2, True), (3, False), (5, False)])
def test_verify_limit_ep28_rule(k, accepted):
    v = ifnscore.verify_limit(12.49, _twenty(k))
    assert (v.n, v.n_outside, v.max_outside, v.accepted) == (20, k, 2, accepted)
    np.testing.assert_allclose(v.p_value, stats.binom.sf(k - 1, 20, 0.025), rtol=1e-12)
    assert ("20 more" in v.note) == (k in (3, 4))


def test_verify_limit_counts_the_limit_itself_as_outside():
    v = ifnscore.verify_limit(
        2.466, pd.Series([2.466] + [1.0] * 19, index=list("abcdefghijklmnopqrst"))
    )
    assert v.outside == ("a",)


def test_verify_limit_with_reference_and_expression(example, ref_fc_sum):
    counts, samples = example
    ctl = counts[samples["group"] == "control"].iloc[:20]
    v = ifnscore.verify_limit(ref_fc_sum, ctl)
    scores = ifnscore.score(ctl, reference=ref_fc_sum)["score"]
    assert v.limit == 12.49
    assert v.n_outside == int((scores >= 12.49).sum())
    assert v.to_dict()["n"] == 20
    with pytest.raises(InputError, match="needs a Reference"):
        ifnscore.verify_limit(12.49, ctl)


def test_verify_limit_small_n_warns_and_bad_input():
    with pytest.warns(IfnscoreWarning, match="uses 20"):
        ifnscore.verify_limit(12.49, [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="finite"):
        ifnscore.verify_limit(12.49, [1.0, np.nan])
    with pytest.raises(InputError, match="limit="):
        ifnscore.verify_limit("high", [1.0])


# ---------------------------------------------------------------- properties
positive_scores = st.lists(
    st.floats(0.05, 500, allow_nan=False), min_size=20, max_size=60, unique=True
)
RULES = ["mean+2sd", "log:mean+2sd", "boxcox:mean+2sd", "p90", "robust", "log:robust"]


@given(x=positive_scores, data=st.data())
def test_limits_ignore_the_order_of_controls(x, data):
    perm = data.draw(st.permutations(x))
    rule = data.draw(st.sampled_from(RULES))
    a, b = controls_limit(x, rule, warn_small=False), controls_limit(perm, rule, warn_small=False)
    np.testing.assert_allclose(a.value, b.value, rtol=1e-9)
    if a.details["ci_low"] is not None:
        np.testing.assert_allclose(
            [a.details["ci_low"], a.details["ci_high"]],
            [b.details["ci_low"], b.details["ci_high"]],
            rtol=1e-9,
        )


@given(
    x=st.lists(st.floats(-50, 50, allow_nan=False), min_size=119, max_size=119, unique=True),
    f=st.sampled_from([np.exp, lambda v: v**3 + v, lambda v: np.arctan(v / 10)]),
)
def test_percentile_limit_moves_with_a_monotone_transform(x, f):
    # n = 119: rank 0.975 * 120 = 117 is an integer, and the CI (order statistics) exists
    x = np.asarray(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fx = f(x)
    if np.unique(fx).size < fx.size:  # the transform must stay strictly increasing in floats
        return
    a = controls_limit(x, "p97.5", warn_small=False)
    b = controls_limit(fx, "p97.5", warn_small=False)
    np.testing.assert_allclose(b.value, f(a.value), rtol=1e-12)
    np.testing.assert_allclose(b.details["ci_low"], f(a.details["ci_low"]), rtol=1e-12)
    np.testing.assert_allclose(b.details["ci_high"], f(a.details["ci_high"]), rtol=1e-12)


@given(
    x=st.lists(st.floats(0.05, 500, allow_nan=False), min_size=20, max_size=200, unique=True),
    rule=st.sampled_from(["mean+2sd", "log:mean+1.96sd", "boxcox:mean+2sd", "p97.5", "p75"]),
)
def test_ci_contains_the_point_estimate(x, rule):
    if rule == "p97.5" and len(x) < 39:  # the rank p(n + 1) lies beyond the data: refused
        with pytest.raises(InputError, match="lies beyond"):
            controls_limit(x, rule, warn_small=False)
        return
    lim = controls_limit(x, rule, warn_small=False)
    if lim.details["ci_low"] is not None:
        assert lim.details["ci_low"] <= lim.value * (1 + 1e-12)
        assert lim.value <= lim.details["ci_high"] * (1 + 1e-12)
