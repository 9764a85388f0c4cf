"""read_ct on Bio-Rad CFX, Roche LightCycler 480 and Qiagen Rotor-Gene exports.

Real files (../shared/data/real/qpcr, skipped when absent) are checked against their own text,
read by eye (the line is quoted in a comment). Synthetic files written here in each vendor's
layout cover what the real files lack: duplex wells with targets, standards, omitted wells,
locale variants, workbooks, truncated files and the vendors' other export kinds.
"""

from __future__ import annotations

import datetime as dt
import gzip
import math

import numpy as np
import pytest
from _real import real

from ifnscore._io._ct import _biorad, _qiagen, _roche, read_ct
from ifnscore._io._ct._common import COLUMNS, iso_date, probe_file
from ifnscore.errors import InputError


def _row(frame, well, target=None):
    sel = frame["well"].eq(well)
    if target is not None:
        sel &= frame["target"].eq(target)
    got = frame[sel]
    assert len(got) == 1, (well, target, len(got))
    return got.iloc[0]


def _write(path, text, *, bom=False, crlf=False, encoding="utf-8"):
    if crlf:
        text = text.replace("\n", "\r\n")
    raw = text.encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + raw)
    return path


# --------------------------------------------------------------------------- Bio-Rad CFX


def test_cfx_maestro_real_file():
    path = real("qpcr/cfx_maestro/cfxmaestro_example01.csv")
    d = read_ct(path)
    meta = d.attrs["ifnscore_ct"]
    assert meta["format"] == "biorad_cfx"
    assert meta["vendor"] == "Bio-Rad"
    assert list(d.columns[: len(COLUMNS)]) == list(COLUMNS)
    # 48 data lines: A01..D06 (24 wells) for FAM, then the same 24 for VIC.
    assert len(d) == 48
    # Target is empty on every line (",A01,FAM,,Unkn,..."): the fluor is the stand-in.
    assert set(d["target"]) == {"FAM", "VIC"}
    assert any("no Target" in n for n in meta["notes"])
    assert int(d["undetermined"].sum()) == 0
    assert set(d["task"]) == {"unknown"}  # Content "Unkn" on every line
    # line 2: ",A01,FAM,,Unkn,M3905 R Ctx,PBS Baseline,21.1877528266099,..."
    a01 = _row(d, "A01", "FAM")
    assert a01["ct"] == pytest.approx(21.1877528266099, abs=1e-12)
    assert a01["sample"] == "M3905 R Ctx"
    assert a01["biological_set"] == "PBS Baseline"
    # line 25: ",D06,FAM,,Unkn,M4354 R Ctx,PBS 3903,27.0307721035204,..."
    assert _row(d, "D06", "FAM")["ct"] == pytest.approx(27.0307721035204, abs=1e-12)
    # line 26: ",A01,VIC,,Unkn,M3905 R Ctx,PBS Baseline,21.1590717001335,..."
    assert _row(d, "A01", "VIC")["ct"] == pytest.approx(21.1590717001335, abs=1e-12)
    # line 35: ",C03,VIC,,Unkn,M3897 R Ctx,Ref High,21.0831884949543,..."
    c03 = _row(d, "C03", "VIC")
    assert c03["ct"] == pytest.approx(21.0831884949543, abs=1e-12)
    assert c03["biological_set"] == "Ref High"
    assert not d["omitted"].any()
    # SQ is NaN on every line: no quantity columns invented.
    assert "quantity" not in d.columns
    assert "calc_quantity" not in d.columns


