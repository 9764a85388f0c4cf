r"""Follow patients over time: per-visit and per-patient summaries of an IFN score.

:func:`follow` joins the scores from :func:`ifnscore.score` with sample metadata (patient,
time of the visit, optional clinical measures such as the CMAS muscle score) and treatment
periods, and returns a :class:`Followup` with one row per visit, one row per patient, the
treatments, and the score–clinical correlations. The figures in :mod:`ifnscore.plot` and the
HTML report in :mod:`ifnscore.report` are drawn from it.

Definitions (per patient, over the visits with a finite score, in time order; :math:`L` is the
upper limit, :math:`s_t` the score at visit time :math:`t`, :math:`m` the ``margin=``, :math:`c`
the ``confirm=``):

* baseline :math:`s_{t_0}`: the first scored visit (``baseline="first"``) or the last scored
  visit at or before the patient's first treatment start (``baseline="pre_treatment"``); peak
  :math:`\max_t s_t` over all scored visits (the earliest on ties); latest
  :math:`s_{t_{\mathrm{last}}}`;
* fold over the limit :math:`s_t / L` (as in :func:`ifnscore.score`); the per-visit
  ``above_limit`` is the plain :math:`s_t \ge L`, the rule :func:`ifnscore.score` uses for
  ``positive``;
* percent change from baseline :math:`100\,(s_t - s_{t_0}) / s_{t_0}`, defined only when
  :math:`s_{t_0} > 0` (not for z-score or other signed methods, where it would mislead);
* state of a visit, with the margin: *above* when :math:`s_t \ge L(1+m)`, *below* when
  :math:`s_t < L(1-m)`, *between* otherwise (only when :math:`m > 0`). With :math:`m = 0` this
  is the plain comparison :math:`s_t \ge L`;
* the patient's state starts as that of the baseline visit (above, below, or undetermined when
  it is between) and changes only when :math:`c` consecutive scored visits are in the opposite
  state; a visit between, or in the current state, breaks such a run. The change is dated at
  the first visit of the run. Visits before the baseline are not used;
* normalisation: a change from above to below. Time to normalisation (patients above at
  baseline): :math:`t_1 - t_0` with :math:`t_1` the first visit of the first normalisation
  (``first_below_time``). Visits are discrete, so the true crossing lies after the last visit
  above before that run (``last_above_time``) and at or before :math:`t_1`; both ends are
  reported. ``normalisation_times`` lists every normalisation;
* re-elevation: a change from below to above after a normalisation, i.e. the patient was above
  the limit, came below it (a normalisation) and is above it again. A patient below (or
  undetermined) at baseline who rises has a *first elevation* (``first_elevation_time``), not a
  re-elevation; after it has normalised, a further rise is a re-elevation;
* correlation with a clinical measure, per patient (descriptive only): Spearman's :math:`\rho`
  over the visits where both the score and the measure are finite, with that number :math:`n`;
  not computed (NaN) for :math:`n < 3` or a constant series. No p-value is given: one
  patient's serial visits are not independent observations;
* correlation with a clinical measure over the cohort (inferential): the repeated-measures
  correlation :math:`r_{rm}` of Bakdash & Marusich (2017), the common within-patient
  association. With :math:`x` the score and :math:`y` the measure, centred on each patient's
  own means over the :math:`N` paired visits of the :math:`k` patients with at least two,

  .. math:: r_{rm} = \frac{\sum (x - \bar x_i)(y - \bar y_i)}
                          {\sqrt{\sum (x - \bar x_i)^2 \sum (y - \bar y_i)^2}},

  the ANCOVA slope's correlation with :math:`N - k - 1` degrees of freedom; the two-sided
  p-value from :math:`t = r_{rm}\sqrt{\mathrm{df} / (1 - r_{rm}^2)}` and the 95% confidence
  interval :math:`\tanh(\operatorname{atanh} r_{rm} \pm 1.96 / \sqrt{\mathrm{df} - 1})` (the
  Fisher interval of the authors' ``rmcorr`` R package, with :math:`n = \mathrm{df} + 2`).
  The p-value and interval need at least two patients (with one, :math:`r_{rm}` is that
  patient's Pearson r, and a p-value would again treat serial visits as independent). Like
  any ANCOVA, it assumes independent residuals once each patient's own level is removed; it
  does not model how close in time the visits are.

Irregular visits need no special handling: every quantity uses the visit times as given, and
nothing is interpolated. Missing values: a visit without a score stays in ``visits`` (its
clinical values are still shown) but is left out of every score statistic (it neither
confirms nor breaks a run); a missing clinical value only removes that visit from that
measure's correlations. Samples without a patient or time are not followed and are listed,
with the reason, in :attr:`Followup.excluded`. Two samples of one patient at the same time
raise an error (average them or give distinct times).

Times are numbers (days by default, see ``time_unit=``) or dates. Dates (datetime values, or
ISO strings such as ``2025-03-01``) become days since that patient's first visit, and treatment
dates are converted with the same origin.

References
----------
Bakdash JZ, Marusich LR (2017). Repeated measures correlation. *Front Psychol* 8:456.
doi:10.3389/fpsyg.2017.00456
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._io._frame import read_frame
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
        ``fold_over_limit``, ``above_limit`` (bool; the plain ``score >= upper_limit``,
        whatever the margin; NA without a score), ``pct_change`` (percent change from the
        patient's baseline), ``re_elevation`` (bool; True at the first visit of each
        re-elevation), then one column per clinical measure.
    summary : pandas.DataFrame
        One row per followed patient (indexed by patient): ``n_visits``, ``n_scored``,
        ``baseline_time``, ``baseline``, ``peak_time``, ``peak``, ``latest_time``, ``latest``,
        ``latest_fold_over_limit``, ``latest_pct_change``, ``above_at_baseline`` (boolean;
        the baseline visit's state with the margin, NA when it is between), then for a
        patient above at baseline ``last_above_time``, ``first_below_time`` and
        ``time_to_normalisation`` (NaN otherwise, or when not normalised), then
        ``normalisation_times`` (tuple, every normalisation), ``first_elevation_time`` (a
        patient not above at baseline: the first rise above, else NaN),
        ``n_re_elevations``, ``re_elevation_times`` (tuple) and, per clinical measure ``m``,
        ``rho_m`` and ``n_m`` (Spearman, descriptive).
    treatments : pandas.DataFrame
        ``patient``, ``drug``, ``start``, ``stop`` (on the visits' time axis; ``stop`` NaN
        while ongoing) and ``ongoing`` (bool), for the followed patients.
    correlations : pandas.DataFrame
        Per patient, descriptive: one row per patient and clinical measure with ``patient``,
        ``measure``, ``n`` and ``rho`` (Spearman). No p-value: serial visits of one patient
        are not independent.
    rm_correlation : pandas.DataFrame
        Over the cohort, inferential: one row per clinical measure (indexed by ``measure``)
        with the repeated-measures correlation (Bakdash & Marusich 2017) ``r_rm``, ``dof``
        (:math:`N - k - 1`), ``p_value`` (two-sided), ``ci_low`` and ``ci_high`` (95%),
        ``n_obs`` (:math:`N`, paired visits) and ``n_patients`` (:math:`k`, patients with at
        least two paired visits). NaN where it cannot be computed: ``p_value`` and the
        interval need two or more patients (with one, ``r_rm`` is that patient's
        Pearson r, descriptive only), the interval also ``dof >= 2``; everything needs
        ``dof >= 1`` and within-patient variation of both.
    excluded : pandas.DataFrame
        Samples that were not followed, with ``patient`` and ``reason``.
    upper_limit : float
    time_unit : str
    clinical : tuple of str
    signature : str or None
    margin : float
        The ``margin=`` the states were called with.
    confirm : int
        The ``confirm=`` the states were called with.
    baseline : str
        ``"first"`` or ``"pre_treatment"``.

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
    rm_correlation: pd.DataFrame
    excluded: pd.DataFrame
    upper_limit: float
    time_unit: str
    clinical: tuple[str, ...]
    signature: str | None = None
    margin: float = 0.0
    confirm: int = 1
    baseline: str = "first"
    borderline: tuple[float, float] | None = None

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
    baseline: str = "first",
    margin: float = 0.0,
    confirm: int = 1,
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
    baseline
        ``"first"`` (default): the patient's first scored visit. ``"pre_treatment"``: the last
        scored visit at or before the patient's first treatment start (a visit on the start
        day counts as pre-treatment, as the sample is usually drawn before the first dose;
        give a later time for a sample drawn after it). Needs ``treatments=`` with a row for
        every followed patient. Only the baseline-anchored quantities change (``baseline``,
        percent change, the states, normalisation, elevations); visits before the baseline
        stay in ``visits`` and in peak, latest and the correlations.
    margin
        A fraction in [0, 1): a visit is above only when ``score >= upper_limit * (1 +
        margin)`` and below only when ``score < upper_limit * (1 - margin)``; in between it
        neither confirms nor changes the state. Default 0: the plain comparison with the
        limit, the rule :func:`ifnscore.score` uses for ``positive``, so every visit is above
        or below. ifnscore cannot know the assay's imprecision; set the margin from it (e.g.
        0.10 for a 10% between-run variation) so that a wobble around the limit (13 → 12 →
        12.6 around 12.49) is not called a normalisation and a re-elevation.
    confirm
        Number of consecutive scored visits (>= 1) in the opposite state needed to call a
        change of state (normalisation, elevation, re-elevation). Default 1: each visit
        stands on its own, as the follow-up visits are weeks or months apart and waiting for
        a second one delays every call by a visit; the state at baseline is that of the
        baseline visit alone.

    Returns
    -------
    Followup

    Raises
    ------
    ifnscore.errors.InputError
        Missing columns, samples without metadata, non-numeric clinical values, two samples of
        one patient at the same time, malformed treatments, no upper limit known, a
        ``baseline=``, ``margin=`` or ``confirm=`` out of range, or (``baseline="pre_treatment"``)
        no treatments, or a patient without a treatment or without a scored visit before it.

    Notes
    -----
    See :mod:`ifnscore.longitudinal` for the definitions. Percent change from baseline:

    .. math:: \Delta_t = 100\,\frac{s_t - s_{t_0}}{s_{t_0}}

    The repeated-measures correlation (in :attr:`Followup.rm_correlation`) follows Bakdash &
    Marusich (2017, doi:10.3389/fpsyg.2017.00456): the within-patient (ANCOVA) correlation
    with :math:`N - k - 1` degrees of freedom. It is the figure to test or quote with a
    confidence interval; the per-patient Spearman :math:`\rho` (:attr:`Followup.correlations`,
    ``rho_<measure>`` in ``summary``) only describes each patient.

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
    >>> float(row["time_to_normalisation"]), int(row["n_re_elevations"])
    (168.0, 0)
    >>> round(float(row["rho_cmas"]), 3)
    -0.983
    >>> int(fu.rm_correlation.loc["cmas", "dof"])  # N - k - 1 = 9 - 1 - 1
    7
    """
    margin, confirm = _check_rules(baseline, margin, confirm)
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
    method = (
        getattr(scores, "attrs", {}).get("ifnscore", {}).get("method") if adata is None else None
    )
    if adata is not None:
        method = adata.uns.get(key, {}).get("method")
    limit = _resolve_limit(upper_limit, limit_rec, series, method)
    meta = read_frame(metadata, arg="metadata")
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
    frame["re_elevation"] = False

    treat = _treatments(treatments, frame, origin if is_date else None, is_date)
    starts = _first_starts(treat, frame, baseline, treatments is not None, time)
    rules = _Rules(limit=limit, margin=margin, confirm=confirm)
    rows = []
    corr_rows = []
    for pid, v in frame.groupby("patient", sort=False):
        row, pct, flags = _patient_summary(v, rules, starts.get(str(pid)), time)
        frame.loc[v.index, "pct_change"] = pct
        frame.loc[v.index, "re_elevation"] = flags
        for c in clin:
            n, rho = _spearman(v["score"].to_numpy(), v[c].to_numpy())
            row[f"rho_{c}"] = rho
            row[f"n_{c}"] = n
            corr_rows.append({"patient": pid, "measure": c, "n": n, "rho": rho})
        rows.append(row)

    cols = ["patient", "time", *(["date"] if is_date else []), "score", "fold_over_limit"]
    cols += ["above_limit", "pct_change", "re_elevation", *clin]
    visits = frame[cols]
    summary = pd.DataFrame(
        rows, columns=_SUMMARY_COLUMNS + [f"{k}_{c}" for c in clin for k in ("rho", "n")]
    )
    summary = summary.set_index("patient")
    summary["above_at_baseline"] = summary["above_at_baseline"].astype("boolean")
    correlations = pd.DataFrame(corr_rows, columns=["patient", "measure", "n", "rho"])
    rm = pd.DataFrame(
        [{"measure": c, **_rm_corr(frame["patient"], frame["score"], frame[c])} for c in clin],
        columns=["measure", *_RM_COLUMNS],
    ).set_index("measure")
    excl = pd.DataFrame(excluded, columns=["sample", "patient", "reason"]).set_index("sample")
    return Followup(
        visits=visits,
        summary=summary,
        treatments=treat,
        correlations=correlations,
        rm_correlation=rm,
        excluded=excl,
        upper_limit=limit,
        time_unit=time_unit or "day",
        clinical=tuple(clin),
        signature=sig_name,
        margin=margin,
        confirm=confirm,
        baseline=baseline,
        borderline=_borderline(scores, key, sig_name, limit) if adata is None else None,
    )


