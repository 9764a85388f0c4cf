"""Single-sample gene-set methods: hand-computed examples, container equivalence, invariants.

Peer comparisons (scanpy, decoupler, gseapy, pyucell, pygsva) are in test_crosscheck.py.
"""

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import poisson

import ifnscore
from ifnscore._methods import GeneSet, get_method
from ifnscore._methods._gsva import _table_cdf, walk_scores
from ifnscore.errors import IfnscoreWarning, InputError

RANK_METHODS = ["singscore", "ssgsea", "aucell", "ucell"]
ALL_ROWS = [*RANK_METHODS, "module_score", "gsva", "zscore", "plage"]
COHORT_FREE = RANK_METHODS  # cohort_dependent=False among the rows methods
OPTIONS = {"aucell": {"max_rank": 5}, "ucell": {"max_rank": 10}, "gsva": {"kcdf": "gaussian"}}


def run(method, X, sets, **kw):
    return get_method(method).run(X, sets, **{**OPTIONS.get(method, {}), **kw})["score"]


def one(up, down=(), **kw):
    return [GeneSet("s", np.asarray(up, dtype=np.intp), np.asarray(down, dtype=np.intp), **kw)]


def counts_matrix(seed=0, n=30, p=60, zeros=0.5):
    rng = np.random.default_rng(seed)
    X = np.round(rng.lognormal(1, 1, (n, p)) * (rng.random((n, p)) > zeros), 1)
    return X


SETS = [
    GeneSet("a", np.arange(0, 20, 2), np.empty(0, dtype=np.intp)),
    GeneSet("b", np.array([1, 7, 33, 59]), np.empty(0, dtype=np.intp)),
]


# --- hand-computed examples ---------------------------------------------------------------


def test_singscore_hand():
    X = np.array([[1.0, 2, 3, 4, 5]])
    # ranks 4, 5 of N=5, k=2: (4.5 - 1.5) / (4.5 - 1.5) - 0.5
    out = get_method("singscore").run(X, one([3, 4]))
    np.testing.assert_allclose(out["score"], [[0.5]], atol=1e-15)
    np.testing.assert_allclose(run("singscore", X, one([0, 1])), [[-0.5]], atol=1e-15)
    # up/down: 0.5 + (1 - 0 - 0.5)
    np.testing.assert_allclose(run("singscore", X, one([3, 4], [0, 1])), [[1.0]], atol=1e-15)
    # uncentred
    np.testing.assert_allclose(run("singscore", X, one([3, 4]), center=False), [[1.0]], atol=1e-15)
    # dispersion: R mad of ranks 5, 3, 1 -> 1.4826 * 2
    d = get_method("singscore").run(np.array([[5.0, 4, 3, 2, 1]]), one([0, 2, 4]))["dispersion"]
    np.testing.assert_allclose(d, [[1.4826 * 2]], rtol=1e-15)


def test_singscore_ties_min_and_unknown_direction():
    # ties "min": the three 1s all have rank 1; set {0}: (1 - 1) / (5 - 1) - 0.5
    X = np.array([[1.0, 1, 1, 2, 3]])
    np.testing.assert_allclose(run("singscore", X, one([0])), [[-0.5]], atol=1e-15)
    # unknown direction: ranks 1..5, folded around ceil(median)=3 -> 2,1,0,1,2; set {0,4}:
    # mean 2, bounds with floor(2/2)=1 and ceil(5/2)=3: (2 - 1) / (3 - 1)
    X = np.array([[1.0, 2, 3, 4, 5]])
    np.testing.assert_allclose(
        run("singscore", X, one([0, 4]), known_direction=False), [[0.5]], atol=1e-15
    )
    # same on a sparse row with tied zeros: ranks 1,1,1,4,5 -> median 1 -> folded 0,0,0,3,4
    Xs = sp.csr_matrix(np.array([[0.0, 0, 0, 4, 5]]))
    got = run("singscore", Xs, one([3, 4]), known_direction=False)
    np.testing.assert_allclose(got, [[(3.5 - 1) / (3 - 1)]], atol=1e-15)
    with pytest.raises(InputError, match="known_direction"):
        run("singscore", X, one([0], [1]), known_direction=False)


