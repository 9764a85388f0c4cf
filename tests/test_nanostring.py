"""NanoString RCC: parsing, QC flags (NanoStringNCTools' setQCFlags) and normalisation against
hand computation (1e-12), on written lanes and on real RCC files."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _iowriters import rcc_text
from _real import real

import ifnscore
from ifnscore._io._nanostring import parse_rcc
from ifnscore.errors import IfnscoreWarning, InputError

HK = {"GAPDH": 2000, "ACTB": 8000, "HPRT1": 500}


def _lanes(tmp_path, specs):
    paths = []
    for i, (sid, endo, hk, kw) in enumerate(specs):
        p = tmp_path / f"20240115_{sid}_{i + 1:02d}.RCC"
        p.write_text(rcc_text(sid, endo, hk, lane=i + 1, **kw), newline="")
        paths.append(p)
    return paths


@pytest.fixture
def lanes(tmp_path):
    return _lanes(
        tmp_path,
        [
            ("P1", {"IFI27": 900, "ISG15": 300}, HK, {"pos_scale": 100.0}),
            (
                "P2",
                {"IFI27": 100, "ISG15": 60},
                {k: 2 * v for k, v in HK.items()},
                {"pos_scale": 200.0},
            ),
            (
                "P3",
                {"IFI27": 50, "ISG15": 40},
                HK,
                {
                    "pos_scale": 100.0,
                    "fov": (280, 150),
                    "density": 2.6,
                    "neg": (20, 40, 30, 10, 45, 25),
                },
            ),
        ],
    )


def test_parse_sections(lanes):
    r = parse_rcc(lanes[0])
    assert r.header["FileVersion"] == "1.7"
    assert r.sample["ID"] == "P1"
    assert r.lane["BindingDensity"] == "0.8"
    assert set(r.codes["CodeClass"]) == {"Positive", "Negative", "Endogenous", "Housekeeping"}
    assert r.codes.set_index("Name").loc["POS_A(128)", "Count"] == 12800


def test_normalisation_by_hand(lanes):
    a = ifnscore.read(lanes)
    # keyed by file name (without .RCC); the RCC's Sample ID is kept in obs
    assert list(a.obs_names) == ["20240115_P1_01", "20240115_P2_02", "20240115_P3_03"]
    assert list(a.obs["sample_ID"]) == ["P1", "P2", "P3"]
    assert list(a.var_names) == ["IFI27", "ISG15", "GAPDH", "ACTB", "HPRT1"]
    conc = np.array([128, 32, 8, 2, 0.5, 0.125])
    pos = [np.round(conc * s) for s in (100, 200, 100)]
    P = np.array([np.exp(np.log(p).mean()) for p in pos])
    hk = np.array([[2000, 8000, 500], [4000, 16000, 1000], [2000, 8000, 500]], dtype=float)
    H = np.exp(np.log(hk).mean(axis=1))
    fpos = P.mean() / P
    H1 = fpos * H
    fhk = H1.mean() / H1
    raw = np.array([[900, 300], [100, 60], [50, 40]], dtype=float)
    np.testing.assert_allclose(a.X[:, :2], raw * (fpos * fhk)[:, None], rtol=1e-12)
    np.testing.assert_allclose(a.obs["positive_factor"], fpos, rtol=1e-12)
    np.testing.assert_array_equal(a.layers["counts"][:, :2], raw)
    # fixed target: each lane on its own, y = T x / H
    b = ifnscore.read(lanes, normalize_to=1000.0)
    np.testing.assert_allclose(b.X[:, :2], 1000.0 * raw / H[:, None], rtol=1e-12)
    c = ifnscore.read(lanes[:1], normalize_to=1000.0)
    np.testing.assert_allclose(c.X[0], b.X[0], rtol=1e-12)


def test_qc_flags(lanes):
    a = ifnscore.read(lanes)
    obs = a.obs
    np.testing.assert_allclose(obs["fov_ratio"], [278 / 280, 278 / 280, 150 / 280])
    assert obs["qc_imaging"].tolist() == [False, False, True]
    assert obs["qc_binding_density"].tolist() == [False, False, True]
    negs = np.array([20, 40, 30, 10, 45, 25.0])
    np.testing.assert_allclose(
        obs["limit_of_detection"].iloc[2], negs.mean() + 2 * negs.std(ddof=1)
    )
    # POS_E = 0.5 * 100 = 50 < 31.7 + 2*13.3 = 58.3 -> flagged; lanes 1-2 (negatives ~8.5 +- 2.6) pass
    assert obs["qc_limit_of_detection"].tolist() == [False, False, True]
    # counts exactly proportional to concentration (rounding aside) -> R^2 ~ 1
    assert (obs["positive_linearity_r2"] > 0.999).all()
    assert obs["qc_linearity"].tolist() == [False, False, False]
    assert obs["qc_flagged"].tolist() == [False, False, True]


def test_linearity_flag(tmp_path):
    p = _lanes(tmp_path, [("X", {"IFI27": 10}, HK, {})])[0]
    text = p.read_text().replace("POS_A(128),ERCC_128000.1,12800", "POS_A(128),ERCC_128000.1,3")
    p.write_text(text)
    a = ifnscore.read(p)
    assert a.obs["qc_linearity"].iloc[0]
    assert a.obs["positive_linearity_r2"].iloc[0] < 0.95


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("</Code_Summary>", ""), "never closed|opens before"),
        (
            lambda t: t.replace("<Lane_Attributes>", "").replace("</Lane_Attributes>", ""),
            "text outside|missing RCC",
        ),
        (
            lambda t: t.replace("Endogenous,IFI27,NM_001000.1,10", "Endogenous,IFI27,10"),
            "has 3 fields",
        ),
        (
            lambda t: t.replace(
                "Endogenous,IFI27,NM_001000.1,10", "Endogenous,IFI27,NM_001000.1,ten"
            ),
            "not a non-negative",
        ),
        (
            lambda t: t.replace("CodeClass,Name,Accession,Count", "Class,Name"),
            "must start with the header",
        ),
        (lambda t: "", "is empty"),
    ],
)
def test_broken_rcc(tmp_path, edit, message):
    p = _lanes(tmp_path, [("X", {"IFI27": 10}, HK, {})])[0]
    p.write_text(edit(p.read_text()), newline="")
    with pytest.raises(InputError, match=message) as err:
        ifnscore.read(p)
    assert p.name in str(err.value)


def test_mismatched_codesets(tmp_path):
    a = _lanes(tmp_path, [("A", {"IFI27": 10}, HK, {}), ("B", {"MX1": 10}, HK, {})])
    with pytest.raises(InputError, match="probes differ") as e:
        ifnscore.read(a)
    assert "20240115_B_02.RCC" in str(e.value)


def test_repeated_sample_ids_are_keyed_by_file_name(tmp_path):
    # GSE117751: every lane of one cartridge has Sample ID "01"
    b = _lanes(tmp_path, [("01", {"IFI27": 10}, HK, {}), ("01", {"IFI27": 12}, HK, {})])
    a = ifnscore.read(b)
    assert list(a.obs_names) == ["20240115_01_01", "20240115_01_02"]
    assert list(a.obs["sample_ID"]) == ["01", "01"]
    np.testing.assert_array_equal(a.layers["counts"][:, 0], [10, 12])
    # the same file name in two folders is refused, naming both
    (tmp_path / "other").mkdir()
    c = tmp_path / "other" / b[0].name
    c.write_text(b[0].read_text(), newline="")
    with pytest.raises(InputError, match=r"file name '20240115_01_01' \(the sample key\) is also"):
        ifnscore.read([b[0], c])


def test_folder_of_rcc(tmp_path, lanes):
    a = ifnscore.read(tmp_path)
    assert a.uns["ifnscore_read"]["format"] == "nanostring"
    assert a.n_obs == 3


# --------------------------------------------------------------------------- QC parity

CONC = np.array([128, 32, 8, 2, 0.5, 0.125])


def _r2(x, y):
    """Pearson's r squared, written out (not np.corrcoef)."""
    dx, dy = x - x.mean(), y - y.mean()
    return float((dx @ dy) ** 2 / ((dx @ dx) * (dy @ dy)))


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new), newline="")


