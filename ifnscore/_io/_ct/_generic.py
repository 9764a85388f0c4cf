"""Generic Ct tables (not a vendor's export) -> the long Ct table.

Two layouts, in CSV / TSV / TXT (any compression) or a workbook (XLSX/XLSM through
python-calamine or openpyxl, legacy XLS through python-calamine; the first sheet, or
``sheet=``):

* **long**: a header naming a sample, a target and a Ct column (any case; ``sample``,
  ``sample name``, ``sample id``; ``target``, ``target name``, ``gene``, ``detector``,
  ``assay``; ``ct``, ``cq``, ``crt``, ``cp``), optionally ``well`` / ``well position``,
  ``task`` / ``content`` / ``sample type``, ``omit`` / ``omitted`` / ``excluded``,
  ``replicate`` and ``quantity``. One row per well and target. A summary column such as
  ``Ct Mean`` is never taken for the Ct.
* **wide**: one label column, then Ct values: samples x targets, or targets x samples
  (``rows=``; ``"auto"`` decides from the labels: the axis holding well-known reference or
  interferon genes (HPRT1, 18S, GAPDH, ACTB, B2M, TBP, IFI27, ISG15, ...) or gene-like labels
  holds the targets; a first header cell ``sample`` or ``target`` / ``gene`` settles a tie;
  otherwise the reader refuses and asks for ``rows=``). A wide table has no wells (``well``
  is empty). Repeated sample labels are technical replicates (one row each). An empty cell
  is "not measured" and gives no row (a note counts them); write ``Undetermined`` where the
  instrument found no Ct.

Ct cells: a number (a decimal comma is read), or ``Undetermined`` / ``N/A`` / ``No Ct`` /
``-`` (and, in a long table, an empty cell) for no Ct; ``-1`` is no Ct too. Any other text,
another negative number, 0 (which some software writes for no Ct) or a number above 100
cycles is refused naming the sample, target and line. The extra column ``line`` gives the file's line (text) or row (sheet) of each value.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...errors import InputError
from ._common import UNDETERMINED_WORDS, Probe, finish, parse_ct, read_text

__all__ = ["looks_like_long_ct", "parse", "sniff"]

_SAMPLE = (
    "sample",
    "sample name",
    "sample_name",
    "samplename",
    "sample id",
    "sample_id",
    "sampleid",
)
_TARGET = (
    "target",
    "target name",
    "target_name",
    "targetname",
    "gene",
    "gene name",
    "gene symbol",
    "detector",
    "detector name",
    "assay",
    "assay name",
)
_CT = ("ct", "cq", "c_t", "crt", "cp", "ct value", "cq value", "c(t)")
_WELL = ("well position", "well", "well name", "position", "pos")
_TASK = ("task", "content", "sample type", "type")
_OMIT = ("omit", "omitted", "excluded", "exclude", "excl")
_REPLICATE = ("replicate", "rep", "technical replicate")
_QUANTITY = ("quantity", "starting quantity", "starting quantity (sq)", "sq")

#: Highest Ct accepted: no qPCR instrument runs beyond 99 cycles (a larger number is not a Ct).
MAX_CT = 100.0

#: Reference genes (Rice et al. 2013, doi:10.1016/S1474-4422(13)70258-8, used HPRT1 and 18S;
#: the others are the usual housekeeping assays) and interferon-stimulated genes: labels
#: that mark the target axis of a wide table.
KNOWN_TARGETS = (
    "HPRT1", "HPRT", "18S", "18S RRNA", "RN18S1", "RNA18S", "RNA18SN5", "GAPDH", "ACTB", "B2M", "TBP",
    "PPIA", "RPLP0", "GUSB", "HMBS", "YWHAZ", "UBC", "SDHA", "PGK1", "TFRC", "RPL13A", "POLR2A", "28S",
    "IFI27", "IFI44L", "IFIT1", "ISG15", "RSAD2", "SIGLEC1", "IFI44", "IFI6", "MX1", "OAS1", "OAS2",
    "OAS3", "IFIT3", "IFIT2", "IFIT5", "HERC5", "EPSTI1", "USP18", "LY6E", "CMPK2", "IRF7", "STAT1",
    "XAF1", "RTP4", "SPATS2L", "LAMP3", "OASL", "DDX58", "IFIH1", "BST2", "IFITM1", "IFITM3",
)  # fmt: skip

_SNIFF_ROWS = 60
_BOOL_TRUE = frozenset({"true", "yes", "y", "1", "x", "omit", "omitted", "excluded", "excl"})
_BOOL_FALSE = frozenset({"false", "no", "n", "0", ""})


def _norm(label: object) -> str:
    return re.sub(r"\s+", " ", str(label).strip().strip('"').lower())


def _find_all(header: Sequence[object], names: Sequence[str]) -> list[int]:
    return [i for i, c in enumerate(header) if _norm(c) in names]


def looks_like_long_ct(header_line: str) -> bool:
    """Whether a header line names sample, target and Ct columns (a long Ct table)."""
    header = _split(header_line.rstrip("\r\n"), _sep_of(header_line))
    return all(_find_all(header, n) for n in (_SAMPLE, _TARGET, _CT))


# ------------------------------------------------------------------------------ cells


def _cell(v: Any) -> str:
    """A label cell as text: None/NaN -> "", 3.0 -> "3"."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if v.is_integer():
            return str(int(v))
    return str(v).strip()


