"""Roche LightCycler 480 Software (release 1.5) Cp results exported as text.

The layout the Abs Quant analyses ("2nd Derivative Max", "Fit Points") write with
*Export > Text*:

* line 1: ``Experiment: <name>  Selected Filter: <filter> (<excitation-emission>)`` (two
  spaces between the parts; some releases write ``Filter:`` without ``Selected``);
* line 2: the tab-separated header ``Include  Color  Pos  Name  Cp  Concentration  Standard
  Status`` (Windows line ends; the data rows end with a tab);
* one row per well: ``Include`` ``True``/``False`` (False: the well was excluded from the
  analysis, kept here as ``omitted``), ``Color`` (the curve colour in the software, not
  read), ``Pos`` (the well, ``A1``), ``Name`` (the sample name; ``Sample 12`` unless the user
  named it), ``Cp`` (empty when nothing amplified), ``Concentration`` (calculated from a
  standard curve), ``Standard`` (the known concentration entered for a standard, ``0``
  otherwise), ``Status`` (the software's flags).

Decisions:

* **No target.** The export does not name the assay: one export holds one filter (channel)
  of one run, and LightCycler users record the target in the experiment or the plate plan.
  ``target`` is ``""`` and a note says so; set it, e.g. ``frame["target"] = "IFI27"``, or
  from the plate plan by well. The filter is kept in the ``channel`` column and the
  experiment name in ``attrs``.
* The task: a ``Type`` / ``Sample Type`` column, when the export has one, names it;
  otherwise a well with a non-zero ``Standard`` is a ``standard`` (its value is the known
  ``quantity``) and every other well ``unknown``.
* The Cp export holds neither the run date nor the software version: both are None.

Other LightCycler exports are refused with one sentence: the raw fluorescence export
(``SamplePos SampleName Prog# Seg# Cycle# ...``), and result tables without a Cp column
(Tm Calling, melting, genotyping).

References
----------
Roche, *LightCycler 480 Instrument Operator's Manual, Software Version 1.5*, "Absolute
Quantification" and "Exporting"; the LightCycler 480 files of tidyqpcr
(``inst/extdata/*_Cq.txt.gz``) and its ``read_lightcycler_1colour_cq``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from ...errors import InputError
from ._common import Probe, finish, normalise_task, parse_ct, parse_number, read_text

__all__ = ["parse", "sniff"]

FMT = "roche_lightcycler480"
VENDOR = "Roche"

_EXPERIMENT = re.compile(
    r"^\s*Experiment:\s*(?P<name>.*?)\s+(?:Selected\s+)?Filter:\s*(?P<filter>.*?)\s*$"
)
_EXPERIMENT_ONLY = re.compile(r"^\s*Experiment:\s*(?P<name>.*?)\s*$")
_RAW = re.compile(r"^\s*SamplePos\tSampleName\t", re.IGNORECASE)
_RAW_TITLE = re.compile(r"^\s*Raw Data\b.*\bExperiment\b", re.IGNORECASE)
_EXPORT = (
    "export the Abs Quant results table (Cp per well) with Export > Text in the LightCycler 480 "
    "software's Results view"
)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.rstrip("\r\n").split("\t")]


def _is_header(cells: list[str]) -> bool:
    low = {c.lower() for c in cells}
    return (
        "pos" in low
        and ("name" in low or "sample name" in low)
        and bool(low & {"include", "inc", "cp", "color"})
    )


def sniff(probe: Probe) -> bool:
    """The first line ``Experiment: ...`` followed by a ``Pos``/``Name`` tab header, or the
    LightCycler raw-data layout."""
    if probe.kind != "text":
        return False
    try:
        lines = [x for x in probe.lines[:6] if x.strip()]
        if not lines:
            return False
        if (
            _RAW_TITLE.match(lines[0])
            or _RAW.match(lines[0])
            or (len(lines) > 1 and _RAW.match(lines[1]))
        ):
            return True
        return (
            bool(_EXPERIMENT_ONLY.match(lines[0]))
            and len(lines) > 1
            and _is_header(_cells(lines[1]))
        )
    except Exception:
        return False


def parse(probe: Probe, *, sheet: str | int | None = None) -> pd.DataFrame:
    """The wells of a LightCycler 480 Cp text export (see the module notes)."""
    where = probe.where
    lines = read_text(probe).splitlines()
    first = next((i for i, x in enumerate(lines) if x.strip()), None)
    if first is None:
        raise InputError(f"{where} is empty.")
    head = [x for x in lines[first : first + 3] if x.strip()]
    if any(_RAW.match(x) for x in head) or _RAW_TITLE.match(head[0]):
        raise InputError(
            f"{where}: a LightCycler 480 raw fluorescence export (one reading per well and cycle), "
            f"not Cp results; {_EXPORT}."
        )
    m = _EXPERIMENT.match(lines[first])
    m2 = m or _EXPERIMENT_ONLY.match(lines[first])
    if m2 is None:
        raise InputError(
            f"{where}: the first line should read 'Experiment: <name>  Selected Filter: ...'; {_EXPORT}."
        )
    experiment = m2["name"].strip() or None
    filt = (m["filter"].strip() if m else "") or None
    more = [i + 1 for i, x in enumerate(lines) if i > first and _EXPERIMENT_ONLY.match(x)]
    if more:
        raise InputError(
            f"{where}: line {more[0]} starts another 'Experiment:' table; the file holds several "
            "LightCycler exports pasted together: keep one export (one filter) per file."
        )
    hi = next((i for i in range(first + 1, len(lines)) if lines[i].strip()), None)
    if hi is None:
        raise InputError(
            f"{where}: the file ends after its 'Experiment:' line; the table of wells is missing."
        )
    header = _cells(lines[hi])
    while header and header[-1] == "":
        header.pop()
    low = [c.lower() for c in header]
    col = {c: i for i, c in reversed(list(enumerate(low)))}
    if "cp" not in col and "cq" not in col:
        what = (
            "a Tm Calling / melting result"
            if any(re.match(r"tm\d*$", c) for c in low)
            else "a LightCycler 480 table without a Cp column"
        )
        raise InputError(
            f"{where}: {what} (header: {', '.join(header)}), not Cp results; {_EXPORT}."
        )
    if "pos" not in col:
        raise InputError(
            f"{where}: the header on line {hi + 1} has no 'Pos' (well) column; {_EXPORT}."
        )
    icp = col["cp"] if "cp" in col else col["cq"]
    ipos = col["pos"]
    iname = col.get("name", col.get("sample name"))
    iinc = col.get("include", col.get("inc"))
    itype = col.get("type", col.get("sample type"))
    iconc = col.get("concentration")
    istd = col.get("standard")
    istat = col.get("status")
    need = max(i for i in (icp, ipos, iname, iinc, itype, iconc, istd) if i is not None) + 1

    recs: list[dict[str, Any]] = []
    cp_cells: list[str] = []
    for n in range(hi + 1, len(lines)):
        raw = lines[n]
        if not raw.strip():
            continue
        c = _cells(raw)
        well = c[ipos] if ipos < len(c) else ""
        if len(c) < need:
            raise InputError(
                f"{where}: line {n + 1} (well {well!r}) has {len(c)} fields where the header has "
                f"{len(header)}; the file looks cut short: export it again."
            )
        if not well:
            raise InputError(f"{where}: line {n + 1} has no well in the 'Pos' column.")
        inc_cell = c[iinc] if iinc is not None else "True"
        inc = inc_cell.lower()
        if inc not in ("true", "false", ""):
            raise InputError(
                f"{where}: line {n + 1} (well {well!r}): Include is {inc_cell!r}; expected True or False."
            )
        recs.append(
            {
                "well": well,
                "sample": c[iname] if iname is not None else "",
                "omitted": inc == "false",
                "type": c[itype] if itype is not None else "",
                "concentration": parse_number(c[iconc]) if iconc is not None else math.nan,
                "standard": parse_number(c[istd]) if istd is not None else math.nan,
                "status": c[istat] if istat is not None and istat < len(c) else "",
            }
        )
        cp_cells.append(c[icp])
    if not recs:
        raise InputError(f"{where}: the LightCycler export has a header but no wells under it.")
    ct, und = parse_ct(cp_cells, where=where, wells=[r["well"] for r in recs])
    f = pd.DataFrame(recs)
    if f["well"].duplicated().any():
        w = f.loc[f["well"].duplicated(), "well"].iloc[0]
        raise InputError(
            f"{where}: well {w!r} appears twice; the file holds more than one export: keep one per file."
        )
    std_val = f["standard"].to_numpy(dtype=float)
    if itype is not None:
        task = f["type"].map(normalise_task)
    else:
        task = pd.Series(np.where(np.nan_to_num(std_val) > 0, "standard", "unknown"))
    is_std = task.eq("standard").to_numpy()
    notes = [
        "The LightCycler 480 export does not name the target (one export holds one filter of one "
        "run); target is empty: set it for the plate, e.g. frame['target'] = 'IFI27', or by well "
        "from the plate plan.",
        "The Cp export holds no run date or software version.",
    ]
    if itype is None:
        notes.append(
            "The export has no sample type column; wells with a non-zero Standard are standards, the others unknowns."
        )
    if f["omitted"].any():
        notes.append(
            f"{int(f['omitted'].sum())} well(s) have Include = False (excluded in the software); kept with omitted = True."
        )
    if sheet is not None:
        notes.append(f"sheet={sheet!r} was ignored: a text export has no sheets.")
    out: dict[str, Any] = {
        "well": f["well"],
        "sample": f["sample"],
        "target": "",
        "ct": ct,
        "undetermined": und,
        "task": task,
        "omitted": f["omitted"],
        "channel": filt or "",
    }
    if istd is not None:
        out["quantity"] = np.where(is_std & (std_val > 0), std_val, np.nan)
    if iconc is not None and np.isfinite(f["concentration"].to_numpy(dtype=float)).any():
        out["calc_quantity"] = f["concentration"].to_numpy(dtype=float)
    if istat is not None:
        out["status"] = f["status"]
    return finish(
        pd.DataFrame(out),
        where=where,
        fmt=FMT,
        vendor=VENDOR,
        instrument="LightCycler 480",
        software="LightCycler 480 Software",
        version=None,
        run_date=None,
        notes=notes,
        extra={k: v for k, v in {"experiment": experiment, "filter": filt}.items() if v},
    )
