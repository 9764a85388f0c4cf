"""ifnscore.follow: per-patient numbers checked against hand computation."""

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ifnscore
from ifnscore.datasets import example_files, load_example
from ifnscore.errors import IfnscoreWarning, InputError

LIMIT = 12.49


@pytest.fixture(scope="module")
def scored(example, ref_fc_sum):
    counts, samples = example
    return ifnscore.score(counts, reference=ref_fc_sum), samples


@pytest.fixture(scope="module")
def case(scored):
    res, samples = scored
    return ifnscore.follow(res, samples, clinical="cmas", treatments=example_files()["treatments"])


def test_bundled_patient_by_hand(scored, case):
    res, _samples = scored
    visits = [f"JDM01_d{d:03d}" for d in (0, 14, 28, 56, 84, 112, 168, 252, 365)]
    s = res.loc[visits, "score"].to_numpy()
    days = np.array([0, 14, 28, 56, 84, 112, 168, 252, 365], dtype=float)
    assert case.patients == ["JDM01"]
    assert case.upper_limit == LIMIT
    v = case.patient("JDM01")
    assert list(v.index) == visits
    np.testing.assert_array_equal(v["time"].to_numpy(), days)
    # per visit: fold over the limit and percent change from baseline (exact arithmetic, 1e-12)
    np.testing.assert_allclose(v["fold_over_limit"], s / LIMIT, rtol=1e-12)
    np.testing.assert_allclose(v["pct_change"], 100 * (s - s[0]) / s[0], rtol=1e-12, atol=1e-12)
    assert list(v["above_limit"]) == [x >= LIMIT for x in s]
    row = case.summary.loc["JDM01"]
    assert row["baseline"] == s[0]
    assert row["peak"] == s.max()
    assert row["peak_time"] == days[np.argmax(s)]
    assert row["latest"] == s[-1]
    assert row["latest_time"] == 365
    # the demo shows 866 at day 0, 28.9 at day 112, 11.7 at day 168: first below at day 168
    assert s[5] >= LIMIT > s[6]
    assert (s[6:] < LIMIT).all()
    assert row["first_below_time"] == 168
    assert row["last_above_time"] == 112
    assert row["time_to_normalisation"] == 168
    assert row["normalisation_times"] == (168.0,)
    assert np.isnan(row["first_elevation_time"])  # above at baseline: no first elevation
    assert row["n_re_elevations"] == 0
    assert row["re_elevation_times"] == ()
    assert not v["re_elevation"].any()
    assert "relapse" not in v.columns
    assert not [c for c in case.summary.columns if "relapse" in c]


def test_bundled_patient_spearman_by_hand(scored, case):
    """CMAS rises 10, 12, ..., 50 (ranks 1..9). The scores fall until day 252, then day 365
    lies between day 252 and day 168, so the score ranks are 9, 8, 7, 6, 5, 4, 3, 1, 2;
    sum d^2 = 64+36+16+4+0+4+16+49+49 = 238 and rho = 1 - 6*238 / (9 * 80) = -0.98333..."""
    _res, _samples = scored
    v = case.patient("JDM01")
    s = v["score"].to_numpy()
    assert (np.diff(s[:8]) < 0).all()
    assert s[7] < s[8] < s[6]
    assert (np.diff(v["cmas"].to_numpy()) > 0).all()
    row = case.summary.loc["JDM01"]
    np.testing.assert_allclose(row["rho_cmas"], 1 - 6 * 238 / (9 * 80), rtol=1e-12)
    assert row["n_cmas"] == 9
    # per patient: descriptive only, no p-value over one patient's serial visits
    assert list(case.correlations.columns) == ["patient", "measure", "n", "rho"]
    c = case.correlations.set_index("measure").loc["cmas"]
    assert c["n"] == 9
    np.testing.assert_allclose(c["rho"], 1 - 6 * 238 / (9 * 80), rtol=1e-12)


