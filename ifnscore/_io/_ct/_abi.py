"""Applied Biosystems (Thermo Fisher) qPCR results exports -> the long Ct table.

What is read, decided from the content (never from the extension alone):

* **QuantStudio 1/3/5/6/7/12K Flex, ViiA 7, StepOne/StepOnePlus, 7500** (QuantStudio
  Real-Time PCR Software v1.x, StepOne Software v2.x, 7500 Software v2.x) *text* exports:
  ``* Key = Value`` preamble lines, then ``[Sample Setup]``, ``[Amplification Data]``,
  ``[Results]`` ... sections, tab-separated. The ``[Results]`` section is read; when it is
  absent, the first section whose header holds a well and a per-well Ct column.
* **QuantStudio CSV** ("Results" saved as CSV): ``Key,Value`` preamble rows, a blank row, the
  results header, then the wells, all-comma empty rows and an RQ footer
  (``Analysis Type``, ``Endogenous Control`` ...).
* **Workbooks**: a ``Results`` sheet with the preamble rows above the header (QuantStudio
  v1.x ``.xlsx``, StepOne / 7500 legacy ``.xls``), and **Design & Analysis v2** ``.xlsx``
  (``Results`` sheet with a ~24-row preamble, columns ``Sample`` / ``Target`` / ``Cq``).
* **SDS 2.x** (7900HT / 7500 SDS) text: first line ``SDS 2.2.2<TAB>AQ Results``, key/value
  lines, then ``Well  Sample Name  Detector Name ... Ct``.

Column rules (header names compared case-insensitively, with the Cyrillic ``т`` (U+0442)
that the ABI software writes in ``Cт`` read as a Latin ``t``):

* the per-well Ct is the column named ``CT`` / ``Ct`` / ``Cт``, ``Cq`` (Design & Analysis) or
  ``CRT`` (Relative Threshold algorithm, whose Crt is that run's cycle threshold). The
  ``Ct Mean`` / ``Ct SD`` / ``Cq Mean`` / ``Crt Mean`` columns summarise a replicate group
  and are never read as a well's Ct;
* the well is ``Well Position`` (``A1`` .. ``P24``) when present, else ``Well``;
* the target is ``Target Name`` / ``Target`` (``Detector`` / ``Detector Name`` in SDS);
  a multiplex well has one row per target (reporter dye in the ``dye`` column);
* ``Task`` (UNKNOWN / STANDARD / NTC / NEGATIVE_CONTROL ...) is normalised, ``Omit``
  (``true``/``false``, ``TRUE``/``FALSE``, ``0``/``1``) becomes ``omitted``, ``Quantity``
  (the known quantity of standards; thousands separators read) becomes ``quantity``.

References: the section and column layouts are those of the exports themselves (real
QuantStudio 1/3/5/7 Flex, ViiA 7 and Design & Analysis 2.7 files) and of the open-source
allotropy project's parsers of them (Benchling, ``src/allotropy/parsers/appbio_quantstudio/``
``appbio_quantstudio_structure.py``: ``* key = value`` header split at ``=``, ``[Results]``
read as tab-separated with ``,`` thousands separators, ``CT``/``Ct`` per well;
``appbio_quantstudio_designandanalysis``: ``Results`` sheet, ``Cq``). The SDS 2.x layout
(``SDS 2.2.2<TAB>AQ Results<TAB>1.0``, ``Detector Name``) is that of SDS 2.2.2 exports
published with analysis scripts on GitHub.
"""

from __future__ import annotations

import csv
import importlib
import math
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PureWindowsPath
from typing import Any

import numpy as np
import pandas as pd

from ...errors import InputError
from ._common import Probe, finish, parse_ct, read_text

__all__ = ["parse", "sniff"]

VENDOR = "Applied Biosystems"

#: Cyrillic letters the ABI software writes in headers (``Cт``), read as Latin.
_HOMOGLYPHS = str.maketrans({"\u0442": "t", "\u0422": "T", "\u0441": "c", "\u0421": "C"})

#: Per-well Ct column names (normalised), in order of preference.
_CT_NAMES = ("ct", "cq", "crt")
_TARGET_NAMES = ("target name", "target", "detector name", "detector")
_SAMPLE_NAMES = ("sample name", "sample")
_DYE_NAMES = ("reporter", "reporter dye", "dye")
_QUANTITY_NAMES = ("quantity", "qty")

#: Sheets of the workbook exports that are never the per-well results.
_NOT_RESULTS = frozenset(
    {
        "sample setup",
        "amplification data",
        "multicomponent",
        "multicomponent data",
        "raw data",
        "melt curve raw data",
        "melt curve result",
        "replicate group result",
        "rq replicate group result",
        "sample group result",
        "standard curve result",
        "technical analysis result",
    }
)

