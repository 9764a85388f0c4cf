"""Every bad input of issue 2: the error type, and a message that names the problem and the fix."""

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import ifnscore
from ifnscore import errors
from ifnscore._methods import METHODS, get_method
from ifnscore._methods._base import RowMethod

RICE6 = list(ifnscore.get_signature("rice6").genes)
GENES = [*RICE6, "ACTB", "GAPDH"]
CTRL = np.array(
    [
        [1.0, 2.0, 4.0, 8.0, 10.0, 3.0, 50.0, 70.0],
        [3.0, 2.0, 2.0, 4.0, 20.0, 5.0, 60.0, 80.0],
        [2.0, 6.0, 6.0, 8.0, 30.0, 1.0, 40.0, 90.0],
        [4.0, 4.0, 8.0, 16.0, 40.0, 7.0, 55.0, 75.0],
    ]
)


@pytest.fixture(scope="module")
def ref():
    return ifnscore.calibrate(CTRL, genes=GENES, scale="linear")


def _patients():
    return CTRL[:3] * np.array([[1.0], [2.0], [5.0]])


# ------------------------------------------------------------------------ NaN / inf


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_in_signature_gene_raises(ref, bad):
    X = _patients()
    X[1, 2] = bad
    with pytest.raises(errors.InputError, match=r"NaN or infinite.*sample 1, gene .IFIT1.*nan='omit'"):
        ifnscore.score(X, genes=GENES, scale="linear", reference=ref)


@pytest.mark.parametrize("scale", ["log2", "log1p"])
def test_minus_inf_on_a_log_scale_is_caught_before_back_transforming(scale):
    log = np.log2 if scale == "log2" else np.log
    ref = ifnscore.calibrate(log(CTRL + 1), genes=GENES, scale=scale)
    X = log(_patients() + 1)
    X[0, 0] = -np.inf  # would back-transform to -1 (a finite, negative fold change)
    with pytest.raises(errors.InputError, match=r"NaN or infinite.*IFI27"):
        ifnscore.score(X, genes=GENES, scale=scale, reference=ref)


def test_nan_outside_the_signature_is_ignored_on_linear_scale(ref):
    X = _patients()
    X[0, 7] = np.nan  # GAPDH: not in rice6
    res = ifnscore.score(X, genes=GENES, scale="linear", reference=ref)
    assert np.isfinite(res["score"]).all()


def test_nan_omit_leaves_values_out_per_sample(ref):
    X = _patients()
    X[0, 0] = np.nan
    X[2, :6] = np.nan
    res = ifnscore.score(X, genes=GENES, scale="linear", reference=ref, nan="omit")
    full = ifnscore.score(_patients(), genes=GENES, scale="linear", reference=ref)
    assert res["n_genes"].tolist() == [5, 6, 0]
    # fc_sum over 5 genes is rescaled to 6 genes: 6 * mean of the 5 fold changes
    medians = [2.5, 3.0, 5.0, 8.0, 25.0, 4.0]
    fc = [x / c for x, c in zip(_patients()[0, 1:6], medians[1:], strict=True)]
    np.testing.assert_allclose(res["score"].iloc[0], 6 * sum(fc) / 5, rtol=1e-12)
    np.testing.assert_allclose(res["score"].iloc[1], full["score"].iloc[1], rtol=1e-12)
    assert np.isnan(res["score"].iloc[2])
    assert not res["positive"].iloc[2]


def test_nan_omit_still_needs_min_genes_per_sample(ref):
    X = _patients()
    X[0, :4] = np.nan  # 2 of 6 genes left: below the default min_genes of 3
    X[1, :3] = np.nan  # 3 left: scored
    res = ifnscore.score(X, genes=GENES, scale="linear", reference=ref, nan="omit")
    assert res["n_genes"].tolist() == [2, 3, 6]
    assert np.isnan(res["score"].iloc[0])
    assert np.isfinite(res["score"].iloc[1:]).all()
    assert res["positive"].tolist()[0] is False
    res = ifnscore.score(X, genes=GENES, scale="linear", reference=ref, nan="omit", min_genes=4)
    assert np.isnan(res["score"].iloc[:2]).all()


