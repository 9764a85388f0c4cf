"""read_ct: the RDML reader and the generic long / wide Ct table reader.

Real RDML files come from rdmlpython (../shared/data/real/qpcr/rdml, see PROVENANCE.txt); the
values below were read by eye from their ``rdml_data.xml``. Synthetic files cover what the
real ones lack (RDML 1.0, multiplex wells, <excl>, standards, DOCTYPE, truncation ...).
"""

from __future__ import annotations

import gzip
import math
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest
from _real import real

from ifnscore._io._ct import _generic, _rdml, read_ct
from ifnscore._io._ct._common import COLUMNS, probe_file
from ifnscore.errors import InputError


def _row(t: pd.DataFrame, **key: str) -> pd.Series:
    m = np.ones(len(t), dtype=bool)
    for k, v in key.items():
        m &= (t[k] == v).to_numpy()
    assert m.sum() == 1, key
    return t[m].iloc[0]


# ============================================================================ RDML, real files


def test_rdml_optical_calibrator_oc3():
    t = read_ct(real("qpcr/rdml/experiment_OC_3.rdml"))
    assert list(t.columns[:7]) == list(COLUMNS)
    assert len(t) == 42  # 42 <react> elements, one <data> each
    assert set(t["target"]) == {"FSTL1-E10", "FSTL1-E6", "MYH6", "qPCRa"}
    assert int(t["undetermined"].sum()) == 33  # <cq>-1.0</cq> in 33 reactions
    # pcrFormat 16 x 24, ABC/123: reaction n is row (n-1)//24, column (n-1)%24 + 1
    # <react id="77"><sample id="qPCRa"/>...<tar id="qPCRa"/><cq>27.405</cq>  -> D5
    r = _row(t, well="D5")
    assert (r["sample"], r["target"], r["ct"]) == ("qPCRa", "qPCRa", 27.405)
    # <react id="102"><sample id="FSTL1-E6"/>...<cq>23.036</cq>  -> E6
    assert _row(t, well="E6")["ct"] == 23.036
    # <react id="127"><sample id="FSTL1-E10"/>...<tar id="FSTL1-E10"/><cq>24.618</cq>  -> F7
    r = _row(t, well="F7")
    assert (r["sample"], r["target"], r["ct"]) == ("FSTL1-E10", "FSTL1-E10", 24.618)
    # <react id="1">...<tar id="MYH6"/><cq>-1.0</cq>  -> A1, no Cq
    r = _row(t, well="A1")
    assert r["target"] == "MYH6"
    assert r["undetermined"]
    assert math.isnan(r["ct"])
    assert set(t["experiment"]) == {"Experiment OC-3"}
    assert set(t["run"]) == {"New Run"}
    assert set(t["task"]) == {"unknown"}  # every <sample> is <type>unkn</type>
    assert not t["omitted"].any()
    a = t.attrs["ifnscore_ct"]
    assert a["format"] == "rdml"
    assert a["rdml_version"] == "1.4"
    assert a["instrument"] is None
    assert a["vendor"] == "unknown"
    assert a["file"] == "experiment_OC_3.rdml"


def test_rdml_eva_green_quantstudio():
    t = read_ct(real("qpcr/rdml/eva_green_a.rdml"))
    assert len(t) == 98  # 98 reactions, 14 targets x 7 wells
    assert t["target"].nunique() == 14  # <target id="Target 1"> is defined but never used
    assert int(t["undetermined"].sum()) == 0
    # <react id="31"><sample id="Genomic DNA 7ng"/>...<tar id="FSTL_1_F_109 H R"/><cq>21.946602</cq> -> B7
    r = _row(t, well="B7")
    assert (r["target"], r["ct"]) == ("FSTL_1_F_109 H R", 21.946602)
    assert r["dye"] == "Eva Green H"  # <target id="FSTL_1_F_109 H R">...<dyeId id="Eva Green H"/>
    # <react id="55">...<tar id="FSTL_1_H_201 H R"/><cq>22.582022</cq>  -> C7
    assert _row(t, well="C7")["ct"] == 22.582022
    # <react id="349">...<tar id="FSTL_1_H_201 SYBR"/><cq>21.186464</cq>  -> O13
    r = _row(t, well="O13")
    assert (r["target"], r["ct"], r["dye"]) == ("FSTL_1_H_201 SYBR", 21.186464, "SYBR - Roche")
    # the sample is <type>unkn</type> with a <quantity> of 260 cop: only standards get a quantity
    assert set(t["sample"]) == {"Genomic DNA 7ng"}
    assert t["quantity"].isna().all()
    a = t.attrs["ifnscore_ct"]
    assert a["instrument"] == "QuantStudio Dx"
    assert a["vendor"] == "Applied Biosystems"
    assert a["software"] == "QuantStudio 6 and 7 Software"
    assert a["version"] == "1.3"
    assert a["run_date"] == "2010-01-01T03:12:59.214"