def naive_ssgsea(x, idx, alpha=0.25):
    """GSVA's .rndWalk: sum of the running walk over genes in decreasing rank order."""
    n = x.size
    R = np.argsort(np.argsort(x)) + 1.0
    order = np.argsort(-R, kind="stable")
    ind = np.isin(order, idx)
    w = np.where(ind, R[order] ** alpha, 0.0)
    walk = np.cumsum(w) / w.sum() - np.cumsum(~ind) / (n - ind.sum())
    return walk.sum()


def test_ssgsea_hand_and_naive_walk():
    # N=4, set = top gene: 4 - (10 - 4) / 3 = 2
    np.testing.assert_allclose(run("ssgsea", np.array([[10.0, 20, 30, 40]]), one([3])), [[2.0]])
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5, 50))
    idx = np.array([0, 4, 9, 30])
    expected = [naive_ssgsea(x, idx) for x in X]
    np.testing.assert_allclose(run("ssgsea", X, one(idx))[:, 0], expected, rtol=1e-12)
    norm = run("ssgsea", X, one(idx), normalize=True)[:, 0]
    np.testing.assert_allclose(norm, np.array(expected) / np.ptp(expected), rtol=1e-12)


def test_ssgsea_ties_are_mean_over_orders():
    # genes 0 and 1 tie; GSVA's value depends on which comes first, ours is their mean
    x = np.array([1.0, 1.0, 2.0, 3.0, 4.0])
    idx = [0, 3]
    got = run("ssgsea", x[None, :], one(idx))[0, 0]
    a = naive_ssgsea(np.array([1.0, 1.1, 2, 3, 4]), idx)  # gene 0 ranked first
    b = naive_ssgsea(np.array([1.1, 1.0, 2, 3, 4]), idx)
    # weights use the truncated mid-rank 1 in both orders; mid-rank position 1.5
    assert min(a, b) <= got <= max(a, b)


def test_aucell_hand():
    # descending ranks of the set genes: 1 and 3; T = 4: (4-1) + (4-3) = 4; max 3 + 2 = 5
    X = np.array([[9.0, 1, 7, 2, 3, 4, 5, 8, 0.5, 0.2]])  # 9 > 8 > 7 > 5 > ...
    np.testing.assert_allclose(run("aucell", X, one([0, 2]), max_rank=4), [[0.8]], rtol=1e-15)
    # pySCENIC variant: same area, normalised by T*k = 8
    got = run("aucell", X, one([0, 2]), max_rank=4, variant="pyscenic")
    np.testing.assert_allclose(got, [[0.5]], rtol=1e-15)
    # default T: R ceil(0.05 * 50) = 3, pySCENIC round(0.05 * 50) = round(2.5) = 2
    X50 = np.arange(50.0)[::-1][None, :]  # gene 0 highest
    np.testing.assert_allclose(get_method("aucell").run(X50, one([0, 1]))["score"], [[3 / 3]])
    got = get_method("aucell").run(X50, one([0, 1]), variant="pyscenic")["score"]
    np.testing.assert_allclose(got, [[(2 - 1) / (2 * 2)]])
    # tie at positions 1-2 (one set gene): mean(4-1, 4-2) = 2.5; max for k=1: 3
    X = np.array([[9.0, 9.0, 1, 2, 3, 4, 5, 6, 0.5, 0.2]])
    np.testing.assert_allclose(run("aucell", X, one([0]), max_rank=4), [[2.5 / 3]], rtol=1e-15)
    # default T = ceil(0.05 * 40) = 2
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 40))
    top = np.argmax(X, axis=1)
    got = get_method("aucell").run(X, [GeneSet("t", np.array([top[0]]))])["score"]
    assert got[0, 0] == 1.0
    with pytest.raises(InputError, match="max_rank"):
        get_method("aucell").run(X[:, :10], one([0]))  # ceil(0.5) = 1 < 2


