r"""qPCR plates -> relative quantities (RQ) ready for scoring.

:func:`read_qpcr` reads each plate export with :func:`ifnscore._io._ct.read_ct` (one long
table per file: well, sample, target, Ct, undetermined, task, omitted) and hands the tables
to :func:`relative_quantities`, which does everything below, one plate at a time.

Wells
-----
Only wells whose task is ``unknown`` (a sample to quantify) are samples. Omitted wells, and
NTC, standard, negative / positive control, NRT and other non-sample wells are left out, as
are wells without a sample name or a target; every left-out well is reported:
``uns["ifnscore_read"]["excluded_wells"]`` (counts by reason) and
``uns["ifnscore_read"]["excluded"]`` (one line per well, for the command line to print).

Technical replicates
--------------------
The wells of one sample and target on one plate are its technical replicates. Undetermined
wells (no Ct) follow the instrument vendors' rule (Applied Biosystems 7900HT Fast Real-Time PCR
System, SDS 2.x user guide, "Automatic Outlier Removal": "Unless the majority of samples in a
replicate population are at maximum cycle, the algorithm ignores max cycle wells"):

* fewer than half, or exactly half, of the replicates undetermined: the undetermined wells are
  ignored and the Ct is the mean of the amplified ones (``Ct 28`` and one undetermined
  replicate give 28, not 34). The sample is flagged (``obs["qpcr_undetermined_ignored"]``,
  ``uns["ifnscore_read"]["undetermined_ignored"]``). *Ties* (exactly half) are treated this
  way on purpose: a tie is not a majority in the vendor's rule, and the amplified wells are
  measurements while a censored value would put an invented Ct (``max_ct``) into the mean,
  e.g. turn a measured 28 into a bound of 34, 64-fold lower. The conservative part is that the
  value is never silent: the flag says that half of its wells failed.
* more than half undetermined: the undetermined wells take ``max_ct`` and all replicates are
  averaged (the vendor's "at maximum cycle"); since a well that did not amplify has a true Ct
  above ``max_ct``, the result is a lower bound of the Ct, i.e. an upper bound of the RQ. It is
  marked ``layers["censored"]`` (True) and ``obs["qpcr_censored"]`` (the targets; the report
  prints such values with ``<``), and a warning is given.

A replicate SD (``ddof=1``, over the values averaged) above ``max_sd`` cycles is flagged
(``obs["qpcr_high_sd"]``), not dropped; the default 0.5 is a common laboratory acceptance
limit, not a value from Rice 2013: set your lab's.

A sample's reference gene must not be censored: that sample cannot be normalised (an error
naming the sample, its wells and the file). A Ct that is infinite, negative, or above ``max_ct``
(default 40, the usual cycle count; pass the run's) is an error naming the well and the file.

Quantities
----------
For sample :math:`s`, target :math:`t`, reference genes :math:`R` (default HPRT1 and 18S, as
Rice et al. 2013, doi:10.1016/S1474-4422(13)70258-8; matched case-insensitively, and ``18S``
also as ``18S rRNA``/``RNA18SN5``, ``HPRT1`` as ``HPRT``) and amplification factors
:math:`E` (2 = 100 % efficiency; Pfaffl 2001, doi:10.1093/nar/29.9.e45, generalised to several
reference genes by Hellemans et al. 2007, doi:10.1186/gb-2007-8-2-r19):

.. math::

    \log_2 NRQ_{st} = -Ct_{st} \log_2 E_t + \frac{1}{|R|}\sum_{r\in R} Ct_{sr} \log_2 E_r,
    \qquad
    RQ_{st} = \frac{NRQ_{st}}{NRQ_{\mathrm{cal},t}}
            = \frac{E_t^{\,Ct_{\mathrm{cal},t} - Ct_{st}}}
                   {\left(\prod_{r\in R} E_r^{\,Ct_{\mathrm{cal},r} - Ct_{sr}}\right)^{1/|R|}}

i.e. the target's quantity :math:`E_t^{-Ct}` over the geometric mean of the reference genes'
:math:`E_r^{-Ct}`, relative to the calibrator. With every :math:`E = 2` (the default,
``efficiency=None``) this is exactly :math:`2^{-\Delta\Delta Ct}` (Livak & Schmittgen 2001,
doi:10.1006/meth.2001.1262), with :math:`\Delta Ct_{st} = Ct_{st} - \tfrac{1}{|R|}\sum_r
Ct_{sr}`. ``efficiency`` may be a dict target -> E (every target and reference gene on the
plates; E in (1, 2.2]), or ``"standard_curve"``: per plate and target, from the plate's
standard wells and their known quantities, :math:`E = 10^{-1/\mathrm{slope}}` with the
least-squares slope of Ct on :math:`\log_{10}` quantity (at least 3 quantities).

The calibrator is a sample, a list of samples (the mean of their :math:`\log_2 NRQ`: the
geometric mean of their quantities), or none (:math:`RQ = NRQ`). With several plates one
calibrator serves all of them (every run of the named samples). Fold changes against a healthy
reference (``fc_*``) and the log-scale standardised scores (``z_*``) do not depend on it.

Plates
------
Several files are several plates, each normalised with its own reference genes and combined
into one table; ``obs["plate"]`` is the file's stem. A file holding several runs (the reader's
``plate`` / ``experiment`` / ``run`` columns vary, as in RDML) is several plates,
``stem:run``. A sample on several plates keeps one row
per plate, named ``sample@plate`` (``combine_plates="keep"``, default, with a note), or one row
averaged over its plates in :math:`\log_2 RQ` (``combine_plates="mean"``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._warn import warn
from ..errors import IfnscoreWarning, InputError
from ._open import strip_compression
from ._table import make_adata

__all__ = [
    "DEFAULT_REFERENCE_GENES",
    "EFFICIENCY_RANGE",
    "looks_like_qpcr",
    "read_qpcr",
    "relative_quantities",
]

#: Rice et al. 2013 (doi:10.1016/S1474-4422(13)70258-8).
DEFAULT_REFERENCE_GENES = ("HPRT1", "18S")
#: Other names of the default reference genes' assays (lower case).
_ALIASES = {
    "18s": (
        "18s rrna",
        "18s_rrna",
        "18s-rrna",
        "18s ribosomal rna",
        "rna18s",
        "rna18sn5",
        "rrn18s",
    ),
    "hprt1": ("hprt",),
}
#: Accepted amplification factors: above 1 (no amplification) and at most 2.2 (120 %); the
#: theoretical maximum is 2, standard curves of a good assay give 1.9-2.1.
EFFICIENCY_RANGE = (1.0, 2.2)
COMBINE = ("keep", "mean")


def _norm(label: object) -> str:
    return " ".join(str(label).strip().lower().split())


def looks_like_qpcr(path: str | os.PathLike, first_line: str = "") -> bool:
    """Whether a file is a qPCR export a vendor reader of :mod:`._ct` recognises, or a generic
    long Ct table (its first line names sample, target and Ct). Never raises."""
    try:
        import importlib

        from ._ct import READERS
        from ._ct._generic import looks_like_long_ct

        if first_line and looks_like_long_ct(first_line):
            return True
        from ._ct._common import probe_file

        probe = probe_file(path)
        if not first_line and probe.kind == "text" and probe.lines:
            first_line = probe.lines[0]
            if looks_like_long_ct(first_line):
                return True
        for name, _ in READERS:
            if name == "_generic":
                continue
            mod: Any = importlib.import_module(f"._ct.{name}", __package__)
            if mod.sniff(probe):
                return True
    except Exception:  # detection only: a file that cannot be probed is not a qPCR export here
        return False
    return False


# --------------------------------------------------------------------------------------------
# options


def _check_options(
    reference_genes: Sequence[str] | str,
    max_ct: float,
    max_sd: float,
    combine_plates: str,
) -> list[str]:
    refs = [reference_genes] if isinstance(reference_genes, str) else list(reference_genes)
    if not refs or any(not isinstance(r, str) or not r.strip() for r in refs):
        raise InputError(
            f"reference_genes={refs!r}: give at least one reference gene name (default HPRT1, 18S)."
        )
    if len({_norm(r) for r in refs}) < len(refs):
        raise InputError(f"reference_genes={refs!r} names a gene twice; name each once.")
    for name, v, low in (("max_ct", max_ct, 0.0), ("max_sd", max_sd, 0.0)):
        if (
            isinstance(v, bool)
            or not isinstance(v, Real)
            or not math.isfinite(v)
            or v < low
            or (name == "max_ct" and v == 0)
        ):
            raise InputError(f"{name}={v!r} is not valid; give a positive number of cycles.")
    if combine_plates not in COMBINE:
        raise InputError(f"combine_plates={combine_plates!r} is not valid; use 'keep' or 'mean'.")
    return [r.strip() for r in refs]


def _check_factor(target: str, e: Any) -> float:
    """An amplification factor E in (1, 2.2], or an error saying how to write it."""
    lo, hi = EFFICIENCY_RANGE
    if isinstance(e, bool) or not isinstance(e, Real) or not math.isfinite(float(e)):
        raise InputError(
            f"efficiency[{target!r}]={e!r} is not a number; give the amplification factor E "
            "(2.0 = 100 % efficiency)."
        )
    x = float(e)
    if lo < x <= hi:
        return x
    if 50 <= x <= 220:
        hint = f"it looks like a percentage: give E = 1 + {x:g}/100 = {1 + x / 100:g}"
    elif 0 < x <= 1:
        hint = f"it looks like a fraction: give E = 1 + {x:g} = {1 + x:g}"
    else:
        hint = "check the assay's standard curve"
    raise InputError(
        f"efficiency[{target!r}]={x:g} is not an amplification factor in ({lo:g}, {hi:g}] "
        f"(2.0 = 100 % efficiency); {hint}."
    )


def _efficiency_spec(efficiency: Any) -> str | dict[str, tuple[str, float]] | None:
    """None, 'standard_curve', or {normalised target: (as given, E)}."""
    if efficiency is None:
        return None
    if isinstance(efficiency, str):
        if efficiency == "standard_curve":
            return efficiency
        raise InputError(
            f"efficiency={efficiency!r} is not valid; use None (E = 2 for every target), "
            "'standard_curve' (from the plate's standards) or a dict target -> E."
        )
    if not isinstance(efficiency, Mapping) or not efficiency:
        raise InputError(
            f"efficiency={efficiency!r} is not valid; use None, 'standard_curve' or a dict target -> E "
            "(e.g. {'IFI27': 1.95, 'HPRT1': 2.0})."
        )
    out: dict[str, tuple[str, float]] = {}
    for k, v in efficiency.items():
        key = _norm(k)
        if key in out:
            raise InputError(f"efficiency= names target {k!r} twice (targets match in any case).")
        out[key] = (str(k), _check_factor(str(k), v))
    return out


# --------------------------------------------------------------------------------------------
# one plate


@dataclass
class _Plate:
    name: str
    where: str
    samples: list[str]
    refs: list[str]
    targets: list[str]  # non-reference targets, canonical spelling
    ct: pd.DataFrame  # samples x (refs + targets): replicate mean Ct
    sd: pd.DataFrame
    censored: pd.DataFrame  # bool
    ignored: pd.DataFrame  # int: undetermined replicates ignored
    log2e: dict[str, float]  # target -> log2 E
    efficiency: dict[str, Any]
    excluded: list[str] = field(default_factory=list)
    excluded_counts: dict[str, int] = field(default_factory=dict)
    ignored_lines: list[str] = field(default_factory=list)
    censored_lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


#: Columns that tell the runs (plates) of one file apart (RDML: experiment and run).
_RUN_COLUMNS = ("plate", "experiment", "run")


def _runs(table: pd.DataFrame) -> list[tuple[str | None, pd.DataFrame]]:
    """The table split by run: ``[(None, table)]`` for one run, else ``[(label, part), ...]``
    in file order, the label being the values of the run columns that vary (``exp/run``)."""
    cols = [c for c in _RUN_COLUMNS if c in table.columns]
    if not cols or table.empty:
        return [(None, table)]
    key = table[cols].astype(str)
    varying = [c for c in cols if (key[c] != key[c].iloc[0]).any()]
    if not varying:
        return [(None, table)]
    labels = key[varying].agg("/".join, axis=1)
    out: list[tuple[str | None, pd.DataFrame]] = []
    for lab in pd.unique(labels):
        part = table[labels == lab].copy()
        part.attrs = dict(table.attrs)
        out.append((str(lab), part))
    return out


def _plate_name(table: pd.DataFrame, where: str | None, i: int) -> tuple[str, str]:
    """(plate name = the file's stem, where for messages)."""
    meta = table.attrs.get("ifnscore_ct", {}) if isinstance(table.attrs, dict) else {}
    src = where or meta.get("file")
    if not src:
        return f"plate{i + 1}", f"Ct table {i + 1}"
    name, _ = strip_compression(Path(str(src)))
    return Path(name).stem or name, str(src)


def _match_refs(targets: Sequence[str], wanted: Sequence[str], where: str) -> list[str]:
    """The plate's spelling of each reference gene, or an error listing the targets."""
    by_norm: dict[str, list[str]] = {}
    for t in targets:
        by_norm.setdefault(_norm(t), []).append(t)
    out = []
    missing = []
    for r in wanted:
        key = _norm(r)
        hits = by_norm.get(key) or [t for a in _ALIASES.get(key, ()) for t in by_norm.get(a, [])]
        if not hits:
            missing.append(r)
        elif len(hits) > 1:
            raise InputError(
                f"{where}: reference gene {r!r} matches several targets {hits}; pass "
                "reference_genes= with the exact target names (CLI --reference-genes)."
            )
        else:
            out.append(hits[0])
    if missing:
        shown = list(targets)[:20]
        more = f" and {len(targets) - 20} more" if len(targets) > 20 else ""
        raise InputError(
            f"{where}: reference gene(s) {missing} not on the plate (targets found: {shown}{more}); "
            "pass reference_genes= with this plate's reference genes (CLI --reference-genes)."
        )
    if len(set(out)) < len(out):
        raise InputError(f"{where}: reference_genes={list(wanted)} name the same target twice.")
    return out


def _canonical_targets(rows: pd.DataFrame, plate: str, notes: list[str]) -> pd.Series:
    """Targets spelled in several cases on one plate are one target (first spelling)."""
    first: dict[str, str] = {}
    for t in rows["target"]:
        first.setdefault(_norm(t), t)
    canon = rows["target"].map(lambda t: first[_norm(t)])
    variants = sorted({t for t in rows["target"] if t != first[_norm(t)]})
    if variants:
        notes.append(
            f"plate {plate}: target(s) {variants} read as {sorted({first[_norm(t)] for t in variants})} "
            "(the same name in another case or spacing)."
        )
    return canon


def _loc(row: Any) -> str:
    """'well 'A1'', else the file's line (generic tables without wells), else the sample's row."""
    if row["well"]:
        return f"well {row['well']!r}"
    line = row.get("line") if hasattr(row, "get") else None
    if line is not None and not (isinstance(line, float) and math.isnan(line)) and str(line):
        return f"line {line}"
    return "a row"


def _locs(g: pd.DataFrame) -> str:
    """'wells A2, A3' (or 'lines 3, 5' for tables without wells) of some rows, for a message."""
    locs = [_loc(r) for _, r in g.iterrows()]
    if all(x.startswith("well ") for x in locs):
        names = [x.removeprefix("well ").strip("'") for x in locs]
        return f"well{'s' if len(names) > 1 else ''} {', '.join(names)}"
    if all(x.startswith("line ") for x in locs):
        names = [x.removeprefix("line ") for x in locs]
        return f"line{'s' if len(names) > 1 else ''} {', '.join(names)}"
    return ", ".join(locs)


def _where_well(where: str, row: Any) -> str:
    well = _loc(row)
    return f"{where}: {well} (sample {row['sample']!r}, target {row['target']!r})"


def _check_ct_values(rows: pd.DataFrame, where: str, max_ct: float, *, samples: bool) -> None:
    ct = rows["ct"].to_numpy(dtype=np.float64)
    bad = np.isinf(ct) | (ct < 0)
    if bad.any():
        r = rows.iloc[int(np.flatnonzero(bad)[0])]
        raise InputError(
            f"{_where_well(where, r)} has Ct {float(r['ct'])!r}, which is not a cycle number; "
            "check the export (a Ct is a finite number >= 0, or undetermined)."
        )
    if samples:
        high = ct > max_ct
        if high.any():
            r = rows.iloc[int(np.flatnonzero(high)[0])]
            raise InputError(
                f"{_where_well(where, r)} has Ct {r['ct']:g}, above max_ct={max_ct:g}; pass the "
                "run's number of cycles as max_ct= (CLI --max-ct)."
            )


def _exclude(table: pd.DataFrame, plate: str) -> tuple[pd.DataFrame, list[str], dict[str, int]]:
    """The sample wells, the lines of the excluded ones and their counts by reason."""
    reason = pd.Series("", index=table.index, dtype=object)
    reason[table["omitted"].astype(bool)] = "omitted"
    other = (reason == "") & (table["task"] != "unknown")
    reason[other] = table.loc[other, "task"]
    reason[(reason == "") & (table["sample"] == "")] = "no sample name"
    reason[(reason == "") & (table["target"] == "")] = "no target"
    out = reason != ""
    lines = [
        f"{plate} {_loc(r).removeprefix('well ').strip(chr(39))}: sample {r['sample']!r}, "
        f"target {r['target']!r}: {why}"
        for (_, r), why in zip(table[out].iterrows(), reason[out], strict=True)
    ]
    counts = {str(k): int(v) for k, v in reason[out].value_counts(sort=False).items()}
    return table[~out].copy(), lines, counts


def _replicates(
    rows: pd.DataFrame, max_ct: float, plate: str
) -> tuple[dict[tuple[str, str], tuple[float, float, bool, int]], list[str], list[str]]:
    """(sample, target) -> (mean Ct, SD, censored, undetermined ignored), with report lines."""
    out: dict[tuple[str, str], tuple[float, float, bool, int]] = {}
    ignored_lines: list[str] = []
    censored_lines: list[str] = []
    for (s, t), g in rows.groupby(["sample", "target"], sort=False):
        ct = g["ct"].to_numpy(dtype=np.float64)
        und = g["undetermined"].to_numpy(dtype=bool)
        n, u = len(ct), int(und.sum())
        wells = _locs(g[g["undetermined"]])
        if 2 * u > n:  # majority at max cycle: the vendor keeps them, at max_ct -> a bound
            used = np.where(und, max_ct, ct)
            cens, ign = True, 0
            censored_lines.append(
                f"{plate}: sample {s!r}, target {t!r}: {u} of {n} replicates undetermined "
                f"({wells}); Ct >= {used.mean():g} (censored at max_ct)"
            )
        else:
            used = ct[~und]
            cens, ign = False, u
            if u:
                ignored_lines.append(
                    f"{plate}: sample {s!r}, target {t!r}: {u} of {n} replicates undetermined "
                    f"({wells}), ignored; Ct = mean of the {n - u} amplified"
                )
        sd = float(np.std(used, ddof=1)) if len(used) > 1 else math.nan
        out[(str(s), str(t))] = (float(used.mean()), sd, cens, ign)
    return out, ignored_lines, censored_lines


def _standard_curve(
    table: pd.DataFrame, targets: Sequence[str], canon: pd.Series, where: str, plate: str
) -> dict[str, Any]:
    """Per target: E = 10^(-1/slope) of Ct on log10 quantity over the plate's standard wells."""
    if "quantity" not in table.columns:
        raise InputError(
            f"{where}: efficiency='standard_curve' needs the standards' known quantities, and this "
            "export has no quantity column; export the results with the standards' quantities, or "
            "pass efficiency= as a dict target -> E (CLI --efficiency)."
        )
    std = table[(table["task"] == "standard") & ~table["omitted"].astype(bool)].copy()
    std["target"] = canon[std.index]
    std["q"] = pd.to_numeric(std["quantity"], errors="coerce")
    with_std = sorted(set(std["target"]))
    out: dict[str, Any] = {}
    for t in targets:
        g = std[
            (std["target"] == t) & ~std["undetermined"] & (std["q"] > 0) & np.isfinite(std["q"])
        ]
        levels = g["q"].nunique()
        if levels < 3:
            have = (
                "no standard wells"
                if not (std["target"] == t).any()
                else (f"standards at {levels} quantit{'y' if levels == 1 else 'ies'} with a Ct")
            )
            raise InputError(
                f"{where}: efficiency='standard_curve' needs standards of target {t!r} at 3 or more "
                f"quantities on plate {plate!r}, and it has {have} (targets with standards: "
                f"{with_std}); pass efficiency= as a dict target -> E for it."
            )
        x = np.log10(g["q"].to_numpy(dtype=np.float64))
        y = g["ct"].to_numpy(dtype=np.float64)
        slope, intercept = np.polyfit(x, y, 1)
        pred = intercept + slope * x
        ss = float(((y - y.mean()) ** 2).sum())
        r2 = 1.0 - float(((y - pred) ** 2).sum()) / ss if ss > 0 else math.nan
        e = 10.0 ** (-1.0 / slope) if slope < 0 else math.inf
        lo, hi = EFFICIENCY_RANGE
        if not lo < e <= hi:
            raise InputError(
                f"{where}: the standard curve of target {t!r} on plate {plate!r} has slope "
                f"{slope:.4g} cycles per log10 quantity (E = {e:.4g}), outside ({lo:g}, {hi:g}] "
                "(E = 2 is a slope of -3.32); check the standards' quantities and wells, or pass "
                "efficiency= as a dict target -> E."
            )
        out[t] = {
            "E": float(e),
            "slope": float(slope),
            "intercept": float(intercept),
            "r2": r2,
            "n_wells": len(g),
            "n_quantities": int(levels),
        }
    return out


def _plate(
    table: pd.DataFrame,
    *,
    name: str,
    where: str,
    refs_wanted: Sequence[str],
    max_ct: float,
    eff: str | dict[str, tuple[str, float]] | None,
) -> _Plate:
    missing = [
        c
        for c in ("well", "sample", "target", "ct", "undetermined", "task", "omitted")
        if c not in table
    ]
    if missing:
        raise InputError(
            f"{where}: the Ct table lacks column(s) {missing}; build it with read_ct() or _ct._common.finish()."
        )
    table = table.reset_index(drop=True)
    notes = list(table.attrs.get("ifnscore_ct", {}).get("notes", []) or [])
    meta = {
        k: v
        for k, v in (table.attrs.get("ifnscore_ct", {}) or {}).items()
        if k != "notes" and isinstance(v, str | int | float)
    }
    kept = ~table["omitted"].astype(bool)
    _check_ct_values(table[kept], where, max_ct, samples=False)
    wells = table[table["well"] != ""]
    dup = wells.duplicated(["well", "target"], keep=False)
    if dup.any():
        r = wells[dup].iloc[0]
        raise InputError(
            f"{where}: well {r['well']!r} has target {r['target']!r} on several rows; a well holds "
            "each target once (is the file two exports pasted together?)."
        )
    rows, excluded, counts = _exclude(table, name)
    if rows.empty and (table["target"] == "").all():
        raise InputError(
            f"{where}: the export names no target (gene) for any well, so relative quantities "
            "cannot be computed; set the targets in the run's plate setup and export again, or "
            "write a table with sample, target and Ct columns."
        )
    if rows.empty:
        raise InputError(
            f"{where}: no sample wells on the plate (left out: {counts}); the wells to quantify "
            "need the task Unknown, a sample name and a target name: set them in the plate setup "
            "and export again."
        )
    canon = _canonical_targets(table, name, notes)
    rows["target"] = canon[rows.index]
    _check_ct_values(rows, where, max_ct, samples=True)
    targets_all = list(pd.unique(rows["target"]))
    refs = _match_refs(targets_all, refs_wanted, where)
    genes = [t for t in targets_all if t not in refs]
    if not genes:
        raise InputError(
            f"{where}: the plate holds only the reference genes {refs}; there is no target to quantify."
        )
    reps, ignored_lines, censored_lines = _replicates(rows, max_ct, name)
    samples = [str(s) for s in pd.unique(rows["sample"])]
    cols = refs + genes

    def grid(k: int, fill: Any, dtype: Any) -> pd.DataFrame:
        return pd.DataFrame(
            [[reps[(s, t)][k] if (s, t) in reps else fill for t in cols] for s in samples],
            index=pd.Index(samples),
            columns=pd.Index(cols),
        ).astype(dtype)

    ct, sd = grid(0, math.nan, np.float64), grid(1, math.nan, np.float64)
    censored, ignored = grid(2, False, bool), grid(3, 0, np.int64)
    for s in samples:
        lacking = [r for r in refs if math.isnan(ct.loc[s, r])]
        if lacking:
            raise InputError(
                f"{where}: sample {s!r} has no well for reference gene(s) {lacking}; every sample "
                "needs all reference genes to be normalised."
            )
        cens = [r for r in refs if censored.loc[s, r]]
        if cens:
            r = cens[0]
            w = _locs(rows[(rows["sample"] == s) & (rows["target"] == r) & rows["undetermined"]])
            raise InputError(
                f"{where}: reference gene {r!r} is undetermined in most replicates of sample {s!r} "
                f"({w}), so that sample cannot be "
                "normalised; repeat it, or leave it out of the plate's export."
            )
    efficiency: dict[str, Any]
    if eff is None:
        log2e = dict.fromkeys(cols, 1.0)
        efficiency = {}
    elif eff == "standard_curve":
        curves = _standard_curve(table, cols, canon, where, name)
        log2e = {t: math.log2(curves[t]["E"]) for t in cols}
        efficiency = {"source": "standard_curve", **curves}
    else:
        assert isinstance(eff, dict)
        lacking = [t for t in cols if _norm(t) not in eff]
        if lacking:
            raise InputError(
                f"{where}: efficiency= gives no amplification factor for target(s) {lacking}; give E "
                "for every target and reference gene on the plate (2.0 = 100 %)."
            )
        log2e = {t: math.log2(eff[_norm(t)][1]) for t in cols}
        efficiency = {"source": "given", **{t: {"E": eff[_norm(t)][1]} for t in cols}}
        unused = sorted(v[0] for k, v in eff.items() if k not in {_norm(t) for t in cols})
        if unused:
            notes.append(f"plate {name}: efficiency= names target(s) {unused} that are not on it.")
    return _Plate(
        name=name,
        where=where,
        samples=samples,
        refs=refs,
        targets=genes,
        ct=ct,
        sd=sd,
        censored=censored,
        ignored=ignored,
        log2e=log2e,
        efficiency=efficiency,
        excluded=excluded,
        excluded_counts=counts,
        ignored_lines=ignored_lines,
        censored_lines=censored_lines,
        notes=notes,
        meta=meta,
    )


# --------------------------------------------------------------------------------------------
# all plates


def read_qpcr(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    sheet: str | int | None = None,
    rows: str = "auto",
    **options: Any,
) -> Any:
    """Read qPCR plate export(s) (:func:`read_ct`) and return relative quantities.

    ``options`` are those of :func:`relative_quantities`; several files are several plates.
    """
    from ._ct import read_ct

    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    files = [Path(p) for p in paths]
    if not files:
        raise InputError("no qPCR file given; give one plate export or several.")
    seen: dict[Path, Path] = {}
    for f in files:
        key = f.resolve()
        if key in seen:
            raise InputError(f"{str(f)!r} is given twice; give each plate once.")
        seen[key] = f
    tables = [read_ct(f, sheet=sheet, rows=rows) for f in files]
    adata = relative_quantities(tables, where=[str(f) for f in files], **options)
    skipped = getattr(paths, "skipped", [])  # a folder's entries left out (_pipelines.FileList)
    if skipped:
        adata.uns["ifnscore_read"]["skipped"] = [
            {"file": str(f), "reason": str(r)} for f, r in skipped
        ]
    return adata


def relative_quantities(
    long_table: pd.DataFrame | Sequence[pd.DataFrame],
    *,
    reference_genes: Sequence[str] | str = DEFAULT_REFERENCE_GENES,
    calibrator: str | Sequence[str] | None = None,
    max_ct: float = 40.0,
    max_sd: float = 0.5,
    efficiency: Mapping[str, float] | str | None = None,
    combine_plates: str = "keep",
    where: str | Sequence[str] | None = None,
) -> Any:
    r"""Relative quantities from the long Ct table(s) of one or several plates.

    See the module docstring for the well, replicate and plate rules. The formula, for
    sample :math:`s`, target :math:`t`, reference genes :math:`R` and amplification factors
    :math:`E` (Pfaffl 2001, doi:10.1093/nar/29.9.e45; Hellemans et al. 2007,
    doi:10.1186/gb-2007-8-2-r19):

    .. math::

        \log_2 RQ_{st} = \Bigl(-Ct_{st}\log_2 E_t + \tfrac{1}{|R|}\textstyle\sum_{r\in R}
        Ct_{sr}\log_2 E_r\Bigr) - \bigl(\text{the same for the calibrator}\bigr)

    which is :math:`-\Delta\Delta Ct` when every :math:`E = 2` (Livak & Schmittgen 2001).

    Parameters
    ----------
    long_table
        One table of :func:`ifnscore._io._ct.read_ct` (or :func:`._ct._common.finish`), or a
        list of them, one per plate.
    reference_genes
        The reference (housekeeping) genes; default HPRT1 and 18S (Rice et al. 2013).
    calibrator
        A sample, a list of samples, or None (``RQ`` = the normalised quantity itself).
    max_ct
        The run's last cycle (default 40): a Ct above it is an error; undetermined replicates
        of a majority-undetermined sample take it.
    max_sd
        Flag a sample and target whose replicate Ct SD exceeds it (default 0.5 cycles).
    efficiency
        None (E = 2), a dict target -> amplification factor E in (1, 2.2] (2.0 = 100 %; percent
        or fractions are refused with the conversion), or ``"standard_curve"``.
    combine_plates
        ``"keep"`` (default): a sample on several plates keeps a row per plate,
        ``sample@plate``; ``"mean"``: one row, the mean of its plates' :math:`\log_2 RQ`.
    where
        The file(s) the tables came from, for messages and ``obs["plate"]`` (default: the
        tables' ``attrs["ifnscore_ct"]["file"]``).

    Returns
    -------
    anndata.AnnData
        Samples x targets (reference genes left out). ``X`` = RQ; ``layers``: ``ct`` (replicate
        mean Ct), ``delta_ct`` (:math:`Ct - \overline{Ct}_R`, without efficiencies),
        ``log2_rq``, ``censored`` (bool: the value is a bound, RQ at most this). ``obs``:
        ``sample``, ``plate``, ``reference_ct``, ``qpcr_high_sd``, ``qpcr_censored``,
        ``qpcr_undetermined_ignored`` (comma-separated targets) and ``qpcr_flagged``.
        ``uns["ifnscore_read"]``: ``scale`` ``"rq"``, the options, ``plates`` (file and
        instrument of each), ``efficiency``, ``excluded_wells`` / ``excluded``,
        ``undetermined_ignored``, ``censored`` and ``notes``.

    Raises
    ------
    ifnscore.errors.InputError
        Bad options; a reference gene not on a plate (the message lists the targets); a sample
        without, or with an undetermined, reference gene; a Ct that is infinite, negative or
        above ``max_ct``; a calibrator that is not a sample or has a censored value.
    """
    refs_wanted = _check_options(reference_genes, max_ct, max_sd, combine_plates)
    eff = _efficiency_spec(efficiency)
    tables = [long_table] if isinstance(long_table, pd.DataFrame) else list(long_table)
    if not tables or not all(isinstance(t, pd.DataFrame) for t in tables):
        raise InputError("long_table= must be a Ct table (DataFrame) or a non-empty list of them.")
    wheres: list[str | None]
    if where is None:
        wheres = [None] * len(tables)
    elif isinstance(where, str):
        wheres = [where]
    else:
        wheres = list(where)
    if len(wheres) != len(tables):
        raise InputError(f"where= names {len(wheres)} files for {len(tables)} Ct tables.")
    names: list[str] = []
    plates: list[_Plate] = []
    notes: list[str] = []
    for i, (t, w) in enumerate(zip(tables, wheres, strict=True)):
        stem, src = _plate_name(t, w, i)
        runs = _runs(t)
        if len(runs) > 1:
            notes.append(
                f"{src} holds {len(runs)} runs ({', '.join(str(r) for r, _ in runs)}); each is a plate, "
                f"named {stem}:run."
            )
        for run, part in runs:
            name = stem if run is None else f"{stem}:{run}"
            if name in names:
                k = 2
                while f"{name}#{k}" in names:
                    k += 1
                notes.append(f"two plates are named {name!r}; the one from {src} is {name}#{k}.")
                name = f"{name}#{k}"
            names.append(name)
            plates.append(
                _plate(part, name=name, where=src, refs_wanted=refs_wanted, max_ct=max_ct, eff=eff)
            )
    return _combine(
        plates,
        calibrator=calibrator,
        max_ct=max_ct,
        max_sd=max_sd,
        combine_plates=combine_plates,
        refs_wanted=refs_wanted,
        efficiency=efficiency,
        notes=notes,
    )


def _combine(
    plates: list[_Plate],
    *,
    calibrator: str | Sequence[str] | None,
    max_ct: float,
    max_sd: float,
    combine_plates: str,
    refs_wanted: list[str],
    efficiency: Any,
    notes: list[str],
) -> Any:
    genes: list[str] = []
    seen: dict[str, str] = {}
    for p in plates:
        for t in p.targets:
            if _norm(t) not in seen:
                seen[_norm(t)] = t
                genes.append(t)
            elif seen[_norm(t)] != t:
                notes.append(f"plate {p.name}: target {t!r} read as {seen[_norm(t)]!r}.")
    where_of = {p.name: p.where for p in plates}
    runs: list[dict[str, Any]] = []
    for p in plates:
        ref_ct = p.ct[p.refs].mean(axis=1)
        ref_log2 = sum(p.ct[r] * p.log2e[r] for r in p.refs) / len(p.refs)
        by_norm = {_norm(t): t for t in p.targets}
        for s in p.samples:
            row: dict[str, Any] = {"sample": s, "plate": p.name, "reference_ct": float(ref_ct[s])}
            for k in ("ct", "delta_ct", "log2_nrq", "censored", "ignored", "high_sd"):
                row[k] = {}
            for g in genes:
                hit = by_norm.get(_norm(g))
                if hit is None or math.isnan(p.ct.loc[s, hit]):
                    row["ct"][g] = row["delta_ct"][g] = row["log2_nrq"][g] = math.nan
                    row["censored"][g] = row["ignored"][g] = row["high_sd"][g] = False
                    continue
                c = float(p.ct.loc[s, hit])
                row["ct"][g] = c
                row["delta_ct"][g] = c - float(ref_ct[s])
                row["log2_nrq"][g] = -c * p.log2e[hit] + float(ref_log2[s])
                row["censored"][g] = bool(p.censored.loc[s, hit])
                row["ignored"][g] = bool(p.ignored.loc[s, hit])
                row["high_sd"][g] = bool(p.sd.loc[s, hit] > max_sd)
            row["ignored_refs"] = [r for r in p.refs if p.ignored.loc[s, r]]
            row["high_sd_refs"] = [r for r in p.refs if p.sd.loc[s, r] > max_sd]
            runs.append(row)
    on = pd.Series([r["sample"] for r in runs]).value_counts()
    multi = sorted(on[on > 1].index)
    if combine_plates == "keep":
        for r in runs:
            r["name"] = f"{r['sample']}@{r['plate']}" if r["sample"] in multi else r["sample"]
        if multi:
            notes.append(
                f"sample(s) {multi[:10]}{' ...' if len(multi) > 10 else ''} are on several plates; "
                "each run is a row named sample@plate (pass combine_plates='mean' to average them)."
            )
    else:
        for r in runs:
            r["name"] = r["sample"]
    used = pd.Series([r["name"] for r in runs])
    if combine_plates == "keep" and used.duplicated().any():  # a sample already named 'x@plate'
        raise InputError(
            f"sample name {used[used.duplicated()].iloc[0]!r} is used twice once runs on several "
            "plates are named sample@plate; rename that sample in the plate setup."
        )
    nrq = pd.DataFrame([r["log2_nrq"] for r in runs], columns=genes, dtype=np.float64)
    cens = pd.DataFrame([r["censored"] for r in runs], columns=genes).astype(bool)
    cal, cal_text = _calibrator(nrq, cens, runs, calibrator, where_of)
    log2_rq = nrq - cal
    frames = {
        "ct": pd.DataFrame([r["ct"] for r in runs], columns=genes, dtype=np.float64),
        "delta_ct": pd.DataFrame([r["delta_ct"] for r in runs], columns=genes, dtype=np.float64),
        "log2_rq": log2_rq,
    }
    flags = {
        "censored": cens,
        "ignored": pd.DataFrame([r["ignored"] for r in runs], columns=genes).astype(bool),
        "high_sd": pd.DataFrame([r["high_sd"] for r in runs], columns=genes).astype(bool),
    }
    extra_ignored = [r["ignored_refs"] for r in runs]
    extra_sd = [r["high_sd_refs"] for r in runs]
    obs = pd.DataFrame(
        {
            "sample": [r["sample"] for r in runs],
            "plate": [r["plate"] for r in runs],
            "reference_ct": [r["reference_ct"] for r in runs],
        }
    )
    index = [r["name"] for r in runs]
    if combine_plates == "mean":
        key = pd.Series(index)
        order = list(pd.unique(key))
        frames = {
            k: v.groupby(key.to_numpy(), sort=False).mean().reindex(order)
            for k, v in frames.items()
        }
        flags = {
            k: v.groupby(key.to_numpy(), sort=False).any().reindex(order) for k, v in flags.items()
        }
        grp = obs.groupby(key.to_numpy(), sort=False)
        obs = pd.DataFrame(
            {
                "sample": order,
                "plate": grp["plate"].agg("+".join).reindex(order).to_numpy(),
                "n_plates": grp.size().reindex(order).to_numpy(),
                "reference_ct": grp["reference_ct"].mean().reindex(order).to_numpy(),
            }
        )

        def merge(lists: list[list[str]]) -> list[list[str]]:
            acc: dict[str, list[str]] = {}
            for n, lst in zip(index, lists, strict=True):
                acc.setdefault(n, [])
                acc[n] += [x for x in lst if x not in acc[n]]
            return [acc[n] for n in order]

        extra_ignored, extra_sd = merge(extra_ignored), merge(extra_sd)
        if multi:
            notes.append(
                f"sample(s) {multi[:10]}{' ...' if len(multi) > 10 else ''} are on several plates; "
                "their rows are the mean of the plates' log2 RQ (combine_plates='mean')."
            )
        index = order
    n_missing = int(frames["log2_rq"].isna().to_numpy().sum())
    if n_missing:
        notes.append(
            f"{n_missing} sample x target value(s) are missing (NaN): the target has no sample well "
            "for that sample on its plate."
        )

    def targets_text(flag: pd.DataFrame, extra: list[list[str]] | None = None) -> list[str]:
        out = []
        for i in range(len(flag)):
            names = [g for g in genes if flag.iloc[i][g]]
            if extra is not None:
                names = extra[i] + names
            out.append(",".join(names))
        return out

    obs["qpcr_high_sd"] = targets_text(flags["high_sd"], extra_sd)
    obs["qpcr_censored"] = targets_text(flags["censored"])
    obs["qpcr_undetermined_ignored"] = targets_text(flags["ignored"], extra_ignored)
    obs["qpcr_flagged"] = (
        (obs["qpcr_high_sd"] != "")
        | (obs["qpcr_censored"] != "")
        | (obs["qpcr_undetermined_ignored"] != "")
    )
    excluded_counts: dict[str, int] = {}
    for p in plates:
        for k, v in p.excluded_counts.items():
            excluded_counts[k] = excluded_counts.get(k, 0) + v
    censored_lines = [x for p in plates for x in p.censored_lines]
    if censored_lines:
        warn(
            f"{len(censored_lines)} sample x target value(s) have most replicates undetermined and are "
            f"censored at max_ct={max_ct:g} (an upper bound of the RQ; first: {censored_lines[0]}); they "
            "are marked in layers['censored'] and obs['qpcr_censored'].",
            IfnscoreWarning,
        )
    plate_info = {
        p.name: {"file": p.where, "reference_genes": list(p.refs), **p.meta} for p in plates
    }
    uns = {
        "scale": "rq",
        "reference_genes": refs_wanted,
        "calibrator": cal_text,
        "max_ct": float(max_ct),
        "max_sd": float(max_sd),
        "efficiency": _efficiency_text(efficiency, plates),
        "combine_plates": combine_plates,
        "plates": plate_info,
        "excluded_wells": excluded_counts,
        "excluded": [x for p in plates for x in p.excluded],
        "undetermined_ignored": [x for p in plates for x in p.ignored_lines],
        "censored": censored_lines,
        "notes": [x for p in plates for x in p.notes] + notes,
    }
    where = ", ".join(p.where for p in plates)
    X = np.exp2(frames["log2_rq"].to_numpy(dtype=np.float64))
    adata = make_adata(X, index, genes, where=where, fmt="qpcr", obs=obs, uns=uns)
    if len(plates) > 1:
        adata.uns["ifnscore_read"]["source"] = [p.where for p in plates]
    for k in ("ct", "delta_ct", "log2_rq"):
        adata.layers[k] = frames[k].to_numpy(dtype=np.float64)
    adata.layers["censored"] = flags["censored"].to_numpy(dtype=bool)
    return adata


def _efficiency_text(efficiency: Any, plates: list[_Plate]) -> Any:
    if efficiency is None:
        return "none (E = 2 for every target: 2^-ddCt)"
    return {p.name: p.efficiency for p in plates}


def _calibrator(
    nrq: pd.DataFrame,
    cens: pd.DataFrame,
    runs: list[dict[str, Any]],
    calibrator: str | Sequence[str] | None,
    where_of: Mapping[str, str],
) -> tuple[pd.Series | float, Any]:
    """The calibrator's log2 NRQ per target (0 without one) and its description."""
    if calibrator is None:
        return 0.0, "none (RQ = the normalised quantity, 2^-dCt without efficiencies)"
    names = [calibrator] if isinstance(calibrator, str) else list(calibrator)
    if not names or any(not isinstance(n, str) for n in names):
        raise InputError(
            f"calibrator={calibrator!r} is not valid; give a sample name or a list of them."
        )
    pick = np.zeros(len(runs), dtype=bool)
    samples = list(dict.fromkeys(r["name"] for r in runs))
    for n in names:
        hit = np.array([r["name"] == n or r["sample"] == n for r in runs])
        if not hit.any():
            raise InputError(
                f"calibrator sample {n!r} is not a sample of the plate(s) (samples: {samples[:10]}"
                f"{' ...' if len(samples) > 10 else ''}); give one of them, or calibrator=None."
            )
        pick |= hit
    sub = nrq[pick]
    for g in nrq.columns:
        for i in np.flatnonzero(pick):
            r = runs[int(i)]
            if math.isnan(nrq.iloc[int(i)][g]) or cens.iloc[int(i)][g]:
                why = (
                    "no well" if math.isnan(nrq.iloc[int(i)][g]) else "most replicates undetermined"
                )
                raise InputError(
                    f"{where_of[r['plate']]}: calibrator sample {r['sample']!r} has {why} for target "
                    f"{g!r}, so it cannot calibrate that target; choose another calibrator, or None."
                )
    text = calibrator if isinstance(calibrator, str) else list(calibrator)
    return sub.mean(axis=0), text
