"""calibrate(), the limits a Reference keeps, and classification (positive = score >= limit)."""

import json
import math
import statistics

import numpy as np
import pandas as pd
import pytest

import ifnscore
from ifnscore import errors

RICE6 = list(ifnscore.get_signature("rice6").genes)
CTRL = np.array(
    [
        [1.0, 2.0, 4.0, 8.0, 10.0, 3.0],
        [3.0, 2.0, 2.0, 4.0, 20.0, 5.0],
        [2.0, 6.0, 6.0, 8.0, 30.0, 1.0],
        [4.0, 4.0, 8.0, 16.0, 40.0, 7.0],
    ]
)
# fc_sum of the controls by hand (fold changes over the medians 2.5, 3, 5, 8, 25, 4)
CTRL_FC_SUM = [241 / 60, 289 / 60, 6.45, 593 / 60]
CTRL_LIMIT = statistics.fmean(CTRL_FC_SUM) + 2 * statistics.stdev(CTRL_FC_SUM)
# patient fc_sum by hand: 12 (every fold change 2), 12.49 exactly, 23.5
PATIENTS = np.array(
    [
        [5.0, 6.0, 10.0, 16.0, 50.0, 8.0],
        [5.0, 6.0, 10.0, 16.0, 50.0, 8.0 + 0.49 * 4],
        [25.0, 3.0, 5.0, 4.0, 25.0, 40.0],
    ]
)
PATIENT_FC_SUM = [12.0, 12.49, 23.5]


SMALL = r"4 controls, below the rule's minimum of 20"


def _ref(**kw):
    # mean + 2 SD (Rice 2013's convention), as computed by hand above
    kw.setdefault("scale", "linear")
    kw.setdefault("rule", "mean+2sd")
    return ifnscore.calibrate(CTRL, genes=RICE6, **kw)


def _ref_small(**kw):
    """_ref where the controls' limit classifies: 4 controls are below every rule's minimum."""
    with pytest.warns(errors.IfnscoreWarning, match=SMALL):
        return _ref(**kw)


def test_default_limit_rice6_fc_sum_is_published_12_49():
    ref = _ref()
    assert ref.method == "fc_sum"
    assert ref.upper_limit == 12.49
    chosen = ref.signatures["rice6"].upper_limit
    assert chosen.source == "published"
    assert "10.3390/jcm15020709" in chosen.citation
    assert math.isclose(ref.signatures["rice6"].limits["controls"].value, CTRL_LIMIT, rel_tol=1e-12)
    # the provenance a report prints: the case report, the interpretation, no local check
    notes = chosen.notes
    assert "doi:10.3390/jcm15020709" in notes[0]
    assert "interpretation" in notes[1]
    assert notes[2] == (
        "a limit transferred from the source's laboratory: unverified on local controls "
        "(4 given, fewer than the 20 CLSI EP28-A3c transference needs)"
    )
    assert ref.signatures["rice6"].limits["controls"].details["below_minimum"] == (
        "rule='mean+2sd': 4 controls, below the rule's minimum of 20 (CLSI EP28-A3c's "
        "smallest sample for any estimate)"
    )


def test_classification_is_score_at_or_above_the_limit():
    res = ifnscore.score(PATIENTS, genes=RICE6, scale="linear", reference=_ref())
    np.testing.assert_allclose(res["score"], PATIENT_FC_SUM, rtol=1e-12)
    assert res["score"].iloc[1] == 12.49  # exactly at the limit (both sides rounded alike)
    assert res["positive"].tolist() == [False, True, True]
    np.testing.assert_allclose(res["fold_over_limit"], np.array(PATIENT_FC_SUM) / 12.49, rtol=1e-12)
    assert list(res.columns)[:3] == ["score", "positive", "fold_over_limit"]
    assert "n_genes" in res.columns
    assert res["positive"].dtype == bool
    meta = res.attrs["ifnscore"]["signatures"]["rice6"]
    assert meta["upper_limit"] == 12.49
    assert meta["upper_limit_source"] == "published"


def test_fc_median_default_limit_is_rice_2_466():
    ref = _ref(method="fc_median")
    assert ref.upper_limit == 2.466
    assert "S1474-4422(13)70258-8" in ref.signatures["rice6"].upper_limit.citation
    res = ifnscore.score(PATIENTS, genes=RICE6, scale="linear", reference=ref)
    # medians of fold changes: 2, 2, 1
    np.testing.assert_allclose(res["score"], [2.0, 2.0, 1.0], rtol=1e-12)
    assert res["positive"].tolist() == [False, False, False]
    med = [statistics.median(np.array(r) / [2.5, 3, 5, 8, 25, 4]) for r in CTRL]
    np.testing.assert_allclose(
        ref.signatures["rice6"].limits["controls"].value,
        statistics.fmean(med) + 2 * statistics.stdev(med),
        rtol=1e-12,
    )


