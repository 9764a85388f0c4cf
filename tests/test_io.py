"""ifnscore.read: every format read back equals the matrix written (exact for integers,
1e-12 relative for floats written with repr), with the right orientation and metadata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from _iowriters import (
    RICE6,
    counts_frame,
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

import ifnscore
from ifnscore.errors import InputError


@pytest.fixture
def df():
    return counts_frame(np.random.default_rng(7))


def _same(adata, df, *, rtol=0.0):
    X = adata.X.toarray() if sp.issparse(adata.X) else np.asarray(adata.X)
    assert list(adata.obs_names) == list(df.index)
    assert list(adata.var_names) == list(df.columns)
    np.testing.assert_allclose(X, df.to_numpy(dtype=float), rtol=rtol, atol=0)


@pytest.mark.parametrize("kind", [None, "gzip", "bz2", "xz", "zstd"])
@pytest.mark.parametrize("genes_as_rows", [True, False])
@pytest.mark.parametrize("sep", ["\t", ","])
def test_delimited_round_trip(tmp_path, df, kind, genes_as_rows, sep):
    path = write_delimited(df, tmp_path, genes_as_rows=genes_as_rows, sep=sep, kind=kind)
    adata = ifnscore.read(path)
    _same(adata, df)
    assert adata.uns["ifnscore_read"]["rows"] == ("genes" if genes_as_rows else "samples")


def test_txt_separator_from_header_and_override(tmp_path, df):
    path = write_delimited(df, tmp_path, genes_as_rows=True, sep="\t", ext=".txt")
    _same(ifnscore.read(path), df)
    wrong = ifnscore.read(path, sep="\t", rows="genes")
    _same(wrong, df)


def test_rows_override_when_labels_are_not_gene_like(tmp_path):
    df = pd.DataFrame([[1, 2], [3, 4]], index=["a", "b"], columns=["c", "d"])
    path = tmp_path / "t.csv"
    df.to_csv(path)
    with pytest.raises(InputError, match="rows='samples' or rows='genes'"):
        ifnscore.read(path)
    a = ifnscore.read(path, rows="genes")
    assert list(a.obs_names) == ["c", "d"]
    np.testing.assert_array_equal(a.X, df.T.to_numpy())


@pytest.mark.parametrize("genes_as_rows", [True, False])
def test_excel(tmp_path, df, genes_as_rows):
    pytest.importorskip("openpyxl")
    path = write_excel(df, tmp_path / "expr.xlsx", genes_as_rows=genes_as_rows)
    _same(ifnscore.read(path), df)
    _same(ifnscore.read(path, sheet="expr"), df)
    with pytest.raises(InputError, match="nope"):
        ifnscore.read(path, sheet="nope")


@pytest.mark.parametrize("genes_as_rows", [True, False])
def test_parquet(tmp_path, df, genes_as_rows):
    pytest.importorskip("pyarrow")
    path = write_parquet(df, tmp_path / "expr.parquet", genes_as_rows=genes_as_rows)
    _same(ifnscore.read(path), df)


@pytest.mark.parametrize("backed", [False, True])
def test_h5ad(tmp_path, df, backed):
    import anndata as ad

    path = tmp_path / "x.h5ad"
    ad.AnnData(df.astype(np.float32)).write_h5ad(path)
    a = ifnscore.read(path, backed=backed)
    assert a.isbacked == backed
    X = a.X[:] if backed else a.X
    np.testing.assert_array_equal(np.asarray(X), df.to_numpy(dtype=np.float32))


def test_10x_h5_keeps_gene_expression_only(tmp_path, df):
    a = ifnscore.read(
        write_10x_h5(df, tmp_path / "filtered_feature_bc_matrix.h5", extra_feature=True)
    )
    assert sp.issparse(a.X)
    _same(a, df)
    assert a.uns["ifnscore_read"]["features_dropped"] == 1
    assert a.var["gene_ids"].iloc[0] == "ENSG00000000000"
    b = ifnscore.read(tmp_path / "filtered_feature_bc_matrix.h5", var_names="gene_ids")
    assert b.var_names[0] == "ENSG00000000000"


def test_10x_mtx_folder(tmp_path, df):
    folder = write_10x_mtx(df, tmp_path / "filtered_feature_bc_matrix")
    _same(ifnscore.read(folder), df)


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_gct(tmp_path, version):
    df = counts_frame(np.random.default_rng(1)) / 3.0  # non-integers: repr round-trips exactly
    a = ifnscore.read(write_gct(df, tmp_path / "x.gct", version=version))
    _same(a, df)
    if version == "1.3":
        assert list(a.obs["group"][:2]) == ["g0", "g1"]
        assert a.var["symbol"].iloc[0] == "ifi27"
    else:
        assert a.var["description"].iloc[0] == "IFI27 desc"


@pytest.mark.parametrize("quantity", ["NumReads", "TPM"])
def test_salmon_folder(tmp_path, df, quantity):
    write_salmon(df, tmp_path / "quant")
    a = ifnscore.read(tmp_path / "quant", quantity=quantity)
    expected = df if quantity == "NumReads" else df.div(df.sum(axis=1), axis=0) * 1e6
    _same(a, expected, rtol=1e-12)
    assert a.uns["ifnscore_read"]["scale"] == ("counts" if quantity == "NumReads" else "linear")


def test_salmon_tx2gene_sums_transcripts(tmp_path):
    tx = pd.DataFrame([[10, 5, 7], [1, 2, 3]], index=["A", "B"], columns=["T1", "T2", "T3"])
    paths = write_salmon(tx, tmp_path / "q")
    (tmp_path / "t2g.tsv").write_text("T1\tIFI27\nT2\tIFI27\nT3\tISG15\n")
    a = ifnscore.read(paths, tx2gene=tmp_path / "t2g.tsv")
    np.testing.assert_array_equal(a.X, [[15, 7], [3, 3]])
    assert list(a.var_names) == ["IFI27", "ISG15"]


def test_featurecounts(tmp_path, df):
    a = ifnscore.read(write_featurecounts(df, tmp_path / "counts.txt"))
    _same(a, df)
    assert a.var["Length"].iloc[0] == 1900
    assert a.uns["ifnscore_read"]["format"] == "featurecounts"


def test_count_files_folder_and_list(tmp_path, df):
    paths = write_count_files(df, tmp_path / "htseq")
    a = ifnscore.read(tmp_path / "htseq")
    _same(a, df)
    assert a.uns["ifnscore_read"]["htseq_summary"]["__no_feature"]["S1"] == 12
    b = ifnscore.read(paths[:3])
    _same(b, df.iloc[:3])


def test_count_files_with_header_and_shuffled_order(tmp_path, df):
    d = tmp_path / "geo"
    d.mkdir()
    for i, s in enumerate(df.index):
        row = df.loc[s].sample(frac=1.0, random_state=i)
        (d / f"{s}.txt").write_text(
            "gene\tcount\n" + "".join(f"{g}\t{v}\n" for g, v in row.items())
        )
    _same(
        ifnscore.read(d),
        df.loc[
            :,
            sorted(df.columns, key=list(df.loc["S1"].sample(frac=1.0, random_state=0).index).index),
        ],
    )


def test_options_checked_per_format(tmp_path, df):
    path = write_delimited(df, tmp_path, genes_as_rows=True)
    with pytest.raises(InputError, match="do not apply to format 'delimited'"):
        ifnscore.read(path, quantity="TPM")
    with pytest.raises(InputError, match="format='nope' is not known"):
        ifnscore.read(path, format="nope")


def test_read_does_not_need_rice6_genes_when_rows_given(tmp_path):
    df = pd.DataFrame(np.arange(6).reshape(2, 3) + 1, index=["x", "y"], columns=["p", "q", "r"])
    df.to_csv(tmp_path / "a.csv")
    a = ifnscore.read(tmp_path / "a.csv", rows="samples")
    assert a.shape == (2, 3)
    assert RICE6[0] not in a.var_names
