"""Dask arrays are scored lazily by dask's own scheduler (map_blocks over row chunks).

The numbers must equal the in-memory path exactly (same kernel per chunk), with the
threaded scheduler and on a ``dask.distributed.LocalCluster``; each chunk is read once.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ifnscore
from ifnscore._gather import scan
from ifnscore.datasets import simulate_sparse

da = pytest.importorskip("dask.array")


_LOADED_ON: list[str] = []


def _record_worker(start):
    """Module level, so that a deserialised task still appends to this list (in-process)."""
    from dask.distributed import get_worker

    _LOADED_ON.append(get_worker().address)  # raises outside a worker


@pytest.fixture(scope="module")
def cells():
    return simulate_sparse(2500, 300, seed=11)


@pytest.fixture(scope="module")
def ref(controls):
    return ifnscore.calibrate(controls, signature=["rice6", "feng5"], method="fc_sum")


def _sparse_chunks(X, rows, on_load=None):
    """A dask array whose chunks are scipy CSR matrices, built lazily chunk by chunk."""
    import dask

    def load(a, b):
        if on_load is not None:
            on_load(a)
        return X[a:b]

    parts = []
    for a in range(0, X.shape[0], rows):
        b = min(a + rows, X.shape[0])
        parts.append(
            da.from_delayed(
                dask.delayed(load)(a, b), shape=(b - a, X.shape[1]), dtype=X.dtype, meta=X[:0]
            )
        )
    return da.concatenate(parts, axis=0)


@pytest.mark.parametrize("kind", ["dense", "dense-column-chunks", "sparse-chunks"])
def test_dask_scores_equal_in_memory(cells, ref, kind):
    X = cells.X
    if kind == "dense":
        D = da.from_array(X.toarray(), chunks=(600, -1))
    elif kind == "dense-column-chunks":
        D = da.from_array(X.toarray(), chunks=(600, 70))
    else:
        D = _sparse_chunks(X, 600)
    want = ifnscore.score(X, genes=cells.var_names, reference=ref)
    got = ifnscore.score(D, genes=cells.var_names, reference=ref)
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    ml = ifnscore.score(D, genes=cells.var_names, method="mean_log", scale="counts")
    ml0 = ifnscore.score(X, genes=cells.var_names, method="mean_log", scale="counts")
    np.testing.assert_array_equal(ml.to_numpy(), ml0.to_numpy())


def test_dask_reads_each_chunk_once(cells):
    reads: list[int] = []
    lock = threading.Lock()
    dense = cells.X.toarray()

    def load(block, block_info=None):
        with lock:
            reads.append(block_info[0]["chunk-location"][0])
        return block

    D = da.from_array(dense, chunks=(500, -1)).map_blocks(load, dtype=dense.dtype)
    s = scan(D, np.arange(6), totals=True)
    assert sorted(reads) == list(range(5))
    np.testing.assert_array_equal(s.values, dense[:, :6])
    np.testing.assert_allclose(s.totals, dense.sum(axis=1, dtype=np.float64), rtol=1e-12)


def test_dask_on_a_local_distributed_cluster(cells, ref):
    distributed = pytest.importorskip("dask.distributed")
    want = ifnscore.score(cells.X, genes=cells.var_names, reference=ref)
    _LOADED_ON.clear()
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        D = _sparse_chunks(cells.X, 500, _record_worker)
        got = ifnscore.score(D, genes=cells.var_names, reference=ref, scale="counts")
        workers = set(cluster.scheduler_info["workers"])
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    assert len(_LOADED_ON) == 5  # every chunk read once, on a worker of the cluster
    assert set(_LOADED_ON) <= workers


# ------------------------------------------------------------------ kernels per chunk, identity

#: Per-sample methods (a sample's score does not depend on the others): identical floats.
PER_SAMPLE = ["fc_sum", "z_sum", "mean_log", "fc_median", "aucell", "ucell", "singscore"]


@pytest.fixture(scope="module")
def refs(controls):
    return {
        m: ifnscore.calibrate(controls, signature=["rice6", "feng5"], method=m)
        for m in ("fc_sum", "z_sum", "fc_median")
    }


def _scores(data, method, refs, genes):
    kw = {"reference": refs[method]} if method in refs else {"method": method}
    if method not in refs:
        kw["signature"] = ["rice6", "feng5"]
    with warnings.catch_warnings():  # the depth diagnostic's warning: not under test here
        warnings.simplefilter("ignore")
        res = ifnscore.score(data, genes=genes, scale="counts", rows="samples", **kw)
    return res.xs("score", axis=1, level="field").to_numpy(dtype=np.float64)


@pytest.fixture(scope="module")
def in_memory(cells, refs):
    return {m: _scores(cells.X, m, refs, cells.var_names) for m in PER_SAMPLE}


def test_dask_affine_and_rank_methods_run_their_kernel_per_chunk(
    cells, refs, in_memory, monkeypatch
):
    """fc_sum: the affine kernel on every chunk (n_chunk x signatures back); aucell: the
    method's own kernel per chunk; both identical to memory."""
    from ifnscore import _dask, _gather

    pytest.importorskip("numba")
    if not _gather.libm_consistent():
        pytest.skip("numpy's log2/exp2 differ from the C library's here: numpy path only")
    seen: list[str] = []
    for name in ("affine_dask", "rows_dask", "scan_dask"):
        orig = getattr(_dask, name)

        def spy(*a, _orig=orig, _name=name, **k):
            seen.append(_name)
            return _orig(*a, **k)

        monkeypatch.setattr(_dask, name, spy)
    D = _sparse_chunks(cells.X, 600)
    np.testing.assert_array_equal(_scores(D, "fc_sum", refs, cells.var_names), in_memory["fc_sum"])
    assert seen == ["affine_dask"]
    seen.clear()
    np.testing.assert_array_equal(_scores(D, "aucell", refs, cells.var_names), in_memory["aucell"])
    assert seen == ["rows_dask"]


