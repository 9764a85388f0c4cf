"""Per-sample count files (HTSeq / GEO), STAR ReadsPerGene, kallisto abundance.tsv, and the
folder rules (what is read, what is left out and reported)."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest
from _real import real

import ifnscore
from ifnscore._io import _resolve, _sniff
from ifnscore._io._pipelines import (
    FileList,
    non_data_reason,
    read_kallisto,
    read_star,
    sample_name,
)
from ifnscore.errors import IfnscoreWarning, InputError

HPPT = "expression/jankowski_hppt"
SAEC = "expression/lee_saec"
#: rice6 without SIGLEC1, which is 0 in every control of these data sets (README of the
#: real files), so its fold change is undefined
FC_GENES = ["IFI27", "IFI44L", "IFIT1", "ISG15", "RSAD2"]


def _calibrate(controls):
    # 3-4 controls: below EP28's 20 (warned); the SAEC controls' ISGs are also low-count (warned)
    with pytest.warns(IfnscoreWarning) as w:
        ref = ifnscore.calibrate(controls, signature=FC_GENES, method="fc_sum", scale="counts")
    assert any("below the rule's minimum of 20" in str(m.message) for m in w)
    return ref


def _scores(adata, ref):
    mean_log = ifnscore.score(
        adata, signature="rice6", method="mean_log", scale="counts", copy=True
    ).obs["ifnscore"]
    fc = ifnscore.score(adata, reference=ref, scale="counts", copy=True).obs["ifnscore"]
    return mean_log.to_numpy(), fc.to_numpy()


# --------------------------------------------------------------------------- real files


@pytest.mark.parametrize(
    ("folder", "name", "controls"),
    [
        (HPPT, "GSM4923334_HPPT_IFNa_rep1", "untreated"),
        (HPPT, "GSM4923348_HPPT_untreated_rep3", "untreated"),
        (SAEC, "GSM4912453_SAEC_IFNa_rep1", "Control"),
    ],
)
def test_real_file_alone_scores_exactly_as_in_its_folder(folder, name, controls):
    d = real(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a folder of count files only: nothing is left out
        full = ifnscore.read(d)
    alone = ifnscore.read(d / f"{name}.txt")
    assert alone.uns["ifnscore_read"]["format"] == "count_files"
    assert alone.uns["ifnscore_read"]["scale"] == "counts"
    assert list(alone.obs_names) == [name]  # GEO's GSM..._name kept whole
    assert list(alone.var_names) == list(full.var_names)
    np.testing.assert_array_equal(alone.X[0], full[name].X[0])
    ref = _calibrate(full[[s for s in full.obs_names if f"_{controls}_" in s]])
    a_mean, a_fc = _scores(alone, ref)
    f_mean, f_fc = _scores(full, ref)
    k = list(full.obs_names).index(name)
    assert a_mean[0] == f_mean[k]  # bit for bit
    assert a_fc[0] == f_fc[k]


def test_real_count_file_values_by_eye():
    p = real(HPPT) / "GSM4923334_HPPT_IFNa_rep1.txt"
    a = ifnscore.read(p)
    s = a.to_df().iloc[0]
    # first lines of the file: "A1BG\t14", "A1BG-AS1\t43", "A1CF\t11"; last gene "ZZZ3\t4620"
    assert (s["A1BG"], s["A1BG-AS1"], s["A1CF"], s["ZZZ3"]) == (14, 43, 11, 4620)
    assert a.var_names[0] == "A1BG"
    assert a.var_names[-1] == "ZZZ3"
    # grep IFIT1 / RSAD2 / SIGLEC1 in the file: 61680, 25932, 0
    assert (s["IFIT1"], s["RSAD2"], s["SIGLEC1"]) == (61680, 25932, 0)
    # the file's last five lines are HTSeq's summary rows, not genes
    summary = a.uns["ifnscore_read"]["htseq_summary"]
    name = "GSM4923334_HPPT_IFNa_rep1"
    assert summary["__no_feature"][name] == 20093482
    assert summary["__ambiguous"][name] == 517010
    assert summary["__too_low_aQual"][name] == 0
    assert summary["__not_aligned"][name] == 0
    assert summary["__alignment_not_unique"][name] == 8224830
    assert not any(g.startswith("__") for g in a.var_names)
    # 26369 lines - 5 summary rows = 26364 genes
    assert a.n_vars == 26364
    # library size = sum of the gene lines only (awk '$1 !~ /^__/ {s+=$2}': 28186903)
    assert a.obs[ifnscore._io.LIBRARY_SIZE_KEY].iloc[0] == 28186903
    assert float(a.X.sum()) == 28186903


def test_real_type1_ifn_raises_the_score_over_untreated():
    full = ifnscore.read(real(HPPT))
    ref = _calibrate(full[[s for s in full.obs_names if "_untreated_" in s]])
    sc = ifnscore.score(full, reference=ref, scale="counts", copy=True).obs["ifnscore"]
    ifna = sc[[s for s in sc.index if "_IFNa_" in s]]
    il1b = sc[[s for s in sc.index if "_IL1b_" in s]]
    assert ifna.min() > il1b.max()


# --------------------------------------------------------------------------- one file, headers


def _htseq(path: Path, genes: dict[str, int], *, header: str | None = None, gz: bool = False):
    lines = ([header] if header else []) + [f"{g}\t{v}" for g, v in genes.items()]
    lines += ["__no_feature\t100", "__ambiguous\t7", "__too_low_aQual\t0"]
    lines += ["__not_aligned\t3", "__alignment_not_unique\t50"]
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


GENES = {"IFI27": 900, "ISG15": 300, "ACTB": 5000, "GAPDH": 7000}


@pytest.mark.parametrize(
    ("fname", "header", "gz"),
    [
        ("GSM1_ctrl_rep1.txt", None, False),
        ("GSM1_ctrl_rep1.txt.gz", None, True),
        ("GSM1_ctrl_rep1.counts.tsv", "gene_id\tcount", False),
        ("GSM1_ctrl_rep1.txt", "Geneid\tsample_A", False),
    ],
)
def test_one_count_file_is_one_sample_named_after_the_file(tmp_path, fname, header, gz):
    p = _htseq(tmp_path / fname, GENES, header=header, gz=gz)
    assert _sniff(p) == "count_files"
    a = ifnscore.read(p)
    assert list(a.obs_names) == ["GSM1_ctrl_rep1"]
    assert list(a.var_names) == list(GENES)
    np.testing.assert_array_equal(a.X[0], [900, 300, 5000, 7000])
    assert a.obs[ifnscore._io.LIBRARY_SIZE_KEY].iloc[0] == 900 + 300 + 5000 + 7000
    info = a.uns["ifnscore_read"]
    assert info["htseq_summary"]["__no_feature"]["GSM1_ctrl_rep1"] == 100
    assert info["headers"] == ({"GSM1_ctrl_rep1": header.split("\t")} if header else {})


def test_first_line_with_a_number_second_is_data_not_header(tmp_path):
    p = tmp_path / "s.txt"
    p.write_text("IFI27\t12\nISG15\t3\n")
    a = ifnscore.read(p)
    assert list(a.var_names) == ["IFI27", "ISG15"]
    np.testing.assert_array_equal(a.X[0], [12, 3])


def test_count_file_errors_name_the_file_and_line(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("IFI27\t12\nISG15\t3\t4\n")
    with pytest.raises(InputError, match=r"bad\.txt: line 2 has 3 fields; a count file has two"):
        ifnscore.read([p, _htseq(tmp_path / "ok.txt", GENES)])
    p.write_text("IFI27\t12\nISG15\tthree\n")
    with pytest.raises(InputError, match=r"bad\.txt: line 2: count 'three' for gene 'ISG15'"):
        ifnscore.read(p, format="count_files")
    p.write_text("gene\tcount\n")
    with pytest.raises(InputError, match=r"bad\.txt is empty \(no gene, count lines\)"):
        ifnscore.read(p, format="count_files")


def test_duplicate_sample_names_from_two_folders(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    x = _htseq(tmp_path / "a" / "S1.txt", GENES)
    y = _htseq(tmp_path / "b" / "S1.counts.txt", GENES)
    with pytest.raises(InputError, match=r"S1\.counts\.txt'.*sample name 'S1'.*also that of") as e:
        ifnscore.read([x, y])
    assert "rename one" in str(e.value)


def test_sample_names():
    assert sample_name(Path("S1.counts.txt.gz")) == "S1"
    assert sample_name(Path("GSM4923334_HPPT_IFNa_rep1.txt")) == "GSM4923334_HPPT_IFNa_rep1"
    assert sample_name(Path("/x/S2/quant.sf")) == "S2"
    assert sample_name(Path("/x/S3/abundance.tsv")) == "S3"
    assert sample_name(Path("/x/S4_ReadsPerGene.out.tab")) == "S4"
    assert sample_name(Path("/x/S5.ReadsPerGene.out.tab.gz")) == "S5"
    assert sample_name(Path("/x/S6/ReadsPerGene.out.tab")) == "S6"


# --------------------------------------------------------------------------- folders


def test_folder_reports_what_it_leaves_out(tmp_path):
    d = tmp_path / "geo"
    d.mkdir()
    _htseq(d / "S1.txt", GENES)
    _htseq(d / "S2.txt.gz", {g: v + 1 for g, v in GENES.items()}, gz=True)
    for name in ("README.md", "run.sh", "analysis.py", "PROVENANCE.txt", "LICENSE", "meta.json"):
        (d / name).write_text("not counts\n")
    (d / "heatmap.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (d / "extra").mkdir()
    with pytest.warns(IfnscoreWarning, match=r"read 2 count_files file\(s\); left out 8") as w:
        a = ifnscore.read(d)
    assert "README.md (documentation, licence or provenance)" in str(w[0].message)
    assert list(a.obs_names) == ["S1", "S2"]
    np.testing.assert_array_equal(a.X[1], [901, 301, 5001, 7001])
    skipped = {s["file"]: s["reason"] for s in a.uns["ifnscore_read"]["skipped"]}
    assert set(skipped) == {
        "README.md",
        "run.sh",
        "analysis.py",
        "PROVENANCE.txt",
        "LICENSE",
        "meta.json",
        "heatmap.png",
        "extra",
    }
    assert skipped["run.sh"] == "a script"
    assert skipped["PROVENANCE.txt"] == "documentation, licence or provenance"
    assert skipped["heatmap.png"] == "an image"
    assert skipped["extra"].startswith("a folder")


def test_folder_file_that_could_be_data_is_read_and_named_when_malformed(tmp_path):
    d = tmp_path / "geo"
    d.mkdir()
    _htseq(d / "S1.txt", GENES)
    (d / "samples.tsv").write_text("sample\tgroup\ttime\nS1\tctrl\t0\n")
    with pytest.raises(InputError, match=r"samples\.tsv: line 1 has 3 fields") as e:
        ifnscore.read(d)
    assert "move it out of the folder" in str(e.value)


def test_folder_of_documentation_only(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "README.md").write_text("x\n")
    with pytest.raises(
        InputError,
        match=r"holds no data file: README\.md \(documentation, licence or provenance\); give",
    ):
        ifnscore.read(d)


def test_non_data_reason():
    assert non_data_reason(Path("README")) == "documentation, licence or provenance"
    assert non_data_reason(Path("readme.txt")) == "documentation, licence or provenance"
    assert non_data_reason(Path("LICENSE.md")) == "documentation, licence or provenance"
    assert non_data_reason(Path("S1Log.final.out")).startswith("a STAR log")
    assert non_data_reason(Path("notes.html.gz")) == "a document"
    assert non_data_reason(Path("S1.txt")) is None
    assert non_data_reason(Path("S1.tsv.gz")) is None
    assert non_data_reason(Path("GSM1_counts.csv")) is None


def test_mixed_formats_refused(tmp_path):
    c = _htseq(tmp_path / "S1.txt", GENES)
    r = tmp_path / "x.sf"
    r.write_text("Name\tLength\tEffectiveLength\tTPM\tNumReads\nT1\t10\t5\t1\t2\n")
    with pytest.raises(InputError, match=r"different formats \(count_files: .*S1\.txt'; salmon"):
        ifnscore.read([c, r])


def test_folder_with_a_one_file_format_is_refused(tmp_path):
    _htseq(tmp_path / "S1.txt", GENES)
    with pytest.raises(InputError, match=r"is a folder, but format 'gct' reads one file"):
        ifnscore.read(tmp_path, format="gct")


# --------------------------------------------------------------------------- STAR


def _star(path: Path, rows: dict[str, tuple[int, int, int]], special=(10, 20, 30, 40)):
    lines = [
        f"N_unmapped\t{special[0]}\t{special[0]}\t{special[0]}",
        f"N_multimapping\t{special[1]}\t{special[1]}\t{special[1]}",
        f"N_noFeature\t{special[2]}\t{special[2] * 9}\t{special[2] // 3}",
        f"N_ambiguous\t{special[3]}\t{special[3]}\t{special[3]}",
    ]
    lines += [f"{g}\t{a}\t{b}\t{c}" for g, (a, b, c) in rows.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


REV = {"ENSG01": (100, 3, 97), "ENSG02": (50, 1, 49), "ENSG03": (0, 0, 0)}  # reverse-stranded
FWD = {g: (a, c, b) for g, (a, b, c) in REV.items()}
UNS = {"ENSG01": (100, 52, 48), "ENSG02": (50, 24, 26), "ENSG03": (0, 0, 0)}


def test_star_strand_given_uses_that_column(tmp_path):
    p = _star(tmp_path / "S1_ReadsPerGene.out.tab", REV)
    assert _sniff(p) == "star"
    for strand, col in (
        ("unstranded", [100, 50, 0]),
        ("forward", [3, 1, 0]),
        ("reverse", [97, 49, 0]),
    ):
        a = read_star([p], strand=strand)
        assert list(a.obs_names) == ["S1"]
        assert list(a.var_names) == ["ENSG01", "ENSG02", "ENSG03"]  # N_* rows are not genes
        np.testing.assert_array_equal(a.X[0], col)
        assert a.obs[ifnscore._io.LIBRARY_SIZE_KEY].iloc[0] == sum(col)
        info = a.uns["ifnscore_read"]
        assert info["strand"] == strand
        assert info["strand_inferred"] is False
        assert info["column"] == {"unstranded": 2, "forward": 3, "reverse": 4}[strand]
    # the N_noFeature row of column 3 (forward) is 30 * 9 = 270
    assert (
        read_star([p], strand="forward").uns["ifnscore_read"]["star_summary"]["N_noFeature"]["S1"]
        == 270
    )


@pytest.mark.parametrize(
    ("rows", "strand", "share"),
    [(REV, "reverse", 4 / 150), (FWD, "forward", 146 / 150), (UNS, "unstranded", 76 / 150)],
)
def test_star_strand_inferred_and_reported(tmp_path, rows, strand, share):
    paths = [_star(tmp_path / f"S{i}ReadsPerGene.out.tab", rows) for i in (1, 2)]
    with pytest.warns(IfnscoreWarning, match=rf"using column \d \(strand='{strand}'\)"):
        a = read_star(paths)
    info = a.uns["ifnscore_read"]
    assert info["strand"] == strand
    assert info["strand_inferred"] is True
    assert info["forward_share"]["S1"] == pytest.approx(share, rel=1e-12)
    assert "inferred from the gene totals" in info["strand_reason"]
    assert list(a.obs_names) == ["S1", "S2"]


def test_star_strand_unclear_or_disagreeing_is_refused(tmp_path):
    mid = {"ENSG01": (100, 70, 30), "ENSG02": (10, 7, 3)}  # 70% forward: neither
    p = _star(tmp_path / "S1ReadsPerGene.out.tab", mid)
    with pytest.raises(InputError, match=r"sample 'S1'.*holds 70% .*pass strand="):
        read_star([p])
    q = _star(tmp_path / "S2ReadsPerGene.out.tab", REV)
    r = _star(tmp_path / "S3ReadsPerGene.out.tab", UNS)
    with pytest.raises(InputError, match=r"disagree on the strand \(reverse: \['S2'\]; unstranded"):
        read_star([q, r])
    with pytest.raises(InputError, match=r"strand='yes' is not valid for STAR"):
        read_star([q], strand="yes")


def test_star_malformed(tmp_path):
    p = _star(tmp_path / "S1ReadsPerGene.out.tab", REV)
    p.write_text(p.read_text().replace("ENSG02\t50\t1\t49", "ENSG02\t50\t1"))
    with pytest.raises(InputError, match=r"S1ReadsPerGene\.out\.tab: line 6 has 3 fields"):
        read_star([p], strand="reverse")
    p.write_text("ENSG01\t1\t2\t3\n")
    with pytest.raises(InputError, match=r"summary rows \['N_unmapped'.*missing"):
        read_star([p], strand="reverse")


def test_star_folder_resolves_and_leaves_out_logs(tmp_path):
    d = tmp_path / "star"
    _star(d / "S1_ReadsPerGene.out.tab", REV)
    _star(d / "S2_ReadsPerGene.out.tab", REV)
    (d / "S1_Log.final.out").write_text("log\n")
    (d / "S1_SJ.out.tab").write_text("chr1\t1\t2\t0\t0\t0\t1\t0\t10\n")
    with pytest.warns(IfnscoreWarning, match="left out 2"):
        fmt, files = _resolve([d], "auto")
    assert fmt == "star"
    assert [f.name for f in files] == ["S1_ReadsPerGene.out.tab", "S2_ReadsPerGene.out.tab"]
    assert isinstance(files, FileList)
    a = read_star(files, strand="reverse")
    assert list(a.obs_names) == ["S1", "S2"]
    assert {s["file"] for s in a.uns["ifnscore_read"]["skipped"]} == {
        "S1_Log.final.out",
        "S1_SJ.out.tab",
    }
    # one subfolder per sample (STAR run per sample into its own folder)
    e = tmp_path / "per_sample"
    _star(e / "A" / "ReadsPerGene.out.tab", REV)
    _star(e / "B" / "ReadsPerGene.out.tab", REV)
    fmt, files = _resolve([e], "auto")
    assert fmt == "star"
    assert list(read_star(files, strand="reverse").obs_names) == ["A", "B"]


# --------------------------------------------------------------------------- kallisto


def _kallisto(folder: Path, est: list[float], tpm: list[float]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "abundance.tsv"
    rows = [
        f"ENST0{i}\t{1000 + i}\t{900.5 + i}\t{e}\t{t}"
        for i, (e, t) in enumerate(zip(est, tpm, strict=True))
    ]
    p.write_text("target_id\tlength\teff_length\test_counts\ttpm\n" + "\n".join(rows) + "\n")
    (folder / "run_info.json").write_text("{}\n")
    return p


def test_kallisto_folder_and_quantities(tmp_path):
    d = tmp_path / "kallisto"
    _kallisto(d / "S1", [10.5, 0.0, 3.0], [500000.0, 0.0, 500000.0])
    _kallisto(d / "S2", [1.0, 2.0, 3.0], [100000.0, 200000.0, 700000.0])
    (d / "README.md").write_text("x\n")
    with pytest.warns(IfnscoreWarning, match=r"left out 1.*README\.md"):
        fmt, files = _resolve([d], "auto")
    assert fmt == "kallisto"
    assert _sniff(files[0]) == "kallisto"
    a = read_kallisto(files)
    assert list(a.obs_names) == ["S1", "S2"]
    assert list(a.var_names) == ["ENST00", "ENST01", "ENST02"]
    np.testing.assert_array_equal(a.X, [[10.5, 0.0, 3.0], [1.0, 2.0, 3.0]])
    assert a.uns["ifnscore_read"]["scale"] == "counts"
    t = read_kallisto(files, quantity="tpm")
    np.testing.assert_array_equal(t.X[1], [100000.0, 200000.0, 700000.0])
    assert t.uns["ifnscore_read"]["scale"] == "linear"
    with pytest.raises(InputError, match=r"quantity='TPM' is not valid for kallisto"):
        read_kallisto(files, quantity="TPM")


def test_kallisto_tx2gene_and_bad_header(tmp_path):
    p = _kallisto(tmp_path / "S1", [10.0, 5.0, 3.0], [1.0, 2.0, 3.0])
    t2g = tmp_path / "t2g.tsv"
    t2g.write_text("ENST00\tISG15\nENST01\tISG15\nENST02\tIFI27\n")
    a = read_kallisto([p], tx2gene=t2g)
    assert list(a.var_names) == ["ISG15", "IFI27"]
    np.testing.assert_array_equal(a.X[0], [15.0, 3.0])
    p.write_text("target_id\tlength\test_counts\nT\t1\t2\n")
    with pytest.raises(
        InputError, match=r"not a kallisto abundance\.tsv \(missing columns \['eff_length', 'tpm'\]"
    ):
        read_kallisto([p])


def test_tables_are_not_count_files(tmp_path):
    wide = tmp_path / "matrix.tsv"
    wide.write_text("gene\tS1\tS2\nIFI27\t1\t2\nISG15\t3\t4\n")
    assert _sniff(wide) == "delimited"
    csv = tmp_path / "two.csv"  # comma-separated: a table, read by the delimited reader
    csv.write_text("gene,S1\nIFI27,1\n")
    assert _sniff(csv) == "delimited"
    text = tmp_path / "notes.txt"
    text.write_text("IFI27 rose\tafter treatment\n")
    assert _sniff(text) == "delimited"


def test_star_and_kallisto_through_read(tmp_path):
    """STAR ReadsPerGene.out.tab and kallisto abundance.tsv through the public ifnscore.read."""
    genes = ["IFI27", "ISG15", "ACTB"]
    star = tmp_path / "S1ReadsPerGene.out.tab"
    lines = ["N_unmapped\t10\t10\t10", "N_multimapping\t5\t5\t5", "N_noFeature\t7\t900\t20",
             "N_ambiguous\t3\t1\t2"]  # fmt: skip
    lines += [f"{g}\t{100 + i}\t{2 * i}\t{90 + i}" for i, g in enumerate(genes)]
    star.write_text("\n".join(lines) + "\n")
    a = ifnscore.read(star, strand="reverse")
    assert list(a.obs_names) == ["S1"]
    assert a.X[0].tolist() == [90.0, 91.0, 92.0]  # column 4 = reverse
    k = tmp_path / "K1"
    k.mkdir()
    (k / "abundance.tsv").write_text(
        "target_id\tlength\teff_length\test_counts\ttpm\n"
        + "".join(
            f"{g}\t1000\t900\t{10.5 * (i + 1)}\t{3.0 * (i + 1)}\n" for i, g in enumerate(genes)
        )
    )
    b = ifnscore.read(k / "abundance.tsv", quantity="tpm")
    assert list(b.obs_names) == ["K1"]
    assert b.X[0].tolist() == [3.0, 6.0, 9.0]
    assert b.uns["ifnscore_read"]["scale"] == "linear"