@pytest.mark.parametrize("method", ["fc_geomean", "fc_mean", "z_sum", "z_mean", "mean_log"])
def test_pairs_without_a_published_limit_use_the_controls(method):
    ref = _ref_small(method=method)
    chosen = ref.signatures["rice6"].upper_limit
    assert chosen.source == "controls"
    assert set(ref.signatures["rice6"].limits) == {"controls"}
    s = ref.signatures["rice6"].control_scores
    assert math.isclose(chosen.value, statistics.fmean(s) + 2 * statistics.stdev(s), rel_tol=1e-12)
    with pytest.raises(
        errors.InputError,
        match=rf"upper_limit='published' for signature 'rice6': the source publishes no limit "
        rf"for signature 'rice6' with method='{method}'; use 'controls' or a number\.",
    ):
        _ref(method=method, upper_limit="published")


def test_other_signature_fc_sum_uses_the_controls():
    genes = list(ifnscore.get_signature("ifngs4").genes)
    with pytest.warns(errors.IfnscoreWarning, match=SMALL):
        ref = ifnscore.calibrate(CTRL[:, :4], "ifngs4", genes=genes, scale="linear", rows="samples")
    assert ref.signatures["ifngs4"].upper_limit.source == "controls"


def test_upper_limit_choices_in_calibrate():
    assert _ref_small(upper_limit="controls").upper_limit == pytest.approx(CTRL_LIMIT, rel=1e-12)
    assert _ref(upper_limit="published").upper_limit == 12.49
    user = _ref(upper_limit=10)
    assert user.upper_limit == 10.0
    assert user.signatures["rice6"].upper_limit.source == "user"
    assert set(user.signatures["rice6"].limits) == {"controls", "published", "user"}
    assert _ref_small(upper_limit={"rice6": "controls"}).upper_limit == pytest.approx(CTRL_LIMIT)
    with pytest.raises(
        errors.InputError,
        match=r"upper_limit names signatures \['ifngs4'\] that are not calibrated",
    ):
        _ref(upper_limit={"ifngs4": 3.0})
    with pytest.raises(errors.InputError, match="upper_limit='max' is not valid"):
        _ref(upper_limit="max")
    with pytest.raises(errors.InputError, match=r"upper_limit=nan must be a finite number\."):
        _ref(upper_limit=float("nan"))
    with pytest.raises(errors.InputError, match=r"upper_limit=\[1\] is not valid"):
        _ref(upper_limit=[1])
    res = ifnscore.score(PATIENTS, genes=RICE6, scale="linear", reference=user)
    assert res["positive"].tolist() == [True, True, True]


def test_published_limit_not_used_when_a_gene_is_missing():
    with (
        pytest.warns(errors.MissingGenesWarning, match="SIGLEC1"),
        pytest.warns(errors.IfnscoreWarning, match=SMALL),
    ):
        ref = ifnscore.calibrate(CTRL[:, :5], genes=RICE6[:5], scale="linear", rule="mean+2sd")
    s = ref.signatures["rice6"]
    assert s.genes_used == tuple(RICE6[:5])
    assert set(s.limits) == {"controls"}
    assert s.upper_limit.source == "controls"
    with (
        pytest.warns(errors.MissingGenesWarning),
        pytest.raises(
            errors.InputError,
            match=r"the published limit needs every signature gene, and \['SIGLEC1'\] were not found",
        ),
    ):
        ifnscore.calibrate(CTRL[:, :5], genes=RICE6[:5], scale="linear", upper_limit="published")


def test_upper_limit_override_in_score():
    ref = _ref()
    kw = {"genes": RICE6, "scale": "linear", "reference": ref}
    res = ifnscore.score(PATIENTS, upper_limit=20, **kw)
    assert res["positive"].tolist() == [False, False, True]
    assert res.attrs["ifnscore"]["signatures"]["rice6"]["upper_limit_source"] == "user"
    res = ifnscore.score(PATIENTS, upper_limit="controls", **kw)
    np.testing.assert_allclose(res["fold_over_limit"], np.array(PATIENT_FC_SUM) / CTRL_LIMIT)
    assert res.attrs["ifnscore"]["signatures"]["rice6"]["upper_limit_source"] == "controls"
    res = ifnscore.score(PATIENTS, upper_limit={"rice6": "published"}, **kw)
    assert res.attrs["ifnscore"]["signatures"]["rice6"]["upper_limit"] == 12.49
    with pytest.raises(
        errors.InputError, match=r"names signatures \['ifngs4'\] that are not scored"
    ):
        ifnscore.score(PATIENTS, upper_limit={"ifngs4": 3.0}, **kw)
    with pytest.raises(errors.InputError, match="upper_limit='best' is not valid"):
        ifnscore.score(PATIENTS, upper_limit="best", **kw)
    with pytest.raises(errors.InputError, match=r"upper_limit=inf must be a finite number\."):
        ifnscore.score(PATIENTS, upper_limit=float("inf"), **kw)
    with pytest.raises(
        errors.InputError,
        match=r"upper_limit='published' for signature 'rice6': the source publishes no limit "
        r"for signature 'rice6' with method='fc_mean'; use 'controls' or a number\.",
    ):
        ifnscore.score(
            PATIENTS, upper_limit="published", **{**kw, "reference": _ref_small(method="fc_mean")}
        )
    with pytest.raises(
        errors.InputError,
        match=r"upper_limit='controls' for signature 'rice6': the controls' limit comes from a "
        r"reference; pass reference= or use 'published' or a number\.",
    ):
        ifnscore.score(
            PATIENTS, genes=RICE6, scale="linear", method="mean_log", upper_limit="controls"
        )