@settings(max_examples=15, deadline=None)
@given(
    rows=st.integers(97, 2600),
    cols=st.sampled_from([-1, 37, 300]),
    dense=st.booleans(),
    method=st.sampled_from(PER_SAMPLE),
    threads=st.sampled_from([1, 2, 3]),
)
def test_dask_identity_property(cells, refs, in_memory, rows, cols, dense, method, threads):
    """Any row chunking (column chunks rechunked), dense or CSR chunks, any number of dask
    threads: the in-memory floats."""
    import dask

    if dense:
        D = da.from_array(cells.X.toarray(), chunks=(rows, cols))
    else:
        D = _sparse_chunks(cells.X, rows)
    with dask.config.set(scheduler="threads", num_workers=threads):
        got = _scores(D, method, refs, cells.var_names)
    np.testing.assert_array_equal(got, in_memory[method])


def test_per_sample_methods_on_a_local_cluster_are_identical(cells, refs, in_memory):
    """Two in-process workers (robust on a 2-core CI runner): every per-sample method's
    numbers equal the in-memory ones to the last bit."""
    distributed = pytest.importorskip("dask.distributed")
    D = _sparse_chunks(cells.X, 400)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        got = {m: _scores(D, m, refs, cells.var_names) for m in PER_SAMPLE}
    for m in PER_SAMPLE:
        np.testing.assert_array_equal(got[m], in_memory[m], err_msg=m)


def test_read_lazy_scores_identical_to_memory(cells, refs, in_memory, tmp_path):
    """``anndata.experimental.read_lazy`` (X a dask array of CSR chunks read from the file):
    the in-memory floats, X never loaded whole."""
    pytest.importorskip("xarray")  # read_lazy reads obs/var with it
    import anndata as ad

    path = tmp_path / "cells.h5ad"
    cells.write_h5ad(path)
    for m in ("fc_sum", "mean_log", "aucell"):
        lazy = ad.experimental.read_lazy(path)
        assert type(lazy.X).__module__.startswith("dask")
        kw = {"reference": refs[m]} if m in refs else {"method": m, "signature": ["rice6", "feng5"]}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert ifnscore.score(lazy, scale="counts", **kw) is None  # written in place
        got = lazy.obsm["ifnscore"].to_numpy(dtype=np.float64)
        np.testing.assert_array_equal(got, in_memory[m], err_msg=m)
        assert type(lazy.X).__module__.startswith("dask")  # not replaced by a loaded X
