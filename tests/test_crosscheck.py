"""Numbers equal to the peer implementations people use today.

Each test skips when its peer is not installed (``pip install ifnscore[crosscheck]``).
Matrices are small (a few seconds in all); several seeds, dense and CSR, with and without
zeros. Tolerances are stated per test. Rank methods are compared on tie-free data where the
peers break ties differently (random or by column order); our tie rules are in the method
docstrings.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from ifnscore._methods import GeneSet, get_method

pytestmark = pytest.mark.crosscheck

N_CELLS, N_GENES = 50, 300
SEEDS = [0, 1, 2]
GENES = np.array([f"G{i}" for i in range(N_GENES)])
SETS = [
    GeneSet("a", np.arange(0, 60, 4)),
    GeneSet("b", np.array([5, 50, 100, 150, 200, 250, 299])),
    GeneSet("c", np.arange(100, 140)),
]
NAMES = [s.name for s in SETS]
GSETS = {s.name: list(GENES[s.up]) for s in SETS}


def data(seed, *, zeros, tie_free):
    """Log-normal expression; ``zeros`` sets about half to 0; ``tie_free`` adds jitter so that
    no two genes tie in a sample (zeros included)."""
    rng = np.random.default_rng(seed)
    X = rng.lognormal(1, 1, (N_CELLS, N_GENES))
    if zeros:
        X *= rng.random(X.shape) > 0.5
    return X + rng.random(X.shape) * 1e-3 if tie_free else np.round(X, 1)


def ours(method, X, **kw):
    return get_method(method).run(X, SETS, **kw)["score"]


def anndata(X):
    ad = pytest.importorskip("anndata")
    A = ad.AnnData(X.copy())
    A.var_names = GENES
    A.obs_names = [f"S{i}" for i in range(X.shape[0])]
    return A


def containers(X):
    return [("dense", X), ("csr", sp.csr_matrix(X))]


# --- scanpy tl.score_genes: 1e-9 absolute, dense and sparse, ties included ----------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("zeros", [False, True])
@pytest.mark.parametrize(
    ("n_bins", "ctrl_size", "ctrl_as_ref", "random_state"),
    [(25, 50, True, 0), (10, 20, True, 3), (25, 10, False, 7)],
)
def test_module_score_equals_scanpy(seed, zeros, n_bins, ctrl_size, ctrl_as_ref, random_state):
    sc = pytest.importorskip("scanpy")
    X = data(seed, zeros=zeros, tie_free=False)
    for kind, M in containers(X):
        A = anndata(M)
        mine = ours(
            "module_score",
            M,
            n_bins=n_bins,
            ctrl_size=ctrl_size,
            ctrl_as_ref=ctrl_as_ref,
            random_state=random_state,
        )
        for j, s in enumerate(SETS):
            sc.tl.score_genes(
                A,
                GENES[s.up],
                n_bins=n_bins,
                ctrl_size=ctrl_size,
                ctrl_as_ref=ctrl_as_ref,
                random_state=random_state,
            )
            np.testing.assert_allclose(
                mine[:, j], A.obs["score"].to_numpy(), rtol=0, atol=1e-9, err_msg=kind
            )


# --- decoupler aucell: 1e-12, tie-free data (decoupler shuffles columns to break ties) -----


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("zeros", [False, True])
def test_aucell_equals_decoupler(seed, zeros):
    dc = pytest.importorskip("decoupler")
    X = data(seed, zeros=False, tie_free=True)
    if zeros:  # zeros only where they stay outside the top 5% (ties at the bottom are harmless)
        X[np.quantile(X, 0.3) > X] = 0.0
    net = pd.DataFrame(
        [(s, g) for s, gs in GSETS.items() for g in gs], columns=["source", "target"]
    )
    A = anndata(X)
    dc.mt.aucell(A, net, tmin=1, verbose=False)
    peer = A.obsm["score_aucell"][NAMES].to_numpy()
    for kind, M in containers(X):
        np.testing.assert_allclose(ours("aucell", M), peer, rtol=0, atol=1e-12, err_msg=kind)


# --- pyucell: 1e-6 (pyucell accumulates in float32), max_rank <= n_genes --------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("zeros", [False, True])
@pytest.mark.parametrize("max_rank", [50, 150])
def test_ucell_equals_pyucell(seed, zeros, max_rank):
    pyucell = pytest.importorskip("pyucell")
    X = data(seed, zeros=zeros, tie_free=True)
    if zeros:  # pyucell ranks zeros at max_rank; R (and we) use their mid-rank, capped at
        # max_rank: equal whenever the zeros' mid-rank exceeds max_rank, true here
        nnz = (X > 0).sum(axis=1)
        assert np.all(nnz + (N_GENES - nnz + 1) / 2 >= max_rank)
    A = anndata(X)
    pyucell.compute_ucell_scores(A, GSETS, max_rank=max_rank, n_jobs=1)
    peer = A.obs[[f"{s}_UCell" for s in NAMES]].to_numpy(np.float64)
    for kind, M in containers(X):
        np.testing.assert_allclose(
            ours("ucell", M, max_rank=max_rank), peer, rtol=0, atol=1e-6, err_msg=kind
        )


# --- ssGSEA: pygsva (GSVA port) and gseapy, 1e-9 relative, tie-free ------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("normalize", [False, True])
def test_ssgsea_equals_pygsva(seed, normalize):
    pygsva = pytest.importorskip("pygsva")
    X = data(seed, zeros=False, tie_free=True)
    df = pd.DataFrame(X.T, index=GENES, columns=[f"S{i}" for i in range(N_CELLS)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = pygsva.gsva(pygsva.ssgseaParam(df, GSETS, normalization=normalize), verbose=False)
    peer = peer.loc[NAMES].to_numpy().T
    for kind, M in containers(X):
        np.testing.assert_allclose(
            ours("ssgsea", M, normalize=normalize), peer, rtol=1e-9, err_msg=kind
        )


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_ssgsea_equals_gseapy(seed):
    gseapy = pytest.importorskip("gseapy")
    X = data(seed, zeros=False, tie_free=True)
    df = pd.DataFrame(X.T, index=GENES, columns=[f"S{i}" for i in range(N_CELLS)])
    ss = gseapy.ssgsea(
        data=df,
        gene_sets=GSETS,
        outdir=None,
        sample_norm_method="rank",
        min_size=1,
        no_plot=True,
        threads=1,
        verbose=False,
    )
    es = ss.res2d.pivot(index="Term", columns="Name", values="ES")
    peer = es.loc[NAMES, df.columns].to_numpy(np.float64).T
    np.testing.assert_allclose(ours("ssgsea", sp.csr_matrix(X)), peer, rtol=1e-9)


# --- GSVA: 1e-6 per kernel ----------------------------------------------------------------

GSVA_FLAGS = [(True, False, 1.0), (True, True, 1.0), (False, False, 1.0), (True, False, 0.5)]


def bulk(seed, kind):
    rng = np.random.default_rng(seed)
    if kind == "poisson":
        return rng.poisson(8, (30, 200)).astype(np.float64)
    # normal (log-scale-like) data: no sample sits more than 10 bandwidths from all others,
    # so the kernel CDFs have no exact ties (the peers break those differently)
    return rng.normal(6, 1.5, (30, 200))


@pytest.mark.parametrize("seed", SEEDS[:2])
@pytest.mark.parametrize(("kcdf", "peer_kcdf"), [("gaussian", "gaussian"), ("poisson", "poisson")])
def test_gsva_equals_decoupler(seed, kcdf, peer_kcdf):
    dc = pytest.importorskip("decoupler")
    X = bulk(seed, kcdf)
    net = pd.DataFrame(
        [(s, g) for s, gs in GSETS.items() for g in gs if int(g[1:]) < 200],
        columns=["source", "target"],
    )
    sets = [GeneSet(s.name, s.up[s.up < 200]) for s in SETS]
    genes = GENES[:200]
    ad = pytest.importorskip("anndata")
    for max_diff, abs_ranking, tau in GSVA_FLAGS:
        A = ad.AnnData(X.copy())
        A.var_names = genes
        dc.mt.gsva(
            A,
            net,
            tmin=1,
            kcdf=peer_kcdf,
            maxdiff=max_diff,
            absrnk=abs_ranking,
            tau=tau,
            verbose=False,
        )
        peer = A.obsm["score_gsva"][NAMES].to_numpy()
        for kind, M in containers(X):
            mine = get_method("gsva").run(
                M, sets, kcdf=kcdf, max_diff=max_diff, abs_ranking=abs_ranking, tau=tau
            )["score"]
            np.testing.assert_allclose(
                mine, peer, rtol=0, atol=1e-6, err_msg=f"{kind} {max_diff} {abs_ranking} {tau}"
            )


@pytest.mark.parametrize("seed", SEEDS[:2])
@pytest.mark.parametrize(("kcdf", "peer_kcdf"), [("poisson", "Poisson"), ("ecdf", "none")])
def test_gsva_equals_pygsva(seed, kcdf, peer_kcdf):
    """pygsva's full pipeline for Poisson and ECDF (ECDF values tie heavily; pygsva and we
    both use GSVA's ``ties.method="last"``)."""
    pygsva = pytest.importorskip("pygsva")
    X = bulk(seed, "poisson" if kcdf == "poisson" else "gaussian")
    sets = [GeneSet(s.name, s.up[s.up < 200]) for s in SETS]
    gsets = {s.name: list(GENES[s.up]) for s in sets}
    df = pd.DataFrame(X.T, index=GENES[:200], columns=[f"S{i}" for i in range(X.shape[0])])
    for max_diff, abs_ranking, tau in GSVA_FLAGS:
        prm = pygsva.gsvaParam(
            df, gsets, kcdf=peer_kcdf, max_diff=max_diff, abs_ranking=abs_ranking, tau=tau
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            peer = pygsva.gsva(prm, verbose=False).loc[NAMES].to_numpy().T
        mine = get_method("gsva").run(
            X, sets, kcdf=kcdf, max_diff=max_diff, abs_ranking=abs_ranking, tau=tau
        )["score"]
        np.testing.assert_allclose(mine, peer, rtol=0, atol=1e-6)


def test_gsva_gaussian_kernel_equals_pygsva_dense_kernel():
    """pygsva's R-faithful dense kernel (bandwidth sd/4 with n-1, GSVA's CDF table): 1e-12.
    (pygsva's top-level ``gsva()`` routes dense input through its sparse kernel, which uses
    the population SD, unlike GSVA's C code, so its Gaussian scores are not compared.)"""
    pytest.importorskip("pygsva")
    from pygsva.gsvap import compute_gene_cdf

    from ifnscore._methods._gsva import _kernel_cdf

    X = bulk(0, "gaussian")
    peer = compute_gene_cdf(X.T.copy(), range(X.shape[0]), Gaussk=True, kernel=True, verbose=False)
    np.testing.assert_allclose(_kernel_cdf(X, "gaussian"), peer.T, rtol=0, atol=1e-12)


# --- GSVA's zscore and plage (pygsva), 1e-9 --------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_zscore_and_plage_equal_pygsva(seed):
    pygsva = pytest.importorskip("pygsva")
    X = bulk(seed, "gaussian")
    sets = [GeneSet(s.name, s.up[s.up < 200]) for s in SETS]
    gsets = {s.name: list(GENES[s.up]) for s in sets}
    df = pd.DataFrame(X.T, index=GENES[:200], columns=[f"S{i}" for i in range(X.shape[0])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = pygsva.zscore(df, gsets, verbose=False).loc[NAMES].to_numpy().T
    for kind, M in containers(X):
        np.testing.assert_allclose(
            get_method("zscore").run(M, sets)["score"], z, rtol=1e-9, err_msg=kind
        )
    # PLAGE: GSVA's singular vector has an arbitrary sign; compare up to sign, per set
    from pygsva.plage import right_singular_svd_vector

    Z = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)
    mine = get_method("plage").run(X, sets)["score"]
    for j, s in enumerate(sets):
        v = right_singular_svd_vector(s.up + 1, Z.T)  # 1-based indices, as in R
        np.testing.assert_allclose(np.abs(mine[:, j]), np.abs(v), rtol=1e-9, atol=1e-12)