def test_linearity_excludes_pos_f_and_thresholds_at_half(tmp_path):
    p = _lanes(tmp_path, [("X", {"IFI27": 10}, HK, {})])[0]
    # POS_F (0.125 fM) set to 0: it must not enter the fit; POS_D (2 fM) set to 0 -> log2(0.5)
    _edit(p, "POS_F(0.125),ERCC_00125.1,12", "POS_F(0.125),ERCC_00125.1,0")
    _edit(p, "POS_D(2),ERCC_02000.1,200", "POS_D(2),ERCC_02000.1,0")
    # a zero positive control cannot enter the normalisation's geometric mean; the QC uses
    # the whole Positive class whatever positive= says
    a = ifnscore.read(p, positive=["POS_A(128)", "POS_B(32)", "POS_C(8)", "POS_E(0.5)"])
    x = np.log2(CONC[:5])
    y = np.log2(np.array([12800, 3200, 800, 0.5, 50]))
    want = _r2(x, y)
    assert a.obs["positive_linearity_r2"].iloc[0] == pytest.approx(want, rel=1e-12)
    assert want < 0.95
    assert bool(a.obs["qc_linearity"].iloc[0])
    # only POS_F wrong: R^2 over A-E is still ~1 (counts exactly 100 x concentration)
    (tmp_path / "f").mkdir()
    q = _lanes(tmp_path / "f", [("Y", {"IFI27": 10}, HK, {})])[0]
    _edit(q, "POS_F(0.125),ERCC_00125.1,12", "POS_F(0.125),ERCC_00125.1,5000")
    b = ifnscore.read(q)
    assert b.obs["positive_linearity_r2"].iloc[0] == pytest.approx(1.0, abs=1e-12)
    assert not bool(b.obs["qc_linearity"].iloc[0])


