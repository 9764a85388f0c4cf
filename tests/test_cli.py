"""The command line, tested by calling main([...]): exit codes, outputs equal to the API."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _iowriters import RICE6, counts_frame, rcc_text, write_delimited

import ifnscore
from ifnscore import cli
from ifnscore.cli import main


@pytest.fixture
def cohort(tmp_path, example):
    counts, samples = example
    path = write_delimited(counts, tmp_path, genes_as_rows=True, kind="gzip")
    controls = counts[samples["group"] == "control"]
    cpath = tmp_path / "controls.csv"
    controls.to_csv(cpath)
    return counts, controls, path, cpath


def _stdout_table(capsys):
    from io import StringIO

    return pd.read_csv(StringIO(capsys.readouterr().out), index_col=0)


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"ifnscore {ifnscore.__version__}"
    assert any(line.startswith("numpy ") for line in lines)
    for cmd in ([], ["score"], ["calibrate"], ["signatures"], ["demo"]):
        assert main([*cmd, "--help"]) == 0
        assert "examples:" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys, tmp_path):
    assert main([]) == 2
    assert main(["score"]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["score", "x.csv", "-o", "out.txt"]) == 2
    assert main(["calibrate", "x.csv", "-o", "ref.yaml"]) == 2
    assert main(["score", "x.csv", "--controls", "a.csv", "--reference", "r.json"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_score_with_controls_file_equals_api(cohort, capsys):
    counts, controls, path, cpath = cohort
    assert main(["score", str(path), "--controls", str(cpath), "--quiet"]) == 0
    got = _stdout_table(capsys)
    ref = ifnscore.calibrate(controls, signature="rice6")
    want = ifnscore.score(counts, reference=ref)
    np.testing.assert_allclose(got["score"], want["score"], rtol=1e-12)
    assert got["positive"].tolist() == want["positive"].tolist()
    assert list(got.columns) == [
        "score",
        "positive",
        "fold_over_limit",
        "call",
        "healthy_percentile",
        "n_genes",
    ]


def test_calibrate_then_score_with_reference(cohort, tmp_path, capsys):
    counts, controls, path, cpath = cohort
    refpath = tmp_path / "ref.json"
    assert main(["calibrate", str(cpath), "-o", str(refpath), "--method", "fc_median"]) == 0
    assert "wrote" in capsys.readouterr().out
    ref = ifnscore.Reference.load(refpath)
    assert ref.method == "fc_median"
    pytest.importorskip("pyarrow")  # the `parquet` extra
    out = tmp_path / "scores.parquet"
    assert main(["score", str(path), "--reference", str(refpath), "-o", str(out)]) == 0
    got = pd.read_parquet(out)
    want = ifnscore.score(counts, reference=ifnscore.calibrate(controls, method="fc_median"))
    np.testing.assert_allclose(got["score"], want["score"], rtol=1e-12)


def test_control_samples_and_several_signatures(cohort, tmp_path, capsys):
    counts, controls, path, _ = cohort
    names = list(controls.index[:20])
    out = tmp_path / "s.tsv"
    code = main(
        [
            "score",
            str(path),
            "--control-samples",
            *names,
            "--signature",
            "rice6",
            "ifngs4",
            "-o",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    assert capsys.readouterr().err == ""
    got = pd.read_csv(out, sep="\t", index_col=0)
    ref = ifnscore.calibrate(counts.loc[names], signature=["rice6", "ifngs4"])
    want = ifnscore.score(counts, reference=ref)
    np.testing.assert_allclose(got["rice6_score"], want["rice6", "score"], rtol=1e-12)
    np.testing.assert_allclose(got["ifngs4_score"], want["ifngs4", "score"], rtol=1e-12)
    assert "ifngs4_positive" in got.columns
    assert main(["score", str(path), "--control-samples", "nobody"]) == 1


def test_json_output_and_single_sample_method(cohort, tmp_path):
    counts, _, path, _ = cohort
    out = tmp_path / "s.json"
    assert (
        main(["score", str(path), "--method", "mean_log", "--upper-limit", "5", "-o", str(out)])
        == 0
    )
    rows = json.loads(out.read_text())
    want = ifnscore.score(counts, method="mean_log", upper_limit=5)
    assert [r["sample"] for r in rows] == list(want.index)
    np.testing.assert_allclose([r["score"] for r in rows], want["score"], rtol=1e-9)


def test_signatures_and_demo(tmp_path, capsys, monkeypatch):
    assert main(["signatures"]) == 0
    assert "rice6" in capsys.readouterr().out
    assert main(["signatures", "rice6"]) == 0
    assert "10.1016/S1474-4422(13)70258-8" in capsys.readouterr().out
    assert main(["signatures", "nope"]) == 1
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    text = capsys.readouterr().out
    assert "upper limit 12.49" in text
    assert "followed JDM patient" in text
    assert (tmp_path / "ifnscore_demo_scores.csv").exists()


def test_qpcr_and_nanostring_on_the_command_line(tmp_path, capsys):
    ct = tmp_path / "ct.csv"
    ct.write_text(
        "sample,target,Ct\n"
        + "".join(
            f"{s},{t},{c}\n"
            for s, shift in (("H1", 0.0), ("H2", 0.3), ("H3", -0.2), ("P1", -4.0))
            for t, c in (
                ("HPRT1", 25),
                ("18S", 9),
                *((g, 28 + shift + k * 0.1) for k, g in enumerate(RICE6)),
            )
        )
    )
    code = main(
        ["score", str(ct), "--control-samples", "H1", "H2", "H3", "--method", "fc_median", "-q"]
    )
    assert code == 0
    got = _stdout_table(capsys)
    a = ifnscore.read(ct)
    ref = ifnscore.calibrate(a[["H1", "H2", "H3"]], method="fc_median", scale="linear")
    ifnscore.score(a, reference=ref, scale="linear")
    np.testing.assert_allclose(got["score"], a.obs["ifnscore"], rtol=1e-12)
    np.testing.assert_allclose(
        got.loc["P1", "score"], 2**4, rtol=1e-9
    )  # 4 cycles earlier = 16-fold
    assert main(["score", str(ct), "--reference-genes", "GAPDH", "--method", "mean_log"]) == 1
    assert "reference gene(s) ['GAPDH']" in capsys.readouterr().err
    d = tmp_path / "rcc"
    d.mkdir()
    for i in range(4):
        endo = {g: 100 * (1 + i) + 10 * k for k, g in enumerate(RICE6)}
        (d / f"L{i}.RCC").write_text(
            rcc_text(f"N{i}", endo, {"GAPDH": 1000, "ACTB": 3000}, lane=i + 1)
        )
    assert (
        main(["score", str(d), "--control-samples", "L0", "L1", "--normalize-to", "1000", "-q"])
        == 0
    )
    got = _stdout_table(capsys)
    assert list(got.index) == ["L0", "L1", "L2", "L3"]  # RCC samples are keyed by file name
    assert got["score"].is_monotonic_increasing


def test_many_count_files_progress_silent_when_not_a_tty(tmp_path, capsys):
    from _iowriters import write_count_files

    df = counts_frame(np.random.default_rng(2), n_samples=5)
    write_count_files(df, tmp_path / "c")
    assert main(["score", str(tmp_path / "c"), "--method", "mean_log", "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert len(_table_from(captured.out)) == 5


def _table_from(text):
    from io import StringIO

    return pd.read_csv(StringIO(text), index_col=0)


def test_subcommands_are_pluggable(monkeypatch, capsys):
    def _add_hello_parser(sub):
        p = sub.add_parser("hello", help="say hello")
        p.set_defaults(func=lambda args: print("hello") or 0)

    monkeypatch.setattr(cli, "SUBCOMMANDS", [*cli.SUBCOMMANDS, _add_hello_parser])
    assert main(["hello", "--quiet"]) == 0
    assert capsys.readouterr().out == "hello\n"


def test_atomic_output_replaced_only_on_success(cohort, tmp_path):
    counts, _, path, cpath = cohort
    out = tmp_path / "scores.csv"
    out.write_text("old\n")
    assert (
        main(
            ["score", str(path), "--controls", str(tmp_path / "missing.csv"), "-o", str(out), "-q"]
        )
        == 1
    )
    assert out.read_text() == "old\n"
    assert main(["score", str(path), "--controls", str(cpath), "-o", str(out), "-q"]) == 0
    assert pd.read_csv(out, index_col=0).shape[0] == len(counts)
