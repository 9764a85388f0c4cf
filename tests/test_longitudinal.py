"""ifnscore.follow: per-patient numbers checked against hand computation."""

import itertools
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
    assert row["n_relapses"] == 0
    assert not v["relapse"].any()


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
    c = case.correlations.set_index("measure").loc["cmas"]
    assert c["n"] == 9
    assert 0 < c["p_value"] < 1e-4


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


def test_relapse_irregular_visits_and_missing_values():
    # P1: 50 -> 5 (normal at day 10) -> 30 (relapse at day 11) -> NaN -> 2 -> 40 (relapse)
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
    assert row["n_relapses"] == 2
    assert row["relapse_times"] == (11.0, 401.0)
    assert row["latest"] == 40
    assert row["latest_time"] == 401
    v = fu.visits
    assert list(v["relapse"]) == [False, False, True, False, False, True]
    assert pd.isna(v.loc["d", "above_limit"])
    assert np.isnan(v.loc["d", "pct_change"])
    np.testing.assert_allclose(v.loc["e", "pct_change"], 100 * (2 - 50) / 50)
    # Spearman on the 4 visits with both values: score 50, 30, 2, 40 vs cmas 10, 20, 30, 35
    # ranks 4,2,1,3 vs 1,2,3,4 -> d = 3,0,-2,-1, sum d^2 = 14, rho = 1 - 6*14/(4*15) = -0.4
    assert row["n_cmas"] == 4
    np.testing.assert_allclose(row["rho_cmas"], -0.4, rtol=1e-12)


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
    assert p1["first_below_time"] == 0
    assert p1["n_relapses"] == 1
    assert p2["above_at_baseline"]
    assert np.isnan(p2["time_to_normalisation"])
    assert np.isnan(p2["first_below_time"])
    assert p2["n_relapses"] == 0
    # correlation needs 3 visits with both values
    assert fu.correlations.empty


def test_percent_change_undefined_for_non_positive_baseline():
    m = _meta([("a", "P1", 0, -2.0, 1), ("b", "P1", 7, 3.0, 2), ("c", "P1", 9, 1.0, 3)])
    fu = ifnscore.follow(m["score"], m, upper_limit=2, clinical="cmas")
    assert fu.visits["pct_change"].isna().all()
    assert fu.summary.loc["P1", "n_relapses"] == 1


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
def test_properties_relapses_and_order(scores, rnd):
    """Relapses equal the below->above transitions of a naive loop, and shuffling the rows
    changes nothing."""
    n = len(scores)
    idx = [f"s{i}" for i in range(n)]
    m = pd.DataFrame({"patient": "P", "day": np.arange(n) * 3.0, "score": scores}, index=idx)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fu = ifnscore.follow(m["score"], m, upper_limit=10)
    naive = sum(1 for a, b in itertools.pairwise(scores) if a < 10 <= b)
    assert fu.summary.loc["P", "n_relapses"] == naive
    first = next((i for i, s in enumerate(scores) if s < 10), None)
    got = fu.summary.loc["P", "first_below_time"]
    assert (np.isnan(got) and first is None) or got == 3.0 * first
    order = list(range(n))
    rnd.shuffle(order)
    shuffled = m.iloc[order]
    fu2 = ifnscore.follow(shuffled["score"], shuffled, upper_limit=10)
    pd.testing.assert_frame_equal(fu.summary, fu2.summary)
    pd.testing.assert_frame_equal(fu.visits, fu2.visits)