def _blank(v: Any) -> bool:
    return _cell(v) == ""


def _is_ct_like(v: Any) -> bool:
    """A number in [-1, MAX_CT] or a no-Ct word (used by sniff)."""
    if isinstance(v, bool):
        return False
    if isinstance(v, int | float):
        x = float(v)
        return math.isnan(x) or x == -1 or 0 <= x <= MAX_CT
    s = str(v).strip()
    if s.lower() in UNDETERMINED_WORDS:
        return True
    y = _num(s)
    return y is not None and (y == -1 or 0 <= y <= MAX_CT)


def _num(s: str) -> float | None:
    try:
        x = float(s.replace(",", ".")) if re.fullmatch(r"[-+]?\d+,\d+", s) else float(s)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


# ------------------------------------------------------------------------------ grids


def _sep_of(header: str) -> str:
    if "\t" in header:
        return "\t"
    if ";" in header and "," not in header:
        return ";"
    if "," in header:
        return ","
    return " "


def _split(line: str, sep: str) -> list[str]:
    if sep == " ":
        return line.split()
    return next(csv.reader([line], delimiter=sep), [])


def _text_grid(text: str, limit: int | None = None) -> list[tuple[int, list[Any]]]:
    """(line number, fields) of the non-blank lines (the first is the header)."""
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        return []
    sep = _sep_of(lines[first])
    out: list[tuple[int, list[Any]]] = []
    body = lines[first:] if limit is None else lines[first : first + limit]
    if sep == " ":
        for n, ln in enumerate(body, start=first + 1):
            if ln.strip():
                out.append((n, ln.split()))
        return out
    reader = csv.reader(body, delimiter=sep)
    n = first
    for fields in reader:
        n = first + reader.line_num
        if any(f.strip() for f in fields):
            out.append((n, [f.strip() for f in fields]))
    return out


def _workbook(probe: Probe) -> Any:
    """A python-calamine workbook, or None when python-calamine is not installed."""
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        return None
    return CalamineWorkbook.from_path(str(probe.path))


def _sheet_names(probe: Probe) -> list[str]:
    wb = _workbook(probe)
    if wb is not None:
        return list(wb.sheet_names)
    import openpyxl

    book = openpyxl.load_workbook(probe.path, read_only=True, data_only=True)
    try:
        return list(book.sheetnames)
    finally:
        book.close()


def _sheet_rows(probe: Probe, name: str, limit: int | None = None) -> list[list[Any]]:
    wb = _workbook(probe)
    if wb is not None:
        rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False, nrows=limit)
        return [list(r) for r in rows]
    import openpyxl

    book = openpyxl.load_workbook(probe.path, read_only=True, data_only=True)
    try:
        out: list[list[Any]] = []
        for r in book[name].iter_rows(values_only=True):
            out.append(list(r))
            if limit is not None and len(out) >= limit:
                break
        return out
    finally:
        book.close()


def _sheet_grid(rows: list[list[Any]]) -> list[tuple[int, list[Any]]]:
    """(sheet row number, cells) of the non-empty rows; "" for empty cells (calamine)."""
    out = []
    for i, r in enumerate(rows, start=1):
        cells = [None if (isinstance(c, str) and not c.strip()) else c for c in r]
        if any(c is not None for c in cells):
            out.append((i, cells))
    width = max(
        (
            max((j for j, c in enumerate(cells) if c is not None), default=-1) + 1
            for _, cells in out
        ),
        default=0,
    )
    return [(n, (cells + [None] * width)[:width]) for n, cells in out]


