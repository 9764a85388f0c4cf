"""Limits and references a clinician can trust: one resolver, validated limit values, every
rule's minimum n, the EP28 default, transference of published limits, excluded genes, and
reference files checked field by field on load.

Hand computations are written out beside each assertion.
"""

import copy
import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import ifnscore
from ifnscore import errors
from ifnscore._limits import (
    Limit,
    check_value,
    controls_limit,
    fold_over,
    fold_over_note,
    resolve_limits,
    rule_minimum,
    scores_positive,
)
from ifnscore._reference import SCHEMA_VERSION, Reference

RICE6 = ifnscore.get_signature("rice6")
GENES = list(RICE6.genes)


def _controls(v, genes=GENES):
    """Linear-scale controls whose six genes are all ``v`` times a per-gene constant: every
    fold change is then v_i / median(v), so fc_sum = 6 v_i / median(v)."""
    base = np.array([2.0, 3.0, 5.0, 8.0, 25.0, 4.0])[: len(genes)]
    return pd.DataFrame(
        np.outer(np.asarray(v, dtype=float), base),
        index=[f"C{i:02d}" for i in range(len(v))],
        columns=genes,
    )


def _calibrate(v, **kw):
    kw.setdefault("scale", "linear")
    return ifnscore.calibrate(_controls(v), "rice6", **kw)


# 40 values with median 1 (mean of the 20th and 21st sorted values, 0.95 and 1.05):
# fc_sum = 6 v, so the three controls at 2.5 score 15 >= 12.49, every other one <= 6 * 1.9.
V40 = np.concatenate([np.linspace(0.5, 0.95, 20), np.linspace(1.05, 1.9, 17), [2.5, 2.5, 2.5]])


_SMALL_REF = ifnscore.calibrate(_controls(V40), "rice6", scale="linear")


# ---------------------------------------------------------------- the resolver
def test_resolve_every_form(ref_fc_sum):
    sigs = [RICE6]
    kw = {"signatures": sigs, "method": "fc_sum", "reference": ref_fc_sum}
    chosen = ref_fc_sum.signatures["rice6"].upper_limit
    assert resolve_limits(None, **kw) == {"rice6": chosen}
    assert (
        resolve_limits("published", **kw)["rice6"]
        == ref_fc_sum.signatures["rice6"].limits["published"]
    )
    assert resolve_limits("controls", **kw)["rice6"].source == "controls"
    user = resolve_limits(14, **kw)["rice6"]
    assert (user.value, user.source, type(user)) == (14.0, "user", Limit)
    assert resolve_limits("14.5", **kw)["rice6"].value == 14.5  # as the CLI passes it
    lim = Limit(13.0, "user", "mine")
    assert resolve_limits(lim, **kw)["rice6"] is lim
    assert resolve_limits({"rice6": 20}, **kw)["rice6"].value == 20.0
    assert resolve_limits({}, **kw)["rice6"] == chosen  # signatures not named: None's choice
    # no reference: the signature's published limit for THIS method, else None
    assert resolve_limits(None, signatures=sigs, method="fc_median")["rice6"].value == 2.466
    assert resolve_limits(None, signatures=sigs, method="z_sum") == {"rice6": None}
    # a published limit needs every gene found
    found = {"rice6": GENES[:5]}
    assert resolve_limits(None, signatures=sigs, method="fc_sum", genes_used=found) == {
        "rice6": None
    }
    with pytest.raises(
        errors.InputError,
        match=r"upper_limit='published' for signature 'rice6': the published limit needs every "
        r"signature gene, and \['SIGLEC1'\] were not found; use 'controls' or a number\.",
    ):
        resolve_limits("published", signatures=sigs, method="fc_sum", genes_used=found)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, r"upper_limit=True is not valid; use a number"),
        (float("nan"), r"upper_limit=nan must be a finite number\."),
        (-5, r"upper_limit=-5 must be > 0: method='fc_sum' scores are ratios or sums of positive"),
        (0, r"upper_limit=0 must be > 0"),
        ("max", r"upper_limit='max' is not valid; use a number, 'published' or 'controls'"),
        ([1], r"upper_limit=\[1\] is not valid"),
    ],
)
def test_resolve_refuses_what_is_not_a_limit(value, message):
    with pytest.raises(errors.InputError, match=message):
        resolve_limits(value, signatures=[RICE6], method="fc_sum")