def test_ucell_hand():
    X = np.array([[5.0, 1, 2, 3, 4]])  # descending ranks: gene0=1, gene1=5
    # max_rank 3: ranks 1 and min(5, 3); U = 1 - (4 - 3) / (6 - 3)
    np.testing.assert_allclose(run("ucell", X, one([0, 1]), max_rank=3), [[2 / 3]], rtol=1e-15)
    # a missing gene counts as max_rank: k=3, sum 7: 1 - (7 - 6) / (9 - 6)
    got = run("ucell", X, one([0, 1], missing_up=1), max_rank=3)
    np.testing.assert_allclose(got, [[2 / 3]], rtol=1e-15)
    # signed: max(0, up - w_neg * down); down = gene 4 (rank 2): 1 - (2-1)/(3-1) = 0.5
    got = run("ucell", X, one([0], [4]), max_rank=3)
    np.testing.assert_allclose(got, [[1.0 - 0.5]], rtol=1e-15)
    got = run("ucell", X, one([1], [0]), max_rank=3)
    np.testing.assert_allclose(got, [[0.0]])
    # max_rank larger than the number of genes is capped (R UCell)
    np.testing.assert_allclose(
        run("ucell", X, one([0, 1]), max_rank=1500), run("ucell", X, one([0, 1]), max_rank=5)
    )


def test_ucell_ties_mid_rank_zeros():
    # zeros tie at the bottom with mid-rank (3 + 6) / 2 = 4.5, capped at max_rank 4
    X = sp.csr_matrix(np.array([[3.0, 2, 0, 0, 0, 0]]))
    np.testing.assert_allclose(
        run("ucell", X, one([0, 2]), max_rank=6), [[1 - (1 + 4.5 - 3) / (12 - 3)]], rtol=1e-15
    )


def test_module_score_hand_and_global_rng_untouched():
    # 6 genes, n_bins=3 -> n_items = round(6/2) = 3; means 1..6 -> bins 0,0,1,1,1,2;
    # signature gene 0 -> candidates {0, 1}, gene 0 removed -> control {1}
    X = np.array([[1.0, 2, 3, 4, 5, 6], [1.0, 2, 3, 4, 5, 6]]) * [[1], [3]]
    state = np.random.get_state()  # noqa: NPY002 (the point: global state untouched)
    got = run("module_score", X, one([0]), n_bins=3)
    after = np.random.get_state()  # noqa: NPY002
    np.testing.assert_allclose(got[:, 0], X[:, 0] - X[:, 1])
    assert all(np.array_equal(a, b) for a, b in zip(state[1:2], after[1:2], strict=True))
    with pytest.raises(InputError, match="n_bins"):
        run("module_score", X, one([0]), n_bins=30)


def test_gsva_walk_matches_naive_walk():
    rng = np.random.default_rng(5)
    n = 40
    for _ in range(5):
        pos = rng.choice(np.arange(1, n + 1), size=6, replace=False)
        w = rng.random(6)
        step = np.full(n, -1.0 / (n - 6))
        step[pos - 1] = w / w.sum()
        walk = np.cumsum(step)
        for max_diff, abs_ranking, expected in [
            (True, False, walk.max() + walk.min()),
            (True, True, walk.max() - walk.min()),
            (False, False, walk.max() if walk.max() > abs(walk.min()) else walk.min()),
        ]:
            got = walk_scores(pos[None], w[None], n, max_diff=max_diff, abs_ranking=abs_ranking)
            np.testing.assert_allclose(got, [expected], atol=1e-14)


def test_gsva_kernels_hand():
    from ifnscore._methods._gsva import _kernel_cdf

    G = np.array([[0.0, 1], [1.0, 3], [3.0, 2]])
    # ECDF: #(x_j <= x_i) / n
    np.testing.assert_allclose(_kernel_cdf(G, "ecdf"), [[1 / 3, 1 / 3], [2 / 3, 1], [1, 2 / 3]])
    # Poisson: mean_j ppois(x_i, x_j + 0.5), then log-odds
    lt = poisson.cdf(G[:, None, :], G[None, :, :] + 0.5).mean(axis=1)
    np.testing.assert_allclose(_kernel_cdf(G, "poisson"), np.log(lt / (1 - lt)), rtol=1e-12)
    # Gaussian: GSVA's table is within one table step (0.001 sd) of the exact CDF
    v = np.linspace(-9.99, 9.99, 1001)
    from scipy.special import ndtr

    assert np.all(np.abs(_table_cdf(v) - ndtr(v)) < 4e-4)
    assert _table_cdf(np.array([11.0]))[0] == 1.0
    assert _table_cdf(np.array([-11.0]))[0] == 0.0