def test_nan_omit_applies_to_every_method():
    X = _patients()
    X[0, 3] = np.nan
    for name in ["fc_median", "fc_geomean", "fc_mean", "z_sum", "z_mean", "mean_log"]:
        r = ifnscore.calibrate(CTRL, genes=GENES, scale="linear", method=name)
        res = ifnscore.score(X, genes=GENES, scale="linear", reference=r, nan="omit")
        assert res["n_genes"].tolist() == [5, 6, 6]
        assert np.isfinite(res["score"]).all(), name


def test_nan_policy_value_is_checked(ref):
    with pytest.raises(errors.InputError, match=r"nan='drop' is not valid"):
        ifnscore.score(_patients(), genes=GENES, scale="linear", reference=ref, nan="drop")


def test_nan_in_counts_raises_even_with_omit():
    counts = np.array([[10, 20, 30, 40, 50, 60, 70, 80]] * 3, dtype=float)
    counts[1, 7] = np.nan  # a non-signature gene: the library size is unknown
    with pytest.raises(errors.InputError, match="counts must be finite"):
        ifnscore.score(counts, genes=GENES, scale="counts", method="mean_log", nan="omit")


def test_calibration_controls_must_be_finite():
    X = CTRL.copy()
    X[0, 0] = np.nan
    with pytest.raises(errors.InputError, match="NaN or infinite"):
        ifnscore.calibrate(X, genes=GENES, scale="linear")


# ------------------------------------------------------------------------ negative values


def test_negative_values_on_linear_scale(ref):
    X = _patients()
    X[2, 4] = -1.0
    with pytest.raises(
        errors.InputError, match=r"negative values on a linear scale.*RSAD2.*scale="
    ):
        ifnscore.score(X, genes=GENES, scale="linear", reference=ref)
    with pytest.raises(errors.InputError, match="negative values on a linear scale"):
        ifnscore.score(X, genes=GENES, scale="linear", method="mean_log")


def test_negative_values_on_counts_scale():
    X = np.array([[10, 20, 30, 40, 50, 60, 70, -1]] * 2)
    with pytest.raises(errors.InputError, match="negative values, which counts cannot have"):
        ifnscore.score(X, genes=GENES, scale="counts", method="mean_log")


def test_negative_log_values_refused_where_linear_values_are_needed():
    ref = ifnscore.calibrate(np.log2(CTRL + 1), genes=GENES, scale="log2")
    X = np.log2(_patients() + 1)
    X[0, 1] = -0.5
    with pytest.raises(errors.InputError, match=r"below 0 on the log2 scale.*IFI44L"):
        ifnscore.score(X, genes=GENES, scale="log2", reference=ref)


def test_zero_library_size():
    X = np.array([[10, 20, 30, 40, 50, 60, 70, 80], [0] * 8])
    with pytest.raises(errors.InputError, match=r"Samples \[1\] have a library size of 0"):
        ifnscore.score(X, genes=GENES, scale="counts", method="mean_log")


# ------------------------------------------------------------------------ names


def test_duplicate_sample_names(ref):
    df = pd.DataFrame(_patients(), index=["a", "b", "a"], columns=GENES)
    with pytest.raises(errors.InputError, match=r"duplicate sample names \['a'\]"):
        ifnscore.score(df, scale="linear", reference=ref)
    with pytest.raises(errors.InputError, match="duplicate sample names"):
        ifnscore.score(_patients(), genes=GENES, samples=["x", "x", "y"], reference=ref)


def test_duplicate_gene_names_error_or_sum(ref):
    genes = [*GENES[:-1], "IFI27"]  # one label twice: refused whatever duplicates= says
    for dup in ("sum", "error"):
        with pytest.raises(errors.InputError, match=r"duplicated gene labels \['IFI27'\]"):
            ifnscore.score(
                _patients(), genes=genes, scale="linear", method="mean_log", duplicates=dup
            )
    # two distinct identifiers of IFI27 (its two Ensembl IDs): summed (default) or refused
    genes = ["ENSG00000165949" if g == "IFI27" else g for g in GENES[:-1]] + ["ENSG00000275214"]
    with pytest.raises(
        errors.GeneMatchError, match=r"IFI27 <- \['ENSG00000165949', 'ENSG00000275214'\]"
    ):
        ifnscore.score(
            _patients(), genes=genes, scale="linear", method="mean_log", duplicates="error"
        )
    with pytest.warns(errors.IfnscoreWarning, match="summed on the linear scale"):
        res = ifnscore.score(_patients(), genes=genes, scale="linear", method="mean_log")
    assert res["n_genes"].tolist() == [6, 6, 6]
    with pytest.raises(errors.InputError, match=r"duplicates='first' is not valid"):
        ifnscore.score(_patients(), genes=GENES, scale="linear", reference=ref, duplicates="first")


