"""Scoring time and peak memory over containers, sizes and methods (asv).

    cd benchmarks && PYTHONPATH=.. asv run --python=same --quick

Data: :func:`ifnscore.datasets.simulate_sparse` (seeded counts, 5,000 genes, 4.65 %
non-zero), simulated once per size in ``setup_cache`` and stored as ``.npz`` files; each
benchmark process loads the matrix and puts it in its container. Reference-relative methods
use a reference calibrated on the bundled healthy controls. ``floor`` is one bare ``X @ w``.
Rank methods are included when the installed ifnscore has them.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import ifnscore
from ifnscore._bench import reference_for

GENES = 5_000
SIZES = [10_000, 100_000]
AFFINE = ["fc_sum", "z_sum", "mean_log", "fc_median"]
RANK = [
    m
    for m in ("module_score", "aucell", "ucell", "singscore", "ssgsea")
    if m in ifnscore.list_methods().index
]


def _cache(sizes: list[int]) -> dict[int, str]:
    d = Path(tempfile.mkdtemp(prefix="ifnscore-asv-"))
    out = {}
    for n in sizes:
        a = ifnscore.datasets.simulate_sparse(n, GENES, seed=0)
        path = d / f"cells_{n}.npz"
        sp.save_npz(path, a.X, compressed=False)
        out[n] = str(path)
    return out


def _load(cache: dict[int, str], n: int, container: str):
    X = sp.load_npz(cache[n]).tocsr()
    genes = ifnscore.datasets._singlecell._gene_names(GENES)
    if container == "csc":
        return X.tocsc(), genes
    if container == "dense":
        return X.toarray(), genes
    return X, genes


def _scorer(data, genes, method):
    ref = reference_for(method, ["rice6"])
    kw = {"reference": ref} if ref is not None else {"method": method}

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ifnscore.score(data, genes=genes, rows="samples", scale="counts", **kw)

    return run


class Affine:
    """Gene-wise (affine and median) scores on raw counts, in memory."""

    params = (["csr", "csc"], SIZES, AFFINE)
    param_names = ("container", "cells", "method")
    timeout = 300

    def setup_cache(self):
        return _cache(SIZES)

    def setup(self, cache, container, cells, method):
        X, genes = _load(cache, cells, container)
        self.run = _scorer(X, genes, method)

    def time_score(self, cache, container, cells, method):
        self.run()

    def peakmem_score(self, cache, container, cells, method):
        self.run()


class AffineDense(Affine):
    """The same on a dense array (10,000 cells: 200 MB as float32)."""

    params = (["dense"], SIZES[:1], AFFINE)

    def setup_cache(self):
        return _cache(SIZES[:1])


class Floor:
    """One bare X @ w over the same CSR matrix (the floor of affine scores)."""

    params = (SIZES,)
    param_names = ("cells",)

    def setup_cache(self):
        return _cache(SIZES)

    def setup(self, cache, cells):
        self.X, genes = _load(cache, cells, "csr")
        self.w = np.asarray(genes.isin(ifnscore.get_signature("rice6").genes), dtype=np.float64)

    def time_floor(self, cache, cells):
        self.X @ self.w

    def peakmem_floor(self, cache, cells):
        self.X @ self.w


class Signatures:
    """All shipped signatures at once vs one (one gathered block, one product)."""

    params = (["one", "all"],)
    param_names = ("signatures",)

    def setup_cache(self):
        return _cache([SIZES[-1]])

    def setup(self, cache, signatures):
        X, genes = _load(cache, SIZES[-1], "csr")
        sigs = ["rice6"] if signatures == "one" else list(ifnscore.list_signatures().index)
        counts, samples = ifnscore.datasets.load_example(as_frame=True)
        ref = ifnscore.calibrate(
            counts[samples["group"] == "control"], signature=sigs, method="fc_sum", scale="counts"
        )
        self.run = lambda: ifnscore.score(
            X, genes=genes, rows="samples", reference=ref, scale="counts"
        )

    def time_score(self, cache, signatures):
        self.run()


class OutOfCore:
    """Backed h5ad, zarr sparse dataset and dask array, scored in row blocks."""

    params = (["h5ad", "zarr", "dask"],)
    param_names = ("container",)
    timeout = 300

    def setup_cache(self):
        import anndata as ad

        d = Path(tempfile.mkdtemp(prefix="ifnscore-asv-ooc-"))
        a = ifnscore.datasets.simulate_sparse(SIZES[-1], GENES, seed=0)
        a.write_h5ad(d / "cells.h5ad")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a.write_zarr(d / "cells.zarr")
        sp.save_npz(d / "cells.npz", a.X, compressed=False)
        del ad
        return str(d)

    def setup(self, d, container):
        import anndata as ad

        d = Path(d)
        ref = reference_for("fc_sum", ["rice6"])
        if container == "h5ad":
            data = ad.read_h5ad(d / "cells.h5ad", backed="r")
            self.run = lambda: ifnscore.score(data, reference=ref, scale="counts", copy=False)
            return
        genes = ifnscore.datasets._singlecell._gene_names(GENES)
        if container == "zarr":
            import zarr

            data = ad.io.sparse_dataset(zarr.open_group(str(d / "cells.zarr"), mode="r")["X"])
        else:
            import dask.array as da

            X = sp.load_npz(d / "cells.npz").tocsr()
            data = da.from_array(X, chunks=(10_000, -1), asarray=False)
        self.run = lambda: ifnscore.score(
            data, genes=genes, rows="samples", reference=ref, scale="counts"
        )

    def time_score(self, d, container):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.run()

    def peakmem_score(self, d, container):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.run()


if RANK:

    class Rank:
        """Rank-based single-sample methods (whole rows, block-wise), CSR log1p data."""

        params = ([10_000], RANK)
        param_names = ("cells", "method")
        timeout = 600

        def setup_cache(self):
            return _cache([10_000])

        def setup(self, cache, cells, method):
            X, genes = _load(cache, cells, "csr")
            X = X.astype(np.float32)
            X.data = np.log1p(X.data)
            self.run = lambda: ifnscore.score(
                X, genes=genes, rows="samples", method=method, scale="log1p"
            )

        def time_score(self, cache, cells, method):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.run()

        def peakmem_score(self, cache, cells, method):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.run()


os.environ.setdefault("IFNSCORE_NUM_THREADS", str(len(os.sched_getaffinity(0))))