#: Preamble keys only the ABI software writes (compared lower case).
_ABI_KEYS = frozenset(
    {
        "instrument type",
        "experiment file name",
        "experiment run end time",
        "software name and version",
        "block type",
        "run end data/time",
        "run end date/time",
        "quantification cycle method",
    }
)

_STAR = re.compile(r"^\*\s*([^=]+?)\s*=\s?(.*)$")
_SECTION = re.compile(r"^\[([^\[\]]+)\]\s*$")
_SDS = re.compile(r"^\ufeff?SDS\s+v?(\d[\w.]*)\s*\t\s*(.*?Results)", re.IGNORECASE)
_WELL_NUMBER = re.compile(r"^\d{1,5}(?:\.0+)?$")
_WELL_POSITION = re.compile(r"^[A-Za-z]{1,2}\d{1,3}$")


# --------------------------------------------------------------------------- helpers


def _key(name: Any) -> str:
    """A header cell compared: Cyrillic homoglyphs as Latin, spaces collapsed, lower case."""
    return " ".join(_cell_text(name).translate(_HOMOGLYPHS).split()).lower()


def _cell_text(value: Any) -> str:
    """A cell as text: numbers without a spurious ``.0``, empty for None / NaN."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _is_ct_name(k: str) -> bool:
    # ``C?`` / ``Cò``: a ``Cт`` written in a code page without Cyrillic
    return k in _CT_NAMES or bool(re.fullmatch(r"c[^a-z0-9\s]", k))


@dataclass(frozen=True)
class _Cols:
    """Where the columns of a results header are (indices into the row)."""

    names: tuple[str, ...]
    well: int | None
    pos: int | None
    ct: int
    target: int | None
    sample: int | None
    task: int | None
    omit: int | None
    dye: int | None
    quantity: int | None
    amp: int | None

    @property
    def ct_name(self) -> str:
        return self.names[self.ct]

    @property
    def abi_like(self) -> bool:
        """Columns only an ABI results export has (not a generic or Bio-Rad table)."""
        if self.pos is not None:
            return True
        tname = _key(self.names[self.target]) if self.target is not None else ""
        return tname in ("target name", "detector", "detector name") and (
            self.task is not None or self.dye is not None
        )


def _columns(cells: Sequence[Any]) -> _Cols | None:
    """The results columns of a header row, or None when the row is not a results header."""
    keys = [_key(c) for c in cells]

    def first(names: Iterable[str]) -> int | None:
        for n in names:
            if n in keys:
                return keys.index(n)
        return None

    well, pos = first(("well",)), first(("well position",))
    ct = first(_CT_NAMES)
    if ct is None:
        ct = next((i for i, k in enumerate(keys) if _is_ct_name(k)), None)
    if (well is None and pos is None) or ct is None:
        return None
    return _Cols(
        names=tuple(_cell_text(c) for c in cells),
        well=well,
        pos=pos,
        ct=ct,
        target=first(_TARGET_NAMES),
        sample=first(_SAMPLE_NAMES),
        task=first(("task",)),
        omit=first(("omit",)),
        dye=first(_DYE_NAMES),
        quantity=first(_QUANTITY_NAMES),
        amp=first(("amp status",)),
    )


def _split(line: str, delim: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delim), [])
    except csv.Error:
        return line.split(delim)


def _header_in(line: str) -> tuple[str, _Cols] | None:
    """(delimiter, columns) when a text line is a results header."""
    if "ell" not in line:  # "Well" / "Well Position": a cheap filter for long files
        return None
    for d in ("\t", ",", ";"):
        if d in line:
            cols = _columns(_split(line, d))
            if cols is not None:
                return d, cols
    return None


def _is_well(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float | np.integer | np.floating):
        return math.isfinite(float(value)) and float(value).is_integer() and float(value) >= 0
    s = _cell_text(value)
    return bool(_WELL_NUMBER.match(s) or _WELL_POSITION.match(s))


def _cell(cells: Sequence[Any], i: int | None) -> Any:
    if i is None or i >= len(cells):
        return ""
    return cells[i]


def _kv(cells: Sequence[Any]) -> tuple[str, str] | None:
    """A ``key, value`` (or ``key = value``) row of a preamble or footer."""
    filled = [_cell_text(c) for c in cells if _cell_text(c) != ""]
    if not filled:
        return None
    if len(filled) == 1:
        m = re.match(r"^\*?\s*([^=]+?)\s*=\s?(.*)$", filled[0])
        return (m.group(1), m.group(2).strip()) if m else (filled[0].lstrip("* "), "")
    if len(filled) > 3:
        return None
    first = _cell_text(cells[0]) if cells else ""
    if not first:
        return None
    return first, _cell_text(cells[1]) if len(cells) > 1 else ""


_TRUE = frozenset({"true", "1", "yes", "y"})
_FALSE = frozenset({"false", "0", "no", "n", ""})


def _omit(value: Any, *, where: str, well: str) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    s = _cell_text(value).lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise InputError(
        f"{where}: the Omit cell {_cell_text(value)!r} of well {well!r} is neither true nor "
        "false; the file should hold true/false (or 1/0) there."
    )


def _number(value: Any, *, decimal_comma: bool) -> float:
    """A quantity cell: thousands separators (``1,250.000``; ``1.250,000`` in a
    decimal-comma file) read; NaN when empty or not a number."""
    if isinstance(value, bool):
        return math.nan
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    s = _cell_text(value).replace("\u00a0", "").replace(" ", "")
    s = s.replace(".", "").replace(",", ".") if decimal_comma else s.replace(",", "")
    try:
        x = float(s)
    except ValueError:
        return math.nan
    return x if math.isfinite(x) else math.nan


_TZ = {
    "UTC": "+00:00",
    "GMT": "+00:00",
    "EST": "-05:00",
    "EDT": "-04:00",
    "CST": "-06:00",
    "CDT": "-05:00",
    "MST": "-07:00",
    "MDT": "-06:00",
    "PST": "-08:00",
    "PDT": "-07:00",
    "CET": "+01:00",
    "CEST": "+02:00",
    "JST": "+09:00",
    "KST": "+09:00",
}

_DATE_YMD = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)?"
    r"\s*([AaPp]\.?[Mm]\.?)?\s*([A-Za-z]{2,5}|[+-]\d{2}:?\d{2}|Z)?$"
)
_DATE_MDY = re.compile(
    r"^(\d{1,2})[-/](\d{1,2})[-/](\d{2}|\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
    r"\s*([AaPp]\.?[Mm]\.?)?\s*([A-Za-z]{2,5}|[+-]\d{2}:?\d{2})?$"
)


def _iso_date(value: Any) -> str | None:
    """ISO 8601 text of an ABI date (``2019-04-25 10:26:48 AM PDT``; SDS ``8/23/11 12:10:33 PM``).

    The QuantStudio software writes 24-hour times with an AM/PM suffix in some runs
    (``16:28:28 PM``): an hour above 12 is taken as it is. The time-zone abbreviations of
    North America, UTC/GMT, CET/CEST and JST/KST become offsets; others are left out.
    """
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    s = _cell_text(value)
    if not s:
        return None
    m = _DATE_YMD.match(s)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        m = _DATE_MDY.match(s)
        if not m:
            return None
        mo, d, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
        y = y + 2000 if y < 100 else y
    hh = int(m.group(4)) if m.group(4) else None
    mm = int(m.group(5)) if m.group(5) else 0
    ss = int(m.group(6)) if m.group(6) else 0
    ampm = (m.group(7) or "").replace(".", "").upper()
    if hh is not None and ampm and hh <= 12:
        if ampm == "PM" and hh < 12:
            hh += 12
        elif ampm == "AM" and hh == 12:
            hh = 0
    try:
        if hh is None:
            return date(y, mo, d).isoformat()
        out = datetime(y, mo, d, hh, mm, ss).isoformat()
    except ValueError:
        return None
    tz = m.group(8)
    if tz:
        if tz == "Z":
            out += "+00:00"
        elif tz[0] in "+-":
            out += tz if ":" in tz else f"{tz[:3]}:{tz[3:]}"
        elif tz.upper() in _TZ:
            out += _TZ[tz.upper()]
    return out


def _clean_model(s: str) -> str:
    s = s.replace("\u2122", "").replace("\u00ae", "")
    s = re.sub(r"\((?:TM|R)\)", "", s, flags=re.IGNORECASE)
    return " ".join(s.split())


def _absent(s: str | None) -> bool:
    return s is None or s.strip().upper() in ("", "NA", "N/A", "NONE")


# --------------------------------------------------------------------------- sniff


def sniff(probe: Probe) -> bool:
    """True when the file is an Applied Biosystems results export (decided from the content)."""
    try:
        if probe.kind == "text":
            return _sniff_text(probe.text)
        if probe.kind in ("xlsx", "xls"):
            return _sniff_book(probe)
    except Exception:  # a sniff never raises: another reader (or the refusal) takes over
        return False
    return False


def _sniff_text(head: str) -> bool:
    if not head:
        return False
    if _SDS.match(head):
        return True
    stars = [m.group(1).strip().lower() for m in map(_STAR.match, head.splitlines()[:200]) if m]
    if any(k in _ABI_KEYS or k.startswith("experiment ") for k in stars):
        return True
    for line in head.splitlines()[:2000]:
        found = _header_in(line)
        if found is not None and found[1].abi_like:
            return True
    return False


def _sniff_book(probe: Probe) -> bool:
    try:
        book = _Book.open(probe)
    except InputError:
        # no workbook library: claim a workbook whose sheets are named like the ABI export,
        # so that parse() says which library to install
        return probe.kind == "xlsx" and "results" in _xlsx_sheet_names(probe)
    names = sorted(book.names, key=lambda n: (_key(n) != "results", _key(n) in _NOT_RESULTS))
    for name in names[:8]:
        rows = book.rows(name, limit=80)
        if any(_key(_cell(r, 0)) in _ABI_KEYS for r in rows):
            return True
        if _key(name) in _NOT_RESULTS:
            continue
        for r in rows:
            cols = _columns(r)
            if cols is not None:
                if cols.abi_like:
                    return True
                break
    return False


def _xlsx_sheet_names(probe: Probe) -> list[str]:
    with zipfile.ZipFile(probe.path) as z:
        xml = z.read("xl/workbook.xml").decode("utf-8", errors="replace")
    return [_key(n) for n in re.findall(r"<(?:\w+:)?sheet\b[^>]*\bname=\"([^\"]*)\"", xml)]


# --------------------------------------------------------------------------- workbooks


def _optional(module: str) -> Any:
    """The module, or None when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