# ------------------------------------------------------------------------ shape and type


@pytest.mark.parametrize(
    "data",
    [
        np.empty((0, 8)),
        sp.csr_matrix((0, 8)),
        pd.DataFrame(np.empty((0, 8)), columns=GENES),
    ],
    ids=["ndarray", "csr", "DataFrame"],
)
def test_empty_matrices(ref, data):
    kw = {} if isinstance(data, pd.DataFrame) else {"genes": GENES}
    with pytest.raises(errors.InputError, match=r"is empty \(0 samples x 8 genes\)"):
        ifnscore.score(data, scale="linear", reference=ref, rows="samples", **kw)


def test_no_genes():
    with pytest.raises(errors.InputError, match="empty"):
        ifnscore.score(np.empty((3, 0)), genes=[], scale="linear", method="mean_log")


def test_non_numeric_values(ref):
    df = pd.DataFrame(_patients(), columns=GENES)
    df["IFIT1"] = df["IFIT1"].astype(str)
    with pytest.raises(errors.InputError, match=r"non-numeric values.*\['IFIT1'\]"):
        ifnscore.score(df, scale="linear", reference=ref)
    with pytest.raises(errors.InputError, match="dtype object"):
        ifnscore.score(_patients().astype(object), genes=GENES, reference=ref)
    with pytest.raises(errors.InputError, match="dtype bool"):
        ifnscore.score(_patients() > 2, genes=GENES, scale="linear", reference=ref)
    with pytest.raises(errors.InputError, match="non-numeric"):
        ifnscore.score(df.astype({"ACTB": bool}), scale="linear", reference=ref)


def test_unsupported_containers(ref):
    with pytest.raises(errors.InputError, match="type list is not supported"):
        ifnscore.score(_patients().tolist(), genes=GENES, reference=ref)
    with pytest.raises(errors.InputError, match="Series"):
        ifnscore.score(pd.DataFrame(_patients(), columns=GENES).iloc[0], reference=ref)
    with pytest.raises(errors.InputError, match="must be 2-D"):
        ifnscore.score(_patients()[0], genes=GENES, reference=ref)
    with pytest.raises(errors.InputError, match="genes= is required"):
        ifnscore.score(_patients(), reference=ref)


def test_ambiguous_orientation(ref):
    square = np.ones((8, 8))
    with pytest.raises(errors.InputError, match=r"square \(8 x 8\).*rows='samples'"):
        ifnscore.score(square, genes=GENES, reference=ref)
    df = pd.DataFrame(np.ones((3, 4)), index=["a", "b", "c"], columns=["w", "x", "y", "z"])
    with pytest.raises(errors.InputError, match=r"Cannot tell whether the rows.*rows='genes'"):
        ifnscore.score(df, reference=ref)
    both = pd.DataFrame(np.ones((8, 8)), index=GENES, columns=GENES)  # e.g. a gene correlation
    with pytest.raises(errors.InputError, match=r"gene-like names: 75% of columns, 75% of rows"):
        ifnscore.score(both, reference=ref)
    with pytest.raises(errors.InputError, match=r"genes= has 5 names but data has shape \(3, 8\)"):
        ifnscore.score(_patients(), genes=GENES[:5], reference=ref)
    with pytest.raises(errors.InputError, match="rows='cols' is not valid"):
        ifnscore.score(_patients(), genes=GENES, reference=ref, rows="cols")