def test_rdml_curves_only_is_refused():
    # probes.rdml: 504 reactions holding <adp> curves, not one <cq>
    with pytest.raises(
        InputError,
        match=r"probes\.rdml: the RDML file holds amplification/melting curves but no Cq",
    ):
        read_ct(real("qpcr/rdml/probes.rdml"))


# ============================================================================ RDML, synthetic

_PLATE96 = "<pcrFormat><rows>8</rows><columns>12</columns><rowLabel>ABC</rowLabel><columnLabel>123</columnLabel></pcrFormat>"

RDML13 = f"""<?xml version="1.0" encoding="UTF-8"?>
<rdml version="1.3" xmlns="http://www.rdml.org" xmlns:rdml="http://www.rdml.org">
<id><publisher>Example Lab</publisher><serialNumber>1</serialNumber></id>
<dye id="FAM"/><dye id="HEX"/>
<sample id="P1"><type>unkn</type></sample>
<sample id="STD1"><type>std</type><quantity><value>1000</value><unit>cop</unit></quantity></sample>
<sample id="NTC"><type>ntc</type></sample>
<sample id="MIX"><type>unkn</type><type targetId="HPRT1">ntc</type></sample>
<target id="IFI27"><type>toi</type><dyeId id="FAM"/></target>
<target id="HPRT1"><type>ref</type><dyeId id="HEX"/></target>
<experiment id="E1"><run id="Plate 1">
<instrument>CFX96 Touch</instrument>
<dataCollectionSoftware><name>CFX Maestro</name><version>2.3</version></dataCollectionSoftware>
{_PLATE96}
<runDate>2024-03-01T10:00:00</runDate>
<react id="1"><sample id="P1"/><data><tar id="IFI27"/><cq>24.5</cq></data><data><tar id="HPRT1"/><cq>22.25</cq></data></react>
<react id="13"><sample id="STD1"/><data><tar id="IFI27"/><cq>18.0</cq></data></react>
<react id="96"><sample id="NTC"/><data><tar id="IFI27"/><cq>-1</cq></data></react>
<react id="12"><sample id="P1"/><data><tar id="IFI27"/><cq>25.0</cq><excl>outlier</excl></data></react>
<react id="14"><sample id="P1"/><data><tar id="IFI27"/></data></react>
<react id="25"><sample id="MIX"/><data><tar id="HPRT1"/><cq>35</cq></data><data><tar id="IFI27"/><cq>30</cq></data></react>
</run></experiment>
<experiment id="E2"><run id="Plate 2">
<instrument>CFX96 Touch</instrument>
{_PLATE96}
<runDate>2024-03-02T10:00:00</runDate>
<react id="1"><sample id="P1"/><data><tar id="IFI27"/><cq>24.75</cq></data></react>
</run>
<run id="curves">{_PLATE96}
<react id="1"><sample id="P1"/><data><tar id="IFI27"/><adp><cyc>1</cyc><fluor>0.1</fluor></adp></data></react>
</run></experiment>
</rdml>
"""


