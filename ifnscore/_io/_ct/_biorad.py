"""Bio-Rad CFX Manager / CFX Maestro "Quantification Cq Results" (and "Quantification Summary")
exports, CSV or Excel (XLSX; legacy XLS through python-calamine).

The layout, as CFX Manager 3.x and CFX Maestro 1.x-5.x write it:

* an unnamed first column (the exporter's row index, empty), then ``Well`` (``A01``),
  ``Fluor`` (``FAM``, ``SYBR``, ``VIC`` ...), ``Target``, ``Content`` (``Unkn``, ``Unkn-01``,
  ``Std-03``, ``NTC``, ``Neg Ctrl``, ``Pos Ctrl``, ``NRT``: the number after the word is a
  replicate group, not part of the role), ``Sample``, ``Biological Set Name``, ``Cq`` (no
  Cq: ``NaN`` or an empty cell), ``Cq Mean`` / ``Cq Std. Dev`` (replicate summaries repeated
  on every replicate row), ``Starting Quantity (SQ)`` (or ``SQ``), ``Log Starting
  Quantity``, ``SQ Mean``, ``SQ Std. Dev``, ``Set Point``, ``Well Note``;
* one row per well and fluorophore (a duplex well has two rows); empty wells are not
  exported;
* optionally, CSV exports start with the run information as ``key,value`` lines
  (``File Name``, ``Run Started``, ``Base Serial Number``, ``CFX Maestro Version`` or
  ``CFX Manager Version``, ...) and XLSX exports carry them in a ``Run Information`` sheet
  next to the results sheet (named ``0`` or after the export).

Older software names the Cq column ``C(t)`` or ``Ct``; both are read. European-locale CSV
files may be semicolon-separated with a decimal comma; both are read.

Decisions (documented in ``attrs["ifnscore_ct"]["notes"]`` when they apply):

* **Empty Target.** When a well's target was not assigned in the plate setup, the export
  leaves ``Target`` empty. The row is kept (every exported well is a measurement) and its
  target is the fluorophore (``FAM``, ``VIC``) as a stand-in: a duplex well with two
  unassigned targets must stay two distinguishable rows, and a fluorophore name never
  matches a gene, so nothing downstream takes it for one by accident. Rename the stand-ins
  to the genes before scoring. The ``fluor`` column always holds the fluorophore.
* ``Starting Quantity (SQ)`` is the known quantity for standards (``quantity``) and the
  quantity CFX calculated from the standard curve for other wells (``calc_quantity``).
* ``Cq Mean``, ``Cq Std. Dev``, ``SQ Mean`` ... are replicate summaries, not wells: not
  kept (they follow from the wells).
* The export has no column marking wells excluded from analysis, so ``omitted`` is False.

The amplification / melt-curve exports (``Cycle`` or ``Temperature`` then one column per
well) and the other CFX result views without Cq (End Point, Melt Curve Peak, Allelic
Discrimination) are refused with a sentence saying which export to use.

References
----------
Bio-Rad, *CFX Maestro Software User Guide* (10000119069), "Exporting data" and the
Quantification tab's spreadsheet views; column layout as in the CFX Maestro example export
of allotropy (``tests/parsers/cfxmaestro/testdata/example01.csv``).
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
from ._common import (
    Probe,
    cell_text,
    finish,
    iso_date,
    normalise_task,
    parse_ct,
    parse_number,
    read_text,
    sheet_rows,
    workbook_sheets,
)

__all__ = ["parse", "sniff"]

FMT = "biorad_cfx"
VENDOR = "Bio-Rad"

_CQ = ("cq", "c(t)", "ct", "threshold cycle (ct)", "cq (ct)", "c(q)")
_SQ = ("starting quantity (sq)", "sq", "starting quantity")
_WELL = re.compile(r"^[A-Pa-p](0?[1-9]|1\d|2[0-4])$")
_DELIMS = (",", ";", "\t")
_HEAD_LINES = 120
_EXPORT = (
    "export 'Quantification Cq Results' (or the Quantification Summary) from CFX Manager / "
    "CFX Maestro instead"
)


def _norm(cells: Sequence[Any]) -> list[str]:
    return [cell_text(c).lower() for c in cells]


def _kind(cells: Sequence[Any]) -> str | None:
    """``"results"`` (a Cq table header), ``"other"`` (a CFX view without Cq), ``"curve"``
    (amplification / melt data: Cycle or Temperature, then wells) or None."""
    names = _norm(cells)
    if "well" in names and "fluor" in names:
        if not {"content", "sample", "target"} & set(names):
            return None
        return "results" if any(c in names for c in _CQ) else "other"
    if (
        len(names) >= 3
        and names[0] == ""
        and names[1] in ("cycle", "temperature")
        and sum(bool(_WELL.match(n)) for n in names[2:]) >= 2
    ):
        return "curve"
    return None


def _split(line: str, delim: str) -> list[str]:
    return next(csv.reader([line], delimiter=delim), [])


def _find_header_text(lines: Sequence[str]) -> tuple[int, str, str] | None:
    for i, line in enumerate(lines[:_HEAD_LINES]):
        low = line.lower()
        if "well" not in low and "cycle" not in low and "temperature" not in low:
            continue
        for d in _DELIMS:
            if d in line:
                k = _kind(_split(line, d))
                if k:
                    return i, d, k
    return None


def sniff(probe: Probe) -> bool:
    """A CFX export: a header with Well and Fluor (and Content / Sample / Target), or the
    CFX curve layout (an empty first column, Cycle or Temperature, then wells)."""
    try:
        if probe.kind == "text":
            return _find_header_text(probe.lines) is not None
        if probe.kind in ("xlsx", "xls"):
            for name in workbook_sheets(probe):
                rows = sheet_rows(probe, name, limit=40)
                if any(_kind(r) for r in rows):
                    return True
    except Exception:
        return False
    return False


def _meta(pairs: Sequence[Sequence[Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for r in pairs:
        cells = [cell_text(c) for c in r]
        cells = [c for c in cells if c != ""] if cells and cells[0] == "" else cells
        if len(cells) >= 2 and cells[0] and cells[0] not in out:
            out[cells[0].rstrip(":")] = cells[1]
    return out


def _refuse(where: str, kind: str, header: Sequence[Any]) -> InputError:
    if kind == "curve":
        return InputError(
            f"{where}: a Bio-Rad CFX amplification or melt-curve export (fluorescence per cycle "
            f"for each well), not Cq results; {_EXPORT}."
        )
    names = set(_norm(header))
    view = (
        "Melt Curve Peak Results"
        if "melt temperature" in names or "peak height" in names
        else "End Point / Allelic Discrimination Results"
        if names & {"end rfu", "call", "rfu1", "rfu2", "end point"}
        else "results view"
    )
    return InputError(f"{where}: a Bio-Rad CFX {view} export without a Cq column; {_EXPORT}.")


def parse(probe: Probe, *, sheet: str | int | None = None) -> pd.DataFrame:
    """The wells of a CFX Cq results export (see the module notes)."""
    where = probe.where
    notes: list[str] = []
    if probe.kind == "text":
        text = read_text(probe)
        lines = text.splitlines()
        found = _find_header_text(lines)
        if found is None:
            raise InputError(
                f"{where}: no Bio-Rad CFX header (Well, Fluor, Content, Sample, Cq) in the file; {_EXPORT}."
            )
        hi, delim, kind = found
        header = _split(lines[hi], delim)
        if kind != "results":
            raise _refuse(where, kind, header)
        meta = _meta([_split(x, delim) for x in lines[:hi] if x.strip()])
        body = [(hi + 2 + j, _split(x, delim)) for j, x in enumerate(lines[hi + 1 :])]
        if sheet is not None:
            notes.append(f"sheet={sheet!r} was ignored: a CSV export has no sheets.")
        strict = True
        src = where
    elif probe.kind in ("xlsx", "xls"):
        names = workbook_sheets(probe)
        if sheet is not None:
            if isinstance(sheet, int) and not isinstance(sheet, bool):
                if not 0 <= sheet < len(names):
                    raise InputError(
                        f"{where}: sheet={sheet} is out of range; the workbook has sheets {names}."
                    )
                chosen = [names[sheet]]
            elif str(sheet) in names:
                chosen = [str(sheet)]
            else:
                raise InputError(f"{where}: no sheet {sheet!r}; the workbook has sheets {names}.")
        else:
            chosen = names
        picked: tuple[str, int, str, list[list[Any]]] | None = None
        first_other: tuple[str, list[Any]] | None = None
        for name in chosen:
            rows = sheet_rows(probe, name)
            for i, r in enumerate(rows[:_HEAD_LINES]):
                k = _kind(r)
                if k == "results":
                    picked = (name, i, k, rows)
                    break
                if k and first_other is None:
                    first_other = (k, r)
            if picked:
                break
        if picked is None:
            if first_other is not None:
                raise _refuse(where, first_other[0], first_other[1])
            raise InputError(
                f"{where}: no sheet {'of ' + repr(chosen) + ' ' if sheet is not None else ''}holds a "
                f"Bio-Rad CFX Cq header (Well, Fluor, Content, Sample, Cq); {_EXPORT}."
            )
        name, hi, _, rows = picked
        header = rows[hi]
        info = next((n for n in names if n.strip().lower() == "run information"), None)
        meta = _meta(rows[:hi])
        if info is not None and info != name:
            meta.update(_meta(sheet_rows(probe, info)))
        body = [(hi + 2 + j, r) for j, r in enumerate(rows[hi + 1 :])]
        strict = False
        src = f"{where} (sheet {name!r})"
    else:
        raise InputError(f"{where}: not a Bio-Rad CFX CSV or Excel export; {_EXPORT}.")
    return _build(src, where, header, body, meta, notes, strict=strict)


def _build(
    src: str,
    where: str,
    header: Sequence[Any],
    body: Sequence[tuple[int, Sequence[Any]]],
    meta: dict[str, str],
    notes: list[str],
    *,
    strict: bool,
) -> pd.DataFrame:
    names = _norm(header)
    col = {n: i for i, n in reversed(list(enumerate(names))) if n}
    icq = next(col[c] for c in _CQ if c in col)
    iw, ifl = col["well"], col["fluor"]
    it, ic, isa = col.get("target"), col.get("content"), col.get("sample")
    ibio = col.get("biological set name")
    isq = next((col[c] for c in _SQ if c in col), None)
    inote = col.get("well note")
    irep = col.get("replicate")
    width = len(header)
    while width > 0 and names[width - 1] == "":
        width -= 1

    def get(r: Sequence[Any], i: int | None) -> Any:
        return r[i] if i is not None and i < len(r) else None

    recs: list[dict[str, Any]] = []
    cq_cells: list[Any] = []
    skipped: list[int] = []
    for line_no, r in body:
        if all(cell_text(c) == "" for c in r):
            continue
        well = cell_text(get(r, iw))
        if not _WELL.match(well):
            skipped.append(line_no)
            continue
        if strict and (len(r) < width or any(cell_text(c) for c in r[len(header) :])):
            raise InputError(
                f"{src}: line {line_no} (well {well!r}) has {len(r)} fields where the header has "
                f"{len(header)}; the file looks cut short or edited: export it again from CFX."
            )
        content = cell_text(get(r, ic))
        rep = re.search(r"-(\d+)\s*$", content)
        recs.append(
            {
                "well": well,
                "fluor": cell_text(get(r, ifl)),
                "target_raw": cell_text(get(r, it)),
                "sample": cell_text(get(r, isa)),
                "content": content,
                "replicate": int(rep[1])
                if rep
                else (parse_number(get(r, irep)) if irep is not None else math.nan),
                "biological_set": cell_text(get(r, ibio)),
                "sq": parse_number(get(r, isq)) if isq is not None else math.nan,
                "well_note": cell_text(get(r, inote)),
            }
        )
        cq_cells.append(get(r, icq))
    if not recs:
        raise InputError(f"{src}: the Bio-Rad CFX export holds no well rows under its header.")
    ct, und = parse_ct(cq_cells, where=src, wells=[x["well"] for x in recs])
    f = pd.DataFrame(recs)
    unassigned = f["target_raw"].eq("")
    f["target"] = f["target_raw"].where(~unassigned, f["fluor"])
    if unassigned.any():
        fl = sorted(set(f.loc[unassigned, "fluor"]) - {""})
        notes.append(
            f"{int(unassigned.sum())} row(s) have no Target in the file (not assigned in the plate "
            f"setup); their target is the fluorophore ({', '.join(fl) or 'none named'}) as a "
            "stand-in: rename it to the gene before scoring."
        )
    key = f["well"] + "\x00" + f["fluor"] + "\x00" + f["target"]
    if key.duplicated().any():
        d = f.loc[key.duplicated(), ["well", "fluor"]].iloc[0]
        raise InputError(
            f"{src}: well {d['well']!r} ({d['fluor']}) appears twice; the file holds more than one "
            "plate or was edited: export each plate to its own file."
        )
    task = f["content"].map(normalise_task)
    std = task.eq("standard").to_numpy()
    sq = f["sq"].to_numpy(dtype=float)
    out: dict[str, Any] = {
        "well": f["well"],
        "sample": f["sample"],
        "target": f["target"],
        "ct": ct,
        "undetermined": und,
        "task": task,
        "omitted": np.zeros(len(f), dtype=bool),
        "fluor": f["fluor"],
    }
    if np.isfinite(sq[std]).any() or std.any():
        out["quantity"] = np.where(std, sq, np.nan)
    if np.isfinite(sq[~std]).any():
        out["calc_quantity"] = np.where(~std, sq, np.nan)
    if f["replicate"].notna().any():
        out["replicate"] = (
            f["replicate"].astype("Int64")
            if f["replicate"].dropna().mod(1).eq(0).all()
            else f["replicate"]
        )
    if f["biological_set"].ne("").any():
        out["biological_set"] = f["biological_set"]
    if f["well_note"].ne("").any():
        out["well_note"] = f["well_note"]
    used = {i for i in (iw, ifl, it, ic, isa, ibio, isq, inote, irep, icq) if i is not None}
    unused = [cell_text(header[i]) for i, n in enumerate(names) if n and i not in used]
    if unused:
        notes.append(
            f"Columns not kept: {', '.join(unused)} (replicate summaries such as Cq Mean are not "
            "wells; they, and values derived from Cq or SQ, follow from the table)."
        )
    if skipped:
        notes.append(
            f"{len(skipped)} row(s) under the header name no well (line(s) "
            f"{', '.join(map(str, skipped[:5]))}{' ...' if len(skipped) > 5 else ''}); not read."
        )
    notes.append(
        "The CFX export has no column marking wells excluded from analysis; omitted is False for every row."
    )

    software = version = None
    for k, v in meta.items():
        m = re.match(r"(CFX (?:Maestro|Manager))(?: Software)? Version$", k, re.IGNORECASE)
        if m:
            software, version = m[1], v.strip().rstrip(". ").strip() or None
    run_date = None
    started = meta.get("Run Started") or meta.get("Run Ended")
    if started:
        run_date = iso_date(started)
        if run_date is None:
            run_date = iso_date(started, order="mdy")
            if run_date:
                notes.append(
                    f"Run Started {started!r} was read as month/day/year, the order CFX writes."
                )
    extra = {
        "serial": meta.get("Base Serial Number") or None,
        "run_file": meta.get("File Name") or None,
        "protocol": meta.get("Protocol File Name") or None,
    }
    return finish(
        out,
        where=where,
        fmt=FMT,
        vendor=VENDOR,
        instrument=None,
        software=software or "CFX Manager / CFX Maestro",
        version=version,
        run_date=run_date,
        notes=notes,
        extra={k: v for k, v in extra.items() if v},
    )
