"""RDML 1.0-1.4 (Real-time PCR Data Markup Language) -> the long Ct table.

RDML (Lefever et al. 2009, doi:10.1093/nar/gkp056; schema and documentation at
https://rdml.org) is XML in the namespace ``http://www.rdml.org``, usually zipped: an
``.rdml`` file is a zip archive holding ``rdml_data.xml``. An uncompressed XML file whose
root is ``<rdml>`` is read too. The parts read here:

* ``<sample id=...>`` with ``<type>`` (``unkn``, ``std``, ``ntc``, ``nac``, ``ntp``, ``nrt``,
  ``pos``, ``opt``; RDML 1.3+ may give one ``<type targetId=...>`` per target) and, for
  standards, ``<quantity><value>`` / ``<unit>``;
* ``<target id=...>`` with its ``<dyeId id=.../>`` (RDML 1.0: ``<dyeId>`` text);
* ``<experiment id=...><run id=...>``: ``<instrument>``, ``<dataCollectionSoftware>``
  (``<name>``, ``<version>``), ``<runDate>``, ``<pcrFormat>`` and the reactions
  ``<react id=...><sample id=.../><data><tar id=.../><cq>..</cq><excl>..</excl></data>``
  (one ``<data>`` per target of the well).

Rules:

* one row per ``<data>`` (well and target) of every run; the extra columns ``experiment``
  and ``run`` name the plate, ``dye`` the target's dye, ``quantity`` / ``quantity_unit``
  the known quantity of standards (``std`` samples; NaN for the others);
* ``<cq>`` of ``-1`` (what RDML-Tools writes for no Cq) or a ``<data>`` without ``<cq>`` is
  undetermined; a run in which no reaction has a ``<cq>`` holds curves only and is left out
  (a note says so), and a file with no ``<cq>`` at all is refused;
* a ``<data>`` with ``<excl>`` (its text is the reason) is excluded: ``omitted`` is True;
* wells: RDML 1.1+ numbers the reactions 1, 2, ... row by row; ``<pcrFormat>``
  (``<rows>``, ``<columns>``, ``<rowLabel>``/``<columnLabel>`` ``ABC`` or ``123``) turns the
  number into the plate's name (reaction 13 of an 8 x 12 ``ABC``/``123`` plate is ``B1``).
  RDML 1.0 names plate reactions ``A1`` .. and gives the format as text
  (``"96-well plate; A1-H12"``, ``"72-well rotor; 1-72"``); rdmlpython's migration from 1.0
  to 1.1 (``Rdml.migrate_version_1_0_to_1_1``) documents that mapping;
* safety: the XML may not declare a DOCTYPE or entities (entity expansion, the "billion
  laughs" attack, is refused before parsing), and at most 512 MiB of XML is read.
"""

from __future__ import annotations

import math
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd

from ...errors import InputError
from .._open import open_binary
from ._common import Probe, finish, normalise_task, parse_ct

__all__ = ["parse", "sniff"]

NS = "http://www.rdml.org"
_MAX_XML = 512 * 1024 * 1024
_HEAD = 4096
_ROOT_RE = re.compile(r"<(?:[\w.-]+:)?rdml[\s>/]")

#: Instrument names (lower case, as written in ``<instrument>``) -> vendor.
_VENDORS = (
    (
        ("quantstudio", "viia", "stepone", "7500", "7900", "abi ", "applied biosystems"),
        "Applied Biosystems",
    ),
    (
        ("cfx", "chromo4", "opticon", "icycler", "myiq", "minopticon", "bio-rad", "biorad"),
        "Bio-Rad",
    ),
    (("lightcycler", "roche"), "Roche"),
    (("rotor-gene", "rotorgene", "rotor gene", "qiagen"), "Qiagen"),
    (("mx3000", "mx3005", "aria", "agilent", "stratagene"), "Agilent"),
    (("eco ", "illumina"), "Illumina"),
    (("qtower", "analytik"), "Analytik Jena"),
    (("realplex", "eppendorf"), "Eppendorf"),
    (("smartcycler", "genexpert", "cepheid"), "Cepheid"),
    (("biomark", "fluidigm", "standard biotools"), "Fluidigm"),
)