def test_resolve_names_the_cli_argument_and_dict_entries():
    with pytest.raises(errors.InputError, match=r"^--upper-limit -5 must be > 0"):
        resolve_limits("-5", signatures=[RICE6], method="fc_sum", arg="--upper-limit")
    with pytest.raises(errors.InputError, match=r"^--upper-limit inf must be a finite number\.$"):
        resolve_limits("inf", signatures=[RICE6], method="fc_sum", arg="--upper-limit")
    with pytest.raises(errors.InputError, match=r"^upper_limit\['rice6'\]=-1 must be > 0"):
        resolve_limits({"rice6": -1}, signatures=[RICE6], method="fc_sum")
    with pytest.raises(
        errors.InputError, match=r"upper_limit names signatures \['x'\] that are not scored"
    ):
        resolve_limits({"x": 3}, signatures=[RICE6], method="fc_sum")


def test_method_change_takes_that_methods_own_published_limit(ref_fc_sum):
    # a reference made for fc_sum (12.49), used with fc_median: Rice's 2.466, never 12.49
    got = resolve_limits(None, signatures=[RICE6], method="fc_median", reference=ref_fc_sum)
    assert got["rice6"].value == 2.466
    assert "10.1016/S1474-4422(13)70258-8" in got["rice6"].citation
    with pytest.raises(
        errors.InputError,
        match=r"the reference's controls' limit was derived for method='fc_sum', not 'fc_mean'",
    ):
        resolve_limits("controls", signatures=[RICE6], method="fc_mean", reference=ref_fc_sum)
    assert resolve_limits(None, signatures=[RICE6], method="fc_mean", reference=ref_fc_sum) == {
        "rice6": None
    }


# ---------------------------------------------------------------- limit values and signs
@pytest.mark.parametrize("method", ["fc_sum", "fc_median", "fc_geomean", "fc_mean"])
def test_calibrate_refuses_non_positive_limits_for_ratio_scores(method):
    for bad in (-5, 0, -0.001):
        with pytest.raises(errors.InputError, match=rf"upper_limit={bad} must be > 0"):
            _calibrate(V40, method=method, upper_limit=bad)


@pytest.mark.parametrize("method", ["aucell", "ucell"])
def test_rank_scores_refuse_a_zero_limit(method):
    with pytest.raises(errors.InputError, match=r"must be > 0: method='\w+' scores are ranks in"):
        check_value(0, method=method)


@pytest.mark.parametrize(
    "method", ["z_sum", "z_mean", "singscore", "module_score", "gsva", "zscore", "plage", "ssgsea"]
)
def test_signed_scores_take_any_finite_limit_and_no_fold(method):
    assert not scores_positive(method)
    assert check_value(-0.25, method=method) == -0.25
    assert check_value(0, method=method) == 0.0
    # a negative limit would flip the sign of score / limit: NaN, with the reason
    np.testing.assert_array_equal(fold_over([0.3, -0.3], -0.1, method), [np.nan, np.nan])
    assert "can be zero or negative" in fold_over_note(method)


def test_fold_over_for_positive_scores_is_the_ratio():
    np.testing.assert_allclose(fold_over([6.0, 24.98], 12.49, "fc_sum"), [6 / 12.49, 2.0])
    np.testing.assert_allclose(
        fold_over([1.0, 2.0], np.array([2.0, 4.0]), "ucell"), [0.5, 0.5]
    )  # per-sample (partition) limits
    assert fold_over_note("fc_sum") is None


def test_z_sum_calibrates_with_a_negative_user_limit():
    ref = _calibrate(V40, method="z_sum", upper_limit=-0.5)
    assert ref.upper_limit == -0.5


def test_controls_limit_not_above_the_median_is_refused():
    # 16 controls all scoring 0 (as aucell did on Lee's epithelial cells): mean + 2 SD = 0
    with pytest.raises(
        errors.InputError,
        match=r"The controls' limit by rule='mean\+2sd' is 0, not above the controls' median 0 "
        r"\(16 of 16 controls score exactly 0\): it would call at least half of the healthy "
        r"controls positive\..*use a method whose healthy scores vary",
    ):
        controls_limit(np.zeros(16), "mean+2sd", warn_small=False)