def test_single_sample_method_without_a_limit_has_no_positive_column():
    res = ifnscore.score(PATIENTS, genes=RICE6, scale="linear", method="mean_log")
    assert "positive" not in res.columns
    assert "fold_over_limit" not in res.columns
    assert res.attrs["ifnscore"]["signatures"]["rice6"]["upper_limit"] is None
    res = ifnscore.score(PATIENTS, genes=RICE6, scale="linear", method="mean_log", upper_limit=3.5)
    assert list(res.columns)[:3] == ["score", "positive", "fold_over_limit"]
    expected = [statistics.fmean(math.log2(x + 1) for x in r) for r in PATIENTS]
    assert res["positive"].tolist() == [e >= 3.5 for e in expected]


def test_several_signatures_layout():
    genes = [*RICE6, "IFI44", "MX1"]
    rng = np.random.default_rng(2)
    ctrl = rng.lognormal(2, 0.4, size=(10, len(genes)))
    with pytest.warns(errors.IfnscoreWarning, match="10 controls, below the rule's minimum of 20"):
        ref = ifnscore.calibrate(ctrl, ["rice6", "ifngs4"], genes=genes, scale="linear")
    res = ifnscore.score(ctrl * 3, genes=genes, scale="linear", reference=ref)
    assert res.columns.names == ["signature", "field"]
    assert res.columns.get_level_values(0).unique().tolist() == ["rice6", "ifngs4"]
    one = ifnscore.score(ctrl * 3, "ifngs4", genes=genes, scale="linear", reference=ref)
    pd.testing.assert_series_equal(res["ifngs4", "score"], one["score"], check_names=False)
    table = res.xs("score", axis=1, level="field")
    assert list(table.columns) == ["rice6", "ifngs4"]
    with pytest.raises(errors.ReferenceMismatchError, match="holds 2 signatures"):
        _ = ref.upper_limit
    assert ref.signatures["rice6"].upper_limit.value == 12.49
    summary = ref.summary()
    assert summary.loc["ifngs4", "limit_source"] == "controls"
    assert summary.loc["rice6", "n_controls"] == 10


def test_reference_contents_and_save_load(tmp_path):
    ref = _ref_small(method="z_sum")
    d = ref.to_dict()
    for key in (
        "schema",
        "schema_version",
        "ifnscore_version",
        "created",
        "method",
        "scale",
        "n_controls",
        "gene_params",
        "signatures",
    ):
        assert key in d
    s = d["signatures"]["rice6"]
    assert s["genes"] == RICE6
    assert s["upper_limit"]["rule"] == "mean+2sd"
    assert s["limits"]["controls"]["details"]["n"] == 4
    assert set(d["gene_params"]["IFI27"]) == {"centre", "spread"}
    assert d["n_controls"] == 4
    path = ref.save(tmp_path / "sub" / "ref.json")
    assert path.exists()
    assert [p.name for p in path.parent.iterdir()] == ["ref.json"]  # no temp file left behind
    assert json.loads(path.read_text())["method"] == "z_sum"
    back = ifnscore.Reference.load(str(path))
    assert back == ref
    pd.testing.assert_frame_equal(back.summary(), ref.summary())
    assert "Reference(method='z_sum'" in repr(ref)


def test_bundled_controls_give_a_limit_near_12_5(ref_fc_sum, controls):
    # The simulator is tuned so the healthy fc_sum mean + 2 SD lands near the published 12.49.
    rice = ifnscore.calibrate(controls, "rice6", rule="mean+2sd")
    assert 10.5 < rice.signatures["rice6"].limits["controls"].value < 14.5
    # EP28's default estimates the 97.5th percentile of these right-skewed scores higher
    ep28 = ref_fc_sum.signatures["rice6"].limits["controls"]
    assert ep28.rule == "boxcox:robust"
    assert ep28.value > rice.signatures["rice6"].limits["controls"].value
    assert ref_fc_sum.n_controls == 40
    summary = ref_fc_sum.signatures["rice6"].summary
    assert 5.0 < summary["median"] < 7.0  # healthy fold changes near 1, six genes


def test_reference_pickles():
    import pickle

    ref = _ref_small(method="z_mean")
    back = pickle.loads(pickle.dumps(ref))
    assert back == ref
    with pytest.raises(TypeError, match="read-only"):
        back.signatures["rice6"] = None  # type: ignore[index]