def _zip(path, xml, member="rdml_data.xml"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(member, xml)
    return path


def test_rdml_synthetic_plate_duplex_excl_standards(tmp_path):
    t = read_ct(_zip(tmp_path / "run.rdml", RDML13))
    # run 1: 2 + 1 + 1 + 1 + 1 + 2 data; run 2: 1; the curves-only run is left out
    assert len(t) == 9
    assert list(t.columns) == [*COLUMNS, "experiment", "run", "dye", "quantity", "quantity_unit"]
    p1 = t[t["run"] == "Plate 1"]
    duplex = p1[p1["well"] == "A1"].set_index("target")  # react 1: two <data>, two rows
    assert duplex.loc["IFI27", "ct"] == 24.5
    assert duplex.loc["HPRT1", "ct"] == 22.25
    assert duplex.loc["HPRT1", "dye"] == "HEX"
    std = _row(p1, well="B1")  # react 13 of 8 x 12
    assert (std["task"], std["quantity"], std["quantity_unit"], std["ct"]) == (
        "standard",
        1000.0,
        "cop",
        18.0,
    )
    ntc = _row(p1, well="H12")  # react 96, <cq>-1</cq>
    assert ntc["task"] == "ntc"
    assert ntc["undetermined"]
    excl = _row(p1, well="A12")  # <excl>outlier</excl>: kept, marked omitted, Ct as written
    assert excl["omitted"]
    assert excl["ct"] == 25.0
    assert int(t["omitted"].sum()) == 1
    nocq = _row(p1, well="B2")  # <data> without <cq>
    assert nocq["undetermined"]
    mix = p1[p1["well"] == "C1"].set_index("target")  # <type targetId="HPRT1">ntc</type>
    assert mix.loc["HPRT1", "task"] == "ntc"
    assert mix.loc["IFI27", "task"] == "unknown"
    assert math.isnan(_row(p1, well="A1", target="IFI27")["quantity"])
    assert _row(t, run="Plate 2")["ct"] == 24.75
    assert _row(t, run="Plate 2")["experiment"] == "E2"
    a = t.attrs["ifnscore_ct"]
    assert a["vendor"] == "Bio-Rad"
    assert a["instrument"] == "CFX96 Touch"
    assert a["software"] == "CFX Maestro"
    assert a["version"] == "2.3"
    assert a["run_date"] is None  # two dates
    assert a["run_dates"] == {
        "E1/Plate 1": "2024-03-01T10:00:00",
        "E2/Plate 2": "2024-03-02T10:00:00",
    }
    assert a["rdml_version"] == "1.3"
    assert a["publisher"] == "Example Lab"
    notes = " ".join(a["notes"])
    assert "1 run(s) hold curves but no Cq values and were not read: E2/curves" in notes
    assert "1 reaction target(s) have no <cq> element" in notes
    assert "1 reaction target(s) are excluded" in notes


def test_rdml_plain_xml_and_gzip(tmp_path):
    plain = tmp_path / "run.xml"
    plain.write_bytes(b"\xef\xbb\xbf" + RDML13.replace("\n", "\r\n").encode())  # BOM + CRLF
    a = read_ct(plain)
    b = read_ct(_zip(tmp_path / "run.rdml", RDML13))
    pd.testing.assert_frame_equal(a, b)
    gz = tmp_path / "run.xml.gz"
    gz.write_bytes(gzip.compress(RDML13.encode()))
    pd.testing.assert_frame_equal(read_ct(gz), b)
    other = _zip(tmp_path / "named.rdml", RDML13, member="export/data.xml")  # not rdml_data.xml
    assert len(read_ct(other)) == 9
    assert a.attrs["ifnscore_ct"].get("rdml_member") is None
    assert b.attrs["ifnscore_ct"]["rdml_member"] == "rdml_data.xml"


RDML10 = """<?xml version="1.0"?>
<rdml version="1.0" xmlns="http://www.rdml.org">
<sample id="S1"><type>unkn</type></sample>
<sample id="St"><type>std</type></sample>
<target id="ISG15"><type>toi</type><dyeId>SYBR</dyeId></target>
<experiment id="old"><run id="r1"><pcrFormat>96-well plate; A1-H12</pcrFormat>
<react id="a1"><sample id="S1"/><data><tar id="ISG15"/><cq>26.1</cq></data></react>
<react id="H12"><sample id="St"/><data><tar id="ISG15"/><cq>20.5</cq><quantity>500</quantity></data></react>
</run>
<run id="rotor"><pcrFormat>72-well rotor; 1-72</pcrFormat>
<react id="5"><sample id="S1"/><data><tar id="ISG15"/><cq>27</cq></data></react></run>
</experiment></rdml>
"""


def test_rdml_version_1_0(tmp_path):
    t = read_ct(_zip(tmp_path / "v10.rdml", RDML10))
    assert len(t) == 3
    r = _row(t, run="r1", well="A1")  # react id "a1": RDML 1.0 names plate wells
    assert r["ct"] == 26.1
    assert r["dye"] == "SYBR"
    std = _row(t, well="H12")
    assert std["task"] == "standard"
    assert std["quantity"] == 500.0
    assert _row(t, run="rotor")["well"] == "5"
    assert t.attrs["ifnscore_ct"]["rdml_version"] == "1.0"


def test_rdml_rotor_and_numeric_labels(tmp_path):
    fmt = "<pcrFormat><rows>100</rows><columns>1</columns><rowLabel>123</rowLabel><columnLabel>123</columnLabel></pcrFormat>"
    xml = RDML13.replace(_PLATE96, fmt, 1)
    t = read_ct(_zip(tmp_path / "rotor.rdml", xml))
    p1 = t[t["run"] == "Plate 1"]
    assert set(p1["well"]) == {
        "1",
        "12",
        "13",
        "14",
        "25",
        "96",
    }  # rotor positions: the reaction numbers
    assert _row(p1, well="13")["task"] == "standard"


def test_rdml_without_pcr_format(tmp_path):
    t = read_ct(_zip(tmp_path / "free.rdml", RDML13.replace(_PLATE96, "", 1)))
    assert set(t[t["run"] == "Plate 1"]["well"]) == {"1", "12", "13", "14", "25", "96"}
    assert "run 'Plate 1' of experiment 'E1' has no plate <pcrFormat>" in " ".join(
        t.attrs["ifnscore_ct"]["notes"]
    )


def test_rdml_reaction_outside_format(tmp_path):
    xml = RDML13.replace('<react id="96">', '<react id="97">')
    with pytest.raises(
        InputError, match=r"reaction 97 of run 'Plate 1' of experiment 'E1' lies outside its 8 x 12"
    ):
        read_ct(_zip(tmp_path / "bad.rdml", xml))


def test_rdml_doctype_is_refused(tmp_path):
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE rdml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        '<rdml version="1.3" xmlns="http://www.rdml.org"><sample id="&b;"/></rdml>'
    )
    for path in (_zip(tmp_path / "bomb.rdml", bomb), tmp_path / "bomb.xml"):
        if path.suffix == ".xml":
            path.write_text(bomb)
        with pytest.raises(InputError, match=r"declares a DOCTYPE or entities"):
            read_ct(path)