def test_bundled_patient_rm_correlation_is_the_centred_pearson(case):
    """With one patient, centring within the patient is plain centring, so r_rm is Pearson's r
    of the 9 visits; df = N - k - 1 = 9 - 1 - 1 = 7. It stays descriptive: no p-value."""
    v = case.patient("JDM01")
    rm = case.rm_correlation.loc["cmas"]
    r = np.corrcoef(v["score"], v["cmas"])[0, 1]
    np.testing.assert_allclose(rm["r_rm"], r, rtol=1e-12)
    assert rm["dof"] == 7
    assert rm["n_obs"] == 9
    assert rm["n_patients"] == 1
    # one patient: no p-value or interval (they would treat serial visits as independent)
    assert np.isnan(rm["p_value"])
    assert np.isnan(rm["ci_low"])
    assert np.isnan(rm["ci_high"])
    assert list(case.rm_correlation.columns) == [
        "r_rm",
        "dof",
        "p_value",
        "ci_low",
        "ci_high",
        "n_obs",
        "n_patients",
    ]


def test_bundled_treatments(case):
    t = case.treatments.set_index("drug")
    assert list(t.index) == ["methylprednisolone", "prednisolone", "baricitinib"]
    assert t.loc["baricitinib", "start"] == 7
    assert bool(t.loc["baricitinib", "ongoing"])
    assert np.isnan(t.loc["baricitinib", "stop"])
    assert t.loc["prednisolone", "stop"] == 180


def test_single_visit_patients_are_listed_not_dropped(scored, case):
    res, _ = scored
    assert len(case.excluded) == len(res) - 9
    assert set(case.excluded["reason"]) == {"fewer than 2 visits"}


def test_anndata_and_csv_inputs_agree(case, ref_fc_sum, tmp_path):
    adata = load_example()
    ifnscore.score(adata, reference=ref_fc_sum)
    obs_before = adata.obs.copy()
    fu = ifnscore.follow(adata, clinical="cmas")
    pd.testing.assert_frame_equal(fu.summary, case.summary)
    pd.testing.assert_frame_equal(fu.visits, case.visits)
    pd.testing.assert_frame_equal(fu.treatments, case.treatments)
    pd.testing.assert_frame_equal(adata.obs, obs_before)
    # metadata from a CSV path, scores as a Series with an explicit limit
    fu2 = ifnscore.follow(
        adata.obs["ifnscore"],
        example_files()["samples"],
        clinical="cmas",
        treatments=example_files()["treatments"],
        upper_limit=LIMIT,
    )
    pd.testing.assert_frame_equal(fu2.summary, case.summary)


def test_limit_recovered_when_attrs_are_lost(scored):
    res, samples = scored
    plain = res.copy()
    plain.attrs = {}
    fu = ifnscore.follow(plain, samples)
    np.testing.assert_allclose(fu.upper_limit, LIMIT, rtol=1e-12)
    with pytest.raises(InputError, match="upper_limit="):
        ifnscore.follow(plain[["score"]], samples)


def _meta(rows):
    df = pd.DataFrame(rows, columns=["sample", "patient", "day", "score", "cmas"])
    return df.set_index("sample")


def test_two_re_elevations_irregular_visits_and_missing_values():
    # P1 (limit 10): 50 -> 5 (normalised at day 10) -> 30 (re-elevation at day 11) -> NaN
    # -> 2 (normalised again at day 400) -> 40 (second re-elevation at day 401)
    m = _meta(
        [
            ("a", "P1", 0, 50.0, 10),
            ("b", "P1", 10, 5.0, np.nan),
            ("c", "P1", 11, 30.0, 20),
            ("d", "P1", 100, np.nan, 25),
            ("e", "P1", 400, 2.0, 30),
            ("f", "P1", 401, 40.0, 35),
        ]
    )
    fu = ifnscore.follow(m["score"], m, upper_limit=10, clinical="cmas")
    row = fu.summary.loc["P1"]
    assert row["n_visits"] == 6
    assert row["n_scored"] == 5
    assert row["time_to_normalisation"] == 10
    assert (row["last_above_time"], row["first_below_time"]) == (0, 10)
    assert row["normalisation_times"] == (10.0, 400.0)
    assert row["n_re_elevations"] == 2
    assert row["re_elevation_times"] == (11.0, 401.0)
    assert np.isnan(row["first_elevation_time"])
    assert row["latest"] == 40
    assert row["latest_time"] == 401
    v = fu.visits
    assert list(v["re_elevation"]) == [False, False, True, False, False, True]
    assert pd.isna(v.loc["d", "above_limit"])
    assert np.isnan(v.loc["d", "pct_change"])
    np.testing.assert_allclose(v.loc["e", "pct_change"], 100 * (2 - 50) / 50)
    # Spearman on the 4 visits with both values: score 50, 30, 2, 40 vs cmas 10, 20, 30, 35
    # ranks 4,2,1,3 vs 1,2,3,4 -> d = 3,0,-2,-1, sum d^2 = 14, rho = 1 - 6*14/(4*15) = -0.4
    assert row["n_cmas"] == 4
    np.testing.assert_allclose(row["rho_cmas"], -0.4, rtol=1e-12)