CFX_HEADER = (
    ",Well,Fluor,Target,Content,Sample,Biological Set Name,Cq,Cq Mean,Cq Std. Dev,"
    "Starting Quantity (SQ),Log Starting Quantity,SQ Mean,SQ Std. Dev,Set Point,Well Note"
)
CFX_ROWS = [
    ",A01,FAM,IFI27,Unkn-01,P1,,24.5,24.6,0.1,NaN,NaN,NaN,0,60,",
    ",A01,HEX,GAPDH,Unkn-01,P1,,18.25,18.3,0.05,NaN,NaN,NaN,0,60,",
    ",A02,FAM,IFI27,Unkn-01,P1,,24.7,24.6,0.1,NaN,NaN,NaN,0,60,",
    ",A02,HEX,GAPDH,Unkn-01,P1,,NaN,18.3,0.05,NaN,NaN,NaN,0,60,",
    ",B01,FAM,IFI27,Std-03,,,20.1,20.1,0,1000,3,1000,0,60,",
    ",B01,HEX,GAPDH,Std-03,,,15.5,15.5,0,1000,3,1000,0,60,",
    ",C01,FAM,IFI27,NTC,,,,0,0,NaN,NaN,NaN,0,60,no template",
    ",C01,HEX,GAPDH,NTC,,,NaN,0,0,NaN,NaN,NaN,0,60,no template",
    ",D01,FAM,IFI27,Neg Ctrl,NRTpool,,35.2,35.2,0,12.5,1.1,12.5,0,60,",
    ",D01,HEX,,Neg Ctrl,NRTpool,,33.0,33.0,0,NaN,NaN,NaN,0,60,",
]
CFX_RUNINFO = [
    "File Name,C:\\runs\\ifn plate 7.pcrd",
    "Created By User,admin",
    "Run Started,02/16/2026 02:13:01 UTC",
    "Run Ended,02/16/2026 03:52:26 UTC",
    "Base Serial Number,783BR20183",
    "CFX Maestro Version,5.3.022.1030. ",
    "",
]


def _check_cfx_synthetic(d):
    assert len(d) == 10
    assert set(d["target"]) == {"IFI27", "GAPDH", "HEX"}  # D01 HEX has no Target
    assert _row(d, "A01", "IFI27")["ct"] == pytest.approx(24.5)
    assert _row(d, "A01", "GAPDH")["ct"] == pytest.approx(18.25)
    a02 = _row(d, "A02", "GAPDH")
    assert a02["undetermined"]
    assert math.isnan(a02["ct"])
    c01 = d[d["well"].eq("C01")]
    assert c01["undetermined"].all()
    assert set(c01["task"]) == {"ntc"}
    assert int(d["undetermined"].sum()) == 3
    b01 = _row(d, "B01", "IFI27")
    assert b01["task"] == "standard"
    assert b01["quantity"] == pytest.approx(1000.0)
    assert b01["replicate"] == 3  # Std-03: the group number, not part of the task
    assert _row(d, "A01", "IFI27")["replicate"] == 1
    assert math.isnan(_row(d, "A01", "IFI27")["quantity"])
    d01 = _row(d, "D01", "IFI27")
    assert d01["task"] == "negative"
    assert d01["calc_quantity"] == pytest.approx(12.5)  # SQ of a non-standard: calculated
    assert math.isnan(d01["quantity"])
    assert _row(d, "D01", "HEX")["fluor"] == "HEX"
    assert c01["well_note"].eq("no template").all()
    notes = d.attrs["ifnscore_ct"]["notes"]
    assert any("1 row(s) have no Target" in n for n in notes)
    assert any(n.startswith("Columns not kept: Cq Mean, Cq Std. Dev") for n in notes)


def test_cfx_csv_duplex_standards_and_run_information(tmp_path):
    p = _write(
        tmp_path / "plate.csv",
        "\n".join([*CFX_RUNINFO, CFX_HEADER, *CFX_ROWS]) + "\n",
        crlf=True,
        bom=True,
    )
    d = read_ct(p)
    _check_cfx_synthetic(d)
    meta = d.attrs["ifnscore_ct"]
    assert meta["software"] == "CFX Maestro"
    assert meta["version"] == "5.3.022.1030"  # trailing ". " of the export removed
    assert meta["run_date"] == "2026-02-16T02:13:01"
    assert meta["serial"] == "783BR20183"
    assert not any("month/day/year" in n for n in meta["notes"])  # 16 > 12: unambiguous
    # an ambiguous Run Started is read in CFX's month/day/year order, and the note says so
    info = [ln.replace("02/16/2026", "02/03/2026") for ln in CFX_RUNINFO]
    p2 = _write(tmp_path / "plate2.csv", "\n".join([*info, CFX_HEADER, *CFX_ROWS]) + "\n")
    meta2 = read_ct(p2).attrs["ifnscore_ct"]
    assert meta2["run_date"] == "2026-02-03T02:13:01"
    assert any("'02/03/2026 02:13:01 UTC' was read as month/day/year" in n for n in meta2["notes"])


