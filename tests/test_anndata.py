"""AnnData write-back: obs columns, uns parameters, copy semantics, h5ad round trip."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import ifnscore
from ifnscore import errors

RICE6 = list(ifnscore.get_signature("rice6").genes)


@pytest.fixture(scope="module")
def adata_and_ref(example, ref_fc_sum):
    counts, samples = example
    a = ad.AnnData(
        X=sp.csr_matrix(counts.to_numpy(dtype=np.float32)),
        obs=samples.copy(),
        var=pd.DataFrame(index=counts.columns),
    )
    return a, ref_fc_sum, ifnscore.score(counts, reference=ref_fc_sum)


def test_in_place_writes_obs_and_uns_and_returns_none(adata_and_ref):
    a0, ref, expected = adata_and_ref
    a = a0.copy()
    assert ifnscore.score(a, reference=ref) is None
    np.testing.assert_allclose(a.obs["ifnscore"], expected["score"], rtol=1e-12)
    assert a.obs["ifnscore_positive"].dtype == bool
    assert a.obs["ifnscore_positive"].tolist() == expected["positive"].tolist()
    np.testing.assert_allclose(a.obs["ifnscore_fold_over_limit"], expected["fold_over_limit"])
    assert a.obs["ifnscore_n_genes"].tolist() == [6] * a.n_obs
    uns = a.uns["ifnscore"]
    assert uns["method"] == "fc_sum"
    assert uns["scale"] == "counts"
    assert uns["signatures"]["rice6"]["upper_limit"] == 12.49
    assert list(uns["signatures"]["rice6"]["genes_used"]) == RICE6
    assert uns["obs_columns"] == [
        "ifnscore",
        "ifnscore_positive",
        "ifnscore_fold_over_limit",
        "ifnscore_call",
        "ifnscore_healthy_percentile",
        "ifnscore_n_genes",
    ]
    # obsm[key]: samples x signatures scores (decoupler's obsm["score_<method>"] layout)
    assert list(a.obsm["ifnscore"].columns) == ["rice6"]
    np.testing.assert_allclose(a.obsm["ifnscore"]["rice6"], expected["score"], rtol=1e-12)
    # read back by the one module that knows the layout, not by decoding names
    from ifnscore._results import from_anndata

    back = from_anndata(a)
    pd.testing.assert_frame_equal(back, expected, check_exact=True)
    assert uns["reference"]["n_controls"] == 40
    # nothing else changed: same matrix object, same obs rows, original metadata kept
    assert a.X is not None
    assert a.shape == a0.shape
    pd.testing.assert_frame_equal(a.obs[a0.obs.columns], a0.obs)


def test_copy_returns_a_new_object_and_leaves_the_original(adata_and_ref):
    a0, ref, expected = adata_and_ref
    a = a0.copy()
    obs_before = a.obs.copy()
    out = ifnscore.score(a, reference=ref, copy=True, key="ifn")
    assert isinstance(out, ad.AnnData)
    assert out is not a
    pd.testing.assert_frame_equal(a.obs, obs_before)
    assert "ifn" not in a.uns
    np.testing.assert_allclose(out.obs["ifn"], expected["score"], rtol=1e-12)
    assert "ifn_positive" in out.obs
    assert "ifn" in out.uns


def test_result_writes_to_h5ad(tmp_path, adata_and_ref):
    a0 = adata_and_ref[0]
    a = a0[:, [g for g in a0.var_names if g != "SIGLEC1"]].copy()  # a missing gene in uns
    with pytest.warns(errors.MissingGenesWarning, match="SIGLEC1"):
        out = ifnscore.score(a, method="mean_log", copy=True)  # no reference: None in uns
    with pytest.warns(errors.MissingGenesWarning):
        ifnscore.score(out, signature=["rice6", "feng5"], method="mean_log", key="multi")
    assert "multi_rice6" in out.obs
    assert "multi_feng5_n_genes" in out.obs
    path = tmp_path / "scored.h5ad"
    out.write_h5ad(path)
    back = ad.read_h5ad(path)
    np.testing.assert_allclose(back.obs["ifnscore"], out.obs["ifnscore"])
    assert back.uns["ifnscore"]["method"] == "mean_log"
    assert list(back.uns["ifnscore"]["signatures"]["rice6"]["genes_missing"]) == ["SIGLEC1"]
    assert "multi" in back.uns


def test_rescoring_in_place_warns_about_overwriting(adata_and_ref):
    a0, ref, _ = adata_and_ref
    a = a0.copy()
    ifnscore.score(a, reference=ref)
    with pytest.warns(errors.IfnscoreWarning, match="Overwriting existing obs columns"):
        ifnscore.score(a, reference=ref)
    ifnscore.score(a, reference=ref, key="second")  # a new key: no warning


def test_backed_copy_is_refused_with_a_clear_error(tmp_path, adata_and_ref):
    a0, ref, _ = adata_and_ref
    path = tmp_path / "backed.h5ad"
    a0.write_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    try:
        with pytest.raises(errors.InputError, match=r"copy=True cannot copy a backed AnnData"):
            ifnscore.score(backed, reference=ref, copy=True)
        assert "ifnscore" not in backed.obs
    finally:
        backed.file.close()


def test_calibrate_and_score_from_anndata_layers(adata_and_ref):
    a0, ref, expected = adata_and_ref
    a = a0.copy()
    a.layers["counts"] = a.X.copy()
    lib = np.asarray(a.X.sum(axis=1)).ravel()
    a.X = sp.csr_matrix(np.log1p(a.X.multiply(1e4 / lib[:, None]).toarray()))
    a.uns["log1p"] = {"base": None}  # as scanpy sets it: describes X, not the layer
    ctrl = a[a.obs["group"] == "control"]
    ref2 = ifnscore.calibrate(ctrl, layer="counts")
    assert ref2.scale == "counts"
    np.testing.assert_allclose(
        ref2.gene_params["IFI27"]["centre"], ref.gene_params["IFI27"]["centre"], rtol=1e-12
    )
    out = ifnscore.score(a, reference=ref2, layer="counts", copy=True)
    np.testing.assert_allclose(out.obs["ifnscore"], expected["score"], rtol=1e-12)
    assert out.uns["ifnscore"]["input"] == "AnnData.layers['counts']"