def _borderline(
    scores: Any, key: str, signature: str | None, limit: float
) -> tuple[float, float] | None:
    """The borderline zone :func:`ifnscore.score` recorded for this limit (``call_zone``), when
    the scores carry it and the limit followed is the one it was made for."""
    meta = getattr(scores, "attrs", {}).get("ifnscore", {})
    sig = meta.get("signatures", {}).get(signature) if isinstance(meta, Mapping) else None
    if not isinstance(sig, Mapping) or sig.get("upper_limit") != limit or not sig.get("call_zone"):
        return None
    lo, hi = (float(x) for x in sig["call_zone"])
    return (lo, hi) if lo < hi else None


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
    "normalisation_times",
    "first_elevation_time",
    "n_re_elevations",
    "re_elevation_times",
]
_TUPLE_COLUMNS = ("normalisation_times", "re_elevation_times")
_RM_COLUMNS = ["r_rm", "dof", "p_value", "ci_low", "ci_high", "n_obs", "n_patients"]
_BASELINES = ("first", "pre_treatment")


@dataclass(frozen=True)
class _Rules:
    """How visits are called above or below (see :func:`follow`)."""

    limit: float
    margin: float
    confirm: int


def _check_rules(baseline: Any, margin: Any, confirm: Any) -> tuple[float, int]:
    """``margin`` as a float and ``confirm`` as an int, or an InputError naming the argument."""
    if baseline not in _BASELINES:
        raise InputError(
            f"baseline={baseline!r} is not a baseline rule; use 'first' (the first visit) or "
            "'pre_treatment' (the last visit at or before the first treatment start)."
        )
    try:
        m = float(margin)
    except (TypeError, ValueError):
        m = float("nan")
    if isinstance(margin, bool) or not (0.0 <= m < 1.0):
        raise InputError(
            f"margin={margin!r} must be a fraction in [0, 1), e.g. 0.1 for a band of 10% "
            "around the limit (0: the plain comparison with the limit)."
        )
    if isinstance(confirm, bool) or not isinstance(confirm, int | np.integer) or confirm < 1:
        raise InputError(
            f"confirm={confirm!r} must be a whole number of visits, 1 or more (1: each visit "
            "stands on its own)."
        )
    return m, int(confirm)