def test_calibrate_aucell_on_unexpressed_signature_is_refused():
    # 100 genes; the rice6 genes are the six least expressed in every control, so none is in
    # the top 5 % (aucMaxRank = ceiling(0.05 * 100) = 5): every AUC is 0.
    rng = np.random.default_rng(4)
    other = [f"G{i:03d}" for i in range(94)]
    X = np.hstack([rng.uniform(1, 2, (30, 6)), rng.uniform(100, 200, (30, 94))])
    ctrl = pd.DataFrame(X, columns=GENES + other, index=[f"c{i}" for i in range(30)])
    assert (ifnscore.score(ctrl, "rice6", method="aucell", scale="linear")["score"] == 0).all()
    with pytest.raises(
        errors.InputError,
        match=r"The controls' limit by rule='ep28' \(robust\) cannot be derived: 30 of 30 controls "
        r"score exactly 0 \(MAD = 0\), so at least half of the healthy controls share one score",
    ):
        ifnscore.calibrate(ctrl, "rice6", method="aucell", scale="linear")


# ---------------------------------------------------------------- minimum n per rule
@pytest.mark.parametrize(
    ("rule", "n", "minimum"),
    [("mean+2sd", 10, 20), ("robust", 10, 20), ("ep28", 10, 20), ("p97.5", 60, 120)],
)
def test_every_rule_warns_below_its_minimum_and_strict_refuses(rule, n, minimum):
    x = np.linspace(1.0, 3.0, n)
    assert rule_minimum(rule) == minimum
    msg = rf"rule='{re.escape(rule)}'.*: {n} controls, below the rule's minimum of {minimum}"
    with pytest.warns(errors.IfnscoreWarning, match=msg):
        lim = controls_limit(x, rule)
    assert lim.details["n"] == n
    assert lim.details["min_n"] == minimum
    assert any("below the rule's minimum" in note for note in lim.notes)
    with pytest.raises(errors.InputError, match=msg + r".*pass strict=False"):
        controls_limit(x, rule, strict=True)
    # at the minimum: silent
    assert "below_minimum" not in controls_limit(np.linspace(1, 3, minimum), rule).details


def test_percentile_below_39_is_refused_never_the_maximum():
    with pytest.raises(errors.InputError, match=r"it needs at least 39\)"):
        controls_limit(np.arange(1.0, 31.0), "p97.5")


def test_calibrate_warns_only_for_the_limit_that_classifies(recwarn):
    v = np.linspace(0.7, 1.3, 10)
    ref = _calibrate(v)  # published 12.49 classifies: the controls' shortfall is a note
    ctl = ref.signatures["rice6"].limits["controls"]
    assert "below_minimum" in ctl.details
    assert not [w for w in recwarn if issubclass(w.category, errors.IfnscoreWarning)]
    with pytest.warns(
        errors.IfnscoreWarning,
        match=r"Signature 'rice6': rule='ep28' \(robust\): 10 controls, below the rule's minimum of 20",
    ):
        _calibrate(v, upper_limit="controls")
    with pytest.raises(errors.InputError, match="10 controls, below the rule's minimum of 20"):
        _calibrate(v, strict=True)
    summ = ref.summary()
    assert (summ.loc["rice6", "controls_n"], summ.loc["rice6", "controls_min_n"]) == (10, 20)
    assert summ.loc["rice6", "n_controls"] == 10


# ---------------------------------------------------------------- the EP28 default
def _lognormal(n, seed):
    return np.exp(np.random.default_rng(seed).normal(1.8, 0.4, n))


def test_default_leaves_about_2_5_percent_of_240_skewed_controls_above():
    x = _lognormal(240, 11)
    lim = controls_limit(x)
    # 240 >= 120: the non-parametric 97.5th percentile at rank 0.975 * 241 = 234.975, on the
    # Box-Cox scale (skewed positive scores; the rank method is unchanged by the transform up
    # to the interpolation between the 234th and 235th values): 6 of 240 (2.5 %) lie above
    assert lim.rule == "boxcox:p97.5"
    assert lim.details["skewness"] > 0.5
    assert int(np.sum(x >= lim.value)) == 6
    xs = np.sort(x)
    assert xs[233] <= lim.value <= xs[234]
    # fresh healthy people from the same distribution: about 97.5 % below the limit
    fresh = _lognormal(200_000, 12)
    assert 0.955 < np.mean(fresh < lim.value) < 0.99  # one lab's limit: 5th-95th pct 0.957-0.989


