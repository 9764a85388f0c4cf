"""The accuracy benchmark's core (ifnscore._accuracy) on a small labelled set made here.

The set: 40 filler genes with the same counts in every sample (gene j: 100 (j + 1) reads), and
the six rice6 genes with one count per sample, the same for all six:

* controls C1..C6 (type1 false, control true): 50, 60, 70, 80, 90, 100 reads;
* type I T1..T3: 500, 600, 700 reads, and T4, a copy of C1 (50 reads: a tie with C1);
* other O1..O3 (type1 empty): 70, 80, 300 reads (ties with C3 and C4).

A sample's CPM of each rice6 gene is c / (82,000 + 6 c) * 1e6, increasing in its count c, so
every score that increases with the signature genes' expression (fc_sum here) orders the samples
by c, ties included. By hand (Mann-Whitney, a tie counts 1/2):

* type I vs negatives: T1..T3 beat all 6 controls (18 pairs); T4 ties C1 (1/2) and loses to
  C2..C6: AUROC = 18.5 / 24;
* type I vs other: T1..T3 beat O1..O3 (9); T4 (50) loses to all three: 9 / 12;
* other vs negatives: O1 (70) beats C1, C2, ties C3: 2.5; O2 (80) beats C1..C3, ties C4: 3.5;
  O3 (300) beats all 6: 12 / 18.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _real import real

from ifnscore import _accuracy as acc
from ifnscore.errors import InputError

SHEETS = Path(__file__).resolve().parent.parent / "benchmarks" / "data"

RICE6 = ["IFI27", "IFI44L", "IFIT1", "ISG15", "RSAD2", "SIGLEC1"]
LEVELS = {
    "C1": 50, "C2": 60, "C3": 70, "C4": 80, "C5": 90, "C6": 100,
    "T1": 500, "T2": 600, "T3": 700, "T4": 50,
    "O1": 70, "O2": 80, "O3": 300,
}  # fmt: skip

#: The columns of accuracy.csv, written out here so that a change to them fails this test.
EXPECTED_COLUMNS = [
    "method", "signature", "auroc", "auroc_vs_other", "margin_pos", "margin_neg",
    "tp", "fp", "tn", "fn", "refused", "note", "auroc_other_vs_neg", "pos_other",
    "limit", "limit_rule", "n_pos", "n_neg", "n_other", "n_controls",
]  # fmt: skip


def _counts(
    levels: dict[str, int] = LEVELS, siglec1_in_controls: int | None = None
) -> pd.DataFrame:
    filler = {f"GENE{j:02d}": 100 * (j + 1) for j in range(40)}
    rows = {}
    for s, c in levels.items():
        row = dict(filler)
        row.update(dict.fromkeys(RICE6, c))
        if siglec1_in_controls is not None and s.startswith("C"):
            row["SIGLEC1"] = siglec1_in_controls
        rows[s] = row
    return pd.DataFrame.from_dict(rows, orient="index").astype(np.int64)


def _sheet(samples=LEVELS) -> pd.DataFrame:
    t1 = {"C": False, "T": True, "O": None}
    out = pd.DataFrame(
        {
            "group": [{"C": "control", "T": "IFN-alpha", "O": "IFN-gamma"}[s[0]] for s in samples],
            "type1": pd.Series([t1[s[0]] for s in samples], dtype=object).to_numpy(),
            "control": [s.startswith("C") for s in samples],
        },
        index=pd.Index(list(samples), name="sample"),
    )
    return out


def _pairwise(pos, neg) -> float:
    """The AUROC by counting pairs (the definition, not the rank identity)."""
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


# ------------------------------------------------------------------------------ the statistic
def test_auroc_hand_computed_with_ties():
    # pos 3, 2, 2 vs neg 1, 2, 4: 3 beats 1, 2 (2); each 2 beats 1 and ties 2 (1.5 each) -> 5/9
    assert acc.auroc([3, 2, 2], [1, 2, 4]) == pytest.approx(5 / 9, abs=1e-15)
    assert acc.auroc([1, 1], [1, 1, 1]) == 0.5  # all tied
    assert acc.auroc([2], [1]) == 1.0
    assert acc.auroc([1], [2]) == 0.0
    assert np.isnan(acc.auroc([], [1.0]))
    assert np.isnan(acc.auroc([1.0], []))


def test_auroc_equals_pair_counting_on_random_ties():
    rng = np.random.default_rng(3)
    for _ in range(20):
        pos = rng.integers(0, 6, rng.integers(1, 12)).astype(float)
        neg = rng.integers(0, 6, rng.integers(1, 12)).astype(float)
        assert acc.auroc(pos, neg) == pytest.approx(_pairwise(pos, neg), abs=1e-12)


def test_auroc_equals_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    pos, neg = rng.integers(0, 8, 15).astype(float), rng.integers(0, 8, 11).astype(float)
    y = np.r_[np.ones(pos.size), np.zeros(neg.size)]
    want = metrics.roc_auc_score(y, np.r_[pos, neg])
    assert acc.auroc(pos, neg) == pytest.approx(want, abs=1e-12)


def test_auroc_refuses_nan():
    with pytest.raises(InputError, match=r"auroc: every score must be finite"):
        acc.auroc([1.0, np.nan], [0.0])


# ------------------------------------------------------------------------------ the benchmark
@pytest.fixture(scope="module")
def result():
    return acc.evaluate(
        _counts(),
        _sheet(),
        methods=["fc_sum", "z_sum", "mean_log", "zscore"],
        signatures=["rice6", "feng5"],
        scale="counts",
    )


def test_fc_sum_auroc_by_hand(result):
    table, _ = result
    row = table.set_index(["method", "signature"]).loc[("fc_sum", "rice6")]
    assert row["refused"] == ""
    assert row["auroc"] == pytest.approx(18.5 / 24, abs=1e-12)
    assert row["auroc_vs_other"] == pytest.approx(9 / 12, abs=1e-12)
    assert row["auroc_other_vs_neg"] == pytest.approx(12 / 18, abs=1e-12)
    assert (row["n_pos"], row["n_neg"], row["n_other"], row["n_controls"]) == (4, 6, 3, 6)


def test_calls_and_margins_follow_the_limit(result):
    table, scores = result
    for method in ("fc_sum", "mean_log", "z_sum", "zscore"):
        row = table.set_index(["method", "signature"]).loc[(method, "rice6")]
        s = scores[(scores["method"] == method) & (scores["signature"] == "rice6")]
        s = s.set_index("sample")["score"]
        pos, neg = s[[f"T{i}" for i in range(1, 5)]], s[[f"C{i}" for i in range(1, 7)]]
        other = s[["O1", "O2", "O3"]]
        # every method's AUROC against counting pairs of its own scores
        assert row["auroc"] == pytest.approx(_pairwise(pos, neg), abs=1e-12)
        assert row["auroc_vs_other"] == pytest.approx(_pairwise(pos, other), abs=1e-12)
        lim = row["limit"]
        assert np.isfinite(lim), method
        assert row["tp"] == int((pos >= lim).sum())
        assert row["fn"] == int((pos < lim).sum())
        assert row["fp"] == int((neg >= lim).sum())
        assert row["tn"] == int((neg < lim).sum())
        assert row["pos_other"] == int((other >= lim).sum())
        if method in ("fc_sum", "mean_log"):  # positive scores: fold over the limit
            assert row["margin_pos"] == pytest.approx(pos.min() / lim, rel=1e-12)
            assert row["margin_neg"] == pytest.approx(neg.max() / lim, rel=1e-12)
        else:  # signed scores: score / limit has no meaning
            assert np.isnan(row["margin_pos"])
            assert np.isnan(row["margin_neg"])
    # T1..T3 lie 5-7x above the controls: fc_sum calls them, and T4 (a control's copy) not
    fc = table.set_index(["method", "signature"]).loc[("fc_sum", "rice6")]
    assert (fc["tp"], fc["fn"]) == (3, 1)


def test_limit_notes_record_the_warnings(result):
    table, _ = result
    row = table.set_index(["method", "signature"]).loc[("fc_sum", "rice6")]
    # 6 controls, below EP28's minimum of 20: the library warns, the benchmark records it
    assert "6 controls, below the rule's minimum of 20" in row["note"]
    assert row["limit_rule"].endswith("(calibrate)")
    zs = table.set_index(["method", "signature"]).loc[("zscore", "rice6")]
    assert zs["limit_rule"].endswith("(in-cohort controls)")


def test_missing_genes_are_a_refusal_row(result):
    table, scores = result
    # feng5 = LY6E, OAS1, OASL, MX1, ISG15: only ISG15 is in the data (1 of 5 < 3 needed)
    row = table.set_index(["method", "signature"]).loc[("fc_sum", "feng5")]
    assert row["refused"].startswith("GeneMatchError: ")
    assert "feng5" in row["refused"]
    assert np.isnan(row["auroc"])
    assert pd.isna(row["tp"])
    assert scores[(scores["signature"] == "feng5")].empty


def test_control_median_of_zero_is_a_refusal_row():
    table, _ = acc.evaluate(
        _counts(siglec1_in_controls=0),
        _sheet(),
        methods=["fc_sum", "mean_log"],
        signatures=["rice6"],
        scale="counts",
    )
    row = table.set_index("method").loc["fc_sum"]
    assert row["refused"].startswith(
        "InputError: Genes ['SIGLEC1'] have a control median of 0 in controls"
    )
    assert "exclude_genes=['SIGLEC1']" in row["refused"]
    assert np.isnan(row["auroc"])
    assert pd.isna(row["tp"])
    assert table.set_index("method").loc["mean_log", "refused"] == ""  # no centres needed
    # and leaving SIGLEC1 out scores it. T4 (50 reads of all six genes, library 82,300) now
    # differs from C1 (SIGLEC1 0: library 82,250): 50 / 82,300 < 50 / 82,250, so T4 lies below
    # C1 (no tie) and below every control: AUROC = 18 / 24
    fixed, _ = acc.evaluate(
        _counts(siglec1_in_controls=0),
        _sheet(),
        methods=["fc_sum"],
        signatures=["rice6"],
        scale="counts",
        exclude_genes=["SIGLEC1"],
    )
    assert fixed.loc[0, "refused"] == ""
    assert fixed.loc[0, "auroc"] == pytest.approx(18 / 24, abs=1e-12)


def test_refused_limit_keeps_the_auroc():
    # two controls: the robust rule needs 3, so the limit is refused, but the scores rank
    keep = ["C1", "C2", "T1", "T2", "O3"]
    table, _ = acc.evaluate(
        _counts({k: LEVELS[k] for k in keep}),
        _sheet(keep),
        methods=["fc_sum", "mean_log"],
        signatures=["rice6"],
        scale="counts",
    )
    for row in table.itertuples():
        assert "robust rule needs at least 3 control scores, got 2" in row.refused
        assert row.auroc == 1.0
        assert row.auroc_vs_other == 1.0
        assert pd.isna(row.tp)
        assert np.isnan(row.limit)


def test_sample_mismatch_is_refused():
    with pytest.raises(InputError, match=r"names 1 sample\(s\) not in the data: \['O9'\]"):
        acc.evaluate(_counts(), _sheet([*LEVELS, "O9"]), methods=["fc_sum"], signatures=["rice6"])
    with pytest.raises(InputError, match=r"the data has 1 sample\(s\) that sample sheet"):
        acc.evaluate(_counts(), _sheet(list(LEVELS)[:-1]), methods=["fc_sum"], signatures=["rice6"])


# ------------------------------------------------------------------------------ sheets and files
def _write_sheet(path, body: str) -> str:
    path.write_text("# a comment line\n" + body)
    return str(path)


def test_read_sheet(tmp_path):
    p = _write_sheet(
        tmp_path / "s.csv",
        "sample,group,type1,control\nA,ctl,false,true\nB,IFNa,TRUE,\nC,IFNg,,false\n",
    )
    sheet = acc.read_sheet(p)
    assert list(sheet.index) == ["A", "B", "C"]
    assert list(sheet["type1"]) == [False, True, None]
    assert list(sheet["control"]) == [True, False, False]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("sample,group,type1\nA,ctl,false\n", r"has no column 'control'"),
        ("sample,group,type1,control\nA,ctl,false,true\nB,x,maybe,false\n",
         r"line 4: type1 is 'maybe'; write true, false or leave it empty"),
        ("sample,group,type1,control\nA,ctl,true,true\n",
         r"line 3: sample 'A' is a control but type1 is true; a control must have type1 false"),
        ("sample,group,type1,control\nA,ctl,false,false\n", r"marks no sample control=true"),
        ("sample,group,type1,control\nA,ctl,false,true\nA,x,true,false\n",
         r"lists samples \['A'\] more than once"),
    ],
)  # fmt: skip
def test_read_sheet_errors(tmp_path, body, message):
    p = _write_sheet(tmp_path / "bad.csv", body)
    with pytest.raises(InputError, match=message) as info:
        acc.read_sheet(p)
    assert str(info.value).startswith(f"Sample sheet {p}")


def _files(tmp_path):
    data = tmp_path / "counts.csv"
    _counts().T.rename_axis("gene").to_csv(data)  # genes x samples, as pipelines write it
    sheet = _sheet()
    lines = ["sample,group,type1,control"] + [
        f"{s},{r.group},{'' if r.type1 is None else str(r.type1).lower()},{str(r.control).lower()}"
        for s, r in sheet.iterrows()
    ]
    samples = tmp_path / "samples.csv"
    samples.write_text("# made by tests/test_accuracy.py\n" + "\n".join(lines) + "\n")
    return str(data), str(samples)


def test_script_writes_the_tables(tmp_path):
    data, samples = _files(tmp_path)
    out = tmp_path / "out"
    argv = ["--data", data, "--samples", samples, "--scale", "counts", "--out", str(out)]
    rc = acc.main([*argv, "--methods", "fc_sum,ucell", "--signatures", "rice6,feng5"])
    assert rc == 0
    table = pd.read_csv(out / "accuracy.csv", keep_default_na=False)
    assert list(table.columns) == EXPECTED_COLUMNS
    assert len(table) == 4  # 2 methods x 2 signatures
    fc = table[(table["method"] == "fc_sum") & (table["signature"] == "rice6")].iloc[0]
    assert float(fc["auroc"]) == pytest.approx(18.5 / 24, abs=1e-12)
    md = (out / "accuracy.md").read_text()
    assert "| fc_sum | rice6 | 0.771 | 0.750 | 0.667 |" in md
    assert "**refused** [" in md  # feng5: genes missing
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.columns) == list(acc.SCORE_COLUMNS)


def test_bench_accuracy_cli(tmp_path, capsys):
    from ifnscore.cli import main

    data, samples = _files(tmp_path)
    out = tmp_path / "cli"
    rc = main(
        ["bench", "--accuracy", "--data", data, "--samples", samples, "--scale", "counts",
         "--out", str(out), "--methods", "fc_sum", "--signatures", "rice6"]
    )  # fmt: skip
    assert rc == 0
    assert "1 method x signature pairs on 13 samples (0 refused)" in capsys.readouterr().out
    table = pd.read_csv(out / "accuracy.csv")
    assert list(table.columns) == EXPECTED_COLUMNS
    assert table.loc[0, "auroc"] == pytest.approx(18.5 / 24, abs=1e-12)


def test_bench_accuracy_cli_errors(tmp_path, capsys):
    from ifnscore.cli import main

    data, samples = _files(tmp_path)
    assert main(["bench", "--accuracy", "--samples", samples, "--cells", "10"]) == 1
    err = capsys.readouterr().err
    assert "--cells time the synthetic benchmark and do not apply to --accuracy" in err
    assert main(["bench", "--data", data]) == 1
    assert "--data need --accuracy; add it, or leave them out." in capsys.readouterr().err
    assert main(["bench", "--accuracy", "--samples", samples]) == 1
    assert "--data is missing" in capsys.readouterr().err


def test_published_limit_rows(tmp_path):
    # rice6 publishes fc_sum < 12.49 and fc_median < 2.466 (Rice et al. 2013): one row each
    table, _ = acc.evaluate(
        _counts(),
        _sheet(),
        methods=["fc_sum", "fc_median", "mean_log"],
        signatures=["rice6"],
        scale="counts",
        published=True,
    )
    assert list(table["method"]) == ["fc_sum", "fc_median"]
    assert list(table["limit"]) == [12.49, 2.466]
    assert list(table["limit_rule"]) == ["published", "published"]
    data, samples = _files(tmp_path)
    acc.main(["--data", data, "--samples", samples, "--scale", "counts", "--out", str(tmp_path),
              "--methods", "fc_sum", "--signatures", "rice6"])  # fmt: skip
    pub = pd.read_csv(tmp_path / "accuracy_published.csv")
    assert list(pub.columns) == EXPECTED_COLUMNS
    assert pub.loc[0, "limit"] == 12.49


def test_summary_matrix(result):
    table, _ = result
    md = acc.summary_markdown(table)
    assert md.splitlines()[0] == "| method (AUROC / vs other) | rice6 | feng5 |"
    # fc_sum rice6: 18.5/24 = 0.771 and 9/12 = 0.75 (module docstring); feng5: genes missing
    assert "| fc_sum | 0.77 / 0.75 | no score |" in md


@pytest.mark.parametrize(
    ("sheet", "folder", "n_pos", "n_other", "n_controls"),
    [
        ("jankowski_hppt_samples.csv", "expression/jankowski_hppt", 6, 6, 3),
        ("lee_saec_samples.csv", "expression/lee_saec", 9, 3, 4),
        ("lee_saec_lambda_other_samples.csv", "expression/lee_saec", 6, 6, 4),
    ],
)
def test_real_sheets_name_every_count_file(sheet, folder, n_pos, n_other, n_controls):
    # a count file's sample is its name without .txt (GSM<id>_<cells>_<treatment>_rep<n>)
    files = sorted(p.stem for p in real(folder).glob("GSM*.txt"))
    s = acc.read_sheet(SHEETS / sheet)
    assert sorted(s.index) == files
    t1 = list(s["type1"])
    assert (t1.count(True), t1.count(None), int(s["control"].sum())) == (n_pos, n_other, n_controls)
    for name, row in s.iterrows():  # the label follows the treatment in the name
        treatment = name.split("_")[2]
        want = {"IFNa": True, "IFNb": True, "IFNg": None, "IL1b": None, "untreated": False,
                "Control": False, "IFNl3": None if "lambda_other" in sheet else True}[treatment]  # fmt: skip
        assert row["type1"] is want, name


def test_real_fpkm_sheet_names_every_column():
    path = real("expression/fujiwara_gse120844/GSE120844_FPKM_table-4.txt")
    # the header line: Genes, CTRL_1, CTRL_2, IFNG_1, IFNG_2, POMALYST_1/2, POMIFNG_1/2
    header = path.read_text().split("\n", 1)[0].split("\t")[1:]
    s = acc.read_sheet(SHEETS / "fujiwara_gse120844_samples.csv")
    assert list(s.index) == header
    assert list(s["type1"]) == [False, False, None, None, False, False, None, None]
    assert list(s["control"]) == [True, True] + [False] * 6