def _one(scores, days=None, **kw):
    """follow() of one patient P with these scores (days 0, 7, 14, ... unless given)."""
    days = [7.0 * i for i in range(len(scores))] if days is None else days
    m = pd.DataFrame(
        {"patient": "P", "day": days, "score": scores},
        index=[f"v{i}" for i in range(len(scores))],
    )
    kw.setdefault("upper_limit", 10)
    return ifnscore.follow(m["score"], m, **kw)


def test_wobble_around_the_limit_margin_zero_vs_ten_percent():
    """13 -> 12 -> 12.6 around 12.49. Plain comparison (margin 0): 13 >= 12.49 above, 12 < 12.49
    below (a normalisation at day 7), 12.6 >= 12.49 above (a re-elevation at day 14). With
    margin 0.1 the band is [12.49 * 0.9, 12.49 * 1.1) = [11.241, 13.739): all three visits lie
    in it, so the state at baseline is undetermined and nothing changes."""
    plain = _one([13.0, 12.0, 12.6], upper_limit=LIMIT).summary.loc["P"]
    assert plain["above_at_baseline"]
    assert plain["time_to_normalisation"] == 7
    assert plain["n_re_elevations"] == 1
    assert plain["re_elevation_times"] == (14.0,)
    band = _one([13.0, 12.0, 12.6], upper_limit=LIMIT, margin=0.1).summary.loc["P"]
    assert pd.isna(band["above_at_baseline"])
    assert np.isnan(band["time_to_normalisation"])
    assert band["normalisation_times"] == ()
    assert band["n_re_elevations"] == 0
    assert np.isnan(band["first_elevation_time"])
    # the same wobble after a clear elevation (30 >= 13.739): with the margin it is not a
    # normalisation (13, 12, 12.6 are all within the band), without it one plus a re-elevation
    plain = _one([30.0, 13.0, 12.0, 12.6], upper_limit=LIMIT).summary.loc["P"]
    assert (plain["first_below_time"], plain["re_elevation_times"]) == (14.0, (21.0,))
    band = _one([30.0, 13.0, 12.0, 12.6], upper_limit=LIMIT, margin=0.1)
    row = band.summary.loc["P"]
    assert row["above_at_baseline"]
    assert np.isnan(row["first_below_time"])
    assert row["n_re_elevations"] == 0
    # the per-visit above_limit stays the plain comparison whatever the margin
    assert list(band.visits["above_limit"]) == [True, True, False, True]
    assert band.margin == 0.1
    # a clear fall below 11.241 then a clear rise to >= 13.739 is a normalisation and a
    # re-elevation with the margin too: 30 -> 11 -> 14
    row = _one([30.0, 11.0, 14.0], upper_limit=LIMIT, margin=0.1).summary.loc["P"]
    assert (row["first_below_time"], row["re_elevation_times"]) == (7.0, (14.0,))


