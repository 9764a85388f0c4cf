"""ifnscore in scverse workflows: obsm with decoupler/scanpy, MuData modalities, lazy AnnData,
pseudobulks per donor and cell type, per-group summaries and the sequencing-depth diagnostic.

Every check goes through the public ``ifnscore.score``. Hand computations are explicit loops
over cells (float64); tolerances are stated where the numbers are not identical by
construction.
"""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import stats

import ifnscore
from ifnscore import _singlecell
from ifnscore.datasets import simulate_sparse
from ifnscore.errors import IfnscoreWarning, InputError

DONORS = ["d1", "d2", "d3"]
TYPES = ["B", "Mono", "T", "rare"]


def _labelled(n_cells: int = 600, n_genes: int = 800, seed: int = 1) -> ad.AnnData:
    """Simulated UMI counts with a donor and a cell type per cell, assigned by position so the
    group sizes are known: cell i has donor DONORS[i % 3]; cell type "rare" for every 50th
    cell (i % 50 == 0), else TYPES[(i // 3) % 3]."""
    a = simulate_sparse(n_cells, n_genes=n_genes, seed=seed)
    i = np.arange(n_cells)
    a.obs["donor"] = pd.Categorical([DONORS[k % 3] for k in i])
    a.obs["cell_type"] = pd.Categorical(["rare" if k % 50 == 0 else TYPES[(k // 3) % 3] for k in i])
    a.layers["counts"] = a.X.copy()
    return a


@pytest.fixture(scope="module")
def cells() -> ad.AnnData:
    return _labelled()


@pytest.fixture(scope="module")
def ref_counts(controls):
    # bulk healthy controls (the bundled cohort), counts -> CPM, fold-change sum
    return ifnscore.calibrate(controls, signature="rice6", method="fc_sum", scale="counts")


def _lognorm(a: ad.AnnData) -> ad.AnnData:
    """scanpy's normalize_total(target_sum=1e4) + log1p, by hand, into X."""
    out = a.copy()
    counts = out.layers["counts"].astype(np.float64)
    lib = np.asarray(counts.sum(axis=1)).ravel()
    norm = sp.diags(1e4 / lib) @ counts
    norm = sp.csr_matrix(norm)
    norm.data = np.log1p(norm.data)
    out.X = norm
    out.uns["log1p"] = {"base": None}
    return out


# ------------------------------------------------------------------- 1. obsm with scverse tools


@pytest.mark.crosscheck
def test_obsm_is_read_by_decoupler_get_obsm(cells):
    dc = pytest.importorskip("decoupler")
    a = cells.copy()
    ifnscore.score(a, signature=["rice6", "feng5"], method="mean_log", scale="counts")
    acts = dc.pp.get_obsm(a, "ifnscore")
    # an AnnData whose var are the signatures and whose X are the scores, cell by cell
    assert list(acts.var_names) == ["rice6", "feng5"]
    assert list(acts.obs_names) == list(a.obs_names)
    np.testing.assert_array_equal(acts.X[:, 0], a.obs["ifnscore_rice6"].to_numpy())
    np.testing.assert_array_equal(acts.X[:, 1], a.obs["ifnscore_feng5"].to_numpy())
    # decoupler's own per-group summary of activities works on it
    ranked = dc.tl.rankby_group(acts, groupby="cell_type", reference="rest")
    assert set(ranked["name"]) == {"rice6", "feng5"}


@pytest.mark.crosscheck
def test_scanpy_plots_take_the_obs_columns_and_the_obsm_scores(cells):
    sc = pytest.importorskip("scanpy")
    dc = pytest.importorskip("decoupler")
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PathCollection

    a = cells.copy()
    # a fixed 2-D embedding stands in for sc.tl.umap (what matters is the colouring)
    a.obsm["X_umap"] = np.column_stack([np.arange(a.n_obs), np.arange(a.n_obs) % 7]).astype(float)
    ifnscore.score(a, signature=["rice6", "feng5"], method="mean_log", scale="counts")
    want = np.sort(a.obs["ifnscore_rice6"].to_numpy())
    ax = sc.pl.umap(a, color="ifnscore_rice6", show=False)
    np.testing.assert_array_equal(np.sort(np.asarray(ax.collections[0].get_array())), want)
    plt.close("all")
    acts = dc.pp.get_obsm(a, "ifnscore")
    ax = sc.pl.umap(acts, color="rice6", show=False)
    np.testing.assert_array_equal(np.sort(np.asarray(ax.collections[0].get_array())), want)
    plt.close("all")
    # violins per cell type, from obs and from the decoupler view; the strip points are the
    # per-cell scores of each group (stripplot draws one collection per category)
    for data, key in ((a, "ifnscore_rice6"), (acts, "rice6")):
        ax = sc.pl.violin(data, keys=key, groupby="cell_type", show=False, stripplot=True)
        points = np.concatenate(
            # the strip points (PathCollection), not the violin bodies (a subclass)
            [np.asarray(c.get_offsets())[:, 1] for c in ax.collections if type(c) is PathCollection]
        )
        np.testing.assert_allclose(np.sort(points), want, rtol=1e-6)  # matplotlib stores float
        plt.close("all")


# ------------------------------------------------------------------------------- 2. MuData


@pytest.fixture
def mdata(cells):
    mudata = pytest.importorskip("mudata")
    prot = ad.AnnData(
        X=np.ones((cells.n_obs, 3)),
        obs=pd.DataFrame(index=cells.obs_names),
        var=pd.DataFrame(index=["CD3", "CD14", "CD19"]),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # mudata's own pandas deprecations
        return mudata.MuData({"rna": cells.copy(), "prot": prot})


def test_mudata_modality_is_scored_in_place(mdata, cells):
    alone = cells.copy()
    ifnscore.score(alone, method="mean_log", scale="counts")
    assert ifnscore.score(mdata, mod="rna", method="mean_log", scale="counts") is None
    rna = mdata["rna"]
    np.testing.assert_array_equal(rna.obs["ifnscore"], alone.obs["ifnscore"])
    assert list(rna.obsm["ifnscore"].columns) == ["rice6"]
    assert rna.uns["ifnscore"]["method"] == "mean_log"
    assert "ifnscore" not in mdata["prot"].obs  # the other modality is untouched


def test_mudata_copy_returns_a_scored_copy(mdata):
    out = ifnscore.score(mdata, mod="rna", method="mean_log", scale="counts", copy=True)
    assert type(out).__name__ == "MuData"
    assert "ifnscore" in out["rna"].obs
    assert "ifnscore" not in mdata["rna"].obs


def test_mudata_modality_errors(mdata, cells):
    with pytest.raises(InputError) as e:
        ifnscore.score(mdata, method="mean_log", scale="counts")
    assert str(e.value) == (
        "data is a MuData with modalities ['rna', 'prot']; pass mod= naming the one that holds "
        "the gene expression (e.g. mod='rna')."
    )
    with pytest.raises(InputError) as e:
        ifnscore.score(mdata, mod="atac", method="mean_log", scale="counts")
    assert str(e.value) == (
        "mod='atac' is not a modality of the MuData (it has ['rna', 'prot']); pass one of these."
    )
    with pytest.raises(InputError) as e:
        ifnscore.score(cells.copy(), mod="rna", method="mean_log", scale="counts")
    assert str(e.value) == (
        "mod='rna' applies to MuData input only, but data is a AnnData; drop mod= (or pass the "
        "MuData)."
    )


def test_mudata_pseudobulk(mdata, cells, ref_counts):
    got = ifnscore.score(
        mdata, mod="rna", reference=ref_counts, groupby="donor", pseudobulk=True, layer="counts"
    )
    want = ifnscore.score(
        cells, reference=ref_counts, groupby="donor", pseudobulk=True, layer="counts"
    )
    pd.testing.assert_frame_equal(got, want)
    assert got.attrs["ifnscore"]["input"] == (
        "pseudobulk (sum of raw counts) of mdata['rna'].layers['counts']"
    )


# ------------------------------------------------------------------------- 3. lazy AnnData


def test_lazy_anndata_scores_like_memory_without_loading_x(cells, ref_counts, tmp_path):
    pytest.importorskip("dask")
    pytest.importorskip("xarray")  # anndata.experimental.read_lazy reads obs/var with it
    import h5py
    from dask.callbacks import Callback

    path = tmp_path / "cells.h5ad"
    cells.write_h5ad(path)
    mem = cells.copy()
    ifnscore.score(mem, reference=ref_counts)

    lazy = ad.experimental.read_lazy(path)
    assert type(lazy.X).__module__.startswith("dask")
    assert ifnscore.score(lazy, reference=ref_counts) is None  # written in place
    np.testing.assert_allclose(
        np.asarray(lazy.obs["ifnscore"]), mem.obs["ifnscore"], rtol=1e-12, atol=0
    )
    assert (
        np.asarray(lazy.obs["ifnscore_positive"]).tolist() == mem.obs["ifnscore_positive"].tolist()
    )
    np.testing.assert_allclose(
        lazy.obsm["ifnscore"]["rice6"].to_numpy(), mem.obsm["ifnscore"]["rice6"], rtol=1e-12
    )
    assert lazy.uns["ifnscore"]["input"] == "AnnData.X"
    # the depth diagnostic would need a second read of the lazy X: recorded, not run
    assert lazy.uns["ifnscore"]["depth"]["genes_detected"].startswith("not computed")
    assert type(lazy.X).__module__.startswith("dask")  # X was not replaced by a loaded one

    # read_elem_lazy in row chunks of 250 of a 2,500-cell file: no dask task ever holds the
    # whole matrix; the largest read is the first 1,000 rows that scale detection samples
    big = _labelled(2500, n_genes=300, seed=4)
    big_path = tmp_path / "big.h5ad"
    big.write_h5ad(big_path)
    want = ifnscore.score(big.X, genes=big.var_names, reference=ref_counts, depth_check=True)
    shapes: list[tuple[int, ...]] = []

    class Record(Callback):
        def _posttask(self, key, result, dsk, state, id):
            if getattr(result, "ndim", 0) == 2:
                shapes.append(tuple(result.shape))

    with h5py.File(big_path, "r") as f:
        X = ad.experimental.read_elem_lazy(f["X"], chunks=(250, big.n_vars))
        chunked = ad.AnnData(X=X, obs=big.obs.copy(), var=big.var.copy())
        with Record():
            got = ifnscore.score(chunked, reference=ref_counts, depth_check=True, copy=False)
        assert got is None
    np.testing.assert_allclose(chunked.obs["ifnscore"], want["score"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(
        chunked.uns["ifnscore"]["depth"]["spearman_rho"]["rice6"],
        want.attrs["ifnscore"]["depth"]["spearman_rho"]["rice6"],
        rtol=1e-12,
    )
    rows_read = [s[0] for s in shapes if s[1] == big.n_vars]
    assert rows_read, "the dask scheduler read no chunk of X"
    assert max(rows_read) <= 1000 < big.n_obs


# ---------------------------------------------------------------------------- 4. pseudobulk


def _hand_pseudobulk(a: ad.AnnData, keys: list[str], min_cells: int) -> tuple[pd.DataFrame, dict]:
    """Sum the counts layer over the cells of each label combination, by a loop over cells."""
    dense = a.layers["counts"].toarray().astype(np.float64)
    sums: dict[str, np.ndarray] = {}
    sizes: dict[str, int] = {}
    for i in range(a.n_obs):
        label = "_".join(str(a.obs[k].iloc[i]) for k in keys)
        sums[label] = sums.get(label, 0) + dense[i]
        sizes[label] = sizes.get(label, 0) + 1
    kept = sorted(g for g in sums if sizes[g] >= min_cells)
    frame = pd.DataFrame([sums[g] for g in kept], index=kept, columns=a.var_names)
    return frame, sizes


def test_pseudobulk_sums_counts_per_group_and_scores_them(cells, ref_counts):
    with pytest.warns(IfnscoreWarning, match=r"3 group\(s\) with fewer than min_cells=10"):
        got = ifnscore.score(
            cells,
            reference=ref_counts,
            groupby=["donor", "cell_type"],
            pseudobulk=True,
            min_cells=10,
            layer="counts",
        )
    sums, sizes = _hand_pseudobulk(cells, ["donor", "cell_type"], 10)
    want = ifnscore.score(sums, reference=ref_counts, scale="counts")
    # 3 donors x 3 common types kept; the "rare" cells (i % 50 == 0: 12 cells, 4 per donor)
    # are left out
    assert list(got.index) == list(sums.index)
    assert len(got) == 9
    assert got.columns[:3].tolist() == ["donor", "cell_type", "n_cells"]
    assert got["n_cells"].tolist() == [sizes[g] for g in sums.index]
    assert got.loc["d1_B", "donor"] == "d1"
    assert got.loc["d1_B", "cell_type"] == "B"
    # the same scorer on the same sums: identical numbers (integer sums are exact in float64)
    np.testing.assert_array_equal(got["score"].to_numpy(), want["score"].to_numpy())
    assert got["call"].tolist() == want["call"].tolist()
    meta = got.attrs["ifnscore"]
    assert meta["scale"] == "counts"
    assert meta["groupby"]["excluded_groups"] == [
        {"group": "d1_rare", "n_cells": 4},
        {"group": "d2_rare", "n_cells": 4},
        {"group": "d3_rare", "n_cells": 4},
    ]
    assert meta["groupby"]["n_groups"] == 9
    assert "depth" not in meta  # pseudobulks are not cells


@pytest.mark.crosscheck
def test_pseudobulk_equals_decoupler_pseudobulk_then_score(cells, ref_counts):
    dc = pytest.importorskip("decoupler")
    with pytest.warns(IfnscoreWarning, match="d1_rare"):  # the rare groups, 4 cells each
        got = ifnscore.score(
            cells,
            signature="rice6",
            reference=ref_counts,
            groupby=["donor", "cell_type"],
            pseudobulk=True,
            min_cells=10,
            layer="counts",
        )
    pdata = dc.pp.pseudobulk(
        cells, sample_col="donor", groups_col="cell_type", layer="counts", mode="sum"
    )
    pdata = pdata[pdata.obs["psbulk_cells"] >= 10].copy()
    peer = ifnscore.score(pdata.to_df(), reference=ref_counts, scale="counts")
    assert sorted(peer.index) == sorted(got.index)  # decoupler names them f"{donor}_{type}"
    peer = peer.loc[got.index]
    np.testing.assert_allclose(got["score"], peer["score"], rtol=1e-12, atol=0)
    np.testing.assert_array_equal(
        got["n_cells"].to_numpy(), pdata.obs.loc[got.index, "psbulk_cells"].to_numpy()
    )


def test_pseudobulk_of_backed_file_equals_memory(cells, ref_counts, tmp_path):
    a = cells.copy()
    a.X = a.layers["counts"]
    del a.layers["counts"]
    a.write_h5ad(tmp_path / "c.h5ad")
    backed = ad.read_h5ad(tmp_path / "c.h5ad", backed="r")
    kw = {"reference": ref_counts, "groupby": "donor", "pseudobulk": True}
    try:
        got = ifnscore.score(backed, **kw)
    finally:
        backed.file.close()
    pd.testing.assert_frame_equal(got, ifnscore.score(a, **kw))


def test_pseudobulk_uses_the_library_sizes_of_all_genes(cells, ref_counts):
    """X holding only the signature genes (as ifnscore.read keeps them) with
    obs['ifnscore_library_size']: CPM of each pseudobulk over its summed library sizes."""
    full = cells.copy()
    full.X = full.layers["counts"]
    keep = list(ifnscore.get_signature("rice6").genes)
    part = full[:, keep].copy()
    part.obs["ifnscore_library_size"] = np.asarray(full.X.sum(axis=1)).ravel()
    kw = {"reference": ref_counts, "groupby": "cell_type", "pseudobulk": True, "min_cells": 1}
    np.testing.assert_allclose(
        ifnscore.score(part, **kw)["score"], ifnscore.score(full, **kw)["score"], rtol=1e-12
    )


def test_pseudobulk_refuses_non_integer_counts(cells, ref_counts):
    a = _lognorm(cells)
    first = a.X.data[0]  # the first stored value of X: cell 0, its first detected gene
    gene = a.var_names[a.X.indices[0]]
    with pytest.raises(InputError) as e:
        ifnscore.score(a, reference=ref_counts, groupby="donor", pseudobulk=True)
    assert str(e.value) == (
        "pseudobulk=True sums raw counts, but adata.X holds non-integer values (first: cell "
        f"'cell000', gene {gene!r}, value {first:g}); pass layer= naming the layer of raw UMI "
        "counts (e.g. layer='counts'), or use_raw=True when adata.raw holds them."
    )
    # the counts layer is accepted
    ifnscore.score(a, reference=ref_counts, groupby="donor", pseudobulk=True, layer="counts")


def test_pseudobulk_refuses_negative_counts(ref_counts):
    genes = list(ifnscore.get_signature("rice6").genes)
    X = np.full((4, 6), 5.0)
    X[2, 3] = -1.0
    a = ad.AnnData(
        X=X,
        obs=pd.DataFrame({"donor": ["a", "a", "b", "b"]}, index=["c1", "c2", "c3", "c4"]),
        var=pd.DataFrame(index=genes),
    )
    # X[2, 3] is cell 'c3', the 4th rice6 gene (IFI27, IFI44L, IFIT1, ISG15, ...)
    with pytest.raises(InputError, match=r"holds negative values \(first: cell 'c3', gene 'ISG15'"):
        ifnscore.score(a, reference=ref_counts, groupby="donor", pseudobulk=True, min_cells=1)


def test_pseudobulk_argument_errors(cells, ref_counts, example):
    a = cells
    cases = [
        (
            {"pseudobulk": True},
            "pseudobulk=True needs groupby= (e.g. groupby=['donor', 'cell_type']): the obs "
            "columns whose groups of cells are summed.",
        ),
        (
            {"groupby": ["donor", "sample"], "pseudobulk": True},
            "groupby=['donor', 'sample']: ['sample'] not among the columns of adata.obs "
            "(['ifn_activity', 'umi_scale', 'donor', 'cell_type']); name obs columns.",
        ),
        (
            {"groupby": "donor", "pseudobulk": True, "scale": "log1p"},
            "scale='log1p' with pseudobulk=True: a pseudobulk is a sum of raw counts and is "
            "scored with scale='counts'; drop scale= and point layer= at the raw counts.",
        ),
        (
            {"groupby": "donor", "pseudobulk": True, "copy": True},
            "copy=True with pseudobulk=True: pseudobulk scores are returned as a table and "
            "nothing is written into the AnnData; drop copy=True.",
        ),
        (
            {"groupby": "donor", "min_cells": 0},
            "min_cells=0 must be a whole number of at least 1 (groups with fewer cells are "
            "left out and reported).",
        ),
        (
            {"groupby": "donor", "pseudobulk": True, "min_cells": 1000},
            "pseudobulk=True: no group of ['donor'] has at least min_cells=1000 cells "
            "(largest: 200); lower min_cells or group more coarsely.",
        ),
        (
            {"groupby": "donor", "pseudobulk": "yes"},
            "pseudobulk='yes' must be True or False.",
        ),
        (
            {"groupby": ["donor", "donor"]},
            "groupby=['donor', 'donor'] names a column twice; name each column once.",
        ),
        (
            {"groupby": "donor", "pseudobulk": True, "depth_check": True},
            "depth_check=True applies to per-cell scores, not to pseudobulks (sums over many "
            "cells); drop depth_check= or pseudobulk=True.",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(InputError) as e:
            ifnscore.score(a, reference=ref_counts, layer="counts", **kwargs)
        assert str(e.value) == message, kwargs
    counts, _ = example
    with pytest.raises(InputError) as e:
        ifnscore.score(counts, reference=ref_counts, groupby="donor")
    assert str(e.value) == (
        "groupby= needs AnnData (or MuData with mod=) input, whose obs holds the group columns; "
        "data is a DataFrame."
    )


def test_group_labels_that_join_alike_are_refused(ref_counts):
    genes = list(ifnscore.get_signature("rice6").genes)
    a = ad.AnnData(
        X=np.full((2, 6), 3.0),
        obs=pd.DataFrame({"d": ["a_b", "a"], "t": ["c", "b_c"]}, index=["c1", "c2"]),
        var=pd.DataFrame(index=genes),
    )
    with pytest.raises(InputError) as e:
        ifnscore.score(a, reference=ref_counts, groupby=["d", "t"], pseudobulk=True, min_cells=1)
    assert str(e.value) == (
        "groupby=['d', 't']: different label combinations join to the same group name ['a_b_c'] "
        "(labels are joined with '_'); rename labels that contain '_'."
    )


def test_cells_without_a_label_are_reported(cells, ref_counts):
    a = cells.copy()
    donor = a.obs["donor"].astype(object)
    donor.iloc[[1, 2, 5]] = np.nan  # three cells with no donor
    a.obs["donor"] = donor
    with pytest.warns(IfnscoreWarning, match=r"3 cell\(s\) with a missing \['donor'\] label"):
        got = ifnscore.score(
            a, reference=ref_counts, groupby="donor", pseudobulk=True, layer="counts"
        )
    assert got.attrs["ifnscore"]["groupby"]["n_cells_without_group"] == 3
    # cell i has donor DONORS[i % 3]: 200 each, less cell 1 (d2), cells 2 and 5 (d3)
    assert got["n_cells"].tolist() == [200, 199, 198]


# --------------------------------------------------------------- groupby: per-cell summaries


def test_groupby_returns_per_group_summary_of_per_cell_scores(cells):
    a = cells.copy()
    with pytest.warns(IfnscoreWarning, match=r"left out of the summary: rare \(12\)"):
        summary = ifnscore.score(
            a,
            method="mean_log",
            scale="counts",
            upper_limit=1.0,
            groupby="cell_type",
            min_cells=13,
        )
    # the per-cell results are written as without groupby=
    assert "ifnscore" in a.obs
    assert "ifnscore" in a.obsm
    assert list(summary.index) == ["B", "Mono", "T"]  # "rare" (12 cells) under min_cells=13
    assert summary.columns.tolist() == [
        "cell_type",
        "n_cells",
        "median",
        "fraction_positive",
    ]
    for group in summary.index:
        cells_of = a.obs["cell_type"] == group
        s = a.obs.loc[cells_of, "ifnscore"].to_numpy()
        pos = a.obs.loc[cells_of, "ifnscore_positive"].to_numpy()
        assert summary.loc[group, "n_cells"] == cells_of.sum()
        assert summary.loc[group, "median"] == np.median(s)
        assert summary.loc[group, "fraction_positive"] == pytest.approx(pos.mean(), abs=1e-15)
    assert summary.attrs["ifnscore"]["groupby"]["excluded_groups"] == [
        {"group": "rare", "n_cells": 12}
    ]


def test_groupby_with_copy_returns_the_copy_and_the_summary(cells):
    a = cells.copy()
    out = ifnscore.score(
        a,
        signature=["rice6", "feng5"],
        method="mean_log",
        scale="counts",
        groupby=["donor"],
        copy=True,
    )
    copy, summary = out
    assert "ifnscore_rice6" in copy.obs
    assert "ifnscore_rice6" not in a.obs
    assert summary.columns.tolist() == [
        ("group", "donor"),
        ("group", "n_cells"),
        ("rice6", "median"),
        ("feng5", "median"),
    ]  # no upper limit for mean_log without one: no fraction_positive
    d1 = copy.obs["donor"] == "d1"
    assert summary.loc["d1", ("feng5", "median")] == np.median(copy.obs.loc[d1, "ifnscore_feng5"])


def test_without_groupby_score_returns_what_it_always_did(cells, example, ref_counts):
    counts, _ = example
    res = ifnscore.score(counts, reference=ref_counts)
    assert isinstance(res, pd.DataFrame)
    assert res.index.name == "sample"
    assert ifnscore.score(cells.copy(), method="mean_log", scale="counts") is None


# ------------------------------------------------------------------------ 5. depth diagnostic


def _depth_driven(n_cells: int = 300) -> ad.AnnData:
    """Cell i detects d_i = 50 + i genes: the 6 rice6 genes at 5 counts and the first d_i - 6
    other genes at 3 counts. Its rice6 CPM is 5e6 / (30 + 3 (d_i - 6)), falling with d_i, so
    mean_log decreases strictly with the genes detected: Spearman rho = -1 exactly."""
    genes = list(ifnscore.get_signature("rice6").genes)
    n_other = 50 + n_cells
    X = np.zeros((n_cells, 6 + n_other))
    for i in range(n_cells):
        X[i, :6] = 5
        X[i, 6 : 6 + 50 + i - 6] = 3
    names = genes + [f"G{k:04d}" for k in range(n_other)]
    return ad.AnnData(
        X=sp.csr_matrix(X),
        obs=pd.DataFrame(index=[f"c{i}" for i in range(n_cells)]),
        var=pd.DataFrame(index=names),
    )


def test_depth_driven_scores_warn_and_record_rho():
    a = _depth_driven()
    with pytest.warns(IfnscoreWarning, match=r"Spearman 'rice6' rho = -1\.00; \|rho\| >= 0\.5"):
        ifnscore.score(a, method="mean_log", scale="counts")
    depth = a.uns["ifnscore"]["depth"]
    assert depth["spearman_rho"]["rice6"] == pytest.approx(-1.0, abs=1e-12)
    assert depth["threshold"] == 0.5
    assert depth["n_cells_used"] == 300
    assert depth["genes_detected"] == "stored entries per row (CSR indptr)"


def test_depth_rho_is_spearman_of_score_and_genes_detected(cells):
    a = cells.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IfnscoreWarning)  # |rho| is near 0.6 for ucell here
        res = ifnscore.score(a.X, genes=a.var_names, method="ucell", signature=["rice6", "feng5"])
    detected = (a.X.toarray() != 0).sum(axis=1)  # by hand: non-zero values of each row
    for sig in ("rice6", "feng5"):
        want = stats.spearmanr(res[sig, "score"], detected).statistic
        got = res.attrs["ifnscore"]["depth"]["spearman_rho"][sig]
        assert got == pytest.approx(want, abs=1e-12)
    assert abs(res.attrs["ifnscore"]["depth"]["spearman_rho"]["rice6"]) >= 0.5


def test_depth_weak_correlation_does_not_warn(cells):
    a = cells.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error", IfnscoreWarning)
        ifnscore.score(a, method="mean_log", scale="counts")
    rho = a.uns["ifnscore"]["depth"]["spearman_rho"]["rice6"]
    detected = np.diff(a.X.indptr)
    assert rho == pytest.approx(stats.spearmanr(a.obs["ifnscore"], detected).statistic, abs=1e-12)
    assert abs(rho) < 0.5


def test_depth_check_modes(cells, example):
    counts, _ = example
    # bulk table: no diagnostic, nothing recorded
    assert "depth" not in ifnscore.score(counts, method="mean_log").attrs["ifnscore"]
    # fewer than 200 cells: not automatic
    small = cells[:150].copy()
    ifnscore.score(small, method="mean_log", scale="counts")
    assert "depth" not in small.uns["ifnscore"]
    # dense data when asked: the same rho as CSR
    csr = ifnscore.score(cells.X, genes=cells.var_names, method="mean_log", scale="counts")
    dense = ifnscore.score(
        cells.X.toarray(),
        genes=cells.var_names,
        method="mean_log",
        scale="counts",
        depth_check=True,
    )
    rho = csr.attrs["ifnscore"]["depth"]["spearman_rho"]["rice6"]
    assert dense.attrs["ifnscore"]["depth"]["spearman_rho"]["rice6"] == pytest.approx(
        rho, abs=1e-12
    )
    assert dense.attrs["ifnscore"]["depth"]["genes_detected"] == "non-zero values per row"
    frame = ifnscore.score(cells.to_df(), method="mean_log", scale="counts", depth_check=True)
    assert frame.attrs["ifnscore"]["depth"]["spearman_rho"]["rice6"] == pytest.approx(
        rho, abs=1e-12
    )
    # CSC: recorded as not run unless asked
    csc = cells.X.tocsc()
    auto = ifnscore.score(csc, genes=cells.var_names, method="mean_log", scale="counts")
    assert auto.attrs["ifnscore"]["depth"]["genes_detected"] == (
        "not computed: counting genes detected in a csc_matrix needs a pass over the matrix; "
        "pass depth_check=True"
    )
    asked = ifnscore.score(
        csc, genes=cells.var_names, method="mean_log", scale="counts", depth_check=True
    )
    assert asked.attrs["ifnscore"]["depth"]["spearman_rho"]["rice6"] == pytest.approx(
        rho, abs=1e-12
    )
    # genes x cells orientation (rows="genes"): the same rho
    t = ifnscore.score(
        cells.X.T.tocsr(),
        genes=cells.var_names,
        method="mean_log",
        scale="counts",
        depth_check=True,
    )
    assert t.attrs["ifnscore"]["depth"]["spearman_rho"]["rice6"] == pytest.approx(rho, abs=1e-12)
    # off: recorded as off, no warning even where it would fire
    a = _depth_driven()
    ifnscore.score(a, method="mean_log", scale="counts", depth_check=False)
    assert a.uns["ifnscore"]["depth"]["genes_detected"] == "not computed: depth_check=False"
    with pytest.raises(InputError) as e:
        ifnscore.score(a, method="mean_log", scale="counts", depth_check="yes")
    assert str(e.value) == "depth_check='yes' must be True, False or None (automatic)."


def test_depth_rho_is_estimated_on_evenly_spaced_cells_above_the_cap(cells, monkeypatch):
    monkeypatch.setattr(_singlecell, "DEPTH_MAX_CELLS", 100)
    res = ifnscore.score(cells.X, genes=cells.var_names, method="mean_log", scale="counts")
    depth = res.attrs["ifnscore"]["depth"]
    assert depth["n_cells_used"] == 100
    idx = np.linspace(0, cells.n_obs - 1, 100).astype(np.int64)  # every ~6th cell
    want = stats.spearmanr(res["score"].to_numpy()[idx], np.diff(cells.X.indptr)[idx]).statistic
    assert depth["spearman_rho"]["rice6"] == pytest.approx(want, abs=1e-12)


def test_depth_diagnostic_lands_in_uns_and_survives_h5ad(cells, tmp_path):
    a = cells.copy()
    ifnscore.score(a, method="mean_log", scale="counts")
    a.write_h5ad(tmp_path / "s.h5ad")
    back = ad.read_h5ad(tmp_path / "s.h5ad")
    assert back.uns["ifnscore"]["depth"]["spearman_rho"]["rice6"] == pytest.approx(
        a.uns["ifnscore"]["depth"]["spearman_rho"]["rice6"], abs=0
    )


def test_depth_of_a_backed_file_reads_only_indptr(cells, tmp_path):
    a = cells.copy()
    ifnscore.score(a, method="mean_log", scale="counts")
    a.write_h5ad(tmp_path / "b.h5ad")
    backed = ad.read_h5ad(tmp_path / "b.h5ad", backed="r")
    try:
        ifnscore.score(backed, method="mean_log", scale="counts", key="again")
        depth = backed.uns["again"]["depth"]
    finally:
        backed.file.close()
    assert depth["genes_detected"] == "stored entries per row (backed CSR indptr)"
    assert depth["spearman_rho"]["rice6"] == a.uns["ifnscore"]["depth"]["spearman_rho"]["rice6"]
