"""ifnscore's gsva, ssgsea, zscore and plage equal R/Bioconductor GSVA's own numbers.

The goldens in ``tests/data/gsva_r/golden_*.csv`` were written by
``tests/data/gsva_r/make_goldens.R`` with **GSVA 1.46.0** (R 4.2.2, Debian bookworm's
``r-bioc-gsva``; ``sessionInfo.txt`` there), through the API of that version,
``gsva(expr, sets, method=..., kcdf=..., mx.diff=..., abs.ranking=..., tau=...,
ssgsea.norm=...)``. Each holds 17 significant digits, so it is R's double exactly. The inputs
are the CSVs next to them: 40 genes x 12 samples of log2 expression (tie-free within every
sample and within every gene), the same as integer counts for ``kcdf="Poisson"``, a copy with
one constant gene (TBP), and four gene sets of 6-15 genes, one naming OAS1, which the matrix
lacks.

Tolerance: 1e-6 absolute on every score (the brief's bar). The agreement seen when the goldens
were made is about 1e-14; the scores are of order 0.1-1, and two option sets of one method
differ by far more than 1e-6 (``test_goldens_tell_the_options_apart``), so a wrong option
cannot pass. PLAGE's singular vector has an arbitrary sign (GSVA returns LAPACK's); it is
compared up to one sign per gene set, and ifnscore's documented sign (positive correlation
with the set's mean z-score) is checked on its own.

Option names: GSVA 1.46 ``kcdf="Gaussian"/"Poisson"/"none"`` are ifnscore's
``kcdf="gaussian"/"poisson"/"ecdf"``; ``mx.diff`` (>= 1.50: ``maxDiff``) is ``max_diff``;
``abs.ranking`` (``absRanking``) is ``abs_ranking``; ``tau`` is ``tau`` for gsva and
``alpha`` for ssgsea (GSVA 1.46 passes ``tau`` on to ssgsea as its alpha; >= 1.50 calls it
``alpha``); ``ssgsea.norm`` (``normalize``) is ``normalize``.

Where GSVA versions differ (details in tests/data/gsva_r/README.md): the default ``kcdf`` is
"Gaussian" in 1.46 and "auto" from 2.0 (Poisson only for R integer storage, "none" from 200
samples); ssgsea normalises by default in every version, ifnscore does not
(``normalize=False``); 1.46 treats genes with SD < 1e-10 as constant, >= 1.52 (and ifnscore)
compares minimum and maximum. On tie-free data the rank rule is the same in all versions
(1.46 ``order(decreasing=TRUE)``, >= 2.0 ``colRanks(ties.method="last")``); the
``kcdf="none"`` goldens do have ties (the empirical CDF takes values k/12), broken by gene
order the way both GSVA versions do.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ifnscore
from ifnscore.errors import MissingGenesWarning

DATA = Path(__file__).parent / "data" / "gsva_r"
TOL = 1e-6

INPUTS = {
    "log2": ("expr_log2.csv", "log2"),
    "constant": ("expr_log2_constant.csv", "log2"),
    "counts": ("counts.csv", "counts"),
}

# golden name -> (input, ifnscore method, ifnscore options); the R call is in make_goldens.R
CASES = {
    "gsva_gaussian": ("log2", "gsva", {"kcdf": "gaussian"}),
    "gsva_gaussian_nomaxdiff": ("log2", "gsva", {"kcdf": "gaussian", "max_diff": False}),
    "gsva_gaussian_absranking": ("log2", "gsva", {"kcdf": "gaussian", "abs_ranking": True}),
    "gsva_gaussian_tau0.5": ("log2", "gsva", {"kcdf": "gaussian", "tau": 0.5}),
    "gsva_poisson": ("counts", "gsva", {"kcdf": "poisson"}),
    "gsva_poisson_nomaxdiff": ("counts", "gsva", {"kcdf": "poisson", "max_diff": False}),
    "gsva_none": ("log2", "gsva", {"kcdf": "ecdf"}),
    "gsva_none_nomaxdiff": ("log2", "gsva", {"kcdf": "ecdf", "max_diff": False}),
    "ssgsea_norm": ("log2", "ssgsea", {"normalize": True}),
    "ssgsea_nonorm": ("log2", "ssgsea", {"normalize": False}),
    "ssgsea_nonorm_alpha1": ("log2", "ssgsea", {"normalize": False, "alpha": 1.0}),
    "zscore": ("log2", "zscore", {}),
    "plage": ("log2", "plage", {}),
    "constant_gsva_gaussian": ("constant", "gsva", {"kcdf": "gaussian"}),
    "constant_ssgsea_nonorm": ("constant", "ssgsea", {"normalize": False}),
    "constant_zscore": ("constant", "zscore", {}),
    "constant_plage": ("constant", "plage", {}),
}


def genes_by_samples(name):
    frame = pd.read_csv(DATA / INPUTS[name][0], index_col="gene")
    return frame


def gene_sets():
    """The sets in file order (dict order is the result's column order)."""
    long = pd.read_csv(DATA / "gene_sets.csv")
    return {s: list(long.loc[long["set"] == s, "gene"]) for s in long["set"].unique()}


def golden(name):
    return pd.read_csv(DATA / f"golden_{name}.csv", index_col="set")


def ours(input_name, method, options, container="frame"):
    """ifnscore's scores as gene sets x samples, like GSVA's output."""
    frame = genes_by_samples(input_name)
    scale = INPUTS[input_name][1]
    if container == "frame":
        args, kw = (frame,), {"rows": "genes"}
    else:  # samples x genes numpy array with the names passed alongside
        args = (frame.to_numpy().T.copy(),)
        kw = {"genes": list(frame.index), "samples": list(frame.columns), "rows": "samples"}
    with pytest.warns(MissingGenesWarning, match=r"'isg15': 1 of 15 genes .*\['OAS1'\]"):
        res = ifnscore.score(*args, gene_sets(), method=method, scale=scale, **kw, **options)
    return res.xs("score", axis=1, level=1).T


def aligned_plage(mine, theirs, input_name):
    """R's PLAGE vectors with the sign flipped per set where ifnscore's differs, after
    checking that ifnscore's sign is the documented one."""
    frame = genes_by_samples(input_name)
    X = frame.to_numpy().T  # samples x genes
    sd = X.std(axis=0, ddof=1)
    Z = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    out = theirs.copy()
    for s, genes in gene_sets().items():
        cols = [
            frame.index.get_loc(g)
            for g in genes
            if g in frame.index and sd[frame.index.get_loc(g)] > 0
        ]
        assert mine.loc[s].to_numpy() @ Z[:, cols].mean(axis=1) > 0, s  # documented sign
        if mine.loc[s].to_numpy() @ theirs.loc[s].to_numpy() < 0:
            out.loc[s] = -theirs.loc[s]
    return out


@pytest.mark.parametrize("container", ["frame", "array"])
@pytest.mark.parametrize("name", list(CASES))
def test_equals_r_gsva(name, container):
    """Every score within 1e-6 (absolute) of GSVA 1.46.0's."""
    input_name, method, options = CASES[name]
    theirs = golden(name)
    mine = ours(input_name, method, options, container).loc[theirs.index, theirs.columns]
    assert np.isfinite(mine.to_numpy()).all()
    if method == "plage":
        theirs = aligned_plage(mine, theirs, input_name)
    np.testing.assert_allclose(mine.to_numpy(), theirs.to_numpy(), rtol=0, atol=TOL)


def test_every_golden_is_tested():
    """A golden the R script writes must have a case here (none left unchecked)."""
    on_disk = {p.name[len("golden_") : -len(".csv")] for p in DATA.glob("golden_*.csv")}
    assert on_disk == set(CASES)
    for name in CASES:
        g = golden(name)
        assert list(g.index) == list(gene_sets())  # rice6, isg15, housekeeping, mixed
        assert list(g.columns) == [f"S{i:02d}" for i in range(1, 13)]
        assert np.isfinite(g.to_numpy()).all()


def test_goldens_tell_the_options_apart():
    """Two option sets of one method on one input differ by far more than the tolerance, so
    passing the wrong option (or ignoring one) fails test_equals_r_gsva."""
    names = list(CASES)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if CASES[a][:2] == CASES[b][:2]:
                gap = np.abs(golden(a).to_numpy() - golden(b).to_numpy()).max()
                assert gap > 1e3 * TOL, (a, b, gap)


def test_inputs_are_what_the_readme_says():
    E = genes_by_samples("log2")
    C = genes_by_samples("counts")
    K = genes_by_samples("constant")
    assert E.shape == C.shape == K.shape == (40, 12)
    assert (E.index == C.index).all()
    assert (E.columns == C.columns).all()
    # tie-free: no two genes equal within a sample, no two samples equal within a gene
    assert all(E[c].is_unique for c in E.columns)
    assert all(E.loc[g].is_unique for g in E.index)
    assert (C.to_numpy() == np.round(C.to_numpy())).all()
    assert (C.to_numpy() > 0).all()
    assert all(C.loc[g].is_unique for g in C.index)
    # the constant copy differs from expr_log2.csv only in TBP, set to 6.54321 everywhere
    assert (K.loc["TBP"] == 6.54321).all()
    assert K.drop(index="TBP").equals(E.drop(index="TBP"))
    sets = gene_sets()
    assert [len(v) for v in sets.values()] == [6, 15, 8, 10]
    assert [g for v in sets.values() for g in v if g not in E.index] == ["OAS1"]
    assert "TBP" in sets["housekeeping"]


def test_defaults_against_gsva_defaults():
    """ifnscore's defaults next to GSVA's: gsva ``kcdf="auto"`` picks the Gaussian kernel for
    log2 data (GSVA 1.46's default) and the Poisson kernel for integer counts (GSVA 1.46 would
    need kcdf="Poisson"); ssgsea does not normalise unless asked (GSVA always does by default:
    its default is golden_ssgsea_norm, not golden_ssgsea_nonorm)."""
    for name, (input_name, method) in {
        "gsva_gaussian": ("log2", "gsva"),
        "gsva_poisson": ("counts", "gsva"),
        "ssgsea_nonorm": ("log2", "ssgsea"),
        "zscore": ("log2", "zscore"),
    }.items():
        theirs = golden(name)
        mine = ours(input_name, method, {}).loc[theirs.index, theirs.columns]
        np.testing.assert_allclose(mine.to_numpy(), theirs.to_numpy(), rtol=0, atol=TOL)
    gap = np.abs(golden("ssgsea_norm").to_numpy() - golden("ssgsea_nonorm").to_numpy()).max()
    assert gap > 0.1  # so the ssgsea default above could not have matched the other golden


@pytest.mark.parametrize("method", ["zscore", "plage"])
def test_constant_gene_is_dropped_even_when_its_float_sd_is_not_zero(method):
    """TBP is 6.54321 in every sample of expr_log2_constant.csv (its row, read by eye), but the
    float64 mean of twelve 6.54321 is 6.543210000000001, so its SD comes out near 1e-15, not 0.
    GSVA drops it (1.46: SD < 1e-10; >= 1.52: minimum == maximum); so must ifnscore. Kept, its
    "z-score" is a constant -sqrt(11/12): zscore adds it to every sample, and for plage its
    column ties (norm sqrt(11)) with the one real gene, leaving the vector to LAPACK's choice.
    Hand computation for the set {TBP, ACTB}: zscore = z(ACTB) (k = 1; GSVA 1.46 gives exactly
    this, checked in R), plage = z(ACTB) / ||z(ACTB)|| (GSVA 1.46's plage fails on a set left
    with one gene). Tolerance 1e-12 absolute."""
    K = genes_by_samples("constant")
    assert K.loc["TBP"].std(ddof=1) != 0.0  # the premise: floating point leaves a residue
    a = K.loc["ACTB"].to_numpy()
    z = (a - a.mean()) / a.std(ddof=1)
    expected = z if method == "zscore" else z / np.linalg.norm(z)
    res = ifnscore.score(K, ["TBP", "ACTB"], method=method, rows="genes", scale="log2")
    np.testing.assert_allclose(res["score"].to_numpy(), expected, rtol=0, atol=1e-12)