def test_normal_at_baseline_then_rise_is_a_first_elevation_not_a_re_elevation():
    row = _one([5.0, 20.0]).summary.loc["P"]
    assert not row["above_at_baseline"]
    assert row["first_elevation_time"] == 7
    assert row["n_re_elevations"] == 0
    assert np.isnan(row["time_to_normalisation"])
    assert np.isnan(row["first_below_time"])
    # 5 -> 20 (first elevation, day 7) -> 3 (normalisation, day 14) -> 25 (re-elevation, day 21)
    fu = _one([5.0, 20.0, 3.0, 25.0])
    row = fu.summary.loc["P"]
    assert row["first_elevation_time"] == 7
    assert row["normalisation_times"] == (14.0,)
    assert np.isnan(row["time_to_normalisation"])  # only for patients above at baseline
    assert row["re_elevation_times"] == (21.0,)
    assert list(fu.visits["re_elevation"]) == [False, False, False, True]


def test_confirm_two_needs_two_consecutive_visits():
    """Limit 10, days 0..6: 40 8 12 6 5 15 20 -> above, below, above, below, below, above, above.
    confirm=1: normalisations at days 1 and 3, re-elevations at days 2 and 5.
    confirm=2: day 1 alone does not confirm (day 2 is above again); days 3-4 confirm a
    normalisation dated day 3 (last above: day 2); days 5-6 confirm a re-elevation dated day 5."""
    scores, days = [40.0, 8.0, 12.0, 6.0, 5.0, 15.0, 20.0], [0.0, 1, 2, 3, 4, 5, 6]
    one = _one(scores, days).summary.loc["P"]
    assert one["normalisation_times"] == (1.0, 3.0)
    assert one["re_elevation_times"] == (2.0, 5.0)
    fu = _one(scores, days, confirm=2)
    two = fu.summary.loc["P"]
    assert (two["last_above_time"], two["first_below_time"]) == (2.0, 3.0)
    assert two["time_to_normalisation"] == 3
    assert two["normalisation_times"] == (3.0,)
    assert two["n_re_elevations"] == 1
    assert two["re_elevation_times"] == (5.0,)
    assert list(fu.visits["re_elevation"]) == [False] * 5 + [True, False]
    assert fu.confirm == 2
    # a single visit above at the end does not confirm a re-elevation
    assert _one([40.0, 5.0, 5.0, 20.0], confirm=2).summary.loc["P", "n_re_elevations"] == 0
    # a visit without a score neither confirms nor breaks a run: 40, 5, NaN, 5
    row = _one([40.0, 5.0, np.nan, 5.0], confirm=2).summary.loc["P"]
    assert row["first_below_time"] == 7
    # a visit in the margin's band breaks a run: 40, 8, 9.5, 8, 8 with margin 0.1 (band
    # [9, 11)): 8 below, 9.5 between, then 8, 8 confirm at day 21
    row = _one([40.0, 8.0, 9.5, 8.0, 8.0], confirm=2, margin=0.1).summary.loc["P"]
    assert (row["last_above_time"], row["first_below_time"]) == (0.0, 21.0)


def test_pre_treatment_baseline():
    """Limit 10; visits on days 0, 5, 10, 20 score 8, 30, 12, 5; treatments start on days 12
    and 5 (the earliest counts; a visit on the start day is pre-treatment)."""
    m = _meta(
        [
            ("a", "P1", 0, 8.0, 1),
            ("b", "P1", 5, 30.0, 2),
            ("c", "P1", 10, 12.0, 3),
            ("d", "P1", 20, 5.0, 4),
        ]
    )
    t = pd.DataFrame({"patient": ["P1", "P1"], "drug": ["x", "y"], "start": [12, 5]})
    first = ifnscore.follow(m["score"], m, upper_limit=10, treatments=t).summary.loc["P1"]
    assert (first["baseline"], first["baseline_time"]) == (8, 0)
    assert first["first_elevation_time"] == 5
    assert first["normalisation_times"] == (20.0,)
    assert np.isnan(first["time_to_normalisation"])
    fu = ifnscore.follow(m["score"], m, upper_limit=10, treatments=t, baseline="pre_treatment")
    pre = fu.summary.loc["P1"]
    assert fu.baseline == "pre_treatment"
    assert (pre["baseline"], pre["baseline_time"]) == (30, 5)
    assert pre["above_at_baseline"]
    assert (pre["last_above_time"], pre["first_below_time"]) == (10.0, 20.0)
    assert pre["time_to_normalisation"] == 15  # 20 - 5
    assert np.isnan(pre["first_elevation_time"])
    assert (pre["peak"], pre["peak_time"]) == (30.0, 5.0)  # peak over every scored visit
    np.testing.assert_allclose(
        fu.visits["pct_change"], [100 * (x - 30) / 30 for x in (8, 30, 12, 5)], rtol=1e-12
    )


