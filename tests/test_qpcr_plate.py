"""Relative quantities from plates (ifnscore._io._qpcr.relative_quantities).

Built on long Ct tables made with ``_ct._common.finish`` (the reader contract), so these tests
do not depend on any vendor reader. Every expected number is a hand computation written out
in the comments; tolerance rtol 1e-12 unless said otherwise.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from ifnscore._io._ct._common import finish
from ifnscore._io._qpcr import looks_like_qpcr, relative_quantities
from ifnscore.errors import IfnscoreWarning, InputError

U = None  # an undetermined well


def plate(rows, file="plate1.csv", quantity=False):
    """A long Ct table from (well, sample, target, ct or U[, task[, omitted[, quantity]]])."""
    out = []
    for r in rows:
        well, sample, target, ct, *rest = r
        task = rest[0] if len(rest) > 0 else "Unknown"
        omitted = rest[1] if len(rest) > 1 else False
        d = {
            "well": well,
            "sample": sample,
            "target": target,
            "ct": math.nan if ct is None else ct,
            "undetermined": ct is None,
            "task": task,
            "omitted": omitted,
        }
        if quantity:
            d["quantity"] = rest[2] if len(rest) > 2 else math.nan
        out.append(d)
    return finish(pd.DataFrame(out), where=file, fmt="test", vendor="test vendor")


def wells(sample, target, cts, start=0, row="A"):
    return [(f"{row}{start + i + 1}", sample, target, c) for i, c in enumerate(cts)]


def refs(sample, hprt, s18, row="A", start=0):
    return wells(sample, "HPRT1", hprt, start, row) + wells(sample, "18S", s18, start + 10, row)


# P1: HPRT1 (25.0, 25.4) -> 25.2, 18S (9.0, 9.4) -> 9.2; reference mean 17.2
REPLICATES = (
    refs("P1", [25.0, 25.4], [9.0, 9.4])
    + wells("P1", "IFI27", [28.0, U], 20)  # tie (1 of 2): ignored -> 28
    + wells("P1", "ISG15", [30.0, 30.6, U], 30)  # minority: ignored -> 30.3
    + wells("P1", "RSAD2", [31.0, U, U], 40)  # majority: (31 + 40 + 40)/3 = 37, censored
    + wells("P1", "SIGLEC1", [U, U], 50)  # all: 40, censored
)


def test_replicate_rule_by_hand():
    with pytest.warns(IfnscoreWarning, match=r"2 sample x target value\(s\) have most replicates"):
        a = relative_quantities(plate(REPLICATES))
    assert list(a.var_names) == ["IFI27", "ISG15", "RSAD2", "SIGLEC1"]
    ct = np.array([[28.0, 30.3, 37.0, 40.0]])
    np.testing.assert_allclose(a.layers["ct"], ct, rtol=1e-12)
    assert a.layers["ct"][0, 0] == pytest.approx(28.0, rel=1e-12)  # 28, not (28 + 40)/2 = 34
    dct = ct - 17.2
    np.testing.assert_allclose(a.layers["delta_ct"], dct, rtol=1e-12)
    np.testing.assert_allclose(a.layers["log2_rq"], -dct, rtol=1e-12)
    np.testing.assert_allclose(a.X, 2.0**-dct, rtol=1e-12)
    assert a.layers["censored"].tolist() == [[False, False, True, True]]
    assert a.obs.loc["P1", "qpcr_censored"] == "RSAD2,SIGLEC1"
    assert a.obs.loc["P1", "qpcr_undetermined_ignored"] == "IFI27,ISG15"
    # SD (ddof=1): ISG15 sd(30, 30.6) = 0.424 <= 0.5; RSAD2 sd(31, 40, 40) = 5.196 > 0.5
    assert a.obs.loc["P1", "qpcr_high_sd"] == "RSAD2"
    assert bool(a.obs.loc["P1", "qpcr_flagged"])
    np.testing.assert_allclose(a.obs["reference_ct"], [17.2], rtol=1e-12)
    info = a.uns["ifnscore_read"]
    assert info["scale"] == "rq"
    assert info["format"] == "qpcr"
    assert info["undetermined_ignored"] == [
        "plate1: sample 'P1', target 'IFI27': 1 of 2 replicates undetermined (well A22), ignored; "
        "Ct = mean of the 1 amplified",
        "plate1: sample 'P1', target 'ISG15': 1 of 3 replicates undetermined (well A33), ignored; "
        "Ct = mean of the 2 amplified",
    ]
    assert info["censored"][0].startswith("plate1: sample 'P1', target 'RSAD2': 2 of 3 replicates")
    assert a.obs.loc["P1", "plate"] == "plate1"


def test_max_ct_sets_the_censored_value():
    rows = refs("P1", [25.0], [9.0]) + wells("P1", "IFI27", [U], 20)  # 1 of 1: censored at 35
    with pytest.warns(IfnscoreWarning, match="censored at max_ct=35"):
        a = relative_quantities(plate(rows), max_ct=35)
    np.testing.assert_allclose(a.layers["delta_ct"], [[35.0 - 17.0]], rtol=1e-12)


def test_non_sample_wells_are_excluded_and_reported():
    rows = (
        refs("P1", [25.0], [9.0])
        + wells("P1", "IFI27", [20.0])
        + [
            ("H1", "NTC", "IFI27", U, "NTC"),
            ("H2", "NTC", "HPRT1", 45.0, "NTC"),  # above max_ct, but not a sample: no error
            ("H3", "Std1", "IFI27", 15.0, "Standard"),
            ("H4", "neg", "IFI27", U, "Negative Control"),
            ("H5", "pos", "IFI27", 18.0, "Pos Ctrl"),
            ("H6", "P1", "IFI27", 10.0, "Unknown", True),  # omitted: its 10.0 is not averaged
            ("H7", "", "IFI27", U),  # an empty well
            ("H8", "P1", "", 22.0),
        ]
    )
    a = relative_quantities(plate(rows))
    np.testing.assert_allclose(a.layers["ct"], [[20.0]], rtol=1e-12)
    info = a.uns["ifnscore_read"]
    assert info["excluded_wells"] == {
        "ntc": 2,
        "standard": 1,
        "negative": 1,
        "positive": 1,
        "omitted": 1,
        "no sample name": 1,
        "no target": 1,
    }
    assert "plate1 H1: sample 'NTC', target 'IFI27': ntc" in info["excluded"]
    assert "plate1 H6: sample 'P1', target 'IFI27': omitted" in info["excluded"]
    assert len(info["excluded"]) == 8


@pytest.mark.parametrize(
    ("ct", "message"),
    [
        (
            math.inf,
            r"plate1\.csv: well 'A21' \(sample 'P1', target 'IFI27'\) has Ct inf, which is not",
        ),
        (
            -2.0,
            r"plate1\.csv: well 'A21' \(sample 'P1', target 'IFI27'\) has Ct -2\.0, which is not",
        ),
        (
            41.5,
            r"plate1\.csv: well 'A21' \(sample 'P1', target 'IFI27'\) has Ct 41\.5, above max_ct=40; "
            r"pass the run's number of cycles as max_ct= \(CLI --max-ct\)\.",
        ),
    ],
)
def test_impossible_ct_is_an_error_naming_the_well(ct, message):
    rows = refs("P1", [25.0], [9.0]) + wells("P1", "IFI27", [ct], 20)
    with pytest.raises(InputError, match=message):
        relative_quantities(plate(rows))


def test_infinite_ct_in_a_control_well_is_an_error_too():
    rows = (
        refs("P1", [25.0], [9.0])
        + wells("P1", "IFI27", [20.0], 20)
        + [("H1", "NTC", "IFI27", math.inf, "NTC")]
    )
    with pytest.raises(InputError, match=r"well 'H1' \(sample 'NTC', target 'IFI27'\) has Ct inf"):
        relative_quantities(plate(rows))


def test_reference_genes_case_insensitive_and_aliases():
    rows = (
        wells("P1", "hprt1", [25.0])
        + wells("P1", "18S rRNA", [9.0], 10)
        + wells("P1", "IFI27", [20.0], 20)
    )
    a = relative_quantities(plate(rows))
    assert list(a.var_names) == ["IFI27"]
    np.testing.assert_allclose(a.layers["delta_ct"], [[20.0 - 17.0]], rtol=1e-12)
    assert a.uns["ifnscore_read"]["plates"]["plate1"]["reference_genes"] == ["hprt1", "18S rRNA"]
    b = relative_quantities(plate(rows), reference_genes=["Hprt1"])  # one reference gene
    assert list(b.var_names) == ["18S rRNA", "IFI27"]
    np.testing.assert_allclose(b.layers["delta_ct"], [[9.0 - 25.0, 20.0 - 25.0]], rtol=1e-12)


def test_missing_reference_gene_lists_the_targets():
    rows = wells("P1", "GAPDH", [18.0]) + wells("P1", "IFI27", [20.0], 20)
    with pytest.raises(
        InputError,
        match=r"plate1\.csv: reference gene\(s\) \['HPRT1', '18S'\] not on the plate \(targets found: "
        r"\['GAPDH', 'IFI27'\]\); pass reference_genes= with this plate's reference genes "
        r"\(CLI --reference-genes\)\.",
    ):
        relative_quantities(plate(rows))
    a = relative_quantities(plate(rows), reference_genes="GAPDH")
    np.testing.assert_allclose(a.layers["delta_ct"], [[2.0]], rtol=1e-12)


def test_undetermined_reference_gene_names_sample_and_wells():
    rows = refs("P1", [25.0, U, U], [9.0]) + wells("P1", "IFI27", [20.0], 20)
    with pytest.raises(
        InputError,
        match=r"plate1\.csv: reference gene 'HPRT1' is undetermined in most replicates of sample 'P1' "
        r"\(wells A2, A3\), so that sample cannot be normalised",
    ):
        relative_quantities(plate(rows))
    # a minority undetermined reference replicate is ignored (HPRT1 = 25) and flagged
    rows = refs("P1", [25.0, 25.0, U], [9.0]) + wells("P1", "IFI27", [20.0], 20)
    a = relative_quantities(plate(rows))
    np.testing.assert_allclose(a.layers["delta_ct"], [[3.0]], rtol=1e-12)
    assert a.obs.loc["P1", "qpcr_undetermined_ignored"] == "HPRT1"


def test_sample_without_reference_well():
    rows = (
        refs("P1", [25.0], [9.0])
        + wells("P2", "HPRT1", [24.0], 5)
        + wells("P1", "IFI27", [20.0], 20)
    )
    rows += wells("P2", "IFI27", [21.0], 25)
    with pytest.raises(
        InputError, match=r"sample 'P2' has no well for reference gene\(s\) \['18S'\]"
    ):
        relative_quantities(plate(rows))


def test_only_reference_genes():
    with pytest.raises(InputError, match="holds only the reference genes"):
        relative_quantities(plate(refs("P1", [25.0], [9.0])))


def test_duplicated_well_target_rows():
    rows = [*refs("P1", [25.0], [9.0]), ("A5", "P1", "IFI27", 20.0), ("A5", "P1", "IFI27", 21.0)]
    with pytest.raises(InputError, match=r"well 'A5' has target 'IFI27' on several rows"):
        relative_quantities(plate(rows))


# ----------------------------------------------------------------------------- efficiency

EFF_ROWS = (
    refs("P1", [25.0], [9.0])
    + wells("P1", "IFI27", [22.0], 20)
    + refs("C1", [24.0], [10.0], row="B")
    + wells("C1", "IFI27", [27.0], 20, row="B")
)


def test_efficiency_dict_against_the_qbase_formula():
    eff = {"ifi27": 1.9, "HPRT1": 2.0, "18S": 1.95}  # keys in any case
    a = relative_quantities(plate(EFF_ROWS), efficiency=eff, calibrator="C1")
    # Hellemans 2007: RQ = E_t^(Ct_cal - Ct_s) / geomean_r E_r^(Ct_cal,r - Ct_s,r)
    # P1 vs C1: 1.9^(27 - 22) / sqrt(2.0^(24 - 25) * 1.95^(10 - 9))
    p1 = 1.9**5 / math.sqrt(2.0**-1 * 1.95**1)
    np.testing.assert_allclose(a.X[:, 0], [p1, 1.0], rtol=1e-12)
    # without a calibrator: E_t^-Ct / geomean(E_r^-Ct_r)
    b = relative_quantities(plate(EFF_ROWS), efficiency=eff)
    c1 = 1.9**-27 / math.sqrt(2.0**-24 * 1.95**-10)
    np.testing.assert_allclose(b.X[1, 0], c1, rtol=1e-12)
    np.testing.assert_allclose(b.layers["log2_rq"][1, 0], math.log2(c1), rtol=1e-12)
    # delta_ct stays the plain Ct difference: 27 - (24 + 10)/2 = 10
    np.testing.assert_allclose(b.layers["delta_ct"][1, 0], 10.0, rtol=1e-12)
    assert b.uns["ifnscore_read"]["efficiency"]["plate1"]["IFI27"] == {"E": 1.9}
    # E = 2 everywhere is 2^-ddCt: P1 dCt 22 - 17 = 5, C1 10 -> RQ 2^5
    c = relative_quantities(
        plate(EFF_ROWS), efficiency=dict.fromkeys(["IFI27", "HPRT1", "18S"], 2.0), calibrator="C1"
    )
    np.testing.assert_allclose(c.X[:, 0], [32.0, 1.0], rtol=1e-12)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            95,
            r"efficiency\['IFI27'\]=95 is not an amplification factor in \(1, 2\.2\] \(2\.0 = 100 % "
            r"efficiency\); it looks like a percentage: give E = 1 \+ 95/100 = 1\.95\.",
        ),
        (
            0.95,
            r"efficiency\['IFI27'\]=0\.95 .* it looks like a fraction: give E = 1 \+ 0\.95 = 1\.95\.",
        ),
        (
            2.5,
            r"efficiency\['IFI27'\]=2\.5 is not an amplification factor .* check the assay's standard",
        ),
        (1.0, r"efficiency\['IFI27'\]=1 is not an amplification factor"),
        ("1.9", r"efficiency\['IFI27'\]='1\.9' is not a number"),
        (True, r"efficiency\['IFI27'\]=True is not a number"),
        (math.nan, r"efficiency\['IFI27'\]=nan is not a number"),
    ],
)
def test_efficiency_values_are_validated(value, message):
    with pytest.raises(InputError, match=message):
        relative_quantities(plate(EFF_ROWS), efficiency={"IFI27": value, "HPRT1": 2.0, "18S": 2.0})


def test_efficiency_must_cover_every_target():
    with pytest.raises(
        InputError, match=r"efficiency= gives no amplification factor for target\(s\) \['18S'\]"
    ):
        relative_quantities(plate(EFF_ROWS), efficiency={"IFI27": 1.9, "HPRT1": 2.0})
    with pytest.raises(InputError, match=r"efficiency='pfaffl' is not valid"):
        relative_quantities(plate(EFF_ROWS), efficiency="pfaffl")
    with pytest.raises(InputError, match=r"names target 'ifi27' twice"):
        relative_quantities(plate(EFF_ROWS), efficiency={"IFI27": 1.9, "ifi27": 1.9})
    a = relative_quantities(
        plate(EFF_ROWS), efficiency={"IFI27": 1.9, "HPRT1": 2.0, "18S": 2.0, "MX1": 2.0}
    )
    assert (
        "plate plate1: efficiency= names target(s) ['MX1'] that are not on it."
        in a.uns["ifnscore_read"]["notes"]
    )


def standards(target, intercept, slope, start, *, quantities=(1e1, 1e2, 1e3, 1e4, 1e5)):
    """Standard wells on an exact line Ct = intercept + slope * log10(q)."""
    return [
        (
            f"S{start + i}",
            f"Std{i}",
            target,
            intercept + slope * math.log10(q),
            "Standard",
            False,
            q,
        )
        for i, q in enumerate(quantities)
    ]


def test_standard_curve_efficiency():
    rows = [(*r, "Unknown", False, math.nan) for r in EFF_ROWS]
    rows += (
        standards("IFI27", 36.0, -3.5, 0)
        + standards("HPRT1", 33.0, -3.32, 10)
        + standards("18S", 20.0, -3.4, 20)
    )
    rows += [
        ("S99", "Std9", "IFI27", U, "Standard", False, 1.0)
    ]  # an undetermined standard: not used
    a = relative_quantities(
        plate(rows, quantity=True), efficiency="standard_curve", calibrator="C1"
    )
    e = {"IFI27": 10 ** (1 / 3.5), "HPRT1": 10 ** (1 / 3.32), "18S": 10 ** (1 / 3.4)}
    curve = a.uns["ifnscore_read"]["efficiency"]["plate1"]
    for t, v in e.items():
        assert curve[t]["E"] == pytest.approx(v, rel=1e-12)
        assert curve[t]["n_quantities"] == 5
    assert curve["IFI27"]["slope"] == pytest.approx(-3.5, rel=1e-12)
    assert curve["IFI27"]["r2"] == pytest.approx(1.0, rel=1e-12)
    p1 = e["IFI27"] ** 5 / math.sqrt(e["HPRT1"] ** -1 * e["18S"] ** 1)
    np.testing.assert_allclose(a.X[:, 0], [p1, 1.0], rtol=1e-12)
    assert a.uns["ifnscore_read"]["excluded_wells"] == {"standard": 16}


def test_standard_curve_refusals():
    base = [(*r, "Unknown", False, math.nan) for r in EFF_ROWS]
    with pytest.raises(
        InputError,
        match=r"plate1\.csv: efficiency='standard_curve' needs the standards' known "
        r"quantities, and this export has no quantity column",
    ):
        relative_quantities(plate(EFF_ROWS), efficiency="standard_curve")
    rows = base + standards("IFI27", 36.0, -3.5, 0) + standards("HPRT1", 33.0, -3.32, 10)
    with pytest.raises(
        InputError,
        match=r"needs standards of target '18S' at 3 or more quantities on plate "
        r"'plate1', and it has no standard wells \(targets with standards: \['HPRT1', 'IFI27'\]\)",
    ):
        relative_quantities(plate(rows, quantity=True), efficiency="standard_curve")
    rows = base + standards("IFI27", 36.0, -3.5, 0) + standards("HPRT1", 33.0, -3.32, 10)
    rows += standards("18S", 20.0, -3.4, 20, quantities=(1e1, 1e2))
    with pytest.raises(
        InputError, match=r"target '18S' .* it has standards at 2 quantities with a Ct"
    ):
        relative_quantities(plate(rows, quantity=True), efficiency="standard_curve")
    rows = base + standards("IFI27", 36.0, -2.0, 0) + standards("HPRT1", 33.0, -3.32, 10)
    rows += standards("18S", 20.0, -3.4, 20)
    # slope -2: E = 10^(1/2) = 3.162
    with pytest.raises(
        InputError,
        match=r"standard curve of target 'IFI27' on plate 'plate1' has slope -2 "
        r"cycles per log10 quantity \(E = 3\.162\), outside \(1, 2\.2\]",
    ):
        relative_quantities(plate(rows, quantity=True), efficiency="standard_curve")


# ----------------------------------------------------------------------------- calibrator

CAL_ROWS = (
    refs("P1", [25.0], [9.0])
    + wells("P1", "IFI27", [20.0], 20)  # dCt 3
    + refs("C1", [24.0], [10.0], row="B")
    + wells("C1", "IFI27", [27.0], 20, row="B")  # dCt 10
    + refs("C2", [26.0], [8.0], row="C")
    + wells("C2", "IFI27", [28.0], 20, row="C")  # dCt 11
)


def test_calibrators():
    a = relative_quantities(plate(CAL_ROWS))
    np.testing.assert_allclose(a.X[:, 0], 2.0 ** -np.array([3.0, 10.0, 11.0]), rtol=1e-12)
    assert a.uns["ifnscore_read"]["calibrator"].startswith("none")
    b = relative_quantities(plate(CAL_ROWS), calibrator="C1")
    np.testing.assert_allclose(b.X[:, 0], 2.0 ** -np.array([-7.0, 0.0, 1.0]), rtol=1e-12)
    c = relative_quantities(plate(CAL_ROWS), calibrator=["C1", "C2"])  # mean dCt 10.5
    np.testing.assert_allclose(c.X[:, 0], 2.0 ** -np.array([-7.5, -0.5, 0.5]), rtol=1e-12)
    assert c.uns["ifnscore_read"]["calibrator"] == ["C1", "C2"]
    with pytest.raises(
        InputError,
        match=r"calibrator sample 'nobody' is not a sample of the plate\(s\) "
        r"\(samples: \['P1', 'C1', 'C2'\]\)",
    ):
        relative_quantities(plate(CAL_ROWS), calibrator="nobody")


def test_censored_calibrator_is_refused():
    rows = [r if r[:3] != ("B21", "C1", "IFI27") else ("B21", "C1", "IFI27", U) for r in CAL_ROWS]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IfnscoreWarning)
        with pytest.raises(
            InputError,
            match=r"plate1\.csv: calibrator sample 'C1' has most replicates "
            r"undetermined for target 'IFI27', so it cannot calibrate that target",
        ):
            relative_quantities(plate(rows), calibrator="C1")


# ----------------------------------------------------------------------------- plates

PLATE_A = (
    refs("P1", [25.0], [9.0])
    + wells("P1", "IFI27", [20.0], 20)
    + refs("C1", [24.0], [10.0], row="B")
    + wells("C1", "IFI27", [27.0], 20, row="B")
)
# plate B runs hotter: references 2 cycles later; P1's dCt there is 22.5 - 19 = 3.5
PLATE_B = (
    refs("P1", [27.0], [11.0])
    + wells("P1", "IFI27", [22.5], 20)
    + refs("C2", [26.0], [12.0], row="B")
    + wells("C2", "IFI27", [30.0], 20, row="B")
)


def test_several_plates_keep_runs_apart():
    a = relative_quantities([plate(PLATE_A, "run/plateA.csv"), plate(PLATE_B, "run/plateB.csv.gz")])
    assert list(a.obs_names) == ["P1@plateA", "C1", "P1@plateB", "C2"]
    assert a.obs["sample"].tolist() == ["P1", "C1", "P1", "C2"]
    assert a.obs["plate"].tolist() == ["plateA", "plateA", "plateB", "plateB"]
    # each plate normalised with its own references: dCt 3, 10 | 3.5, 11
    np.testing.assert_allclose(a.layers["delta_ct"][:, 0], [3.0, 10.0, 3.5, 11.0], rtol=1e-12)
    np.testing.assert_allclose(a.obs["reference_ct"], [17.0, 17.0, 19.0, 19.0], rtol=1e-12)
    assert any("each run is a row named sample@plate" in n for n in a.uns["ifnscore_read"]["notes"])
    assert a.uns["ifnscore_read"]["source"] == ["plateA.csv", "plateB.csv.gz"]  # attrs: the names
    # one calibrator for all plates: every run of C1 and C2, mean dCt 10.5
    b = relative_quantities(
        [plate(PLATE_A, "plateA.csv"), plate(PLATE_B, "plateB.csv")], calibrator=["C1", "C2"]
    )
    np.testing.assert_allclose(
        b.layers["log2_rq"][:, 0], -(np.array([3.0, 10.0, 3.5, 11.0]) - 10.5), rtol=1e-12
    )
    c = relative_quantities(
        [plate(PLATE_A, "plateA.csv"), plate(PLATE_B, "plateB.csv")], calibrator="P1@plateB"
    )
    np.testing.assert_allclose(
        c.layers["log2_rq"][:, 0], -(np.array([3.0, 10.0, 3.5, 11.0]) - 3.5), rtol=1e-12
    )


def test_several_plates_mean():
    a = relative_quantities(
        [plate(PLATE_A, "plateA.csv"), plate(PLATE_B, "plateB.csv")], combine_plates="mean"
    )
    assert list(a.obs_names) == ["P1", "C1", "C2"]
    # P1: mean of log2 RQ -3 and -3.5 = -3.25 (the geometric mean of the RQ)
    np.testing.assert_allclose(a.layers["log2_rq"][:, 0], [-3.25, -10.0, -11.0], rtol=1e-12)
    np.testing.assert_allclose(a.X[:, 0], 2.0 ** np.array([-3.25, -10.0, -11.0]), rtol=1e-12)
    assert a.obs["plate"].tolist() == ["plateA+plateB", "plateA", "plateB"]
    assert a.obs["n_plates"].tolist() == [2, 1, 1]


def test_same_stem_twice_and_bad_options():
    a = relative_quantities([plate(PLATE_A, "x/plate.csv"), plate(PLATE_B, "y/plate.csv")])
    assert a.obs["plate"].tolist() == ["plate", "plate", "plate#2", "plate#2"]
    with pytest.raises(
        InputError, match=r"combine_plates='sum' is not valid; use 'keep' or 'mean'\."
    ):
        relative_quantities(plate(PLATE_A), combine_plates="sum")
    with pytest.raises(
        InputError, match=r"max_ct=-1 is not valid; give a positive number of cycles\."
    ):
        relative_quantities(plate(PLATE_A), max_ct=-1)
    with pytest.raises(InputError, match=r"reference_genes=\[\]: give at least one reference gene"):
        relative_quantities(plate(PLATE_A), reference_genes=[])


def test_input_is_not_mutated_and_h5ad_round_trip(tmp_path):
    t = plate(REPLICATES)
    before = t.copy(deep=True)
    with pytest.warns(IfnscoreWarning):
        a = relative_quantities(t)
    pd.testing.assert_frame_equal(t, before)
    anndata = pytest.importorskip("anndata")
    a.write_h5ad(tmp_path / "rq.h5ad")
    b = anndata.read_h5ad(tmp_path / "rq.h5ad")
    np.testing.assert_array_equal(b.X, a.X)
    assert b.uns["ifnscore_read"]["scale"] == "rq"
    assert b.layers["censored"].dtype == bool


def test_looks_like_qpcr(tmp_path):
    long = tmp_path / "a.txt"
    long.write_text("Well,Sample Name,Target Name,CT\nA1,P1,IFI27,20\n")
    expression = tmp_path / "b.txt"
    expression.write_text("gene,S1,S2\nIFI27,1,2\n")
    assert looks_like_qpcr(long, "Well,Sample Name,Target Name,CT\n")
    assert not looks_like_qpcr(expression, "gene,S1,S2\n")
    assert not looks_like_qpcr(tmp_path / "missing.txt")  # never raises


def test_no_sample_wells():
    rows = [("A1", "NTC", "IFI27", U, "NTC"), ("A2", "", "HPRT1", 20.0)]
    with pytest.raises(
        InputError,
        match=r"plate1\.csv: no sample wells on the plate \(left out: \{'ntc': 1, 'no sample name': 1\}\); "
        "the wells to quantify need the task Unknown, a sample name and a target name",
    ):
        relative_quantities(plate(rows))


# ----------------------------------------------------------------------------- files -> scores

RICE6 = ("IFI27", "IFI44L", "IFIT1", "ISG15", "RSAD2", "SIGLEC1")
CONTROLS = ("H1", "H2", "H3")
PATIENTS = ("P1", "P2")


def _design():
    """{(sample, target): [Ct text or 'Undetermined', ...]}: the plate written by every layout.

    Rice genes in triplicate, reference genes in duplicate; Ct = a per-gene base + a sample
    shift + a replicate offset, written with 3 decimals. Two replicate rule cases: P2 SIGLEC1
    has one undetermined of three (ignored), H1 RSAD2 is a duplicate with one undetermined (a
    tie: ignored, Ct = the amplified one)."""
    shift = {"H1": 0.0, "H2": 0.41, "H3": -0.37, "P1": -4.2, "P2": -2.9}
    ref_shift = {"H1": 0.0, "H2": 0.23, "H3": -0.18, "P1": 0.35, "P2": -0.12}
    base = dict(zip(RICE6, (30.1, 28.7, 27.2, 25.9, 29.4, 31.3), strict=True))
    out = {}
    for s in CONTROLS + PATIENTS:
        out[(s, "HPRT1")] = [f"{25.0 + ref_shift[s] + d:.3f}" for d in (0.0, 0.12)]
        out[(s, "18S")] = [f"{9.0 + ref_shift[s] + d:.3f}" for d in (0.0, -0.08)]
        for k, g in enumerate(RICE6):
            out[(s, g)] = [f"{base[g] + shift[s] + 0.05 * k + d:.3f}" for d in (0.0, 0.1, -0.07)]
    out[("P2", "SIGLEC1")][2] = "Undetermined"
    out[("H1", "RSAD2")] = [out[("H1", "RSAD2")][0], "Undetermined"]
    return out


def _wells(design):
    """(well, sample, target, Ct text, task) rows, 96-well positions, then one NTC per target."""
    rows, i = [], 0
    for (s, t), cts in design.items():
        for c in cts:
            rows.append((f"{'ABCDEFGHIJKLMNOP'[i // 24]}{i % 24 + 1}", s, t, c, "UNKNOWN"))
            i += 1
    for t in ("HPRT1", "18S", *RICE6):
        rows.append((f"{'ABCDEFGHIJKLMNOP'[i // 24]}{i % 24 + 1}", "NTC", t, "Undetermined", "NTC"))
        i += 1
    return rows


def write_plate(path, layout, design=None):
    """A qPCR export of the design in one of the layouts the instrument software writes."""
    rows = _wells(design or _design())
    if layout == "generic":
        lines = ["Well,Sample Name,Target Name,Task,CT"]
        lines += [f"{w},{s},{t},{task},{c}" for w, s, t, c, task in rows]
    elif layout == "quantstudio_csv":  # QuantStudio "Results" saved as CSV
        lines = [
            "Block Type,384-Well Block",
            "Chemistry,TAQMAN",
            "Experiment Name,ifnscore test plate",
            "Instrument Type,QuantStudio\u2122 5 System",
            "Quantification Cycle Method,Ct",
            "",
            "Well,Well Position,Omit,Sample Name,Target Name,Task,Reporter,Quencher,Quantity,CT,Ct Mean,Ct SD",
        ]
        for n, (w, s, t, c, task) in enumerate(rows, 1):
            lines.append(f"{n},{w},FALSE,{s},{t},{task},FAM,NFQ-MGB,,{c},,")
        lines += [",,,,,,,,,,,", "Analysis Type,Singleplex", 'Endogenous Control,"HPRT1, 18S"']
    elif layout == "cfx":  # Bio-Rad CFX "Quantification Cq Results"
        lines = [
            ",Well,Fluor,Target,Content,Sample,Biological Set Name,Cq,Cq Mean,Cq Std. Dev,"
            "Starting Quantity (SQ),Log Starting Quantity,SQ Mean,SQ Std. Dev,Set Point,Well Note"
        ]
        for w, s, t, c, task in rows:
            well = f"{w[0]}{int(w[1:]):02d}"
            content = "Unkn" if task == "UNKNOWN" else "NTC"
            cq = "NaN" if c == "Undetermined" else c
            lines.append(f",{well},FAM,{t},{content},{s},,{cq},,0,NaN,NaN,NaN,0,60,")
    else:
        raise ValueError(layout)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _hand_rq(design):
    """2^-dCt by hand: replicate means of the amplified wells (the cases here are minority or
    tie), dCt = Ct - mean(Ct HPRT1, Ct 18S)."""

    def ct(s, t):
        v = [float(c) for c in design[(s, t)] if c != "Undetermined"]
        return sum(v) / len(v)

    return pd.DataFrame(
        {
            g: [
                2.0 ** -(ct(s, g) - (ct(s, "HPRT1") + ct(s, "18S")) / 2)
                for s in CONTROLS + PATIENTS
            ]
            for g in RICE6
        },
        index=list(CONTROLS + PATIENTS),
    )


@pytest.mark.parametrize("layout", ["generic", "quantstudio_csv", "cfx"])
def test_plate_to_score_by_hand(tmp_path, layout):
    import ifnscore

    design = _design()
    path = write_plate(tmp_path / f"plate_{layout}.csv", layout, design)
    a = ifnscore.read(path, format="qpcr")
    assert a.uns["ifnscore_read"]["excluded_wells"] == {"ntc": 8}
    assert a.obs.loc["H1", "qpcr_undetermined_ignored"] == "RSAD2"
    assert a.obs.loc["P2", "qpcr_undetermined_ignored"] == "SIGLEC1"
    rq = _hand_rq(design)
    np.testing.assert_allclose(a[list(rq.index), list(RICE6)].X, rq.to_numpy(), rtol=1e-12)
    # fold change against the controls' median, per gene; then the median (Rice) or the sum
    fc = rq / rq.loc[list(CONTROLS)].median(axis=0)
    for method, agg in (("fc_median", fc.median(axis=1)), ("fc_sum", fc.sum(axis=1))):
        # TODO(rq): drop scale= once scale="auto" takes uns["ifnscore_read"]["scale"] of AnnData
        # the classification limit is beside the point here: a fixed one, and the few-controls
        # notes about the controls' limit silenced (they concern the limit, not the scores)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*controls", category=IfnscoreWarning)
            ref = ifnscore.calibrate(
                a[list(CONTROLS)], signature="rice6", method=method, scale="rq", upper_limit=2.0
            )
        got = ifnscore.score(a, reference=ref, method=method, copy=True, scale="rq").obs["ifnscore"]
        np.testing.assert_allclose(got.loc[agg.index], agg.to_numpy(), rtol=1e-12)


def test_auto_detects_the_vendor_layouts(tmp_path):
    import ifnscore

    for layout in ("generic", "quantstudio_csv", "cfx"):
        path = write_plate(tmp_path / f"{layout}.txt", layout)
        assert ifnscore.read(path).uns["ifnscore_read"]["format"] == "qpcr", layout


def test_two_plate_files(tmp_path):
    import ifnscore

    d1 = _design()
    d2 = {
        k: [c if c == "Undetermined" else f"{float(c) + 1.5:.3f}" for c in v] for k, v in d1.items()
    }
    d2 = {
        k: v for k, v in d2.items() if k[0] in ("H2", "P1")
    }  # plate 2 reruns H2 and P1, 1.5 cycles later
    p1 = write_plate(tmp_path / "plate1.csv", "generic", d1)
    p2 = write_plate(tmp_path / "plate2.csv", "quantstudio_csv", d2)
    a = ifnscore.read([p1, p2], format="qpcr")
    assert list(a.obs_names) == [
        "H1",
        "H2@plate1",
        "H3",
        "P1@plate1",
        "P2",
        "H2@plate2",
        "P1@plate2",
    ]
    assert a.uns["ifnscore_read"]["source"] == [str(p1), str(p2)]
    # a uniform 1.5-cycle shift cancels in dCt: each plate normalised with its own references
    np.testing.assert_allclose(
        a["H2@plate2"].layers["delta_ct"], a["H2@plate1"].layers["delta_ct"], rtol=1e-9
    )
    m = ifnscore.read([p1, p2], format="qpcr", combine_plates="mean")
    assert list(m.obs_names) == ["H1", "H2", "H3", "P1", "P2"]
    np.testing.assert_allclose(m["P1"].X, a["P1@plate1"].X, rtol=1e-9)
    with pytest.raises(InputError, match=r"plate1\.csv' is given twice; give each plate once\."):
        ifnscore.read([p1, p1], format="qpcr")


# ----------------------------------------------------------------------------- real files

from _real import real  # noqa: E402


def test_real_quantstudio_rq_matches_the_instruments():
    """QuantStudio 5 'Results' CSV whose Delta Ct Mean / Delta Delta Ct / RQ columns the
    software computed (footer: Endogenous Control "ACTB, GAPDH", Reference Sample AiW002-2-D0);
    e.g. ``169,H1,FALSE,KYOU-D7,GRIN1,UNKNOWN,...,1.452,1.175,1.794,28.09,28.165,0.077,,8.127,
    0.223,0.129,-0.538,...`` (RQ 1.452, Delta Ct Mean 8.127, Delta Delta Ct -0.538).

    The file prints Ct with 3 decimals (the software computed from full precision), so each
    replicate mean is off by at most 0.0005: a dCt by 0.001, a ddCt by 0.002, plus half a unit
    of the printed result (0.0005); the tolerances below are these bounds."""
    import ifnscore

    path = real("qpcr/quantstudio3_autoqpcr/RELATIVE_example.csv")
    a = ifnscore.read(
        path, format="qpcr", reference_genes=["ACTB", "GAPDH"], calibrator="AiW002-2-D0"
    )
    raw = pd.read_csv(path, skiprows=46, nrows=180)
    raw = raw[(raw["Task"] == "UNKNOWN") & raw["RQ"].notna()]
    inst = raw.groupby(["Sample Name", "Target Name"])[
        ["Delta Ct Mean", "Delta Delta Ct", "RQ"]
    ].first()
    assert len(inst) == 12  # 4 samples x 3 targets
    for (s, t), r in inst.iterrows():
        v = a[s, t]
        assert abs(v.layers["delta_ct"][0, 0] - r["Delta Ct Mean"]) <= 0.0015, (s, t)
        assert abs(-v.layers["log2_rq"][0, 0] - r["Delta Delta Ct"]) <= 0.0025, (s, t)
        assert abs(v.X[0, 0] - r["RQ"]) <= r["RQ"] * (2**0.002 - 1) + 0.0005, (s, t)
    assert a["KYOU-D7", "GRIN1"].X[0, 0] == pytest.approx(1.452, abs=0.0005)


def test_real_standard_curve_matches_design_and_analysis():
    """D&A v2 'Standard Curve Result' sheet of the same workbook, row 26: Y-Intercept 40.77,
    R2 0.9880202381085528, Slope -3.3419, Efficiency 99.174722240042 (%); we fit the Results
    sheet's 20 standard wells (5 quantities, 1250 to 20000)."""
    from ifnscore._io._ct import read_ct
    from ifnscore._io._qpcr import _standard_curve

    path = real(
        "qpcr/quantstudio_design_analysis/appbio_quantstudio_designandanalysis_QS1_Standard_Curve_example01.xlsx"
    )
    t = read_ct(path)
    c = _standard_curve(t, ["RNaseP"], t["target"], str(path), "plate")["RNaseP"]
    assert c["n_wells"] == 20
    assert c["n_quantities"] == 5
    assert c["slope"] == pytest.approx(-3.3419, abs=5e-5)
    assert c["intercept"] == pytest.approx(40.77, abs=5e-3)
    assert c["r2"] == pytest.approx(0.9880202381085528, rel=1e-9)
    assert c["E"] == pytest.approx(1 + 99.174722240042 / 100, rel=1e-9)