def _first_starts(
    treat: pd.DataFrame, frame: pd.DataFrame, baseline: str, given: bool, time: str
) -> dict[str, tuple[float, str]]:
    """Per patient, the first treatment start and its drug (``baseline="pre_treatment"``
    only; empty otherwise)."""
    if baseline != "pre_treatment":
        return {}
    patients = list(dict.fromkeys(frame["patient"]))
    if not given:
        raise InputError(
            "baseline='pre_treatment' needs treatments= (patient, drug, start, stop) to find "
            f"the visit before treatment of patients {patients[:5]}"
            f"{' ...' if len(patients) > 5 else ''}; pass treatments= or use baseline='first'."
        )
    out: dict[str, tuple[float, str]] = {}
    for pid in patients:
        t = treat[treat["patient"] == pid]
        if t.empty:
            raise InputError(
                f"baseline='pre_treatment': patient {pid!r} has no row in treatments=, so no "
                f"visit before treatment can be found; add the patient's treatments or use "
                "baseline='first'."
            )
        i = int(np.argmin(t["start"].to_numpy(dtype=float)))
        out[pid] = (float(t["start"].iloc[i]), str(t["drug"].iloc[i]))
    return out


def _states(s: np.ndarray, rules: _Rules) -> np.ndarray:
    """Per visit: 1 above ``L(1+m)``, -1 below ``L(1-m)``, 0 between."""
    hi = rules.limit * (1.0 + rules.margin)
    lo = rules.limit * (1.0 - rules.margin)
    return np.where(s >= hi, 1, np.where(s < lo, -1, 0))


