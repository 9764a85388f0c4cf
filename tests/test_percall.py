"""Per-call costs that do not grow with the data (issue 14): what ifnscore makes itself is not
checked again, the user's indexes are reused, and the metadata pandas copies with every new
frame is shared, not deep-copied. Behaviour is tested here, never time."""

from __future__ import annotations

import copy
import json
import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import ifnscore
from ifnscore._frozen import ConstDict, ConstList, freeze


def _many(n_sets: int = 12, n: int = 60):
    """Counts, n cells x 200 genes (the first 40 cells express every gene: the controls)."""
    rng = np.random.default_rng(3)
    genes = pd.Index([f"G{i}" for i in range(200)])
    X = sp.random(n, 200, density=0.3, format="lil", random_state=1, dtype=np.float64)
    X[:40] = rng.poisson(5, (40, 200)) + 1
    X = X.tocsr()
    X.data = np.round(X.data * 50) + 1
    sigs = {f"s{j}": list(genes[rng.choice(200, 10, replace=False)]) for j in range(n_sets)}
    return X, genes, sigs


def test_const_containers_read_like_lists_and_dicts_and_refuse_changes():
    m = freeze({"genes": ["A", "B"], "rec": [{"gene": "A", "found": True}], "t": ("x",)})
    assert isinstance(m, dict)
    assert isinstance(m["genes"], list)
    assert m == {"genes": ["A", "B"], "rec": [{"gene": "A", "found": True}], "t": ["x"]}
    assert json.loads(json.dumps(m)) == m
    assert pickle.loads(pickle.dumps(m)) == m
    assert type(pickle.loads(pickle.dumps(m["genes"]))) is ConstList
    assert copy.deepcopy(m) is m
    assert copy.copy(m["genes"]) is m["genes"]
    for change in (
        lambda: m["genes"].append("C"),
        lambda: m["genes"].__setitem__(0, "Z"),
        lambda: m["rec"][0].__setitem__("gene", "Z"),
        lambda: m.update(x=1),
        lambda: m.pop("genes"),
    ):
        with pytest.raises(TypeError, match="read-only"):
            change()
    assert m["genes"] == ["A", "B"]
    assert [*list(m["genes"]), "C"] == ["A", "B", "C"]  # a copy is a plain, editable list
    d = dict(m["rec"][0])
    d["gene"] = "Z"
    assert m["rec"][0]["gene"] == "A"
    assert type(ConstDict(d)) is ConstDict


def test_column_access_shares_the_match_records_instead_of_copying_them():
    X, genes, sigs = _many()
    res = ifnscore.score(X, genes=genes, rows="samples", signature=sigs, method="mean_log")
    meta = res.attrs["ifnscore"]["signatures"]
    sub = res["s3"]  # pandas deep-copies attrs into every new frame
    got = sub.attrs["ifnscore"]["signatures"]
    assert got == meta
    assert got["s0"]["matches"] is meta["s0"]["matches"]  # shared (read-only), not copied
    assert got["s0"]["genes_used"] is meta["s0"]["genes_used"]
    # the per-signature dicts stay the user's to edit, separately in each frame
    got["s0"]["upper_limit"] = 1.0
    assert meta["s0"]["upper_limit"] is None
    # the records say what they said before (plain values, in the documented layout)
    rec = meta["s0"]["matches"][0]
    assert set(rec) == {"gene", "found", "via", "columns"}
    assert rec["found"] is True


def test_default_sample_names_are_row_numbers_and_given_names_are_kept():
    X, genes, sigs = _many(n_sets=1)
    res = ifnscore.score(X, genes=genes, rows="samples", signature=sigs, method="mean_log")
    assert isinstance(res.index, pd.RangeIndex)
    assert res.index.equals(pd.RangeIndex(X.shape[0]))
    assert res.index.name == "sample"
    for container in (X.toarray(), X.tocsc()):
        other = ifnscore.score(
            container, genes=genes, rows="samples", signature=sigs, method="mean_log"
        )
        assert isinstance(other.index, pd.RangeIndex)
        assert np.array_equal(other["score"].to_numpy(), res["score"].to_numpy())
    names = pd.Index([f"cell-{i}" for i in range(X.shape[0])], name="barcode")
    named = ifnscore.score(
        X, genes=genes, samples=names, rows="samples", signature=sigs, method="mean_log"
    )
    assert named.index.tolist() == names.tolist()
    assert names.name == "barcode"  # the user's index is not renamed
    with pytest.raises(ifnscore.errors.InputError, match="duplicate sample names"):
        ifnscore.score(
            X,
            genes=genes,
            samples=["a"] * X.shape[0],
            rows="samples",
            signature=sigs,
            method="mean_log",
        )


def test_the_gene_index_is_reused_so_matching_is_built_once_per_index():
    from ifnscore._genes import _match

    X, genes, sigs = _many(n_sets=3)
    ifnscore.score(X, genes=genes, rows="samples", signature=sigs, method="mean_log")
    first = _match._last
    assert first is not None
    assert first[0] is genes
    ifnscore.score(X, genes=genes, rows="samples", signature=sigs, method="mean_log")
    assert _match._last is first  # the same index: the name lookup was not rebuilt
    # a list of names (not an Index) still works, and gives the same numbers
    a = ifnscore.score(X, genes=list(genes), rows="samples", signature=sigs, method="mean_log")
    b = ifnscore.score(X, genes=genes, rows="samples", signature=sigs, method="mean_log")
    pd.testing.assert_frame_equal(a, b)


def test_many_signatures_table_equals_one_signature_at_a_time():
    X, genes, sigs = _many()
    ref = ifnscore.calibrate(
        pd.DataFrame(X[:40].toarray(), columns=genes), signature=sigs, method="fc_sum"
    )
    together = ifnscore.score(X, genes=genes, rows="samples", reference=ref)
    assert list(together.columns.names) == ["signature", "field"]
    assert together.columns.get_level_values(0).unique().tolist() == list(sigs)
    for name in sigs:
        alone = ifnscore.score(
            X, genes=genes, rows="samples", reference=ref, signature={name: sigs[name]}
        )
        part = together[name]
        assert list(part.columns) == list(alone.columns)
        for col in alone.columns:
            assert part[col].dtype == alone[col].dtype, col
            assert np.array_equal(part[col].to_numpy(), alone[col].to_numpy()), col


@pytest.mark.parametrize("numba", ["1", "0"])
def test_row_totals_identical_dense_csr_csc_with_and_without_the_compiled_loops(monkeypatch, numba):
    """The dense (8 rows side by side) and CSC (column order) totals loops add each row's
    values in the same order as the CSR totals: the same floats, bit for bit."""
    from ifnscore import _gather

    monkeypatch.setenv("IFNSCORE_NUMBA", numba)
    monkeypatch.setattr(_gather, "NUMBA_MIN_NNZ", 1)  # the compiled loops at any size
    rng = np.random.default_rng(11)
    for dtype in (np.float32, np.float64, np.int64):
        D = (rng.poisson(0.4, (37, 301)) * rng.lognormal(2, 2, (37, 301))).astype(dtype)
        if dtype != np.int64:
            D[3, 5] = np.nan
            D[4] = -0.0
        R = sp.csr_matrix(D)
        want = np.array([sum(float(x) for x in row if x != 0 or x != x) for row in D])
        got_csr = _gather.row_totals(R)
        np.testing.assert_array_equal(got_csr, want)
        for other in (D, R.tocsc(), np.asfortranarray(D)):
            np.testing.assert_array_equal(_gather.row_totals(other), got_csr)