def test_pre_treatment_baseline_of_the_bundled_patient(scored, case):
    """Methylprednisolone starts on day 0, the day of the first visit: that visit is the
    pre-treatment baseline, so the summary is the one with baseline='first'."""
    res, samples = scored
    pre = ifnscore.follow(
        res,
        samples,
        clinical="cmas",
        treatments=example_files()["treatments"],
        baseline="pre_treatment",
    )
    pd.testing.assert_frame_equal(pre.summary, case.summary)


def test_pre_treatment_baseline_errors():
    m = _meta(
        [
            ("a", "P1", 0, 8.0, 1),
            ("b", "P1", 5, 30.0, 2),
            ("c", "P2", 0, 1.0, 1),
            ("d", "P2", 3, 2.0, 1),
        ]
    )
    with pytest.raises(InputError, match=r"baseline='pre_treatment' needs treatments=.*'P1'"):
        ifnscore.follow(m["score"], m, upper_limit=10, baseline="pre_treatment")
    t = pd.DataFrame({"patient": ["P1", "P2"], "drug": ["x", "y"], "start": [-3, 0]})
    with pytest.raises(
        InputError,
        match=r"patient 'P1' has no scored visit at or before the "
        r"first treatment start \(x at day -3\)",
    ):
        ifnscore.follow(m["score"], m, upper_limit=10, treatments=t, baseline="pre_treatment")
    t = pd.DataFrame({"patient": ["P1"], "drug": ["x"], "start": [2]})
    with pytest.raises(InputError, match="patient 'P2' has no row in treatments="):
        ifnscore.follow(m["score"], m, upper_limit=10, treatments=t, baseline="pre_treatment")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"baseline": "last"}, "baseline='last' is not a baseline rule"),
        ({"margin": 1.0}, r"margin=1.0 must be a fraction in \[0, 1\)"),
        ({"margin": -0.1}, r"margin=-0.1 must be a fraction"),
        ({"margin": "10%"}, r"margin='10%' must be a fraction"),
        ({"margin": float("nan")}, r"margin=nan must be a fraction"),
        ({"confirm": 0}, "confirm=0 must be a whole number of visits, 1 or more"),
        ({"confirm": 1.5}, "confirm=1.5 must be a whole number"),
        ({"confirm": True}, "confirm=True must be a whole number"),
    ],
)
def test_bad_rules_raise(kw, message):
    with pytest.raises(InputError, match=message):
        _one([40.0, 5.0], **kw)


def _rm_meta():
    """Hand-computed repeated-measures correlation (score x, clinical y).

    P1: x 1 2 3, y 2 4 5 -> centred x -1 0 1, y -5/3 1/3 4/3.
    P2: x 4 5 6, y 1 1 4 -> centred x -1 0 1, y -1 -1 2.
    P3: two visits but one clinical value: no within-patient pair, left out.
    Sxy = (5/3 + 4/3) + (1 + 2) = 6; Sxx = 2 + 2 = 4; Syy = 42/9 + 6 = 32/3;
    r = 6 / sqrt(4 * 32/3) = 6 / sqrt(128/3); r^2 = 108/128; N = 6, k = 2, df = 3;
    t^2 = r^2 df / (1 - r^2) = (108/128 * 3) / (20/128) = 16.2."""
    return _meta(
        [
            ("a", "P1", 0, 1.0, 2),
            ("b", "P1", 1, 2.0, 4),
            ("c", "P1", 2, 3.0, 5),
            ("d", "P2", 0, 4.0, 1),
            ("e", "P2", 1, 5.0, 1),
            ("f", "P2", 2, 6.0, 4),
            ("g", "P3", 0, 7.0, 3),
            ("h", "P3", 1, 9.0, np.nan),
        ]
    )


