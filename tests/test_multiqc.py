"""MultiQC custom content (ifnscore._multiqc.write_multiqc).

The files are checked twice: as text (what a reader of the file sees), and through MultiQC
itself (``python -m multiqc DIR``): its ``multiqc_data/multiqc_data.json`` must hold the
ifnscore table with the samples' values and the bar graph with the limit line. The MultiQC
tests skip when multiqc is not installed (the ``pipelines`` extra; CI installs it).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import ifnscore
from ifnscore._multiqc import _number, write_multiqc
from ifnscore.errors import InputError


def _hand_table() -> pd.DataFrame:
    """A one-signature result written by hand: rice6, fc_sum, published limit 12.49."""
    res = pd.DataFrame(
        {
            "score": [6.5, 14.0, np.nan, 1e-05],
            "positive": [False, True, False, False],
            "fold_over_limit": [6.5 / 12.49, 14.0 / 12.49, np.nan, 1e-05 / 12.49],
            "call": ["negative", "positive", "unclassified", "negative"],
            "n_genes": [6, 6, 0, 6],
        },
        index=pd.Index(["S1", "S2", "S3", "007"], name="sample"),
    )
    res.attrs["ifnscore"] = {
        "ifnscore_version": "0.1.0",
        "method": "fc_sum",
        "signatures": {
            "rice6": {
                "upper_limit": 12.49,
                "upper_limit_source": "published",
                "upper_limit_notes": ["published by Rice et al."],
                "call_rule": "none",
            }
        },
    }
    return res


def _data_lines(path):
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line[:1] != "#"]


# --------------------------------------------------------------------------- the files as text
def test_table_file_has_one_row_per_sample_with_the_values(tmp_path):
    written = write_multiqc(_hand_table(), tmp_path)
    assert [p.name for p in written] == ["ifnscore_mqc.tsv", "ifnscore_mqc.yaml"]
    lines = _data_lines(tmp_path / "ifnscore_mqc.tsv")
    assert lines[0].split("\t") == [
        "sample",
        "score",
        "positive",
        "fold_over_limit",
        "call",
        "n_genes",
    ]
    # S1: score 6.5, fold 6.5 / 12.49 (repr round-trips), 6 genes
    assert lines[1].split("\t") == ["S1", "6.5", "False", repr(6.5 / 12.49), "negative", "6"]
    # S3: no score -> empty cells, kept in the table
    assert lines[3].split("\t") == ["S3", "", "False", "", "unclassified", "0"]
    # "007" would be read by MultiQC as the number 7: written quoted
    assert lines[4].split("\t")[0] == '"007"'
    assert lines[4].split("\t")[1] == "1.0e-05"
    assert len(lines) == 1 + 4


def test_table_header_declares_a_multiqc_table(tmp_path):
    write_multiqc(_hand_table(), tmp_path)
    header = [
        line for line in (tmp_path / "ifnscore_mqc.tsv").read_text().splitlines() if line[:1] == "#"
    ]
    keys = [line[2:].split(":", 1)[0] for line in header]
    assert keys == ["id", "section_name", "description", "plot_type", "pconfig", "headers"]
    assert '# plot_type: "table"' in header
    assert "rice6 upper limit 12.49 (published)" in header[2]
    heads = json.loads(header[5].split(":", 1)[1])
    assert heads["score"] == {
        "title": "Score",
        "description": "rice6: fc_sum score",
        "format": "{:,.4g}",
    }
    assert heads["positive"]["description"] == "rice6: score >= upper limit (12.49)"


def test_plot_file_draws_the_limit_and_leaves_out_missing_scores(tmp_path):
    yaml = pytest.importorskip("yaml")
    write_multiqc(_hand_table(), tmp_path)
    cfg = yaml.safe_load((tmp_path / "ifnscore_mqc.yaml").read_text(encoding="utf-8"))
    assert cfg["plot_type"] == "bargraph"
    assert cfg["pconfig"]["x_lines"][0]["value"] == 12.49
    assert cfg["pconfig"]["x_lines"][0]["label"] == "upper limit 12.49 (published)"
    # bars coloured by call; S3 has no score: not drawn, and the description says so
    assert cfg["data"] == {
        "S1": {"negative": 6.5},
        "S2": {"positive": 14.0},
        "007": {"negative": 1e-05},
    }
    assert isinstance(cfg["data"]["007"]["negative"], float)  # '1.0e-05', not the string '1e-05'
    assert "1 sample(s) without a score are not drawn" in cfg["description"]
    assert list(cfg["categories"]) == ["negative", "positive"]  # S3's "unclassified" not drawn
    assert cfg["helptext"].endswith("* published by Rice et al.")


def test_limit_notes_replace_the_results_notes(tmp_path):
    yaml = pytest.importorskip("yaml")
    write_multiqc(_hand_table(), tmp_path, limit_notes={"rice6": "verified on 20 local controls"})
    cfg = yaml.safe_load((tmp_path / "ifnscore_mqc.yaml").read_text(encoding="utf-8"))
    assert cfg["helptext"].endswith("* verified on 20 local controls")


@pytest.mark.parametrize(
    "x", [1e-05, 1e20, 12.49, -3.5e-300, 0.1 + 0.2, 5e-324, 1.7976931348623157e308]
)
def test_numbers_read_back_identical_in_yaml(x):
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(_number(x)) == x
    assert float(_number(x)) == x


def test_table_without_limit_has_no_line(tmp_path):
    yaml = pytest.importorskip("yaml")
    res = _hand_table()[["score", "n_genes"]]
    res.attrs = {"ifnscore": {"method": "fc_sum", "signatures": {"rice6": {"upper_limit": None}}}}
    write_multiqc(res, tmp_path)
    cfg = yaml.safe_load((tmp_path / "ifnscore_mqc.yaml").read_text(encoding="utf-8"))
    assert "x_lines" not in cfg["pconfig"]
    assert "no upper limit was set" in cfg["description"]
    assert cfg["data"]["S1"] == {"rice6": 6.5}  # no call column: one category


def test_group_limits_draw_one_line_each(tmp_path):
    yaml = pytest.importorskip("yaml")
    res = _hand_table()
    res.attrs["ifnscore"]["signatures"]["rice6"]["upper_limit"] = [12.0, 15.0, 12.0, 15.0]
    res.attrs["ifnscore"]["signatures"]["rice6"]["upper_limit_source"] = "partition"
    write_multiqc(res, tmp_path)
    cfg = yaml.safe_load((tmp_path / "ifnscore_mqc.yaml").read_text(encoding="utf-8"))
    assert [line["value"] for line in cfg["pconfig"]["x_lines"]] == [12.0, 15.0]
    assert "the 2 group upper limits" in cfg["description"]


def test_several_signatures_one_plot_each_and_stale_plots_removed(tmp_path):
    yaml = pytest.importorskip("yaml")
    counts, samples = ifnscore.datasets.load_example(as_frame=True)
    ref = ifnscore.calibrate(counts[samples["group"] == "control"], signature=["rice6", "feng5"])
    res = ifnscore.score(counts.iloc[:6], reference=ref)
    written = write_multiqc(res, tmp_path)
    assert [p.name for p in written] == [
        "ifnscore_mqc.tsv",
        "ifnscore_rice6_mqc.yaml",
        "ifnscore_feng5_mqc.yaml",
    ]
    header = _data_lines(tmp_path / "ifnscore_mqc.tsv")[0].split("\t")
    assert header[:2] == ["sample", "rice6_score"]
    assert "feng5_score" in header
    for sig in ("rice6", "feng5"):
        cfg = yaml.safe_load((tmp_path / f"ifnscore_{sig}_mqc.yaml").read_text(encoding="utf-8"))
        limit = res.attrs["ifnscore"]["signatures"][sig]["upper_limit"]
        assert cfg["pconfig"]["x_lines"][0]["value"] == limit
        first = res.index[0]
        assert next(iter(cfg["data"][first].values())) == res[sig, "score"].iloc[0]
    # a later run with one signature: the per-signature plots of the earlier run go
    write_multiqc(ifnscore.score(counts.iloc[:6], reference=ref, signature="rice6"), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ifnscore_mqc.tsv", "ifnscore_mqc.yaml"]


def test_flat_table_read_back_from_a_file_is_accepted(tmp_path):
    counts, samples = ifnscore.datasets.load_example(as_frame=True)
    ref = ifnscore.calibrate(counts[samples["group"] == "control"], signature=["rice6", "feng5"])
    res = ifnscore.score(counts.iloc[:4], reference=ref)
    from ifnscore._results import flat

    csv = tmp_path / "scores.csv"
    flat(res).to_csv(csv)
    back = pd.read_csv(csv, index_col=0)
    written = write_multiqc(back, tmp_path / "mqc")
    assert [p.name for p in written][1:] == ["ifnscore_rice6_mqc.yaml", "ifnscore_feng5_mqc.yaml"]
    # flat with the result's attrs and a metadata column ending in "_score": the recorded
    # signatures are used, the metadata column is not taken for one
    out = flat(res).assign(cmas_score=[1, 2, 3, 4])
    out.attrs = dict(res.attrs)
    written = write_multiqc(out, tmp_path / "mqc2")
    assert [p.name for p in written][1:] == ["ifnscore_rice6_mqc.yaml", "ifnscore_feng5_mqc.yaml"]


def test_input_table_is_not_modified(tmp_path):
    res = _hand_table()
    before = res.copy()
    write_multiqc(res, tmp_path)
    pd.testing.assert_frame_equal(res, before)
    assert res.attrs == _hand_table().attrs


# --------------------------------------------------------------------------- errors
def _with_index(names):
    res = _hand_table().iloc[: len(names)].copy()
    res.index = pd.Index(names, name="sample")
    return res


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["S1", "a\tb"], r"Sample 'a\\tb' contains a tab, which would break the tab-separated"),
        (["S1", "a\nb"], r"Sample 'a\\nb' contains a line break"),
        (["#1", "S2"], r"Sample '#1' starts with '#', which MultiQC reads as a header line"),
        (["S1", "S1"], r"Sample 'S1' appears twice; MultiQC keeps one row per name"),
        (["S1", " "], r"sample 2 has an empty name"),
    ],
)
def test_sample_names_multiqc_cannot_take_are_refused(tmp_path, names, message):
    with pytest.raises(InputError, match=message):
        write_multiqc(_with_index(names), tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written


def test_text_with_a_tab_is_refused_naming_the_cell(tmp_path):
    res = _hand_table()
    res["patient"] = ["P1", "P\t2", "P3", "P4"]
    with pytest.raises(
        InputError, match=r"The 'patient' value of sample 'S2', 'P\\t2' contains a tab"
    ):
        write_multiqc(res, tmp_path)


def test_not_a_table_is_refused(tmp_path):
    with pytest.raises(
        InputError, match=r"table must be the DataFrame returned by ifnscore\.score, got dict"
    ):
        write_multiqc({"score": [1.0]}, tmp_path)  # type: ignore[arg-type]


def test_a_table_without_scores_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"table has no 'score' column \(nor '<signature>_score'"):
        write_multiqc(pd.DataFrame({"x": [1.0]}, index=["S1"]), tmp_path)


def test_a_file_where_the_folder_should_be_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match=r"MultiQC directory .*f exists and is not a folder"):
        write_multiqc(_hand_table(), tmp_path / "f")


def test_limit_notes_for_an_unknown_signature_are_refused(tmp_path):
    with pytest.raises(
        InputError,
        match=r"limit_notes names signature\(s\) \['feng5'\] that the table does not hold \(it holds \['rice6'\]\)",
    ):
        write_multiqc(_hand_table(), tmp_path, limit_notes={"feng5": "x"})
    with pytest.raises(
        InputError, match=r"limit_notes\['rice6'\] must be a string or a list of strings, got 3"
    ):
        write_multiqc(_hand_table(), tmp_path, limit_notes={"rice6": 3})  # type: ignore[dict-item]


def test_a_column_named_sample_is_refused(tmp_path):
    res = _hand_table()
    res["sample"] = "x"
    with pytest.raises(InputError, match="table has a column named 'sample'"):
        write_multiqc(res, tmp_path)


# --------------------------------------------------------------------------- through MultiQC
def _multiqc(directory, out):
    pytest.importorskip(
        "multiqc", reason="multiqc is not installed (pip install -e '.[pipelines]')"
    )
    cmd = [sys.executable, "-m", "multiqc", str(directory), "-o", str(out), "--no-version-check",
           "--no-ai", "-f", "-q", "--no-ansi"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((out / "multiqc_data" / "multiqc_data.json").read_text(encoding="utf-8"))


def test_multiqc_reads_the_table_and_the_plot(tmp_path):
    res = _hand_table()
    res["patient"] = ["P1", "P2", "P3", "007"]  # text that looks like a number stays text
    write_multiqc(res, tmp_path / "in")
    data = _multiqc(tmp_path / "in", tmp_path / "out")
    raw = data["report_saved_raw_data"]
    table = raw["multiqc_ifnscore_table"]
    assert set(table) == {"S1", "S2", "S3", "007"}
    assert table["S1"]["score"] == 6.5
    assert table["S2"]["fold_over_limit"] == 14.0 / 12.49
    assert table["S2"]["positive"] == "True"
    assert table["007"]["score"] == 1e-05
    assert table["007"]["patient"] == "007"
    assert table["S3"]["call"] == "unclassified"
    bars = raw["multiqc_ifnscore_plot_bar"]
    assert bars["S2"] == {"positive": 14.0}
    assert "S3" not in bars
    plot = data["report_plot_data"]["ifnscore_plot_bar"]
    shapes = [s for ds in plot["datasets"] for s in ds["layout"].get("shapes", [])]
    assert [(s["x0"], s["xref"]) for s in shapes] == [(12.49, "x")]


def test_multiqc_on_a_scored_cohort_with_two_signatures(tmp_path):
    counts, samples = ifnscore.datasets.load_example(as_frame=True)
    ref = ifnscore.calibrate(counts[samples["group"] == "control"], signature=["rice6", "feng5"])
    res = ifnscore.score(counts, reference=ref)
    write_multiqc(res, tmp_path / "in")
    data = _multiqc(tmp_path / "in", tmp_path / "out")
    table = data["report_saved_raw_data"]["multiqc_ifnscore_table"]
    assert len(table) == len(res) == 99
    for sample in (res.index[0], res.index[-1]):
        assert table[sample]["rice6_score"] == res["rice6", "score"][sample]
        assert table[sample]["feng5_n_genes"] == res["feng5", "n_genes"][sample]
    for sig in ("rice6", "feng5"):
        plot = data["report_plot_data"][f"ifnscore_{sig}_plot_bar"]
        shapes = [s for ds in plot["datasets"] for s in ds["layout"].get("shapes", [])]
        limit = res.attrs["ifnscore"]["signatures"][sig]["upper_limit"]
        assert [s["x0"] for s in shapes] == [limit]
        assert not math.isnan(limit)
