r"""NanoString nCounter RCC files -> QC flags and normalised counts ready for scoring.

An RCC file is one lane: tagged sections ``<Header>``, ``<Sample_Attributes>``,
``<Lane_Attributes>``, ``<Code_Summary>`` (``CodeClass,Name,Accession,Count`` rows of class
Positive, Negative, Endogenous, Housekeeping, ...) and ``<Messages>``, each closed by
``</Name>``; inside, ``key,value`` lines.

Samples are keyed by the **file name** without ``.RCC`` (as NanoStringNCTools'
``readNanoStringRccSet`` keys them by ``basename(rccFiles)``): the RCC's Sample ID need not be
unique (all lanes of some cartridges are ``01``, e.g. GEO GSE117751), and it is kept in
``obs["sample_ID"]``. Only the classes Endogenous, Housekeeping, Positive and Negative are
used; any other class (``PROTEIN*`` and ``SNV_*`` of the 3D panels, ...) is left out with a
note (``uns['ifnscore_read']['ignored_code_classes']`` and an
:class:`~ifnscore.errors.IfnscoreWarning`), and a lane with none of the four classes (a DNA-only
SNV lane) is skipped the same way.

QC flags, as NanoStringNCTools' ``setQCFlags`` computes them (R/NanoStringRccSet-qc.R; the
limits are those of NanoString's *Gene Expression Data Analysis Guidelines*, MAN-C0011-04),
every limit configurable:

* imaging: ``FovCounted / FovCount < 0.75`` (``fov_min``);
* binding density outside 0.1–2.25 spots per square micron, 0.1–1.8 on an nCounter SPRINT
  (``binding_density``; SPRINT when the RCC says so in ``SystemType``, or, as
  NanoStringNCTools decides, when the 5th character of ``ScannerID`` is ``P``);
* positive-control linearity: :math:`R^2 < 0.95` (``linearity_min``), :math:`R^2` the squared
  Pearson correlation of :math:`\log_2 \max(\text{count}, 0.5)` (NanoStringNCTools'
  ``log2t(y, 0.5)``: counts below 0.5 raised to 0.5) with :math:`\log_2(\text{concentration})`
  over the positive controls of at least 0.5 fM (``POS_F`` at 0.125 fM excluded);
  concentrations from the probe names, e.g. ``POS_A(128)``;
* limit of detection: the 0.5 fM control (``POS_E``) below mean + 2 SD (``lod_sd``) of the
  negative controls (SD with ``ddof=1``, R's ``sd``);
* housekeeping: geometric mean of the housekeeping genes' counts (counts below 0.5 raised to
  0.5, NanoStringNCTools' ``geomMean``) below 32 -> ``"fail"``, below 100 -> ``"borderline"``,
  else ``"pass"`` (``housekeeping_geomean``); ``qc_housekeeping`` holds the word;
* normalisation factors outside 0.3–3 (positive) and 0.1–10 (housekeeping) (the guide).

A value that cannot be computed (no negatives, constant positive controls, ``FovCount`` 0) is
flagged, as NanoStringNCTools treats NA as a failure. ``qc_flagged`` is any boolean ``qc_*``
flag or ``qc_housekeeping == "fail"``.

Background correction (``background=``, nSolver's options; per lane, with that lane's
negative controls, applied to the Endogenous and Housekeeping counts before normalisation;
the normalisation factors are computed from the raw controls and housekeeping counts, so they
do not depend on it):

* ``None`` (default): none;
* ``"subtract_mean"``: :math:`\max(x - \bar n, 0)`;
* ``"threshold"``: :math:`\max(x, \bar n + k s_n)` with :math:`k` = ``lod_sd`` (2).

Normalisation (the guide's two steps), with :math:`P_i` the geometric mean of lane
:math:`i`'s positive controls and :math:`H_i` that of its housekeeping genes:

.. math::

    f^{\mathrm{pos}}_i = \bar P / P_i, \qquad
    f^{\mathrm{hk}}_i = \bar H' / (f^{\mathrm{pos}}_i H_i), \qquad
    y_{ig} = f^{\mathrm{hk}}_i\, f^{\mathrm{pos}}_i\, x_{ig}

With ``normalize_to="batch"`` (nSolver) :math:`\bar P` and :math:`\bar H'` are the arithmetic
means over the lanes read together, so a lane's values depend on its batch. With a number
``T`` both targets are fixed (:math:`\bar H' = T`) and :math:`y_{ig} = T x_{ig} / H_i`:
each lane is normalised on its own, which is what scoring against a saved healthy reference
made from another run needs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ._open import open_text, strip_compression
from ._table import make_adata

__all__ = ["RCC", "USED_CLASSES", "is_sprint", "parse_rcc", "read_rcc"]

_SECTIONS = ("Header", "Sample_Attributes", "Lane_Attributes", "Code_Summary")
#: The code classes read; any other (PROTEIN*, SNV_*, ...) is left out with a note.
USED_CLASSES = ("Endogenous", "Housekeeping", "Positive", "Negative")
#: Standard positive-control concentrations (fM) when a probe name does not carry one.
_POS_FM = {"POS_A": 128.0, "POS_B": 32.0, "POS_C": 8.0, "POS_D": 2.0, "POS_E": 0.5, "POS_F": 0.125}


@dataclass
class RCC:
    """One parsed RCC file (one lane)."""

    path: str
    header: dict[str, str]
    sample: dict[str, str]
    lane: dict[str, str]
    codes: pd.DataFrame  # CodeClass, Name, Accession, Count
    messages: list[str] = field(default_factory=list)


def parse_rcc(path: str | Path) -> RCC:
    """Parse one RCC file; a missing, unclosed or malformed section is an error naming the line."""
    where = str(path)
    with open_text(path) as fh:
        lines = fh.read().splitlines()
    if not any(x.strip() for x in lines):
        raise InputError(f"{where} is empty.")
    sections: dict[str, list[tuple[int, str]]] = {}
    current: str | None = None
    start = 0
    for n, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        m = re.fullmatch(r"<(/?)([A-Za-z_]+)>", line)
        if m:
            closing, name = m.group(1) == "/", m.group(2)
            if not closing:
                if current is not None:
                    raise InputError(
                        f"{where}: line {n}: section <{name}> opens before <{current}> (line {start}) is closed."
                    )
                current, start = name, n
                sections[name] = []
            else:
                if current != name:
                    raise InputError(
                        f"{where}: line {n}: </{name}> closes a section that is not open."
                    )
                current = None
            continue
        if current is None:
            raise InputError(
                f"{where}: line {n}: text outside any <Section>: {line[:40]!r}; not an RCC file?"
            )
        sections[current].append((n, line))
    if current is not None:
        raise InputError(
            f"{where}: section <{current}> (line {start}) is never closed (truncated file?)."
        )
    missing = [s for s in _SECTIONS if s not in sections]
    if missing:
        raise InputError(f"{where}: missing RCC section(s) {['<' + s + '>' for s in missing]}.")

    def pairs(name: str) -> dict[str, str]:
        out = {}
        for n, line in sections[name]:
            if "," not in line:
                raise InputError(
                    f"{where}: line {n} in <{name}> is not 'key,value': {line[:40]!r}."
                )
            k, v = line.split(",", 1)
            out[k.strip()] = v.strip()
        return out

    code_lines = sections["Code_Summary"]
    if not code_lines or [c.strip() for c in code_lines[0][1].split(",")][:4] != [
        "CodeClass",
        "Name",
        "Accession",
        "Count",
    ]:
        raise InputError(
            f"{where}: <Code_Summary> must start with the header 'CodeClass,Name,Accession,Count'."
        )
    rows = []
    for n, line in code_lines[1:]:
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4:
            raise InputError(
                f"{where}: line {n} in <Code_Summary> has {len(parts)} fields, expected 4: {line[:60]!r}."
            )
        try:
            count = float(parts[3])
        except ValueError:
            count = math.nan
        if not math.isfinite(count) or count < 0:
            raise InputError(
                f"{where}: line {n}: count {parts[3]!r} of {parts[1]!r} is not a non-negative number."
            )
        rows.append((parts[0], parts[1], parts[2], count))
    if not rows:
        raise InputError(f"{where}: <Code_Summary> has no probes.")
    codes = pd.DataFrame(rows, columns=["CodeClass", "Name", "Accession", "Count"])
    used = codes["Name"][codes["CodeClass"].isin(USED_CLASSES)]
    dup = used[used.duplicated()]
    if len(dup):
        raise InputError(f"{where}: probe {dup.iloc[0]!r} appears twice in <Code_Summary>.")
    return RCC(
        where,
        pairs("Header"),
        pairs("Sample_Attributes"),
        pairs("Lane_Attributes"),
        codes,
        [line for _, line in sections.get("Messages", [])],
    )


def _geomean(x: np.ndarray) -> float:
    with np.errstate(divide="ignore"):
        return float(np.exp(np.mean(np.log(x))))


def _geomean_t(x: np.ndarray) -> float:
    """NanoStringNCTools' ``geomMean``: :math:`\\exp(\\overline{\\log \\max(x, 0.5)})`."""
    if x.size == 0:
        return math.nan
    return float(np.exp(np.mean(np.log(np.maximum(x, 0.5)))))