@pytest.mark.parametrize(
    ("hk", "geomean", "flag"),
    [
        ({"GAPDH": 2000, "ACTB": 8000, "HPRT1": 500}, 2000.0, "pass"),
        ({"GAPDH": 40, "ACTB": 160, "HPRT1": 90}, (40 * 160 * 90) ** (1 / 3), "borderline"),
        ({"GAPDH": 8, "ACTB": 64, "HPRT1": 0}, (8 * 64 * 0.5) ** (1 / 3), "fail"),
    ],
)
def test_housekeeping_geomean_flag(tmp_path, hk, geomean, flag):
    p = _lanes(tmp_path, [("X", {"IFI27": 10}, hk, {})])[0]
    if flag == "fail":  # a zero housekeeping count cannot be normalised: name the probes
        with pytest.raises(InputError, match="housekeeping genes have a zero count"):
            ifnscore.read(p)
        a = ifnscore.read(p, housekeeping=["GAPDH", "ACTB"])
        geomean = (8 * 64) ** 0.5  # 22.6 < 32
    else:
        a = ifnscore.read(p)
    assert a.obs["housekeeping_geomean"].iloc[0] == pytest.approx(geomean, rel=1e-12)
    assert a.obs["qc_housekeeping"].iloc[0] == flag
    assert bool(a.obs["qc_flagged"].iloc[0]) == (flag == "fail")


