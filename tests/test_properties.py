"""Hypothesis properties of score() and Reference (small examples; profile in conftest.py).

Tolerance for reorderings: rtol 1e-12 (the arithmetic per sample is the same; only BLAS
blocking may differ). Monotonicity is checked on linear and log scales; on raw counts it
does not hold by construction (raising one gene's count raises the library size and lowers
every other gene's CPM), which is why it is stated on the normalised scale.
"""

import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ifnscore
from ifnscore._reference import SCHEMA_VERSION

RTOL = 1e-12
METHODS = ["fc_sum", "fc_median", "fc_geomean", "fc_mean", "z_sum", "z_mean", "mean_log"]
RICE6 = list(ifnscore.get_signature("rice6").genes)
OTHER = ["ACTB", "GAPDH", "B2M"]
GENES = RICE6 + OTHER

values = st.floats(min_value=0.0, max_value=1e4, allow_nan=False, width=64)


@st.composite
def cohorts(draw, min_rows=1, max_rows=8):
    n = draw(st.integers(min_rows, max_rows))
    X = draw(arrays(np.float64, (n, len(GENES)), elements=values))
    return X


@pytest.fixture(scope="module")
def refs():
    rng = np.random.default_rng(5)
    ctrl = rng.lognormal(3.0, 0.6, size=(12, len(GENES)))
    return {m: ifnscore.calibrate(ctrl, genes=GENES, scale="linear", method=m) for m in METHODS}


def _scores(X, ref, genes=GENES, samples=None):
    res = ifnscore.score(X, genes=genes, samples=samples, scale="linear", reference=ref)
    return res["score"]


method_st = st.sampled_from(METHODS)
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(X=cohorts(min_rows=2), method=method_st, data=st.data())
def test_sample_order_invariance(refs, X, method, data):
    names = [f"s{i}" for i in range(len(X))]
    perm = data.draw(st.permutations(range(len(X))))
    a = _scores(X, refs[method], samples=names)
    b = _scores(X[perm], refs[method], samples=[names[i] for i in perm])
    np.testing.assert_allclose(b.loc[a.index], a, rtol=RTOL, atol=1e-300)
    assert list(b.index) == [names[i] for i in perm]


@SETTINGS
@given(X=cohorts(), method=method_st, data=st.data())
def test_gene_order_invariance(refs, X, method, data):
    perm = data.draw(st.permutations(range(len(GENES))))
    a = _scores(X, refs[method])
    b = _scores(X[:, perm], refs[method], genes=[GENES[i] for i in perm])
    np.testing.assert_allclose(b, a, rtol=RTOL, atol=1e-300)


@pytest.fixture(scope="module")
def refs_counts():
    rng = np.random.default_rng(6)
    ctrl = rng.negative_binomial(5, 0.05, size=(12, len(GENES)))
    return {m: ifnscore.calibrate(ctrl, genes=GENES, scale="counts", method=m) for m in METHODS}


@SETTINGS
@given(X=cohorts(min_rows=2), method=method_st, counts=st.booleans(), data=st.data())
def test_batch_independence(refs, refs_counts, X, method, counts, data):
    names = [f"s{i}" for i in range(len(X))]
    subset = data.draw(
        st.lists(st.integers(0, len(X) - 1), min_size=1, max_size=len(X), unique=True)
    )
    scale, ref = "linear", refs[method]
    if counts:  # counts -> CPM per sample: still independent of the other samples
        X = np.round(X)
        X[:, -1] += 1  # no empty library
        scale, ref = "counts", refs_counts[method]
    kw = {"genes": GENES, "scale": scale, "reference": ref}
    whole = ifnscore.score(X, samples=names, **kw)["score"]
    part = ifnscore.score(X[subset], samples=[names[i] for i in subset], **kw)["score"]
    np.testing.assert_allclose(part, whole.iloc[subset], rtol=RTOL, atol=1e-300)


@SETTINGS
@given(
    X=cohorts(),
    method=method_st,
    scale=st.sampled_from(["linear", "log2"]),
    gene=st.sampled_from(RICE6),
    factor=st.floats(1.0, 100.0),
    add=st.floats(0.0, 100.0),
)
def test_monotone_in_each_signature_gene(X, method, scale, gene, factor, add):
    rng = np.random.default_rng(1)
    ctrl = rng.lognormal(3.0, 0.6, size=(8, len(GENES)))
    j = GENES.index(gene)
    Y = X.copy()
    Y[:, j] = Y[:, j] * factor + add  # raised on the linear scale
    if scale == "log2":
        ctrl, X, Y = np.log2(ctrl + 1), np.log2(X + 1), np.log2(Y + 1)
    ref = None
    if method != "mean_log":
        ref = ifnscore.calibrate(ctrl, genes=GENES, scale=scale, method=method)
    kw = {"genes": GENES, "scale": scale, "method": method, "reference": ref}
    before = ifnscore.score(X, **kw)["score"].to_numpy()
    after = ifnscore.score(Y, **kw)["score"].to_numpy()
    assert np.all(after >= before - 1e-12 * np.abs(before)), (before, after)


@SETTINGS
@given(
    ctrl=cohorts(min_rows=3, max_rows=8).map(lambda X: X + 1.0),  # medians > 0
    method=method_st,
    rule=st.sampled_from(["mean+2sd", "mean+3sd", "p90", "p97.5"]),
    limit=st.sampled_from([None, "controls", 7.5]),
)
def test_reference_json_round_trip(tmp_path_factory, ctrl, method, rule, limit):
    if method.startswith("z_"):  # z needs spread in every gene's controls
        ctrl = ctrl + np.arange(len(ctrl))[:, None]
    try:
        ref = ifnscore.calibrate(
            ctrl, genes=GENES, scale="linear", method=method, rule=rule, upper_limit=limit
        )
    except ifnscore.errors.InputError as exc:
        # refusals that are right for such controls (tested in test_limits_trust.py): a
        # percentile beyond the data, a limit not above the controls' median
        expected = re.search(
            r"lies beyond the \d+ controls|not above the controls' median", str(exc)
        )
        if expected is None:
            raise
        assume(False)
    path = ref.save(tmp_path_factory.mktemp("ref") / "ref.json")
    back = ifnscore.Reference.load(path)
    assert back.to_dict() == ref.to_dict()
    assert back == ref
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION
    a = ifnscore.score(ctrl, genes=GENES, scale="linear", reference=ref)
    b = ifnscore.score(ctrl, genes=GENES, scale="linear", reference=back)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    np.testing.assert_array_equal(a["score"], ref.signatures["rice6"].control_scores)


@SETTINGS
@given(
    X=cohorts(),
    dtype=st.sampled_from([np.float16, np.float32, np.float64, np.int32, np.int64, np.uint8]),
    method=method_st,
)
def test_output_is_float64_whatever_the_input_dtype(refs, X, dtype, method):
    data = np.clip(X, 0, 200).astype(dtype)
    res = ifnscore.score(data, genes=GENES, scale="linear", reference=refs[method])
    assert res["score"].dtype == np.float64
    assert res["n_genes"].dtype == np.int64
    if "positive" in res:
        assert res["positive"].dtype == bool