def test_rm_correlation_by_hand():
    from scipy import stats

    m = _rm_meta()
    fu = ifnscore.follow(m["score"], m, upper_limit=10, clinical="cmas")
    rm = fu.rm_correlation.loc["cmas"]
    r = 6 / math.sqrt(128 / 3)
    np.testing.assert_allclose(rm["r_rm"], r, rtol=1e-12)
    assert (rm["dof"], rm["n_obs"], rm["n_patients"]) == (3, 6, 2)
    np.testing.assert_allclose(rm["p_value"], 2 * stats.t.sf(math.sqrt(16.2), 3), rtol=1e-10)
    # Fisher interval with n = df + 2: atanh(r) +- 1.959963984540054 / sqrt(df - 1)
    half = 1.959963984540054 / math.sqrt(2)
    np.testing.assert_allclose(
        [rm["ci_low"], rm["ci_high"]],
        [math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half)],
        rtol=1e-9,
    )
    # a per-patient offset of the clinical measure changes nothing (within-patient only),
    # though it changes the pooled Pearson r
    shifted = m.assign(cmas=m["cmas"] + m["patient"].map({"P1": 100.0, "P2": -50.0, "P3": 0}))
    fu2 = ifnscore.follow(shifted["score"], shifted, upper_limit=10, clinical="cmas")
    np.testing.assert_allclose(fu2.rm_correlation.loc["cmas", "r_rm"], r, rtol=1e-12)
    ok = m["cmas"].notna()
    pooled = np.corrcoef(m["score"][ok], m["cmas"][ok])[0, 1]
    pooled2 = np.corrcoef(shifted["score"][ok], shifted["cmas"][ok])[0, 1]
    assert abs(pooled - pooled2) > 0.1


def test_rm_correlation_not_computable():
    # one patient with two visits: N - k - 1 = 0
    fu = _one([40.0, 5.0])
    assert fu.rm_correlation.empty  # no clinical measure
    m = _meta([("a", "P1", 0, 8.0, 1), ("b", "P1", 5, 30.0, 2)])
    rm = ifnscore.follow(m["score"], m, upper_limit=10, clinical="cmas").rm_correlation
    assert rm.loc["cmas", "dof"] == 0
    assert rm.loc["cmas", ["r_rm", "p_value", "ci_low", "ci_high"]].isna().all()
    # two patients with two visits each: df = 1, r and p computed, no interval (df - 1 = 0)
    m = _meta(
        [
            ("a", "P1", 0, 1.0, 1),
            ("b", "P1", 5, 2.0, 3),
            ("c", "P2", 0, 1.0, 2),
            ("d", "P2", 5, 3.0, 3),
        ]
    )
    rm = ifnscore.follow(m["score"], m, upper_limit=10, clinical="cmas").rm_correlation
    # centred x: -.5 .5 | -1 1; y: -1 1 | -.5 .5 -> Sxy = (.5 + .5) + (.5 + .5) = 2,
    # Sxx = Syy = .5 + 2 = 2.5 -> r = 2 / 2.5 = 0.8
    np.testing.assert_allclose(rm.loc["cmas", "r_rm"], 0.8, rtol=1e-12)
    assert rm.loc["cmas", "dof"] == 1
    assert rm.loc["cmas", ["ci_low", "ci_high"]].isna().all()