def test_arguments_that_do_not_apply(ref):
    df = pd.DataFrame(_patients(), columns=GENES)
    with pytest.raises(
        errors.InputError, match="genes= and samples= are not used with a DataFrame"
    ):
        ifnscore.score(df, genes=GENES, reference=ref)
    with pytest.raises(errors.InputError, match="layer= and use_raw= apply to AnnData"):
        ifnscore.score(_patients(), genes=GENES, layer="counts", reference=ref)
    with pytest.raises(errors.InputError, match="copy= applies to AnnData"):
        ifnscore.score(_patients(), genes=GENES, scale="linear", reference=ref, copy=True)
    a = ad.AnnData(_patients(), var=pd.DataFrame(index=GENES))
    with pytest.raises(errors.InputError, match=r"layer='counts' is not in adata.layers"):
        ifnscore.score(a, reference=ref, layer="counts")
    with pytest.raises(errors.InputError, match=r"use_raw=True but adata.raw is None"):
        ifnscore.score(a, reference=ref, use_raw=True)
    with pytest.raises(errors.InputError, match="genes= is not used with AnnData"):
        ifnscore.score(a, reference=ref, genes=GENES)


# ------------------------------------------------------------------------ scale


def test_undetectable_scale(ref):
    X = np.random.default_rng(0).uniform(0.5, 9.0, size=(5, 8))  # could be log or small linear
    with pytest.raises(errors.ScaleError, match=r"cannot tell the scale.*pass scale="):
        ifnscore.score(X, genes=GENES, reference=ref)
    with pytest.raises(errors.ScaleError, match=r"negative values.*scale is unclear"):
        ifnscore.score(X - 5, genes=GENES, method="mean_log")
    with pytest.raises(errors.ScaleError, match="scale='cpm' is not valid"):
        ifnscore.score(X, genes=GENES, scale="cpm", reference=ref)
    assert issubclass(errors.ScaleError, ValueError)


# ------------------------------------------------------------------------ signatures, methods


def test_unknown_signature_and_method(ref):
    with pytest.raises(errors.SignatureError, match=r"signature='rice7' is not a published.*rice6"):
        ifnscore.score(_patients(), "rice7", genes=GENES, scale="linear", method="mean_log")
    with pytest.raises(KeyError):  # SignatureError is also a KeyError
        ifnscore.get_signature("nope")
    with pytest.raises(errors.InputError, match=r"method='fc_max' is not known.*fc_sum"):
        ifnscore.score(_patients(), genes=GENES, scale="linear", method="fc_max")
    with pytest.raises(errors.InputError, match="method='fc_max' is not known"):
        ifnscore.calibrate(CTRL, genes=GENES, scale="linear", method="fc_max")


@pytest.mark.parametrize("method", ["fc_sum", "fc_median", "fc_geomean", "fc_mean", "z_sum"])
def test_reference_methods_need_a_reference(method):
    with pytest.raises(errors.InputError, match=r"compares with healthy controls.*reference="):
        ifnscore.score(_patients(), genes=GENES, scale="linear", method=method)
    with pytest.raises(errors.InputError, match="compares with healthy controls"):
        ifnscore.score(_patients(), genes=GENES, scale="linear")  # fc_sum is the default


def test_reference_argument_type():
    with pytest.raises(errors.InputError, match=r"reference= must be an ifnscore\.Reference"):
        ifnscore.score(_patients(), genes=GENES, reference="ref.json")


# ------------------------------------------------------------------------ missing genes


def test_missing_genes_warn_and_are_reported():
    X = _patients()[:, [0, 1, 2, 3, 6, 7]]  # RSAD2 and SIGLEC1 absent
    genes = [*RICE6[:4], "ACTB", "GAPDH"]
    with pytest.warns(errors.MissingGenesWarning, match=r"2 of 6 genes.*\['RSAD2', 'SIGLEC1'\]"):
        res = ifnscore.score(X, genes=genes, scale="linear", method="mean_log")
    meta = res.attrs["ifnscore"]["signatures"]["rice6"]
    assert meta["genes_missing"] == ["RSAD2", "SIGLEC1"]
    assert meta["genes_used"] == RICE6[:4]
    assert res["n_genes"].tolist() == [4, 4, 4]
    np.testing.assert_allclose(res["score"], np.log2(X[:, :4] + 1).mean(axis=1), rtol=1e-12)


