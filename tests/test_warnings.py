"""Warnings are attributed to the caller's line, not to ifnscore's internals."""

import warnings

import pytest

import ifnscore
from ifnscore.errors import MissingGenesWarning


def test_missing_gene_warning_points_at_user_code(example):
    counts, _ = example
    with pytest.warns(MissingGenesWarning) as rec:
        ifnscore.score(counts.drop(columns=["IFI27"]), method="mean_log")
    assert rec[0].filename == __file__


def test_no_warning_when_all_genes_present(example):
    counts, _ = example
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ifnscore.score(counts, method="mean_log")