def _concentration(name: str) -> float:
    m = re.search(r"\(([\d.]+)\)", name)
    if m:
        return float(m.group(1))
    return _POS_FM.get(name.split("(")[0].strip().upper(), math.nan)


def is_sprint(r: RCC) -> bool:
    """Whether the lane was read on an nCounter SPRINT: ``SystemType`` (or any instrument
    field) says SPRINT, or, NanoStringNCTools' rule, the 5th character of ``ScannerID`` is
    ``P``."""
    for key in ("SystemType", "Instrument", "InstrumentType"):
        for part in (r.header, r.lane, r.sample):
            if "sprint" in part.get(key, "").lower():
                return True
    scanner = r.lane.get("ScannerID", "")
    return "sprint" in scanner.lower() or (len(scanner) >= 5 and scanner[4].upper() == "P")


def _qc(
    r: RCC,
    hk_names: Sequence[str],
    *,
    fov_min: float,
    density: tuple[float, float] | None,
    linearity_min: float,
    lod_sd: float,
    hk_limits: tuple[float, float],
) -> dict[str, Any]:
    """One lane's QC values and flags, as NanoStringNCTools' ``setQCFlags`` (module docstring)."""
    c = r.codes
    lane = r.lane

    def num(key: str) -> float:
        try:
            return float(lane[key])
        except (KeyError, ValueError):
            raise InputError(f"{r.path}: <Lane_Attributes> lacks a numeric {key!r}.") from None

    fov_count, fov_counted, bd = num("FovCount"), num("FovCounted"), num("BindingDensity")
    fov_ratio = fov_counted / fov_count if fov_count > 0 else math.nan
    sprint = is_sprint(r)
    lo, hi = density if density is not None else (0.1, 1.8 if sprint else 2.25)
    pos = c[c["CodeClass"] == "Positive"]
    conc = np.array([_concentration(x) for x in pos["Name"]], dtype=np.float64)
    counts = pos["Count"].to_numpy(dtype=np.float64)
    lin = np.isfinite(conc) & (conc >= 0.5)
    r2 = math.nan
    if lin.sum() >= 2:
        xs = np.log2(conc[lin])
        ys = np.log2(np.maximum(counts[lin], 0.5))
        if np.std(xs) > 0 and np.std(ys) > 0:
            r2 = float(np.corrcoef(xs, ys)[0, 1] ** 2)
    at_lod = counts[np.isfinite(conc) & (conc == 0.5)]
    pos_e = float(at_lod.max()) if at_lod.size else math.nan
    negs = c[c["CodeClass"] == "Negative"]["Count"].to_numpy(dtype=np.float64)
    neg_mean = float(negs.mean()) if negs.size else math.nan
    neg_sd = float(negs.std(ddof=1)) if negs.size >= 2 else math.nan
    lod = neg_mean + lod_sd * neg_sd
    hk = c.set_index("Name")["Count"].reindex(list(hk_names)).to_numpy(dtype=np.float64)
    hk_gm = _geomean_t(hk[np.isfinite(hk)])
    if not hk_gm >= hk_limits[0]:
        hk_flag = "fail"
    elif hk_gm < hk_limits[1]:
        hk_flag = "borderline"
    else:
        hk_flag = "pass"
    return {
        "instrument": "SPRINT" if sprint else "MAX/FLEX",
        "fov_ratio": fov_ratio,
        "binding_density": bd,
        "binding_density_max": hi,
        "positive_linearity_r2": r2,
        "negative_mean": neg_mean,
        "negative_sd": neg_sd,
        "limit_of_detection": lod,
        "pos_e_count": pos_e,
        "housekeeping_geomean": hk_gm,
        "qc_imaging": bool(not (fov_ratio >= fov_min)),
        "qc_binding_density": bool(not (lo <= bd <= hi)),
        "qc_linearity": bool(not (r2 >= linearity_min)),
        "qc_limit_of_detection": bool(not (pos_e >= lod)),
        "qc_housekeeping": hk_flag,
    }


