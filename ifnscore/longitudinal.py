r"""Follow patients over time: per-visit and per-patient summaries of an IFN score.

:func:`follow` joins the scores from :func:`ifnscore.score` with sample metadata (patient,
time of the visit, optional clinical measures such as the CMAS muscle score) and treatment
periods, and returns a :class:`Followup` with one row per visit, one row per patient, the
treatments, and the score–clinical correlations. The figures in :mod:`ifnscore.plot` and the
HTML report in :mod:`ifnscore.report` are drawn from it.

Definitions (per patient, over the visits with a finite score, in time order; :math:`L` is the
upper limit, :math:`s_t` the score at visit time :math:`t`, :math:`t_0` the first scored visit):

* baseline :math:`s_{t_0}`; peak :math:`\max_t s_t` (the earliest visit on ties); latest
  :math:`s_{t_{\mathrm{last}}}`;
* fold over the limit :math:`s_t / L` (as in :func:`ifnscore.score`); above the limit means
  :math:`s_t \ge L`, the rule :func:`ifnscore.score` uses for ``positive``;
* percent change from baseline :math:`100\,(s_t - s_{t_0}) / s_{t_0}`, defined only when
  :math:`s_{t_0} > 0` (not for z-score or other signed methods, where it would mislead);
* time to normalisation: for a patient above the limit at baseline, :math:`t_1 - t_0` with
  :math:`t_1` the first visit below the limit. Visits are discrete, so the true crossing lies
  in the interval after the last visit above the limit and at or before :math:`t_1`; both ends
  are reported (``last_above_time``, ``first_below_time``);
* relapse: a visit above the limit whose previous scored visit was below it (each return above
  the limit counts once);
* correlation with a clinical measure: Spearman's :math:`\rho` over the visits where both the
  score and the measure are finite, with that number :math:`n` and the two-sided p-value
  (:func:`scipy.stats.spearmanr`); not computed (NaN) for :math:`n < 3` or a constant series.

Irregular visits need no special handling: every quantity uses the visit times as given, and
nothing is interpolated. Missing values: a visit without a score stays in ``visits`` (its
clinical values are still shown) but is left out of every score statistic; a missing clinical
value only removes that visit from that measure's correlation. Samples without a patient or
time are not followed and are listed, with the reason, in :attr:`Followup.excluded`. Two samples
of one patient at the same time raise an error (average them or give distinct times).

Times are numbers (days by default, see ``time_unit=``) or dates. Dates (datetime values, or
ISO strings such as ``2025-03-01``) become days since that patient's first visit, and treatment
dates are converted with the same origin.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._warn import warn
from .errors import IfnscoreWarning, InputError

__all__ = ["Followup", "follow"]

_TREATMENT_COLUMNS = ("patient", "drug", "start", "stop")


@dataclass(frozen=True)
class Followup:
    """The result of :func:`follow`: patients' scores over time.

    Attributes
    ----------
    visits : pandas.DataFrame
        One row per visit (indexed by sample) of the followed patients, in patient and time
        order: ``patient``, ``time`` (numeric, in ``time_unit``; days since the patient's first
        visit when dates were given), ``date`` (when dates were given), ``score``,
        ``fold_over_limit``, ``above_limit`` (bool; ``score >= upper_limit``; NA without a
        score), ``pct_change`` (percent change from the patient's baseline), ``relapse``
        (bool), then one column per clinical measure.
    summary : pandas.DataFrame
        One row per followed patient (indexed by patient): ``n_visits``, ``n_scored``,
        ``baseline_time``, ``baseline``, ``peak_time``, ``peak``, ``latest_time``, ``latest``,
        ``latest_fold_over_limit``, ``latest_pct_change``, ``above_at_baseline``,
        ``last_above_time``, ``first_below_time``, ``time_to_normalisation``, ``n_relapses``,
        ``relapse_times`` (tuple) and, per clinical measure ``m``, ``rho_m`` and ``n_m``.
    treatments : pandas.DataFrame
        ``patient``, ``drug``, ``start``, ``stop`` (on the visits' time axis; ``stop`` NaN
        while ongoing) and ``ongoing`` (bool), for the followed patients.
    correlations : pandas.DataFrame
        One row per patient and clinical measure: ``patient``, ``measure``, ``n``, ``rho``,
        ``p_value``.
    excluded : pandas.DataFrame
        Samples that were not followed, with ``patient`` and ``reason``.
    upper_limit : float
    time_unit : str
    clinical : tuple of str
    signature : str or None

    Examples
    --------
    >>> import ifnscore
    >>> counts, samples = ifnscore.datasets.load_example(as_frame=True)
    >>> ref = ifnscore.calibrate(counts[samples["group"] == "control"], signature="rice6")
    >>> fu = ifnscore.follow(ifnscore.score(counts, reference=ref), samples)
    >>> fu.patients
    ['JDM01']
    >>> fu.patient("JDM01")["time"].tolist()
    [0.0, 14.0, 28.0, 56.0, 84.0, 112.0, 168.0, 252.0, 365.0]
    """

    visits: pd.DataFrame
    summary: pd.DataFrame
    treatments: pd.DataFrame
    correlations: pd.DataFrame
    excluded: pd.DataFrame
    upper_limit: float
    time_unit: str
    clinical: tuple[str, ...]
    signature: str | None = None

    @property
    def patients(self) -> list[str]:
        """The followed patients, in order."""
        return [str(p) for p in self.summary.index]

    def patient(self, name: str) -> pd.DataFrame:
        """The visits of one patient (a copy).

        Parameters
        ----------
        name : str
            A followed patient (see :attr:`patients`).

        Returns
        -------
        pandas.DataFrame
            That patient's rows of :attr:`visits`, in time order.

        Raises
        ------
        ifnscore.errors.InputError
            If ``name`` is not a followed patient.
        """
        if name not in self.summary.index:
            raise InputError(
                f"patient={name!r} is not among the followed patients {self.patients[:10]}"
                f"{' ...' if len(self.patients) > 10 else ''}."
            )
        return self.visits[self.visits["patient"] == name].copy()


def follow(
    scores: Any,
    metadata: Any = None,
    *,
    patient: str = "patient",
    time: str = "day",
    clinical: str | Sequence[str] | None = None,
    treatments: Any = None,
    upper_limit: float | None = None,
    signature: str | None = None,
    min_visits: int = 2,
    time_unit: str | None = None,
    key: str = "ifnscore",
) -> Followup:
    r"""Follow each patient's score over time.

    Parameters
    ----------
    scores
        The result of :func:`ifnscore.score` (a DataFrame indexed by sample; with several
        signatures pick one with ``signature=``), a Series of scores indexed by sample, or an
        AnnData scored in place by :func:`ifnscore.score` (its ``obs[key]`` and ``uns[key]``
        are read; ``metadata`` then defaults to its ``obs`` and ``treatments`` to
        ``uns["treatments"]`` when present).
    metadata
        Sample metadata indexed by sample: a DataFrame, an AnnData (its ``obs``), or the path
        of a CSV/TSV file whose first column is the sample name. Must hold the ``patient`` and
        ``time`` columns. Samples missing from ``metadata`` are an error; metadata rows
        without a score are ignored.
    patient, time
        Column names of the patient identifier and of the visit time (numbers or dates).
    clinical
        Column name(s) of clinical measures to carry along and correlate with the score
        (e.g. ``"cmas"``). Values must be numeric; missing values are allowed.
    treatments
        Treatment periods: a DataFrame, a dict of lists (as in AnnData ``uns``), or a CSV/TSV
        path, with columns ``patient``, ``drug``, ``start`` and ``stop`` (empty ``stop``:
        ongoing) on the same time axis as ``time`` (numbers, or dates when ``time`` holds
        dates).
    upper_limit
        The limit that defines "above"; default: the one recorded by :func:`ifnscore.score`
        (``scores.attrs`` or ``uns[key]``), else ``score / fold_over_limit``.
    signature
        Which signature, when ``scores`` holds several.
    min_visits
        Patients with fewer visits than this are not followed (listed in ``excluded``).
    time_unit
        Label of the time axis: default ``"day"`` (days since the first visit for dates).
    key
        AnnData only: the ``key=`` used in :func:`ifnscore.score`.

    Returns
    -------
    Followup

    Raises
    ------
    ifnscore.errors.InputError
        Missing columns, samples without metadata, non-numeric clinical values, two samples of
        one patient at the same time, malformed treatments, or no upper limit known.

    Notes
    -----
    See :mod:`ifnscore.longitudinal` for the definitions. Percent change from baseline:

    .. math:: \Delta_t = 100\,\frac{s_t - s_{t_0}}{s_{t_0}}

    The bundled example follows a simulated patient modelled on the published case of
    anti-MDA5 juvenile dermatomyositis treated with baricitinib (doi:10.3390/jcm15020709).

    Examples
    --------
    >>> import ifnscore
    >>> from ifnscore.datasets import example_files, load_example
    >>> counts, samples = load_example(as_frame=True)
    >>> ref = ifnscore.calibrate(counts[samples["group"] == "control"], signature="rice6")
    >>> res = ifnscore.score(counts, reference=ref)
    >>> fu = ifnscore.follow(res, samples, clinical="cmas",
    ...                      treatments=example_files()["treatments"])
    >>> fu.patients
    ['JDM01']
    >>> row = fu.summary.loc["JDM01"]
    >>> float(row["time_to_normalisation"]), int(row["n_relapses"])
    (168.0, 0)
    >>> round(float(row["rho_cmas"]), 3)
    -0.983
    """
    adata = scores if _is_anndata(scores) else None
    if adata is not None:
        series, limit_rec, sig_name = _scores_from_anndata(adata, key, signature)
        if metadata is None:
            metadata = adata.obs
        if treatments is None and "treatments" in adata.uns:
            treatments = adata.uns["treatments"]
    else:
        series, limit_rec, sig_name = _scores_from_frame(scores, signature)
    if metadata is None:
        raise InputError(
            "metadata= is required: a DataFrame indexed by sample (or AnnData, or a CSV path) "
            f"with the {patient!r} and {time!r} columns."
        )
    limit = _resolve_limit(upper_limit, limit_rec, series)
    meta = _read_table(metadata, "metadata", index=True)
    clin = _as_names(clinical)
    need = [patient, time, *clin]
    lost = [c for c in need if c not in meta.columns]
    if lost:
        raise InputError(
            f"metadata has no column(s) {lost}; it has {list(meta.columns)}. Pass patient=, time= "
            "or clinical= with the right names."
        )
    meta.index = meta.index.astype(str)
    series.index = series.index.astype(str)
    absent = [s for s in series.index if s not in meta.index]
    if absent:
        raise InputError(
            f"{len(absent)} scored samples have no row in metadata (first: {absent[:5]}); give "
            "metadata for every scored sample (indexed by sample name)."
        )
    if meta.index.duplicated().any():
        dup = meta.index[meta.index.duplicated()].unique().tolist()[:5]
        raise InputError(f"metadata has duplicated sample names {dup}; make them unique.")
    meta = meta.loc[series.index, need].copy()
    for c in clin:
        meta[c] = _numeric(meta[c], f"clinical column {c!r}")

    times, is_date = _times(meta[time], time)
    frame = pd.DataFrame(
        {"patient": meta[patient], "time_raw": times, "score": series.to_numpy(dtype=float)},
        index=series.index,
    )
    for c in clin:
        frame[c] = meta[c].to_numpy(dtype=float)
    frame.index.name = "sample"

    excluded = []
    no_pid = frame["patient"].isna()
    excluded += [(s, None, "no patient identifier") for s in frame.index[no_pid]]
    frame = frame[~no_pid]
    frame["patient"] = frame["patient"].astype(str)
    no_time = frame["time_raw"].isna()
    if no_time.any():
        names = frame.index[no_time].tolist()
        warn(
            f"{len(names)} samples have a patient but no {time!r} value and are not followed "
            f"(first: {names[:5]}); see Followup.excluded.",
            IfnscoreWarning,
        )
        excluded += [(s, frame.loc[s, "patient"], f"no {time!r} value") for s in names]
        frame = frame[~no_time]
    dup = frame.duplicated(["patient", "time_raw"], keep=False)
    if dup.any():
        clash = frame[dup].sort_values(["patient", "time_raw"])
        first = clash.iloc[0]
        same = clash[
            (clash["patient"] == first["patient"]) & (clash["time_raw"] == first["time_raw"])
        ]
        raise InputError(
            f"Patient {first['patient']!r} has several samples at {time}={first['time_raw']!r}: "
            f"{same.index.tolist()}. Average them (or keep one) first, or give distinct times."
        )
    counts = frame.groupby("patient")["score"].size()
    few = counts[counts < int(min_visits)].index
    for s in frame.index[frame["patient"].isin(few)]:
        excluded += [(s, frame.loc[s, "patient"], f"fewer than {int(min_visits)} visits")]
    frame = frame[~frame["patient"].isin(few)]

    origin = frame.groupby("patient")["time_raw"].transform("min")
    if is_date:
        frame["date"] = frame["time_raw"]
        frame["time"] = (frame["time_raw"] - origin).dt.total_seconds() / 86400.0
    else:
        frame["time"] = frame["time_raw"].astype(float)
    frame = frame.drop(columns="time_raw")
    frame = frame.sort_values(["patient", "time"], kind="stable")

    with np.errstate(invalid="ignore", divide="ignore"):
        frame["fold_over_limit"] = frame["score"] / limit
    above = pd.Series(pd.NA, index=frame.index, dtype="boolean")
    ok = np.isfinite(frame["score"].to_numpy())
    above[ok] = frame["score"].to_numpy()[ok] >= limit
    frame["above_limit"] = above
    frame["pct_change"] = np.nan
    frame["relapse"] = False

    rows = []
    corr_rows = []
    for pid, v in frame.groupby("patient", sort=False):
        row, pct, relapse = _patient_summary(v, limit)
        frame.loc[v.index, "pct_change"] = pct
        frame.loc[v.index, "relapse"] = relapse
        for c in clin:
            n, rho, p = _spearman(v["score"].to_numpy(), v[c].to_numpy())
            row[f"rho_{c}"] = rho
            row[f"n_{c}"] = n
            corr_rows.append({"patient": pid, "measure": c, "n": n, "rho": rho, "p_value": p})
        rows.append(row)

    cols = ["patient", "time", *(["date"] if is_date else []), "score", "fold_over_limit"]
    cols += ["above_limit", "pct_change", "relapse", *clin]
    visits = frame[cols]
    summary = pd.DataFrame(
        rows, columns=_SUMMARY_COLUMNS + [f"{k}_{c}" for c in clin for k in ("rho", "n")]
    )
    summary = summary.set_index("patient")
    summary["above_at_baseline"] = summary["above_at_baseline"].astype("boolean")
    correlations = pd.DataFrame(corr_rows, columns=["patient", "measure", "n", "rho", "p_value"])
    treat = _treatments(treatments, frame, origin if is_date else None, is_date)
    excl = pd.DataFrame(excluded, columns=["sample", "patient", "reason"]).set_index("sample")
    return Followup(
        visits=visits,
        summary=summary,
        treatments=treat,
        correlations=correlations,
        excluded=excl,
        upper_limit=limit,
        time_unit=time_unit or "day",
        clinical=tuple(clin),
        signature=sig_name,
    )


_SUMMARY_COLUMNS = [
    "patient",
    "n_visits",
    "n_scored",
    "baseline_time",
    "baseline",
    "peak_time",
    "peak",
    "latest_time",
    "latest",
    "latest_fold_over_limit",
    "latest_pct_change",
    "above_at_baseline",
    "last_above_time",
    "first_below_time",
    "time_to_normalisation",
    "n_relapses",
    "relapse_times",
]


def _patient_summary(
    v: pd.DataFrame, limit: float
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Summary row, per-visit percent change and relapse flags of one patient's visits
    (sorted by time)."""
    s = v["score"].to_numpy(dtype=float)
    t = v["time"].to_numpy(dtype=float)
    ok = np.isfinite(s)
    pct = np.full(s.size, np.nan)
    relapse = np.zeros(s.size, dtype=bool)
    nan = float("nan")
    row: dict[str, Any] = {
        "patient": v["patient"].iloc[0],
        "n_visits": int(s.size),
        "n_scored": int(ok.sum()),
    }
    if not ok.any():
        row.update(dict.fromkeys(_SUMMARY_COLUMNS[3:], nan))
        row.update(above_at_baseline=pd.NA, n_relapses=0, relapse_times=())
        return row, pct, relapse
    idx = np.flatnonzero(ok)
    ss, ts = s[idx], t[idx]
    above = ss >= limit
    base = ss[0]
    if base > 0:
        pct[idx] = 100.0 * (ss - base) / base
    ipeak = int(np.argmax(ss))
    back = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    relapse[idx[back]] = True
    below = np.flatnonzero(~above)
    first_below = float(ts[below[0]]) if below.size else nan
    last_above = float(ts[: below[0]][-1]) if below.size and below[0] > 0 else nan
    row.update(
        baseline_time=float(ts[0]),
        baseline=float(base),
        peak_time=float(ts[ipeak]),
        peak=float(ss[ipeak]),
        latest_time=float(ts[-1]),
        latest=float(ss[-1]),
        latest_fold_over_limit=float(ss[-1] / limit),
        latest_pct_change=float(pct[idx[-1]]),
        above_at_baseline=bool(above[0]),
        last_above_time=last_above if above[0] else nan,
        first_below_time=first_below,
        time_to_normalisation=first_below - float(ts[0]) if above[0] else nan,
        n_relapses=int(back.size),
        relapse_times=tuple(float(x) for x in ts[back]),
    )
    return row, pct, relapse


def _spearman(a: np.ndarray, b: np.ndarray) -> tuple[int, float, float]:
    ok = np.isfinite(a) & np.isfinite(b)
    n = int(ok.sum())
    if n < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return n, float("nan"), float("nan")
    from scipy.stats import spearmanr

    res = spearmanr(a[ok], b[ok])
    return n, float(res.statistic), float(res.pvalue)


def _is_anndata(obj: object) -> bool:
    return type(obj).__name__ == "AnnData" and hasattr(obj, "obs") and hasattr(obj, "uns")


def _scores_from_frame(
    scores: Any, signature: str | None
) -> tuple[pd.Series, tuple[float | None, pd.Series | None], str | None]:
    """The score Series, what is known of the limit (recorded value, fold column), and the
    signature name."""
    meta = getattr(scores, "attrs", {}).get("ifnscore", {}) if hasattr(scores, "attrs") else {}
    sig_meta = meta.get("signatures", {}) if isinstance(meta, Mapping) else {}
    if isinstance(scores, pd.Series):
        name = signature or (next(iter(sig_meta)) if len(sig_meta) == 1 else None)
        return scores.astype(float), (_recorded(sig_meta, name), None), name
    if not isinstance(scores, pd.DataFrame):
        raise InputError(
            f"scores must be the DataFrame from ifnscore.score (or a Series of scores, or a scored "
            f"AnnData), got {type(scores).__name__}."
        )
    frame = scores
    if isinstance(scores.columns, pd.MultiIndex):
        names = list(dict.fromkeys(scores.columns.get_level_values(0)))
        if signature is None:
            raise InputError(
                f"scores holds several signatures {names}; choose one with signature=."
            )
        if signature not in names:
            raise InputError(f"signature={signature!r} is not in scores; it holds {names}.")
        frame = scores[signature]
        name = signature
    else:
        name = signature or (next(iter(sig_meta)) if len(sig_meta) == 1 else None)
    if "score" not in frame.columns:
        raise InputError(
            f"scores has no 'score' column (columns: {list(frame.columns)[:10]}); pass the "
            "DataFrame returned by ifnscore.score or a Series of scores."
        )
    fold = frame["fold_over_limit"] if "fold_over_limit" in frame.columns else None
    return frame["score"].astype(float), (_recorded(sig_meta, name), fold), name


def _scores_from_anndata(
    adata: Any, key: str, signature: str | None
) -> tuple[pd.Series, tuple[float | None, pd.Series | None], str | None]:
    meta = adata.uns.get(key, {})
    sig_meta = meta.get("signatures", {}) if isinstance(meta, Mapping) else {}
    sigs = list(sig_meta)
    if len(sigs) > 1:
        if signature is None:
            raise InputError(
                f"AnnData uns[{key!r}] holds several signatures {sigs}; choose one with signature=."
            )
        col = f"{key}_{signature}"
    else:
        col = key
        signature = signature or (sigs[0] if sigs else None)
    if col not in adata.obs.columns:
        raise InputError(
            f"AnnData has no obs[{col!r}]; score it first with ifnscore.score(adata, ..., key={key!r})."
        )
    fold = adata.obs.get(f"{col}_fold_over_limit")
    return adata.obs[col].astype(float), (_recorded(sig_meta, signature), fold), signature


def _recorded(sig_meta: Any, name: str | None) -> float | None:
    if not isinstance(sig_meta, Mapping) or name not in sig_meta:
        return None
    value = sig_meta[name].get("upper_limit")
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _resolve_limit(
    upper_limit: float | None, rec: tuple[float | None, pd.Series | None], scores: pd.Series
) -> float:
    recorded, fold = rec
    if upper_limit is not None:
        try:
            value = float(upper_limit)
        except (TypeError, ValueError):
            raise InputError(f"upper_limit={upper_limit!r} must be a number.") from None
    elif recorded is not None:
        value = recorded
    elif fold is not None:
        # the scores lost their attrs (e.g. after a join): the limit is score / fold_over_limit
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = scores.to_numpy(dtype=float) / np.asarray(fold, dtype=float)
        ratio = ratio[np.isfinite(ratio)]
        value = float(np.median(ratio)) if ratio.size else float("nan")
    else:
        value = float("nan")
    if not (np.isfinite(value) and value > 0):
        raise InputError(
            "No upper limit is known: pass upper_limit= (e.g. reference.upper_limit), or the "
            "DataFrame returned by ifnscore.score with a reference (it records the limit)."
        )
    return value


def _as_names(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _read_table(obj: Any, arg: str, *, index: bool) -> pd.DataFrame:
    """A copy of a DataFrame, an AnnData's obs, a dict of lists, or a CSV/TSV file."""
    if _is_anndata(obj):
        return obj.obs.copy()
    if isinstance(obj, pd.DataFrame):
        return obj.copy()
    if isinstance(obj, Mapping):
        try:
            return pd.DataFrame({k: list(v) for k, v in obj.items()})
        except (TypeError, ValueError) as exc:
            raise InputError(f"{arg}: cannot make a table of this dict ({exc}).") from None
    if isinstance(obj, str | os.PathLike):
        path = Path(obj)
        name = path.name.lower()
        sep = "\t" if any(name.endswith(s) for s in (".tsv", ".tsv.gz", ".txt", ".txt.gz")) else ","
        try:
            return pd.read_csv(path, sep=sep, index_col=0 if index else None)
        except OSError as exc:
            raise InputError(f"{arg}: cannot read {str(path)!r} ({exc.strerror or exc}).") from None
    raise InputError(
        f"{arg} must be a DataFrame, an AnnData, or the path of a CSV/TSV file, got "
        f"{type(obj).__name__}."
    )


def _blank_to_nan(col: pd.Series) -> pd.Series:
    """Empty or whitespace-only strings are missing values."""
    if col.dtype != object:
        return col
    blank = col.map(lambda x: isinstance(x, str) and not x.strip())
    return col.mask(blank.astype(bool))


def _numeric(col: pd.Series, what: str) -> pd.Series:
    col = _blank_to_nan(col)
    out = pd.to_numeric(col, errors="coerce")
    bad = col.notna() & out.isna()
    if bad.any():
        raise InputError(
            f"{what} has non-numeric values (first: {col[bad].iloc[0]!r} at {col[bad].index[0]!r}); "
            "give numbers, or leave the cell empty for a missing value."
        )
    return out.astype(float)


def _times(col: pd.Series, name: str) -> tuple[pd.Series, bool]:
    """Numeric times, or datetimes (``is_date=True``)."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return pd.to_datetime(col), True
    num = pd.to_numeric(col, errors="coerce")
    bad = col.notna() & num.isna()
    if not bad.any():
        return num.astype(float), False
    try:
        dates = pd.to_datetime(col, errors="raise", format="ISO8601")
    except (TypeError, ValueError):
        raise InputError(
            f"time column {name!r} holds values that are neither numbers nor ISO dates (first: "
            f"{col[bad].iloc[0]!r}); give days (numbers) or dates such as '2025-03-01'."
        ) from None
    return dates, True


def _treatments(
    obj: Any, frame: pd.DataFrame, origin: pd.Series | None, is_date: bool
) -> pd.DataFrame:
    cols = [*_TREATMENT_COLUMNS, "ongoing"]
    if obj is None:
        return pd.DataFrame(columns=cols)
    t = _read_table(obj, "treatments", index=False)
    lost = [c for c in ("patient", "drug", "start") if c not in t.columns]
    if lost:
        raise InputError(
            f"treatments has no column(s) {lost}; it needs patient, drug, start and stop (empty "
            f"stop: ongoing). It has {list(t.columns)}."
        )
    if "stop" not in t.columns:
        t["stop"] = np.nan
    t = t[list(_TREATMENT_COLUMNS)].copy()
    t["patient"] = t["patient"].astype(str)
    t["drug"] = t["drug"].astype(str)
    t = t[t["patient"].isin(frame["patient"].unique())]
    if is_date:
        first = frame.assign(o=origin).groupby("patient")["o"].first()
        for c in ("start", "stop"):
            t[c] = _blank_to_nan(t[c])
            d = pd.to_datetime(t[c], errors="coerce", format="ISO8601")
            bad = t[c].notna() & d.isna()
            if bad.any():
                raise InputError(
                    f"treatments {c!r} has values that are not dates (first: {t[c][bad].iloc[0]!r}); "
                    "visit times are dates, so give treatment dates too."
                )
            t[c] = (d - t["patient"].map(first)).dt.total_seconds() / 86400.0
    else:
        for c in ("start", "stop"):
            t[c] = _numeric(t[c], f"treatments column {c!r}")
    if t["start"].isna().any():
        raise InputError(
            f"treatments has rows without a start (drug {t['drug'][t['start'].isna()].iloc[0]!r}); "
            "every period needs a start."
        )
    wrong = t["stop"].notna() & (t["stop"] < t["start"])
    if wrong.any():
        r = t[wrong].iloc[0]
        raise InputError(
            f"treatments: {r['drug']!r} for patient {r['patient']!r} stops ({r['stop']}) before it "
            f"starts ({r['start']}); fix the dates."
        )
    t["ongoing"] = t["stop"].isna()
    return t.reset_index(drop=True)
