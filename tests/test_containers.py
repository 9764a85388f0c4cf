"""Every container and dtype gives the same scores as a float64 ndarray.

Tolerances: rtol 1e-12 for float64 and integer inputs and for float32 inputs holding the
same values (counts are exact in float32; the score is accumulated in float64).
A float32 copy of non-integer float64 data differs by its own rounding: rtol 1e-6.
"""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import ifnscore

RTOL = 1e-12
RTOL_F32 = 1e-6
METHODS = ["fc_sum", "fc_median", "fc_geomean", "fc_mean", "z_sum", "z_mean", "mean_log"]
RICE6 = list(ifnscore.get_signature("rice6").genes)
GENES = [*RICE6[:3], "ACTB", *RICE6[3:], *(f"GENE{i}" for i in range(33))]
SAMPLES = [f"s{i:02d}" for i in range(14)]


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(7)
    X = rng.negative_binomial(4, 0.02, size=(len(SAMPLES), len(GENES))).astype(np.int64)
    X[:, 7:20] = 0  # plenty of structural zeros for the sparse formats
    X[3:, :2] *= 5  # some IFN-high samples
    return X


@pytest.fixture(scope="module")
def refs(counts):
    ctrl = counts[:6]
    return {m: ifnscore.calibrate(ctrl, genes=GENES, scale="counts", method=m) for m in METHODS}


@pytest.fixture(scope="module")
def expected(counts, refs):
    return {
        m: ifnscore.score(counts, genes=GENES, samples=SAMPLES, reference=refs[m]) for m in METHODS
    }


def _score(data, ref, **kw):
    out = ifnscore.score(data, reference=ref, **kw)
    return out


