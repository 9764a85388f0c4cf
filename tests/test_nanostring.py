"""NanoString RCC: parsing, QC flags and normalisation against hand computation (1e-12)."""

from __future__ import annotations

import numpy as np
import pytest
from _iowriters import rcc_text

import ifnscore
from ifnscore._io._nanostring import parse_rcc
from ifnscore.errors import InputError

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
    assert list(a.obs_names) == ["P1", "P2", "P3"]
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


def test_mismatched_codesets_and_duplicate_ids(tmp_path):
    a = _lanes(tmp_path, [("A", {"IFI27": 10}, HK, {}), ("B", {"MX1": 10}, HK, {})])
    with pytest.raises(InputError, match="probes differ"):
        ifnscore.read(a)
    d = tmp_path / "dup"
    d.mkdir()
    b = _lanes(d, [("A", {"IFI27": 10}, HK, {}), ("A", {"IFI27": 12}, HK, {})])
    with pytest.raises(InputError, match="appear in several RCC files"):
        ifnscore.read(b)


def test_folder_of_rcc(tmp_path, lanes):
    a = ifnscore.read(tmp_path)
    assert a.uns["ifnscore_read"]["format"] == "nanostring"
    assert a.n_obs == 3
