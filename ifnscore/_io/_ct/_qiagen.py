"""Qiagen Rotor-Gene Q (and Corbett Rotor-Gene 6000) "Excel Analysed Data Export": the
workbook itself (XLSX / XLS) or a CSV copy of it.

The layout the Rotor-Gene Q Series Software writes:

* a preamble of ``key;value`` rows: ``Excel Analysed Data Export``, the copyright line,
  ``File`` (the ``.rex`` run file), ``Date``, ``Time``, ``Operator``, ``Run Id``, ``Notes``,
  ``Machine Serial No``, then small ``Channel;Gain`` and ``Channel;Threshold`` tables;
* one block per analysis, stacked: a title row ``Quantitative analysis of Cycling A.Green
  (28S)`` (the acquisition channel, then the analysis / page name in brackets), an empty
  row, a header ``No.;Colour;Name;Type;Ct;Ct Comment;Given Conc (Copies);Calc Conc
  (Copies);% Var;Rep. Ct;Rep. Ct Std. Dev.;...`` and one row per tube;
* ``No.`` is the rotor position (the well); ``Type`` is ``Unknown``, ``Standard``, ``NTC``,
  ``Negative Control``, ``Positive Control``; ``Ct`` is empty when the tube did not cross the
  threshold, and ``Ct Comment`` says why when the software excluded it (``NEG (NTC)``,
  ``NEG (R. Eff)``); ``Rep. Ct`` and the other ``Rep.`` columns are replicate summaries
  written on the first replicate's row only (not wells: not kept);
* CSV copies use the delimiter and decimal mark of the computer's locale (``;`` and ``7,49``
  in much of Europe, ``,`` and ``7.49`` elsewhere), Windows line ends, often a BOM.

Decisions:

* The **target** of each block is the name in the title's brackets (``28S``): Rotor-Gene
  users name the analysis (page) after the assay. A title without a name gives the channel
  (``Cycling A.Green``) as a stand-in, with a note. The channel is kept in ``channel``.
* Blocks that are not quantitation (melt, comparative quantitation, end point) hold no Ct
  and are skipped with a note; a file with no quantitation block is refused.
* The ``Date`` is read only when the day/month order is certain (a part above 12, or the
  date written in the ``.rex`` file name agrees); otherwise ``run_date`` is None and a note
  keeps the text.

References
----------
QIAGEN, *Rotor-Gene Q User Manual* (and *Rotor-Gene Q MDx CE User Manual*, 02/2022):
"Quantitation analysis", the "Ct Comment" flags and "Exporting" (Excel analysis sheet);
the Rotor-Gene example exports of the ``qpcr`` Python package (N. H. Kleinschmidt,
``Examples/Example Data/Irregular Files``).
"""

from __future__ import annotations

import csv
import datetime as _dt
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

FMT = "qiagen_rotorgene"
VENDOR = "Qiagen"

_EXPORT_TITLE = re.compile(r"^\s*Excel\s+Anal[yz]sed\s+Data\s+Export", re.IGNORECASE)
_QUANT = re.compile(
    r"^\s*Quantit\w*\s+(?:analysis|data|results?)\s+(?:of|for)\s+(?P<rest>.+?)\s*$", re.IGNORECASE
)
_OTHER = re.compile(r"^\s*\S.*?\s(?:analysis|data|results?)\s+(?:of|for)\s+\S.*$", re.IGNORECASE)
_EXPORT = (
    "export the run with 'Excel Analysed Data Export' (or 'Excel Analysis Sheet') from the "
    "Rotor-Gene Q software after the quantitation analysis"
)