def test_default_coverage_over_replicates_is_near_97_5():
    # mean true coverage F(limit) over 40 labs of 240 controls; its SD across labs is about
    # 0.01 (docs/intervals_simulation.md), so the mean's SE is about 0.0016: tolerance 0.006
    dist = stats.lognorm(s=0.4, scale=math.exp(1.8))
    cov = [dist.cdf(controls_limit(_lognormal(240, s)).value) for s in range(40)]
    assert abs(np.mean(cov) - 0.975) < 0.006


def test_default_robust_with_box_cox_for_skewed_small_samples():
    x = _lognormal(40, 3)
    lim = controls_limit(x)
    assert lim.rule == "boxcox:robust"
    assert lim.details["ep28_choice"] == "robust: 20 <= n = 40 < 120"
    # the same limit by hand: robust on the Box-Cox scale with the MLE lambda, back-transformed
    lam = stats.boxcox_normmax(np.sort(x), method="mle")
    np.testing.assert_allclose(lim.details["lambda"], lam, rtol=1e-6)
    lam = lim.details["lambda"]  # scipy's optimiser stops within 1e-6 of ours
    from ifnscore._intervals import robust_upper

    point, _ = robust_upper(stats.boxcox(x, lmbda=lam))
    np.testing.assert_allclose(lim.value, (lam * point + 1) ** (1 / lam), rtol=1e-10)
    # outlier screening runs on the same (Box-Cox) scale
    assert lim.details["scale"] == "boxcox"


def test_default_falls_back_to_log_when_box_cox_has_no_back_transform():
    # heavy-tailed scores: lambda < 0 and the Box-Cox limit lies beyond -1/lambda
    x = 1 + np.random.default_rng(3).pareto(1.0, 20)
    with pytest.raises(errors.InputError, match="'log:' rule"):
        controls_limit(x, "boxcox:robust")
    lim = controls_limit(x)
    assert lim.rule == "log:robust"
    assert "log instead" in lim.details["transform_choice"]


def test_box_cox_that_collapses_the_scores_is_not_used():
    # six nearly equal scores near 15: the MLE lambda is about -30, where x**lambda underflows
    s = np.array([15.0133, 15.0388, 15.0442, 14.9927, 15.7695, 15.2584])
    with pytest.raises(errors.InputError, match=r"maps distinct control scores to equal values"):
        controls_limit(s, "boxcox:robust", warn_small=False)
    lim = controls_limit(s, warn_small=False)
    assert lim.rule == "boxcox:robust"
    assert lim.details["lambda"] == -2.0  # clipped to Box & Cox's range
    assert "lies beyond +/-2" in lim.details["transform_choice"]


def test_mean_2sd_stays_available_as_rice_convention():
    x = _lognormal(29, 5)
    lim = controls_limit(x, "mean+2sd")
    np.testing.assert_allclose(lim.value, x.mean() + 2 * x.std(ddof=1), rtol=1e-14)
    assert "Rice et al. 2013" in lim.citation


# ---------------------------------------------------------------- transference
def test_published_limit_checked_on_40_controls():
    ref = _calibrate(V40)
    lim = ref.signatures["rice6"].upper_limit
    assert lim.value == 12.49
    t = lim.details["transference"]
    # 3 of 40 score 15 >= 12.49; EP28 allows floor(0.1 * 40) = 4; P(X >= 3), X ~ Bin(40, 0.025)
    assert (t["n"], t["n_outside"], t["max_outside"], t["accepted"]) == (40, 3, 4, True)
    np.testing.assert_allclose(t["p_value"], stats.binom.sf(2, 40, 0.025), rtol=1e-12)
    assert lim.notes[-1] == (
        "12.49 on your 40 controls: 3 at or above it; CLSI EP28-A3c accepts at most 10 % "
        f"(4 of 40; 2 of 20): accepted (binomial P(>= 3 | 40, 2.5 %) = {t['p_value']:.2g})"
    )
    assert (
        "a limit transferred from the source's laboratory: verified on 40 local controls"
        in lim.notes
    )
    assert ref.summary().loc["rice6", "transference"] == lim.notes[-1]


def test_published_limit_that_fails_transference_warns():
    # 20 controls, median 1 (mean of 0.95 and 1.05), three at 2.5: 3 of 20 > 2 allowed
    v = np.concatenate([np.linspace(0.5, 0.95, 10), np.linspace(1.05, 1.5, 7), [2.5] * 3])
    with pytest.warns(
        errors.IfnscoreWarning,
        match=r"the published limit does not transfer to these controls: 12.49 on your 20 "
        r"controls: 3 at or above it; CLSI EP28-A3c accepts at most 10 % \(2 of 20\): not "
        r"accepted yet: EP28 asks for 20 more healthy samples",
    ):
        ref = _calibrate(v)
    lim = ref.signatures["rice6"].upper_limit
    assert lim.details["transference"]["accepted"] is False
    assert "NOT verified on 20 local controls" in " ".join(lim.notes)