def _changes(state: np.ndarray, confirm: int) -> list[tuple[int, int, int, int]]:
    """The confirmed changes of state of a visit sequence that starts at its baseline.

    ``state`` holds 1 (above), -1 (below) or 0 (between) per scored visit. Returns
    ``(first, old, new, last_old)`` per change: the index of the first visit of the confirming
    run of ``confirm`` consecutive visits in state ``new``, the state before (0: undetermined,
    only before the first change), and the index of the last visit in state ``old`` before
    that run (-1 when ``old`` is 0).
    """
    current = int(state[0])
    last_old = 0 if current != 0 else -1
    out = []
    run_start, run_len = -1, 0
    for i in range(1, state.size):
        c = int(state[i])
        if c == 0 or c == current:
            run_len = 0  # a visit between, or back in the current state, breaks the run
            if c != 0:
                last_old = i
            continue
        if run_len == 0:
            run_start = i
        run_len += 1
        if run_len >= confirm:
            out.append((run_start, current, c, last_old))
            current, last_old, run_len = c, i, 0
    return out


def _patient_summary(
    v: pd.DataFrame, rules: _Rules, start: tuple[float, str] | None, time: str
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Summary row, per-visit percent change and re-elevation flags of one patient's visits
    (sorted by time); ``start`` is the first treatment (``baseline="pre_treatment"``)."""
    s = v["score"].to_numpy(dtype=float)
    t = v["time"].to_numpy(dtype=float)
    pid = v["patient"].iloc[0]
    ok = np.isfinite(s)
    pct = np.full(s.size, np.nan)
    flags = np.zeros(s.size, dtype=bool)
    nan = float("nan")
    row: dict[str, Any] = {"patient": pid, "n_visits": int(s.size), "n_scored": int(ok.sum())}
    idx = np.flatnonzero(ok)
    if start is not None:
        before = idx[t[idx] <= start[0]]
        if before.size == 0:
            raise InputError(
                f"baseline='pre_treatment': patient {pid!r} has no scored visit at or before "
                f"the first treatment start ({start[1]} at {time} {start[0]:g}); the first "
                f"visit is at {time} {t[0]:g}. Use baseline='first' or add the pre-treatment "
                "sample."
            )
        idx = idx[idx >= before[-1]]
    if not ok.any():
        row.update(dict.fromkeys(_SUMMARY_COLUMNS[3:], nan))
        row.update(above_at_baseline=pd.NA, n_re_elevations=0)
        row.update(dict.fromkeys(_TUPLE_COLUMNS, ()))
        return row, pct, flags
    every = np.flatnonzero(ok)
    ipeak = int(every[np.argmax(s[every])])
    ss, ts = s[idx], t[idx]
    base = ss[0]
    if base > 0:
        pct[every] = 100.0 * (s[every] - base) / base
    state = _states(ss, rules)
    changes = _changes(state, rules.confirm)
    normalisations = [(i, last) for i, old, new, last in changes if old == 1 and new == -1]
    # a rise counts as a re-elevation only after a normalisation (above, then below)
    re_el = [
        i
        for i, old, new, _ in changes
        if new == 1 and old == -1 and normalisations and normalisations[0][0] < i
    ]
    first_rise = [i for i, _old, new, _ in changes if new == 1 and i not in re_el]
    flags[idx[re_el]] = True
    above0 = state[0] == 1
    first_below = last_above = nan
    if above0 and normalisations:
        first_below, last_above = float(ts[normalisations[0][0]]), float(ts[normalisations[0][1]])
    row.update(
        baseline_time=float(ts[0]),
        baseline=float(base),
        peak_time=float(t[ipeak]),
        peak=float(s[ipeak]),
        latest_time=float(t[every[-1]]),
        latest=float(s[every[-1]]),
        latest_fold_over_limit=float(s[every[-1]] / rules.limit),
        latest_pct_change=float(pct[every[-1]]),
        above_at_baseline=pd.NA if state[0] == 0 else bool(above0),
        last_above_time=last_above,
        first_below_time=first_below,
        time_to_normalisation=first_below - float(ts[0]),
        normalisation_times=tuple(float(ts[i]) for i, _ in normalisations),
        first_elevation_time=float(ts[first_rise[0]]) if first_rise and not above0 else nan,
        n_re_elevations=len(re_el),
        re_elevation_times=tuple(float(ts[i]) for i in re_el),
    )
    return row, pct, flags


def _spearman(a: np.ndarray, b: np.ndarray) -> tuple[int, float]:
    """Spearman's rho of the pairs where both are finite, and their number (descriptive:
    NaN for fewer than 3 pairs or a constant series)."""
    ok = np.isfinite(a) & np.isfinite(b)
    n = int(ok.sum())
    if n < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return n, float("nan")
    from scipy.stats import spearmanr

    return n, float(spearmanr(a[ok], b[ok]).statistic)


def _rm_corr(patient: pd.Series, x: pd.Series, y: pd.Series) -> dict[str, Any]:
    r"""Repeated-measures correlation of ``x`` and ``y`` over the patients.

    The ANCOVA formulation of Bakdash & Marusich (2017, doi:10.3389/fpsyg.2017.00456):
    both variables centred on each patient's own means over the paired (both finite)
    visits of the :math:`k` patients with at least two; :math:`r_{rm}` is the correlation of
    the centred values, with :math:`N - k - 1` degrees of freedom, a two-sided t test, and the
    Fisher interval with :math:`n = \mathrm{df} + 2` (as the authors' ``rmcorr`` package).
    """
    from scipy import stats

    d = pd.DataFrame(
        {"p": patient.to_numpy(), "x": x.to_numpy(dtype=float), "y": y.to_numpy(dtype=float)}
    )
    d = d[np.isfinite(d["x"]) & np.isfinite(d["y"])]
    d = d[d.groupby("p")["x"].transform("size") >= 2]
    n_obs, k = len(d), int(d["p"].nunique())
    dof = n_obs - k - 1
    nan = float("nan")
    out: dict[str, Any] = dict.fromkeys(_RM_COLUMNS, nan)
    out.update(n_obs=n_obs, n_patients=k, dof=max(dof, 0))
    if dof < 1:
        return out
    xc = (d["x"] - d.groupby("p")["x"].transform("mean")).to_numpy()
    yc = (d["y"] - d.groupby("p")["y"].transform("mean")).to_numpy()
    sxx, syy, sxy = float(xc @ xc), float(yc @ yc), float(xc @ yc)
    if sxx <= 0 or syy <= 0:
        return out
    r = float(np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0))
    out.update(r_rm=r)
    if k < 2:
        # one patient: r_rm is that patient's Pearson r; a p-value would treat one patient's
        # serial visits as independent observations
        return out
    if abs(r) == 1.0:
        p, lo, hi = 0.0, r, r
    else:
        tstat = r * np.sqrt(dof / (1.0 - r * r))
        p = float(2.0 * stats.t.sf(abs(tstat), dof))
        lo = hi = nan
        if dof >= 2:
            half = stats.norm.ppf(0.975) / np.sqrt(dof - 1)
            lo, hi = float(np.tanh(np.arctanh(r) - half)), float(np.tanh(np.arctanh(r) + half))
    out.update(p_value=p, ci_low=lo, ci_high=hi)
    return out


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
    """The scores an AnnData holds under ``key``, read back by :mod:`ifnscore._results` (the
    one module that knows the layout)."""
    from ._results import from_anndata

    return _scores_from_frame(from_anndata(adata, key, arg="scores"), signature)


def _recorded(sig_meta: Any, name: str | None) -> float | None:
    if not isinstance(sig_meta, Mapping) or name not in sig_meta:
        return None
    value = sig_meta[name].get("upper_limit")
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _resolve_limit(
    upper_limit: Any, rec: tuple[float | None, pd.Series | None], scores: pd.Series, method: Any
) -> float:
    """The limit that defines above/below for the visits: ``upper_limit=`` (a number or a
    ``Limit``, validated as everywhere by :func:`ifnscore._limits.check_value`), else the one
    recorded with the scores, else exactly ``score / fold_over_limit`` when every visit agrees."""
    from ._limits import Limit, check_value

    recorded, fold = rec
    if upper_limit is not None:
        value = upper_limit.value if isinstance(upper_limit, Limit) else upper_limit
        return check_value(value, method=method, arg="upper_limit")
    if recorded is not None:
        return check_value(recorded, method=method, arg="the scores' recorded upper limit")
    if fold is not None:
        # the scores lost their attrs (e.g. after a join): the limit is score / fold_over_limit
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = scores.to_numpy(dtype=float) / np.asarray(fold, dtype=float)
        ratio = ratio[np.isfinite(ratio)]
        if ratio.size and np.allclose(ratio, ratio[0], rtol=1e-9, atol=0):
            return check_value(float(ratio[0]), method=method, arg="score / fold_over_limit")
        if ratio.size:
            raise InputError(
                "The scores carry no recorded limit and score / fold_over_limit differs between visits "
                "(several limits, e.g. partitions); pass upper_limit=."
            )
    raise InputError(
        "No upper limit is known: pass upper_limit= (e.g. reference.upper_limit), or the "
        "DataFrame returned by ifnscore.score with a reference (it records the limit)."
    )


def _as_names(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


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
    t = read_frame(obj, arg="treatments", index=False)
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