def test_limit_of_detection_equal_passes(tmp_path):
    # negatives 40, 50, 60, 40, 50, 60: mean 50, SD(ddof=1) sqrt(80) -> LoD 50 + 2 sqrt(80)
    p = _lanes(tmp_path, [("X", {"IFI27": 10}, HK, {"neg": (40, 50, 60, 40, 50, 60)})])[0]
    lod = 50 + 2 * math.sqrt(80)
    a = ifnscore.read(p)
    assert a.obs["limit_of_detection"].iloc[0] == pytest.approx(lod, rel=1e-12)
    assert a.obs["pos_e_count"].iloc[0] == 50  # POS_E(0.5) = 0.5 * 100
    assert bool(a.obs["qc_limit_of_detection"].iloc[0])  # 50 < 67.9
    (tmp_path / "eq").mkdir()
    q = _lanes(tmp_path / "eq", [("X", {"IFI27": 10}, HK, {"neg": (50,) * 6})])[0]
    b = ifnscore.read(q)
    assert b.obs["limit_of_detection"].iloc[0] == 50.0  # SD 0
    assert not bool(b.obs["qc_limit_of_detection"].iloc[0])  # POS_E 50 is not below 50


@pytest.mark.parametrize(
    ("scanner", "density", "instrument", "flagged"),
    [
        ("1209C0555", 2.0, "MAX/FLEX", False),
        ("1302P0036", 2.0, "SPRINT", True),  # 5th character P: SPRINT, limit 1.8
        ("1302P0036", 1.8, "SPRINT", False),  # the limit itself passes
        ("1209C0555", 2.25, "MAX/FLEX", False),
        ("1209C0555", 2.26, "MAX/FLEX", True),
        ("1209C0555", 0.09, "MAX/FLEX", True),
    ],
)
def test_binding_density_by_instrument(tmp_path, scanner, density, instrument, flagged):
    p = _lanes(tmp_path, [("X", {"IFI27": 10}, HK, {"density": density})])[0]
    _edit(p, "ScannerID,1209C0555", f"ScannerID,{scanner}")
    a = ifnscore.read(p)
    assert a.obs["instrument"].iloc[0] == instrument
    assert bool(a.obs["qc_binding_density"].iloc[0]) is flagged
    # an explicit range applies to every lane whatever the instrument
    b = ifnscore.read(p, binding_density=(0.1, 2.5))
    assert bool(b.obs["qc_binding_density"].iloc[0]) is (density < 0.1)


def test_sprint_from_system_type(tmp_path):
    p = _lanes(tmp_path, [("X", {"IFI27": 10}, HK, {"density": 2.0})])[0]
    _edit(p, "SystemType,Gen2", "SystemType,Sprint")
    a = ifnscore.read(p)
    assert a.obs["instrument"].iloc[0] == "SPRINT"
    assert bool(a.obs["qc_binding_density"].iloc[0])
    assert a.obs["binding_density_max"].iloc[0] == 1.8


def test_fov_and_uncomputable_values_are_flagged(tmp_path):
    p = _lanes(tmp_path, [("X", {"IFI27": 10}, HK, {"fov": (280, 210)})])[0]
    a = ifnscore.read(p)
    assert a.obs["fov_ratio"].iloc[0] == 0.75
    assert not bool(a.obs["qc_imaging"].iloc[0])  # 0.75 is not below 0.75
    _edit(p, "FovCount,280", "FovCount,0")
    b = ifnscore.read(p)
    assert math.isnan(b.obs["fov_ratio"].iloc[0])
    assert bool(b.obs["qc_imaging"].iloc[0])  # NA is a failure, as in NanoStringNCTools


# --------------------------------------------------------------------------- background