def test_zscore_and_plage_hand():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(8, 5))
    Z = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)
    idx = [0, 2, 3]
    np.testing.assert_allclose(
        run("zscore", X, one(idx))[:, 0], Z[:, idx].sum(axis=1) / math.sqrt(3), rtol=1e-12
    )
    pl = run("plage", X, one(idx))[:, 0]
    v = np.linalg.svd(Z[:, idx].T)[2][0]
    np.testing.assert_allclose(np.abs(pl), np.abs(v), rtol=1e-10, atol=1e-12)
    assert pl @ Z[:, idx].mean(axis=1) > 0  # documented sign
    np.testing.assert_allclose(np.linalg.norm(pl), 1.0)


def test_cohort_methods_drop_constant_genes():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(8, 5))
    Xc = X.copy()
    Xc[:, 1] = 3.0  # constant gene in the set: dropped, as GSVA's filterGenes does
    for m in ("zscore", "plage"):
        np.testing.assert_allclose(run(m, Xc, one([0, 1, 2])), run(m, X, one([0, 2])))


# --- containers, blocks, bad input --------------------------------------------------------


CONTAINERS = [np.asarray, sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array]


@pytest.mark.parametrize("method", ALL_ROWS)
@pytest.mark.parametrize("container", CONTAINERS[1:])
def test_container_equivalence(method, container):
    X = counts_matrix()
    ref = run(method, X, SETS)
    got = run(method, container(X), SETS)
    assert np.isfinite(ref).all()
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("method", [*RANK_METHODS, "module_score"])
def test_block_size_does_not_change_scores(method):
    X = counts_matrix(seed=1)
    ref = run(method, X, SETS)
    for c in (np.asarray, sp.csr_matrix):
        np.testing.assert_allclose(
            run(method, c(X), SETS, block_rows=7), ref, rtol=1e-12, atol=1e-13
        )


@pytest.mark.parametrize("method", RANK_METHODS)
def test_rank_methods_refuse_nan(method):
    X = counts_matrix()
    X[3, 4] = np.nan
    for c in (np.asarray, sp.csr_matrix):
        with pytest.raises(InputError, match="NaN"):
            run(method, c(X), SETS)


def test_through_public_api(example):
    counts, _ = example
    res = ifnscore.score(counts, signature="rice6", method="ucell", max_rank=500)
    assert res["score"].between(0, 1).all()
    res = ifnscore.score(counts, signature="rice6", method="singscore")
    assert "dispersion" in res.columns
    with pytest.raises(TypeError, match=r"\['maxRank'\] \(did you mean 'max_rank'\?\)"):
        ifnscore.score(counts, signature="rice6", method="ucell", maxRank=10)
    with pytest.warns(IfnscoreWarning, match="cohort-dependent"):
        ifnscore.score(counts, signature="rice6", method="zscore", upper_limit=1.0)


# --- Hypothesis invariants ---------------------------------------------------------------

matrices = arrays(
    np.float64,
    st.tuples(st.integers(3, 8), st.integers(12, 20)),
    elements=st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0, 3.5, 7.0, 10.0]),
)


def small_sets(p):
    return [GeneSet("a", np.array([0, 3, 5])), GeneSet("b", np.array([1, 2, p - 1]))]


def varied(X):
    """Skip matrices where a cohort method is undefined (a set gene constant across samples)."""
    return X[:, [0, 1, 2, 3, 5, -1]].std(axis=0).min() > 0


@given(X=matrices, data=st.data())
def test_sample_order_invariance(X, data):
    perm = data.draw(st.permutations(range(X.shape[0])))
    sets = small_sets(X.shape[1])
    for m in ALL_ROWS:
        if m in ("zscore", "plage", "gsva") and not varied(X):
            continue
        if m == "module_score":
            opts = {"n_bins": 4}
        elif m == "aucell":
            opts = {"max_rank": 4}
        else:
            opts = {}
        try:
            a = run(m, X, sets, **opts)[perm]
        except InputError:  # module_score: a bin with no control gene is refused, in any order
            with pytest.raises(InputError):
                run(m, X[perm], sets, **opts)
            continue
        b = run(m, X[perm], sets, **opts)
        if m == "plage":
            a, b = np.abs(a), np.abs(b)  # sign ties possible when mean z is ~0
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=m)