def _background(raw: np.ndarray, negs: np.ndarray, how: str | None, k: float) -> np.ndarray:
    """Background-corrected counts of one lane (module docstring)."""
    if how is None:
        return raw
    mean = float(negs.mean())
    if how == "subtract_mean":
        return np.maximum(raw - mean, 0.0)
    return np.maximum(raw, mean + k * float(negs.std(ddof=1)))


def _key(path: str) -> str:
    """A lane's sample key: its file name without ``.RCC`` (and any compression extension)."""
    name, _ = strip_compression(path)
    return name[:-4] if name.lower().endswith(".rcc") else name


def read_rcc(
    paths: Sequence[str | Path],
    *,
    normalize_to: str | float = "batch",
    housekeeping: Sequence[str] | None = None,
    positive: Sequence[str] | None = None,
    fov_min: float = 0.75,
    binding_density: tuple[float, float] | None = None,
    linearity_min: float = 0.95,
    lod_sd: float = 2.0,
    housekeeping_geomean: tuple[float, float] = (32.0, 100.0),
    background: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Any:
    """Read RCC files (one lane each; one codeset) into normalised counts with QC in ``obs``.

    ``housekeeping``: gene names (default: every probe of class Housekeeping); ``positive``:
    positive-control names for the normalisation (default: all of class Positive; the QC uses
    the class). ``binding_density``: ``(min, max)`` for every lane, default by instrument
    (0.1–2.25, SPRINT 0.1–1.8). ``housekeeping_geomean``: ``(fail below, borderline below)``,
    default ``(32, 100)``. ``background``: ``None``, ``"subtract_mean"`` or ``"threshold"``.

    Returns an AnnData, lanes (keyed by file name) x (Endogenous and Housekeeping genes),
    ``X`` normalised counts (scale ``"linear"``), ``layers["counts"]`` the raw counts,
    ``var["code_class"]``/``var["accession"]``, and in ``obs`` the sample and lane attributes
    (``sample_ID`` is the RCC's Sample ID), the QC values and flags (``qc_*``, ``qc_flagged``),
    and the factors ``positive_factor`` / ``housekeeping_factor``. See the module docstring.
    """
    from .._warn import warn
    from ..errors import IfnscoreWarning
    from ._pipelines import skipped_of

    if background not in (None, "subtract_mean", "threshold"):
        raise InputError(
            f"background={background!r} is not valid; use None (no correction), 'subtract_mean' "
            "or 'threshold'."
        )
    lo_hk, hi_hk = (float(v) for v in housekeeping_geomean)
    if binding_density is not None:
        bd_lo, bd_hi = (float(v) for v in binding_density)
        if not (0 <= bd_lo < bd_hi):
            raise InputError(
                f"binding_density={binding_density!r} must be (min, max) with 0 <= min < max."
            )
        binding_density = (bd_lo, bd_hi)
    skipped = skipped_of(paths)
    rccs = []
    ignored: dict[str, int] = {}
    for p in paths:
        r = parse_rcc(p)
        if progress is not None:
            progress(1)
        keep = r.codes["CodeClass"].isin(USED_CLASSES)
        for cls, n in r.codes["CodeClass"][~keep].value_counts().items():
            ignored[str(cls)] = max(ignored.get(str(cls), 0), int(n))
        if not keep.any():
            classes = sorted(set(r.codes["CodeClass"]))
            skipped.append(
                {
                    "file": Path(r.path).name,
                    "reason": f"no gene-expression probes (classes {classes}); not an RNA lane",
                }
            )
            continue
        r.codes = r.codes[keep].reset_index(drop=True)
        rccs.append(r)
    if not rccs:
        raise InputError(
            f"{', '.join(str(p) for p in paths)}: no lane has Endogenous, Housekeeping, Positive or "
            "Negative probes; give RNA (gene expression) RCC files."
        )
    notes = []
    if ignored:
        notes.append(
            "code classes not used for gene expression were left out: "
            + ", ".join(f"{k} ({v} probes)" for k, v in sorted(ignored.items()))
        )
    lanes_skipped = [s for s in skipped if s["reason"].startswith("no gene-expression")]
    if lanes_skipped:
        notes.append(
            "lanes skipped: " + ", ".join(f"{s['file']} ({s['reason']})" for s in lanes_skipped)
        )
    if notes:
        warn("NanoString: " + "; ".join(notes) + " (see uns['ifnscore_read']).", IfnscoreWarning)
    first = rccs[0]
    names0 = list(first.codes["Name"])
    for r in rccs[1:]:
        if list(r.codes["Name"]) != names0 and set(r.codes["Name"]) != set(names0):
            diff = sorted(set(r.codes["Name"]) ^ set(names0))[:5]
            raise InputError(
                f"{r.path}: its probes differ from {first.path}'s (e.g. {diff}); read one codeset at a time."
            )
    keys = [_key(r.path) for r in rccs]
    seen: dict[str, str] = {}
    for k, r in zip(keys, rccs, strict=True):
        if k in seen:
            raise InputError(
                f"{r.path}: its file name {k!r} (the sample key) is also that of {seen[k]}; "
                "rename one of the two files."
            )
        seen[k] = r.path
    if isinstance(normalize_to, str) and normalize_to != "batch":
        raise InputError(
            f"normalize_to={normalize_to!r} is not valid; use 'batch' or a positive number."
        )
    if not isinstance(normalize_to, str) and not (
        math.isfinite(float(normalize_to)) and float(normalize_to) > 0
    ):
        raise InputError(f"normalize_to={normalize_to!r} must be 'batch' or a positive number.")
    counts = pd.DataFrame(
        {
            k: r.codes.set_index("Name")["Count"].reindex(names0)
            for k, r in zip(keys, rccs, strict=True)
        }
    ).T  # lanes x probes
    classes = first.codes.set_index("Name")["CodeClass"]
    pos_names = (
        list(positive) if positive is not None else list(classes.index[classes == "Positive"])
    )
    hk_names = (
        list(housekeeping)
        if housekeeping is not None
        else list(classes.index[classes == "Housekeeping"])
    )
    for what, names in (("positive control", pos_names), ("housekeeping gene", hk_names)):
        if not names:
            raise InputError(
                f"{first.path}: no {what}s in <Code_Summary>; name them with {what.split()[0]}=."
            )
        unknown = [n for n in names if n not in classes.index]
        if unknown:
            raise InputError(f"{first.path}: {what}(s) {unknown} are not probes of this codeset.")
    neg_names = list(classes.index[classes == "Negative"])
    if background is not None and len(neg_names) < 2:
        raise InputError(
            f"{first.path}: background={background!r} needs at least two Negative probes; the "
            f"codeset has {len(neg_names)}; use background=None."
        )
    P = np.array([_geomean(counts.loc[k, pos_names].to_numpy()) for k in counts.index])
    H = np.array([_geomean(counts.loc[k, hk_names].to_numpy()) for k in counts.index])
    for label, v in (("positive controls", P), ("housekeeping genes", H)):
        bad = np.flatnonzero(~(v > 0))
        if bad.size:
            raise InputError(
                f"{rccs[bad[0]].path}: the {label} have a zero count, so the lane cannot be normalised."
            )
    f_pos = P.mean() / P
    H1 = f_pos * H
    target = H1.mean() if normalize_to == "batch" else float(normalize_to)
    f_hk = target / H1
    genes_mask = classes.isin(["Endogenous", "Housekeeping"])
    genes = list(classes.index[genes_mask])
    if not genes:
        raise InputError(f"{first.path}: no Endogenous or Housekeeping probes.")
    raw = counts[genes].to_numpy(dtype=np.float64)
    negs = counts[neg_names].to_numpy(dtype=np.float64)
    corrected = np.vstack(
        [_background(raw[i], negs[i], background, lod_sd) for i in range(raw.shape[0])]
    )
    X = corrected * (f_pos * f_hk)[:, None]
    obs_rows = []
    for r in rccs:
        row = {f"sample_{k}": v for k, v in r.sample.items()}
        row.update({f"lane_{k}": v for k, v in r.lane.items()})
        row["file"] = r.path
        row.update(
            _qc(
                r,
                hk_names,
                fov_min=fov_min,
                density=binding_density,
                linearity_min=linearity_min,
                lod_sd=lod_sd,
                hk_limits=(lo_hk, hi_hk),
            )
        )
        obs_rows.append(row)
    obs = pd.DataFrame(obs_rows)
    obs["positive_factor"] = f_pos
    obs["housekeeping_factor"] = f_hk
    obs["qc_positive_factor"] = (f_pos < 0.3) | (f_pos > 3.0)
    obs["qc_housekeeping_factor"] = (
        (f_hk < 0.1) | (f_hk > 10.0) if normalize_to == "batch" else False
    )
    flags = [c for c in obs.columns if c.startswith("qc_") and c != "qc_housekeeping"]
    obs["qc_flagged"] = obs[flags].any(axis=1) | (obs["qc_housekeeping"] == "fail")
    var = pd.DataFrame(
        {
            "code_class": classes[genes].to_numpy(),
            "accession": first.codes.set_index("Name")["Accession"][genes].to_numpy(),
        }
    )
    adata = make_adata(
        X,
        keys,
        genes,
        where=", ".join(r.path for r in rccs),
        fmt="nanostring",
        obs=obs,
        var=var,
        uns={
            "scale": "linear",
            "normalize_to": normalize_to,
            "positive": pos_names,
            "housekeeping": hk_names,
            "background": background,
            "sample_key": "file name without .RCC (the RCC's Sample ID is obs['sample_ID'])",
            "qc_limits": {
                "fov_min": fov_min,
                "binding_density": list(binding_density)
                if binding_density is not None
                else "0.1-2.25 (SPRINT 0.1-1.8)",
                "linearity_min": linearity_min,
                "linearity_controls": "Positive class, concentration >= 0.5 fM",
                "lod_sd": lod_sd,
                "housekeeping_geomean": [lo_hk, hi_hk],
                "source": "NanoStringNCTools setQCFlags (R/NanoStringRccSet-qc.R); NanoString "
                "MAN-C0011-04",
            },
            "ignored_code_classes": ignored,
            "skipped": skipped,
        },
    )
    adata.layers["counts"] = raw
    return adata