def test_cfx_csv_without_leading_column_and_semicolon_decimal_comma(tmp_path):
    lines = [CFX_HEADER[1:].replace(",", ";")] + [r[1:].replace(",", ";") for r in CFX_ROWS]
    lines = [ln.replace("24.5", "24,5").replace("18.25", "18,25") for ln in lines]
    d = read_ct(_write(tmp_path / "eu.csv", "\n".join(lines)))
    _check_cfx_synthetic(d)
    assert d.attrs["ifnscore_ct"]["software"] == "CFX Manager / CFX Maestro"
    assert d.attrs["ifnscore_ct"]["run_date"] is None


def test_cfx_ct_header_of_older_software(tmp_path):
    text = ",Well,Fluor,Target,Content,Sample,C(t)\n,A01,SYBR,MX1,Unkn,S1,27.5\n,A02,SYBR,MX1,Unkn,S2,N/A\n"
    d = read_ct(_write(tmp_path / "old.csv", text))
    assert d["ct"].iloc[0] == pytest.approx(27.5)
    assert d["undetermined"].tolist() == [False, True]
    assert set(d["target"]) == {"MX1"}


def _cfx_workbook(path, *, results_sheet="0", info=True):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = results_sheet
    ws.append([None, *CFX_HEADER.split(",")[1:]])
    for r in CFX_ROWS:
        cells: list = [None]
        for v in r.split(",")[1:]:
            try:
                cells.append(float(v) if v not in ("", "NaN") else (None if v == "" else "NaN"))
            except ValueError:
                cells.append(v or None)
        ws.append(cells)
    if info:
        wi = wb.create_sheet("Run Information")
        for line in CFX_RUNINFO:
            if line:
                k, v = line.split(",", 1)
                wi.append([k, v])
    wb.save(path)
    return path


def test_cfx_xlsx_results_sheet_and_run_information(tmp_path):
    p = _cfx_workbook(tmp_path / "plate - Quantification Cq Results.xlsx")
    d = read_ct(p)
    _check_cfx_synthetic(d)
    meta = d.attrs["ifnscore_ct"]
    assert meta["format"] == "biorad_cfx"
    assert meta["version"] == "5.3.022.1030"
    assert meta["run_date"] == "2026-02-16T02:13:01"
    # the sheet by name and by position give the same table
    assert read_ct(p, sheet="0")["ct"].equals(d["ct"])
    assert read_ct(p, sheet=0)["ct"].equals(d["ct"])
    with pytest.raises(
        InputError, match=r"no sheet 'Results'; the workbook has sheets \['0', 'Run Information'\]"
    ):
        read_ct(p, sheet="Results")
    with pytest.raises(InputError, match=r"sheet=5 is out of range"):
        read_ct(p, sheet=5)
    with pytest.raises(
        InputError, match=r"no sheet of \['Run Information'\] holds a Bio-Rad CFX Cq header"
    ):
        read_ct(p, sheet="Run Information")


def test_cfx_xlsx_through_openpyxl_when_calamine_is_absent(tmp_path, monkeypatch):
    from ifnscore._io._ct import _common

    p = _cfx_workbook(tmp_path / "plate.xlsx")
    monkeypatch.setattr(_common, "_calamine", lambda: None)
    d = read_ct(p)
    _check_cfx_synthetic(d)
    assert d.attrs["ifnscore_ct"]["serial"] == "783BR20183"


def test_cfx_amplification_export_is_refused(tmp_path):
    text = ",Cycle,A1,A2,A3\n,1,-2.5,3.1,0.4\n,2,-1.2,2.2,1.0\n"
    p = _write(tmp_path / "plate - Quantification Amplification Results_SYBR.csv", text)
    assert _biorad.sniff(probe_file(p))
    with pytest.raises(
        InputError,
        match=r"a Bio-Rad CFX amplification or melt-curve export .*'Quantification Cq Results'",
    ):
        read_ct(p)