def _local(tag: Any) -> str:
    """The element name without its namespace (``{http://www.rdml.org}cq`` -> ``cq``)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(el: ET.Element, name: str) -> Iterator[ET.Element]:
    return (c for c in el if _local(c.tag) == name)


def _child(el: ET.Element, name: str) -> ET.Element | None:
    return next(_children(el, name), None)


def _text(el: ET.Element | None, name: str | None = None) -> str | None:
    """The stripped text of ``el`` (or of its first child ``name``); None when absent or empty."""
    if el is not None and name is not None:
        el = _child(el, name)
    if el is None or el.text is None:
        return None
    s = el.text.strip()
    return s or None


def _ref(el: ET.Element | None) -> str | None:
    """An RDML id reference: the ``id`` attribute (1.1+), else the element's text (1.0)."""
    if el is None:
        return None
    v = el.get("id")
    if v is None:
        v = el.text
    v = (v or "").strip()
    return v or None


# ------------------------------------------------------------------------------ sniff


def _looks_like_rdml(head: bytes | str) -> bool:
    if isinstance(head, bytes):
        if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head[:64]:
            text = head.decode(
                "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-16-le", errors="ignore"
            )
        else:
            text = head.decode("utf-8", errors="ignore")
    else:
        text = head
    text = text.lstrip("\ufeff \t\r\n")
    return text.startswith("<") and _ROOT_RE.search(text[:_HEAD]) is not None


def _xml_members(z: zipfile.ZipFile) -> list[str]:
    names = [n for n in z.namelist() if not n.endswith("/")]
    first = [n for n in names if n.rsplit("/", 1)[-1].lower() == "rdml_data.xml"]
    others = [n for n in names if n.lower().endswith(".xml") and n not in first]
    return first + others


def sniff(probe: Probe) -> bool:
    """An RDML zip (an XML member whose root is ``<rdml>``) or a plain RDML XML file."""
    try:
        if probe.kind == "zip":
            with zipfile.ZipFile(probe.path) as z:
                for name in _xml_members(z)[:8]:
                    with z.open(name) as fh:
                        if _looks_like_rdml(fh.read(_HEAD)):
                            return True
            return False
        if probe.kind == "text":
            return _looks_like_rdml(probe.text[:_HEAD])
    except Exception:  # sniff never raises: a damaged zip is someone else's question
        return False
    return False


# ------------------------------------------------------------------------------ loading


def _read_xml(probe: Probe) -> tuple[bytes, str | None]:
    """(the XML bytes, the zip member they came from or None)."""
    where = probe.where
    if probe.kind != "zip":
        with open_binary(probe.path) as fh:
            raw = fh.read(_MAX_XML + 1)
        if len(raw) > _MAX_XML:
            raise InputError(
                f"{where}: the RDML XML is larger than 512 MiB; ifnscore does not read files that large."
            )
        return raw, None
    try:
        with zipfile.ZipFile(probe.path) as z:
            members = _xml_members(z)
            chosen = None
            for name in members:
                with z.open(name) as fh:
                    if _looks_like_rdml(fh.read(_HEAD)):
                        chosen = name
                        break
            if chosen is None:
                raise InputError(
                    f"{where}: the zip archive holds no RDML XML (no member such as rdml_data.xml whose "
                    f"root is <rdml>; members: {z.namelist()[:6]}); export the run as RDML again."
                )
            if z.getinfo(chosen).file_size > _MAX_XML:
                raise InputError(
                    f"{where}: {chosen} is larger than 512 MiB uncompressed; ifnscore does not read RDML that large."
                )
            with z.open(chosen) as fh:
                raw = fh.read(_MAX_XML + 1)
            if len(raw) > _MAX_XML:
                raise InputError(
                    f"{where}: {chosen} unpacks to more than 512 MiB; ifnscore does not read RDML that large."
                )
            return raw, chosen
    except InputError:
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        RuntimeError,
        NotImplementedError,
        OSError,
    ) as exc:
        raise InputError(
            f"{where}: a damaged or unreadable RDML zip archive ({exc}); export the run again."
        ) from None