def test_published_limit_on_few_controls_is_noted_unverified():
    ref = _calibrate(np.linspace(0.6, 1.4, 12))
    notes = ref.signatures["rice6"].upper_limit.notes
    assert notes[-1] == (
        "a limit transferred from the source's laboratory: unverified on local controls "
        "(12 given, fewer than the 20 CLSI EP28-A3c transference needs)"
    )
    # the provenance of 12.49: the case report, an interpreted scale
    assert "J Clin Med 2026 (doi:10.3390/jcm15020709)" in notes[0]
    assert "This is an interpretation" in notes[1]


# ---------------------------------------------------------------- excluded genes
def test_zero_control_median_is_refused_by_name():
    ctrl = _controls(V40)
    ctrl["SIGLEC1"] = 0.0
    ctrl.iloc[:5, ctrl.columns.get_loc("SIGLEC1")] = 3.0  # 35 of 40 zero: median 0
    with pytest.raises(
        errors.InputError,
        match=r"Genes \['SIGLEC1'\] have a control median of 0 in controls, so their fold "
        r"changes are undefined; pass exclude_genes=\['SIGLEC1'\] \(CLI --exclude-genes SIGLEC1\)",
    ):
        ifnscore.calibrate(ctrl, "rice6", scale="linear")


def test_exclude_genes_recorded_and_published_limit_dropped(tmp_path):
    ctrl = _controls(V40)
    ctrl["SIGLEC1"] = 0.0
    ref = ifnscore.calibrate(ctrl, "rice6", scale="linear", exclude_genes=["SIGLEC1"])
    s = ref.signatures["rice6"]
    assert s.excluded_genes == ("SIGLEC1",)
    assert s.genes == RICE6.genes  # the signature as published
    assert s.genes_used == tuple(GENES[:5])
    assert "SIGLEC1" not in ref.gene_params
    assert set(s.limits) == {"controls"}
    assert s.upper_limit.source == "controls"
    # five fold changes of v / median(v) = v: fc_sum = 5 v
    np.testing.assert_allclose(s.control_scores, 5 * V40, rtol=1e-12)
    with pytest.raises(
        errors.InputError,
        match=r"upper_limit='published' for signature 'rice6': the published limit was made with "
        r"all of .* and no longer applies with genes \['SIGLEC1'\] excluded",
    ):
        ifnscore.calibrate(
            ctrl, "rice6", scale="linear", exclude_genes=["SIGLEC1"], upper_limit="published"
        )
    back = Reference.load(ref.save(tmp_path / "ex.json"))
    assert back.signatures["rice6"].excluded_genes == ("SIGLEC1",)
    assert back == ref
    assert ref.summary().loc["rice6", "excluded_genes"] == "SIGLEC1"
    # scoring with it leaves SIGLEC1 out
    (scoring,) = ref.scoring_signatures([RICE6])
    assert scoring.genes == tuple(GENES[:5])
    assert scoring.thresholds == ()
    with pytest.raises(errors.InputError, match=r"no longer applies with genes \['SIGLEC1'\]"):
        resolve_limits("published", signatures=[scoring], method="fc_sum", reference=ref)


def test_exclude_genes_validation():
    with pytest.raises(
        errors.InputError, match=r"exclude_genes= names \['MX1'\], which no signature"
    ):
        _calibrate(V40, exclude_genes=["MX1"])
    with pytest.raises(
        errors.InputError, match=r"must be a list of gene names, e.g. \['SIGLEC1'\]"
    ):
        _calibrate(V40, exclude_genes="SIGLEC1")
    with pytest.raises(errors.InputError, match="without any up-regulated gene"):
        _calibrate(V40, exclude_genes=GENES)