@given(X=matrices, data=st.data())
def test_gene_order_invariance(X, data):
    p = X.shape[1]
    perm = np.array(data.draw(st.permutations(range(p))))
    inv = np.argsort(perm)
    sets = small_sets(p)
    moved = [GeneSet(s.name, inv[s.up]) for s in sets]
    for m in [*RANK_METHODS, "zscore"]:
        if m == "zscore" and not varied(X):
            continue
        a = run(m, X, sets)
        b = run(m, X[:, perm], moved)
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=m)


@given(X=matrices, k=st.integers(1, 3))
def test_batch_independence(X, k):
    sets = small_sets(X.shape[1])
    for m in COHORT_FREE:
        assert not get_method(m).cohort_dependent
        np.testing.assert_allclose(run(m, X[:k], sets), run(m, X, sets)[:k], rtol=1e-12)


@given(X=matrices)
def test_container_invariance_property(X):
    sets = small_sets(X.shape[1])
    for m in RANK_METHODS:
        np.testing.assert_allclose(
            run(m, sp.csr_matrix(X), sets), run(m, X, sets), rtol=1e-12, atol=1e-13, err_msg=m
        )


def test_cohort_metadata():
    ss = get_method("ssgsea")
    assert not ss.cohort_dependent
    assert ss.depends_on_cohort({"normalize": True})
    assert not ss.depends_on_cohort({"normalize": False})
    for m in ("gsva", "zscore", "plage", "module_score"):
        assert get_method(m).depends_on_cohort({})
    for m in COHORT_FREE:
        assert not get_method(m).depends_on_cohort({})
    table = ifnscore.list_methods()
    assert table.loc["ucell", "needs_whole_rows"]
    assert not table.loc["fc_sum", "needs_whole_rows"]


# --- naive per-sample implementations of the R formulas (scipy rankdata), ties included ----


def naive_singscore(x, up, down=(), known=True):
    from scipy.stats import rankdata

    n = x.size
    r = rankdata(x, method="min")
    if not known:
        r = np.abs(r - np.ceil(np.median(r)))
        k, N = len(up) // 2, -(-n // 2)
        m = r[up].mean()
        return (m - (k + 1) / 2) / ((2 * N - k + 1) / 2 - (k + 1) / 2)

    def norm(idx):
        k = len(idx)
        return (r[idx].mean() - (k + 1) / 2) / ((2 * n - k + 1) / 2 - (k + 1) / 2)

    s = norm(up) - 0.5
    if len(down):
        s += 1 - norm(down) - 0.5
    return s


def naive_ucell(x, up, m):
    from scipy.stats import rankdata

    r = np.minimum(rankdata(-x, method="average"), min(m, x.size))[up]
    k, mm = len(up), min(m, x.size)
    return 1 - (r.sum() - k * (k + 1) / 2) / (k * mm - k * (k + 1) / 2)


@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
def test_singscore_and_ucell_equal_naive_r_formulas_with_ties(container):
    X = counts_matrix(seed=4, n=12, p=40)  # many tied zeros and rounded values
    up, down = np.array([0, 3, 5, 8, 13, 21]), np.array([1, 2, 34])
    M = container(X)
    got = run("singscore", M, one(up, down))[:, 0]
    np.testing.assert_allclose(got, [naive_singscore(x, up, down) for x in X], rtol=1e-12)
    got = run("singscore", M, one(up), known_direction=False)[:, 0]
    expected = [naive_singscore(x, up, known=False) for x in X]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    for m in (5, 25, 1500):
        got = run("ucell", M, one(up), max_rank=m)[:, 0]
        np.testing.assert_allclose(got, [naive_ucell(x, up, m) for x in X], rtol=1e-12)


def test_float32_codes_are_monotone():
    from ifnscore._methods._ranks import _f32_codes, _f32_values

    v = np.array(
        [-np.inf, -3e38, -2.5, -1e-45, -0.0, 0.0, 1e-45, 1.0, 1.0000001, 3e38, np.inf],
        dtype=np.float32,
    )
    c = _f32_codes(v)
    assert np.all(np.diff(c[[0, 1, 2, 3, 5, 6, 7, 8, 9, 10]]) > 0)
    assert c[4] == c[5]  # -0.0 ties with 0.0
    np.testing.assert_array_equal(_f32_values(c[5:]), v[5:].astype(np.float64))
    np.testing.assert_array_equal(_f32_values(c[:4]), v[:4].astype(np.float64))