# ------------------------------------------------------------------------------ sniff


def _is_long(header: Sequence[Any]) -> bool:
    return all(_find_all(header, n) for n in (_SAMPLE, _TARGET, _CT))


def _is_wide(grid: list[tuple[int, list[Any]]]) -> bool:
    if len(grid) < 2:
        return False
    header = [_cell(c) for c in grid[0][1]]
    while header and header[-1] == "":
        header.pop()
    if len(header) < 2 or any(h == "" for h in header[1:]):
        return False
    if all(_num(h) is not None for h in header[1:]) and (
        header[0] == "" or _num(header[0]) is not None
    ):
        return False  # numbers all along the first line: no header (sample numbers need a corner label)
    numbers = 0
    for _, cells in grid[1:]:
        cells = list(cells)
        while len(cells) > len(header) and _blank(cells[-1]):
            cells.pop()
        if len(cells) != len(header) or _blank(cells[0]):
            return False
        for v in cells[1:]:
            if not _is_ct_like(v):
                return False
            numbers += not _blank(v) and (isinstance(v, int | float) or _num(str(v)) is not None)
    return numbers > 0


def _looks_like_ct_table(grid: list[tuple[int, list[Any]]]) -> bool:
    return bool(grid) and (_is_long(grid[0][1]) or _is_wide(grid))


def sniff(probe: Probe) -> bool:
    """A table whose header names sample, target and Ct, or a wide table of Ct values
    (one label column, the rest numbers in [0, 100] or no-Ct words). Asked last."""
    try:
        if probe.kind == "text":
            return _looks_like_ct_table(_text_grid(probe.text, _SNIFF_ROWS))
        if probe.kind in ("xlsx", "xls"):
            for name in _sheet_names(probe)[:10]:
                if _looks_like_ct_table(_sheet_grid(_sheet_rows(probe, name, _SNIFF_ROWS))):
                    return True
    except Exception:  # sniff never raises
        return False
    return False


# ------------------------------------------------------------------------------ parse


def _load(
    probe: Probe, sheet: str | int | None
) -> tuple[list[tuple[int, list[Any]]], str, str, str | None]:
    """(grid, where, what a 'line' is, the sheet's name) of the file or the chosen sheet."""
    if probe.kind == "text":
        if sheet is not None:
            raise InputError(
                f"{probe.where}: sheet={sheet!r} was given but the file is a text table, not a workbook."
            )
        return _text_grid(read_text(probe)), probe.where, "line", None
    if probe.kind not in ("xlsx", "xls"):
        raise InputError(f"{probe.where}: not a Ct table (a {probe.kind} file).")
    if _workbook_lib_missing(probe):
        raise InputError(
            f"{probe.where}: reading this workbook needs python-calamine"
            f"{'' if probe.kind == 'xls' else ' or openpyxl'}: pip install 'ifnscore[io]'."
        )
    try:
        names = _sheet_names(probe)
        if sheet is None:
            name = names[0]
        elif isinstance(sheet, int) and not isinstance(sheet, bool):
            if not 0 <= sheet < len(names):
                raise InputError(
                    f"{probe.where}: sheet={sheet} is out of range; the workbook has {len(names)} sheet(s): {names}."
                )
            name = names[sheet]
        elif str(sheet) in names:
            name = str(sheet)
        else:
            raise InputError(f"{probe.where}: no sheet named {sheet!r}; the sheets are {names}.")
        rows = _sheet_rows(probe, name)
    except InputError:
        raise
    except Exception as exc:  # a damaged workbook: calamine / openpyxl errors
        raise InputError(
            f"{probe.where}: not a readable workbook ({type(exc).__name__}: {exc})."
        ) from None
    grid = _sheet_grid(rows)
    where = f"{probe.where} (sheet {name!r})"
    if sheet is None and not _looks_like_ct_table(grid):
        others = [
            n
            for n in names[1:10]
            if _looks_like_ct_table(_sheet_grid(_sheet_rows(probe, n, _SNIFF_ROWS)))
        ]
        if others:
            raise InputError(
                f"{where}: the first sheet is not a Ct table, but sheet {others[0]!r} looks like one; pass "
                f"sheet={others[0]!r}."
            )
    return grid, where, "row", name


def _workbook_lib_missing(probe: Probe) -> bool:
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        if probe.kind == "xls":
            return True
        try:
            import openpyxl  # noqa: F401
        except ImportError:
            return True
    return False