def test_background_options_by_hand(tmp_path):
    negs = (20, 40, 30, 10, 45, 25)
    endo = {"IFI27": 900, "ISG15": 20, "MX1": 60}
    p = _lanes(tmp_path, [("X", endo, HK, {"neg": negs})])[0]
    n = np.array(negs, dtype=float)
    mean, sd = n.mean(), n.std(ddof=1)
    raw = np.array([900, 20, 60, 2000, 8000, 500], dtype=float)
    base = ifnscore.read(p, normalize_to=1000.0)
    assert base.uns["ifnscore_read"]["background"] is None
    factor = 1000.0 / (2000 * 8000 * 500) ** (1 / 3)  # T / H, H from the raw housekeeping
    np.testing.assert_allclose(base.X[0], raw * factor, rtol=1e-12)
    sub = ifnscore.read(p, normalize_to=1000.0, background="subtract_mean")
    np.testing.assert_allclose(sub.X[0], np.maximum(raw - mean, 0) * factor, rtol=1e-12)
    assert sub.X[0, 1] == 0.0  # ISG15 20 is below the negatives' mean 28.3: floored at 0
    thr = ifnscore.read(p, normalize_to=1000.0, background="threshold")
    np.testing.assert_allclose(thr.X[0], np.maximum(raw, mean + 2 * sd) * factor, rtol=1e-12)
    assert thr.uns["ifnscore_read"]["background"] == "threshold"
    np.testing.assert_array_equal(thr.layers["counts"][0], raw)  # raw counts untouched
    with pytest.raises(InputError, match=r"background='median' is not valid; use None"):
        ifnscore.read(p, background="median")


# --------------------------------------------------------------------------- other classes, RLF


def test_protein_and_snv_classes_ignored_with_a_note(tmp_path):
    p = _lanes(tmp_path, [("X", {"IFI27": 10}, HK, {})])[0]
    extra = "\r\n".join(
        [
            "PROTEIN,CD3E|NA|CD3E|x|0,NA,500",
            "PROTEIN,IFI27,NA,7",  # the same name as an Endogenous probe: not a clash
            "SNV_REF,BRAF_V600E_REF,NA,90",
            "SNV_VAR,BRAF_V600E_VAR,NA,3",
        ]
    )
    _edit(p, "</Code_Summary>", extra + "\r\n</Code_Summary>")
    with pytest.warns(IfnscoreWarning, match=r"PROTEIN \(2 probes\), SNV_REF \(1 probes\)"):
        a = ifnscore.read(p)
    assert list(a.var_names) == ["IFI27", "GAPDH", "ACTB", "HPRT1"]
    assert a.layers["counts"][0, 0] == 10
    assert a.uns["ifnscore_read"]["ignored_code_classes"] == {
        "PROTEIN": 2,
        "SNV_REF": 1,
        "SNV_VAR": 1,
    }


def test_dna_only_lane_and_rlf_in_a_folder_are_left_out(tmp_path):
    lanes = _lanes(tmp_path, [("A", {"IFI27": 10}, HK, {}), ("B", {"IFI27": 20}, HK, {})])
    dna = tmp_path / "SNV_REF_01.RCC"
    text = lanes[0].read_text()
    head, rest = text.split("CodeClass,Name,Accession,Count")
    tail = rest[rest.index("</Code_Summary>") :]
    dna.write_text(
        head + "CodeClass,Name,Accession,Count\r\nSNV_REF,BRAF_REF,NA,90\r\n" + tail, newline=""
    )
    (tmp_path / "NS_IFN_C1234.rlf").write_text("[Header]\nRLFName=x\n")
    with pytest.warns(IfnscoreWarning) as w:
        a = ifnscore.read(tmp_path)
    messages = " ".join(str(m.message) for m in w)
    assert "NS_IFN_C1234.rlf (a NanoString RLF" in messages
    assert "SNV_REF_01.RCC (no gene-expression probes" in messages
    assert list(a.obs_names) == ["20240115_A_01", "20240115_B_02"]
    skipped = {s["file"] for s in a.uns["ifnscore_read"]["skipped"]}
    assert skipped == {"NS_IFN_C1234.rlf", "SNV_REF_01.RCC"}
    with pytest.raises(InputError, match="no lane has Endogenous") as e:
        ifnscore.read(dna)
    assert "SNV_REF_01.RCC" in str(e.value)