@dataclass
class _Book:
    """A workbook opened with python-calamine (openpyxl for .xlsx when calamine is absent)."""

    where: str
    names: list[str]
    _get: Any

    @staticmethod
    def open(probe: Probe) -> _Book:
        where = probe.where
        python_calamine = _optional("python_calamine")
        if python_calamine is not None:
            try:
                wb = python_calamine.CalamineWorkbook.from_path(str(probe.path))
            except Exception as exc:
                raise InputError(f"{where}: not a readable Excel workbook ({exc}).") from None

            def get(name: str, limit: int | None) -> list[list[Any]]:
                sh = wb.get_sheet_by_name(name)
                out: list[list[Any]] = []
                for r in sh.iter_rows():
                    out.append(list(r))
                    if limit is not None and len(out) >= limit:
                        break
                return out

            return _Book(where, list(wb.sheet_names), get)
        if probe.kind == "xlsx":
            openpyxl = _optional("openpyxl")
            if openpyxl is not None:
                try:
                    wbx = openpyxl.load_workbook(probe.path, read_only=True, data_only=True)
                except Exception as exc:
                    raise InputError(f"{where}: not a readable Excel workbook ({exc}).") from None

                def getx(name: str, limit: int | None) -> list[list[Any]]:
                    out: list[list[Any]] = []
                    for r in wbx[name].iter_rows(values_only=True):
                        out.append(["" if v is None else v for v in r])
                        if limit is not None and len(out) >= limit:
                            break
                    return out

                return _Book(where, list(wbx.sheetnames), getx)
        kind = "legacy Excel .xls" if probe.kind == "xls" else "Excel"
        raise InputError(
            f"{where}: reading this {kind} workbook needs python-calamine: pip install 'ifnscore[io]'."
        )

    def rows(self, name: str, *, limit: int | None = None) -> list[list[Any]]:
        try:
            return self._get(name, limit)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{self.where}: sheet {name!r} could not be read ({exc}).") from None


