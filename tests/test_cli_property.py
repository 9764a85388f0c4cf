"""Property: a random valid count table written in every supported format and orientation
scores the same through the command line as through the API on the original table (1e-12)."""

from __future__ import annotations

from io import StringIO

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from _iowriters import (
    RICE6,
    write_10x_h5,
    write_10x_mtx,
    write_count_files,
    write_delimited,
    write_excel,
    write_featurecounts,
    write_gct,
    write_parquet,
    write_salmon,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ifnscore
from ifnscore.cli import main


@st.composite
def tables(draw):
    n_samples = draw(st.integers(2, 6))
    n_extra = draw(st.integers(0, 6))
    genes = RICE6 + [f"EXTRA{i}" for i in range(n_extra)]
    X = draw(arrays(np.int64, (n_samples, len(genes)), elements=st.integers(0, 5000)))
    X[:, 0] += 1  # every library non-empty
    return pd.DataFrame(X, index=[f"S{i + 1}" for i in range(n_samples)], columns=genes)


def _writers(df, d):
    yield "tsv genes rows", write_delimited(df, d / "a", genes_as_rows=True)
    yield (
        "csv.gz samples rows",
        write_delimited(df, d / "b", genes_as_rows=False, sep=",", kind="gzip"),
    )
    yield "tsv.bz2 genes rows", write_delimited(df, d / "c", genes_as_rows=True, kind="bz2")
    yield (
        "csv.xz samples rows",
        write_delimited(df, d / "e", genes_as_rows=False, sep=",", kind="xz"),
    )
    yield "tsv.zst genes rows", write_delimited(df, d / "f", genes_as_rows=True, kind="zstd")
    yield "xlsx genes rows", write_excel(df, d / "x.xlsx", genes_as_rows=True)
    yield "xlsx samples rows", write_excel(df, d / "y.xlsx", genes_as_rows=False)
    yield "parquet genes rows", write_parquet(df, d / "g.parquet", genes_as_rows=True)
    yield "parquet samples rows", write_parquet(df, d / "h.parquet", genes_as_rows=False)
    h5ad = d / "x.h5ad"
    ad.AnnData(df.astype(np.float64)).write_h5ad(h5ad)
    yield "h5ad", h5ad
    yield "10x h5", write_10x_h5(df, d / "filtered_feature_bc_matrix.h5")
    yield "10x mtx", write_10x_mtx(df, d / "mtx")
    yield "gct 1.2", write_gct(df, d / "x12.gct", version="1.2")
    yield "gct 1.3", write_gct(df, d / "x13.gct", version="1.3")
    yield "featureCounts", write_featurecounts(df, d / "fc.txt")
    write_count_files(df, d / "htseq")
    yield "count files", d / "htseq"
    write_salmon(df, d / "salmon")
    yield "salmon", d / "salmon"


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(df=tables())
def test_cli_equals_api_for_every_format(tmp_path_factory, df, capsys):
    pytest.importorskip("openpyxl")
    pytest.importorskip("pyarrow")
    want = ifnscore.score(df, signature="rice6", method="mean_log", scale="counts", upper_limit=3.0)
    d = tmp_path_factory.mktemp("fmt")
    for sub in "abcef":
        (d / sub).mkdir()
    for label, path in _writers(df, d):
        capsys.readouterr()
        code = main(
            [
                "score",
                str(path),
                "--method",
                "mean_log",
                "--scale",
                "counts",
                "--upper-limit",
                "3",
                "-q",
            ]
        )
        captured = capsys.readouterr()
        assert code == 0, (label, captured.err)
        got = pd.read_csv(StringIO(captured.out), index_col=0)
        assert list(got.index.astype(str)) == list(df.index), label
        np.testing.assert_allclose(got["score"], want["score"], rtol=1e-12, err_msg=label)
        assert got["positive"].tolist() == want["positive"].tolist(), label