# --------------------------------------------------------------------------- real RCC files


def test_real_gse117751_counts_and_qc_by_hand():
    d = real("nanostring/gse117751")
    with pytest.warns(IfnscoreWarning, match=r"GSE117751_sample_data\.csv \(not an RCC file\)"):
        a = ifnscore.read(d)
    key = "GSM3308226_20160715_5609WV-C"
    assert key in a.obs_names
    assert a.obs.loc[key, "sample_ID"] == "5609wv"
    c = a.to_df(layer="counts").loc[key]
    # GSM3308226_20160715_5609WV-C.RCC <Code_Summary>: IL32 56260, VTN 7, GAPDH 7393, HPRT1 168
    assert (c["IL32"], c["VTN"], c["GAPDH"], c["HPRT1"]) == (56260, 7, 7393, 168)
    # positive controls in that file: A(128) 14992, B(32) 4072, C(8) 1122, D(2) 321, E(0.5) 56
    x = np.log2([128, 32, 8, 2, 0.5])
    y = np.log2([14992, 4072, 1122, 321, 56])
    assert a.obs.loc[key, "positive_linearity_r2"] == pytest.approx(_r2(x, y), rel=1e-12)
    # negatives A-H: 8, 1, 1, 5, 9, 6, 1, 0 -> LoD mean + 2 SD (ddof 1)
    n = np.array([8, 1, 1, 5, 9, 6, 1, 0], dtype=float)
    lod = n.mean() + 2 * math.sqrt(((n - n.mean()) ** 2).sum() / 7)
    assert a.obs.loc[key, "limit_of_detection"] == pytest.approx(lod, rel=1e-12)
    assert not a.obs.loc[key, "qc_limit_of_detection"]  # POS_E 56 > 11.0
    # the 15 housekeeping counts of that file
    hk = np.array(
        [6588, 560, 189, 532, 212, 168, 7393, 154, 14189, 202, 628, 8320, 66, 173, 200], float
    )
    gm = math.exp(sum(math.log(v) for v in hk) / 15)
    assert a.obs.loc[key, "housekeeping_geomean"] == pytest.approx(gm, rel=1e-12)
    assert a.obs.loc[key, "qc_housekeeping"] == "pass"
    assert a.obs.loc[key, "instrument"] == "MAX/FLEX"  # ScannerID 1504C0267
    assert a.n_obs == len(list(d.glob("*.RCC")))


def test_real_nanostringnctools_folder():
    d = real("nanostring/nanostringnctools")
    with pytest.warns(IfnscoreWarning) as w:
        a = ifnscore.read(d)
    messages = " ".join(str(m.message) for m in w)
    assert "3D_SolidTumor_Sig.rlf (a NanoString RLF" in messages
    assert "PROTEIN (26 probes)" in messages
    assert "SNV_REF_01.RCC (no gene-expression probes" in messages
    assert a.n_obs == 12  # the SKMEL lanes; three replicates share each Sample ID
    assert a.obs.loc["SKMEL2-DMSO-8h-R1_04", "sample_ID"] == "SKMEL2-DMSO-8hr"
    assert (a.obs["sample_ID"] == "SKMEL2-DMSO-8hr").sum() == 3
    assert set(a.var["code_class"]) == {"Endogenous", "Housekeeping"}
    assert a.n_vars == 180 + 12  # grep -c ^Endogenous / ^Housekeeping in an SKMEL RCC
    # SKMEL2-DMSO-8h-R1_04.RCC: "Endogenous,TP53,NM_000546.2,347", FovCounted 268 of 280
    assert a.to_df(layer="counts").loc["SKMEL2-DMSO-8h-R1_04", "TP53"] == 347
    assert a.obs.loc["SKMEL2-DMSO-8h-R1_04", "fov_ratio"] == 268 / 280