# --------------------------------------------------------------------------- the table


@dataclass
class _Found:
    """A located results table: the header, the body rows and what surrounds it."""

    where: str
    unit: str  # "line" (text) or "row" (sheet)
    cols: _Cols
    header_at: int  # 1-based line / row of the header
    body: list[tuple[int, list[Any]]]  # (1-based line / row, cells)
    meta: dict[str, str] = field(default_factory=dict)
    unterminated_last: int | None = None  # the file's last line, when it has no line end
    kind: str = "text"
    book: _Book | None = None
    delim: str = ""
    sheet: str | None = None


def _body(
    rows: Iterable[tuple[int, list[Any]]], cols: _Cols, *, where: str, unit: str
) -> tuple[list[tuple[int, list[Any]]], dict[str, str]]:
    """The well rows after a header, and the key/value footer after them.

    The table ends at the first non-empty row whose well cell is not a well (a footer such as
    ``Analysis Type`` or a blank-separated summary); a well row after that is an error (the
    table would be cut short silently)."""
    wcol = cols.well if cols.well is not None else cols.pos
    body: list[tuple[int, list[Any]]] = []
    footer: dict[str, str] = {}
    ended_at: tuple[int, str] | None = None
    for n, cells in rows:
        if all(_cell_text(c) == "" for c in cells):
            continue
        wv = _cell(cells, wcol)
        if ended_at is None and _is_well(wv):
            body.append((n, cells))
            continue
        if ended_at is None:
            ended_at = (n, _cell_text(wv) or next(_cell_text(c) for c in cells if _cell_text(c)))
        elif _is_well(wv) and _cell_text(_cell(cells, cols.target)) and len(cells) > cols.ct:
            raise InputError(
                f"{where}: the results table is interrupted at {unit} {ended_at[0]} "
                f"({ended_at[1][:40]!r} where a well was expected) but wells follow again at "
                f"{unit} {n}; the file looks edited or damaged: export it again from the instrument software."
            )
        kv = _kv(cells)
        if kv is not None:
            footer.setdefault(kv[0], kv[1])
    return body, footer


