"""The signature registry (genes and provenance as in issue 2) and custom signatures."""

import numpy as np
import pytest

import ifnscore
from ifnscore import errors
from ifnscore._signatures import as_signatures

PUBLISHED = {
    "rice6": (
        ["IFI27", "IFI44L", "IFIT1", "ISG15", "RSAD2", "SIGLEC1"],
        "10.1016/S1474-4422(13)70258-8",
    ),
    "ifngs4": (["IFI27", "IFI44", "IFI44L", "RSAD2"], None),
    "feng5": (["LY6E", "OAS1", "OASL", "MX1", "ISG15"], None),
    "raupov5": (["IFI44L", "IFI44", "IFIT3", "LY6E", "MX1"], "10.3389/fmed.2024.1214920"),
    "janssen10": (
        [
            "DHX58",
            "EIF2AK2",
            "HERC5",
            "IFI44",
            "IFI44L",
            "IFI6",
            "IRF7",
            "PARP9",
            "PLSCR1",
            "SAMD9L",
        ],
        None,
    ),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_signatures_have_their_genes_and_provenance(name):
    genes, doi = PUBLISHED[name]
    sig = ifnscore.get_signature(name)
    assert sorted(sig.genes) == sorted(genes)
    assert sig.down == ()
    assert sig.citation
    assert sig.platform
    assert sig.formula
    if doi is not None:
        assert sig.doi == doi
    row = ifnscore.list_signatures().loc[name]
    assert row["n_genes"] == len(genes)


def test_janssen10_cites_the_patent():
    sig = ifnscore.get_signature("janssen10")
    assert "12,009,079" in sig.citation + sig.notes + sig.doi


def test_rice6_thresholds():
    sig = ifnscore.get_signature("rice6")
    assert sig.published_limit("fc_median").value == 2.466
    assert sig.published_limit("fc_sum").value == 12.49
    assert sig.published_limit("fc_sum").doi == "10.3390/jcm15020709"
    assert sig.published_limit("z_sum") is None


def test_custom_signatures_from_list_dict_signature_and_gmt(tmp_path):
    assert as_signatures(["MX1", "OAS1"])[0].name == "custom"
    sigs = as_signatures({"a": ["MX1", "OAS1"], "b": {"up": ["IFI27"], "down": ["CD3E"]}})
    assert [s.name for s in sigs] == ["a", "b"]
    assert sigs[1].down == ("CD3E",)
    mine = ifnscore.Signature("mine", ["IFI27", "ISG15"])
    assert as_signatures(mine) == [mine]
    assert as_signatures({"renamed": mine})[0].name == "renamed"
    assert [s.name for s in as_signatures(["rice6", "feng5"])] == ["rice6", "feng5"]
    gmt = tmp_path / "sets.gmt"
    gmt.write_text("ifn_a\tmy set\tIFI27\tISG15\tMX1\n# comment\n\nifn_b\t-\tOAS1\tOASL\n")
    sigs = as_signatures(str(gmt))
    assert [(s.name, s.genes) for s in sigs] == [
        ("ifn_a", ("IFI27", "ISG15", "MX1")),
        ("ifn_b", ("OAS1", "OASL")),
    ]
    assert as_signatures(gmt)[0].title == "my set"


def test_custom_signature_scores_like_the_same_genes_by_name():
    rice6 = list(ifnscore.get_signature("rice6").genes)
    X = np.random.default_rng(0).lognormal(2, 1, size=(5, 6))
    a = ifnscore.score(X, "rice6", genes=rice6, scale="linear", method="mean_log")
    b = ifnscore.score(X, rice6[::-1], genes=rice6, scale="linear", method="mean_log")
    np.testing.assert_allclose(a["score"], b["score"], rtol=1e-12)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("rice7", "is not a published signature"),
        ([], "is empty"),
        ({}, "is empty"),
        (["rice6", "MX1"], "mixes signature names"),
        (["rice6", "rice6"], r"names \['rice6'\] more than once"),
        ({"s": "MX1"}, "not the single string"),
        ({"s": ["MX1", "MX1"]}, r"lists \['MX1'\] more than once"),
        ({"s": ["MX1", ""]}, "empty gene name"),
        ({"s": {"up": ["MX1"], "down": ["MX1"]}}, "both as up and down"),
        ({"s": {"up": ["MX1"], "other": ["A"]}}, "use 'up' and 'down'"),
        (42, "must be a name, a list of genes"),
    ],
)
def test_bad_signatures(spec, message):
    with pytest.raises(errors.SignatureError, match=message):
        as_signatures(spec)


def test_bad_gmt_files(tmp_path):
    with pytest.raises(errors.SignatureError, match="cannot read the GMT file"):
        as_signatures(str(tmp_path / "none.gmt"))
    p = tmp_path / "bad.gmt"
    p.write_text("only_a_name\n")
    with pytest.raises(errors.SignatureError, match="line 1: a GMT line needs"):
        as_signatures(str(p))
    p.write_text("a\t-\tMX1\na\t-\tOAS1\n")
    with pytest.raises(errors.SignatureError, match=r"names \['a'\] occur more than once"):
        as_signatures(str(p))


def test_down_genes_need_a_signed_method():
    X = np.ones((3, 3)) * np.array([1.0, 2.0, 3.0])
    with pytest.raises(errors.InputError, match=r"down-regulated genes.*signed method"):
        ifnscore.score(
            X,
            {"s": {"up": ["MX1", "OAS1"], "down": ["CD3E"]}},
            genes=["MX1", "OAS1", "CD3E"],
            scale="linear",
            method="mean_log",
            rows="samples",
        )
