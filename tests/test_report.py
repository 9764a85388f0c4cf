"""ifnscore.report: one valid, self-contained HTML file (parsed with html.parser)."""

import base64
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from ifnscore.cli import main
from ifnscore.datasets import example_files, load_example
from ifnscore.errors import InputError

pytest.importorskip("matplotlib")

from ifnscore.report import report

VOID = {"meta", "img", "br", "hr", "link", "input", "source", "col", "area", "base", "wbr"}


class _Checker(HTMLParser):
    """Collects tags, ids and resource URLs, and checks that elements nest and close."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.urls, self.ids, self.tags = [], [], [], [], []
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        for key in ("src", "href", "data", "poster", "action"):
            if key in a:
                self.urls.append((tag, key, a[key]))
        if "id" in a:
            self.ids.append(a["id"])
        if "style" in a and "url(" in a["style"]:
            self.errors.append(f"url() in style of <{tag}>")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(
                f"</{tag}> does not close <{self.stack[-1] if self.stack else None}>"
            )
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _check(text):
    p = _Checker()
    p.feed(text)
    p.close()
    assert text.startswith("<!DOCTYPE html>")
    assert not p.errors, p.errors[:5]
    assert not p.stack, p.stack
    # self-contained: no external resources at all; images are embedded PNGs; links are anchors
    for tag, key, url in p.urls:
        assert not re.match(r"^\s*(https?:)?//", url, re.IGNORECASE), (tag, key, url)
        if tag == "img":
            assert url.startswith("data:image/png;base64,")
            png = base64.b64decode(url.split(",", 1)[1], validate=True)
            assert png[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            assert url.startswith("#"), url
            assert url[1:] in p.ids
    assert "<script" not in text.lower()
    assert "@import" not in text
    return p


@pytest.fixture(scope="module")
def example_report(example, ref_fc_sum):
    counts, samples = example
    return report(
        counts,
        ref_fc_sum,
        samples=samples,
        clinical="cmas",
        treatments=example_files()["treatments"],
    )


def test_report_is_valid_self_contained_html(example_report, example):
    counts, _samples = example
    p = _check(example_report)
    assert {"cohort", "reference", "patients", "samples", "patient-JDM01"} <= set(p.ids)
    assert p.tags.count("img") == 4  # cohort, heatmap, calibration, one trajectory
    text = " ".join(p.text)
    for needle in ("12.49", "rice6", "fc_sum", "doi:10.3390/jcm15020709", "baricitinib"):
        assert needle in text
    assert "168 days (first below the limit at day 168; last above at day 112)" in text
    # the table of all samples has one row per sample
    body = example_report.split('id="samples"', 1)[1]
    assert body.count("<tr") == len(counts) + 1


def test_report_escapes_user_text(example, ref_fc_sum):
    counts, _samples = example
    text = report(counts.iloc[:50], ref_fc_sum, title="<script>alert(1)</script> & co")
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    _check(text)


def test_report_anndata_not_modified_and_written_atomically(ref_fc_sum, tmp_path):
    adata = load_example()
    obs = adata.obs.copy()
    out = tmp_path / "sub" / "r.html"
    text = report(adata, ref_fc_sum, clinical="cmas", output=out)
    assert out.read_text(encoding="utf-8") == text
    assert [f.name for f in out.parent.iterdir()] == ["r.html"]
    pd.testing.assert_frame_equal(adata.obs, obs)
    assert "ifnscore" not in adata.uns
    assert "baricitinib" in text  # treatments from uns["treatments"]


def test_report_bad_reference(example):
    counts, _ = example
    with pytest.raises(InputError, match="reference="):
        report(counts, "ref.json")


def test_cli_report_example(tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", "--example", "-o", str(out)]) == 0
    _check(out.read_text(encoding="utf-8"))
    assert "wrote" in capsys.readouterr().out


def test_cli_report_from_files(tmp_path, ref_fc_sum):
    files = example_files()
    out = tmp_path / "r.html"
    code = main(
        [
            "report",
            str(files["counts"]),
            "--samples",
            str(files["samples"]),
            "--treatments",
            str(files["treatments"]),
            "--control-group",
            "control",
            "--clinical",
            "cmas",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    text = out.read_text(encoding="utf-8")
    _check(text)
    assert "read with ifnscore.read, format delimited" in text
    assert "Patient JDM01" in text
    ref_path = tmp_path / "ref.json"
    ref_fc_sum.save(ref_path)
    out2 = tmp_path / "r2.html"
    args = ["report", str(files["counts"]), "--reference", str(ref_path), "-o", str(out2)]
    assert main(args) == 0
    assert "No patient has two or more visits." in out2.read_text(encoding="utf-8")


def test_cli_report_errors(tmp_path, capsys):
    files = example_files()
    assert main(["report", str(files["counts"]), "-o", str(tmp_path / "x.html")]) == 1
    assert "--reference" in capsys.readouterr().err
    assert main(["report", "-o", str(tmp_path / "x.html")]) == 1
    assert not (tmp_path / "x.html").exists()