def test_scoring_a_reference_with_excluded_genes_leaves_them_out():
    ctrl = _controls(V40)
    ref = ifnscore.calibrate(ctrl, "rice6", scale="linear", exclude_genes=["SIGLEC1"])
    patients = _controls([2.0, 3.0])  # every fold change 2 or 3
    res = ifnscore.score(patients, reference=ref, scale="linear")
    # five fold changes (SIGLEC1 left out): 5 * 2 and 5 * 3
    np.testing.assert_allclose(res["score"], [10.0, 15.0], rtol=1e-12)
    assert res.attrs["ifnscore"]["signatures"]["rice6"]["upper_limit_source"] == "controls"


def test_few_reads_behind_a_control_median_warn():
    # counts: 40 controls with 5e6 reads each; SIGLEC1 has 3 reads in every control (0.6 CPM)
    rng = np.random.default_rng(0)
    other = [f"G{i:03d}" for i in range(50)]
    X = np.hstack([rng.poisson(2000, (40, 5)), np.full((40, 1), 3), rng.poisson(1000, (40, 50))])
    X[:, -1] += 5_000_000 - X.sum(axis=1)
    ctrl = pd.DataFrame(X, columns=GENES + other, index=[f"c{i}" for i in range(40)])
    with pytest.warns(
        errors.IfnscoreWarning,
        match=r"Control medians of SIGLEC1 \(0.6 CPM\) lie below 1 CPM, i.e. rest on few reads"
        r".*exclude_genes=\['SIGLEC1'\] \(CLI --exclude-genes SIGLEC1\)",
    ):
        ifnscore.calibrate(ctrl, "rice6", scale="counts", upper_limit="controls")


# ---------------------------------------------------------------- reference files
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    ref = _calibrate(V40)
    path = ref.save(tmp_path_factory.mktemp("ref") / "ref.json")
    return ref, json.loads(path.read_text())


def _load(tmp_path, d=None, *, raw=None):
    p = tmp_path / "r.json"
    if raw is not None:
        p.write_bytes(raw)
    else:
        p.write_text(json.dumps(d))
    with pytest.raises(errors.ReferenceError) as info:
        Reference.load(p)
    assert "\n" not in str(info.value)  # one line
    return str(info.value)


def _edit(d, path, value):
    d = copy.deepcopy(d)
    cur = d
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return d


SIG = ("signatures", "rice6")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("n_controls",), True, r"n_controls must be a whole number, got True"),
        (("n_controls",), 40.7, r"n_controls must be a whole number, got 40.7"),
        (("n_controls",), 1, r"n_controls is 1; it must be at least 2"),
        (("schema_version",), 0, r"schema version 0, which no ifnscore writes"),
        (("schema_version",), -1, r"schema version -1, which no ifnscore writes"),
        (("schema_version",), 1.9, r"schema_version 1.9; it must be a whole number"),
        (("schema_version",), True, r"schema_version True; it must be a whole number"),
        (("schema_version",), 99, r"schema version 99, newer than this ifnscore"),
        ((*SIG, "control_summary", "median"), True, r"control_summary median must be a number"),
        ((*SIG, "control_scores", 0), "1.5", r"control_scores\[0\] must be a number"),
        ((*SIG, "upper_limit", "value"), -12.49, r"upper limit value=-12.49 must be > 0"),
        ((*SIG, "upper_limit", "value"), False, r"upper_limit value must be a number, got False"),
        ((*SIG, "limits", "controls", "value"), 0, r"limit 'controls' value=0.0 must be > 0"),
        ((*SIG, "upper_limit", "source"), "guess", r"upper_limit has source 'guess'"),
        ((*SIG, "upper_limit", "notes"), "text", r"notes must be a list of strings"),
        ((*SIG, "excluded_genes"), ["MX1"], r"excludes genes outside its gene list"),
        ((*SIG, "genes_used"), [], r"genes_used is empty"),
        (("gene_params", "IFI27", "centre"), 0.0, r"Genes \['IFI27'\] have a control median of 0"),
        (("gene_params", "IFI27", "centre"), "2", r"parameter 'centre' must be a number"),
        (("control_samples",), ["a"], r"control_samples names 1 controls for n_controls=40"),
        (("method",), 3, r"method must be a string"),
    ],
)
def test_load_checks_every_field(saved, tmp_path, path, value, message):
    _, d = saved
    got = _load(tmp_path, _edit(d, path, value))
    assert re.search(message, got), got