def _parse_xml(raw: bytes, where: str) -> ET.Element:
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        probe_text = raw.decode("utf-16", errors="replace")
    elif b"\x00" in raw[:64]:
        probe_text = raw.decode(
            "utf-16-le" if raw[1:2] == b"\x00" else "utf-16-be", errors="replace"
        )
    else:
        probe_text = raw.decode("latin-1")  # byte-transparent: enough to find the markup
    if "<!DOCTYPE" in probe_text or "<!ENTITY" in probe_text:
        raise InputError(
            f"{where}: the RDML XML declares a DOCTYPE or entities, which RDML never needs and which "
            "can expand without bound; ifnscore refuses it: export the run again from the instrument "
            "or RDML-Tools."
        )
    try:
        return ET.fromstring(raw)
    except ET.ParseError as exc:
        line, col = getattr(exc, "position", (0, 0))
        raise InputError(
            f"{where}: the RDML XML is not well formed at line {line}, column {col} ({exc}); the file "
            "may be truncated or damaged: export the run again."
        ) from None


# ------------------------------------------------------------------------------ wells


@dataclass(frozen=True)
class _Format:
    rows: int | None  # None: unknown or free format (reaction ids are kept as written)
    columns: int
    row_label: str
    column_label: str


_FREE = _Format(None, 1, "123", "123")