def _locate_text(probe: Probe) -> _Found:
    where = probe.where
    text = read_text(probe)
    lines = text.splitlines()
    unterminated = len(lines) if text and not text.endswith(("\n", "\r")) else None
    meta: dict[str, str] = {}
    sections: list[tuple[str, int]] = []
    for i, line in enumerate(lines):
        s = line.strip()
        m = _SECTION.match(s)
        if m:
            sections.append((m.group(1).strip(), i))
            continue
        if not sections:
            m2 = _STAR.match(s)
            if m2:
                meta.setdefault(m2.group(1).strip(), m2.group(2).strip())
    sds = _SDS.match(lines[0]) if lines else None
    if sds:
        meta.setdefault("SDS Version", sds.group(1))
        meta.setdefault("SDS Export", sds.group(2))

    def split_rows(start: int, stop: int, delim: str) -> Iterable[tuple[int, list[Any]]]:
        for j in range(start, stop):
            if _SECTION.match(lines[j].strip()):
                return
            yield j + 1, list(_split(lines[j], delim))

    if sections:
        bounds = [
            (name, at, sections[k + 1][1] if k + 1 < len(sections) else len(lines))
            for k, (name, at) in enumerate(sections)
        ]
        results = [b for b in bounds if b[0].lower() == "results"]
        for _name, at, stop in results or bounds:
            j = next((x for x in range(at + 1, stop) if lines[x].strip()), None)
            if j is None:
                if results:
                    raise InputError(
                        f"{where}: the [Results] section (line {at + 1}) is empty; export the "
                        "experiment again after analysing it in the instrument software."
                    )
                continue
            found = _header_in(lines[j])
            if found is None:
                if results:
                    raise InputError(
                        f"{where}: the [Results] section (line {at + 1}) has no header with a well "
                        f"and a per-well Ct column (CT, Cт, Cq or CRT; 'Ct Mean' and 'Ct SD' summarise "
                        f"replicate groups and are not wells); its first line is "
                        f"{lines[j].strip()[:80]!r}. ifnscore reads the Ct results of a quantification "
                        "run (not genotyping or melt-curve results)."
                    )
                continue
            delim, cols = found
            body, footer = _body(split_rows(j + 1, stop, delim), cols, where=where, unit="line")
            return _Found(
                where, "line", cols, j + 1, body, {**meta, **footer}, unterminated, delim=delim
            )
        names = ", ".join(f"[{n}]" for n, _ in sections)
        raise InputError(
            f"{where}: an Applied Biosystems export without a [Results] section (it holds "
            f"{names}); export the Results (with the well Ct values) from the instrument software."
        )
    for j, line in enumerate(lines):
        found = _header_in(line)
        if found is None:
            continue
        delim, cols = found
        for i in range(j):
            kv = _kv(_split(lines[i], delim))
            if kv is not None:
                meta.setdefault(kv[0], kv[1])
        body, footer = _body(split_rows(j + 1, len(lines), delim), cols, where=where, unit="line")
        return _Found(
            where, "line", cols, j + 1, body, {**meta, **footer}, unterminated, delim=delim
        )
    raise InputError(
        _no_header_message(where, (_split(x, "\t" if "\t" in x else ",") for x in lines[:5000]))
    )


def _no_header_message(where: str, rows: Iterable[Sequence[Any]], sheet: str | None = None) -> str:
    kind = ""
    for r in rows:
        keys = {_key(c) for c in r}
        if "well" in keys or "well position" in keys:
            if keys & {"cycle", "cycle number", "rn", "delta rn", "drn"}:
                kind = " (it looks like an amplification or multicomponent export)"
                break
            if keys & {"temperature", "derivative", "reading"}:
                kind = " (it looks like a melt-curve export)"
                break
            if keys & {"allele1 ct", "call", "snp assay name"}:
                kind = " (it looks like a genotyping export)"
                break
    at = f" sheet {sheet!r}" if sheet is not None else ""
    return (
        f"{where}:{at} no results table with a well and a per-well Ct column (CT, Cт, Cq or CRT) "
        f"was found{kind}; export the Results table (one row per well and target) from the "
        "Applied Biosystems software."
    )