def test_too_few_genes_raise():
    X = _patients()[:, [0, 1, 6, 7]]
    genes = [*RICE6[:2], "ACTB", "GAPDH"]
    # default min_genes: 3 of 6
    with pytest.raises(errors.GeneMatchError, match=r"only 2 of its 6 genes.*min_genes=3"):
        ifnscore.score(X, genes=genes, scale="linear", method="mean_log")
    with pytest.raises(errors.GeneMatchError, match="IFIT1"):
        ifnscore.calibrate(X, genes=genes, scale="linear")
    # explicit min_genes
    with pytest.warns(errors.MissingGenesWarning):
        res = ifnscore.score(X, genes=genes, scale="linear", method="mean_log", min_genes=2)
    assert res["n_genes"].tolist() == [2, 2, 2]
    with pytest.raises(errors.GeneMatchError, match="min_genes=6"):
        ifnscore.score(_patients()[:, :5], genes=RICE6[:5], method="mean_log", min_genes=6)


# ------------------------------------------------------------------------ reference mismatch


def test_reference_method_mismatch(ref):
    with pytest.raises(
        errors.ReferenceMismatchError, match=r"method='fc_sum'.*'z_sum' was requested"
    ):
        ifnscore.score(_patients(), genes=GENES, scale="linear", reference=ref, method="z_sum")


def test_reference_scale_mismatch(ref):
    with pytest.raises(errors.ReferenceMismatchError, match=r"scale 'log2'.*scale='linear'"):
        ifnscore.score(np.log2(_patients() + 1), genes=GENES, scale="log2", reference=ref)


def test_reference_gene_mismatch(ref):
    with (
        pytest.warns(errors.MissingGenesWarning),
        pytest.raises(errors.ReferenceMismatchError, match=r"\['SIGLEC1'\] are missing"),
    ):
        ifnscore.score(_patients()[:, :5], genes=RICE6[:5], scale="linear", reference=ref)
    # the other way round: calibrated without SIGLEC1, scored with it
    with pytest.warns(errors.MissingGenesWarning):
        ref5 = ifnscore.calibrate(CTRL[:, :5], genes=RICE6[:5], scale="linear")
    with pytest.raises(errors.ReferenceMismatchError, match=r"\['SIGLEC1'\] are extra"):
        ifnscore.score(_patients(), genes=GENES, scale="linear", reference=ref5)


def test_reference_signature_mismatch(ref):
    with (
        pytest.warns(errors.MissingGenesWarning, match="IFI44"),
        pytest.raises(errors.ReferenceMismatchError, match=r"no signature 'ifngs4'.*\['rice6'\]"),
    ):
        ifnscore.score(_patients(), "ifngs4", genes=GENES, scale="linear", reference=ref)
    other = ifnscore.Signature("rice6", RICE6[:5])
    with pytest.raises(errors.ReferenceMismatchError, match=r"Signature 'rice6' has genes"):
        ifnscore.score(_patients(), other, genes=GENES, scale="linear", reference=ref)


@pytest.fixture
def toy_method(monkeypatch):
    """A rows-kind method with an option, registered for the duration of one test."""
    get_method("fc_sum")  # load the registry first

    def run(X, sets, *, k=1.0):
        X = np.asarray(X, dtype=np.float64)
        return {"score": np.stack([k * X[:, s.up].sum(axis=1) for s in sets], axis=1)}

    toy = RowMethod(
        name="toy_sum",
        space="data",
        needs_reference=False,
        cohort_dependent=False,
        signed=False,
        formula="k * sum",
        citation="test only",
        run=run,
    )
    monkeypatch.setitem(METHODS, "toy_sum", toy)
    return toy


def test_reference_options_mismatch(toy_method):
    r = ifnscore.calibrate(CTRL, genes=GENES, scale="linear", method="toy_sum", k=2.0)
    assert dict(r.method_options) == {"k": 2.0}
    res = ifnscore.score(_patients(), genes=GENES, scale="linear", reference=r)  # options reused
    np.testing.assert_allclose(res["score"], 2 * _patients()[:, :6].sum(axis=1), rtol=1e-12)
    with pytest.raises(errors.ReferenceMismatchError, match=r"options \{'k': 3.0\} differ"):
        ifnscore.score(_patients(), genes=GENES, scale="linear", reference=r, k=3.0)
    with pytest.raises(
        errors.OptionError,
        match=r"unexpected keyword argument\(s\) \['q'\].*its options are \['k'\]",
    ):
        ifnscore.score(_patients(), genes=GENES, scale="linear", method="toy_sum", q=1)