def test_cfx_amplification_workbook_is_refused(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "SYBR"
    ws.append([None, "Cycle", "A1", "A2", "B1"])
    ws.append([None, 1, -2.5, 3.1, 0.4])
    p = tmp_path / "plate - Quantification Amplification Results.xlsx"
    wb.save(p)
    with pytest.raises(InputError, match=r"a Bio-Rad CFX amplification or melt-curve export"):
        read_ct(p)


def test_cfx_melt_peak_export_is_refused(tmp_path):
    text = ",Well,Fluor,Content,Target,Sample,Melt Temperature,Peak Height,Begin Temperature,End Temperature\n,A01,SYBR,Unkn,MX1,S1,82.5,310.2,78,86\n"
    with pytest.raises(
        InputError, match=r"a Bio-Rad CFX Melt Curve Peak Results export without a Cq column"
    ):
        read_ct(_write(tmp_path / "melt.csv", text))


def test_cfx_truncated_row_is_an_error(tmp_path):
    text = "\n".join([CFX_HEADER, *CFX_ROWS[:3], ",A02,HEX,GAPDH,Unkn-01,P1,,18."]) + "\n"
    with pytest.raises(
        InputError, match=r"line 5 \(well 'A02'\) has 8 fields where the header has 16; .*cut short"
    ):
        read_ct(_write(tmp_path / "cut.csv", text))


def test_cfx_text_in_cq_names_the_well(tmp_path):
    rows = [*CFX_ROWS[:2], CFX_ROWS[2].replace("24.7", "high")]
    with pytest.raises(InputError, match=r"Ct 'high' of well 'A02' is not a number"):
        read_ct(_write(tmp_path / "bad.csv", "\n".join([CFX_HEADER, *rows]) + "\n"))


def test_cfx_duplicated_well_is_an_error(tmp_path):
    text = "\n".join([CFX_HEADER, CFX_ROWS[0], CFX_ROWS[1], CFX_ROWS[0]]) + "\n"
    with pytest.raises(InputError, match=r"well 'A01' \(FAM\) appears twice"):
        read_ct(_write(tmp_path / "dup.csv", text))


def test_cfx_footer_rows_are_noted(tmp_path):
    text = "\n".join([CFX_HEADER, *CFX_ROWS[:2], "", ",Total wells,2,,,,,,,,,,,,,"]) + "\n"
    d = read_ct(_write(tmp_path / "foot.csv", text))
    assert len(d) == 2
    assert any(
        "1 row(s) under the header name no well (line(s) 5)" in n
        for n in d.attrs["ifnscore_ct"]["notes"]
    )


# --------------------------------------------------------------------------- Roche LightCycler 480


def test_lightcycler_real_calibration_file():
    d = read_ct(real("qpcr/lightcycler480/Edward_qPCR_Nrd1_calibration_2019-02-02_Cq.txt.gz"))
    meta = d.attrs["ifnscore_ct"]
    assert meta["format"] == "roche_lightcycler480"
    assert meta["instrument"] == "LightCycler 480"
    assert meta["experiment"] == "Edward qPCR Nrd1 calibration 2019-02-02"
    assert meta["filter"] == "SYBR Green I / HRM Dye (483-533)"
    assert len(d) == 384  # 384 lines after the two header lines, A1..P24
    assert set(d["target"]) == {""}
    assert any("does not name the target" in n for n in meta["notes"])
    # 105 lines with an empty Cp field (awk -F'\t' 'NR>2 && $5==""')
    assert int(d["undetermined"].sum()) == 105
    # "True	255	A1	Sample 1	22.78		0	"
    assert _row(d, "A1")["ct"] == pytest.approx(22.78)
    assert _row(d, "A1")["sample"] == "Sample 1"
    # "True	255	A4	Sample 4	28.64		0	"
    assert _row(d, "A4")["ct"] == pytest.approx(28.64)
    # "True	65280	A5	Sample 5			0	"
    assert _row(d, "A5")["undetermined"]
    # "True	255	P23	Sample 383	33.71		0	"
    assert _row(d, "P23")["ct"] == pytest.approx(33.71)
    assert not d["omitted"].any()  # Include is True on every line
    assert set(d["task"]) == {"unknown"}  # Standard is 0 on every line
    assert d["quantity"].isna().all()
    assert set(d["channel"]) == {"SYBR Green I / HRM Dye (483-533)"}


def test_lightcycler_real_plate_file():
    d = read_ct(
        real("qpcr/lightcycler480/Edward_qPCR_TxnInhibitors_HS_2018-06-15_plate1_Cq.txt.gz")
    )
    assert len(d) == 384
    assert int(d["undetermined"].sum()) == 61  # empty Cp fields, counted with awk
    # "True	255	A1	Sample 1	14.98		0	", "True	255	A5	Sample 5	11.51		0	",
    # "True	255	P24	Sample 384	32.92		0	"
    assert _row(d, "A1")["ct"] == pytest.approx(14.98)
    assert _row(d, "A5")["ct"] == pytest.approx(11.51)
    assert _row(d, "P24")["ct"] == pytest.approx(32.92)
    assert (
        d.attrs["ifnscore_ct"]["experiment"] == "Edward qPCR Txn Inhibitors HS 2018-06-15 plate 1"
    )


def test_lightcycler_raw_fluorescence_file_is_refused():
    p = real("qpcr/lightcycler480/Edward_qPCR_TxnInhibitors_HS_2018-06-15_plate1.txt.gz")
    assert _roche.sniff(probe_file(p))
    with pytest.raises(
        InputError,
        match=r"a LightCycler 480 raw fluorescence export .*not Cp results; export the Abs Quant results",
    ):
        read_ct(p)


LC_HEAD = "Experiment: IFN run 3  Selected Filter: FAM (465-510)\nInclude\tColor\tPos\tName\tCp\tConcentration\tStandard\tStatus\n"


def test_lightcycler_standards_omitted_and_variants(tmp_path):
    body = (
        "True\t255\tA1\tstd 1e5\t18.20\t1.02E5\t100000\t\n"
        "True\t255\tA2\tstd 1e4\t21,55\t9,8E3\t10000\t\n"
        "False\t255\tA3\tP1\t25.10\t\t0\t\n"
        "TRUE\t65280\tA4\tNTC\t\t\t0\tNegative\n"
    )
    text = LC_HEAD.replace("Selected Filter", "Filter") + body
    p = tmp_path / "run_Cq.txt.gz"
    p.write_bytes(gzip.compress(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()))
    d = read_ct(p)
    assert len(d) == 4
    assert d["task"].tolist() == ["standard", "standard", "unknown", "unknown"]
    assert d["quantity"].iloc[:2].tolist() == [100000.0, 10000.0]
    assert d["quantity"].iloc[2:].isna().all()
    assert d["ct"].iloc[1] == pytest.approx(21.55)  # decimal comma
    assert d["calc_quantity"].iloc[1] == pytest.approx(9800.0)
    assert d["omitted"].tolist() == [False, False, True, False]
    assert d["undetermined"].tolist() == [False, False, False, True]
    assert d["status"].iloc[3] == "Negative"
    meta = d.attrs["ifnscore_ct"]
    assert meta["filter"] == "FAM (465-510)"
    assert any("1 well(s) have Include = False" in n for n in meta["notes"])


def test_lightcycler_type_column_names_the_task(tmp_path):
    text = (
        "Experiment: x  Selected Filter: FAM (465-510)\n"
        "Inc\tPos\tName\tType\tCP\tConcentration\tStandard\tStatus\n"
        "True\tA1\tn1\tNegative Control\t\t\t0\t\n"
        "True\tA2\ts1\tUnknown\t30.1\t\t0\t\n"
    )
    d = read_ct(_write(tmp_path / "t.txt", text))
    assert d["task"].tolist() == ["negative", "unknown"]
    assert d["ct"].iloc[1] == pytest.approx(30.1)


def test_lightcycler_tm_calling_export_is_refused(tmp_path):
    text = "Experiment: x  Selected Filter: SYBR Green I / HRM Dye (483-533)\nInclude\tColor\tPos\tName\tTm1\tArea1\tTm2\tArea2\nTrue\t255\tA1\tS1\t82.1\t3.2\t\t\n"
    with pytest.raises(
        InputError, match=r"a Tm Calling / melting result \(header: Include, Color, Pos, Name, Tm1"
    ):
        read_ct(_write(tmp_path / "tm.txt", text))


def test_lightcycler_truncated_and_malformed(tmp_path):
    cut = LC_HEAD + "True\t255\tA1\tS1\t22.1\t\t0\t\nTrue\t255\tA2\tS"
    with pytest.raises(
        InputError, match=r"line 4 \(well 'A2'\) has 4 fields where the header has 8; .*cut short"
    ):
        read_ct(_write(tmp_path / "cut.txt", cut))
    bad = LC_HEAD + "Yes\t255\tA1\tS1\t22.1\t\t0\t\n"
    with pytest.raises(
        InputError, match=r"line 3 \(well 'A1'\): Include is 'Yes'; expected True or False"
    ):
        read_ct(_write(tmp_path / "bad.txt", bad))
    two = (
        LC_HEAD + "True\t255\tA1\tS1\t22.1\t\t0\t\n" + LC_HEAD + "True\t255\tA1\tS1\t23.1\t\t0\t\n"
    )
    with pytest.raises(InputError, match=r"line 4 starts another 'Experiment:' table"):
        read_ct(_write(tmp_path / "two.txt", two))
    empty = LC_HEAD
    with pytest.raises(InputError, match=r"has a header but no wells under it"):
        read_ct(_write(tmp_path / "empty.txt", empty))


# --------------------------------------------------------------------------- Qiagen Rotor-Gene


def test_rotorgene_real_file():
    d = read_ct(real("qpcr/rotorgene/28S_irregular.csv"))
    meta = d.attrs["ifnscore_ct"]
    assert meta["format"] == "qiagen_rotorgene"
    assert meta["instrument"] == "Rotor-Gene Q"
    assert meta["serial"] == "717122"  # "Machine Serial No;717122;;;..."
    assert meta["run_date"] == "2021-03-16T10:34:20"  # "Date;3/16/2021" + "Time;10:34:20 AM"
    # positions 25..48, NK1..NK12 in duplicate
    assert len(d) == 24
    assert d["well"].tolist() == [str(i) for i in range(25, 49)]
    assert set(d["target"]) == {"28S"}  # "Quantitative analysis of Cycling A.Green (28S)"
    assert set(d["channel"]) == {"Cycling A.Green"}
    assert int(d["undetermined"].sum()) == 0
    # "25;5775359;NK1;Unknown;7.49;;;;;7.52;0.05;;;" (7.52 is Rep. Ct: a summary, not a well)
    assert _row(d, "25")["ct"] == pytest.approx(7.49)
    assert _row(d, "25")["sample"] == "NK1"
    # "36;16719743;NK6;Unknown;7.54;;;;;;;;;"
    assert _row(d, "36")["ct"] == pytest.approx(7.54)
    # "48;16721695;NK12;Unknown;8.58;;;;;;;;;"
    assert _row(d, "48")["ct"] == pytest.approx(8.58)
    assert set(d["task"]) == {"unknown"}
    assert (d["threshold"] == 0.06).all()  # "Cycling A.Green (28S);0.06"
    assert any("Rep. Ct" in n and "not wells" in n for n in meta["notes"])


RG_PREAMBLE = [
    "Excel Analysed Data Export",
    "Copyright (c) 2013 QIAGEN GmbH. All Rights Reserved.",
    "File;IFN panel 2024-05-07.rex",
    "Date;07.05.2024",
    "Time;14:02:11",
    "",
    "Machine Serial No;1012345",
    "",
    "Channel;Threshold",
    "Cycling A.Green (IFI27);0,05",
    "Cycling A.Yellow (HPRT1);0,04",
    "",
]
RG_HEADER = "No.;Colour;Name;Type;Ct;Ct Comment;Given Conc (Copies);Calc Conc (Copies);% Var;Rep. Ct;Rep. Ct Std. Dev."
RG_BLOCK_1 = [
    "Quantitative analysis of Cycling A.Green (IFI27)",
    "",
    RG_HEADER,
    "1;255;S1;Unknown;24,31;;;;;24,40;0,12",
    "2;255;S1;Unknown;24,48;;;;;;",
    "3;255;std A;Standard;18,02;;1,00E+05;9,90E+04;1;18,02;0",
    "4;255;NTC;NTC;;NEG (NTC);;;;;",
    "",
    "",
]
RG_MELT = [
    "Melt analysis of Melt A.Green (IFI27)",
    "",
    "No.;Colour;Name;Peak 1;Peak 2;Genotype",
    "1;255;S1;82,3;;",
    "",
]
RG_BLOCK_2 = [
    "Quantitative analysis of Cycling A.Yellow (HPRT1)",
    "",
    RG_HEADER,
    "1;255;S1;Unknown;21,10;;;;;21,15;0,07",
    "2;255;S1;Unknown;21,20;;;;;;",
    "3;255;std A;Standard;16,50;;1,00E+05;;;16,50;0",
    "4;255;NTC;NTC;36,9;;;;;;",
]


def _pad(lines, width=11, sep=";"):
    return [ln + sep * max(0, width - 1 - ln.count(sep)) for ln in lines]


def _check_rg(d):
    assert len(d) == 8
    assert set(d["target"]) == {"IFI27", "HPRT1"}
    assert _row(d, "1", "IFI27")["ct"] == pytest.approx(24.31)
    assert _row(d, "2", "HPRT1")["ct"] == pytest.approx(21.20)
    ntc = _row(d, "4", "IFI27")
    assert ntc["undetermined"]
    assert ntc["task"] == "ntc"
    assert ntc["ct_comment"] == "NEG (NTC)"
    assert _row(d, "4", "HPRT1")["ct"] == pytest.approx(36.9)
    std = _row(d, "3", "IFI27")
    assert std["task"] == "standard"
    assert std["quantity"] == pytest.approx(1e5)
    assert std["calc_quantity"] == pytest.approx(9.9e4)
    assert math.isnan(_row(d, "1", "IFI27")["quantity"])
    assert _row(d, "1", "IFI27")["threshold"] == pytest.approx(0.05)
    assert _row(d, "1", "HPRT1")["channel"] == "Cycling A.Yellow"
    assert int(d["undetermined"].sum()) == 1


def test_rotorgene_multi_block_semicolon_decimal_comma_bom(tmp_path):
    lines = _pad(RG_PREAMBLE + RG_BLOCK_1 + RG_MELT + RG_BLOCK_2)
    p = _write(tmp_path / "export.csv", "\n".join(lines), bom=True, crlf=True)
    assert _qiagen.sniff(probe_file(p))
    d = read_ct(p)
    _check_rg(d)
    meta = d.attrs["ifnscore_ct"]
    assert meta["run_date"] == "2024-05-07T14:02:11"  # dotted date: day first
    assert any("Melt analysis of Melt A.Green (IFI27)" in n for n in meta["notes"])
    assert any("1 tube(s) carry a Ct Comment" in n for n in meta["notes"])


def test_rotorgene_comma_separated_copy(tmp_path):
    def conv(ln):
        cells = ln.split(";")
        return ",".join(c.replace(",", ".") for c in cells)

    lines = [conv(ln) for ln in _pad(RG_PREAMBLE + RG_BLOCK_1 + RG_BLOCK_2)]
    d = read_ct(_write(tmp_path / "us.csv", "\n".join(lines) + "\n"))
    _check_rg(d)


def test_rotorgene_xlsx_with_swapped_date_cell(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    for ln in RG_PREAMBLE + RG_BLOCK_1 + RG_BLOCK_2:
        cells = []
        for c in ln.split(";"):
            try:
                cells.append(float(c.replace(",", ".")) if c else None)
            except ValueError:
                cells.append(c)
        ws.append(cells)
    # Excel read "07.05.2024"-style text as 5 July when the sheet was saved elsewhere
    ws["B4"] = dt.datetime(2024, 7, 5)
    wb.create_sheet("Tabelle1").append(["Name", "Ct"])
    p = tmp_path / "export.xlsx"
    wb.save(p)
    d = read_ct(p)
    _check_rg(d)
    meta = d.attrs["ifnscore_ct"]
    assert meta["run_date"] is None
    assert any("day and month swapped" in n for n in meta["notes"])
    with pytest.raises(InputError, match=r"no quantitation block with a Ct column"):
        read_ct(p, sheet="Tabelle1")


def test_rotorgene_title_without_name_and_ambiguous_date(tmp_path):
    lines = [
        "Excel Analysed Data Export",
        "File;run.rex",
        "Date;3/12/2021",
        "",
        "Quantitative analysis of Cycling A.Green",
        "",
        "No.;Colour;Name;Type;Ct",
        "1;1;S1;Unknown;20.5",
    ]
    d = read_ct(_write(tmp_path / "x.csv", "\n".join(_pad(lines, 5))))
    assert d["target"].tolist() == ["Cycling A.Green"]
    meta = d.attrs["ifnscore_ct"]
    assert meta["instrument"] == "Rotor-Gene"  # no QIAGEN copyright line
    assert meta["run_date"] is None
    assert any("names no assay" in n for n in meta["notes"])
    assert any("unclear day/month order" in n for n in meta["notes"])


def test_rotorgene_refusals(tmp_path):
    melt_only = _pad(RG_PREAMBLE + RG_MELT)
    with pytest.raises(
        InputError,
        match=r"no quantitation block with a Ct column in the Rotor-Gene export \(it holds 'Melt analysis",
    ):
        read_ct(_write(tmp_path / "melt.csv", "\n".join(melt_only)))
    cut = "\n".join(_pad(RG_PREAMBLE + RG_BLOCK_1[:4])) + "\n2;255;S1;Unkn"
    with pytest.raises(
        InputError, match=r"line 17 \(position 2\) has 4 fields where the header of block .* has 11"
    ):
        read_ct(_write(tmp_path / "cut.csv", cut))
    twice = _pad(RG_PREAMBLE + RG_BLOCK_1 + RG_BLOCK_1)
    with pytest.raises(InputError, match=r"position 1 appears twice for 'IFI27'"):
        read_ct(_write(tmp_path / "twice.csv", "\n".join(twice)))


# --------------------------------------------------------------------------- dispatch and helpers


def test_sniffers_do_not_claim_each_others_files():
    files = {
        "biorad": real("qpcr/cfx_maestro/cfxmaestro_example01.csv"),
        "roche": real("qpcr/lightcycler480/Edward_qPCR_Nrd1_calibration_2019-02-02_Cq.txt.gz"),
        "qiagen": real("qpcr/rotorgene/28S_irregular.csv"),
    }
    mods = {"biorad": _biorad, "roche": _roche, "qiagen": _qiagen}
    for owner, path in files.items():
        probe = probe_file(path)
        assert [k for k, m in mods.items() if m.sniff(probe)] == [owner]
    abi = real("qpcr/quantstudio3_autoqpcr/RELATIVE_example.csv")
    assert not any(m.sniff(probe_file(abi)) for m in mods.values())


def test_iso_date_reads_only_unambiguous_dates():
    assert iso_date("3/16/2021") == "2021-03-16"
    assert iso_date("3/12/2021") is None
    assert iso_date("3/12/2021", order="dmy") == "2021-12-03"
    assert iso_date("16.03.2021 10:34:20 PM") == "2021-03-16T22:34:20"
    assert iso_date("not a date") is None


def test_inputs_are_not_mutated_and_dtypes(tmp_path):
    p = _write(tmp_path / "plate.csv", "\n".join([CFX_HEADER, *CFX_ROWS]) + "\n")
    before = p.read_bytes()
    d = read_ct(p)
    assert p.read_bytes() == before
    assert d["ct"].dtype == np.float64
    assert d["undetermined"].dtype == bool
    assert d["omitted"].dtype == bool