def test_rdml_truncated_and_damaged(tmp_path):
    cut = RDML13[: len(RDML13) // 2]
    with pytest.raises(InputError, match=r"cut\.rdml: the RDML XML is not well formed at line \d+"):
        read_ct(_zip(tmp_path / "cut.rdml", cut))
    raw = _zip(tmp_path / "whole.rdml", RDML13).read_bytes()
    (tmp_path / "half.rdml").write_bytes(raw[: len(raw) // 2])  # a truncated zip archive
    with pytest.raises(InputError, match=r"half\.rdml"):
        read_ct(tmp_path / "half.rdml")


def test_rdml_inconsistent_files(tmp_path):
    twice = RDML13.replace(
        '<data><tar id="IFI27"/><cq>18.0</cq></data>',
        '<data><tar id="IFI27"/><cq>18.0</cq></data>' * 2,
    )
    with pytest.raises(
        InputError,
        match=r"reaction 13 \(well B1\) of run 'Plate 1' of experiment 'E1' holds target 'IFI27' twice",
    ):
        read_ct(_zip(tmp_path / "twice.rdml", twice))
    notar = RDML13.replace(
        '<data><tar id="IFI27"/><cq>18.0</cq></data>', "<data><cq>18.0</cq></data>"
    )
    with pytest.raises(
        InputError, match=r"reaction 13 \(well B1\) .* has a <data> without a target"
    ):
        read_ct(_zip(tmp_path / "notar.rdml", notar))
    text = RDML13.replace("<cq>18.0</cq>", "<cq>eighteen</cq>")
    with pytest.raises(InputError, match=r"Ct 'eighteen' of well 'B1' is not a number"):
        read_ct(_zip(tmp_path / "text.rdml", text))
    undefined = RDML13.replace(
        '<react id="13"><sample id="STD1"/>', '<react id="13"><sample id="GHOST"/>'
    )
    t = read_ct(_zip(tmp_path / "ghost.rdml", undefined))
    assert _row(t, well="B1", run="Plate 1")["task"] == "unknown"
    assert "sample(s) ['GHOST'] are used by reactions but not defined" in " ".join(
        t.attrs["ifnscore_ct"]["notes"]
    )


def test_rdml_sniff(tmp_path):
    assert _rdml.sniff(probe_file(_zip(tmp_path / "a.rdml", RDML13)))
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("notes.xml", "<notes><n>1</n></notes>")
        z.writestr("data.csv", "a,b\n1,2\n")
    assert not _rdml.sniff(probe_file(other))
    with pytest.raises(InputError, match=r"other\.zip: not a qPCR export ifnscore can read"):
        read_ct(other)
    csv = tmp_path / "x.csv"
    csv.write_text("sample,target,ct\nA,B,1\n")
    assert not _rdml.sniff(probe_file(csv))


# ============================================================================ generic long

LONG = """Sample Name,Target Name,CT
P1,HPRT1,25.0
P1,HPRT1,25.2
P1,18S,9.0
P1,18S,9.2
P1,IFI27,20.0
P1,IFI27,20.4
P1,ISG15,22.0
P1,ISG15,23.4
C1,HPRT1,24.0
C1,18S,10.0
C1,IFI27,27.0
C1,ISG15,25.0
C2,HPRT1,26.0
C2,18S,8.0
C2,IFI27,28.0
C2,ISG15,Undetermined
"""


def _write(tmp_path, text, name="ct.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_long_table(tmp_path):
    t = read_ct(_write(tmp_path, LONG))
    assert read_ct(_write(tmp_path, LONG, "again.csv"), rows="genes").attrs["ifnscore_ct"]["notes"][
        -1
    ] == ("rows='genes' applies to wide tables only; this long table was read as it is.")
    assert len(t) == 16
    assert list(t.columns) == [*COLUMNS, "line"]
    assert set(t["target"]) == {"HPRT1", "18S", "IFI27", "ISG15"}
    assert int(t["undetermined"].sum()) == 1
    last = t.iloc[-1]  # line 17: "C2,ISG15,Undetermined"
    assert (last["sample"], last["target"], last["undetermined"], last["line"]) == (
        "C2",
        "ISG15",
        True,
        17,
    )
    assert t.iloc[1]["ct"] == 25.2
    assert t.iloc[1]["line"] == 3
    assert t.iloc[10]["ct"] == 27.0  # line 12: "C1,IFI27,27.0"
    assert (t["well"] == "").all()
    assert (t["task"] == "unknown").all()
    a = t.attrs["ifnscore_ct"]
    assert a["format"] == "generic long Ct table"
    assert a["vendor"] == "generic"
    assert "no well column" in " ".join(a["notes"])


def test_long_table_optional_columns_semicolon_decimal_comma(tmp_path):
    text = (
        "Well;Sample;Gene;Cq;Cq Mean;Task;Omit;Quantity;Comment\r\n"
        "A1;P1;IFI27;24,5;24,6;Unknown;false;;x\r\n"
        "A2;P1;IFI27;24,7;24,6;Unknown;TRUE;;\r\n"
        "B1;Std1;IFI27;18,25;;Standard;no;1000;\r\n"
        "C1;Water;IFI27;Undetermined;;NTC;0;;\r\n"
    )
    p = tmp_path / "ct.txt"
    p.write_bytes(b"\xef\xbb\xbf" + text.encode())
    t = read_ct(p)
    assert list(t["well"]) == ["A1", "A2", "B1", "C1"]
    assert list(t["ct"][:3]) == [24.5, 24.7, 18.25]  # the Cq column, never "Cq Mean"
    assert list(t["task"]) == ["unknown", "unknown", "standard", "ntc"]
    assert list(t["omitted"]) == [False, True, False, False]
    assert t["quantity"].iloc[2] == 1000.0
    assert t["quantity"].isna().sum() == 3
    assert "column(s) not read: Cq Mean, Comment." in t.attrs["ifnscore_ct"]["notes"]


def test_long_table_tsv_gzip_and_excel(tmp_path):
    gz = tmp_path / "ct.tsv.gz"
    gz.write_bytes(gzip.compress(LONG.replace(",", "\t").encode()))
    a = read_ct(gz)
    b = read_ct(_write(tmp_path, LONG))
    pd.testing.assert_frame_equal(a.drop(columns="line"), b.drop(columns="line"))
    pytest.importorskip("openpyxl")
    frame = pd.read_csv(tmp_path / "ct.csv", dtype=str, keep_default_na=False)
    with pd.ExcelWriter(tmp_path / "ct.xlsx") as xw:
        pd.DataFrame({"note": ["not a Ct table"]}).to_excel(xw, sheet_name="About", index=False)
        frame.to_excel(xw, sheet_name="Cts", index=False)
    with pytest.raises(
        InputError,
        match=r"the first sheet is not a Ct table, but sheet 'Cts' looks like one; pass sheet='Cts'",
    ):
        read_ct(tmp_path / "ct.xlsx")
    x = read_ct(tmp_path / "ct.xlsx", sheet="Cts")
    pd.testing.assert_frame_equal(x.drop(columns="line"), b.drop(columns="line"))
    assert x["line"].iloc[-1] == 17  # sheet row 17
    assert read_ct(tmp_path / "ct.xlsx", sheet=1).equals(x)
    with pytest.raises(InputError, match=r"no sheet named 'Ct'; the sheets are \['About', 'Cts'\]"):
        read_ct(tmp_path / "ct.xlsx", sheet="Ct")
    with pytest.raises(InputError, match=r"sheet=5 is out of range; the workbook has 2 sheet"):
        read_ct(tmp_path / "ct.xlsx", sheet=5)
    with pytest.raises(InputError, match=r"sheet='Cts' was given but the file is a text table"):
        read_ct(tmp_path / "ct.csv", sheet="Cts")


def test_long_table_bad_cells(tmp_path):
    with pytest.raises(
        InputError, match=r"Ct 'abc' of sample 'C1', target 'IFI27' \(line 12\) is not a number"
    ):
        read_ct(_write(tmp_path, LONG.replace("C1,IFI27,27.0", "C1,IFI27,abc")))
    with pytest.raises(
        InputError, match=r"Ct -3 for sample 'C1', target 'IFI27' \(line 12\) is not a cycle number"
    ):
        read_ct(_write(tmp_path, LONG.replace("C1,IFI27,27.0", "C1,IFI27,-3")))
    with pytest.raises(
        InputError, match=r"Ct 270 for sample 'C1', target 'IFI27' \(line 12\) is above 100 cycles"
    ):
        read_ct(_write(tmp_path, LONG.replace("C1,IFI27,27.0", "C1,IFI27,270")))
    with pytest.raises(
        InputError, match=r"Ct 0 for sample 'C1', target 'IFI27' \(line 12\) is not a cycle number"
    ):
        read_ct(_write(tmp_path, LONG.replace("C1,IFI27,27.0", "C1,IFI27,0")))
    t = read_ct(_write(tmp_path, LONG.replace("C1,IFI27,27.0", "C1,IFI27,-1")))  # -1: no Ct
    assert t.iloc[10]["undetermined"]
    assert t.iloc[10]["line"] == 12
    with pytest.raises(InputError, match=r"'Omit' value 'maybe' \(line 2\) is not true/false"):
        read_ct(_write(tmp_path, "Sample,Target,Ct,Omit\nA,IFI27,20,maybe\n"))
    with pytest.raises(
        InputError, match=r"the header has 2 Ct columns \('Ct', 'Cq'\); keep one Ct column"
    ):
        read_ct(_write(tmp_path, "Sample,Target,Ct,Cq\nA,IFI27,20,20\n"))
    with pytest.raises(
        InputError, match=r"line 3 has 2 fields but the header has 3; is the file truncated"
    ):
        read_ct(_write(tmp_path, "Sample,Target,Ct\nA,IFI27,20\nA,IFI"))
    with pytest.raises(InputError, match=r"line 2 has 4 fields but the header has 3"):
        read_ct(_write(tmp_path, "Sample,Target,Ct\nA,IFI27,20,5\n"))


def test_long_table_rows_without_target_are_reported(tmp_path):
    t = read_ct(_write(tmp_path, "Sample,Target,Ct\nA,IFI27,20\nA,,21\n"))
    assert len(t) == 1
    assert "1 row(s) name no target and were not read." in t.attrs["ifnscore_ct"]["notes"]


def test_missing_ct_column_is_named(tmp_path):
    p = _write(tmp_path, "Sample,Target,Value\nA,IFI27,high\n")
    assert not _generic.sniff(probe_file(p))  # neither long nor wide: read_ct refuses it
    with pytest.raises(InputError, match=r"the header has no Ct column"):
        _generic.parse(probe_file(p))


def test_looks_like_long_ct():
    assert _generic.looks_like_long_ct("Sample Name,Target Name,CT\n")
    assert _generic.looks_like_long_ct("sample\tgene\tCq\r\n")
    assert not _generic.looks_like_long_ct("Sample Name,Target Name,Ct Mean\n")
    assert not _generic.looks_like_long_ct("gene,S1,S2\n")


# ============================================================================ generic wide


def test_wide_samples_by_targets_and_replicates(tmp_path):
    t = read_ct(
        _write(
            tmp_path, "sample,HPRT1,18S,IFI27\nA,25,9,20\nA,25.2,9.2,20.4\nB,24,10,Undetermined\n"
        )
    )
    assert len(t) == 9
    assert (t["well"] == "").all()
    a_ifi = t[(t["sample"] == "A") & (t["target"] == "IFI27")]
    assert list(a_ifi["ct"]) == [20.0, 20.4]
    assert list(a_ifi["line"]) == [2, 3]
    assert _row(t, sample="B", target="IFI27")["undetermined"]
    notes = " ".join(t.attrs["ifnscore_ct"]["notes"])
    assert "no wells" in notes
    assert "technical replicates" in notes


def test_wide_targets_by_samples(tmp_path):
    t = read_ct(_write(tmp_path, "target,A,B\nHPRT1,25,24\n18S,9,10\nIFI27,20,27\n"))
    assert len(t) == 6
    assert _row(t, sample="B", target="IFI27")["ct"] == 27.0  # line 4: "IFI27,20,27"
    assert _row(t, sample="A", target="18S")["line"] == 3
    assert "technical replicates" not in " ".join(t.attrs["ifnscore_ct"]["notes"])


def test_wide_numeric_sample_labels(tmp_path):
    t = read_ct(_write(tmp_path, "target,101,102\nHPRT1,25,24\nIFI27,20,27\n"))
    assert _row(t, sample="102", target="IFI27")["ct"] == 27.0  # line 3: "IFI27,20,27"
    headerless = _write(tmp_path, "1,2,3\n4,5,6\n", "n.csv")
    assert not _generic.sniff(probe_file(headerless))


def test_wide_empty_cell_is_not_measured(tmp_path):
    t = read_ct(_write(tmp_path, "sample,HPRT1,IFI27\nA,25,\nB,24,27\n"))
    assert len(t) == 3
    assert not t["undetermined"].any()
    assert "1 empty cell(s) (sample and target not measured) gave no row" in " ".join(
        t.attrs["ifnscore_ct"]["notes"]
    )


def test_wide_orientation_unclear(tmp_path):
    p = _write(tmp_path, "x,A,B\nfoo,25,24\nbar,9,10\n")
    with pytest.raises(
        InputError,
        match=r"cannot tell whether the rows of this wide Ct table are samples or targets.*rows='samples' or rows='genes'",
    ):
        read_ct(p)
    t = read_ct(p, rows="genes")
    assert set(t["target"]) == {"foo", "bar"}
    assert set(t["sample"]) == {"A", "B"}
    t = read_ct(p, rows="samples")
    assert set(t["target"]) == {"A", "B"}
    # the corner label settles a tie
    assert set(read_ct(_write(tmp_path, "Sample,A,B\nfoo,25,24\n", "c.csv"))["sample"]) == {"foo"}
    with pytest.raises(InputError, match=r"rows='wide' is not valid"):
        read_ct(p, rows="wide")


def test_wide_duplicated_target_and_bad_cell(tmp_path):
    with pytest.raises(InputError, match=r"duplicated target \(column label\) \['IFI27'\]"):
        read_ct(_write(tmp_path, "sample,IFI27,IFI27,HPRT1\nA,20,21,25\n"))
    p = _write(tmp_path, "sample,IFI27,HPRT1\nA,20,25\nB,abc,24\n", "bad.csv")
    assert not _generic.sniff(probe_file(p))  # the body must be numbers or no-Ct words
    with pytest.raises(
        InputError, match=r"Ct 'abc' of sample 'B', target 'IFI27' \(line 3\) is not a number"
    ):
        _generic.parse(probe_file(p))
    with pytest.raises(InputError, match=r"line 3 has 2 fields but the header has 3"):
        _generic.parse(
            probe_file(_write(tmp_path, "sample,IFI27,HPRT1\nA,20,25\nB,20\n", "short.csv"))
        )


def test_generic_sniff_refuses_other_tables(tmp_path):
    counts = _write(tmp_path, "gene,S1,S2\nIFI27,1200,5400\nHPRT1,800,760\n", "counts.csv")
    assert not _generic.sniff(probe_file(counts))  # values above 100 are not Cts
    with pytest.raises(InputError, match=r"counts\.csv: not a qPCR export ifnscore can read"):
        read_ct(counts)
    vendor = _write(
        tmp_path,
        "* Block Type = 96-Well Block\n* Chemistry = TAQMAN\n\n[Results]\nWell\tCT\n1\t20\n",
        "abi.txt",
    )
    assert not _generic.sniff(probe_file(vendor))
    assert _generic.sniff(probe_file(_write(tmp_path, LONG)))
    assert _generic.sniff(
        probe_file(_write(tmp_path, "sample,IFI27\nA,Undetermined\nB,30.1\n", "w.csv"))
    )


def test_excel_through_openpyxl_when_calamine_is_absent(tmp_path, monkeypatch):
    pytest.importorskip("openpyxl")
    frame = pd.DataFrame(
        {"sample": ["A", "B"], "HPRT1": [25.0, 24.0], "IFI27": [20.5, "Undetermined"]}
    )
    frame.to_excel(tmp_path / "w.xlsx", index=False, sheet_name="Plate")
    monkeypatch.setitem(sys.modules, "python_calamine", None)
    probe = probe_file(tmp_path / "w.xlsx")
    assert _generic.sniff(probe)
    t = _generic.parse(probe)
    assert len(t) == 4
    assert _row(t, sample="A", target="IFI27")["ct"] == 20.5
    assert _row(t, sample="B", target="IFI27")["undetermined"]
    assert _row(t, sample="B", target="HPRT1")["line"] == 3  # sheet row 3
    assert t.attrs["ifnscore_ct"]["file"] == "w.xlsx"
    assert t.attrs["ifnscore_ct"]["sheet"] == "Plate"


def test_workbook_library_missing(tmp_path, monkeypatch):
    pytest.importorskip("openpyxl")
    pd.DataFrame({"Sample": ["A"], "Target": ["IFI27"], "Ct": [20.0]}).to_excel(
        tmp_path / "ct.xlsx", index=False
    )
    probe = probe_file(tmp_path / "ct.xlsx")
    monkeypatch.setitem(sys.modules, "python_calamine", None)
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(InputError, match=r"pip install 'ifnscore\[io\]'"):
        _generic.parse(probe)