def _locate_book(probe: Probe, sheet: str | int | None) -> _Found:
    book = _Book.open(probe)
    where = probe.where
    if sheet is not None:
        if isinstance(sheet, int) and not isinstance(sheet, bool):
            if not 0 <= sheet < len(book.names):
                raise InputError(
                    f"{where}: sheet={sheet} is out of range; the workbook has {len(book.names)} "
                    f"sheets ({', '.join(map(repr, book.names))})."
                )
            order = [book.names[sheet]]
        else:
            match = [n for n in book.names if n == sheet] or [
                n for n in book.names if _key(n) == _key(sheet)
            ]
            if not match:
                raise InputError(
                    f"{where}: no sheet named {sheet!r}; the workbook has "
                    f"{', '.join(map(repr, book.names))}."
                )
            order = match[:1]
    else:
        order = [n for n in book.names if _key(n) == "results"]
        order += [n for n in book.names if _key(n) != "results" and _key(n) not in _NOT_RESULTS]
        if not order:
            raise InputError(
                f"{where}: an Applied Biosystems workbook without a Results sheet (it holds "
                f"{', '.join(map(repr, book.names))}); export the Results from the instrument software."
            )
    first_rows: list[list[Any]] = []
    for name in order:
        rows = book.rows(name)
        first_rows = first_rows or rows[:200]
        for i, r in enumerate(rows[:400]):
            cols = _columns(r)
            if cols is None:
                continue
            meta: dict[str, str] = {}
            for pre in rows[:i]:
                kv = _kv(pre)
                if kv is not None:
                    meta.setdefault(kv[0], kv[1])
            wsheet = f"{where} (sheet {name!r})"
            numbered = ((k + 1, list(rows[k])) for k in range(i + 1, len(rows)))
            body, footer = _body(numbered, cols, where=wsheet, unit="row")
            return _Found(
                wsheet,
                "row",
                cols,
                i + 1,
                body,
                {**meta, **footer},
                None,
                probe.kind,
                book,
                sheet=name,
            )
        if sheet is not None or _key(name) == "results":
            raise InputError(_no_header_message(where, rows[:400], sheet=name))
    raise InputError(_no_header_message(where, first_rows))


# --------------------------------------------------------------------------- parse


def parse(probe: Probe, *, sheet: str | int | None = None, **_: Any) -> pd.DataFrame:
    """Read an Applied Biosystems results export into the long Ct table of :mod:`._common`.

    Parameters
    ----------
    probe
        The probed file (:func:`._common.probe_file`).
    sheet
        Workbooks only: the sheet holding the results (default ``Results``). Ignored for text.

    Raises
    ------
    ifnscore.errors.InputError
        No results table (e.g. an amplification-only export), a results header without a
        per-well Ct column, a damaged or truncated table, a Ct that is not a number, a well and
        target listed twice.
    """
    if probe.kind in ("xlsx", "xls"):
        found = _locate_book(probe, sheet)
        kind = "Excel 97-2003 workbook" if probe.kind == "xls" else "Excel workbook"
    else:
        found = _locate_text(probe)
        kind = "text" if found.delim == "\t" else "CSV"
    return _assemble(found, fmt=f"Applied Biosystems results {kind}")


