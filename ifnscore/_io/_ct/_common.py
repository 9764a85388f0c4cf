"""What every qPCR vendor reader shares: the probe of a file, text decoding, Ct and task
parsing, and :func:`finish`, which turns a vendor's rows into the one long table of
:func:`ifnscore.read_ct`.

The table (one row per well and target; a duplex well gives two rows):

==============  =========  ==========================================================
column          dtype      meaning
==============  =========  ==========================================================
``well``        str        the well as the instrument names it (``A1``, ``B12``; ``1``..
                           for rotor positions); empty when the file has no wells
``sample``      str        the sample name as written (``""`` when the well has none)
``target``      str        the target (assay, detector, gene) as written
``ct``          float64    the Ct / Cq / Cp; NaN when undetermined
``undetermined`` bool      the instrument reported no Ct (Undetermined, NaN, blank, -1)
``task``        str        lower case, one of :data:`TASKS`
``omitted``     bool       the well was omitted / excluded in the instrument software
==============  =========  ==========================================================

``frame.attrs["ifnscore_ct"]`` is a dict with ``vendor``, ``instrument``, ``software``,
``version``, ``run_date`` and ``file`` (``None`` where the file does not hold them), plus
``format`` (the reader's name) and ``notes`` (a list of sentences: what was skipped and why).
"""

from __future__ import annotations

import codecs
import math
import os
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import InputError
from .._open import open_binary, strip_compression

__all__ = [
    "COLUMNS",
    "TASKS",
    "Probe",
    "decode",
    "finish",
    "normalise_task",
    "parse_ct",
    "probe_file",
]

COLUMNS = ("well", "sample", "target", "ct", "undetermined", "task", "omitted")

#: The task vocabulary (lower case). ``unknown`` is a sample to quantify; ``standard`` a
#: standard-curve well; ``ntc`` no-template control; ``negative`` / ``positive`` controls;
#: ``nrt`` no reverse transcriptase; ``nac`` no-amplification control; ``ntp`` no-target
#: present; ``opt`` optical calibrator; ``other`` anything else the file names.
TASKS = ("unknown", "standard", "ntc", "negative", "positive", "nrt", "nac", "ntp", "opt", "other")

_TASK_WORDS = {
    "unknown": "unknown",
    "unkn": "unknown",
    "unk": "unknown",
    "sample": "unknown",
    "standard": "standard",
    "std": "standard",
    "ntc": "ntc",
    "no template control": "ntc",
    "negative": "negative",
    "neg": "negative",
    "neg ctrl": "negative",
    "negative control": "negative",
    "pos": "positive",
    "pos ctrl": "positive",
    "positive": "positive",
    "positive control": "positive",
    "nrt": "nrt",
    "-rt": "nrt",
    "no rt": "nrt",
    "nac": "nac",
    "ntp": "ntp",
    "opt": "opt",
    "ipc": "positive",
    "blank": "other",
}

#: Ct cell texts that mean "no Ct" (compared lower case, stripped).
UNDETERMINED_WORDS = frozenset(
    {
        "",
        "undetermined",
        "undet",
        "undet.",
        "n/a",
        "na",
        "nan",
        "no ct",
        "noct",
        "no cq",
        "-",
        "none",
        "no amp",
    }
)


@dataclass(frozen=True)
class Probe:
    """What a reader may look at to decide whether a file is its format.

    ``kind`` is ``"xlsx"`` (a zip holding ``xl/``), ``"zip"`` (another zip, e.g. RDML),
    ``"xls"`` (an OLE2 compound file: legacy Excel) or ``"text"``; ``text`` holds the first
    ~256 KB decoded (text files only, after decompression), ``name`` the file name without a
    compression suffix, ``ext`` its lower-case extension.
    """

    path: Path
    name: str
    ext: str
    kind: str
    text: str = ""
    members: tuple[str, ...] = field(default_factory=tuple)

    @property
    def where(self) -> str:
        return str(self.path)

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


