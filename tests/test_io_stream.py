"""Streaming read of genes-as-rows tables: only signature rows kept, library sizes from the
same pass, and scores identical to reading the whole table (rtol 1e-12)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _iowriters import RICE6, counts_frame, write_delimited
from hypothesis import given
from hypothesis import strategies as st

import ifnscore
from ifnscore._io._stream import _fast_block, stream_gene_rows
from ifnscore._validation import LIBRARY_SIZE_KEY
from ifnscore.errors import InputError


@pytest.fixture
def df():
    return counts_frame(np.random.default_rng(3), n_samples=12, n_extra=200)


@pytest.mark.parametrize("kind", [None, "gzip", "zstd"])
def test_streamed_rows_and_library_sizes(tmp_path, df, kind):
    path = write_delimited(df, tmp_path, genes_as_rows=True, kind=kind)
    a = ifnscore.read(path, signature="rice6")
    assert list(a.var_names) == RICE6
    np.testing.assert_array_equal(a.X, df[RICE6].to_numpy(dtype=float))
    np.testing.assert_array_equal(a.obs[LIBRARY_SIZE_KEY], df.sum(axis=1).to_numpy(dtype=float))
    info = a.uns["ifnscore_read"]
    assert info["streamed"] is True
    assert info["n_genes_in_file"] == df.shape[1]


@pytest.mark.parametrize("method", ["fc_sum", "fc_median", "z_sum"])
def test_scores_equal_whole_table(tmp_path, df, method):
    path = write_delimited(df, tmp_path, genes_as_rows=True, kind="gzip")
    ref = ifnscore.calibrate(df.iloc[:6], signature="rice6", method=method)
    whole = ifnscore.score(df, reference=ref)
    a = ifnscore.read(path, signature="rice6")
    ifnscore.score(a, reference=ref)
    np.testing.assert_allclose(a.obs["ifnscore"].to_numpy(), whole["score"].to_numpy(), rtol=1e-12)
    # calibrating on streamed controls gives the same reference
    ref2 = ifnscore.calibrate(a[:6], signature="rice6", method=method)
    np.testing.assert_allclose(
        ref2.signatures["rice6"].control_scores, ref.signatures["rice6"].control_scores, rtol=1e-12
    )


def test_header_with_genes_means_samples_are_rows(tmp_path, df):
    path = write_delimited(df, tmp_path, genes_as_rows=False)
    a = ifnscore.read(path, signature="rice6")
    assert "streamed" not in a.uns["ifnscore_read"]
    assert a.shape == df.shape


def test_small_blocks_crlf_quotes_and_long_integers(tmp_path):
    rng = np.random.default_rng(5)
    genes = [*RICE6, *(f"G{i}" for i in range(40))]
    X = rng.integers(0, 10, size=(len(genes), 5)) * 10 ** rng.integers(0, 13, size=(len(genes), 5))
    frame = pd.DataFrame(X, index=genes, columns=[f"s{i}" for i in range(5)])
    text = (
        frame.to_csv(sep="\t", index_label="gene")
        .replace("\n", "\r\n")
        .replace("IFI27\t", '"IFI27"\t')
    )
    path = tmp_path / "t.tsv"
    path.write_text(text, newline="")
    for block, workers in ((37, 1), (200, 2), (1 << 16, 1), (1 << 16, 3)):
        s = stream_gene_rows(
            path, sep="\t", wanted=lambda g: g in RICE6, block_bytes=block, workers=workers
        )
        assert s.genes == RICE6
        np.testing.assert_array_equal(s.values, X[:6].astype(float))
        assert [int(v) for v in s.totals] == [int(c) for c in X.sum(axis=0)]


def test_decimal_blocks_fall_back_to_pandas(tmp_path, df):
    frac = df.astype(float)
    frac.iloc[:, 50] += 0.5  # one gene column with decimals: its block goes the pandas way
    path = write_delimited(frac, tmp_path, genes_as_rows=True)
    a = ifnscore.read(path, signature="rice6")
    np.testing.assert_allclose(a.obs[LIBRARY_SIZE_KEY], frac.sum(axis=1), rtol=1e-14)
    assert a.uns["ifnscore_read"]["all_integer"] is False


def test_stream_errors_name_file_and_line(tmp_path, df):
    path = write_delimited(df, tmp_path, genes_as_rows=True)
    lines = path.read_text().splitlines()
    lines[9] = lines[9].replace("\t", "\tabc\t", 1).rsplit("\t", 1)[0]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"non-numeric value 'abc'.*line 10"):
        ifnscore.read(path, signature="rice6")
    lines = write_delimited(df, tmp_path, genes_as_rows=True).read_text().splitlines()
    lines.append(lines[5])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="duplicated gene"):
        ifnscore.read(path, signature="rice6")


def test_no_signature_gene_in_rows(tmp_path):
    frame = pd.DataFrame(np.ones((3, 2), dtype=int), index=["A", "B", "C"], columns=["s1", "s2"])
    frame.to_csv(tmp_path / "x.tsv", sep="\t")
    with pytest.raises(InputError, match="none of the signature genes"):
        ifnscore.read(tmp_path / "x.tsv", signature="rice6")


def test_missing_value_gives_nan_library_size_and_a_clear_scoring_error(tmp_path, df):
    frame = df.T.astype(object)
    frame.iloc[100, 2] = ""
    path = tmp_path / "m.tsv"
    frame.to_csv(path, sep="\t")
    a = ifnscore.read(path, signature="rice6")
    assert np.isnan(a.obs[LIBRARY_SIZE_KEY].iloc[2])
    with pytest.raises(InputError, match="library sizes"):
        ifnscore.score(a, method="mean_log", scale="counts")


@given(
    st.integers(1, 6),
    st.integers(1, 5),
    st.data(),
)
def test_fast_kernel_equals_python_ints(n_lines, n_cols, data):
    """The SWAR integer kernel parses every width 1..18 digits exactly (Python ints as truth)."""
    values = [
        [data.draw(st.integers(0, 10**18 // 8 - 1)) for _ in range(n_cols)] for _ in range(n_lines)
    ]
    # row labels may hold anything but separators and line ends; lines may end in CRLF
    odd = st.sampled_from(["", "-1.5", " x", "é", "1e3", "NA", "\x7f"])
    names = [f"g{i}{data.draw(odd)}" for i in range(n_lines)]
    end = data.draw(st.sampled_from(["\n", "\r\n"]))
    block = "".join(
        f"{n}\t" + "\t".join(map(str, row)) + end for n, row in zip(names, values, strict=True)
    )
    out = _fast_block(block.encode(), 9, n_cols)
    assert out is not None
    ints, labels = out
    assert labels == [n.strip() for n in names]
    assert ints.sums().tolist() == [sum(col) for col in zip(*values, strict=True)]
    keep = sorted(set(data.draw(st.lists(st.integers(0, n_lines - 1)))))
    exact = ints.low[keep].astype(object)  # Python ints: no float rounding in the check
    for a, e in zip(ints.at.tolist(), ints.extra.tolist(), strict=True):
        r, c = divmod(a, n_cols)
        if r in keep:
            exact[keep.index(r), c] += e
    assert exact.tolist() == [values[r] for r in keep]
    np.testing.assert_array_equal(
        ints.rows(keep), np.array([values[r] for r in keep], dtype=float).reshape(len(keep), n_cols)
    )


@pytest.mark.parametrize(
    "token",
    [
        *("1.5", "12.0", "-3", "1e3", "", "NA", "+4", " 7", "0x1", "1:", "9/", "123456.5"),
        *("1234567,", "1\r5", "\r", "7 ", "\u0663", "12\x00", '"3"', "1234567890123456789"),
    ],
)
def test_fast_kernel_refuses_non_plain_integers(token):
    assert _fast_block(f"g\t12\t{token}\n".encode(), 9, 2) is None
    assert _fast_block(f"g\t{token}\t12\r\n".encode(), 9, 2) is None
    assert _fast_block(f"g\t12\t7\ng2\t{token}\t1\n".encode(), 9, 2) is None


@pytest.mark.parametrize("keying", ["ensembl_versioned", "entrez", "lower"])
def test_streamed_rows_found_by_any_identifier(tmp_path, example, keying):
    """Rows keyed by Ensembl (with version), NCBI Gene IDs or lower-case symbols are kept by
    the streaming filter and score exactly like the symbol-keyed table."""
    counts, samples = example
    ref = ifnscore.calibrate(counts[samples["group"] == "control"], signature="rice6")
    want = ifnscore.score(counts, reference=ref)["score"].to_numpy()
    renamed = counts.copy()
    if keying == "lower":
        renamed.columns = [g.lower() for g in counts.columns]
    else:
        to = "ensembl" if keying == "ensembl_versioned" else "entrez"
        mapped = ifnscore.map_genes(counts.columns, to=to)[to]
        keep = mapped.notna().to_numpy() & ~mapped.duplicated(keep=False).to_numpy()
        renamed = counts.loc[:, keep]
        ids = [str(x).split("|")[0] for x in mapped[keep]]
        renamed.columns = [f"{i}.7" if keying == "ensembl_versioned" else i for i in ids]
        want = ifnscore.score(renamed.set_axis(counts.columns[keep], axis=1), reference=ref)[
            "score"
        ].to_numpy()
    path = write_delimited(renamed, tmp_path, genes_as_rows=True, kind="gzip")
    a = ifnscore.read(path, signature="rice6")
    assert a.n_vars == 6
    ifnscore.score(a, reference=ref)
    np.testing.assert_allclose(a.obs["ifnscore"].to_numpy(), want, rtol=1e-12)