def test_misspelt_keyword_is_a_type_error_naming_the_fix():
    with pytest.raises(
        TypeError, match=r"\['min_gene'\] \(did you mean 'min_genes'\?\).*takes no options"
    ):
        ifnscore.score(CTRL, genes=GENES, scale="linear", method="mean_log", min_gene=3)


def test_calibrate_refuses_options_a_method_does_not_take(toy_method):
    with pytest.raises(
        errors.OptionError, match=r"\['foo'\].*method='fc_sum' \(it takes no options\)"
    ):
        ifnscore.calibrate(CTRL, genes=GENES, scale="linear", foo=1)
    with pytest.raises(errors.OptionError, match=r"\['q'\]"):
        ifnscore.calibrate(CTRL, genes=GENES, scale="linear", method="toy_sum", q=1)


# ------------------------------------------------------------------------ calibration data


def test_too_few_controls():
    with pytest.raises(errors.InputError, match="at least 2 healthy controls"):
        ifnscore.calibrate(CTRL[:1], genes=GENES, scale="linear")


def test_undefined_fold_changes_and_z_scores():
    X = CTRL.copy()
    X[:3, 0] = 0.0  # IFI27 median 0
    with pytest.raises(errors.InputError, match=r"\['IFI27'\] have a control median of 0"):
        ifnscore.calibrate(X, genes=GENES, scale="linear", method="fc_median")
    X = CTRL.copy()
    X[:, 1] = 7.0  # IFI44L constant
    with pytest.raises(errors.InputError, match=r"\['IFI44L'\] have zero spread"):
        ifnscore.calibrate(X, genes=GENES, scale="linear", method="z_mean")


# ------------------------------------------------------------------------ corrupt references


def _saved(ref, tmp_path, edit):
    d = ref.to_dict()
    edit(d)
    p = tmp_path / "ref.json"
    p.write_text(json.dumps(d))
    return p


def _set(path, value):
    def edit(d):
        node = d
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value

    return edit


def _drop(key):
    return lambda d: d.pop(key)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set(["schema"], "something.else"), "is not an ifnscore reference"),
        (_set(["schema_version"], 99), "schema version 99, newer"),
        (_set(["schema_version"], "one"), r"schema_version 'one'; it must be a whole number"),
        (_drop("gene_params"), r"has no field 'gene_params'"),
        (_drop("method"), r"has no field 'method'"),
        (_set(["method"], "fc_max"), "method='fc_max' is not known"),
        (_set(["scale"], "cpm"), "unknown scale 'cpm'"),
        (
            _set(["gene_params", "IFI27"], {"centre": None}),
            r"parameter 'centre' must be a number, got None",
        ),
        (_set(["gene_params", "IFI27"], {"spread": 1.0}), r"gene 'IFI27' has parameters"),
        (
            _set(["gene_params", "IFI27", "centre"], float("inf")),
            "holds Infinity, which is not a finite number",
        ),
        (lambda d: d["gene_params"].pop("SIGLEC1"), r"uses genes \['SIGLEC1'\] with no parameters"),
        (_set(["signatures"], {}), "holds no signature"),
        (
            lambda d: (
                d["gene_params"].update(MX1={"centre": 1.0}),
                d["signatures"]["rice6"]["genes_used"].append("MX1"),
            ),
            "genes outside its gene list",
        ),
        (
            _set(["signatures", "rice6", "upper_limit", "value"], float("nan")),
            "holds NaN, which is not a finite",
        ),
        (
            _set(["signatures", "rice6", "upper_limit", "source"], "guess"),
            r"has source 'guess'; expected one of",
        ),
        (
            _set(["signatures", "rice6", "limits", "controls", "value"], None),
            "value must be a number, got None",
        ),
        (_set(["signatures", "rice6", "control_scores"], [1.0, 2.0]), "stores 2 control scores"),
        (_set(["n_controls"], 1), "n_controls is 1; it must be at least 2"),
        (
            _set(["signatures", "rice6", "upper_limit"], 12.49),
            "upper_limit must be a JSON object, got float",
        ),
        (_set(["n_controls"], "many"), "n_controls must be a whole number, got 'many'"),
    ],
)
def test_invalid_reference_json(ref, tmp_path, edit, message):
    p = _saved(ref, tmp_path, edit)
    with pytest.raises(errors.ReferenceError, match=message):
        ifnscore.Reference.load(p)