@pytest.mark.crosscheck
def test_rm_correlation_matches_pingouin():
    """pingouin.rm_corr on its bundled Bland & Altman (1995) pH / PaCO2 data, the example of
    Bakdash & Marusich (2017), who report r_rm(38) = -0.507, 95% CI [-0.71, -0.23],
    p = 0.0008; and on a random cohort. pingouin rounds its interval to 2 decimals."""
    pg = pytest.importorskip("pingouin")
    rng = np.random.default_rng(7)
    rand = pd.DataFrame({"Subject": np.repeat(np.arange(6), 5), "pH": rng.lognormal(2, 0.5, 30)})
    rand["PacO2"] = rand["pH"] * 0.3 + rng.normal(0, 2, 30) + rand["Subject"]
    for df in (pg.read_dataset("rm_corr"), rand):
        m = df.assign(
            patient=df["Subject"].astype(str), day=df.groupby("Subject").cumcount().astype(float)
        )
        m.index = [f"s{i}" for i in range(len(m))]
        fu = ifnscore.follow(m["pH"], m, upper_limit=7.4, clinical="PacO2")
        ours = fu.rm_correlation.loc["PacO2"]
        theirs = pg.rm_corr(data=df, x="pH", y="PacO2", subject="Subject").iloc[0]
        np.testing.assert_allclose(ours["r_rm"], theirs["r"], rtol=1e-10)
        assert ours["dof"] == theirs["dof"]
        np.testing.assert_allclose(ours["p_value"], theirs["pval"], rtol=1e-8)
        np.testing.assert_allclose(
            [ours["ci_low"], ours["ci_high"]], theirs["CI95"], atol=0.005 + 1e-12
        )
    assert (ours["n_obs"], ours["n_patients"]) == (30, 6)
    # the published figures (the first data set)
    first = ifnscore.follow(
        *(lambda m: (m["pH"], m))(
            pg.read_dataset("rm_corr")
            .assign(
                patient=lambda d: d["Subject"].astype(str),
                day=lambda d: d.groupby("Subject").cumcount().astype(float),
            )
            .set_axis([f"s{i}" for i in range(47)])
        ),
        upper_limit=7.4,
        clinical="PacO2",
    ).rm_correlation.loc["PacO2"]
    assert first["dof"] == 38
    assert round(first["r_rm"], 3) == -0.507
    assert (round(first["ci_low"], 2), round(first["ci_high"], 2)) == (-0.71, -0.23)
    assert round(first["p_value"], 4) == 0.0008


def test_baseline_below_limit_and_never_normalised():
    m = _meta(
        [
            ("a", "P1", 0, 5.0, 1),
            ("b", "P1", 7, 20.0, 2),
            ("c", "P2", 0, 20.0, 1),
            ("d", "P2", 7, 30.0, 2),
        ]
    )
    fu = ifnscore.follow(m["score"], m, upper_limit=10)
    p1, p2 = fu.summary.loc["P1"], fu.summary.loc["P2"]
    assert not p1["above_at_baseline"]
    assert np.isnan(p1["time_to_normalisation"])
    assert np.isnan(p1["first_below_time"])  # below at baseline: nothing to normalise
    assert p1["first_elevation_time"] == 7
    assert p1["n_re_elevations"] == 0  # the rise is a new elevation (the old rule said relapse)
    assert p2["above_at_baseline"]
    assert np.isnan(p2["time_to_normalisation"])
    assert np.isnan(p2["first_below_time"])
    assert p2["n_re_elevations"] == 0
    # correlation needs 3 visits with both values
    assert fu.correlations.empty


def test_percent_change_undefined_for_non_positive_baseline():
    m = _meta([("a", "P1", 0, -2.0, 1), ("b", "P1", 7, 3.0, 2), ("c", "P1", 9, 1.0, 3)])
    fu = ifnscore.follow(m["score"], m, upper_limit=2, clinical="cmas")
    assert fu.visits["pct_change"].isna().all()
    row = fu.summary.loc["P1"]
    assert (row["first_elevation_time"], row["n_re_elevations"]) == (7, 0)


def test_dates_become_days_since_first_visit():
    m = pd.DataFrame(
        {
            "patient": ["P1", "P1", "P1"],
            "date": ["2025-03-01", "2025-03-15", "2025-06-01"],
            "score": [100.0, 50.0, 5.0],
        },
        index=["a", "b", "c"],
    )
    t = pd.DataFrame({"patient": ["P1"], "drug": ["baricitinib"], "start": ["2025-03-08"]})
    fu = ifnscore.follow(m["score"], m, time="date", upper_limit=10, treatments=t)
    np.testing.assert_array_equal(fu.visits["time"], [0, 14, 92])
    assert "date" in fu.visits.columns
    assert fu.summary.loc["P1", "time_to_normalisation"] == 92
    assert fu.treatments.loc[0, "start"] == 7
    assert bool(fu.treatments.loc[0, "ongoing"])