def test_load_refuses_nan_and_infinity_literals(saved, tmp_path):
    _, d = saved
    text = json.dumps(d).replace('"control_scores": [', '"control_scores": [NaN, ', 1)
    assert "holds NaN, which is not a finite number" in _load(tmp_path, raw=text.encode())
    text = json.dumps(_edit(d, (*SIG, "upper_limit", "value"), 1.0)).replace(
        '"value": 1.0', '"value": Infinity', 1
    )
    assert "holds Infinity" in _load(tmp_path, raw=text.encode())
    text = json.dumps(_edit(d, (*SIG, "upper_limit", "value"), 1.0)).replace(
        '"value": 1.0', '"value": 1e999', 1
    )
    assert "must be finite" in _load(tmp_path, raw=text.encode())


def test_load_refuses_pathological_files(saved, tmp_path):
    _, d = saved
    text = json.dumps(d)
    latin = text.replace('"created": "', '"created": "caf\u00e9 ', 1).encode("latin-1")
    assert "is not UTF-8 text" in _load(tmp_path, raw=latin)
    assert "is not UTF-8 text" in _load(tmp_path, raw=text.encode("utf-16"))
    assert "nested too deeply" in _load(tmp_path, raw=b"[" * 100_000 + b"]" * 100_000)
    big = text.replace('"n_controls": 40', '"n_controls": ' + "9" * 5000, 1)
    assert "holds a 5000-digit number" in _load(tmp_path, raw=big.encode())
    assert "is not valid JSON (line 1, column 2" in _load(tmp_path, raw=b"{x")
    assert "is not a JSON object" in _load(tmp_path, raw=b"[1, 2]")
    # a deeply nested field inside an otherwise valid reference
    nested = '{"x": ' * 100_000 + "{}" + "}" * 100_000
    text = json.dumps(d).replace('"partition_test": {}', '"partition_test": ' + nested, 1)
    assert "nested too deeply" in _load(tmp_path, raw=text.encode())


def test_old_schema_1_files_still_load(saved, tmp_path):
    ref, d = saved
    old = copy.deepcopy(d)
    old["schema_version"] = 1
    s = old["signatures"]["rice6"]
    s.pop("excluded_genes")
    for lim in (s["upper_limit"], *s["limits"].values()):
        lim.pop("notes")
    p = tmp_path / "v1.json"
    p.write_text(json.dumps(old))
    back = Reference.load(p)
    assert back.schema_version == 1
    assert back.signatures["rice6"].excluded_genes == ()
    assert back.signatures["rice6"].upper_limit.notes == ()
    assert back.upper_limit == ref.upper_limit
    assert d["schema_version"] == SCHEMA_VERSION == 2


@given(value=st.floats(min_value=1e-300, max_value=1e300, allow_nan=False))
def test_any_finite_positive_limit_round_trips(value):
    ref = _SMALL_REF
    d = ref.to_dict()
    d["signatures"]["rice6"]["upper_limit"] = Limit(value, "user", "given").to_dict()
    back = Reference.from_dict(json.loads(json.dumps(d, allow_nan=False)))
    assert back.signatures["rice6"].upper_limit.value == value
    assert Reference.from_dict(back.to_dict()) == back


@given(value=st.floats(max_value=0.0, allow_nan=False) | st.just(float("nan")))
def test_any_non_positive_limit_is_refused(value):
    d = _SMALL_REF.to_dict()
    d["signatures"]["rice6"]["upper_limit"] = Limit(value, "user", "given").to_dict()
    with pytest.raises(errors.ReferenceError, match=r"upper.limit value"):
        Reference.from_dict(d)
    with pytest.raises(errors.InputError, match="upper_limit="):
        resolve_limits(value, signatures=[RICE6], method="fc_sum")


def test_partitions_below_the_minimum_warn_once():
    # 30 controls split 15 / 15: each partition is below ep28's 20
    labels = ["a", "b"] * 20
    labels = labels[:30]
    with pytest.warns(
        errors.IfnscoreWarning,
        match=r"groups=: partitions 'a' \(n = 15\), 'b' \(n = 15\) of signature 'rice6' have "
        r"fewer controls than rule 'ep28' needs \(20\)",
    ) as got:
        ref = _calibrate(np.linspace(0.5, 1.5, 30), groups=labels)
    assert sum("groups=" in str(w.message) for w in got) == 1
    for part in ref.signatures["rice6"].partitions.values():
        assert "15 controls, below the rule's minimum of 20" in part.details["below_minimum"]
    with pytest.raises(errors.InputError, match="15 controls, below the rule's minimum of 20"):
        _calibrate(np.linspace(0.5, 1.5, 30), groups=labels, strict=True)