def test_unreadable_reference_files(tmp_path):
    with pytest.raises(errors.ReferenceError, match="Cannot read reference"):
        ifnscore.Reference.load(tmp_path / "missing.json")
    p = tmp_path / "bad.json"
    p.write_text('{"schema": "ifnscore.reference", ')
    with pytest.raises(errors.ReferenceError, match="is not valid JSON"):
        ifnscore.Reference.load(p)
    p.write_text("[1, 2]")
    with pytest.raises(errors.ReferenceError, match="is not a JSON object"):
        ifnscore.Reference.load(p)
    assert issubclass(errors.ReferenceError, ValueError)


def test_reference_is_immutable(ref):
    with pytest.raises(TypeError, match="read-only"):
        ref.gene_params["IFI27"]["centre"] = 1.0  # type: ignore[index]
    with pytest.raises(AttributeError):
        ref.method = "z_sum"  # type: ignore[misc]


# ------------------------------------------------------------------------ no mutation


def test_inputs_are_not_mutated(ref):
    X = _patients()
    X[0, 0] = np.nan
    kept = X.copy()
    df = pd.DataFrame(_patients(), index=["a", "b", "c"], columns=GENES)
    df_kept = df.copy()
    csr = sp.csr_matrix(_patients())
    csr_kept = csr.copy()
    ctrl = CTRL.copy()
    ifnscore.score(X, genes=GENES, scale="linear", reference=ref, nan="omit")
    ifnscore.score(df, scale="linear", reference=ref)
    ifnscore.score(df.T, scale="linear", reference=ref)
    ifnscore.score(csr, genes=GENES, scale="linear", reference=ref)
    ifnscore.calibrate(ctrl, genes=GENES, scale="linear", method="z_sum")
    np.testing.assert_array_equal(X, kept)
    pd.testing.assert_frame_equal(df, df_kept)
    assert (csr != csr_kept).nnz == 0
    np.testing.assert_array_equal(ctrl, CTRL)
    a = ad.AnnData(_patients(), var=pd.DataFrame(index=GENES))
    before = a.copy()
    out = ifnscore.score(a, reference=ref, scale="linear", copy=True)
    assert out is not a
    np.testing.assert_array_equal(a.X, before.X)
    assert list(a.obs.columns) == []
    assert "ifnscore" not in a.uns


@pytest.mark.parametrize("bad", [0, -1, 2.5, "3", True])
def test_min_genes_must_be_a_positive_whole_number(bad):
    with pytest.raises(errors.InputError, match=rf"min_genes={bad!r} must be a whole number"):
        ifnscore.score(_patients(), genes=GENES, scale="linear", method="mean_log", min_genes=bad)


def test_min_genes_accepts_numpy_integers():
    res = ifnscore.score(
        _patients(), genes=GENES, scale="linear", method="mean_log", min_genes=np.int64(6)
    )
    assert res["n_genes"].tolist() == [6, 6, 6]


@pytest.mark.parametrize("method", ["fc_sum", "z_sum", "mean_log"])
@pytest.mark.parametrize("scale", ["log2", "log1p"])
def test_linear_values_declared_as_log_are_refused(method, scale):
    cpm = CTRL * 1000.0  # values up to 90,000: no log scale reaches them
    ref = None
    if method != "mean_log":
        ref = ifnscore.calibrate(np.log2(CTRL + 1), genes=GENES, scale=scale, method=method)
    with pytest.raises(errors.InputError, match=rf"on the {scale} scale.*look like linear values"):
        ifnscore.score(cpm, genes=GENES, scale=scale, method=method, reference=ref)