def _letters(i: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA (plate rows beyond Z: 1536-well plates use AA..AF)."""
    s = ""
    while i > 0:
        i, r = divmod(i - 1, 26)
        s = chr(ord("A") + r) + s
    return s


def _label(i: int, style: str) -> str:
    return _letters(i) if style.upper() == "ABC" else str(i)


def _pcr_format(run: ET.Element, where: str, what: str) -> _Format:
    el = _child(run, "pcrFormat")
    if el is None:
        return _FREE
    if len(el) == 0:  # RDML 1.0: the format is a text such as "96-well plate; A1-H12"
        return _format_v10(el.text or "")
    try:
        rows = int(float(_text(el, "rows") or "-1"))
        cols = int(float(_text(el, "columns") or "1"))
    except ValueError:
        raise InputError(
            f"{where}: the <pcrFormat> of {what} has rows/columns that are not whole numbers; "
            "fix the run's PCR format in RDML-Tools and export again."
        ) from None
    if rows <= 0 or cols <= 0:
        return _FREE
    return _Format(rows, cols, _text(el, "rowLabel") or "ABC", _text(el, "columnLabel") or "123")


def _format_v10(text: str) -> _Format:
    t = text.strip().lower()
    if t == "single-well":
        return _Format(1, 1, "123", "123")
    m = re.match(r"(\d+)-well rotor", t)
    if m:
        return _Format(int(m.group(1)), 1, "123", "123")
    m = re.match(r"\d+-well plate;\s*a1-([a-z])(\d+)$", t)
    if m:
        return _Format(ord(m.group(1)) - ord("a") + 1, int(m.group(2)), "ABC", "123")
    return _FREE  # free format, or the 3072-well A1a1 layout: ids are kept as written


def _well(react_id: str, fmt: _Format, where: str, what: str) -> str:
    rid = react_id.strip()
    labels_known = fmt.row_label in ("ABC", "123") and fmt.column_label in ("ABC", "123")
    if not rid.isdigit() or fmt.rows is None or not labels_known:
        return rid.upper() if re.fullmatch(r"[A-Za-z]{1,2}\d{1,3}", rid) else rid
    n = int(rid)
    if not 1 <= n <= fmt.rows * fmt.columns:
        raise InputError(
            f"{where}: reaction {rid} of {what} lies outside its {fmt.rows} x {fmt.columns} <pcrFormat>; "
            "the file is inconsistent: fix the run's PCR format and export again."
        )
    r, c = divmod(n - 1, fmt.columns)
    row, col = _label(r + 1, fmt.row_label), _label(c + 1, fmt.column_label)
    if fmt.columns == 1 and fmt.row_label == "123":
        return row  # rotor positions 1, 2, ...
    if fmt.row_label == "123" and fmt.column_label == "123":
        return f"{row}-{col}"
    if fmt.row_label == "123":
        return f"{col}{row}"
    return f"{row}{col}"


# ------------------------------------------------------------------------------ samples, targets


@dataclass
class _Sample:
    types: dict[str | None, str] = field(default_factory=dict)  # targetId (None: any) -> RDML type
    quantity: float = math.nan
    unit: str = ""

    def task(self, target: str) -> str:
        t = self.types.get(target, self.types.get(None, "unkn"))
        return normalise_task(t)


def _number(s: str | None) -> float:
    if s is None:
        return math.nan
    try:
        return float(s.replace(",", ".")) if re.fullmatch(r"[-+]?\d+,\d+", s) else float(s)
    except ValueError:
        return math.nan


def _samples(root: ET.Element) -> dict[str, _Sample]:
    out: dict[str, _Sample] = {}
    for el in _children(root, "sample"):
        sid = (el.get("id") or "").strip()
        s = _Sample()
        for t in _children(el, "type"):
            if t.text and t.text.strip():
                s.types[(t.get("targetId") or "").strip() or None] = t.text.strip()
        q = _child(el, "quantity")
        if q is not None:
            s.quantity = _number(_text(q, "value") if len(q) else _text(q))
            s.unit = _text(q, "unit") or ""
        out[sid] = s
    return out


def _targets(root: ET.Element) -> dict[str, str]:
    """target id -> dye id ("" when none)."""
    return {
        (el.get("id") or "").strip(): _ref(_child(el, "dyeId")) or ""
        for el in _children(root, "target")
    }


def _vendor(instrument: str | None) -> str:
    if not instrument:
        return "unknown"
    low = f"{instrument.lower()} "
    for keys, vendor in _VENDORS:
        if any(k in low for k in keys):
            return vendor
    return instrument


def _one(values: list[str]) -> str | None:
    uniq = list(dict.fromkeys(v for v in values if v))
    return "; ".join(uniq) if uniq else None


# ------------------------------------------------------------------------------ parse


def parse(probe: Probe, *, sheet: Any = None, **_: Any) -> pd.DataFrame:
    """The long Ct table of every run in an RDML file (see the module docstring)."""
    where = probe.where
    raw, member = _read_xml(probe)
    root = _parse_xml(raw, where)
    if _local(root.tag) != "rdml":
        raise InputError(
            f"{where}: the XML root is <{_local(root.tag)}>, not <rdml>; this is not an RDML file."
        )
    version = (root.get("version") or "").strip() or None
    samples = _samples(root)
    targets = _targets(root)

    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "well",
            "sample",
            "target",
            "cq",
            "task",
            "omitted",
            "experiment",
            "run",
            "dye",
            "quantity",
            "quantity_unit",
        )
    }
    notes: list[str] = []
    instruments: list[str] = []
    softwares: list[str] = []
    soft_versions: list[str] = []
    dates: dict[str, str] = {}
    curves_only: list[str] = []
    no_cq = no_data = excluded = 0
    missing_samples: set[str] = set()
    missing_targets: set[str] = set()
    n_runs = 0

    for exp in _children(root, "experiment"):
        exp_id = (exp.get("id") or "").strip()
        for run in _children(exp, "run"):
            n_runs += 1
            run_id = (run.get("id") or "").strip()
            what = f"run {run_id!r} of experiment {exp_id!r}"
            reacts = list(_children(run, "react"))
            datas = [d for r in reacts for d in _children(r, "data")]
            if datas and not any(_child(d, "cq") is not None for d in datas):
                curves_only.append(f"{exp_id}/{run_id}")
                continue
            fmt = _pcr_format(run, where, what)
            if fmt.rows is None and any((r.get("id") or "").strip().isdigit() for r in reacts):
                notes.append(
                    f"{what} has no plate <pcrFormat> ifnscore can map (free format, 3072-well or none): its "
                    "wells are the reaction numbers."
                )
            instruments.append(_text(run, "instrument") or "")
            sw = _child(run, "dataCollectionSoftware")
            softwares.append(_text(sw, "name") or "")
            soft_versions.append(_text(sw, "version") or "")
            if _text(run, "runDate"):
                dates[f"{exp_id}/{run_id}"] = _text(run, "runDate") or ""
            seen: set[tuple[str, str]] = set()
            for react in reacts:
                rid = (react.get("id") or "").strip()
                well = _well(rid, fmt, where, what)
                sid = _ref(_child(react, "sample")) or ""
                if sid and sid not in samples:
                    missing_samples.add(sid)
                sample = samples.get(sid, _Sample())
                rdatas = list(_children(react, "data"))
                if not rdatas:
                    no_data += 1
                for d in rdatas:
                    tar = _child(d, "tar")
                    if tar is None:
                        tar = _child(d, "target")
                    tid = _ref(tar)
                    if tid is None:
                        raise InputError(
                            f"{where}: reaction {rid} (well {well}) of {what} has a <data> without a target "
                            "(<tar id=...>); the file is incomplete: export the run again."
                        )
                    if tid not in targets:
                        missing_targets.add(tid)
                    if (rid, tid) in seen:
                        raise InputError(
                            f"{where}: reaction {rid} (well {well}) of {what} holds target {tid!r} twice; the "
                            "file is inconsistent (RDML-Tools' repair keeps the first): fix it and export again."
                        )
                    seen.add((rid, tid))
                    cq_el = _child(d, "cq")
                    if cq_el is None:
                        no_cq += 1
                    excl = _child(d, "excl")
                    omitted = excl is not None and (excl.text or "").strip().lower() != "false"
                    excluded += omitted
                    task = sample.task(tid)
                    q = sample.quantity if task == "standard" else math.nan
                    # RDML 1.0 kept the standard's quantity per reaction
                    if task == "standard" and math.isnan(q):
                        q = _number(_text(_child(d, "quantity"), "value") or _text(d, "quantity"))
                    cols["well"].append(well)
                    cols["sample"].append(sid)
                    cols["target"].append(tid)
                    cols["cq"].append(_text(cq_el))
                    cols["task"].append(task)
                    cols["omitted"].append(omitted)
                    cols["experiment"].append(exp_id)
                    cols["run"].append(run_id)
                    cols["dye"].append(targets.get(tid, ""))
                    cols["quantity"].append(q)
                    cols["quantity_unit"].append(
                        sample.unit if task == "standard" and not math.isnan(q) else ""
                    )

    if n_runs == 0:
        raise InputError(
            f"{where}: the RDML file holds no <experiment>/<run>, so no reactions to read."
        )
    if not cols["well"]:
        if curves_only:
            raise InputError(
                f"{where}: the RDML file holds amplification/melting curves but no Cq values (no <cq> in any "
                "reaction); compute the Cq values (instrument software, RDML-Tools or LinRegPCR) and export "
                "the RDML again, or export the instrument's results table."
            )
        raise InputError(f"{where}: the RDML runs hold no reactions with data.")
    ct, und = parse_ct(cols["cq"], where=where, wells=cols["well"])
    rows = {
        "well": cols["well"],
        "sample": cols["sample"],
        "target": cols["target"],
        "ct": ct,
        "undetermined": und,
        "task": cols["task"],
        "omitted": cols["omitted"],
        "experiment": cols["experiment"],
        "run": cols["run"],
        "dye": cols["dye"],
        "quantity": np.asarray(cols["quantity"], dtype=np.float64),
        "quantity_unit": cols["quantity_unit"],
    }
    if curves_only:
        notes.append(
            f"{len(curves_only)} run(s) hold curves but no Cq values and were not read: {', '.join(curves_only[:5])}."
        )
    if no_cq:
        notes.append(
            f"{no_cq} reaction target(s) have no <cq> element and are read as undetermined."
        )
    if excluded:
        notes.append(
            f"{excluded} reaction target(s) are excluded (<excl>) in the file and marked omitted."
        )
    if no_data:
        notes.append(
            f"{no_data} reaction(s) hold no <data> (digital PCR partitions or empty wells) and were not read."
        )
    if missing_samples:
        notes.append(
            f"sample(s) {sorted(missing_samples)[:5]} are used by reactions but not defined in the file; their task is "
            "read as unknown."
        )
    if missing_targets:
        notes.append(
            f"target(s) {sorted(missing_targets)[:5]} are used by reactions but not defined in the file."
        )
    uniq_dates = set(dates.values())
    instrument = _one(instruments)
    extra: dict[str, Any] = {"rdml_version": version}
    if member is not None:
        extra["rdml_member"] = member
    if len(uniq_dates) > 1:
        extra["run_dates"] = dict(dates)
        notes.append(
            "the runs were made on different dates; run_date is left empty and run_dates lists them."
        )
    publisher = _text(_child(root, "id"), "publisher")
    if publisher:
        extra["publisher"] = publisher
    return finish(
        rows,
        where=where,
        fmt="rdml",
        vendor=_vendor(instrument),
        instrument=instrument,
        software=_one(softwares),
        version=_one(soft_versions),
        run_date=next(iter(uniq_dates)) if len(uniq_dates) == 1 else None,
        notes=notes,
        extra=extra,
    )
