"""One path through the house, on the command line: the bugs of the detours, reproduced and
fixed (outputs really compressed, --upper-limit with --reference, -o over an input, errors in
flag words, Ctrl-C, missing optional packages, report reading what score reads)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _iowriters import rcc_text, write_count_files

import ifnscore
from ifnscore import cli
from ifnscore._io._frame import read_frame
from ifnscore.cli import main

MAGIC = {".gz": b"\x1f\x8b", ".bz2": b"BZh", ".xz": b"\xfd7zXZ", ".zst": b"\x28\xb5\x2f\xfd"}


@pytest.fixture(scope="module")
def files(tmp_path_factory, example, ref_fc_sum):
    counts, samples = example
    d = tmp_path_factory.mktemp("cli_paths")
    data = d / "counts.csv"
    counts.to_csv(data)
    ref = d / "ref.json"
    ref_fc_sum.save(ref)
    meta = d / "meta.csv"
    samples.to_csv(meta)
    return {"counts": counts, "samples": samples, "data": data, "ref": ref, "meta": meta, "dir": d}


def _stdout(capsys) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(capsys.readouterr().out), index_col=0)


@pytest.mark.parametrize(
    "name",
    ["s.csv", "s.tsv", "s.json", "s.parquet", "s.xlsx", "s.csv.gz", "s.tsv.gz", "s.json.gz",
     "s.csv.bz2", "s.csv.xz", "s.csv.zst", "s.parquet.gz", "s.xlsx.bz2"],
)  # fmt: skip
def test_outputs_are_really_compressed_and_read_back(files, tmp_path, capsys, name):
    assert main(["score", str(files["data"]), "--reference", str(files["ref"]), "-q"]) == 0
    want = _stdout(capsys)
    out = tmp_path / name
    assert (
        main(["score", str(files["data"]), "--reference", str(files["ref"]), "-o", str(out), "-q"])
        == 0
    )
    suffix = out.suffix
    if suffix in MAGIC:
        assert out.read_bytes().startswith(MAGIC[suffix]), f"{name} is not {suffix}-compressed"
    else:
        assert not any(out.read_bytes().startswith(m) for m in MAGIC.values())
    back = read_frame(out, arg="-o")
    assert list(back.index) == list(want.index)
    np.testing.assert_allclose(back["score"], want["score"], rtol=1e-12)
    assert back["positive"].tolist() == want["positive"].tolist()
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary left behind


def test_upper_limit_with_reference_is_used(files, capsys):
    args = ["score", str(files["data"]), "--reference", str(files["ref"]), "-q"]
    assert main([*args, "--upper-limit", "100000"]) == 0
    got = _stdout(capsys)
    np.testing.assert_allclose(got["fold_over_limit"], got["score"] / 1e5, rtol=1e-12)
    assert not got["positive"].any()
    assert main([*args, "--upper-limit", "controls"]) == 0
    ctrl = ifnscore.Reference.load(files["ref"]).signatures["rice6"].limits["controls"].value
    got = _stdout(capsys)
    np.testing.assert_allclose(got["fold_over_limit"], got["score"] / ctrl, rtol=1e-12)
    assert main([*args, "--upper-limit", "-5"]) == 1
    assert re.search(r"--upper-limit -5(\.0)? must be > 0", capsys.readouterr().err)
    assert main([*args, "--upper-limit", "twelve"]) == 2


def test_output_equal_to_an_input_is_refused(files, tmp_path, capsys):
    data = tmp_path / "in.csv"
    files["counts"].to_csv(data)
    before = data.read_bytes()
    assert main(["score", str(data), "--reference", str(files["ref"]), "-o", str(data)]) == 1
    assert "would overwrite the input" in capsys.readouterr().err
    assert data.read_bytes() == before


def test_errors_speak_the_command_line(files, capsys):
    assert main(["score", str(files["data"]), "--method", "fc_median", "-q"]) == 1
    err = capsys.readouterr().err
    assert "--reference REF.json" in err
    assert "reference=" not in err
    assert main(["score", str(files["data"]), "--scale", "log2", "--method", "mean_log", "-q"]) == 1
    err = capsys.readouterr().err
    assert "--scale" in err
    assert "scale=" not in err


def test_ctrl_c_exits_130_and_leaves_no_temporary(files, tmp_path, monkeypatch, capsys):
    from ifnscore import _io_util

    def interrupted(path, write):
        path = Path(path)
        tmp = path.parent / f".{path.name}.{os.getpid()}.x.tmp"
        tmp.write_text("partial")
        tmp.unlink()  # what atomic_write's cleanup does on the way out
        raise KeyboardInterrupt

    monkeypatch.setattr(_io_util, "atomic_write", interrupted)
    monkeypatch.setattr("ifnscore._io._frame.atomic_write", interrupted)
    out = tmp_path / "s.csv"
    assert (
        main(["score", str(files["data"]), "--reference", str(files["ref"]), "-o", str(out)]) == 130
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["ifnscore score: interrupted; nothing was written."]
    assert list(tmp_path.iterdir()) == []


def test_a_killed_write_leaves_a_temporary_that_the_next_run_removes(files, tmp_path):
    out = tmp_path / "s.csv"
    stale = tmp_path / ".s.csv.999999999.abc.tmp"  # a pid that does not run
    stale.write_text("partial")
    mine = tmp_path / ".other.csv.999999999.abc.tmp"  # another output's: left alone
    mine.write_text("x")
    assert (
        main(["score", str(files["data"]), "--reference", str(files["ref"]), "-o", str(out), "-q"])
        == 0
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.csv.999999999.abc.tmp", "s.csv"]


def test_missing_optional_package_is_one_line(files, monkeypatch, capsys):
    def boom(args):
        raise ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib")

    monkeypatch.setattr(cli, "_cmd_report", boom)
    parser_args = ["report", str(files["data"]), "--reference", str(files["ref"])]
    monkeypatch.setattr(cli, "SUBCOMMANDS", list(cli.SUBCOMMANDS))
    code = main(parser_args)
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip() == (
        "ifnscore report: error: this needs the optional package matplotlib: pip install 'ifnscore[plot]'."
    )


def test_bad_threads_and_formats(files, monkeypatch, capsys):
    base = ["score", str(files["data"]), "--reference", str(files["ref"]), "-q"]
    assert main([*base, "--threads", "0"]) == 2
    assert main([*base, "--format", "nope"]) == 2
    monkeypatch.setenv("IFNSCORE_NUM_THREADS", "lots")
    assert main(base) == 1
    assert "IFNSCORE_NUM_THREADS='lots' is not a whole number >= 1" in capsys.readouterr().err
    monkeypatch.delenv("IFNSCORE_NUM_THREADS")
    assert main([*base, "--threads", "1"]) == 0


def test_samples_metadata_is_carried_and_controls_selected_from_it(files, tmp_path, capsys):
    meta = files["meta"]
    assert main(
        ["score", str(files["data"]), "--control-samples-from", str(meta), "--where", "group=control",
         "--samples", str(meta), "-q"]
    ) == 0  # fmt: skip
    got = _stdout(capsys)
    assert {"group", "patient", "day"} <= set(got.columns)
    counts, samples = files["counts"], files["samples"]
    ref = ifnscore.calibrate(counts[samples["group"] == "control"], signature="rice6")
    want = ifnscore.score(counts, reference=ref)
    np.testing.assert_allclose(got["score"], want["score"], rtol=1e-12)
    assert got.loc["JDM01_d000", "group"] == samples.loc["JDM01_d000", "group"]
    out = tmp_path / "ref.json"
    assert main(
        ["calibrate", str(files["data"]), "--control-samples-from", str(meta), "--where", "group=control",
         "-o", str(out), "-q"]
    ) == 0  # fmt: skip
    assert ifnscore.Reference.load(out).n_controls == int((samples["group"] == "control").sum())
    assert (
        main(["calibrate", str(files["data"]), "--where", "group=control", "-o", str(out), "-q"])
        == 1
    )
    assert "--where needs --control-samples-from" in capsys.readouterr().err


def test_report_reads_what_score_reads(files, tmp_path, example):
    """A folder of count files, an RCC folder and a custom-signature reference, through
    `ifnscore report` as through `ifnscore score`."""
    pytest.importorskip("matplotlib")
    counts, samples = example
    folder = tmp_path / "counts"
    write_count_files(counts.iloc[:30].round(), folder)
    out = tmp_path / "r.html"
    assert main(["report", str(folder), "--reference", str(files["ref"]), "-o", str(out)]) == 0
    assert "Interferon signature report" in out.read_text(encoding="utf-8")
    rcc = tmp_path / "rcc"
    rcc.mkdir()
    genes = list(ifnscore.get_signature("rice6").genes)
    for i in range(4):
        endo = {g: 100 * (1 + i) + 10 * k for k, g in enumerate(genes)}
        (rcc / f"L{i}.RCC").write_text(
            rcc_text(f"N{i}", endo, {"GAPDH": 1000, "ACTB": 3000}, lane=i + 1)
        )
    out2 = tmp_path / "r2.html"
    assert main(
        ["report", str(rcc), "--control-samples", "L0", "L1", "L2", "--normalize-to", "1000",
         "--method", "mean_log", "-o", str(out2)]
    ) == 0  # fmt: skip
    gmt = tmp_path / "mine.gmt"
    gmt.write_text("mine\tcustom set\tIFI27\tIFI44L\tIFIT1\tISG15\n")
    ref = tmp_path / "mine.json"
    controls = tmp_path / "controls.csv"
    counts[samples["group"] == "control"].to_csv(controls)
    assert (
        main(
            [
                "calibrate",
                str(controls),
                "--signature",
                str(gmt),
                "--rule",
                "mean+2sd",
                "-o",
                str(ref),
                "-q",
            ]
        )
        == 0
    )
    out3 = tmp_path / "r3.html"
    assert main(["report", str(files["data"]), "--reference", str(ref), "-o", str(out3)]) == 0
    assert "mine" in out3.read_text(encoding="utf-8")


def test_multiqc_content_from_the_command_line(files, tmp_path):
    out = tmp_path / "mqc"
    assert (
        main(
            [
                "score",
                str(files["data"]),
                "--reference",
                str(files["ref"]),
                "--multiqc",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    tsv = out / "ifnscore_mqc.tsv"
    assert tsv.is_file()
    assert (out / "ifnscore_mqc.yaml").is_file()
    body = [ln for ln in tsv.read_text().splitlines() if not ln.startswith("#")]
    assert len(body) == 1 + len(files["counts"])  # header + one row per sample


def test_report_names_the_genes_and_the_borderline_rule(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "r.html"
    assert main(["report", "--example", "--repeatability-cv", "0.15", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "The assay's genes (EULAR 2022 asks that results name them): IFI27, IFI44L" in text
    assert "limit +/- 1.645 x repeatability_cv 0.15 x limit" in text
    assert ">call<" in text  # the samples table shows each call