_HEAD = 256 * 1024


def probe_file(path: str | os.PathLike[str]) -> Probe:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{str(p)!r}: no such file.")
    if p.is_dir():
        raise InputError(
            f"{str(p)!r} is a folder; read_ct reads one plate export (a file) at a time."
        )
    name, _ = strip_compression(p)
    ext = Path(name).suffix.lower()
    with open_binary(p) as fh:
        head = fh.read(_HEAD)
    if not head:
        raise InputError(f"{str(p)!r} is empty.")
    if head[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(p) as z:
                members = tuple(z.namelist())
        except zipfile.BadZipFile as exc:
            raise InputError(f"{str(p)!r}: a damaged zip archive ({exc}).") from None
        kind = "xlsx" if any(m.startswith("xl/") for m in members) else "zip"
        return Probe(p, name, ext, kind, members=members)
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return Probe(p, name, ext, "xls")
    return Probe(p, name, ext, "text", text=decode(head, where=str(p), partial=len(head) == _HEAD))


def decode(raw: bytes, *, where: str, partial: bool = False) -> str:
    """Text of a file's bytes: UTF-8 (with or without BOM), UTF-16 with a BOM, else
    Windows-1252 (what instrument software on Windows writes). Line ends are kept."""
    if raw.startswith(codecs.BOM_UTF16_LE) or raw.startswith(codecs.BOM_UTF16_BE):
        if partial and len(raw) % 2:
            raw = raw[:-1]
        return raw.decode("utf-16", errors="replace" if partial else "strict")
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if partial and exc.start >= len(raw) - 4:
            return raw[: exc.start].decode("utf-8")
        return raw.decode("cp1252", errors="replace")


def read_text(probe: Probe) -> str:
    """The whole decoded text of a text probe."""
    with open_binary(probe.path) as fh:
        raw = fh.read()
    return decode(raw, where=probe.where)


def parse_ct(
    values: Iterable[Any], *, where: str, wells: Iterable[Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(ct float64 with NaN where undetermined, undetermined bool) from the Ct cells.

    Numbers may use a decimal comma (``28,31``). A negative value (RDML's ``-1``) means no
    Ct. Anything else that is not a number is an error naming the well.
    """
    vals = list(values)
    wl = list(wells) if wells is not None else [None] * len(vals)
    ct = np.full(len(vals), np.nan)
    und = np.zeros(len(vals), dtype=bool)
    for i, v in enumerate(vals):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            und[i] = True
            continue
        if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool):
            x = float(v)
        else:
            s = str(v).strip()
            if s.lower() in UNDETERMINED_WORDS:
                und[i] = True
                continue
            try:
                x = float(s.replace(",", ".")) if re.fullmatch(r"[-+]?\d+,\d+", s) else float(s)
            except ValueError:
                w = f" of well {wl[i]!r}" if wl[i] not in (None, "") else f" (row {i + 1})"
                raise InputError(
                    f"{where}: Ct {s!r}{w} is not a number; the file should hold a number, "
                    "'Undetermined' or an empty cell."
                ) from None
        if not math.isfinite(x):
            w = f" of well {wl[i]!r}" if wl[i] not in (None, "") else f" (row {i + 1})"
            raise InputError(f"{where}: Ct {x!r}{w} is not a finite number.")
        if x < 0:
            und[i] = True
            continue
        ct[i] = x
    return ct, und


def normalise_task(value: Any) -> str:
    """A task / content / sample-type label in the vocabulary :data:`TASKS`.

    Bio-Rad's ``Unkn-01`` / ``Std-03`` carry a replicate number after the word; empty means
    ``unknown``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    s = re.sub(r"\s+", " ", str(value).strip().lower())
    if not s:
        return "unknown"
    if s in _TASK_WORDS:
        return _TASK_WORDS[s]
    s2 = re.sub(r"[-_ ]*\d+$", "", s)
    return _TASK_WORDS.get(s2, "other")


def finish(
    rows: pd.DataFrame | Mapping[str, Any],
    *,
    where: str,
    fmt: str,
    vendor: str,
    instrument: str | None = None,
    software: str | None = None,
    version: str | None = None,
    run_date: str | None = None,
    notes: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The long table with the columns and dtypes of :data:`COLUMNS`, and its ``attrs``.

    ``rows`` must hold ``well``, ``sample``, ``target``, ``ct`` (float, NaN = no Ct) and
    ``undetermined``; ``task`` defaults to ``"unknown"`` and ``omitted`` to False.
    """
    frame = pd.DataFrame(dict(rows) if isinstance(rows, Mapping) else rows).reset_index(drop=True)
    for col in ("well", "sample", "target", "ct", "undetermined"):
        if col not in frame.columns:
            raise InputError(f"{where}: the {fmt} reader found no {col} column.")
    if len(frame) == 0:
        raise InputError(f"{where}: the {fmt} export holds no wells with a Ct.")
    if "task" not in frame.columns:
        frame["task"] = "unknown"
    if "omitted" not in frame.columns:
        frame["omitted"] = False

    def text(col: pd.Series) -> pd.Series:
        return col.map(
            lambda v: (
                "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip()
            )
        )

    out = pd.DataFrame(
        {
            "well": text(frame["well"]),
            "sample": text(frame["sample"]),
            "target": text(frame["target"]),
            "ct": frame["ct"].astype(np.float64),
            "undetermined": frame["undetermined"].astype(bool),
            "task": frame["task"].map(normalise_task),
            "omitted": frame["omitted"].astype(bool),
        }
    )
    out.loc[out["undetermined"], "ct"] = np.nan
    if out["ct"].isna().ne(out["undetermined"]).any():
        i = int(np.flatnonzero(out["ct"].isna().ne(out["undetermined"]).to_numpy())[0])
        raise InputError(
            f"{where}: well {out['well'].iloc[i]!r} has no Ct but is not marked undetermined."
        )
    extra_cols = [c for c in frame.columns if c not in COLUMNS]
    for c in extra_cols:  # vendor extras (plate, quantity, replicate ...) kept after the contract
        out[c] = frame[c].to_numpy()
    out.attrs["ifnscore_ct"] = {
        "vendor": vendor,
        "instrument": instrument,
        "software": software,
        "version": version,
        "run_date": run_date,
        "file": Path(where).name,
        "format": fmt,
        "notes": list(notes),
        **dict(extra or {}),
    }
    return out


# --- appended helpers: workbooks, cell text, numbers with a decimal comma, dates -------------


def _calamine() -> Any | None:
    try:
        import python_calamine
    except ImportError:
        return None
    return python_calamine


def workbook_sheets(probe: Probe) -> list[str]:
    """The sheet names of an ``xlsx`` / ``xls`` probe, in workbook order.

    python-calamine reads both (the ``io`` extra); openpyxl (``excel`` extra) reads ``.xlsx``
    when calamine is absent. Damaged workbooks are an :class:`InputError` naming the file."""
    cal = _calamine()
    try:
        if cal is not None:
            wb = cal.CalamineWorkbook.from_path(str(probe.path))
            return [str(s) for s in wb.sheet_names]
        if probe.kind == "xlsx":
            import openpyxl

            wb2 = openpyxl.load_workbook(probe.path, read_only=True, data_only=True)
            try:
                return [str(s) for s in wb2.sheetnames]
            finally:
                wb2.close()
    except ImportError:
        pass
    except Exception as exc:  # calamine / openpyxl / zipfile raise many kinds
        raise InputError(
            f"{probe.where}: not a readable Excel workbook ({type(exc).__name__}: {exc})."
        ) from None
    raise InputError(
        f"{probe.where}: reading Excel workbooks needs python-calamine (or openpyxl for .xlsx): "
        "pip install 'ifnscore[io]'."
    )


def sheet_rows(probe: Probe, sheet: str, *, limit: int | None = None) -> list[list[Any]]:
    """The cells of one sheet as rows of Python values (``None`` for an empty cell), from cell
    A1 (leading empty rows and columns are kept, so positions match the sheet), at most
    ``limit`` rows."""
    cal = _calamine()
    rows: list[list[Any]] = []
    try:
        if cal is not None:
            wb = cal.CalamineWorkbook.from_path(str(probe.path))
            sh = wb.get_sheet_by_name(sheet)
            got = (
                sh.to_python(skip_empty_area=False, nrows=limit)
                if limit
                else sh.to_python(skip_empty_area=False)
            )
            return [[None if v == "" else v for v in r] for r in got]
        if probe.kind == "xlsx":
            import openpyxl

            wb2 = openpyxl.load_workbook(probe.path, read_only=True, data_only=True)
            try:
                for r in wb2[sheet].iter_rows(values_only=True):
                    if limit is not None and len(rows) >= limit:
                        break
                    rows.append([None if v == "" else v for v in r])
            finally:
                wb2.close()
            return rows
    except ImportError:
        pass
    except Exception as exc:
        raise InputError(
            f"{probe.where}: sheet {sheet!r} could not be read ({type(exc).__name__}: {exc})."
        ) from None
    raise InputError(
        f"{probe.where}: reading Excel workbooks needs python-calamine (or openpyxl for .xlsx): "
        "pip install 'ifnscore[io]'."
    )


def cell_text(value: Any) -> str:
    """A cell as stripped text: ``""`` for None/NaN, ``"25"`` for the float 25.0."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_number(value: Any) -> float:
    """A quantity cell as float: NaN for empty / ``NaN`` / ``N/A`` / ``-``; a decimal comma
    (``1,5`` or ``1,00E+05``) is read as a point. Text that is no number gives NaN too (the
    caller decides whether that is an error)."""
    if value is None or isinstance(value, bool):
        return math.nan
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    s = str(value).strip()
    if re.fullmatch(r"[-+]?\d+,\d+(?:[eE][-+]?\d+)?", s):
        s = s.replace(",", ".")
    try:
        return float(s)
    except ValueError:
        return math.nan


def iso_date(text: str, *, order: str | None = None) -> str | None:
    """``YYYY-MM-DD`` (plus ``THH:MM:SS`` when a time follows) from a date as instrument
    software writes it, or None when it cannot be read unambiguously.

    ``2021-03-16``, ``16.03.2021`` (dotted: day first) are read as written; for
    ``3/16/2021``-style dates a part above 12 decides the order, else ``order`` (``"mdy"`` or
    ``"dmy"``) must say it (None: ambiguous, returns None). A 12-hour ``AM``/``PM`` time is
    converted to 24 hours."""
    s = str(text).strip()
    m = re.match(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](.*))?$", s)
    if m:
        y, mo, d, rest = int(m[1]), int(m[2]), int(m[3]), m[4]
    else:
        m = re.match(r"(\d{1,2})([./-])(\d{1,2})\2(\d{2,4})(?:,?\s+(.*))?$", s)
        if not m:
            return None
        a, sep, b, y, rest = int(m[1]), m[2], int(m[3]), int(m[4]), m[5]
        if y < 100:
            y += 2000
        if sep == "." or a > 12 >= b:
            d, mo = a, b
        elif b > 12 >= a or order == "mdy":
            mo, d = a, b
        elif order == "dmy":
            d, mo = a, b
        else:
            return None
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return None
    out = f"{y:04d}-{mo:02d}-{d:02d}"
    if rest:
        t = re.match(r"(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([AaPp][Mm])?", rest.strip())
        if t:
            hh, mm, ss = int(t[1]), int(t[2]), int(t[3] or 0)
            if t[4]:
                hh = hh % 12 + (12 if t[4].lower() == "pm" else 0)
            if hh < 24 and mm < 60 and ss < 60:
                out += f"T{hh:02d}:{mm:02d}:{ss:02d}"
    return out