def _one_column(header: list[Any], names: Sequence[str], what: str, where: str) -> int | None:
    idx = _find_all(header, names)
    if len(idx) > 1:
        # a preferred name (earlier in ``names``) wins only for wells (Well Position over Well)
        if what == "well":
            return min(idx, key=lambda i: names.index(_norm(header[i])))
        raise InputError(
            f"{where}: the header has {len(idx)} {what} columns ({', '.join(repr(_cell(header[i])) for i in idx)}); "
            f"keep one {what} column."
        )
    return idx[0] if idx else None


def _check_ct(
    values: list[Any],
    samples: list[str],
    targets: list[str],
    lines: list[int],
    where: str,
    unit: str,
) -> None:
    """Refuse a Ct that is text, negative (other than -1) or above MAX_CT, naming sample, target, line."""
    for v, s, t, n in zip(values, samples, targets, lines, strict=True):
        if v is None:
            continue
        if isinstance(v, int | float) and not isinstance(v, bool):
            x: float | None = float(v)
        else:
            txt = _cell(v)
            if txt.lower() in UNDETERMINED_WORDS:
                continue
            x = _num(txt)
            if x is None:
                raise InputError(
                    f"{where}: Ct {txt!r} of sample {s!r}, target {t!r} ({unit} {n}) is not a number; use a "
                    "number, 'Undetermined' or an empty cell."
                )
        if x is None or math.isnan(x):
            continue
        if not math.isfinite(x) or (x < 0 and x != -1):
            raise InputError(
                f"{where}: Ct {x:g} for sample {s!r}, target {t!r} ({unit} {n}) is not a cycle number; write "
                "'Undetermined' where there is no Ct."
            )
        if x == 0:  # some software writes 0 for "no Ct"; taken as a Ct it would be a huge amount
            raise InputError(
                f"{where}: Ct 0 for sample {s!r}, target {t!r} ({unit} {n}) is not a cycle number (some software "
                "writes 0 for no Ct); write 'Undetermined' there, or the Ct the instrument reported."
            )
        if x > MAX_CT:
            raise InputError(
                f"{where}: Ct {x:g} for sample {s!r}, target {t!r} ({unit} {n}) is above {MAX_CT:g} cycles, so it is "
                "not a Ct; is this a table of Ct values?"
            )


def _omit_flags(values: list[Any], lines: list[int], where: str, unit: str, col: str) -> list[bool]:
    out = []
    for v, n in zip(values, lines, strict=True):
        if isinstance(v, bool):
            out.append(v)
            continue
        s = _cell(v).lower()
        if s in _BOOL_TRUE:
            out.append(True)
        elif s in _BOOL_FALSE:
            out.append(False)
        else:
            raise InputError(
                f"{where}: {col!r} value {_cell(v)!r} ({unit} {n}) is not true/false; use True/False, Yes/No or 1/0."
            )
    return out


