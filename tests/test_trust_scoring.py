"""Numbers a clinician can trust, or one clear refusal: the scorer's side (issue 13, 12).

Batch independence to the last bit, duplicated gene labels refused in every container,
sample names kept as written, keywords checked, constant control genes refused for z-scores.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

import ifnscore
from ifnscore import errors

RICE6 = list(ifnscore.get_signature("rice6").genes)
GENES = [*RICE6, "ACTB", "GAPDH"]


def _data(n, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        rng.lognormal(3.0, 1.0, size=(n, len(GENES))),
        index=[f"S{i}" for i in range(n)],
        columns=GENES,
    )


@pytest.fixture(scope="module")
def refs():
    controls = _data(40, 1)
    return {
        m: ifnscore.calibrate(
            controls,
            signature="rice6",
            method=m,
            scale="linear",
            rule="mean+2sd",
            upper_limit="controls",
        )
        for m in ("fc_sum", "fc_mean", "fc_median", "fc_geomean", "z_sum", "z_mean")
    }


@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 30),
    picks=st.lists(st.integers(0, 29), min_size=1, max_size=8),
)
def test_batch_independence_to_the_last_bit(refs, seed, n, picks):
    """A sample scored alone, or in any sub-batch, gets the identical float (exact equality)."""
    data = _data(n, seed)
    rows = sorted({p % n for p in picks})
    for method, ref in refs.items():
        whole = ifnscore.score(data, reference=ref, scale="linear")["score"].to_numpy()
        part = ifnscore.score(data.iloc[rows], reference=ref, scale="linear")["score"].to_numpy()
        assert np.array_equal(part, whole[rows]), method
        one = ifnscore.score(data.iloc[[rows[0]]], reference=ref, scale="linear")[
            "score"
        ].to_numpy()
        assert one[0] == whole[rows[0]], method
    whole = ifnscore.score(data, method="mean_log", scale="linear")["score"].to_numpy()
    part = ifnscore.score(data.iloc[rows], method="mean_log", scale="linear")["score"].to_numpy()
    assert np.array_equal(part, whole[rows])


def _duplicated():
    cols = [*RICE6, "IFI27"]  # a second IFI27 column
    rng = np.random.default_rng(0)
    return rng.lognormal(3.0, 1.0, size=(5, len(cols))), cols


@pytest.mark.parametrize("container", ["frame", "ndarray", "csr", "anndata"])
def test_duplicated_gene_labels_are_refused_in_every_container(container):
    X, cols = _duplicated()
    samples = [f"S{i}" for i in range(5)]
    if container == "frame":
        data, kw = pd.DataFrame(X, index=samples, columns=cols), {}
    elif container == "ndarray":
        data, kw = X, {"genes": cols}
    elif container == "csr":
        data, kw = sp.csr_matrix(X), {"genes": cols}
    else:
        data, kw = ad.AnnData(X, obs=pd.DataFrame(index=samples), var=pd.DataFrame(index=cols)), {}
    with pytest.raises(errors.InputError, match=r"duplicated gene labels \['IFI27'\]"):
        ifnscore.score(data, method="mean_log", scale="linear", **kw)


def test_distinct_identifiers_of_one_gene_are_summed_and_reported():
    """IFI27 has two Ensembl IDs (ENSG00000165949, ENSG00000275214 in the shipped table): two
    distinct labels of one gene are summed on the linear scale, with a warning, not refused."""
    rng = np.random.default_rng(3)
    cols = [*RICE6[1:], "ENSG00000165949", "ENSG00000275214"]
    X = pd.DataFrame(rng.lognormal(3, 1, size=(4, 7)), columns=cols)
    with pytest.warns(
        errors.IfnscoreWarning, match=r"IFI27 <- \['ENSG00000165949', 'ENSG00000275214'\]"
    ):
        res = ifnscore.score(X, method="mean_log", scale="linear")
    m = [r for r in res.attrs["ifnscore"]["signatures"]["rice6"]["matches"] if r["gene"] == "IFI27"]
    assert m[0]["found"]
    expected = np.log2(X["ENSG00000165949"] + X["ENSG00000275214"] + 1)
    others = np.log2(X[RICE6[1:]] + 1).sum(axis=1)
    np.testing.assert_allclose(res["score"], (expected + others) / 6, rtol=1e-12)


@pytest.mark.parametrize("name", ["NA", "N/A", "NULL", "None", "nan", "NaN", "#N/A"])
def test_sample_names_are_kept_as_written(tmp_path, name):
    data = _data(3, 5)
    data.index = [name, "S1", "S2"]
    path = tmp_path / "t.csv"
    data.to_csv(path)
    adata = ifnscore.read(path)
    assert list(adata.obs_names) == [name, "S1", "S2"]
    res = ifnscore.score(adata, method="mean_log", scale="linear", copy=True)
    assert list(res.obs_names) == [name, "S1", "S2"]
    t = data.T
    t.to_csv(path)  # genes as rows: the names are the header
    assert list(ifnscore.read(path).obs_names) == [name, "S1", "S2"]


def test_na_and_nan_samples_do_not_clash(tmp_path):
    data = _data(2, 6)
    data.index = ["NA", "nan"]
    path = tmp_path / "t.tsv"
    data.to_csv(path, sep="\t")
    assert list(ifnscore.read(path).obs_names) == ["NA", "nan"]


def test_empty_sample_label_is_an_error_naming_the_row(tmp_path):
    path = tmp_path / "t.csv"
    text = "sample," + ",".join(GENES) + "\n"
    text += "S1," + ",".join(["5"] * len(GENES)) + "\n"
    text += "," + ",".join(["6"] * len(GENES)) + "\n"
    path.write_text(text)
    with pytest.raises(errors.InputError, match=r"row number 2 has an empty name"):
        ifnscore.read(path)
    frame = _data(2, 0)
    frame.index = ["S1", np.nan]
    with pytest.raises(
        errors.InputError, match=r"sample number 2 has an empty \(or missing\) name"
    ):
        ifnscore.score(frame, method="mean_log", scale="linear")


def test_constant_control_gene_is_refused_for_z_scores():
    """12 controls with one IFI44L value: SD is 0, not 1e-16; z would be ~3e13 otherwise."""
    controls = _data(12, 2)
    controls["IFI44L"] = 6.54321
    with pytest.raises(errors.InputError, match=r"\['IFI44L'\] have zero spread"):
        ifnscore.calibrate(
            controls, signature="rice6", method="z_mean", scale="linear", rule="mean+2sd"
        )


def test_bad_nan_is_refused_before_the_data_are_read():
    with pytest.raises(errors.InputError, match="nan='drop' is not valid"):
        ifnscore.score(object(), method="mean_log", nan="drop")


def test_genes_excluded_at_calibration_stay_out_when_scoring(tmp_path, example):
    """calibrate(exclude_genes=) is re-applied by score(), gene_table() and the CLI."""
    from ifnscore.cli import main

    counts, samples = example
    controls = counts[samples["group"] == "control"]
    ref = ifnscore.calibrate(controls, signature="rice6", exclude_genes=["SIGLEC1"])
    res = ifnscore.score(counts, reference=ref)
    info = res.attrs["ifnscore"]["signatures"]["rice6"]
    assert info["genes_used"] == ["IFI27", "IFI44L", "IFIT1", "ISG15", "RSAD2"]
    assert info["upper_limit_source"] == "controls"  # the published 12.49 was made with six genes
    assert "SIGLEC1" not in ifnscore.gene_table(counts.iloc[:3], ref).columns
    path = tmp_path / "c.csv"
    controls.to_csv(path)
    out = tmp_path / "ref.json"
    assert main(["calibrate", str(path), "--exclude-genes", "SIGLEC1", "-o", str(out), "-q"]) == 0
    again = ifnscore.score(counts, reference=ifnscore.Reference.load(out))
    np.testing.assert_array_equal(again["score"].to_numpy(), res["score"].to_numpy())


def test_gsva_gene_whose_bandwidth_underflows_is_constant():
    """FPKM of an unexpressed gene (~1e-207) varies, but its Gaussian bandwidth underflows to 0:
    it is left out like a constant gene instead of crashing (IndexError before)."""
    rng = np.random.default_rng(4)
    genes = [*RICE6, *[f"G{i}" for i in range(20)]]
    X = rng.lognormal(2, 1, size=(12, len(genes)))
    X[:, 1] = 1e-207 * (1 + np.arange(12))
    res = ifnscore.score(X, genes=genes, method="gsva", kcdf="gaussian", scale="linear")
    assert np.isfinite(res["score"]).all()


def _transcriptome(seed=0, n=6, g=300):
    rng = np.random.default_rng(seed)
    genes = [*RICE6, *[f"G{i}" for i in range(g - len(RICE6))]]
    counts = rng.poisson(rng.lognormal(4, 1.5, size=g), size=(n, g)) + 1
    return pd.DataFrame(counts, index=[f"S{i}" for i in range(n)], columns=genes)


def test_log2_data_declared_linear_warns():
    counts = _transcriptome()
    log2 = np.log2(counts / counts.to_numpy().sum(axis=1, keepdims=True) * 1e6 + 1)
    with pytest.warns(
        errors.IfnscoreWarning, match=r"scale='linear' but no value over 300 genes exceeds"
    ):
        ifnscore.score(log2, method="mean_log", scale="linear")


def test_non_integers_declared_counts_warn_and_log_values_are_refused():
    counts = _transcriptome()
    cpm = counts / counts.to_numpy().sum(axis=1, keepdims=True) * 1e6
    with pytest.warns(
        errors.IfnscoreWarning, match=r"sums to 1e6, as counts per million do; pass scale='linear'"
    ):
        ifnscore.score(cpm, method="mean_log", scale="counts")
    with pytest.warns(
        errors.IfnscoreWarning, match=r"expected for estimated counts \(Salmon, RSEM\)"
    ):
        ifnscore.score(counts * 1.5 + 0.25, method="mean_log", scale="counts")
    with pytest.raises(
        errors.ScaleError, match=r"scale='counts' but the values are non-integers no larger than"
    ):
        ifnscore.score(np.log2(cpm + 1), method="mean_log", scale="counts")


def test_integers_declared_log_warn():
    small = _transcriptome().clip(upper=50)
    with pytest.warns(
        errors.IfnscoreWarning, match=r"scale='log2' but the values are integers up to 50"
    ):
        ifnscore.score(small, method="mean_log", scale="log2")


def test_execution_settings_are_not_part_of_a_reference(example):
    """block_rows (a memory knob) is never stored in a Reference nor a reason for a mismatch."""
    counts, samples = example
    controls = counts[samples["group"] == "control"]
    ref = ifnscore.calibrate(controls, signature="rice6", method="module_score", block_rows=7)
    assert "block_rows" not in ref.method_options
    with pytest.warns(errors.IfnscoreWarning, match="cohort-dependent"):
        a = ifnscore.score(counts, reference=ref, block_rows=5)
    with pytest.warns(errors.IfnscoreWarning, match="cohort-dependent"):
        b = ifnscore.score(counts, reference=ref)
    # module_score's gene means are summed block by block: the last bits follow the block size
    np.testing.assert_allclose(a["score"].to_numpy(), b["score"].to_numpy(), rtol=1e-12)


def test_method_options_are_read_from_the_kernel():
    from ifnscore._methods import get_method
    from ifnscore._methods._base import kernel_options

    for name in ("gsva", "ucell", "aucell", "ssgsea", "singscore", "module_score"):
        m = get_method(name)
        assert dict(m.options) == kernel_options(m.run)
        assert "block_rows" not in m.options


def test_call_and_healthy_percentile_by_hand():
    """call's borderline zone = the limit's 90 % CI widened by 1.645 x CV x limit; the healthy
    percentile is the mid-rank percentile among the controls' scores; the fitted tail is the
    normal of the mean + 2 SD rule."""
    from scipy import stats

    controls = _data(40, 11)
    ref = ifnscore.calibrate(
        controls, signature="rice6", scale="linear", rule="mean+2sd", upper_limit="controls"
    )
    lim = ref.signatures["rice6"].upper_limit
    c = np.asarray(ref.signatures["rice6"].control_scores)
    lo_ci, hi_ci = lim.details["ci_low"], lim.details["ci_high"]
    data = _data(25, 12) * np.linspace(0.5, 3.0, 25)[:, None]
    res = ifnscore.score(data, reference=ref, scale="linear", repeatability_cv=0.1)
    half = 1.6448536269514722 * 0.1 * lim.value
    lo, hi = min(lo_ci, lim.value - half), max(hi_ci, lim.value + half)
    s = res["score"].to_numpy()
    want = np.where(s >= lim.value, "positive", "negative").astype(object)
    want[(s >= lo) & (s <= hi)] = "borderline"
    assert res["call"].tolist() == want.tolist()
    assert res["positive"].tolist() == (s >= lim.value).tolist()
    assert res.attrs["ifnscore"]["signatures"]["rice6"]["call_zone"] == pytest.approx(
        [lo, hi], rel=1e-12
    )
    pct = [100.0 * (np.sum(c < x) + np.sum(c == x) / 2) / c.size for x in s]
    np.testing.assert_allclose(res["healthy_percentile"], pct, rtol=1e-12)
    tail = stats.norm.sf(s, loc=c.mean(), scale=c.std(ddof=1))
    np.testing.assert_allclose(res["healthy_tail_p"], tail, rtol=1e-9)
    with pytest.raises(
        errors.InputError, match=r"repeatability_cv=15 must be the assay's coefficient"
    ):
        ifnscore.score(data, reference=ref, scale="linear", repeatability_cv=15)


def test_partial_samples_are_not_classified_against_a_published_limit():
    controls = _data(40, 13)
    with pytest.warns(errors.IfnscoreWarning, match="published limit does not transfer"):
        ref = ifnscore.calibrate(controls, signature="rice6", scale="linear", rule="mean+2sd")
    assert ref.signatures["rice6"].upper_limit.source == "published"
    data = _data(3, 14)
    data.iloc[0, 0] = np.nan  # IFI27 missing in the first sample
    res = ifnscore.score(data, reference=ref, scale="linear", nan="omit")
    assert res["call"].tolist()[0] == "unclassified"
    assert not res["positive"].iloc[0]
    assert np.isnan(res["fold_over_limit"].iloc[0])
    assert res["call"].iloc[1] != "unclassified"
    res = ifnscore.score(data, reference=ref, scale="linear", nan="omit", allow_partial=True)
    assert res["call"].iloc[0] != "unclassified"