def test_bad_inputs_raise_typed_errors():
    m = _meta([("a", "P1", 0, 5.0, 1), ("b", "P1", 0, 20.0, 2)])
    with pytest.raises(InputError, match="several samples at day"):
        ifnscore.follow(m["score"], m, upper_limit=10)
    with pytest.raises(InputError, match="no column"):
        ifnscore.follow(m["score"], m, upper_limit=10, patient="subject")
    with pytest.raises(InputError, match="no row in metadata"):
        ifnscore.follow(pd.Series([1.0], index=["zz"]), m, upper_limit=10)
    bad = m.assign(cmas=["x", 1])
    with pytest.raises(InputError, match="non-numeric"):
        ifnscore.follow(m["score"], bad, upper_limit=10, clinical="cmas")
    m2 = _meta([("a", "P1", 0, 5.0, 1), ("b", "P1", 3, 20.0, 2)])
    t = pd.DataFrame({"patient": ["P1"], "drug": ["x"], "start": [5], "stop": [1]})
    with pytest.raises(InputError, match="stops"):
        ifnscore.follow(m2["score"], m2, upper_limit=10, treatments=t)
    with pytest.raises(InputError, match="needs patient, drug, start"):
        ifnscore.follow(m2["score"], m2, upper_limit=10, treatments=t.drop(columns="drug"))


def test_missing_time_warns_and_is_listed():
    m = _meta([("a", "P1", 0, 5.0, 1), ("b", "P1", np.nan, 20.0, 2), ("c", "P1", 5, 1.0, 2)])
    with pytest.warns(IfnscoreWarning, match="no 'day' value"):
        fu = ifnscore.follow(m["score"], m, upper_limit=10)
    assert fu.excluded.loc["b", "reason"] == "no 'day' value"
    assert list(fu.visits.index) == ["a", "c"]


def test_several_signatures_need_a_choice(example, controls):
    counts, samples = example
    ref = ifnscore.calibrate(controls, signature=["rice6", "ifngs4"])
    res = ifnscore.score(counts, reference=ref)
    with pytest.raises(InputError, match="signature="):
        ifnscore.follow(res, samples)
    fu = ifnscore.follow(res, samples, signature="ifngs4")
    np.testing.assert_allclose(
        fu.visits["score"], res.loc[fu.visits.index, ("ifngs4", "score")], rtol=0
    )
    assert fu.signature == "ifngs4"


@given(
    st.lists(st.floats(0.1, 1000, allow_nan=False), min_size=2, max_size=12),
    st.randoms(use_true_random=False),
)
def test_properties_re_elevations_and_order(scores, rnd):
    """With margin 0 and confirm 1, re-elevations are the below->above transitions after the
    first above->below one (a naive loop), and shuffling the rows changes nothing."""
    n = len(scores)
    idx = [f"s{i}" for i in range(n)]
    m = pd.DataFrame({"patient": "P", "day": np.arange(n) * 3.0, "score": scores}, index=idx)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fu = ifnscore.follow(m["score"], m, upper_limit=10)
    normalised, naive = False, 0
    for a, b in itertools.pairwise(scores):
        naive += int(a < 10 <= b and normalised)
        normalised = normalised or a >= 10 > b
    assert fu.summary.loc["P", "n_re_elevations"] == naive
    first = next((i for i, s in enumerate(scores) if s < 10), None) if scores[0] >= 10 else None
    got = fu.summary.loc["P", "first_below_time"]
    assert (np.isnan(got) and first is None) or got == 3.0 * first
    order = list(range(n))
    rnd.shuffle(order)
    shuffled = m.iloc[order]
    fu2 = ifnscore.follow(shuffled["score"], shuffled, upper_limit=10)
    pd.testing.assert_frame_equal(fu.summary, fu2.summary)
    pd.testing.assert_frame_equal(fu.visits, fu2.visits)
