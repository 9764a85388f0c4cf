r"""NanoString nCounter RCC files -> QC flags and normalised counts ready for scoring.

An RCC file is one lane: tagged sections ``<Header>``, ``<Sample_Attributes>``,
``<Lane_Attributes>``, ``<Code_Summary>`` (``CodeClass,Name,Accession,Count`` rows of class
Positive, Negative, Endogenous, Housekeeping, ...) and ``<Messages>``, each closed by
``</Name>``; inside, ``key,value`` lines.

QC flags, with the limits nSolver applies by default as described in NanoString's *Gene
Expression Data Analysis Guidelines* (MAN-C0011-04) — defaults configurable, and worth
checking against the guide for your instrument (SPRINT uses a lower binding-density limit):

* imaging: ``FovCounted / FovCount < 0.75`` (``fov_min``);
* binding density outside 0.1–2.25 spots per square micron (``binding_density``);
* positive-control linearity: :math:`R^2 < 0.95` (``linearity_min``) of
  :math:`\log_2(\text{count})` on :math:`\log_2(\text{concentration})` over the positive
  controls (concentrations from the probe names, e.g. ``POS_A(128)``; counts below 1 count
  as 1 so the logarithm exists — our choice where the guide is silent);
* limit of detection: ``POS_E`` (0.5 fM) not above mean + 2 SD (``lod_sd``) of the negative
  controls (SD with ``ddof=1``);
* normalisation factors outside 0.3–3 (positive) and 0.1–10 (housekeeping).

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
from ._open import open_text
from ._table import make_adata

__all__ = ["RCC", "parse_rcc", "read_rcc"]

_SECTIONS = ("Header", "Sample_Attributes", "Lane_Attributes", "Code_Summary")
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
    dup = codes["Name"][codes["Name"].duplicated()]
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


def _concentration(name: str) -> float:
    m = re.search(r"\(([\d.]+)\)", name)
    if m:
        return float(m.group(1))
    return _POS_FM.get(name.split("(")[0].strip().upper(), math.nan)


def _qc(
    r: RCC, *, fov_min: float, density: tuple[float, float], linearity_min: float, lod_sd: float
) -> dict[str, Any]:
    c = r.codes
    lane = r.lane

    def num(key: str) -> float:
        try:
            return float(lane[key])
        except (KeyError, ValueError):
            raise InputError(f"{r.path}: <Lane_Attributes> lacks a numeric {key!r}.") from None

    fov_count, fov_counted, bd = num("FovCount"), num("FovCounted"), num("BindingDensity")
    fov_ratio = fov_counted / fov_count if fov_count > 0 else math.nan
    pos = c[c["CodeClass"] == "Positive"]
    neg = c[c["CodeClass"] == "Negative"]
    conc = np.array([_concentration(x) for x in pos["Name"]])
    ok = np.isfinite(conc) & (conc > 0)
    r2 = math.nan
    if ok.sum() >= 3:
        xs = np.log2(conc[ok])
        ys = np.log2(np.maximum(pos["Count"].to_numpy()[ok], 1.0))
        r2 = float(np.corrcoef(xs, ys)[0, 1] ** 2) if np.std(ys) > 0 else 0.0
    pos_e = pos[pos["Name"].str.upper().str.startswith("POS_E")]["Count"]
    negs = neg["Count"].to_numpy()
    lod = float(negs.mean() + lod_sd * negs.std(ddof=1)) if negs.size >= 2 else math.nan
    pos_e_val = float(pos_e.iloc[0]) if len(pos_e) else math.nan
    return {
        "fov_ratio": fov_ratio,
        "binding_density": bd,
        "positive_linearity_r2": r2,
        "limit_of_detection": lod,
        "pos_e_count": pos_e_val,
        "qc_imaging": bool(fov_ratio < fov_min),
        "qc_binding_density": bool(not (density[0] <= bd <= density[1])),
        "qc_linearity": bool(not (r2 >= linearity_min)),
        "qc_limit_of_detection": bool(not (pos_e_val > lod)),
    }


def read_rcc(
    paths: Sequence[str | Path],
    *,
    normalize_to: str | float = "batch",
    housekeeping: Sequence[str] | None = None,
    positive: Sequence[str] | None = None,
    fov_min: float = 0.75,
    binding_density: tuple[float, float] = (0.1, 2.25),
    linearity_min: float = 0.95,
    lod_sd: float = 2.0,
    progress: Callable[[int], None] | None = None,
) -> Any:
    """Read RCC files (one lane each; one codeset) into normalised counts with QC in ``obs``.

    ``housekeeping``: gene names (default: every probe of class Housekeeping); ``positive``:
    positive-control names (default: all of class Positive). Returns an AnnData, lanes x
    (Endogenous and Housekeeping genes), ``X`` normalised counts (scale ``"linear"``),
    ``layers["counts"]`` the raw counts, ``var["code_class"]``/``var["accession"]``, and in
    ``obs`` the sample and lane attributes, the QC values and flags (``qc_*``, ``qc_flagged``),
    and the factors ``positive_factor`` / ``housekeeping_factor``. See the module docstring.
    """
    rccs = []
    for p in paths:
        rccs.append(parse_rcc(p))
        if progress is not None:
            progress(1)
    first = rccs[0]
    names0 = list(first.codes["Name"])
    for r in rccs[1:]:
        if list(r.codes["Name"]) != names0 and set(r.codes["Name"]) != set(names0):
            diff = sorted(set(r.codes["Name"]) ^ set(names0))[:5]
            raise InputError(
                f"{r.path}: its probes differ from {first.path}'s (e.g. {diff}); read one codeset at a time."
            )
    if isinstance(normalize_to, str) and normalize_to != "batch":
        raise InputError(
            f"normalize_to={normalize_to!r} is not valid; use 'batch' or a positive number."
        )
    if not isinstance(normalize_to, str) and not (
        math.isfinite(float(normalize_to)) and float(normalize_to) > 0
    ):
        raise InputError(f"normalize_to={normalize_to!r} must be 'batch' or a positive number.")
    counts = pd.DataFrame(
        {r.path: r.codes.set_index("Name")["Count"].reindex(names0) for r in rccs}
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
    P = np.array([_geomean(counts.loc[p, pos_names].to_numpy()) for p in counts.index])
    H = np.array([_geomean(counts.loc[p, hk_names].to_numpy()) for p in counts.index])
    for label, v in (("positive controls", P), ("housekeeping genes", H)):
        bad = np.flatnonzero(~(v > 0))
        if bad.size:
            raise InputError(
                f"{counts.index[bad[0]]}: the {label} have a zero count, so the lane cannot be normalised."
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
    X = raw * (f_pos * f_hk)[:, None]
    obs_rows = []
    for r in rccs:
        row = {f"sample_{k}": v for k, v in r.sample.items()}
        row.update({f"lane_{k}": v for k, v in r.lane.items()})
        row["file"] = r.path
        row.update(
            _qc(
                r,
                fov_min=fov_min,
                density=binding_density,
                linearity_min=linearity_min,
                lod_sd=lod_sd,
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
    flags = [c for c in obs.columns if c.startswith("qc_")]
    obs["qc_flagged"] = obs[flags].any(axis=1)
    ids = [r.sample.get("ID") or Path(r.path).stem for r in rccs]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:3]
        raise InputError(
            f"Sample ID(s) {dup} appear in several RCC files ({[r.path for r in rccs if r.sample.get('ID') in dup][:4]}); "
            "give each lane a unique sample ID."
        )
    var = pd.DataFrame(
        {
            "code_class": classes[genes].to_numpy(),
            "accession": first.codes.set_index("Name")["Accession"][genes].to_numpy(),
        }
    )
    adata = make_adata(
        X,
        ids,
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
        },
    )
    adata.layers["counts"] = raw
    return adata