def _long(
    grid: list[tuple[int, list[Any]]], where: str, unit: str
) -> tuple[dict[str, Any], list[str]]:
    header = list(grid[0][1])
    s = _one_column(header, _SAMPLE, "sample", where)
    t = _one_column(header, _TARGET, "target", where)
    c = _one_column(header, _CT, "Ct", where)
    if s is None or t is None or c is None:  # _is_long() said they are there
        raise InputError(f"{where}: the header lacks a sample, target or Ct column.")
    w = _one_column(header, _WELL, "well", where)
    k = _one_column(header, _TASK, "task", where)
    o = _one_column(header, _OMIT, "omit", where)
    r = _one_column(header, _REPLICATE, "replicate", where)
    q = _one_column(header, _QUANTITY, "quantity", where)
    used = {i for i in (s, t, c, w, k, o, r, q) if i is not None}
    if w is not None:
        used |= set(_find_all(header, _WELL))
    width = len(header)
    body = grid[1:]
    for n, cells in body:
        extra = [x for x in cells[width:] if not _blank(x)]
        if extra:
            raise InputError(
                f"{where}: {unit} {n} has {width + len(extra)} fields but the header has {width}; is the "
                "separator wrong or a value unquoted?"
            )
    # a text line with fewer fields than the header: truncated, or a wrong separator
    if unit == "line":
        need = max(i for i, h in enumerate(header) if _cell(h)) + 1
        short = [(n, len(cells)) for n, cells in body if len(cells) < need]
        if short:
            raise InputError(
                f"{where}: line {short[0][0]} has {short[0][1]} fields but the header has {width}; is the file "
                "truncated or the separator wrong?"
            )

    def col(i: int | None) -> list[Any]:
        return [cells[i] if i is not None and i < len(cells) else None for _, cells in body]

    lines = [n for n, _ in body]
    samples = [_cell(x) for x in col(s)]
    targets = [_cell(x) for x in col(t)]
    keep = [bool(tg) for tg in targets]
    notes = []
    if not all(keep):
        notes.append(f"{keep.count(False)} row(s) name no target and were not read.")
        pick = [i for i, kk in enumerate(keep) if kk]
    else:
        pick = list(range(len(body)))
    if not pick:
        raise InputError(f"{where}: the long Ct table has a header but no rows naming a target.")
    sel = [body[i] for i in pick]
    lines = [lines[i] for i in pick]
    samples = [samples[i] for i in pick]
    targets = [targets[i] for i in pick]
    raw_ct = [cells[c] if c < len(cells) else None for _, cells in sel]
    _check_ct(raw_ct, samples, targets, lines, where, unit)
    ct, und = parse_ct(raw_ct, where=where)
    rows: dict[str, Any] = {
        "well": [_cell(cells[w]) if w < len(cells) else "" for _, cells in sel]
        if w is not None
        else [""] * len(sel),
        "sample": samples,
        "target": targets,
        "ct": ct,
        "undetermined": und,
    }
    if k is not None:
        rows["task"] = [_cell(cells[k]) if k < len(cells) else "" for _, cells in sel]
    if o is not None:
        rows["omitted"] = _omit_flags(
            [cells[o] if o < len(cells) else None for _, cells in sel],
            lines,
            where,
            unit,
            _cell(header[o]),
        )
    if r is not None:
        rows["replicate"] = [_cell(cells[r]) if r < len(cells) else "" for _, cells in sel]
    if q is not None:
        qs = []
        for (_, cells), n in zip(sel, lines, strict=True):
            v = cells[q] if q < len(cells) else None
            if _blank(v):
                qs.append(math.nan)
                continue
            x = (
                float(v)
                if isinstance(v, int | float) and not isinstance(v, bool)
                else _num(_cell(v))
            )
            if x is None:
                raise InputError(
                    f"{where}: quantity {_cell(v)!r} ({unit} {n}) is not a number; leave it empty or write a number."
                )
            qs.append(x)
        rows["quantity"] = np.asarray(qs, dtype=np.float64)
    rows["line"] = lines
    if w is None:
        notes.append("the table has no well column: well is empty.")
    unread = [_cell(header[i]) for i in range(width) if i not in used and _cell(header[i])]
    if unread:
        notes.append(
            f"column(s) not read: {', '.join(unread[:12])}{' ...' if len(unread) > 12 else ''}."
        )
    return rows, notes


def _gene_score(labels: Sequence[str]) -> tuple[int, float]:
    """(known reference/IFN genes among labels, fraction of gene-like labels)."""
    known = {g.upper() for g in KNOWN_TARGETS}
    n_known = sum(lab.strip().upper() in known for lab in labels)
    from ..._genes import gene_likeness

    return n_known, gene_likeness(list(labels), KNOWN_TARGETS)


def _wide_orientation(header: list[str], labels: list[str], rows: str, where: str) -> str:
    if rows in ("samples", "genes"):
        return rows
    ck, cf = _gene_score(header[1:])
    rk, rf = _gene_score(labels)
    if ck and not rk:
        return "samples"
    if rk and not ck:
        return "genes"
    if not ck and not rk:
        if cf > 0 and rf == 0:
            return "samples"
        if rf > 0 and cf == 0:
            return "genes"
    corner = _norm(header[0])
    if corner in _SAMPLE:
        return "samples"
    if corner in _TARGET:
        return "genes"
    found = "in both" if (ck and rk) or (cf and rf) else "in neither"
    raise InputError(
        f"{where}: cannot tell whether the rows of this wide Ct table are samples or targets (gene names such as "
        f"HPRT1, 18S, GAPDH, IFI27 found {found} the column and the row labels); pass rows='samples' or "
        "rows='genes' (CLI: --rows)."
    )


