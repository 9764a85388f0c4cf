"""The one-pass scan (``ifnscore._gather``) and out-of-core scoring (backed h5ad, zarr, h5py).

Every container must give the numbers of the in-memory CSR path: gathered columns exactly
(they are copies of stored values), row totals to 1e-12 relative (float64 accumulation; exact
for integer counts) and scores identical. Out of core, each row block is read once.
"""

from __future__ import annotations

import tracemalloc
import warnings

import anndata as ad
import h5py
import numpy as np
import pytest
import scipy.sparse as sp
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

import ifnscore
from ifnscore import _gather
from ifnscore._gather import gather, minimum, row_totals, scan
from ifnscore.datasets import simulate_sparse
from ifnscore.errors import InputError


@pytest.fixture(scope="module")
def cells():
    return simulate_sparse(3000, 400, seed=7)


@pytest.fixture(scope="module")
def ref_counts(controls):
    return ifnscore.calibrate(controls, signature="rice6", method="fc_sum", scale="counts")


def _naive(X: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Hand computation: plain loops over rows, float64 accumulation."""
    D = np.asarray(X, dtype=np.float64)
    vals = np.array([[D[i, c] for c in cols] for i in range(D.shape[0])]).reshape(
        D.shape[0], len(cols)
    )
    tot = np.array([sum(float(v) for v in row) for row in D])
    return vals, tot, float(np.nanmin(D))


def test_simulate_sparse_is_seeded_and_blockwise():
    a = simulate_sparse(5000, 300, seed=3)
    b = simulate_sparse(5000, 300, seed=3)
    assert (a.X != b.X).nnz == 0
    blocks = list(ifnscore.datasets._singlecell.iter_sparse_blocks(5000, 300, seed=3))
    assert (sp.vstack(blocks).tocsr() != a.X).nnz == 0
    assert a.X.dtype == np.float32
    assert a.X.data.min() >= 1  # counts, zeros implicit
    np.testing.assert_array_equal(a.X.data, np.round(a.X.data))
    density = a.X.nnz / (5000 * 300)
    assert 0.03 < density < 0.065  # asked for 0.0465 (expected value, sampling spread)
    assert list(a.var_names[:6]) == ["IFI27", "SIGLEC1", "RSAD2", "IFI44L", "IFIT1", "ISG15"]
    # interferon-high cells express ISGs more (the simulated truth is in obs)
    high = a.obs["ifn_activity"].to_numpy() > 0
    isg = np.asarray(a.X[:, :6].sum(axis=1)).ravel()
    assert isg[high].mean() > 3 * isg[~high].mean()


def test_simulate_sparse_rejects_bad_arguments():
    with pytest.raises(ValueError, match="density"):
        simulate_sparse(10, 10, density=0.9)
    with pytest.raises(ValueError, match="n_cells"):
        simulate_sparse(0, 10)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda X: X, id="csr"),
        pytest.param(lambda X: X.tocsc(), id="csc"),
        pytest.param(sp.csr_array, id="csr_array"),
        pytest.param(lambda X: X.tocoo(), id="coo"),
        pytest.param(lambda X: X.toarray(), id="ndarray"),
        pytest.param(lambda X: np.asfortranarray(X.toarray()), id="ndarray-F"),
        pytest.param(lambda X: X.toarray().astype(np.int64), id="int64"),
    ],
)
def test_scan_matches_hand_computation(cells, make):
    X = cells.X[:200]
    cols = np.array([5, 0, 399, 17, 5])  # unsorted, repeated
    want_v, want_t, want_m = _naive(X.toarray(), cols)
    s = scan(make(X), cols, totals=True)
    np.testing.assert_array_equal(s.values, want_v)  # copies of stored values: exact
    np.testing.assert_allclose(s.totals, want_t, rtol=1e-12)
    assert s.minimum == want_m == 0.0
    assert s.values.dtype == np.float64
    assert s.totals.dtype == np.float64


def test_scan_threads_and_parts_give_identical_results(cells, monkeypatch):
    X = cells.X
    cols = np.arange(0, 400, 7)
    monkeypatch.setenv("IFNSCORE_NUM_THREADS", "1")
    one = scan(X, cols, totals=True)
    monkeypatch.setattr(_gather, "PART_NNZ", 997)  # many small parts
    monkeypatch.setenv("IFNSCORE_NUM_THREADS", "4")
    assert len(_gather._parts(X)) > 50
    many = scan(X, cols, totals=True)
    np.testing.assert_array_equal(one.values, many.values)
    np.testing.assert_array_equal(one.totals, many.totals)
    assert one.minimum == many.minimum


def test_scan_non_canonical_csr_sums_duplicates():
    # two stored entries for (0, 1): scipy semantics add them
    X = sp.csr_matrix(
        (np.array([1.0, 2.0, 4.0, -3.0]), np.array([1, 1, 0, 2]), np.array([0, 3, 4])),
        shape=(2, 3),
    )
    s = scan(X, np.array([1, 0]), totals=True)
    np.testing.assert_array_equal(s.values, [[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_array_equal(s.totals, [7.0, -3.0])
    assert s.minimum == -3.0


def test_empty_rows_and_nan():
    X = sp.csr_matrix(np.array([[0, 0, 0], [1, np.nan, 2], [0, 0, 5]], dtype=np.float32))
    s = scan(X, np.array([2]), totals=True)
    np.testing.assert_array_equal(s.totals[[0, 2]], [0.0, 5.0])
    assert np.isnan(s.totals[1])
    assert s.minimum == 0.0  # NaN ignored, implicit zeros count
    np.testing.assert_array_equal(row_totals(X)[[0, 2]], [0.0, 5.0])
    assert minimum(np.array([[np.nan, 3.0]])) == 3.0


@given(
    n=st.integers(1, 40),
    m=st.integers(1, 25),
    density=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
    part=st.integers(1, 60),
    data=st.data(),
)
def test_scan_property_equals_dense(n, m, density, seed, part, data):
    """Any CSR matrix, any columns (repeats allowed), any part size, numpy or compiled
    kernel (when numba is installed): scan == dense maths."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, m, density=density, format="csr", random_state=rng, dtype=np.float32)
    X.data = np.round(X.data * 100)
    cols = np.array(data.draw(st.lists(st.integers(0, m - 1), min_size=0, max_size=8)), dtype=int)
    D = X.toarray().astype(np.float64)
    old = _gather.PART_NNZ, _gather.NUMBA_MIN_NNZ
    _gather.PART_NNZ = part
    _gather.NUMBA_MIN_NNZ = 0 if data.draw(st.booleans(), label="compiled") else 2**62
    try:
        s = scan(X, cols, totals=True)
    finally:
        _gather.PART_NNZ, _gather.NUMBA_MIN_NNZ = old
    np.testing.assert_array_equal(s.values, D[:, cols])
    np.testing.assert_array_equal(s.totals, D.sum(axis=1))  # integer values: exact
    assert s.minimum == D.min()


class _CountingRows:
    """A row-sliceable backed array that records every read."""

    def __init__(self, X):
        self._X = X
        self.shape = X.shape
        self.dtype = X.dtype
        self.reads: list[tuple[int, int]] = []

    def __getitem__(self, key):
        if not (isinstance(key, slice) and key.step in (None, 1)):
            raise AssertionError(f"non-contiguous read {key!r}")
        self.reads.append((key.start or 0, key.stop))
        return self._X[key]


def test_backed_counts_read_each_block_once(cells, ref_counts):
    proxy = _CountingRows(cells.X)
    res = ifnscore.score(
        proxy, genes=cells.var_names, reference=ref_counts, scale="counts"
    )  # scale given: no detection read
    assert sorted(proxy.reads) == [(0, 3000)]  # 3000 rows < one block of 10,000
    proxy.reads.clear()
    s = scan(proxy, np.arange(6), totals=True, block_rows=700)
    assert proxy.reads == [(i, min(3000, i + 700)) for i in range(0, 3000, 700)]
    want = ifnscore.score(cells.X, genes=cells.var_names, reference=ref_counts)
    np.testing.assert_array_equal(res["score"], want["score"])
    np.testing.assert_array_equal(s.values, cells.X[:, :6].toarray())


@pytest.fixture(scope="module")
def files(cells, tmp_path_factory):
    d = tmp_path_factory.mktemp("ooc")
    cells.write_h5ad(d / "cells.h5ad")
    with warnings.catch_warnings():  # anndata: zarr v2 will stop being the default
        warnings.simplefilter("ignore", UserWarning)
        cells.write_zarr(d / "cells.zarr")
    with h5py.File(d / "dense.h5", "w") as f:
        f.create_dataset("X", data=cells.X.toarray(), chunks=(256, 400))
    return d


def test_backed_h5ad_scores_like_memory(cells, files, ref_counts):
    want = ifnscore.score(cells.copy(), reference=ref_counts, copy=True).obs
    backed = ad.read_h5ad(files / "cells.h5ad", backed="r")
    assert type(backed.X).__name__.endswith("CSRDataset")
    assert ifnscore.score(backed, reference=ref_counts) is None  # obs written in place
    np.testing.assert_array_equal(backed.obs["ifnscore"], want["ifnscore"])
    np.testing.assert_array_equal(backed.obs["ifnscore_positive"], want["ifnscore_positive"])
    backed.file.close()


def test_zarr_sparse_dataset_scores_like_memory(cells, files, ref_counts):
    group = zarr.open_group(str(files / "cells.zarr"), mode="r")
    lazy = ad.AnnData(X=ad.io.sparse_dataset(group["X"]), obs=cells.obs, var=cells.var)
    want = ifnscore.score(cells.X, genes=cells.var_names, reference=ref_counts)
    got = ifnscore.score(lazy, reference=ref_counts, copy=False)
    assert got is None
    np.testing.assert_array_equal(lazy.obs["ifnscore"], want["score"])


def test_h5py_and_zarr_dense_arrays(cells, files, ref_counts):
    want = ifnscore.score(cells.X, genes=cells.var_names, reference=ref_counts)
    with h5py.File(files / "dense.h5", "r") as f:
        got = ifnscore.score(f["X"], genes=cells.var_names, reference=ref_counts)
    np.testing.assert_array_equal(got["score"], want["score"])
    z = zarr.create_array(
        store=str(files / "dense.zarr"), shape=cells.shape, chunks=(500, 400), dtype="f4"
    )
    z[:] = cells.X.toarray()
    got = ifnscore.score(z, genes=cells.var_names, reference=ref_counts)
    np.testing.assert_array_equal(got["score"], want["score"])
    for method in ("mean_log",):
        a = ifnscore.score(z, genes=cells.var_names, method=method, scale="counts")
        b = ifnscore.score(cells.X, genes=cells.var_names, method=method, scale="counts")
        np.testing.assert_array_equal(a["score"], b["score"])


def test_backed_negative_counts_are_rejected(tmp_path):
    X = sp.csr_matrix(np.array([[5, 0, 3, 1, 2, 4, 9], [1, 2, 3, 4, 5, 6, -1]], dtype=np.float32))
    genes = ["IFI27", "IFI44L", "IFIT1", "ISG15", "RSAD2", "SIGLEC1", "OTHER"]
    a = ad.AnnData(X=X, var={"g": genes})
    a.var_names = genes
    a.write_h5ad(tmp_path / "neg.h5ad")
    backed = ad.read_h5ad(tmp_path / "neg.h5ad", backed="r")
    with pytest.raises(InputError, match="negative values"):
        ifnscore.score(backed, method="mean_log", scale="counts")
    backed.file.close()


def test_out_of_core_memory_is_bounded_by_the_block(tmp_path):
    """Scoring a backed file allocates about one block, not the matrix (tracemalloc)."""
    a = simulate_sparse(20_000, 2000, seed=5)
    a.write_h5ad(tmp_path / "big.h5ad")
    matrix_bytes = a.X.data.nbytes + a.X.indices.nbytes + a.X.indptr.nbytes
    del a
    backed = ad.read_h5ad(tmp_path / "big.h5ad", backed="r")
    genes = backed.var_names
    tracemalloc.start()
    try:
        s = scan(
            backed.X, np.flatnonzero(genes.isin(["IFI27", "ISG15"])), totals=True, block_rows=1000
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        backed.file.close()
    assert s.values.shape == (20_000, 2)
    assert peak < 0.25 * matrix_bytes, (peak, matrix_bytes)


def test_gather_is_the_values_of_scan(cells):
    cols = np.array([3, 1])
    np.testing.assert_array_equal(gather(cells.X, cols), cells.X[:, cols].toarray())
    np.testing.assert_allclose(
        row_totals(cells.X), np.asarray(cells.X.sum(axis=1, dtype=np.float64)).ravel(), rtol=1e-12
    )


@pytest.fixture
def compiled(monkeypatch):
    """Force the numba kernel (when numba is installed) on small matrices."""
    pytest.importorskip("numba")
    monkeypatch.setattr(_gather, "NUMBA_MIN_NNZ", 0)
    monkeypatch.setenv("IFNSCORE_NUMBA", "1")
    return monkeypatch


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_compiled_kernel_equals_numpy_path(cells, compiled, dtype):
    """Gathered values identical; totals identical for integer counts (order-free sums)."""
    X = cells.X.astype(dtype)
    cols = np.array([5, 0, 399, 17, 5])
    assert _gather._use_kernel(X)
    fast = scan(X, cols, totals=True)
    compiled.setenv("IFNSCORE_NUMBA", "0")
    assert not _gather._use_kernel(X)
    slow = scan(X, cols, totals=True)
    np.testing.assert_array_equal(fast.values, slow.values)
    np.testing.assert_array_equal(fast.totals, slow.totals)
    assert fast.minimum == slow.minimum


def test_compiled_kernel_non_integer_nan_duplicates(compiled):
    rng = np.random.default_rng(4)
    X = sp.random(300, 50, density=0.3, format="csr", random_state=rng, dtype=np.float64)
    X.data[::7] = np.nan
    X.data[::11] *= -1.0
    dup = sp.csr_matrix(
        (np.array([1.0, 2.0, 4.0]), np.array([1, 1, 0]), np.array([0, 3, 3])), shape=(2, 50)
    )
    X = sp.vstack([X, dup], format="csr")
    cols = np.array([1, 0, 49])
    fast = scan(X, cols, totals=True)
    compiled.setenv("IFNSCORE_NUMBA", "0")
    slow = scan(X, cols, totals=True)
    np.testing.assert_array_equal(fast.values, slow.values)  # NaN positions equal too
    # non-integer values: float64 sums in another order, equal to rounding
    np.testing.assert_allclose(fast.totals, slow.totals, rtol=1e-13, equal_nan=True)
    assert fast.minimum == slow.minimum < 0
    np.testing.assert_array_equal(fast.values[-2:], [[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]])


def test_compiled_kernel_scores_like_numpy(cells, ref_counts, compiled):
    fast = ifnscore.score(cells.X, genes=cells.var_names, reference=ref_counts)
    compiled.setenv("IFNSCORE_NUMBA", "0")
    slow = ifnscore.score(cells.X, genes=cells.var_names, reference=ref_counts)
    np.testing.assert_array_equal(fast.to_numpy(), slow.to_numpy())


# ------------------------------------------------------------------ column sums (gene means)


def _hand_column_sums(indptr, indices, data, p):
    """Hand loop: every stored value added to its column's float64 sum, row by row."""
    sums = [0.0] * p
    for i in range(len(indptr) - 1):
        for k in range(indptr[i], indptr[i + 1]):
            sums[indices[k]] += float(data[k])
    return np.array(sums)


@pytest.mark.parametrize("use_numba", [True, False])
def test_column_sums_equal_a_hand_loop_bit_for_bit(monkeypatch, use_numba):
    """Non-integer values, NaN, negatives, duplicates, unsorted indices: the sums are the
    hand loop's to the last bit (strict row order), with the compiled loop or numpy."""
    if use_numba and _gather._kernel("colsum") is None:
        pytest.skip("numba not installed, or disabled by IFNSCORE_NUMBA=0")
    monkeypatch.setattr(_gather, "NUMBA_MIN_NNZ", 0 if use_numba else 2**62)
    monkeypatch.setattr(_gather, "PART_NNZ", 37)  # numpy: many chunks
    rng = np.random.default_rng(11)
    X = sp.random(200, 30, density=0.4, format="csr", random_state=rng, dtype=np.float32)
    X.data[::13] *= -3.7
    X.data[5] = np.nan
    dup = sp.csr_matrix(
        (np.array([0.1, 0.2, 0.4], np.float32), np.array([7, 3, 7]), np.array([0, 3])),
        shape=(1, 30),
    )
    X = sp.vstack([X, dup], format="csr")
    assert _gather._use_kernel(X, "colsum") is use_numba
    got = _gather.column_sums(X)
    want = _hand_column_sums(X.indptr, X.indices, X.data, 30)
    np.testing.assert_array_equal(got, want)  # NaN in the same column too


def test_column_sums_numba_equals_numpy_and_containers(cells, monkeypatch):
    """Compiled loop == numpy chunks == dense blocks == CSC == backed blocks, exactly, on
    non-integer data (the order of the additions is the same everywhere)."""
    X = cells.X.astype(np.float32)
    X.data = np.log1p(X.data * np.float32(0.37))
    monkeypatch.setattr(_gather, "NUMBA_MIN_NNZ", 2**62)
    slow = _gather.column_sums(X)
    np.testing.assert_array_equal(slow, _hand_column_sums(X.indptr, X.indices, X.data, 400))
    results = {
        "dense": _gather.column_sums(X.toarray(), block_rows=7),
        "csc": _gather.column_sums(X.tocsc()),
        "backed": _gather.column_sums(_CountingRows(X), block_rows=500),
    }
    if _gather._kernel("colsum") is not None:
        monkeypatch.setattr(_gather, "NUMBA_MIN_NNZ", 0)
        assert _gather._use_kernel(X, "colsum")
        results["numba"] = _gather.column_sums(X)
    for name, got in results.items():
        np.testing.assert_array_equal(got, slow, err_msg=name)


def test_module_score_compiled_equals_numpy_and_containers(cells, monkeypatch):
    """module_score on CSR (column sums and gathered columns by the compiled loops or by
    numpy, small gather blocks) equals itself exactly and the dense/CSC paths to 1e-12."""
    from ifnscore._methods import _module_score

    X = cells.X.astype(np.float32)
    X.data = np.log1p(X.data)
    kw = {"genes": cells.var_names, "signature": "rice6", "method": "module_score"}
    kw |= {"scale": "log1p", "rows": "samples"}
    monkeypatch.setattr(_module_score, "GATHER_BUDGET", 5_000)  # many row blocks
    monkeypatch.setattr(_gather, "NUMBA_MIN_NNZ", 2**62)
    slow = ifnscore.score(X, **kw).to_numpy()
    if _gather._kernel() is not None and _gather._kernel("colsum") is not None:
        monkeypatch.setattr(_gather, "NUMBA_MIN_NNZ", 0)
        np.testing.assert_array_equal(ifnscore.score(X, **kw).to_numpy(), slow)
    for other in (X.toarray(), X.tocsc()):
        np.testing.assert_allclose(ifnscore.score(other, **kw).to_numpy(), slow, rtol=1e-12)


# ------------------------------------------------------------------ direct reads, prefetch, identity

#: Per-sample methods: a sample's score is the same float whatever the container, the block
#: size or the number of threads (fc_median: the gathering path, not the affine kernel).
PER_SAMPLE = ["fc_sum", "z_sum", "mean_log", "fc_median", "aucell", "ucell", "singscore"]


@pytest.fixture(scope="module")
def refs(controls):
    out = {}
    for m in PER_SAMPLE:
        if ifnscore.list_methods().loc[m, "kind"] == "gene" and m != "mean_log":
            out[m] = ifnscore.calibrate(controls, signature=["rice6", "feng5"], method=m)
    return out


def _score(data, method, refs):
    kw = {"reference": refs[method]} if method in refs else {"method": method}
    if method not in refs:
        kw["signature"] = ["rice6", "feng5"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ifnscore.score(data, scale="counts", copy=False, **kw)  # written into obsm
    return data


def _backed(files, fmt):
    if fmt == "h5ad":
        return ad.read_h5ad(files / "cells.h5ad", backed="r")
    g = zarr.open_group(str(files / "cells.zarr"), mode="r")
    return ad.AnnData(
        X=ad.io.sparse_dataset(g["X"]), obs=ad.io.read_elem(g["obs"]), var=ad.io.read_elem(g["var"])
    )


def _scores_of(res):
    return res.obsm["ifnscore"].to_numpy(dtype=np.float64)


@pytest.fixture(scope="module")
def in_memory(cells, refs):
    return {m: _scores_of(_score(cells.copy(), m, refs)) for m in PER_SAMPLE}


@pytest.mark.parametrize("fmt", ["h5ad", "zarr"])
@pytest.mark.parametrize("method", PER_SAMPLE)
def test_backed_per_sample_methods_identical_to_memory(
    files, fmt, method, refs, in_memory, monkeypatch
):
    """Many row blocks (prefetched, read straight from the group): the in-memory floats."""
    monkeypatch.setattr(_gather, "BLOCK_ENTRIES", 4000)  # blocks of ~200 rows: 15 blocks
    a = _backed(files, fmt)
    assert _gather._csr_group(a.X) is not None
    assert 5 < _gather.backed_block_rows(a.X) < 1000
    np.testing.assert_array_equal(_scores_of(_score(a, method, refs)), in_memory[method])


def test_backed_affine_methods_use_the_kernel_per_block(files, refs, in_memory, monkeypatch):
    pytest.importorskip("numba")
    if not _gather.libm_consistent():
        pytest.skip("numpy's log2/exp2 differ from the C library's here: numpy path only")
    calls: list[tuple[int, int]] = []
    threads: set[str] = set()
    orig_pass, orig_read = _gather.affine_pass, _gather.read_rows

    def spy_pass(X, plan, **kw):
        calls.append((kw.get("row0", 0), X.shape[0]))
        return orig_pass(X, plan, **kw)

    def spy_read(X, a, b, buf=None):
        import threading

        threads.add(threading.current_thread().name)
        return orig_read(X, a, b, buf)

    monkeypatch.setattr(_gather, "affine_pass", spy_pass)
    monkeypatch.setattr(_gather, "read_rows", spy_read)
    monkeypatch.setattr(_gather, "BLOCK_ENTRIES", 20_000)
    a = _backed(files, "h5ad")
    got = _scores_of(_score(a, "fc_sum", refs))
    np.testing.assert_array_equal(got, in_memory["fc_sum"])
    rows = _gather.backed_block_rows(a.X)
    assert calls == [(s, min(3000, s + rows) - s) for s in range(0, 3000, rows)]
    assert threads  # prefetched: every block read on the reader thread
    assert all(t.startswith("ifnscore-read") for t in threads)


def test_direct_reads_equal_anndatas_blocks(files):
    """The block read from the h5py/zarr group is anndata's block, value for value."""
    for fmt in ("h5ad", "zarr"):
        X = _backed(files, fmt).X
        buf: dict = {}
        for a, b in [(0, 1), (17, 1017), (2999, 3000), (1000, 1000)]:
            got = _gather.read_rows(X, a, b, buf)
            want = X[a:b]
            assert got.shape == want.shape
            np.testing.assert_array_equal(got.indptr, want.indptr)
            np.testing.assert_array_equal(got.indices, want.indices)
            np.testing.assert_array_equal(got.data, want.data)


@settings(max_examples=20, deadline=None)
@given(
    entries=st.integers(300, 200_000),
    threads=st.sampled_from(["1", "2", "3"]),
    method=st.sampled_from(["fc_sum", "z_sum", "mean_log", "aucell"]),
    fmt=st.sampled_from(["h5ad", "zarr"]),
)
def test_backed_identity_property(files, refs, in_memory, entries, threads, method, fmt):
    """Any block size, any number of threads, h5ad or zarr: the in-memory floats."""
    import os

    old = _gather.BLOCK_ENTRIES, os.environ.get("IFNSCORE_NUM_THREADS")
    _gather.BLOCK_ENTRIES = entries
    os.environ["IFNSCORE_NUM_THREADS"] = threads
    try:
        got = _scores_of(_score(_backed(files, fmt), method, refs))
    finally:
        _gather.BLOCK_ENTRIES = old[0]
        if old[1] is None:
            os.environ.pop("IFNSCORE_NUM_THREADS")
        else:
            os.environ["IFNSCORE_NUM_THREADS"] = old[1]
    np.testing.assert_array_equal(got, in_memory[method])


def test_backed_scoring_memory_is_bounded_by_a_few_blocks(tmp_path, ref_counts, monkeypatch):
    """ifnscore.score of a backed file (affine kernel per block, prefetch, reused buffers)
    allocates a few blocks, not the matrix (tracemalloc)."""
    a = simulate_sparse(20_000, 2000, seed=5)
    a.write_h5ad(tmp_path / "big.h5ad")
    matrix_bytes = a.X.data.nbytes + a.X.indices.nbytes + a.X.indptr.nbytes
    del a
    monkeypatch.setattr(_gather, "BLOCK_ENTRIES", 100_000)  # ~1 % of the matrix per block
    backed = ad.read_h5ad(tmp_path / "big.h5ad", backed="r")
    with warnings.catch_warnings():  # numba loads its kernels once, outside the trace
        warnings.simplefilter("ignore")
        ifnscore.score(backed.X, genes=backed.var_names, reference=ref_counts)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = ifnscore.score(backed.X, genes=backed.var_names, reference=ref_counts)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        backed.file.close()
    assert res.shape[0] == 20_000
    # a few blocks of ~0.8 MB plus the per-sample outputs (names, scores), not the 15 MB matrix
    assert peak < 0.3 * matrix_bytes, (peak, matrix_bytes)
