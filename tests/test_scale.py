"""Scale detection (scale="auto"): what is detected is reported; unclear data raise ScaleError."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import ifnscore
from ifnscore import errors

RICE6 = list(ifnscore.get_signature("rice6").genes)
GENES = RICE6 + [f"GENE{i}" for i in range(44)]


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(4)
    return rng.negative_binomial(3, 0.03, size=(12, len(GENES))).astype(np.int64)


def _detected(data, **kw):
    res = ifnscore.score(data, genes=GENES, method="mean_log", **kw)
    meta = res.attrs["ifnscore"]
    return meta["scale"], meta["scale_note"], res


def test_counts(counts):
    for data in (counts, counts.astype(np.float32), sp.csr_matrix(counts), sp.csc_array(counts)):
        scale, note, _ = _detected(data)
        assert scale == "counts"
        assert note.startswith("detected: integer values up to")


def test_linear(counts):
    cpm = counts / counts.sum(axis=1, keepdims=True) * 1e6
    scale, note, res = _detected(cpm)
    assert scale == "linear"
    assert "too large for a log scale" in note
    # detected linear CPM scores like the counts they came from
    _, _, from_counts = _detected(counts)
    np.testing.assert_allclose(res["score"], from_counts["score"], rtol=1e-12)


def test_log2_cpm(counts):
    cpm = counts / counts.sum(axis=1, keepdims=True) * 1e6
    scale, note, res = _detected(np.log2(cpm + 1))
    assert scale == "log2"
    assert "constant total 1e+06" in note
    _, _, from_counts = _detected(counts)
    np.testing.assert_allclose(res["score"], from_counts["score"], rtol=1e-12)


def test_log1p_normalize_total(counts):
    norm = counts / counts.sum(axis=1, keepdims=True) * 1e4
    scale, note, _ = _detected(np.log1p(norm))
    assert scale == "log1p"
    assert "constant total 1e+04" in note


def test_log1p_from_anndata_uns(counts):
    a = ad.AnnData(np.log1p(counts.astype(np.float64)), var=pd.DataFrame(index=GENES))
    a.uns["log1p"] = {"base": None}
    out = ifnscore.score(a, method="mean_log", copy=True)
    assert out.uns["ifnscore"]["scale"] == "log1p"
    assert "uns['log1p']" in out.uns["ifnscore"]["scale_note"]
    a.uns["log1p"] = {"base": 2}
    out = ifnscore.score(a, method="mean_log", copy=True)
    assert out.uns["ifnscore"]["scale"] == "log2"


def test_uns_log1p_does_not_apply_to_layers_or_raw(counts):
    a = ad.AnnData(np.log1p(counts.astype(np.float64)), var=pd.DataFrame(index=GENES))
    a.uns["log1p"] = {"base": None}
    a.layers["counts"] = counts
    out = ifnscore.score(a, method="mean_log", layer="counts", copy=True)
    assert out.uns["ifnscore"]["scale"] == "counts"
    raw = ad.AnnData(counts.astype(np.float32), var=pd.DataFrame(index=GENES))
    a.raw = raw
    out = ifnscore.score(a, method="mean_log", use_raw=True, copy=True)
    assert out.uns["ifnscore"]["scale"] == "counts"


@pytest.mark.crosscheck
def test_scanpy_normalize_total_log1p(counts):
    sc = pytest.importorskip("scanpy")
    a = ad.AnnData(counts.astype(np.float32), var=pd.DataFrame(index=GENES))
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
    out = ifnscore.score(a, method="mean_log", copy=True)
    assert out.uns["ifnscore"]["scale"] == "log1p"
    b = a.copy()
    del b.uns["log1p"]  # detected from the values alone
    out_b = ifnscore.score(b, method="mean_log", copy=True)
    assert out_b.uns["ifnscore"]["scale"] == "log1p"
    # mean of log2(x + 1) of the same normalised values, float32 storage: rtol 1e-6
    expected = np.log2(np.expm1(a[:, RICE6].X.astype(np.float64)) + 1).mean(axis=1)
    np.testing.assert_allclose(out.obs["ifnscore"], expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (np.random.default_rng(0).integers(0, 15, size=(6, 50)), "integers"),  # small ints
        (np.random.default_rng(1).uniform(0, 12, size=(6, 50)), "non-integers"),  # log? RQ?
        (np.random.default_rng(2).normal(0, 1, size=(6, 50)), "negative values"),  # centred
        (np.full((6, 50), np.nan), "all NaN"),
    ],
)
def test_unclear_scale_raises(data, what):
    with pytest.raises(errors.ScaleError, match=f"{what}.*pass scale="):
        ifnscore.score(data, genes=GENES, method="mean_log")


def test_log_subset_of_genes_is_not_guessed(counts):
    # log1p data restricted to a gene subset no longer back-transform to a constant total
    norm = np.log1p(counts / counts.sum(axis=1, keepdims=True) * 1e4)
    with pytest.raises(errors.ScaleError, match="cannot tell the scale"):
        ifnscore.score(norm[:, :20], genes=GENES[:20], method="mean_log")
    res = ifnscore.score(norm[:, :20], genes=GENES[:20], method="mean_log", scale="log1p")
    assert res.attrs["ifnscore"]["scale_note"] == "given"


def test_detected_scale_must_match_the_reference(counts):
    ref = ifnscore.calibrate(counts[:6], genes=GENES)
    assert ref.scale == "counts"
    cpm = counts / counts.sum(axis=1, keepdims=True) * 1e6
    with pytest.raises(errors.ReferenceMismatchError, match=r"scale 'linear' \(detected"):
        ifnscore.score(cpm, genes=GENES, reference=ref)


@pytest.mark.parametrize(
    "transform",
    [
        lambda c: c,
        lambda c: c / c.sum(axis=1, keepdims=True) * 1e6,
        lambda c: np.log2(c / c.sum(axis=1, keepdims=True) * 1e6 + 1),
        lambda c: np.log1p(c / c.sum(axis=1, keepdims=True) * 1e4),
    ],
    ids=["counts", "linear", "log2", "log1p"],
)
def test_sparse_detection_agrees_with_dense_and_stays_sparse(counts, transform):
    from ifnscore._validation import _CHUNK_VALUES, _sample_chunks, detect_scale

    dense = transform(counts.astype(np.float64))
    for fmt in (sp.csr_matrix, sp.csc_matrix, sp.csr_array):
        X = fmt(dense)
        assert detect_scale(X) == detect_scale(dense)
        # detection never densifies sparse data
        assert all(sp.issparse(c) for c in _sample_chunks(X))
    # dense data are read in bounded chunks of the sampled rows, in their own dtype
    wide = np.tile(dense.astype(np.float32), (1, 1 + _CHUNK_VALUES // dense.shape[1]))
    chunks = list(_sample_chunks(wide))
    assert len(chunks) > 1
    assert all(c.dtype == np.float32 and c.size <= max(_CHUNK_VALUES, wide.shape[1]) for c in chunks)
    assert sum(c.shape[0] for c in chunks) == min(wide.shape[0], 1000)


def test_sparse_ambiguous_data_is_not_guessed():
    rng = np.random.default_rng(5)
    X = sp.random(20, 300, density=0.1, random_state=rng, data_rvs=lambda k: rng.uniform(0, 9, k))
    with pytest.raises(errors.ScaleError, match=r"range 0 to"):
        ifnscore.score(
            X.tocsr(),
            genes=[f"G{i}" for i in range(300)],
            method="mean_log",
            signature=["G1", "G2"],
        )


def test_sampled_rows_of_a_wide_csc_matrix_are_chunked_rows():
    """A CSC matrix's sampled rows are taken as rows (CSR chunks of bounded stored values)."""
    from ifnscore._validation import _CHUNK_VALUES, _sample_chunks

    rng = np.random.default_rng(2)
    X = sp.random(1500, 3000, density=0.2, format="csc", random_state=rng, dtype=np.float32)
    chunks = list(_sample_chunks(X))
    assert len(chunks) > 1
    assert all(c.format == "csr" and c.shape[1] == 3000 for c in chunks)
    assert sum(c.shape[0] for c in chunks) == 1000
    assert max(c.nnz for c in chunks) <= _CHUNK_VALUES + 3000
    assert sum(c.nnz for c in chunks) == sum(c.nnz for c in _sample_chunks(X.tocsr()))
