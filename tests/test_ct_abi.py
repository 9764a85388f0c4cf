"""The Applied Biosystems reader (ifnscore/_io/_ct/_abi.py).

Real files: values are read by eye from the files' own text (the line or cell is quoted in
a comment). Synthetic files are written in the vendor's layout for what the real ones lack.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from _real import real

from ifnscore._io._ct import _abi, read_ct
from ifnscore._io._ct._common import probe_file
from ifnscore.errors import InputError

QS3 = "qpcr/quantstudio3_autoqpcr"
ALLO = "qpcr/quantstudio_allotropy"
DA = "qpcr/quantstudio_design_analysis"


def _ct(df, well, target=None):
    sel = df[df["well"] == well]
    if target is not None:
        sel = sel[sel["target"] == target]
    assert len(sel) == 1, (well, target, len(sel))
    return sel.iloc[0]


# --------------------------------------------------------------------------- real files


def test_quantstudio3_csv_standard_curve():
    df = read_ct(real(f"{QS3}/2019-04-25_124559-GAPDH.csv"))
    # data lines 48..141 (header on line 47, 45 Key,Value rows and a blank row above it)
    assert len(df) == 94
    assert set(df["target"]) == {"GAPDH"}
    assert int(df["undetermined"].sum()) == 0
    # line 48: 1,A1,0,AiW001-2-IPSC,GAPDH,UNKNOWN,VIC,NFQ-MGB,21.697,21.525(Ct Mean),...
    a1 = _ct(df, "A1")
    assert a1["ct"] == pytest.approx(21.697, abs=1e-9)
    assert a1["sample"] == "AiW001-2-IPSC"
    assert a1["task"] == "unknown"
    assert not a1["omitted"]
    # line 57: 10,A10,0,,GAPDH,STANDARD,VIC,NFQ-MGB,18.930,19.030,0.117,50.000
    a10 = _ct(df, "A10")
    assert a10["ct"] == pytest.approx(18.930, abs=1e-9)
    assert a10["task"] == "standard"
    assert a10["sample"] == ""
    assert a10["quantity"] == pytest.approx(50.0)
    # line 141: 96,H12,0,,GAPDH,STANDARD,VIC,NFQ-MGB,35.421,35.481,...
    assert _ct(df, "H12")["ct"] == pytest.approx(35.421, abs=1e-9)
    assert _ct(df, "A1")["dye"] == "VIC"
    info = df.attrs["ifnscore_ct"]
    assert info["vendor"] == "Applied Biosystems"
    assert info["instrument"] == "QuantStudio 3 System"  # 'QuantStudio™ 3 System'
    assert info["run_date"] == "2019-04-25T10:26:48-07:00"  # '2019-04-25 10:26:48 AM PDT'
    assert info["experiment"] == "2019-04-25_124559"
    assert "barcode" not in info  # 'Experiment Barcode,' is empty
    assert info["file"] == "2019-04-25_124559-GAPDH.csv"


def test_quantstudio_csv_384_undetermined_and_rq_footer():
    df = read_ct(real(f"{QS3}/INSTABILITY_example.csv"))
    assert len(df) == 138
    assert set(df["target"]) == {
        "CHR1",
        "CHR4",
        "CHR8",
        "CHR10",
        "CHR12",
        "CHR17",
        "CHR18",
        "CHR20",
        "CHRX",
    }
    # lines 183-185: 358,O22,FALSE,,CHR17,UNKNOWN,...,Undetermined,... (also O23, O24)
    und = df[df["undetermined"]]
    assert sorted(und["well"]) == ["O22", "O23", "O24"]
    assert (und["sample"] == "").all()
    assert und["ct"].isna().all()
    # line 48: 1,A1,FALSE,Normal,CHR1,...,24.702,24.755(Ct Mean),0.046
    assert _ct(df, "A1")["ct"] == pytest.approx(24.702, abs=1e-9)
    # line 165: 184,H16,FALSE,GM25952,CHRX,...,27.371,27.256,...
    assert _ct(df, "H16")["ct"] == pytest.approx(27.371, abs=1e-9)
    assert not df["omitted"].any()  # Omit is FALSE everywhere
    info = df.attrs["ifnscore_ct"]
    # footer lines 186-189: Analysis Type,Singleplex / Endogenous Control,CHR1 / Reference Sample,normal
    assert info["endogenous_control"] == "CHR1"
    assert info["reference_sample"] == "normal"
    assert any("Analysis Type" in n for n in info["notes"])


def test_quantstudio_csv_relative_with_empty_rows():
    df = read_ct(real(f"{QS3}/RELATIVE_example.csv"))
    assert len(df) == 60  # 60 well lines, then 233 all-comma rows and the RQ footer
    assert set(df["target"]) == {"ACTB", "GAPDH", "CAMK2A", "GRIN1", "PAX6"}
    assert int(df["undetermined"].sum()) == 0
    # line 48: 10,A10,FALSE,AiW002-2-D0,PAX6,...,26.258,26.013,...
    assert _ct(df, "A10")["ct"] == pytest.approx(26.258, abs=1e-9)
    # line 96: 163,G19,FALSE,KYOU-D7,ACTB,UNKNOWN,VIC,...,18.766,18.757,0.241
    g19 = _ct(df, "G19")
    assert g19["ct"] == pytest.approx(18.766, abs=1e-9)
    assert g19["sample"] == "KYOU-D7"
    assert df.attrs["ifnscore_ct"]["endogenous_control"] == "ACTB, GAPDH"


def test_viia7_text_sections():
    df = read_ct(real(f"{ALLO}/appbio_quantstudio_example01.txt"))
    # [Results] lines 110-125: 16 wells (A13, A14 are empty in [Sample Setup] and absent)
    assert len(df) == 16
    assert set(df["target"]) == {"TARGET_1"}
    assert "A13" not in set(df["well"])
    # line 110: 1 A1 false 1SAMPLE_1.1 TARGET_1 UNKNOWN SYBR None ... 18.717 18.717
    assert _ct(df, "A1")["ct"] == pytest.approx(18.717, abs=1e-9)
    # line 123: 16 A16 false 14SAMPLE_5.2 ... 18.106
    assert _ct(df, "A16")["ct"] == pytest.approx(18.106, abs=1e-9)
    assert _ct(df, "A16")["sample"] == "14SAMPLE_5.2"
    info = df.attrs["ifnscore_ct"]
    assert info["instrument"] == "ViiA 7"
    assert info["run_date"] == "2001-12-31T21:09:19-05:00"  # '2001-12-31 09:09:19 PM EST'
    assert info["experiment"] == "trial 1"
    assert "barcode" not in info  # 'Experiment Barcode = NA'
    assert info["format"] == "Applied Biosystems results text"


def test_qs7_flex_text_standard_curve():
    df = read_ct(real(f"{ALLO}/appbio_quantstudio_example04.txt"))
    assert len(df) == 95  # 96-well plate, well 95 (H11) absent from [Results]
    assert set(df["target"]) == {"RNase P"}
    # lines 415-418: 37 D1 false  RNase P NTC FAM NFQ-MGB Undetermined (D1..D4)
    und = df[df["undetermined"]]
    assert sorted(und["well"]) == ["D1", "D2", "D3", "D4"]
    assert (und["task"] == "ntc").all()
    # line 379: 1 A1 false 5K RNase P UNKNOWN FAM NFQ-MGB 27.102 27.211 0.063 5,720.562
    a1 = _ct(df, "A1")
    assert a1["ct"] == pytest.approx(27.102, abs=1e-9)
    assert a1["quantity"] == pytest.approx(5720.562, abs=1e-9)  # thousands separator read
    # line 419: 41 D5 false  RNase P STANDARD FAM NFQ-MGB 29.331 29.402 0.077 1,250.000
    d5 = _ct(df, "D5")
    assert d5["ct"] == pytest.approx(29.331, abs=1e-9)
    assert d5["task"] == "standard"
    assert d5["quantity"] == pytest.approx(1250.0)
    # line 439: 61 F1 false 10K RNase P UNKNOWN ... 26.222
    assert _ct(df, "F1")["ct"] == pytest.approx(26.222, abs=1e-9)
    info = df.attrs["ifnscore_ct"]
    assert info["instrument"] == "QuantStudio 7 Flex System"  # 'QuantStudio(TM) 7 Flex System'
    assert info["run_date"] == "2010-10-21T00:51:26-04:00"
    assert info["experiment_type"] == "Standard Curve"


def test_qs7_flex_xlsx_crt_multiplex():
    df = read_ct(real(f"{ALLO}/appbio_quantstudio_example08.xlsx"))
    # sheet Results rows 44..79 (header row 43 after 41 preamble rows and a blank row)
    assert len(df) == 36
    assert set(df["target"]) == {
        "18S", "TJP-1 Rhesus", "TJP-1 Human", "AqP4- Rhesus", "AQP4-Human", "ANPEP-Rhesus", "ANPEP-Human"
    }  # fmt: skip
    # row 44: 1, A1, False, 13May2022-Rh-1, 18S, UNKNOWN, VIC, ..., CRT 11.32002067565918
    # row 45: 1, A1, False, 13May2022-Rh-1, TJP-1 Rhesus, UNKNOWN, FAM, ..., CRT 26.776044845581055
    assert _ct(df, "A1", "18S")["ct"] == pytest.approx(11.32002067565918, abs=1e-12)
    assert _ct(df, "A1", "TJP-1 Rhesus")["ct"] == pytest.approx(26.776044845581055, abs=1e-12)
    assert _ct(df, "A1", "18S")["dye"] == "VIC"
    assert _ct(df, "A1", "TJP-1 Rhesus")["dye"] == "FAM"
    # row 79: 30, C6, ..., ANPEP-Human, ..., CRT 31.152690887451172
    assert _ct(df, "C6", "ANPEP-Human")["ct"] == pytest.approx(31.152690887451172, abs=1e-12)
    assert (df.groupby("well").size() == 2).all()  # every well is a duplex
    info = df.attrs["ifnscore_ct"]
    assert info["ct_method"] == "Crt"
    assert any("Relative Threshold" in n for n in info["notes"])
    # 'Experiment Run End Time' = '2022-08-12 16:28:28 PM EDT' (24-hour time with PM)
    assert info["run_date"] == "2022-08-12T16:28:28-04:00"
    assert info["file"] == "appbio_quantstudio_example08.xlsx"
    assert info["sheet"] == "Results"


def test_design_analysis_standard_curve():
    df = read_ct(
        real(f"{DA}/appbio_quantstudio_designandanalysis_QS1_Standard_Curve_example01.xlsx")
    )
    assert len(df) == 96  # Results rows 26..121
    assert set(df["target"]) == {"RNaseP"}
    # rows D1..D4: NTC, Cq 'UNDETERMINED'
    und = df[df["undetermined"]]
    assert sorted(und["well"]) == ["D1", "D2", "D3", "D4"]
    assert (und["task"] == "ntc").all()
    # row 26: 1, A1, FALSE, Unk_5K, RNaseP, UNKNOWN, FAM, ..., Cq 28.037617264150633, Cq Mean 28.342...
    assert _ct(df, "A1")["ct"] == pytest.approx(28.037617264150633, abs=1e-12)
    # last row: 96, H12, FALSE, Unk_10K, RNaseP, ..., Cq 27.2155721737741
    assert _ct(df, "H12")["ct"] == pytest.approx(27.2155721737741, abs=1e-12)
    # 'Standard Curve Result' sheet: D5 Std_1250 Quantity 1250 (Replicate Group Result: Std_1250 1250.0)
    d5 = _ct(df, "D5")
    assert d5["task"] == "standard"
    assert d5["sample"] == "Std_1250"
    assert d5["quantity"] == 1250.0
    assert int((df["task"] == "standard").sum()) == 20
    assert (
        df.loc[df["task"] != "standard", "quantity"].isna().all()
    )  # computed quantities not taken
    info = df.attrs["ifnscore_ct"]
    assert info["software"] == "Design & Analysis Software"
    assert info["version"] == "2.7.0"
    assert info["instrument"] == "QuantStudio 1 System"
    assert info["run_date"] == "2018-06-01T00:54:47-04:00"  # 'Run End Data/Time' 12:54:47 AM EDT
    assert info["experiment"] == "QS1_Standard_Curve"  # from 'File Name' ...\QS1_Standard_Curve.eds


def test_design_analysis_relative_quantification():
    df = read_ct(
        real(
            f"{DA}/appbio_quantstudio_designandanalysis_QS3_Relative_Quantification_example02.xlsx"
        )
    )
    assert len(df) == 156  # Results rows 26..181
    assert set(df["target"]) == {"RNaseP", "IPC"}
    # row 26: 1, A1, FALSE, '', RNaseP, NTC, FAM, ..., NO_AMP, ..., 'UNDETERMINED'
    a1 = _ct(df, "A1", "RNaseP")
    assert a1["undetermined"]
    assert math.isnan(a1["ct"])
    assert a1["task"] == "ntc"
    # row 27: 2, A2, FALSE, '200.0', RNaseP, STANDARD, ..., Cq 30.63431941024927
    a2 = _ct(df, "A2", "RNaseP")
    assert a2["ct"] == pytest.approx(30.63431941024927, abs=1e-12)
    assert a2["sample"] == "200.0"
    # last row: 96, H12, FALSE, Unk_400, RNaseP, UNKNOWN, ..., Cq 29.558040383296664
    assert _ct(df, "H12", "RNaseP")["ct"] == pytest.approx(29.558040383296664, abs=1e-12)
    assert int(df["undetermined"].sum()) == 4
    assert "quantity" not in df.columns  # no Quantity column and no Standard Curve Result sheet
    assert df.attrs["ifnscore_ct"]["instrument"] == "QuantStudio 3 System"


@pytest.mark.parametrize(
    "relative",
    [
        "qpcr/cfx_maestro/cfxmaestro_example01.csv",
        "qpcr/lightcycler480/Edward_qPCR_Nrd1_calibration_2019-02-02_Cq.txt.gz",
        "qpcr/rdml/eva_green_a.rdml",
    ],
)
def test_sniff_leaves_other_vendors_alone(relative):
    assert _abi.sniff(probe_file(real(relative))) is False


# --------------------------------------------------------------------------- synthetic files

STEPONE_HEAD = (
    "* Block Type = StepOnePlus(TM) Instrument (96 Wells)\n"
    "* Chemistry = TAQMAN\n"
    "* Experiment Barcode = PLATE-0042\n"
    "* Experiment File Name = C:\\Applied Biosystems\\StepOne Software v2.3\\experiments\\ifn run.eds\n"
    "* Experiment Name = ifn run\n"
    "* Experiment Run End Time = 03-14-2021 05:12:09 PM CET\n"
    "* Instrument Type = StepOnePlus(TM) Instrument\n"
    "* Passive Reference = ROX\n"
    "\n"
)
STEPONE_HEADER = (
    "Well\tSample Name\tTarget Name\tTask\tReporter\tQuencher\tOmit\tCт\tCт Mean\tCт SD\tQuantity\n"
)


def _write(tmp_path: Path, name: str, text: str, *, bom: bool = False, crlf: bool = False) -> Path:
    if crlf:
        text = text.replace("\n", "\r\n")
    raw = text.encode("utf-8")
    p = tmp_path / name
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + raw)
    return p


def test_stepone_text_bom_crlf_duplex_omit_undetermined(tmp_path):
    body = (
        "A1\tS1\tIFI27\tUNKNOWN\tFAM\tNFQ-MGB\tfalse\t24.50\t24.75\t0.35\t\n"
        "A1\tS1\tGAPDH\tUNKNOWN\tVIC\tNFQ-MGB\tfalse\t18.25\t18.30\t0.07\t\n"
        "A2\tS1\tIFI27\tUNKNOWN\tFAM\tNFQ-MGB\ttrue\t25.00\t24.75\t0.35\t\n"
        "A3\t\tIFI27\tNTC\tFAM\tNFQ-MGB\tfalse\tUndetermined\t\t\t\n"
        "A4\tStd\tIFI27\tSTANDARD\tFAM\tNFQ-MGB\tfalse\t20.00\t20.00\t\t1,000.000\n"
        "A5\t\t\t\t\t\tfalse\t\t\t\t\n"  # an empty well (no target)
    )
    text = STEPONE_HEAD + "[Results]\n" + STEPONE_HEADER + body + "\nAnalysis Type = Singleplex\n"
    p = _write(tmp_path, "stepone.txt", text, bom=True, crlf=True)
    assert _abi.sniff(probe_file(p))
    df = read_ct(p)
    assert len(df) == 5  # A5 has no target: left out, and said so
    assert any("no target assigned" in n for n in df.attrs["ifnscore_ct"]["notes"])
    # Cт (Cyrillic te) is the per-well Ct; Cт Mean (24.75) is never read as a well
    assert _ct(df, "A1", "IFI27")["ct"] == 24.50
    assert _ct(df, "A1", "GAPDH")["ct"] == 18.25
    assert _ct(df, "A1", "GAPDH")["dye"] == "VIC"
    assert _ct(df, "A2")["omitted"]
    assert _ct(df, "A2")["ct"] == 25.00
    a3 = _ct(df, "A3")
    assert a3["undetermined"]
    assert np.isnan(a3["ct"])
    assert a3["task"] == "ntc"
    assert _ct(df, "A4")["quantity"] == 1000.0
    assert _ct(df, "A4")["task"] == "standard"
    info = df.attrs["ifnscore_ct"]
    assert info["instrument"] == "StepOnePlus Instrument"
    assert info["run_date"] == "2021-03-14T17:12:09+01:00"  # MM-DD-YYYY as the US software writes
    assert info["barcode"] == "PLATE-0042"
    assert info["experiment"] == "ifn run"
    assert any("Omit" in n for n in info["notes"])
    assert list(df.columns[:7]) == [
        "well",
        "sample",
        "target",
        "ct",
        "undetermined",
        "task",
        "omitted",
    ]


def test_stepone_text_saved_as_xls(tmp_path):
    # StepOne Software writes its ".xls" export as tab-separated text: read from the content
    text = (
        STEPONE_HEAD
        + STEPONE_HEADER
        + "B7\tS9\tMX1\tUNKNOWN\tFAM\tNFQ-MGB\tfalse\t31.125\t31.1\t0.02\t\n"
    )
    df = read_ct(_write(tmp_path, "run.xls", text))
    assert len(df) == 1
    assert _ct(df, "B7")["ct"] == 31.125
    assert _ct(df, "B7")["target"] == "MX1"


def test_sds_2x_text(tmp_path):
    text = (
        "SDS 2.2.2\tAQ Results\t1.0\n"
        "Filename\tpc12 GABC\n"
        "PlateID\t\n"
        "Assay Type\tAbsolute Quantification\n"
        "Run DateTime\t8/23/11 12:10:33 PM\n"
        "Operator\t\n"
        "\n"
        "Sample Information\n"
        "\n"
        "Well\tSample Name\tDetector Name\tReporter\tTask\tCt\tQuantity\tQty Mean\tQty StdDev\tCt Mean\tCt StdDev\t\n"
        "268\tKD ABC\tGENEA\tSYBR\tUnknown\t28.283926\t\t\t\t28.48\t0.25\t\n"
        "269\tKD ABC\tGENEA\tSYBR\tUnknown\t28.388145\t\t\t\t28.48\t0.25\t\n"
        "100\tKD Aa\tGENEA\tSYBR\tNTC\tUndetermined\t\t\t\t\t\t\n"
    )
    p = _write(tmp_path, "sds.txt", text)
    assert _abi.sniff(probe_file(p))
    df = read_ct(p)
    assert list(df["well"]) == ["268", "269", "100"]  # no Well Position: the well number
    assert list(df["target"]) == ["GENEA"] * 3  # 'Detector Name'
    assert df["ct"].iloc[0] == 28.283926
    assert df["undetermined"].iloc[2]
    info = df.attrs["ifnscore_ct"]
    assert info["software"] == "SDS"
    assert info["version"] == "2.2.2"
    assert info["run_date"] == "2011-08-23T12:10:33"
    assert info["experiment"] == "pc12 GABC"
    assert info["experiment_type"] == "Absolute Quantification"


def test_decimal_comma_semicolon_csv(tmp_path):
    text = (
        "Instrument Type;QuantStudio™ 5 System\n"
        "Experiment Run End Time;2020-02-03 09:00:00 AM CET\n"
        ";;;;;;;\n"
        "Well;Well Position;Omit;Sample Name;Target Name;Task;Reporter;CT;Ct Mean;Quantity\n"
        "1;A1;FALSE;S1;ISG15;STANDARD;FAM;27,10;27,20;1.250,000\n"
        "2;A2;FALSE;S1;ISG15;UNKNOWN;FAM;27,30;27,20;\n"
    )
    df = read_ct(_write(tmp_path, "dc.csv", text))
    assert list(df["ct"]) == [27.10, 27.30]
    assert df["quantity"].iloc[0] == 1250.0
    assert math.isnan(df["quantity"].iloc[1])
    assert df.attrs["ifnscore_ct"]["run_date"] == "2020-02-03T09:00:00+01:00"


def test_results_section_absent_falls_back_to_a_section_with_ct(tmp_path):
    text = (
        STEPONE_HEAD
        + "[Well Results]\n"
        + STEPONE_HEADER
        + "C1\tS2\tOAS1\tUNKNOWN\tFAM\tNFQ\tfalse\t29.5\t\t\t\n"
    )
    df = read_ct(_write(tmp_path, "x.txt", text))
    assert list(df["target"]) == ["OAS1"]
    assert df["ct"].iloc[0] == 29.5


# --------------------------------------------------------------------------- refusals


def test_amplification_only_text_is_refused(tmp_path):
    text = (
        STEPONE_HEAD
        + "[Amplification Data]\nWell\tCycle\tTarget Name\tRn\tDelta Rn\n1\t1\tIFI27\t0.5\t0.01\n"
    )
    p = _write(tmp_path, "amp.txt", text)
    assert _abi.sniff(probe_file(p))
    with pytest.raises(InputError, match=r"amp\.txt: an Applied Biosystems export without a \[Results\] section "
                       r"\(it holds \[Amplification Data\]\); export the Results"):  # fmt: skip
        read_ct(p)


def test_results_header_without_per_well_ct_is_refused(tmp_path):
    header = "Well\tWell Position\tSNP Assay Name\tAllele1 Name\tAllele1 Ct\tCall\tCt Mean\n"
    text = STEPONE_HEAD + "[Results]\n" + header + "1\tA1\trs1\tA\t25.1\tHomozygous\t25.1\n"
    with pytest.raises(InputError, match=r"the \[Results\] section \(line 10\) has no header with a well and a "
                       r"per-well Ct column .*not genotyping"):  # fmt: skip
        read_ct(_write(tmp_path, "geno.txt", text))


def test_truncated_last_line_is_refused(tmp_path):
    body = "A1\tS1\tIFI27\tUNKNOWN\tFAM\tNFQ-MGB\tfalse\t24.50\t24.75\t0.35\t\nA2\tS1\tIFI27\tUNKNOWN\tFAM\tNF"
    p = _write(tmp_path, "cut.txt", STEPONE_HEAD + "[Results]\n" + STEPONE_HEADER + body)
    with pytest.raises(InputError, match=r"cut\.txt: the last line \(line 13, well 'A2'\) stops after 6 of 11 "
                       r"cells and has no line end: the file is truncated"):  # fmt: skip
        read_ct(p)


def test_short_row_before_the_ct_column_is_refused(tmp_path):
    body = "A1\tS1\tIFI27\tUNKNOWN\tFAM\nA2\tS1\tIFI27\tUNKNOWN\tFAM\tNFQ-MGB\tfalse\t24.50\t24.75\t0.35\t\n"
    p = _write(tmp_path, "short.txt", STEPONE_HEAD + "[Results]\n" + STEPONE_HEADER + body)
    with pytest.raises(InputError, match=r"short\.txt: line 12 \(well 'A1', target 'IFI27'\) ends before the 'Cт' "
                       r"column: the file is truncated or damaged"):  # fmt: skip
        read_ct(p)


def test_truncated_ct_cell_on_last_line_is_refused(tmp_path):
    # the cut falls inside the Ct cell: the row is shorter than the others and has no line end
    body = "A1\tS1\tIFI27\tUNKNOWN\tFAM\tNFQ-MGB\tfalse\t24.50\t24.75\t0.35\t\nA2\tS1\tIFI27\tUNKNOWN\tFAM\tNFQ\tfalse\t2"
    p = _write(tmp_path, "cut2.txt", STEPONE_HEAD + "[Results]\n" + STEPONE_HEADER + body)
    with pytest.raises(InputError, match=r"the last line \(line 13, well 'A2'\) stops after 8 of 11 cells "
                       r"and has no line end: the file is truncated"):  # fmt: skip
        read_ct(p)


def test_non_number_ct_names_the_well(tmp_path):
    body = "A1\tS1\tIFI27\tUNKNOWN\tFAM\tNFQ-MGB\tfalse\tfailed\t\t\t\n"
    p = _write(tmp_path, "bad.txt", STEPONE_HEAD + "[Results]\n" + STEPONE_HEADER + body)
    with pytest.raises(InputError, match=r"bad\.txt: Ct 'failed' of well 'A1' is not a number"):
        read_ct(p)


def test_bad_omit_value_names_the_well(tmp_path):
    body = "A1\tS1\tIFI27\tUNKNOWN\tFAM\tNFQ-MGB\tmaybe\t24.5\t\t\t\n"
    p = _write(tmp_path, "omit.txt", STEPONE_HEAD + "[Results]\n" + STEPONE_HEADER + body)
    with pytest.raises(
        InputError, match=r"omit\.txt: the Omit cell 'maybe' of well 'A1' is neither true nor false"
    ):
        read_ct(p)


def test_well_and_target_twice_is_refused(tmp_path):
    row = "A1\tS1\tIFI27\tUNKNOWN\tFAM\tNFQ-MGB\tfalse\t24.5\t\t\t\n"
    p = _write(tmp_path, "dup.txt", STEPONE_HEAD + "[Results]\n" + STEPONE_HEADER + row + row)
    with pytest.raises(
        InputError,
        match=r"dup\.txt: well 'A1' with target 'IFI27' is listed twice \(lines 12 and 13\)",
    ):
        read_ct(p)


def test_interrupted_table_is_refused(tmp_path):
    body = (
        "A1\tS1\tIFI27\tUNKNOWN\tFAM\tNFQ-MGB\tfalse\t24.5\t\t\t\n"
        "oops\tS1\tIFI27\tUNKNOWN\tFAM\tNFQ-MGB\tfalse\t24.9\t\t\t\n"
        "A3\tS1\tIFI27\tUNKNOWN\tFAM\tNFQ-MGB\tfalse\t25.1\t\t\t\n"
    )
    p = _write(tmp_path, "edit.txt", STEPONE_HEAD + "[Results]\n" + STEPONE_HEADER + body)
    with pytest.raises(InputError, match=r"edit\.txt: the results table is interrupted at line 13 \('oops' where "
                       r"a well was expected\) but wells follow again at line 14"):  # fmt: skip
        read_ct(p)


def test_empty_results_section_is_refused(tmp_path):
    p = _write(
        tmp_path, "empty.txt", STEPONE_HEAD + "[Results]\n\n[Melt Curve Raw Data]\nWell\tReading\n"
    )
    with pytest.raises(
        InputError, match=r"empty\.txt: the \[Results\] section \(line 10\) is empty"
    ):
        read_ct(p)


def test_header_without_wells_is_refused(tmp_path):
    p = _write(tmp_path, "nowells.txt", STEPONE_HEAD + "[Results]\n" + STEPONE_HEADER)
    with pytest.raises(
        InputError, match=r"nowells\.txt: the results table \(header at line 11\) holds no wells"
    ):
        read_ct(p)


# --------------------------------------------------------------------------- workbooks


def _xlsx(tmp_path: Path, sheets: dict[str, list[list]], name: str = "book.xlsx") -> Path:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for r in rows:
            ws.append(r)
    p = tmp_path / name
    wb.save(p)
    return p


PREAMBLE = [
    ["Block Type", "96-Well Block (0.2mL)"],
    ["Experiment Barcode", "BC-7"],
    ["Experiment Name", "xl run"],
    ["Experiment Run End Time", "2023-05-06 01:02:03 PM PDT"],
    ["Instrument Type", "QuantStudio(TM) 6 Flex System"],
    [],
]
XL_HEADER = [
    "Well",
    "Well Position",
    "Omit",
    "Sample Name",
    "Target Name",
    "Task",
    "Reporter",
    "Cт",
    "Cт Mean",
]


def test_v1_xlsx_results_sheet(tmp_path):
    rows = [
        *PREAMBLE,
        XL_HEADER,
        [1, "A1", False, "S1", "IFI44L", "UNKNOWN", "FAM", 26.5, 26.6],
        [2, "A2", True, "S1", "IFI44L", "UNKNOWN", "FAM", "Undetermined", None],
        [3, "A3", False, 7, "IFI44L", "NEGATIVE_CONTROL", "FAM", 35.25, None],
        [],
        ["Analysis Type", "Singleplex"],
    ]
    p = _xlsx(tmp_path, {"Amplification Data": [["Well", "Cycle", "Rn"]], "Results": rows})
    assert _abi.sniff(probe_file(p))
    df = read_ct(p)
    assert list(df["well"]) == ["A1", "A2", "A3"]
    assert list(df["omitted"]) == [False, True, False]
    assert df["ct"].iloc[0] == 26.5
    assert df["undetermined"].iloc[1]
    assert df["ct"].iloc[2] == 35.25
    assert df["sample"].iloc[2] == "7"  # a numeric sample name, as Excel shows it
    assert df["task"].iloc[2] == "negative"
    info = df.attrs["ifnscore_ct"]
    assert info["barcode"] == "BC-7"
    assert info["instrument"] == "QuantStudio 6 Flex System"
    assert info["run_date"] == "2023-05-06T13:02:03-07:00"
    assert info["format"] == "Applied Biosystems results Excel workbook"


def test_workbook_sheet_choice_and_refusals(tmp_path):
    amp = [
        ["Well", "Well Position", "Cycle Number", "Target", "Rn", "dRn"],
        [1, "A1", 1, "IFI27", 0.5, 0.01],
    ]
    res = [*PREAMBLE, XL_HEADER, [1, "A1", False, "S1", "IFI44L", "UNKNOWN", "FAM", 26.5, 26.6]]
    p = _xlsx(tmp_path, {"Results": res, "Amplification Data": amp})
    assert len(read_ct(p, sheet=0)) == 1
    assert len(read_ct(p, sheet="results")) == 1
    with pytest.raises(InputError, match=r"book\.xlsx: sheet 'Amplification Data' no results table with a well "
                       r"and a per-well Ct column .*amplification or multicomponent export"):  # fmt: skip
        read_ct(p, sheet="Amplification Data")
    with pytest.raises(InputError, match=r"book\.xlsx: no sheet named 'Summary'; the workbook has 'Results', "
                       r"'Amplification Data'\."):  # fmt: skip
        read_ct(p, sheet="Summary")
    with pytest.raises(
        InputError, match=r"book\.xlsx: sheet=5 is out of range; the workbook has 2 sheets"
    ):
        read_ct(p, sheet=5)


def test_amplification_only_workbook_is_refused(tmp_path):
    amp = [
        ["Instrument Type", "QuantStudio 3 System"],
        [],
        ["Well", "Well Position", "Cycle Number", "Rn"],
    ]
    p = _xlsx(tmp_path, {"Amplification Data": amp}, name="amp.xlsx")
    assert _abi.sniff(probe_file(p))
    with pytest.raises(InputError, match=r"amp\.xlsx: an Applied Biosystems workbook without a Results sheet "
                       r"\(it holds 'Amplification Data'\)"):  # fmt: skip
        read_ct(p)


def test_primary_analysis_without_target_is_refused(tmp_path):
    rows = [
        ["Software Name and Version", "Design & Analysis Software v2.6.0"],
        [],
        ["Well Position", "Task", "Reporter", "Cq", "Threshold"],
        ["A1", "UNKNOWN", "FAM", 24.1, 0.2],
    ]
    p = _xlsx(tmp_path, {"Results": rows}, name="pa.xlsx")
    with pytest.raises(InputError, match=r"pa\.xlsx \(sheet 'Results'\): the results table \(header at row 3\) "
                       r"has no Target column"):  # fmt: skip
        read_ct(p)


def test_generic_table_is_not_claimed(tmp_path):
    p = _write(tmp_path, "long.csv", "sample,target,ct\nS1,IFI27,24.1\n")
    assert _abi.sniff(probe_file(p)) is False
    biorad = _write(
        tmp_path, "cfx.csv", ",Well,Fluor,Target,Content,Sample,Cq\n,A01,FAM,IFI27,Unkn,S1,24.1\n"
    )
    assert _abi.sniff(probe_file(biorad)) is False


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2022-08-12 16:28:28 PM EDT", "2022-08-12T16:28:28-04:00"),  # 24-hour time with PM
        ("2019-04-25 10:26:48 AM PDT", "2019-04-25T10:26:48-07:00"),
        ("2010-10-21 00:51:26 AM EDT", "2010-10-21T00:51:26-04:00"),
        ("2018-06-01 12:54:47 AM EDT", "2018-06-01T00:54:47-04:00"),  # 12 AM is midnight
        ("8/23/11 12:10:33 PM", "2011-08-23T12:10:33"),  # SDS 2.x, US month/day/year
        ("2015-12-09 02:25:46 AM XYZ", "2015-12-09T02:25:46"),  # unknown zone: no offset
        ("tomorrow", None),
    ],
)
def test_iso_date(text, iso):
    assert _abi._iso_date(text) == iso


def test_array_plate_repeated_positions_use_well_numbers(tmp_path):
    # an array format whose sub-arrays reuse positions: positions repeat, well numbers do not
    text = (
        "* Instrument Type = QuantStudio(TM) 12K Flex System\n\n[Results]\n"
        "Well\tWell Position\tSample Name\tTarget Name\tTask\tCRT\n"
        "1\ta1\tS1\tIFI27\tUNKNOWN\t21.5\n"
        "65\ta1\tS1\tIFI27\tUNKNOWN\t21.7\n"
    )
    df = read_ct(_write(tmp_path, "oa.txt", text))
    assert list(df["well"]) == ["1", "65"]
    assert list(df["ct"]) == [21.5, 21.7]
    assert any("well number" in n for n in df.attrs["ifnscore_ct"]["notes"])


def test_long_text_export_reads_results_after_amplification(tmp_path):
    # a v1.x text export with every section: the [Results] section comes after ~40k
    # amplification lines (beyond the 256 KB the sniff sees), the preamble decides
    amp = "".join(
        f"{w}\t{c}\tIFI27\t{0.1 * c:.3f}\t{0.01 * c:.3f}\n"
        for w in range(1, 97)
        for c in range(1, 41)
    )
    text = (
        STEPONE_HEAD
        + "[Amplification Data]\nWell\tCycle\tTarget Name\tRn\tDelta Rn\n"
        + amp * 10
        + "[Results]\n"
        + STEPONE_HEADER
        + "H12\tS96\tIFI27\tUNKNOWN\tFAM\tNFQ-MGB\tfalse\t33.333\t33.3\t0.1\t\n"
    )
    p = _write(tmp_path, "big.txt", text)
    assert p.stat().st_size > 256 * 1024
    df = read_ct(p)
    assert list(df["well"]) == ["H12"]
    assert df["ct"].iloc[0] == 33.333