@pytest.mark.parametrize("method", [*RANK_METHODS, "singscore_unknown"])
@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
def test_float32_path_equals_float64_path(method, container):
    X = counts_matrix(seed=6) - 2.0  # negative values, ties, zeros
    X32 = X.astype(np.float32)
    kw = {}
    if method == "singscore_unknown":
        method, kw = "singscore", {"known_direction": False}
    a = run(method, container(X32), SETS, **kw)
    b = run(method, container(X32.astype(np.float64)), SETS, **kw)
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


def _tie_orders(x):
    """Every way of breaking the ties of ``x`` (tiny x): tie-free copies, one per order."""
    import itertools

    groups = [np.flatnonzero(x == v) for v in np.unique(x)]
    tied = [g for g in groups if g.size > 1]
    for perms in itertools.product(*(itertools.permutations(g) for g in tied)):
        y = x.astype(np.float64).copy()
        for g, perm in zip(tied, perms, strict=True):
            y[list(perm)] = x[g[0]] + 1e-6 * np.arange(g.size)
        yield y


def test_aucell_ties_equal_expected_value_over_random_tie_breaking():
    x = np.array([5.0, 5, 5, 3, 3, 9, 1, 0, 0, 0, 2, 2])
    idx = [0, 3, 7]
    got = run("aucell", x[None, :], one(idx), max_rank=6)[0, 0]
    values = [run("aucell", y[None, :], one(idx), max_rank=6)[0, 0] for y in _tie_orders(x)]
    np.testing.assert_allclose(got, np.mean(values), rtol=1e-12)


def test_ssgsea_ties_equal_mean_over_orders_with_gsva_weights():
    x = np.array([5.0, 5, 5, 3, 3, 9, 1, 0, 0, 0, 2, 2])
    idx = np.array([0, 3, 7])
    from scipy.stats import rankdata

    w = np.floor(rankdata(x))[idx] ** 0.25  # GSVA: truncated mid-rank weights
    n, k = x.size, idx.size
    vals = []
    for y in _tie_orders(x):
        r = rankdata(y)[idx]  # position term of this order
        vals.append((w * r).sum() / w.sum() - (n * (n + 1) / 2 - r.sum()) / (n - k))
    np.testing.assert_allclose(run("ssgsea", x[None, :], one(idx))[0, 0], np.mean(vals), rtol=1e-12)


def test_aucell_pyscenic_variant_equals_ctxcore_recovery_formula():
    """ctxcore recovery.aucs (pySCENIC): 0-based ranks, cut-off round(0.05 N) - 1, area by the
    step curve, divided by (cut-off + 1) * k; re-implemented here step by step."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(6, 130))
    idx = np.array([0, 5, 9, 40, 77, 100, 129])
    cutoff = round(0.05 * X.shape[1]) - 1
    expected = []
    for x in X:
        rank0 = np.argsort(np.argsort(-x))[idx]
        r = np.sort(rank0[rank0 < cutoff])
        xs = np.concatenate((r, [cutoff]))
        expected.append(np.sum(np.diff(xs) * np.arange(1, xs.size)) / ((cutoff + 1) * idx.size))
    got = get_method("aucell").run(X, one(idx), variant="pyscenic")["score"][:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_normalised_ssgsea_warns_against_a_fixed_limit_and_is_recorded():
    import ifnscore
    from ifnscore.errors import IfnscoreWarning

    counts, samples = ifnscore.datasets.load_example(as_frame=True)
    plain = ifnscore.score(counts, "rice6", method="ssgsea", upper_limit=0.5)
    assert plain.attrs["ifnscore"]["cohort_dependent"] is False
    with pytest.warns(IfnscoreWarning, match="cohort-dependent"):
        res = ifnscore.score(counts, "rice6", method="ssgsea", normalize=True, upper_limit=0.5)
    assert res.attrs["ifnscore"]["cohort_dependent"] is True
    ref = ifnscore.calibrate(
        counts[samples["group"] == "control"], "rice6", method="ssgsea", normalize=True
    )
    assert bool(ref.summary().loc["rice6", "cohort_dependent"])