ARRAY_CONTAINERS = {
    "ndarray_int32": lambda X: X.astype(np.int32),
    "ndarray_float32": lambda X: X.astype(np.float32),
    "ndarray_F_order": lambda X: np.asfortranarray(X.astype(np.float64)),
    "csr_matrix": sp.csr_matrix,
    "csc_matrix": sp.csc_matrix,
    "csr_array": sp.csr_array,
    "csc_array": sp.csc_array,
    "csr_float32": lambda X: sp.csr_matrix(X.astype(np.float32)),
    "coo_matrix": sp.coo_matrix,
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("container", sorted(ARRAY_CONTAINERS))
def test_arrays_and_sparse(counts, refs, expected, method, container):
    data = ARRAY_CONTAINERS[container](counts)
    res = _score(data, refs[method], genes=GENES, samples=SAMPLES)
    pd.testing.assert_index_equal(res.index, expected[method].index)
    np.testing.assert_allclose(res["score"], expected[method]["score"], rtol=RTOL)
    assert res["positive"].tolist() == expected[method]["positive"].tolist()
    assert res["score"].dtype == np.float64
    assert res.attrs["ifnscore"]["scale"] == "counts"


@pytest.mark.parametrize("method", METHODS)
def test_genes_by_samples_array_with_rows_genes(counts, refs, expected, method):
    for data in (counts.T, sp.csr_matrix(counts.T), sp.csc_array(counts.T)):
        res = _score(data, refs[method], genes=GENES, samples=SAMPLES, rows="genes")
        np.testing.assert_allclose(res["score"], expected[method]["score"], rtol=RTOL)
    # the orientation is unambiguous from the length of genes= here too
    res = _score(counts.T, refs[method], genes=GENES, samples=SAMPLES)
    np.testing.assert_allclose(res["score"], expected[method]["score"], rtol=RTOL)


@pytest.mark.parametrize("method", METHODS)
def test_dataframes(counts, refs, expected, method):
    df = pd.DataFrame(counts, index=SAMPLES, columns=GENES)
    variants = {
        "samples x genes": _score(df, refs[method]),
        "genes x samples (auto)": _score(df.T, refs[method]),
        "genes x samples (rows='genes')": _score(df.T, refs[method], rows="genes"),
        "float32": _score(df.astype(np.float32), refs[method]),
        "sparse dtype": _score(df.astype(pd.SparseDtype("float64", 0.0)), refs[method]),
    }
    for name, res in variants.items():
        pd.testing.assert_index_equal(res.index, expected[method].index, obj=name)
        np.testing.assert_allclose(res["score"], expected[method]["score"], rtol=RTOL, err_msg=name)
        assert res["score"].dtype == np.float64


def _anndata(counts, X=None):
    return ad.AnnData(
        X=counts.astype(np.float32) if X is None else X,
        obs=pd.DataFrame(index=SAMPLES),
        var=pd.DataFrame(index=GENES),
    )


@pytest.mark.parametrize("method", METHODS)
def test_anndata_x_layer_raw(counts, refs, expected, method):
    want = expected[method]["score"].to_numpy()
    # X dense and sparse
    for X in (counts.astype(np.float32), sp.csr_matrix(counts.astype(np.float32))):
        a = _anndata(counts, X)
        out = _score(a, refs[method], copy=True)
        np.testing.assert_allclose(out.obs["ifnscore"], want, rtol=RTOL)
    # a layer, with log data in X
    a = _anndata(counts, np.log1p(counts.astype(np.float32)))
    a.layers["counts"] = sp.csc_matrix(counts)
    out = _score(a, refs[method], layer="counts", copy=True)
    np.testing.assert_allclose(out.obs["ifnscore"], want, rtol=RTOL)
    # raw: counts of all genes in raw, X subset to non-signature genes
    a = _anndata(counts)
    a.raw = a
    a = a[:, [g for g in GENES if g not in RICE6]].copy()
    out = _score(a, refs[method], use_raw=True, copy=True)
    np.testing.assert_allclose(out.obs["ifnscore"], want, rtol=RTOL)
    assert out.uns["ifnscore"]["input"] == "AnnData.raw"


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("method", ["fc_sum", "fc_median", "z_mean", "mean_log"])
def test_backed_h5ad(tmp_path, counts, refs, expected, method, sparse):
    X = counts.astype(np.float32)
    path = tmp_path / "counts.h5ad"
    _anndata(counts, sp.csr_matrix(X) if sparse else X).write_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    try:
        assert backed.isbacked
        assert ifnscore.score(backed, reference=refs[method]) is None
        np.testing.assert_allclose(backed.obs["ifnscore"], expected[method]["score"], rtol=RTOL)
        assert backed.uns["ifnscore"]["input"] == "AnnData.X"
        if method != "mean_log":  # calibrating from a backed file gives the same reference
            ref = ifnscore.calibrate(backed[:6], method=method)
            assert ref.gene_params == refs[method].gene_params
    finally:
        backed.file.close()


def test_float32_non_integer_data_documented_tolerance(counts):
    rng = np.random.default_rng(3)
    lin = counts * rng.uniform(0.5, 1.5, size=counts.shape)  # non-integer linear values
    ref = ifnscore.calibrate(lin[:6], genes=GENES, scale="linear")
    full = ifnscore.score(lin, genes=GENES, scale="linear", reference=ref)["score"]
    f32 = lin.astype(np.float32)
    res32 = ifnscore.score(f32, genes=GENES, scale="linear", reference=ref)["score"]
    # same values in float64: identical up to float64 rounding
    res64 = ifnscore.score(f32.astype(np.float64), genes=GENES, scale="linear", reference=ref)
    np.testing.assert_allclose(res32, res64["score"], rtol=RTOL)
    # against the unrounded data: float32's own input rounding
    np.testing.assert_allclose(res32, full, rtol=RTOL_F32)
    assert res32.dtype == np.float64


def test_int_and_float_linear_inputs_agree():
    rng = np.random.default_rng(11)
    X = rng.integers(1, 200, size=(8, 6))
    ref = ifnscore.calibrate(X[:4], genes=RICE6, scale="linear", method="fc_median")
    a = ifnscore.score(X, genes=RICE6, scale="linear", reference=ref)["score"]
    for dt in (np.int32, np.uint16, np.float32, np.float64):
        b = ifnscore.score(X.astype(dt), genes=RICE6, scale="linear", reference=ref)["score"]
        np.testing.assert_allclose(b, a, rtol=RTOL)


def test_result_keeps_the_dataframe_index(counts, refs, expected):
    # integer and named indexes are kept as they are, so results align with the user's tables
    df = pd.DataFrame(counts, columns=GENES, index=pd.RangeIndex(100, 100 + len(counts), name="id"))
    res = ifnscore.score(df, reference=refs["fc_sum"])
    assert res.index.tolist() == list(range(100, 100 + len(counts)))
    assert df.index.name == "id"  # the input's index is not renamed
    joined = df[["ACTB"]].assign(score=res["score"])
    np.testing.assert_allclose(joined["score"], expected["fc_sum"]["score"], rtol=RTOL)
    mi = df.set_axis(pd.MultiIndex.from_product([["a", "b"], range(7)]), axis=0)
    res = ifnscore.score(mi, reference=refs["fc_sum"])
    pd.testing.assert_index_equal(res.index, mi.index)
    ref = ifnscore.calibrate(df.iloc[:6], genes=None)
    assert ref.control_samples == tuple(str(i) for i in range(100, 106))


@pytest.mark.parametrize("dtype", ["Int64", "Float64", "int64[pyarrow]", "float32[pyarrow]"])
def test_nullable_and_arrow_dataframes(counts, refs, expected, dtype):
    if "pyarrow" in dtype:
        pytest.importorskip("pyarrow")
    df = pd.DataFrame(counts, index=SAMPLES, columns=GENES).astype(dtype)
    res = ifnscore.score(df, reference=refs["fc_median"])
    np.testing.assert_allclose(res["score"], expected["fc_median"]["score"], rtol=RTOL)
    df.iloc[0, 0] = pd.NA  # a missing value is NaN to the nan= policy
    with pytest.raises(ifnscore.errors.InputError, match="counts must be finite"):
        ifnscore.score(df, reference=refs["fc_median"])