def _delim(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ";"


def _text_rows(text: str) -> list[list[str]]:
    lines = text.splitlines()
    first = next((x for x in lines if x.strip()), "")
    return [list(r) for r in csv.reader(lines, delimiter=_delim(first))]


def _looks(rows: Sequence[Sequence[Any]]) -> bool:
    firsts = [cell_text(r[0]) if r else "" for r in rows]
    nonempty = [x for x in firsts if x]
    if nonempty and _EXPORT_TITLE.match(nonempty[0]):
        return True
    return any(_QUANT.match(x) for x in firsts) and "No." in firsts


def sniff(probe: Probe) -> bool:
    """The title ``Excel Analysed Data Export``, or a ``Quantitative analysis of ...`` block
    with a ``No.`` header (text, XLSX or XLS)."""
    try:
        if probe.kind == "text":
            head = probe.lines[:200]
            if not any("export" in x.lower() or "analysis of" in x.lower() for x in head[:60]):
                return False
            return _looks(_text_rows("\n".join(head)))
        if probe.kind in ("xlsx", "xls"):
            return any(_looks(sheet_rows(probe, s, limit=80)) for s in workbook_sheets(probe))
    except Exception:
        return False
    return False


def _split_title(rest: str) -> tuple[str, str]:
    m = re.match(r"^(?P<ch>.*?)\s*\((?P<name>.*)\)\s*$", rest)
    if m and m["ch"].strip():
        return m["ch"].strip(), m["name"].strip()
    return rest.strip(), ""


def _is_title(r: Sequence[Any]) -> bool:
    return bool(r) and cell_text(r[0]) != "" and all(cell_text(c) == "" for c in r[1:])


def _date(meta: dict[str, Any], notes: list[str]) -> str | None:
    raw = meta.get("date")
    if raw is None or cell_text(raw) == "":
        return None
    time = cell_text(meta.get("time"))
    in_name = re.search(r"(20\d\d)-(\d\d)-(\d\d)", cell_text(meta.get("file")))
    named = f"{in_name[1]}-{in_name[2]}-{in_name[3]}" if in_name else None
    if isinstance(raw, _dt.datetime | _dt.date):
        day = raw.date() if isinstance(raw, _dt.datetime) else raw
        got = day.isoformat()
        swapped = (
            _dt.date(day.year, day.day, day.month).isoformat()
            if day.day <= 12 and day.day != day.month
            else None
        )
        if named and got != named and swapped == named:
            notes.append(
                f"The Date cell reads {got} but the run file name says {named} (day and month "
                "swapped when the sheet was saved in another locale); run_date is left unset."
            )
            return None
        stamp = iso_date("2000-01-01 " + time) if time else None
        return got + (stamp[10:] if stamp and "T" in stamp else "")
    text = cell_text(raw)
    got2 = iso_date(f"{text} {time}".strip())
    if got2 is None and named:
        for order in ("mdy", "dmy"):
            cand = iso_date(f"{text} {time}".strip(), order=order)
            if cand and cand[:10] == named:
                got2 = cand
                break
    if got2 is None:
        notes.append(
            f"The Date {text!r} has an unclear day/month order; run_date is left unset "
            "(attrs 'date_text' keeps it)."
        )
    return got2


def parse(probe: Probe, *, sheet: str | int | None = None) -> pd.DataFrame:
    """The tubes of every quantitation block of a Rotor-Gene export (see the module notes)."""
    where = probe.where
    notes: list[str] = []
    strict = probe.kind == "text"
    if probe.kind == "text":
        rows: list[list[Any]] = _text_rows(read_text(probe))
        src = where
        if sheet is not None:
            notes.append(f"sheet={sheet!r} was ignored: a CSV export has no sheets.")
    elif probe.kind in ("xlsx", "xls"):
        names = workbook_sheets(probe)
        if sheet is None:
            pick = next((s for s in names if _looks(sheet_rows(probe, s, limit=80))), None)
            if pick is None:
                raise InputError(
                    f"{where}: no sheet holds a Rotor-Gene 'Excel Analysed Data Export'; {_EXPORT}."
                )
        elif isinstance(sheet, int) and not isinstance(sheet, bool):
            if not 0 <= sheet < len(names):
                raise InputError(
                    f"{where}: sheet={sheet} is out of range; the workbook has sheets {names}."
                )
            pick = names[sheet]
        elif str(sheet) in names:
            pick = str(sheet)
        else:
            raise InputError(f"{where}: no sheet {sheet!r}; the workbook has sheets {names}.")
        rows = sheet_rows(probe, pick)
        src = f"{where} (sheet {pick!r})"
    else:
        raise InputError(f"{where}: not a Rotor-Gene CSV or Excel export; {_EXPORT}.")

    meta: dict[str, Any] = {}
    thresholds: dict[str, float] = {}
    in_thr = False
    first_title = next(
        (i for i, r in enumerate(rows) if _is_title(r) and _OTHER.match(cell_text(r[0]))), len(rows)
    )
    for r in rows[:first_title]:
        key = cell_text(r[0]) if r else ""
        v = r[1] if len(r) > 1 else None
        if not key:
            in_thr = False
            continue
        if key.lower() == "channel":
            in_thr = cell_text(v).lower() == "threshold"
            continue
        if in_thr:
            thresholds[key] = parse_number(v)
        elif key.lower() not in meta:
            meta[key.lower()] = v

    recs: list[dict[str, Any]] = []
    ct_cells: list[Any] = []
    skipped: list[str] = []
    summaries: set[str] = set()
    i = first_title
    n_blocks = 0
    while i < len(rows):
        r = rows[i]
        if not (_is_title(r) and _OTHER.match(cell_text(r[0]))):
            i += 1
            continue
        title = cell_text(r[0])
        j = i + 1
        while (
            j < len(rows)
            and not (rows[j] and cell_text(rows[j][0]).lower() == "no.")
            and not (_is_title(rows[j]) and _OTHER.match(cell_text(rows[j][0])))
        ):
            j += 1
        if j >= len(rows) or cell_text(rows[j][0]).lower() != "no.":
            skipped.append(f"{title!r} (no table)")
            i = j
            continue
        header = [cell_text(c) for c in rows[j]]
        while header and header[-1] == "":
            header.pop()
        low = [h.lower() for h in header]
        m = _QUANT.match(title)
        if m is None or "ct" not in low:
            skipped.append(f"{title!r} (no Ct column)" if m else repr(title))
            i = j + 1
            continue
        n_blocks += 1
        channel, name = _split_title(m["rest"])
        target = name or channel
        if not name:
            notes.append(
                f"Block {title!r} names no assay; its target is the channel {channel!r} as a "
                "stand-in: rename it to the gene before scoring."
            )
        col = {h: k for k, h in reversed(list(enumerate(low)))}
        ict, iname, itype = col["ct"], col.get("name"), col.get("type")
        icom = col.get("ct comment")
        igiven = next((k for h, k in col.items() if h.startswith("given conc")), None)
        icalc = next((k for h, k in col.items() if h.startswith("calc conc")), None)
        summaries.update(header[k] for k, h in enumerate(low) if h.startswith("rep."))
        thr = thresholds.get(m["rest"].strip(), math.nan)
        k = j + 1
        while k < len(rows):
            row = rows[k]
            pos = cell_text(row[0]) if row else ""
            if not re.fullmatch(r"\d+", pos):
                break
            if strict and len(row) < len(header):
                raise InputError(
                    f"{src}: line {k + 1} (position {pos}) has {len(row)} fields where the header "
                    f"of block {title!r} has {len(header)}; the file looks cut short: export it again."
                )

            def get(ix: int | None, row: Sequence[Any] = row) -> Any:
                return row[ix] if ix is not None and ix < len(row) else None

            recs.append(
                {
                    "well": pos,
                    "sample": cell_text(get(iname)),
                    "target": target,
                    "type": cell_text(get(itype)),
                    "channel": channel,
                    "given": parse_number(get(igiven)),
                    "calc": parse_number(get(icalc)),
                    "ct_comment": cell_text(get(icom)),
                    "threshold": thr,
                    "block": title,
                }
            )
            ct_cells.append(get(ict))
            k += 1
        i = k
    if n_blocks == 0:
        found = f" (it holds {', '.join(skipped)})" if skipped else ""
        raise InputError(
            f"{src}: no quantitation block with a Ct column in the Rotor-Gene export{found}; {_EXPORT}."
        )
    if not recs:
        raise InputError(f"{src}: the Rotor-Gene quantitation blocks hold no tubes.")
    ct, und = parse_ct(ct_cells, where=src, wells=[x["well"] for x in recs])
    f = pd.DataFrame(recs)
    dup = (f["well"] + "\x00" + f["target"] + "\x00" + f["channel"]).duplicated()
    if dup.any():
        d = f.loc[dup].iloc[0]
        raise InputError(
            f"{src}: position {d['well']} appears twice for {d['target']!r} ({d['block']!r}); two "
            "blocks share one name: give each analysis its own name, or export them separately."
        )
    task = f["type"].map(normalise_task)
    std = task.eq("standard").to_numpy()
    given = f["given"].to_numpy(dtype=float)
    calc = f["calc"].to_numpy(dtype=float)
    out: dict[str, Any] = {
        "well": f["well"],
        "sample": f["sample"],
        "target": f["target"],
        "ct": ct,
        "undetermined": und,
        "task": task,
        "omitted": np.zeros(len(f), dtype=bool),
        "channel": f["channel"],
    }
    if std.any() or np.isfinite(given).any():
        out["quantity"] = np.where(std, given, np.nan)
    if np.isfinite(calc).any():
        out["calc_quantity"] = calc
    if f["ct_comment"].ne("").any():
        out["ct_comment"] = f["ct_comment"]
    if np.isfinite(f["threshold"].to_numpy(dtype=float)).any():
        out["threshold"] = f["threshold"].to_numpy(dtype=float)
    if skipped:
        notes.append(f"Blocks without Ct, not read: {', '.join(skipped)}.")
    if summaries:
        notes.append(
            f"{', '.join(sorted(summaries))}: replicate summaries on the first replicate's row, "
            "not wells; not kept."
        )
    if f["ct_comment"].ne("").any():
        notes.append(
            f"{int(f['ct_comment'].ne('').sum())} tube(s) carry a Ct Comment (e.g. NEG (NTC): the "
            "software withheld the Ct); kept in ct_comment."
        )
    notes.append(
        "The export does not mark tubes excluded from the analysis; omitted is False for every tube."
    )
    run_date = _date(meta, notes)
    copyright_line = next(
        (
            cell_text(r[0])
            for r in rows[:first_title]
            if r and "copyright" in cell_text(r[0]).lower()
        ),
        "",
    )
    version = None
    for r in rows[:first_title]:
        vm = re.search(r"Software\D{0,20}?(\d+\.\d+(?:\.\d+)*)", " ".join(cell_text(c) for c in r))
        if vm:
            version = vm[1]
            break
    instrument = "Rotor-Gene Q" if "qiagen" in copyright_line.lower() else "Rotor-Gene"
    extra = {
        "serial": cell_text(meta.get("machine serial no")) or None,
        "run_file": cell_text(meta.get("file")) or None,
        "operator": cell_text(meta.get("operator")) or None,
        "date_text": cell_text(meta.get("date")) or None,
    }
    return finish(
        out,
        where=where,
        fmt=FMT,
        vendor=VENDOR,
        instrument=instrument,
        software="Rotor-Gene Q Series Software"
        if instrument == "Rotor-Gene Q"
        else "Rotor-Gene Software",
        version=version,
        run_date=run_date,
        notes=notes,
        extra={k: v for k, v in extra.items() if v},
    )
