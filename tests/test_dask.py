"""Dask arrays are scored lazily by dask's own scheduler (map_blocks over row chunks).

The numbers must equal the in-memory path exactly (same kernel per chunk), with the
threaded scheduler and on a ``dask.distributed.LocalCluster``; each chunk is read once.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

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