def _wide(
    grid: list[tuple[int, list[Any]]], rows: str, where: str, unit: str
) -> tuple[dict[str, Any], list[str]]:
    header = [_cell(x) for x in grid[0][1]]
    while header and header[-1] == "":
        header.pop()
    width = len(header)
    if width < 2:
        raise InputError(
            f"{where}: the table has one column; a wide Ct table needs a label column and Ct columns, a long one "
            "sample, target and Ct columns."
        )
    body = []
    for n, cells in grid[1:]:
        cells = list(cells)
        while len(cells) > width and _blank(cells[-1]):
            cells.pop()
        if len(cells) != width:
            raise InputError(
                f"{where}: {unit} {n} has {len(cells)} fields but the header has {width}; is the file truncated or "
                "the separator wrong?"
            )
        if _blank(cells[0]):
            raise InputError(
                f"{where}: {unit} {n} has no label in the first column; every row needs one."
            )
        body.append((n, cells))
    if not body:
        raise InputError(f"{where}: the table has a header but no data rows.")
    labels = [_cell(cells[0]) for _, cells in body]
    missing = [h for h in header[1:] if h == ""]
    if missing:
        raise InputError(
            f"{where}: a column of the header has no label; every Ct column needs one."
        )
    orient = _wide_orientation(header, labels, rows, where)
    if orient == "genes":
        _unique(labels, "target (row label)", where)
    else:
        _unique(header[1:], "target (column label)", where)
    out_s: list[str] = []
    out_t: list[str] = []
    out_v: list[Any] = []
    out_n: list[int] = []
    empty = 0
    for (n, cells), label in zip(body, labels, strict=True):
        for j in range(1, width):
            v = cells[j]
            if _blank(v):
                empty += 1
                continue
            s, t = (label, header[j]) if orient == "samples" else (header[j], label)
            out_s.append(s)
            out_t.append(t)
            out_v.append(v)
            out_n.append(n)
    if not out_v:
        raise InputError(f"{where}: the wide Ct table has no Ct values (every cell is empty).")
    _check_ct(out_v, out_s, out_t, out_n, where, unit)
    ct, und = parse_ct(out_v, where=where)
    notes = ["a wide Ct table has no wells: well is empty."]
    if empty:
        notes.append(
            f"{empty} empty cell(s) (sample and target not measured) gave no row; write 'Undetermined' where the "
            "instrument found no Ct."
        )
    rep = pd.Index(header[1:] if orient == "genes" else labels).has_duplicates
    if rep:
        notes.append("repeated sample labels are read as technical replicates (one row each).")
    return {
        "well": [""] * len(out_v),
        "sample": out_s,
        "target": out_t,
        "ct": ct,
        "undetermined": und,
        "line": out_n,
    }, notes


def _unique(labels: Sequence[str], what: str, where: str) -> None:
    idx = pd.Index(list(labels))
    if idx.has_duplicates:
        dup = idx[idx.duplicated()].unique()[:5].tolist()
        raise InputError(f"{where}: duplicated {what} {dup}; each {what} must appear once.")


def parse(
    probe: Probe, *, sheet: str | int | None = None, rows: str = "auto", **_: Any
) -> pd.DataFrame:
    """The long Ct table of a generic long or wide Ct table (see the module docstring)."""
    if rows not in ("auto", "samples", "genes"):
        raise InputError(f"rows={rows!r} is not valid; use 'auto', 'samples' or 'genes'.")
    grid, where, unit, sheet_name = _load(probe, sheet)
    if not grid:
        raise InputError(f"{where} is empty (no header line).")
    if len(grid) < 2:
        raise InputError(f"{where} has a header line but no data rows.")
    if _is_long(grid[0][1]):
        table, notes = _long(grid, where, unit)
        if rows != "auto":
            notes.append(
                f"rows={rows!r} applies to wide tables only; this long table was read as it is."
            )
        fmt = "generic long Ct table"
    else:
        head = [_cell(x) for x in grid[0][1]]
        roles = [bool(_find_all(head, n)) for n in (_SAMPLE, _TARGET, _CT)]
        if sum(roles) >= 2:  # a long table lacking one column (a wide one names at most its corner)
            lacking = [w for w, ok in zip(("sample", "target", "Ct"), roles, strict=True) if not ok]
            raise InputError(
                f"{where}: the header has no {lacking[0]} column (columns: {head[:10]}); a long Ct table "
                "needs sample (Sample Name), target (Target Name, Gene) and Ct (Ct, Cq) columns."
            )
        table, notes = _wide(grid, rows, where, unit)
        fmt = "generic wide Ct table"
    return finish(
        table,
        where=probe.where,
        fmt=fmt,
        vendor="generic",
        notes=notes,
        extra={"sheet": sheet_name} if sheet_name is not None else None,
    )