def _assemble(found: _Found, *, fmt: str) -> pd.DataFrame:
    where, unit, cols = found.where, found.unit, found.cols
    notes: list[str] = []
    if not found.body:
        raise InputError(
            f"{where}: the results table (header at {unit} {found.header_at}) holds no wells; export "
            "the experiment's Results after the run has been analysed."
        )
    if cols.target is None:
        raise InputError(
            f"{where}: the results table (header at {unit} {found.header_at}) has no Target column "
            "(Target Name, Target or Detector), so its Ct values cannot be attributed to a gene; "
            "assign targets and export the Results from a quantification analysis (e.g. Standard "
            "Curve or Relative Quantification), not a Primary Analysis."
        )

    wells: list[str] = []
    keep: list[tuple[int, list[Any]]] = []
    empty = 0
    for n, cells in found.body:
        pos = _cell_text(_cell(cells, cols.pos))
        well = pos or _cell_text(_cell(cells, cols.well))
        target = _cell_text(_cell(cells, cols.target))
        if found.unterminated_last == n:
            full = len(found.body[-2][1]) if len(found.body) > 1 else len(cols.names)
            if len(cells) < min(full, len(cols.names)):
                raise InputError(
                    f"{where}: the last {unit} ({unit} {n}, well {well!r}) stops after {len(cells)} "
                    f"of {full} cells and has no line end: the file is truncated; export it again."
                )
        if len(cells) <= cols.ct:
            if not target:
                empty += 1
                continue
            raise InputError(
                f"{where}: {unit} {n} (well {well!r}, target {target!r}) ends before the "
                f"{cols.ct_name!r} column: the file is truncated or damaged; export it again."
            )
        if not target and _cell_text(cells[cols.ct]).lower() in ("", "undetermined", "nan"):
            empty += 1  # a well with no target assigned: no result
            continue
        wells.append(well)
        keep.append((n, cells))
    if empty:
        notes.append(f"{empty} well row(s) with no target assigned (empty wells) were left out.")
    if not keep:
        raise InputError(
            f"{where}: the results table (header at {unit} {found.header_at}) lists only wells "
            "with no target assigned; assign targets in the instrument software and export again."
        )
    targets = [_cell_text(_cell(c, cols.target)) for _, c in keep]
    wells = _unique_wells(keep, wells, targets, cols, where=where, unit=unit, notes=notes)

    ct_cells = [c[cols.ct] for _, c in keep]
    ct, und = parse_ct(ct_cells, where=where, wells=wells)
    decimal_comma = any(
        isinstance(v, str) and re.fullmatch(r"\s*[-+]?\d+,\d+\s*", v) for v in ct_cells
    )
    rows: dict[str, Any] = {
        "well": wells,
        "sample": [_cell_text(_cell(c, cols.sample)) for _, c in keep],
        "target": targets,
        "ct": ct,
        "undetermined": und,
        "task": [
            _cell_text(_cell(c, cols.task)).replace("_", " ")
            if cols.task is not None
            else "unknown"
            for _, c in keep
        ],
        "omitted": [
            _omit(_cell(c, cols.omit), where=where, well=w) if cols.omit is not None else False
            for (_, c), w in zip(keep, wells, strict=True)
        ],
    }
    if cols.dye is not None:
        rows["dye"] = [_cell_text(_cell(c, cols.dye)) for _, c in keep]
    quantity_from = None
    if cols.quantity is not None:
        qcells = [_cell(c, cols.quantity) for _, c in keep]
        rows["quantity"] = [_number(v, decimal_comma=decimal_comma) for v in qcells]
        bad = sum(
            1
            for v, q in zip(qcells, rows["quantity"], strict=True)
            if math.isnan(q) and _cell_text(v) not in ("", "-", "NA", "N/A")
        )
        if bad:
            notes.append(f"{bad} Quantity cell(s) were not numbers and are NaN in 'quantity'.")
    elif found.book is not None:
        q = _quantities_from_standard_curve(found, wells, targets)
        if q is not None:
            rows["quantity"], quantity_from = q
    if cols.amp is not None:
        rows["amp_status"] = [_cell_text(_cell(c, cols.amp)) for _, c in keep]

    meta = {_key(k): v for k, v in found.meta.items()}
    ct_key = _key(cols.ct_name)
    if ct_key == "crt" or _key(meta.get("quantification cycle method", "")) == "crt":
        notes.append(
            f"Ct values are the {cols.ct_name!r} column: the Relative Threshold (Crt) cycle of this "
            "run, the run's cycle threshold."
        )
    n_omit = int(np.sum(rows["omitted"]))
    if n_omit:
        notes.append(
            f"{n_omit} well row(s) are marked Omit in the instrument software (omitted=True); their "
            "Ct is kept as reported."
        )
    if quantity_from:
        notes.append(quantity_from)
    footer_keys = [
        k
        for k in found.meta
        if _key(k) in ("analysis type", "endogenous control", "reference sample")
    ]
    if footer_keys:
        notes.append(
            "The summary lines after the table ("
            + ", ".join(footer_keys)
            + ") are settings of the "
            "RQ analysis, not wells; they are in attrs['ifnscore_ct']."
        )

    instrument, software, version, run_date, extra = _run_info(meta)
    if found.sheet is not None:
        extra["sheet"] = found.sheet
    return finish(
        rows,
        where=re.sub(r" \(sheet '.*'\)$", "", where) if found.sheet is not None else where,
        fmt=fmt,
        vendor=VENDOR,
        instrument=instrument,
        software=software,
        version=version,
        run_date=run_date,
        notes=notes,
        extra=extra,
    )


