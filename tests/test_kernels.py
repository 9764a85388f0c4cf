"""The compiled kernels (numba) against the numpy paths, to the last bit.

Rank methods (AUCell, UCell, singscore, ssGSEA): one kernel sorts each row once and scores
every set; the numpy path counts ranks by ``searchsorted``. Both must give identical floats
for every container, dtype, block size and thread count, and a sample's score must not
depend on the other samples scored with it. Affine methods (fc_*, z_*, mean_log): one pass
over the rows accumulates every signature's sum; it must equal the gathered-block path.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from ifnscore._methods import GeneSet, _ranks, get_method
from ifnscore.errors import InputError

pytestmark = pytest.mark.filterwarnings("ignore::ifnscore.errors.IfnscoreWarning")

numba = pytest.importorskip("numba")

RANK_OPTIONS = {
    "aucell": [{}, {"variant": "pyscenic"}, {"max_rank": 20}],
    "ucell": [{}, {"max_rank": 10}, {"max_rank": 10, "w_neg": 0.5}],
    "singscore": [{}, {"center": False}],
    "ssgsea": [{}, {"alpha": 1.0}, {"alpha": 0.0}],
}
CASES = [(m, o) for m, opts in RANK_OPTIONS.items() for o in opts]


@pytest.fixture
def path(monkeypatch):
    """``path("compiled")`` / ``path("numpy")``: force one implementation of rank_scores."""
    monkeypatch.setenv("IFNSCORE_NUMBA", "1")

    def use(which):
        monkeypatch.setattr(_ranks, "KERNEL_MIN_ENTRIES", 0 if which == "compiled" else 2**62)
        if which == "compiled":
            assert _ranks._kernels() is not None

    return use


def _matrix(seed=0, n=120, p=300, zeros=0.6):
    """Counts-like values with many ties, some negative values and explicit zeros."""
    rng = np.random.default_rng(seed)
    X = np.round(rng.lognormal(1, 1, (n, p)) * (rng.random((n, p)) > zeros), 1)
    X[:, 5] = -X[:, 5]  # negative values: below the zero group
    X[::3, 7] = 2.7  # a tie across many genes of one row
    return X


def _sets(p=300, seed=1):
    rng = np.random.default_rng(seed)
    return [
        GeneSet("a", np.arange(0, 40, 3)),
        # down genes, missing genes, a repeated column
        GeneSet("b", np.array([1, 7, 33, 59, 5, 5]), np.array([2, 8, 100]), 1, 2),
        GeneSet("c", np.array([p - 1, 5, 10])),
        GeneSet("big", np.sort(rng.choice(p, 90, replace=False))),  # > 64 genes (MAD sort)
        GeneSet("empty", np.empty(0, dtype=np.intp)),
    ]


def _run(method, X, sets, **kw):
    return get_method(method).run(X, sets, **kw)


def _explicit_zeros(X):
    """CSR of the same values with some zeros stored explicitly (they tie with the implicit
    zeros)."""
    keep = (X != 0) | (np.random.default_rng(9).random(X.shape) < 0.2)
    rows, cols = np.nonzero(keep)
    S = sp.csr_matrix((X[rows, cols], (rows, cols)), shape=X.shape)
    assert (S.data == 0).sum() > 100
    return S


CONTAINERS = {
    "dense": np.asarray,
    "csr": sp.csr_matrix,
    "csc": sp.csc_matrix,
    "csr_array": sp.csr_array,
    "csr_explicit_zeros": _explicit_zeros,
    "f32_dense": lambda a: a.astype(np.float32),
    "f32_csr": lambda a: sp.csr_matrix(a.astype(np.float32)),
}


@pytest.mark.parametrize(("method", "options"), CASES)
def test_rank_kernel_equals_numpy_path_to_the_last_bit(path, method, options):
    X = _matrix()
    sets = _sets()
    for make in CONTAINERS.values():
        path("numpy")
        want = _run(method, make(X), sets, **options)
        path("compiled")
        got = _run(method, make(X), sets, **options)
        for key in want:
            np.testing.assert_array_equal(got[key], want[key])
        assert np.isfinite(got["score"][:, :4]).all()
        assert np.isnan(got["score"][:, 4]).all()  # a set with no genes


@pytest.mark.parametrize(("method", "options"), CASES)
def test_rank_scores_do_not_depend_on_container_block_or_threads(
    path, monkeypatch, method, options
):
    """The same floats from dense and sparse rows, float32 or float64 storage of the same
    values, any block size, 1 or 3 threads."""
    X = _matrix(seed=2)
    sets = _sets()
    path("compiled")
    want = _run(method, X, sets, **options)["score"]
    for name, make in CONTAINERS.items():
        data = make(X if not name.startswith("f32") else X.astype(np.float32).astype(np.float64))
        ref = want if not name.startswith("f32") else _run(method, data, sets, **options)["score"]
        for threads in ("1", "3"):
            monkeypatch.setenv("IFNSCORE_NUM_THREADS", threads)
            for block_rows in (None, 7, 1):
                for which in ("compiled", "numpy"):
                    path(which)
                    got = _run(method, make(X), sets, block_rows=block_rows, **options)["score"]
                    np.testing.assert_array_equal(got, ref, err_msg=f"{name} {which} {block_rows}")


@pytest.mark.parametrize("method", list(RANK_OPTIONS))
def test_a_sample_scores_the_same_alone(path, method):
    X = _matrix(seed=3)
    sets = _sets()
    path("compiled")
    whole = _run(method, sp.csr_matrix(X), sets)["score"]
    for i in (0, 17, 119):
        for which in ("compiled", "numpy"):
            path(which)
            one = _run(method, sp.csr_matrix(X[i : i + 1]), sets)["score"]
            np.testing.assert_array_equal(one[0], whole[i])


def test_singscore_unknown_direction_kernel(path):
    X = _matrix(seed=4)
    sets = [GeneSet("a", np.arange(0, 40, 3)), GeneSet("b", np.arange(100, 190))]
    for make in (np.asarray, sp.csr_matrix):
        path("numpy")
        want = _run("singscore", make(X), sets, known_direction=False)
        path("compiled")
        got = _run("singscore", make(X), sets, known_direction=False)
        np.testing.assert_array_equal(got["score"], want["score"])
        np.testing.assert_array_equal(got["dispersion"], want["dispersion"])


def test_kernel_hand_example(path):
    """One row 0, 0, 1, 2, 2, 3 (N = 6; the set {2, 3}, i.e. values 1 and 2).

    Ascending min ranks: value 1 -> 3, value 2 -> 4 (ties 4-5). singscore: mean rank 3.5,
    bounds (k+1)/2 = 1.5 and (2N-k+1)/2 = 5.5: (3.5 - 1.5) / 4 - 0.5 = 0.0; dispersion
    1.4826 * median(|3 - 3.5|, |4 - 3.5|) = 0.7413. UCell (max_rank 6): descending mid-ranks
    value 1 -> 4, value 2 -> 2.5; U = 1 - (6.5 - 3) / (12 - 3) = 0.6111... ssGSEA (alpha 0):
    mid-ranks 3 and 4.5, mean 3.75; (21 - 7.5) / 4 = 3.375; ES = 0.375.
    """
    row = np.array([[0.0, 0.0, 1.0, 2.0, 2.0, 3.0]])
    sets = [GeneSet("s", np.array([2, 3]))]
    for which in ("compiled", "numpy"):
        path(which)
        for make in (np.asarray, sp.csr_matrix):
            out = _run("singscore", make(row), sets)
            assert out["score"][0, 0] == 0.0
            assert out["dispersion"][0, 0] == pytest.approx(0.7413, abs=1e-12)
            u = _run("ucell", make(row), sets, max_rank=6)["score"][0, 0]
            assert u == pytest.approx(1 - 3.5 / 9, abs=1e-15)
            e = _run("ssgsea", make(row), sets, alpha=0.0)["score"][0, 0]
            assert e == pytest.approx(0.375, abs=1e-15)


@pytest.mark.parametrize("method", list(RANK_OPTIONS))
@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
def test_kernel_refuses_nan_naming_the_sample(path, method, container):
    X = _matrix()
    X[37, 12] = np.nan if method != "ucell" else np.inf
    path("compiled")
    with pytest.raises(InputError, match=rf"method='{method}'.*NaN or infinite.*sample number 38"):
        _run(method, container(X), _sets())
    path("numpy")
    with pytest.raises(InputError, match=rf"method='{method}'.*NaN or infinite.*sample number 38"):
        _run(method, container(X), _sets())


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int16, np.uint8, np.float16, bool])
def test_integer_and_small_dtypes(path, dtype):
    """Types numpy cannot sort fast are widened exactly; the ranks are those of the values."""
    rng = np.random.default_rng(5)
    X = rng.poisson(1.0, (40, 80)).astype(dtype)
    sets = [GeneSet("a", np.arange(0, 30, 2)), GeneSet("b", np.arange(31, 80, 5))]
    for method in RANK_OPTIONS:
        path("numpy")
        want = _run(method, X.astype(np.float64), sets)["score"]
        path("compiled")
        makers = (np.asarray,) if dtype is np.float16 else (np.asarray, sp.csr_matrix)  # no f16 CSR
        for make in makers:
            np.testing.assert_array_equal(_run(method, make(X), sets)["score"], want)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12),
    p=st.integers(2, 40),
    density=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31),
    method=st.sampled_from(list(RANK_OPTIONS)),
)
def test_rank_kernel_property(n, p, density, seed, method):
    """Any small matrix with ties, negatives and zeros: compiled == numpy, bit for bit."""
    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(0.5, 1.5, (n, p)), 0) * (rng.random((n, p)) < density)
    k = int(rng.integers(1, p + 1))
    sets = [GeneSet("s", np.sort(rng.choice(p, k, replace=False)))]
    opts = {"aucell": {"max_rank": max(2, p // 2)}, "ucell": {"max_rank": max(1, p // 3)}}
    old = _ranks.KERNEL_MIN_ENTRIES
    try:
        _ranks.KERNEL_MIN_ENTRIES = 2**62
        want = _run(method, sp.csr_matrix(X), sets, **opts.get(method, {}))
        _ranks.KERNEL_MIN_ENTRIES = 0
        for make in (np.asarray, sp.csr_matrix):
            got = _run(method, make(X), sets, **opts.get(method, {}))
            for key in want:
                np.testing.assert_array_equal(got[key], want[key])
    finally:
        _ranks.KERNEL_MIN_ENTRIES = old


# ------------------------------------------------------------------ affine (fc_*, z_*, mean_log)

import ifnscore  # noqa: E402
from ifnscore import _gather  # noqa: E402
from ifnscore.datasets import simulate_sparse  # noqa: E402

AFFINE = ["fc_sum", "fc_mean", "z_sum", "z_mean", "mean_log"]
SIGS = ["rice6", "kirou21", "ifn_alpha_module_m1_2"]


class _Cells:
    def __init__(self, X, var_names):
        self.X, self.var_names = X, var_names


@pytest.fixture(scope="module")
def cells():
    """600 cells x 500 genes, CSR float32 counts: the ISGs of every shipped signature (the
    first columns of :func:`simulate_sparse`'s genes) expressed in 90 % of cells, the other
    genes in 10 %; values 1 + a rounded log-normal (ties at small counts)."""
    genes = simulate_sparse(2, 500, seed=11).var_names
    rng = np.random.default_rng(11)
    n, p = 600, 500
    n_isg = int(sum(not g.startswith("SIM") for g in genes))
    dens = np.where(np.arange(p) < n_isg, 0.9, 0.1)
    mask = rng.random((n, p)) < dens
    vals = 1.0 + np.round(rng.lognormal(1.5, 1.0, (n, p)))
    return _Cells(sp.csr_matrix((vals * mask).astype(np.float32)), genes)


def _on_scale(X, scale):
    """CSR counts put on ``scale`` (values of implicit zeros stay 0)."""
    X = sp.csr_matrix(X, dtype=np.float64)
    if scale == "counts":
        return X
    lib = np.asarray(X.sum(axis=1)).ravel()
    Y = sp.diags(1e4 / lib) @ X
    Y = sp.csr_matrix(Y)
    if scale == "log2":
        Y.data = np.log2(Y.data + 1.0)
    elif scale == "log1p":
        Y.data = np.log1p(Y.data)
    return Y


@pytest.fixture(scope="module")
def refs(cells, controls):
    """A reference per method and scale, calibrated on the cells themselves (first 200)."""
    out = {}
    sigs = [s for s in SIGS if s in ifnscore.list_signatures().index]
    for scale in ("counts", "linear", "log2", "log1p"):
        X = _on_scale(cells.X, scale)
        for m in AFFINE:
            if m == "mean_log":
                continue
            out[m, scale] = ifnscore.calibrate(
                X[:200], genes=cells.var_names, signature=sigs, method=m, scale=scale,
                min_genes=1,
            )  # fmt: skip
    return out, sigs


def _score(X, genes, method, scale, refs, **kw):
    ref, sigs = refs
    if method == "mean_log":
        return ifnscore.score(X, genes=genes, signature=sigs, method=method, scale=scale, **kw)
    return ifnscore.score(X, genes=genes, reference=ref[method, scale], scale=scale, **kw)


@pytest.fixture
def affine_path(monkeypatch):
    """``affine_path("compiled")`` / ``("numpy")``: force the affine implementation."""
    monkeypatch.setenv("IFNSCORE_NUMBA", "1")
    real = _gather.affine_pass

    def counted(*a, **kw):
        use.passes += 1
        return real(*a, **kw)

    monkeypatch.setattr(_gather, "affine_pass", counted)

    def use(which):
        monkeypatch.setattr(_gather, "NUMBA_MIN_NNZ", 0 if which == "compiled" else 2**62)
        if which == "compiled":
            assert _gather._affine_kernel() is not None

    use.passes = 0
    return use


def _numbers(res):
    return (
        res.xs("score", axis=1, level=1).to_numpy()
        if res.columns.nlevels > 1
        else res[["score"]].to_numpy()
    )


@pytest.mark.parametrize("scale", ["counts", "linear", "log2", "log1p"])
@pytest.mark.parametrize("method", AFFINE)
def test_affine_kernel_equals_numpy_path_to_the_last_bit(cells, refs, affine_path, method, scale):
    X = _on_scale(cells.X, scale)
    affine_path("numpy")
    want = _numbers(_score(X, cells.var_names, method, scale, refs))
    assert affine_path.passes == 0
    affine_path("compiled")
    got = _numbers(_score(X, cells.var_names, method, scale, refs))
    assert affine_path.passes == 1  # the compiled pass did score it
    np.testing.assert_array_equal(got, want)
    assert np.isfinite(got).all()
    # dense rows and float32 storage of the same values: the same floats
    np.testing.assert_array_equal(
        _numbers(_score(X.toarray(), cells.var_names, method, scale, refs)), want
    )


@pytest.mark.parametrize("method", AFFINE)
def test_affine_batch_independence_across_paths(cells, refs, affine_path, method, monkeypatch):
    """A cell scored alone (numpy path) gets the float it gets in the whole batch (compiled
    pass), whatever the parts and threads."""
    X = _on_scale(cells.X, "log1p")
    affine_path("compiled")
    whole = _numbers(_score(X, cells.var_names, method, "log1p", refs))
    monkeypatch.setattr(_gather, "PART_NNZ", 97)
    for threads in ("1", "3"):
        monkeypatch.setenv("IFNSCORE_NUM_THREADS", threads)
        np.testing.assert_array_equal(
            _numbers(_score(X, cells.var_names, method, "log1p", refs)), whole
        )
    affine_path("numpy")
    for i in (0, 123, 599):
        one = _numbers(_score(X[i : i + 1], cells.var_names, method, "log1p", refs))
        np.testing.assert_array_equal(one[0], whole[i])


@pytest.mark.parametrize("method", ["fc_sum", "z_mean"])
def test_affine_kernel_omit(cells, refs, affine_path, method):
    X = _on_scale(cells.X, "log2")
    X.data[::37] = np.nan
    affine_path("numpy")
    want = _score(X, cells.var_names, method, "log2", refs, nan="omit")
    affine_path("compiled")
    got = _score(X, cells.var_names, method, "log2", refs, nan="omit")
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    used = got[[c for c in got.columns if "n_genes" in c]].to_numpy()
    assert (used < used.max()).any()  # some samples lost a NaN gene


@pytest.mark.parametrize(
    ("scale", "value", "message"),
    [
        (
            "linear",
            np.nan,
            r"NaN or infinite values in signature genes \(first: sample 'cell40', gene 'IFI27'",
        ),
        ("counts", np.nan, r"NaN or infinite counts"),
        ("counts", -3.0, r"negative values"),
        (
            "linear",
            -3.0,
            r"negative values on a linear scale \(first: sample 'cell40', gene 'IFI27'\)",
        ),
        ("log2", 70.0, r"the value 70 on the log2 scale \(sample 'cell40', gene 'IFI27'\)"),
    ],
)
def test_affine_kernel_errors_are_the_numpy_paths(cells, refs, affine_path, scale, value, message):
    """A bad value found by the compiled pass is reported as the numpy path words it."""
    X = _on_scale(cells.X, scale)
    col = int(np.flatnonzero(cells.var_names == "IFI27")[0])
    X = X.tolil()
    X[40, col] = value
    X[41, col] = value
    X = X.tocsr()
    msgs = []
    for which in ("numpy", "compiled"):
        affine_path(which)
        names = [f"cell{i}" for i in range(X.shape[0])]
        with pytest.raises(InputError, match=message) as e:
            _score(X, cells.var_names, "fc_sum", scale, refs, samples=names)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


def test_affine_many_signatures_equal_one_at_a_time(cells, refs, affine_path):
    """Forty signatures sharing genes in one pass: each equals its own score alone."""
    X = _on_scale(cells.X, "log1p")
    rng = np.random.default_rng(2)
    pool = list(cells.var_names[:200])
    sigs = {f"s{i}": sorted(rng.choice(pool, 8, replace=False).tolist()) for i in range(40)}
    affine_path("compiled")
    many = ifnscore.score(
        X, genes=cells.var_names, signature=sigs, method="mean_log", scale="log1p"
    )
    for name in ("s0", "s17", "s39"):
        one = ifnscore.score(
            X, genes=cells.var_names, signature={name: sigs[name]}, method="mean_log", scale="log1p"
        )
        np.testing.assert_array_equal(many[name, "score"].to_numpy(), one["score"].to_numpy())


def _unsorted(S, dup=False):
    """The same matrix with each row's columns stored in reverse order (and, with ``dup``,
    every stored value split into two entries of half the value: scipy sums them)."""
    S = sp.csr_matrix(S, copy=True)
    S.sum_duplicates()  # sorted first, then reversed
    data, indices = [], []
    indptr = [0]
    for i in range(S.shape[0]):
        a, b = S.indptr[i], S.indptr[i + 1]
        d, c = S.data[a:b][::-1], S.indices[a:b][::-1]
        if dup:
            d = np.repeat(d / 2, 2)
            c = np.repeat(c, 2)
        data.append(d)
        indices.append(c)
        indptr.append(indptr[-1] + d.size)
    U = sp.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), np.array(indptr)), shape=S.shape
    )
    assert not U.has_canonical_format
    return U


@pytest.mark.parametrize("dup", [False, True])
@pytest.mark.parametrize(("method", "options"), CASES)
def test_rank_kernel_unsorted_and_duplicate_columns(path, method, options, dup):
    X = np.round(_matrix(seed=6), 0)  # halves of whole numbers sum back exactly
    sets = _sets()
    path("numpy")
    want = _run(method, sp.csr_matrix(X), sets, **options)["score"]
    for which in ("compiled", "numpy"):
        path(which)
        got = _run(method, _unsorted(X, dup), sets, **options)["score"]
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dup", [False, True])
@pytest.mark.parametrize("method", AFFINE)
def test_affine_kernel_unsorted_and_duplicate_columns(cells, refs, affine_path, method, dup):
    X = _on_scale(cells.X, "linear")
    X.data = np.round(X.data)  # halves sum back exactly
    affine_path("numpy")
    want = _numbers(_score(X, cells.var_names, method, "linear", refs))
    for which in ("compiled", "numpy"):
        affine_path(which)
        got = _numbers(_score(_unsorted(X, dup), cells.var_names, method, "linear", refs))
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("scale", ["counts", "log2"])
@pytest.mark.parametrize("method", ["fc_sum", "z_mean", "mean_log"])
def test_affine_kernel_gene_with_two_columns(cells, refs, affine_path, method, scale):
    """IFI27 under two Ensembl IDs (ENSG00000165949, ENSG00000275214 in the shipped table):
    its linear values are summed, in column order, on both paths."""
    X = _on_scale(cells.X, scale)
    genes = list(cells.var_names)
    genes[genes.index("IFI27")] = "ENSG00000165949"
    genes[-1] = "ENSG00000275214"  # a column of no signature: now IFI27's second
    affine_path("numpy")
    want = _numbers(_score(X, genes, method, scale, refs))
    affine_path("compiled")
    got = _numbers(_score(X, genes, method, scale, refs))
    assert affine_path.passes == 1
    np.testing.assert_array_equal(got, want)
