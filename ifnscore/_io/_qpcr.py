r"""qPCR Ct tables -> relative quantities (RQ) ready for the ``fc_*`` methods.

Layouts
-------
* long: one row per well, with columns for the sample, the target and the Ct (recognised
  names, any case: ``sample``/``sample name``; ``target``/``target name``/``gene``/``detector``/
  ``assay``; ``ct``/``cq``), optionally ``replicate``. Several rows of one sample and target
  are technical replicates.
* wide: a table of Ct values, samples x targets or targets x samples (``rows=``; ``"auto"``
  finds the reference genes among the column or the row labels). Repeated sample labels are
  technical replicates.

Computation (Livak & Schmittgen 2001, doi:10.1006/meth.2001.1262; Rice et al. 2013,
doi:10.1016/S1474-4422(13)70258-8, who used HPRT1 and 18S as reference genes):

.. math::

    \overline{Ct}_{st} = \operatorname{mean}_{\text{replicates}} Ct, \qquad
    \Delta Ct_{st} = \overline{Ct}_{st} - \frac{1}{|R|}\sum_{r \in R} \overline{Ct}_{sr}, \qquad
    RQ_{st} = 2^{-(\Delta Ct_{st} - \Delta Ct_{\mathrm{cal},t})}

The arithmetic mean of the reference genes' Ct is the log2 of the geometric mean of their
quantities. The calibrator is a named sample, the mean :math:`\Delta Ct` of a list of samples
(e.g. the healthy controls), or none (:math:`RQ = 2^{-\Delta Ct}`). Fold changes against a
healthy reference (``fc_*``) do not depend on the calibrator: it cancels in
:math:`RQ_{st} / \operatorname{median}_c RQ_{ct}`.

Policies
--------
* Technical replicates are averaged; a sample and target whose replicate SD (``ddof=1``)
  exceeds ``max_sd`` cycles is flagged (``obs["qpcr_high_sd"]``), not dropped. The default
  0.5 is a common laboratory acceptance limit, not a value from Rice 2013; set your lab's.
* "Undetermined" (or empty, "N/A", "No Ct") Ct: ``undetermined="censor"`` (default) sets it
  to ``max_ct`` (the last cycle, default 40), warns and flags the sample
  (``obs["qpcr_censored"]``); ``"error"`` refuses. An undetermined reference gene is always
  an error, since the sample cannot be normalised.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._warn import warn
from ..errors import IfnscoreWarning, InputError
from ._open import strip_compression
from ._table import check_unique, make_adata

__all__ = ["DEFAULT_REFERENCE_GENES", "looks_like_long_ct", "read_ct", "relative_quantities"]

#: Rice et al. 2013 (doi:10.1016/S1474-4422(13)70258-8).
DEFAULT_REFERENCE_GENES = ("HPRT1", "18S")
_SAMPLE = ("sample", "sample name", "sample_name", "samplename", "sample id", "sample_id")
_TARGET = ("target", "target name", "target_name", "targetname", "gene", "detector", "assay")
_CT = ("ct", "cq", "c_t", "crt")
_REPLICATE = ("replicate", "rep", "technical replicate")
_UNDETERMINED = {"", "undetermined", "undet", "undet.", "n/a", "na", "nan", "no ct", "noct", "-"}


def _norm(label: object) -> str:
    return re.sub(r"\s+", " ", str(label).strip().lower())


def _find(columns: Sequence[object], names: Sequence[str]) -> object | None:
    for c in columns:
        if _norm(c) in names:
            return c
    return None


def looks_like_long_ct(header_line: str) -> bool:
    """Whether a header line names sample, target and Ct columns (a long Ct table)."""
    sep = "\t" if "\t" in header_line else ","
    cols = [c.strip().strip('"') for c in header_line.rstrip("\r\n").split(sep)]
    return all(_find(cols, n) is not None for n in (_SAMPLE, _TARGET, _CT))


def _load(path: Path, sheet: str | int, sep: str | None) -> pd.DataFrame:
    name, _ = strip_compression(path)
    if os.path.splitext(name)[1].lower() in (".xlsx", ".xlsm"):
        from ._excel import read_excel_frame

        frame = read_excel_frame(path, sheet=sheet)
        return frame.astype(object).where(frame.notna(), "").astype(str)
    from ._delimited import guess_sep, read_header
    from ._open import open_binary

    header = read_header(path)
    sep = sep or guess_sep(path, header)
    try:
        with open_binary(path) as fh:
            frame = pd.read_csv(
                fh, sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=True
            )
    except pd.errors.ParserError as exc:
        raise InputError(f"{str(path)!r}: not a well-formed table ({exc}).") from None
    if frame.empty:
        raise InputError(f"{str(path)!r} has no data rows.")
    return frame


def _long(frame: pd.DataFrame, rows: str, refs: Sequence[str], where: str) -> pd.DataFrame:
    """Columns sample, target, ct (text), line; from either layout."""
    s, t, c = (_find(frame.columns, n) for n in (_SAMPLE, _TARGET, _CT))
    if s is not None and t is not None and c is not None:
        out = pd.DataFrame(
            {
                "sample": frame[s].astype(str).str.strip(),
                "target": frame[t].astype(str).str.strip(),
                "ct": frame[c].astype(str),
            }
        )
        out["line"] = np.arange(len(out)) + 2
        return out
    labels = frame.iloc[:, 0].astype(str).str.strip()
    body = frame.iloc[:, 1:]
    body.index = pd.Index(labels)
    cols = [str(x).strip() for x in body.columns]
    body.columns = pd.Index(cols)
    up_refs = {r.upper() for r in refs}
    if rows == "auto":
        in_cols = any(c.upper() in up_refs for c in cols)
        in_rows = any(x.upper() in up_refs for x in labels)
        if in_cols == in_rows:
            raise InputError(
                f"{where}: cannot tell whether the rows are samples or targets (reference genes {list(refs)} "
                f"found {'in both' if in_cols else 'in neither'} the column and the row labels); pass rows="
                "'samples' or rows='genes', and check reference_genes=."
            )
        rows = "samples" if in_cols else "genes"
    if rows == "genes":
        check_unique(labels, "target (row label)", where)
        long = body.T.reset_index(names="sample").melt(
            id_vars="sample", var_name="target", value_name="ct"
        )
        long["line"] = long["target"].map({lab: i + 2 for i, lab in enumerate(labels)})
    else:
        check_unique(cols, "target (column label)", where)
        b = body.reset_index(names="sample")
        b["line"] = np.arange(len(b)) + 2
        long = b.melt(id_vars=["sample", "line"], var_name="target", value_name="ct")
    return long[["sample", "target", "ct", "line"]]


def _parse_ct(long: pd.DataFrame, where: str) -> pd.DataFrame:
    text = long["ct"].astype(str).str.strip()
    undetermined = text.str.lower().isin(_UNDETERMINED)
    values = pd.to_numeric(text.where(~undetermined), errors="coerce")
    bad = values.isna() & ~undetermined
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        r = long.iloc[i]
        raise InputError(
            f"{where}: Ct {text.iloc[i]!r} of sample {r['sample']!r}, target {r['target']!r} (line {r['line']}) "
            "is not a number; use a number, 'Undetermined' or an empty cell."
        )
    neg = values < 0
    if neg.any():
        i = int(np.flatnonzero(neg.to_numpy())[0])
        r = long.iloc[i]
        raise InputError(
            f"{where}: negative Ct for sample {r['sample']!r}, target {r['target']!r} (line {r['line']})."
        )
    out = long.copy()
    out["ct"] = values.to_numpy()
    out["undetermined"] = undetermined.to_numpy()
    return out


def read_ct(
    path: str | os.PathLike,
    *,
    rows: str = "auto",
    reference_genes: Sequence[str] = DEFAULT_REFERENCE_GENES,
    calibrator: str | Sequence[str] | None = None,
    max_ct: float = 40.0,
    undetermined: str = "censor",
    max_sd: float = 0.5,
    sheet: str | int = 0,
    sep: str | None = None,
) -> Any:
    """Read a Ct table (CSV/TSV/Excel, long or wide) and return relative quantities.

    See the module docstring for the layouts, the formula and the policies. Returns an
    AnnData (samples x targets, reference genes left out) with ``X`` = RQ (scale
    ``"linear"``), ``layers["ct"]`` (mean Ct), ``layers["delta_ct"]``, ``obs["reference_ct"]``
    (mean Ct of the reference genes), ``obs["qpcr_high_sd"]`` / ``obs["qpcr_censored"]``
    (comma-separated targets, empty when none) and ``obs["qpcr_flagged"]``.
    """
    where = str(path)
    if isinstance(reference_genes, str):
        reference_genes = [reference_genes]
    refs = list(reference_genes)
    if not refs:
        raise InputError(
            "reference_genes= is empty; give at least one reference gene (default HPRT1, 18S)."
        )
    if undetermined not in ("censor", "error"):
        raise InputError(f"undetermined={undetermined!r} is not valid; use 'censor' or 'error'.")
    if not (math.isfinite(max_ct) and max_ct > 0) or not (math.isfinite(max_sd) and max_sd >= 0):
        raise InputError(f"max_ct={max_ct!r} and max_sd={max_sd!r} must be positive numbers.")
    long = _parse_ct(_long(_load(Path(path), sheet, sep), rows, refs, where), where)
    return relative_quantities(
        long,
        reference_genes=refs,
        calibrator=calibrator,
        max_ct=max_ct,
        undetermined=undetermined,
        max_sd=max_sd,
        where=where,
    )


def relative_quantities(
    long: pd.DataFrame,
    *,
    reference_genes: Sequence[str],
    calibrator: str | Sequence[str] | None,
    max_ct: float,
    undetermined: str,
    max_sd: float,
    where: str,
) -> Any:
    """From a long table (sample, target, ct float, undetermined bool, line) to the RQ AnnData."""
    targets = pd.unique(long["target"])
    canon = {t.upper(): t for t in targets}
    missing = [r for r in reference_genes if r.upper() not in canon]
    if missing:
        raise InputError(
            f"{where}: reference gene(s) {missing} not in the table (targets: {list(targets)[:12]}); "
            "add them or pass reference_genes= (CLI: --reference-genes)."
        )
    refs = [canon[r.upper()] for r in reference_genes]
    und = long[long["undetermined"]]
    und_ref = und[und["target"].isin(refs)]
    if len(und_ref):
        r = und_ref.iloc[0]
        raise InputError(
            f"{where}: reference gene {r['target']!r} is undetermined for sample {r['sample']!r} (line {r['line']}); "
            "that sample cannot be normalised: repeat it or leave it out."
        )
    censored = pd.DataFrame(columns=["sample", "target"])
    if len(und):
        pairs = und[["sample", "target"]].drop_duplicates()
        if undetermined == "error":
            r = und.iloc[0]
            raise InputError(
                f"{where}: undetermined Ct for sample {r['sample']!r}, target {r['target']!r} (line {r['line']}); "
                "pass undetermined='censor' to set it to the last cycle (max_ct)."
            )
        warn(
            f"{where}: {len(und)} undetermined Ct value(s) censored at max_ct={max_ct:g} (first: sample "
            f"{und.iloc[0]['sample']!r}, target {und.iloc[0]['target']!r}); they are flagged in obs['qpcr_censored'].",
            IfnscoreWarning,
        )
        long = long.copy()
        long.loc[long["undetermined"], "ct"] = float(max_ct)
        censored = pairs
    grouped = long.groupby(["sample", "target"], sort=False)["ct"]
    mean = grouped.mean().unstack("target")
    sd = grouped.std(ddof=1).unstack("target")
    samples = list(pd.unique(long["sample"]))
    mean = mean.reindex(index=samples, columns=list(targets))
    sd = sd.reindex(index=samples, columns=list(targets))
    ref_ct = mean[refs]
    lacking = ref_ct.isna().any(axis=1)
    if lacking.any():
        s = lacking[lacking].index[0]
        gone = [r for r in refs if pd.isna(ref_ct.loc[s, r])]
        raise InputError(
            f"{where}: sample {s!r} has no Ct for reference gene(s) {gone}; every sample needs all reference genes."
        )
    ref_mean = ref_ct.mean(axis=1)
    genes = [t for t in targets if t not in refs]
    if not genes:
        raise InputError(
            f"{where}: the table holds only reference genes {refs}; no target to quantify."
        )
    ct = mean[genes]
    dct = ct.sub(ref_mean, axis=0)
    cal = _calibrator(dct, calibrator, where)
    rq = np.exp2(-(dct - cal))
    high = (sd > max_sd).reindex(columns=list(targets))
    obs = pd.DataFrame(index=pd.Index(samples))
    obs["reference_ct"] = ref_mean.to_numpy()
    obs["qpcr_high_sd"] = [",".join(t for t in targets if high.loc[s, t]) for s in samples]
    cens = censored.groupby("sample")["target"].agg(lambda x: ",".join(x)) if len(censored) else {}
    obs["qpcr_censored"] = [cens.get(s, "") for s in samples]
    obs["qpcr_flagged"] = (obs["qpcr_high_sd"] != "") | (obs["qpcr_censored"] != "")
    adata = make_adata(
        rq.to_numpy(dtype=np.float64),
        samples,
        genes,
        where=where,
        fmt="qpcr",
        obs=obs,
        uns={
            "scale": "linear",
            "reference_genes": refs,
            "calibrator": "none (RQ = 2^-dCt)"
            if calibrator is None
            else calibrator
            if isinstance(calibrator, str)
            else list(calibrator),
            "max_ct": float(max_ct),
            "max_sd": float(max_sd),
            "undetermined": undetermined,
        },
    )
    adata.layers["ct"] = ct.to_numpy(dtype=np.float64)
    adata.layers["delta_ct"] = dct.to_numpy(dtype=np.float64)
    return adata


def _calibrator(
    dct: pd.DataFrame, calibrator: str | Sequence[str] | None, where: str
) -> pd.Series | float:
    if calibrator is None:
        return 0.0
    names = [calibrator] if isinstance(calibrator, str) else list(calibrator)
    unknown = [n for n in names if n not in dct.index]
    if unknown or not names:
        raise InputError(
            f"{where}: calibrator sample(s) {unknown or names} not in the table (samples: {list(dct.index)[:8]})."
        )
    cal = dct.loc[names].mean(axis=0)
    if cal.isna().any():
        raise InputError(
            f"{where}: the calibrator has no Ct for target(s) {cal.index[cal.isna()].tolist()}; choose another calibrator."
        )
    return cal