def _unique_wells(
    keep: list[tuple[int, list[Any]]],
    wells: list[str],
    targets: list[str],
    cols: _Cols,
    *,
    where: str,
    unit: str,
    notes: list[str],
) -> list[str]:
    """The well labels, checked to name each (well, target) once.

    When ``Well Position`` repeats but the ``Well`` numbers do not (array formats whose
    sub-arrays reuse positions), the well numbers are used instead, and a note says so."""

    def first_duplicate(labels: list[str]) -> tuple[int, int] | None:
        seen: dict[tuple[str, str], int] = {}
        for k, (w, t) in enumerate(zip(labels, targets, strict=True)):
            if (w, t) in seen:
                return seen[(w, t)], k
            seen[(w, t)] = k
        return None

    dup = first_duplicate(wells)
    if dup is None:
        return wells
    if cols.pos is not None and cols.well is not None:
        numbers = [_cell_text(_cell(c, cols.well)) for _, c in keep]
        if all(numbers) and first_duplicate(numbers) is None:
            notes.append(
                "Well positions repeat in this file while the well numbers do not (an array "
                "plate); 'well' holds the well number."
            )
            return numbers
    a, b = dup
    raise InputError(
        f"{where}: well {wells[b]!r} with target {targets[b]!r} is listed twice ({unit}s "
        f"{keep[a][0]} and {keep[b][0]}); a results export has one row per well and target: "
        "export one plate's Results at a time."
    )


def _quantities_from_standard_curve(
    found: _Found, wells: list[str], targets: list[str]
) -> tuple[list[float], str] | None:
    """Design & Analysis workbooks keep a standard's known quantity in the 'Standard Curve
    Result' sheet, not in 'Results': join it by well position and target for the STANDARD
    rows (the other rows' quantity there is computed, not known, and is left out)."""
    book = found.book
    assert book is not None
    name = next((n for n in book.names if _key(n) == "standard curve result"), None)
    if name is None:
        return None
    rows = book.rows(name)
    for i, r in enumerate(rows[:400]):
        keys = [_key(c) for c in r]
        if "well position" in keys and "quantity" in keys and "task" in keys:
            ip, iq, it = keys.index("well position"), keys.index("quantity"), keys.index("task")
            itg = next((keys.index(t) for t in _TARGET_NAMES if t in keys), None)
            known: dict[tuple[str, str], float] = {}
            for r2 in rows[i + 1 :]:
                if _key(_cell(r2, it)) == "standard":
                    tg = _cell_text(_cell(r2, itg)) if itg is not None else ""
                    known[(_cell_text(_cell(r2, ip)), tg)] = _number(
                        _cell(r2, iq), decimal_comma=False
                    )
            if not known:
                return None
            q = [known.get((w, t), math.nan) for w, t in zip(wells, targets, strict=True)]
            return q, (
                f"'quantity' of the STANDARD wells is the known quantity from sheet {name!r} "
                "(the Results sheet of Design & Analysis has no Quantity column)."
            )
    return None


def _run_info(
    meta: dict[str, str],
) -> tuple[str | None, str | None, str | None, str | None, dict[str, Any]]:
    def get(*keys: str) -> str | None:
        for k in keys:
            v = meta.get(k)
            if not _absent(v):
                return v
        return None

    inst = get("instrument type", "instrument", "instrument model")
    instrument = _clean_model(inst) if inst else None
    software = version = None
    sv = get("software name and version", "software")
    if sv:
        m = re.match(r"^(.*?)[\s,]+v(?:ersion)?\.?\s*(\d[\w.\-]*)\s*$", sv, flags=re.IGNORECASE)
        software, version = (m.group(1).strip(), m.group(2)) if m else (sv, None)
    version = get("software version") or version
    if get("sds version"):
        software, version = "SDS", get("sds version")
    raw_date = get(
        "experiment run end time",
        "run end data/time",
        "run end date/time",
        "run end time",
        "run datetime",
        "run date/time",
        "run start date/time",
    )
    run_date = _iso_date(raw_date) if raw_date else None
    extra: dict[str, Any] = {}
    experiment = get("experiment name")
    if experiment is None:
        fname = get("experiment file name", "file name", "filename")
        if fname:
            experiment = PureWindowsPath(fname).stem
    for k, v in (
        ("experiment", experiment),
        ("barcode", get("experiment barcode", "barcode", "plate barcode", "plateid", "plate id")),
        ("experiment_type", get("experiment type", "assay type")),
        ("ct_method", get("quantification cycle method")),
        ("instrument_serial", get("instrument serial number")),
        ("run_end_time_text", raw_date),
        ("endogenous_control", get("endogenous control")),
        ("reference_sample", get("reference sample")),
    ):
        if v is not None:
            extra[k] = v
    return instrument, software, version, run_date, extra
