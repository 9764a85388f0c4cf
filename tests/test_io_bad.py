"""Bad input: each case gives one clear error naming the file (and line/sample where known),
exit code 1 on the command line, and no output file written (an existing one is untouched)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from _iowriters import RICE6, compress, counts_frame, rcc_text, write_delimited

import ifnscore
from ifnscore.cli import main
from ifnscore.errors import InputError


@pytest.fixture
def df():
    return counts_frame(np.random.default_rng(11), n_samples=6, n_extra=20)


def _text(df, genes_as_rows=True):
    return (df.T if genes_as_rows else df).to_csv(sep="\t", index_label="id").encode()


def _cases(tmp_path, df):
    """(path, extra CLI args, regex the message must match)."""
    good = _text(df)
    cases = []

    def add(name, data, match, args=()):
        p = tmp_path / name
        p.write_bytes(data)
        cases.append((p, list(args), match))

    full = gzip.compress(good)
    add("truncated.tsv.gz", full[: len(full) // 2], "truncated or corrupt")
    add(
        "corrupt.tsv.gz",
        full[:20] + bytes(b ^ 0x5A for b in full[20:60]) + full[60:],
        "truncated or corrupt|not a well-formed",
    )
    import bz2
    import lzma

    bz = bz2.compress(good)
    add("truncated.tsv.bz2", bz[: len(bz) // 2], "truncated or corrupt")
    xz = lzma.compress(good)
    add("truncated.tsv.xz", xz[: len(xz) - 30], "truncated or corrupt")
    zstandard = pytest.importorskip("zstandard")
    zs = zstandard.ZstdCompressor().compress(good)
    add("truncated.tsv.zst", zs[: len(zs) // 2], "truncated or corrupt")
    add("plain_but_gz.tsv.gz", good, "extension says gzip but the file is not compressed")
    add("empty.tsv", b"", "is empty")
    add("header_only.tsv", good.splitlines(keepends=True)[0], "no data rows")
    lines = good.decode().splitlines()
    bad = lines.copy()
    bad[3] = bad[3].split("\t", 2)[0] + "\tx7\t" + bad[3].split("\t", 2)[2]
    add("nonnumeric.tsv", ("\n".join(bad) + "\n").encode(), r"non-numeric value 'x7'.*line 4")
    dup_gene = [*lines, lines[2]]
    add(
        "dup_gene.tsv",
        ("\n".join(dup_gene) + "\n").encode(),
        r"duplicated (gene|row label).*'IFI44L'",
    )
    dup_sample = lines.copy()
    dup_sample[0] = dup_sample[0].replace("S2", "S1")
    add(
        "dup_sample.tsv",
        ("\n".join(dup_sample) + "\n").encode(),
        r"duplicated (sample|column label).*'S1'",
    )
    add("text.h5ad", good, "not an HDF5 file")
    add("text.h5", good, "not an HDF5 file")
    add("text.xlsx", good, "not an Excel")
    add("text.parquet", good, "not a Parquet file")
    add(
        "ragged.csv",
        b"gene,S1,S2\nIFI27,1,2\nISG15,3\n",
        "line 3 has 2 fields but the header has 3",
    )
    samples_rows = _text(df, genes_as_rows=False)
    add(
        "cut.tsv",
        samples_rows[: len(samples_rows) - 25],
        r"line 7 has \d+ fields but the header has 27",
    )
    rcc = rcc_text("X", {"IFI27": 10}, {"GAPDH": 100}).replace("</Lane_Attributes>", "")
    add("broken.RCC", rcc.encode(), "opens before|never closed")
    add(
        "ct.csv",
        b"sample,target,Ct\nA,GAPDH,18\nA,IFI27,20\n",
        r"reference gene\(s\) \['HPRT1', '18S'\]",
    )
    return cases


def test_api_errors_name_the_file(tmp_path, df):
    for path, _, match in _cases(tmp_path, df):
        with pytest.raises(InputError, match=match) as err:
            ifnscore.read(path, signature="rice6")
        assert path.name in str(err.value), (path.name, str(err.value))


def test_cli_exit_1_one_line_no_output(tmp_path, df, capsys):
    out = tmp_path / "out.csv"
    out.write_text("keep me\n")
    for path, args, _ in _cases(tmp_path, df):
        capsys.readouterr()
        code = main(
            [
                "score",
                str(path),
                "--method",
                "mean_log",
                "--upper-limit",
                "3",
                "-o",
                str(out),
                *args,
            ]
        )
        err = capsys.readouterr().err
        assert code == 1, (path.name, err)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1, err
        assert lines[0].startswith("ifnscore score: error:"), err
        assert path.name in lines[0]
        assert "Traceback" not in err
        assert out.read_text() == "keep me\n"
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []


def test_debug_shows_the_traceback(tmp_path, df):
    p = tmp_path / "empty.tsv"
    p.write_bytes(b"")
    with pytest.raises(InputError):
        main(["--debug", "score", str(p), "--method", "mean_log"])
    with pytest.raises(InputError):
        main(["score", str(p), "--method", "mean_log", "--debug"])


def test_mismatched_count_files(tmp_path, df):
    d = tmp_path / "counts"
    d.mkdir()
    (d / "A.txt").write_text("IFI27\t5\nISG15\t7\n")
    (d / "B.txt").write_text("IFI27\t5\nMX1\t7\n")
    with pytest.raises(InputError, match=r"B.txt.*genes differ"):
        ifnscore.read(d)
    (d / "B.txt").write_text("IFI27\t5\nISG15\tseven\n")
    with pytest.raises(InputError, match=r"B.txt: line 2: count 'seven'"):
        ifnscore.read(d)


def test_compressed_gct_truncated(tmp_path, df):
    from _iowriters import write_gct

    p = write_gct(df.astype(float), tmp_path / "x.gct")
    text = p.read_text().splitlines()
    (tmp_path / "short.gct").write_text("\n".join(text[:-2]) + "\n")
    with pytest.raises(InputError, match=r"short.gct.*data rows but line 2 declares"):
        ifnscore.read(tmp_path / "short.gct")
    compress(tmp_path / "x.gct.gz", gzip.compress(p.read_bytes())[:-10], None)
    with pytest.raises(InputError, match="truncated or corrupt"):
        ifnscore.read(tmp_path / "x.gct.gz")


def test_ten_x_h5_missing_dataset(tmp_path):
    import h5py

    with h5py.File(tmp_path / "m.h5", "w") as f:
        f.create_group("matrix").create_dataset("data", data=np.arange(3))
    with pytest.raises(InputError, match=r"m.h5.*missing dataset"):
        ifnscore.read(tmp_path / "m.h5")


def test_write_delimited_helper_writes_rice6(tmp_path, df):
    p = write_delimited(df, tmp_path, genes_as_rows=True)
    assert set(RICE6) <= set(ifnscore.read(p).var_names)