def test_runs_of_one_file_are_plates():
    """An RDML file may hold several runs (the reader's ``experiment``/``run`` columns); the same
    well of two runs is two wells, and each run is normalised with its own reference genes."""
    t = pd.concat(
        [
            plate(PLATE_A, "exp.rdml").assign(experiment="E", run="Run 1"),
            plate(PLATE_B, "exp.rdml").assign(experiment="E", run="Run 2"),
        ],
        ignore_index=True,
    )
    t.attrs = plate(PLATE_A, "exp.rdml").attrs
    a = relative_quantities(t)
    assert a.obs["plate"].tolist() == ["exp:Run 1", "exp:Run 1", "exp:Run 2", "exp:Run 2"]
    assert list(a.obs_names) == ["P1@exp:Run 1", "C1", "P1@exp:Run 2", "C2"]
    np.testing.assert_allclose(a.layers["delta_ct"][:, 0], [3.0, 10.0, 3.5, 11.0], rtol=1e-12)
    assert (
        "exp.rdml holds 2 runs (Run 1, Run 2); each is a plate, named exp:run."
        in a.uns["ifnscore_read"]["notes"]
    )


def test_export_without_targets():
    rows = [("A1", "P1", "", 20.0), ("A2", "P1", "", 21.0)]
    with pytest.raises(
        InputError,
        match=r"plate1\.csv: the export names no target \(gene\) for any well, so relative quantities "
        "cannot be computed; set the targets",
    ):
        relative_quantities(plate(rows))
