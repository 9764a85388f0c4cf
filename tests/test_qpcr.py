"""qPCR Ct tables -> relative quantities, checked against hand computation (exact to 1e-12)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import ifnscore
from ifnscore.errors import IfnscoreWarning, InputError

LONG = """Sample Name,Target Name,CT
P1,HPRT1,25.0
P1,HPRT1,25.2
P1,18S,9.0
P1,18S,9.2
P1,IFI27,20.0
P1,IFI27,20.4
P1,ISG15,22.0
P1,ISG15,23.4
C1,HPRT1,24.0
C1,18S,10.0
C1,IFI27,27.0
C1,ISG15,25.0
C2,HPRT1,26.0
C2,18S,8.0
C2,IFI27,28.0
C2,ISG15,Undetermined
"""


def _write(tmp_path, text, name="ct.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_long_table_by_hand(tmp_path):
    path = _write(tmp_path, LONG)
    with pytest.warns(IfnscoreWarning, match="censored at max_ct=40"):
        a = ifnscore.read(path)
    assert a.uns["ifnscore_read"]["format"] == "qpcr"
    assert list(a.var_names) == ["IFI27", "ISG15"]
    # P1: refs mean = (25.1 + 9.1)/2 = 17.1; IFI27 20.2 -> dCt 3.1; ISG15 22.7 -> 5.6
    # C1: refs (24 + 10)/2 = 17; IFI27 dCt 10, ISG15 8. C2: refs 17; IFI27 11; ISG15 censored 40 -> 23
    dct = np.array([[3.1, 5.6], [10.0, 8.0], [11.0, 23.0]])
    np.testing.assert_allclose(a.layers["delta_ct"], dct, rtol=1e-12)
    np.testing.assert_allclose(a.X, 2.0**-dct, rtol=1e-12)
    np.testing.assert_allclose(a.obs["reference_ct"], [17.1, 17.0, 17.0], rtol=1e-12)
    # replicate SD of ISG15 in P1: sd(22.0, 23.4) = 0.99 > 0.5 -> flagged; IFI27 sd 0.28 is not
    assert a.obs.loc["P1", "qpcr_high_sd"] == "ISG15"
    assert a.obs.loc["C2", "qpcr_censored"] == "ISG15"
    assert a.obs["qpcr_flagged"].tolist() == [True, False, True]


def test_calibrators(tmp_path):
    path = _write(tmp_path, LONG.replace("Undetermined", "30.0"))
    one = ifnscore.read(path, calibrator="C1")
    np.testing.assert_allclose(
        one.layers["delta_ct"] - one.layers["delta_ct"][1], -np.log2(one.X), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(one.X[1], [1.0, 1.0], rtol=1e-12)
    two = ifnscore.read(path, calibrator=["C1", "C2"])
    cal = one.layers["delta_ct"][1:].mean(axis=0)
    np.testing.assert_allclose(two.X, 2.0 ** -(one.layers["delta_ct"] - cal), rtol=1e-12)
    with pytest.raises(InputError, match="calibrator sample"):
        ifnscore.read(path, calibrator="nobody")


@pytest.mark.parametrize(("method", "scale"), [("fc_median", "linear"), ("z_sum", "rq")])
def test_scores_do_not_depend_on_calibrator(tmp_path, method, scale):
    # fc_*: the calibrator cancels in RQ / median(RQ of the controls); z_* on scale "rq"
    # standardise log2 RQ = -ddCt, where the calibrator is a per-gene shift that cancels too.
    path = _write(tmp_path, LONG.replace("Undetermined", "30.0"))
    res = []
    for cal in (None, "C1", ["C1", "C2"]):
        a = ifnscore.read(path, calibrator=cal)
        with warnings.catch_warnings():  # notes on the controls' limit: beside the point here
            warnings.filterwarnings("ignore", message=".*controls", category=IfnscoreWarning)
            ref = ifnscore.calibrate(
                a[["C1", "C2"]],
                signature=["IFI27", "ISG15"],
                method=method,
                scale=scale,
                upper_limit=2.0,
            )
        ifnscore.score(a, reference=ref, scale=scale)
        res.append(a.obs["ifnscore"].to_numpy())
    np.testing.assert_allclose(res[0], res[1], rtol=1e-12)
    np.testing.assert_allclose(res[0], res[2], rtol=1e-12)
    assert np.isfinite(res[0]).all()


def test_wide_table_both_orientations_and_replicates(tmp_path):
    wide = "sample,HPRT1,18S,IFI27\nA,25,9,20\nA,25.2,9.2,20.4\nB,24,10,27\n"
    a = ifnscore.read(_write(tmp_path, wide), format="qpcr")
    np.testing.assert_allclose(a.layers["delta_ct"][:, 0], [3.1, 10.0], rtol=1e-12)
    t = pd.read_csv(tmp_path / "ct.csv").iloc[[0, 2]].set_index("sample").T
    t.to_csv(tmp_path / "t.csv", index_label="target")
    b = ifnscore.read(tmp_path / "t.csv", format="qpcr")
    np.testing.assert_allclose(b.layers["delta_ct"][:, 0], [3.0, 10.0], rtol=1e-12)


def test_reference_genes_configurable_and_missing(tmp_path):
    text = "sample,target,Ct\nA,GAPDH,18\nA,IFI27,20\nB,GAPDH,17\nB,IFI27,25\n"
    path = _write(tmp_path, text)
    with pytest.raises(
        InputError,
        match=r"reference gene\(s\) \['HPRT1', '18S'\] not on the plate \(targets found: "
        r"\['GAPDH', 'IFI27'\]\); pass reference_genes=",
    ):
        ifnscore.read(path)
    a = ifnscore.read(path, reference_genes=["GAPDH"])
    np.testing.assert_allclose(a.layers["delta_ct"][:, 0], [2.0, 8.0])


def test_sample_without_reference_gene(tmp_path):
    text = "sample,target,Ct\nA,HPRT1,25\nA,18S,9\nA,IFI27,20\nB,HPRT1,24\nB,IFI27,25\n"
    with pytest.raises(
        InputError, match=r"sample 'B' has no well for reference gene\(s\) \['18S'\]"
    ):
        ifnscore.read(_write(tmp_path, text))


def test_undetermined_reference_and_the_retired_option(tmp_path):
    path = _write(tmp_path, LONG)
    # undetermined= (censor every undetermined well) gave way to the vendors' majority rule
    with pytest.raises(
        InputError, match=r"Option\(s\) \['undetermined'\] do not apply to format 'qpcr'"
    ):
        ifnscore.read(path, undetermined="error")
    bad_ref = LONG.replace("C1,18S,10.0", "C1,18S,")  # C1's only 18S replicate (line 11)
    with pytest.raises(
        InputError,
        match=r"reference gene '18S' is undetermined in most replicates of sample 'C1' \(line 11\), "
        "so that sample cannot be normalised",
    ):
        ifnscore.read(_write(tmp_path, bad_ref, "b.csv"))


def test_non_numeric_ct_names_line(tmp_path):
    with pytest.raises(InputError, match=r"Ct 'abc' of sample 'C1', target 'IFI27' \(line 12\)"):
        ifnscore.read(_write(tmp_path, LONG.replace("C1,IFI27,27.0", "C1,IFI27,abc")))


def test_excel_ct_table(tmp_path):
    pytest.importorskip("openpyxl")
    frame = pd.read_csv(_write(tmp_path, LONG.replace("Undetermined", "")))
    frame.to_excel(tmp_path / "ct.xlsx", index=False)
    with pytest.warns(IfnscoreWarning, match="censored"):
        a = ifnscore.read(tmp_path / "ct.xlsx", format="qpcr")
    np.testing.assert_allclose(a.layers["delta_ct"][2], [11.0, 23.0], rtol=1e-12)
