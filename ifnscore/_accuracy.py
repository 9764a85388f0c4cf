r"""How well does each score separate type I interferon-stimulated samples from the rest?

The core of ``benchmarks/accuracy.py`` and ``ifnscore bench --accuracy``. A labelled dataset is
an expression file or folder (read once with :func:`ifnscore.read`) and a sample sheet (CSV)
with the columns

``sample``
    the sample's name as the reader gives it (a count file's stem, a table's column header);
``group``
    a free-text label (treatment, diagnosis), shown in the tables;
``type1``
    ``true`` (type I interferon-stimulated, or a type I interferon-driven disease), ``false``
    (unstimulated: the negatives) or empty (neither: another stimulus such as IFN-gamma or
    IL-1beta, scored but kept apart);
``control``
    ``true`` for the samples the limits are calibrated on (``false`` or empty otherwise);
    a control must have ``type1`` false.

Leading lines starting with ``#`` are comments (how the sheet was derived). Every sample of
the data must be in the sheet and every sheet sample in the data.

Every method x signature pair (:func:`ifnscore.list_methods`, :func:`ifnscore.list_signatures`)
is scored on the same in-memory data and reported as one row (:data:`COLUMNS`):

* ``auroc``: type1 true vs type1 false, ``auroc_vs_other``: type1 true vs empty type1, and
  ``auroc_other_vs_neg``: empty type1 vs type1 false (does another stimulus raise the score?),
  each by the Mann-Whitney identity (:func:`auroc`; Hanley & McNeil 1982,
  doi:10.1148/radiology.143.1.7063747), NaN where a class is empty;
* the limit from the control samples, and the calls at it (``positive``: score >= limit):
  ``tp``/``fn`` over type1 true, ``fp``/``tn`` over type1 false, ``pos_other`` over empty type1;
* ``margin_pos``: the lowest type1-true sample's ``fold_over_limit``; ``margin_neg``: the
  highest type1-false sample's (NaN for signed methods, where ``score / limit`` has no meaning);
* ``refused``: the one-line message of the typed ifnscore error that refused the pair (empty
  otherwise); ``note``: every warning raised while calibrating and scoring it.

How the limit is made:

* methods whose score of a sample does not depend on the other samples (``fc_*``, ``z_*`` and
  the single-sample methods): :func:`ifnscore.calibrate` on the control samples with
  ``upper_limit="controls"``, then :func:`ifnscore.score` with that reference, so the limit
  rules (CLSI EP28-A3c, their minimum numbers of controls, their refusals) are those a user
  meets;
* cohort-dependent methods (``gsva``, ``module_score``, ``zscore``, ``plage``): the whole
  dataset is scored once, and the limit is derived by the same EP28 rule
  (:func:`ifnscore._limits.controls_limit`) from the control samples' scores *in that run*;
  calibrating on the controls alone would score them in another cohort (the controls only),
  whose scores are on a different footing.

When only the limit is refused (too few controls for the rule, half the control scores equal),
the scores are still computed without a limit and the AUROCs reported, the calls left empty
(a reference-relative method is then calibrated with a stand-in limit, only to keep its control
centres); when the genes are refused (a control median of 0), there is no score.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import math
import os
import re
import sys
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import IfnscoreError, InputError

__all__ = [
    "COLUMNS",
    "add_arguments",
    "auroc",
    "evaluate",
    "main",
    "read_sheet",
    "run_from_args",
    "summary_markdown",
    "to_markdown",
]

#: The columns of ``accuracy.csv``, in order.
COLUMNS = (
    "method",
    "signature",
    "auroc",
    "auroc_vs_other",
    "margin_pos",
    "margin_neg",
    "tp",
    "fp",
    "tn",
    "fn",
    "refused",
    "note",
    "auroc_other_vs_neg",
    "pos_other",
    "limit",
    "limit_rule",
    "n_pos",
    "n_neg",
    "n_other",
    "n_controls",
)

#: The columns of ``scores.csv`` (one row per method x signature x sample).
SCORE_COLUMNS = (
    "method",
    "signature",
    "sample",
    "group",
    "type1",
    "control",
    "score",
    "positive",
    "fold_over_limit",
)

#: How ``refused`` starts when scoring failed with an untyped exception (a defect of ifnscore,
#: which must refuse with a typed error): the row is kept and the command exits 1.
BUG_PREFIX = "BUG (untyped exception, not a refusal):"

_REQUIRED = ("sample", "group", "type1", "control")
_TRUE = "true"
_FALSE = "false"


# ------------------------------------------------------------------------------- the statistic
def _midranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``, tied values sharing the mean of their ranks."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    below = np.concatenate(([0], np.cumsum(counts)[:-1]))  # values strictly below each unique
    return (below + (counts + 1) / 2.0)[inverse]


def auroc(positives: Iterable[float], negatives: Iterable[float]) -> float:
    r"""Area under the ROC curve of ``positives`` vs ``negatives`` (higher = positive).

    By the Mann-Whitney identity (Hanley & McNeil 1982, doi:10.1148/radiology.143.1.7063747):

    .. math:: \mathrm{AUC} = \frac{1}{n_+ n_-}\sum_{i \in +}\sum_{j \in -}
              \left([x_i > x_j] + \tfrac12 [x_i = x_j]\right)
              = \frac{R_+ - n_+(n_+ + 1)/2}{n_+ n_-}

    with :math:`R_+` the sum of the positives' mid-ranks in the pooled sample.

    Returns NaN when either class is empty; raises :class:`~ifnscore.errors.InputError` on a
    NaN or infinite value.

    >>> auroc([3.0, 2.0], [1.0, 2.0])  # pairs: 3>1, 3>2, 2>1, 2=2 (1/2) -> 3.5 / 4
    0.875
    """
    pos = np.asarray(list(positives), dtype=np.float64)
    neg = np.asarray(list(negatives), dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        return math.nan
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(neg))):
        raise InputError("auroc: every score must be finite; NaN or infinite scores were given.")
    ranks = _midranks(np.concatenate([pos, neg]))
    u = float(ranks[: pos.size].sum()) - pos.size * (pos.size + 1) / 2.0
    return u / (pos.size * neg.size)


# ------------------------------------------------------------------------------- the sample sheet
def read_sheet(path: str | os.PathLike) -> pd.DataFrame:
    """Read a sample sheet: a DataFrame indexed by ``sample`` with ``group`` (str), ``type1``
    (``True``, ``False`` or ``None`` for empty) and ``control`` (bool).

    Raises
    ------
    ifnscore.errors.InputError
        A missing file or column, a duplicated or empty sample name, a ``type1``/``control``
        value other than true/false/empty (naming the line), a control with ``type1`` not
        false, or no control at all.
    """
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"Sample sheet {where}: cannot be read ({exc.strerror}).") from None
    lines = text.splitlines()
    skip = 0
    while skip < len(lines) and lines[skip].lstrip().startswith("#"):
        skip += 1
    body = "\n".join(lines[skip:])
    if not body.strip():
        raise InputError(f"Sample sheet {where} has no header line; give {', '.join(_REQUIRED)}.")
    frame = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False)
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(
            f"Sample sheet {where} has no column {', '.join(map(repr, missing))}; it needs "
            f"{', '.join(_REQUIRED)} (found {', '.join(map(repr, frame.columns))})."
        )
    first_line = skip + 2  # 1-based line of the first data row (after the header)
    names = frame["sample"].str.strip()
    for i, name in enumerate(names):
        if not name:
            raise InputError(f"Sample sheet {where} line {first_line + i}: the sample is empty.")
    dup = names[names.duplicated()].unique().tolist()
    if dup:
        raise InputError(
            f"Sample sheet {where} lists samples {dup[:5]} more than once; give each sample once."
        )
    type1: list[bool | None] = []
    control: list[bool] = []
    for i, (t, c) in enumerate(zip(frame["type1"], frame["control"], strict=True)):
        line = first_line + i
        t1 = _flag(t, where, line, "type1", allow_empty=True)
        ctl = _flag(c, where, line, "control", allow_empty=True)
        if ctl and t1 is not False:
            raise InputError(
                f"Sample sheet {where} line {line}: sample {names.iloc[i]!r} is a control but "
                f"type1 is {t.strip() or 'empty'!s}; a control must have type1 false."
            )
        type1.append(t1)
        control.append(bool(ctl))
    if not any(control):
        raise InputError(
            f"Sample sheet {where} marks no sample control=true; the limits are calibrated on "
            "the controls, so mark the unstimulated or healthy samples control=true."
        )
    out = pd.DataFrame(
        {
            "group": frame["group"].str.strip().to_numpy(),
            "type1": pd.Series(type1, dtype=object).to_numpy(),
            "control": np.asarray(control, dtype=bool),
        },
        index=pd.Index(names.to_numpy(), name="sample"),
    )
    out.attrs["path"] = where
    return out


def _flag(value: str, where: str, line: int, column: str, *, allow_empty: bool) -> bool | None:
    v = value.strip().lower()
    if v == _TRUE:
        return True
    if v == _FALSE:
        return False
    if v == "" and allow_empty:
        return None
    raise InputError(
        f"Sample sheet {where} line {line}: {column} is {value!r}; write true, false or leave "
        "it empty."
    )


def _align(sheet: pd.DataFrame, samples: Sequence[str], data_name: str) -> pd.DataFrame:
    """The sheet in the data's sample order; every sample on both sides."""
    where = sheet.attrs.get("path", "the sample sheet")
    have = pd.Index([str(s) for s in samples])
    not_in_data = [s for s in sheet.index if s not in have]
    if not_in_data:
        raise InputError(
            f"Sample sheet {where} names {len(not_in_data)} sample(s) not in {data_name}: "
            f"{not_in_data[:5]} (the data has {list(have[:5])}...); use the data's sample names."
        )
    not_in_sheet = [s for s in have if s not in sheet.index]
    if not_in_sheet:
        raise InputError(
            f"{data_name} has {len(not_in_sheet)} sample(s) that sample sheet {where} does not "
            f"list: {not_in_sheet[:5]}; add a row for each (type1 empty keeps one apart)."
        )
    out = sheet.loc[have]
    out.attrs = dict(sheet.attrs)
    return out


# ------------------------------------------------------------------------------- scoring
def _subset(data: Any, mask: np.ndarray) -> Any:
    if isinstance(data, pd.DataFrame):
        return data.loc[mask]
    return data[mask]


def _sample_names(data: Any) -> list[str]:
    if isinstance(data, pd.DataFrame):
        return [str(s) for s in data.index]
    return [str(s) for s in data.obs_names]


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _warning_text(w: warnings.WarningMessage) -> str:
    from .errors import IfnscoreWarning

    text = " ".join(str(w.message).split())
    if issubclass(w.category, IfnscoreWarning):
        return text
    return f"{w.category.__name__}: {text}"


def _signature_without(sig: Any, genes: Sequence[str]) -> Any:
    """``sig`` without ``genes`` (its published thresholds dropped: made with every gene)."""
    drop = set(genes)
    return dataclasses.replace(
        sig,
        genes=tuple(g for g in sig.genes if g not in drop),
        down=tuple(g for g in sig.down if g not in drop),
        thresholds=(),
    )


#: A stand-in limit, only so that :func:`ifnscore.calibrate` keeps the control centres when
#: the controls' limit is refused; its calls are never used.
_PLACEHOLDER_LIMIT = 1.0


def _scores_without_limit(
    data: Any,
    controls: Any,
    signature: str,
    method: str,
    exclude: list[str] | None,
    kw: dict[str, Any],
) -> pd.DataFrame | None:
    """A reference-relative method's scores when only its limit was refused (AUROCs need no
    limit): calibrate with a stand-in limit, keep the scores, drop the calls. ``None`` when
    calibration still fails (the genes, not the limit, were refused)."""
    from . import calibrate, get_signature
    from ._score import score_table

    try:
        ref = calibrate(
            controls,
            signature=signature,
            method=method,
            upper_limit=_PLACEHOLDER_LIMIT,
            exclude_genes=exclude,
            **kw,
        )
    except IfnscoreError:
        return None
    target = _signature_without(get_signature(signature), exclude) if exclude else signature
    res = score_table(data, signature=target, method=method, reference=ref, **kw)
    frame = res[["score"]].copy()
    frame.attrs = res.attrs
    return frame


def _score_pair(
    data: Any,
    controls: Any,
    control_mask: np.ndarray,
    method: str,
    signature: str,
    *,
    scale: str,
    rows: str,
    exclude: Sequence[str],
    upper_limit: str = "controls",
) -> tuple[pd.DataFrame | None, Any, str, str, list[str], str]:
    """Scores (``score``, ``positive``, ``fold_over_limit``) of every sample for one pair, the
    limit (a Limit or None), how it was made, the refusal ('' if none), the notes (warning
    texts) and the scale scored on (with how it was detected)."""
    from . import calibrate, get_signature
    from ._limits import controls_limit, fold_over
    from ._methods import get_method
    from ._score import score_table

    meth = get_method(method)
    sig = get_signature(signature)
    notes: list[str] = []
    refused = ""
    frame: pd.DataFrame | None = None
    limit = None
    scale_used = ""
    kw: dict[str, Any] = {"scale": scale, "rows": rows}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if meth.depends_on_cohort({}):
                target = _signature_without(sig, exclude) if exclude else sig
                if exclude:
                    notes.append(f"signature without {', '.join(exclude)}")
                res = score_table(data, signature=target, method=method, **kw)
                s = res["score"].to_numpy(dtype=np.float64)
                try:
                    limit = controls_limit(
                        s[control_mask],
                        rule="ep28",
                        samples=list(res.index[control_mask]),
                    )
                except IfnscoreError as exc:
                    refused = _one_line(exc)
                frame = pd.DataFrame({"score": s}, index=res.index)
                frame.attrs = res.attrs
                if limit is not None:
                    frame["positive"] = s >= limit.value
                    frame["fold_over_limit"] = fold_over(s, limit.value, method)
            else:
                ex = list(exclude) or None
                try:
                    ref = calibrate(
                        controls,
                        signature=sig.name,
                        method=method,
                        upper_limit=upper_limit,
                        exclude_genes=ex,
                        **kw,
                    )
                except IfnscoreError as exc:
                    refused = _one_line(exc)
                    ref = None
                if ref is not None:
                    # the signature as calibrated: without the excluded genes, if any
                    target = _signature_without(sig, exclude) if exclude else sig
                    res = score_table(data, signature=target, method=method, reference=ref, **kw)
                    limit = ref.signatures[sig.name].upper_limit
                    frame = res[["score", "positive", "fold_over_limit"]].copy()
                    frame.attrs = res.attrs
                elif not meth.needs_reference:  # still rank the samples, without a limit
                    target = _signature_without(sig, exclude) if exclude else sig
                    res = score_table(data, signature=target, method=method, **kw)
                    frame = res[["score"]].copy()
                    frame.attrs = res.attrs
                else:  # the control centres alone, if it was the limit that was refused
                    frame = _scores_without_limit(data, controls, sig.name, method, ex, kw)
        except IfnscoreError as exc:
            refused = refused or _one_line(exc)
            frame, limit = None, None
        except Exception as exc:  # not a refusal: a defect of ifnscore, recorded and reported
            refused = f"{BUG_PREFIX} {_one_line(exc)}"
            frame, limit = None, None
    if frame is not None:
        meta = frame.attrs.get("ifnscore", {})
        scale_used = str(meta.get("scale", ""))
        if meta.get("scale_note"):
            scale_used += f" ({meta['scale_note']})"
    for w in caught:
        text = _warning_text(w)
        if text not in notes:
            notes.append(text)
    rule = ""
    if limit is not None:
        how = "in-cohort controls" if meth.depends_on_cohort({}) else "calibrate"
        rule = f"{limit.rule} ({how})" if limit.source == "controls" else f"{limit.source}"
    return frame, limit, rule, refused, notes, scale_used


def evaluate(
    data: Any,
    sheet: pd.DataFrame,
    *,
    methods: Sequence[str] | None = None,
    signatures: Sequence[str] | None = None,
    scale: str = "auto",
    exclude_genes: Sequence[str] | None = None,
    data_name: str = "the data",
    published: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score ``data`` with every method x signature and measure the separation.

    Parameters
    ----------
    data
        Expression, samples x genes: an AnnData (from :func:`ifnscore.read`) or a DataFrame
        (samples as rows). Not modified.
    sheet
        From :func:`read_sheet` (or a DataFrame indexed by sample with ``group``, ``type1``
        True/False/None and ``control`` bool).
    methods, signatures
        Default: every method (:func:`ifnscore.list_methods`) and every signature
        (:func:`ifnscore.list_signatures`).
    scale
        Passed to :func:`ifnscore.calibrate` and :func:`ifnscore.score`.
    exclude_genes
        Genes to leave out of every signature that holds them (``calibrate(...,
        exclude_genes=)``; for cohort-dependent methods the signature without them).
    data_name
        How messages name the data.
    published
        Instead of the controls' limits: one row for each pair with a published limit
        (:meth:`ifnscore.Signature.published_limit`), classified at it
        (``calibrate(..., upper_limit="published")``: the default where one exists).

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        The accuracy table (:data:`COLUMNS`, one row per pair) and the per-sample scores
        (:data:`SCORE_COLUMNS`).
    """
    from . import list_methods, list_signatures
    from ._methods import get_method
    from ._signatures import get_signature

    methods = list(list_methods().index) if methods is None else list(methods)
    signatures = list(list_signatures().index) if signatures is None else list(signatures)
    for m in methods:
        get_method(m)
    for s in signatures:
        get_signature(s)
    exclude = list(exclude_genes or [])
    if exclude:
        held = {g for s in signatures for g in get_signature(s).all_genes}
        unknown = [g for g in exclude if g not in held]
        if unknown:
            raise InputError(
                f"exclude_genes names {unknown}, which none of the signatures "
                f"{', '.join(signatures)} holds; give signature genes."
            )
    names = _sample_names(data)
    sheet = _align(sheet, names, data_name)
    t1 = sheet["type1"].to_numpy(dtype=object)
    is_pos = np.array([v is True for v in t1])
    is_neg = np.array([v is False for v in t1])
    is_other = np.array([v is None for v in t1])
    control = sheet["control"].to_numpy(dtype=bool)
    rows = "samples" if isinstance(data, pd.DataFrame) else "auto"
    controls = _subset(data, control)
    table: list[dict[str, Any]] = []
    scales: dict[str, list[str]] = {}
    long: list[pd.DataFrame] = []
    for m in methods:
        for s in signatures:
            if published and get_signature(s).published_limit(m) is None:
                continue
            ex = [g for g in exclude if g in get_signature(s).all_genes]
            frame, limit, rule, refused, notes, scale_used = _score_pair(
                data,
                controls,
                control,
                m,
                s,
                scale=scale,
                rows=rows,
                exclude=ex,
                upper_limit="published" if published else "controls",
            )
            table.append(
                _row(m, s, frame, limit, rule, refused, notes, is_pos, is_neg, is_other, control)
            )
            if scale_used:
                scales.setdefault(scale_used, []).append(m)
            if frame is not None:
                part = pd.DataFrame(
                    {
                        "method": m,
                        "signature": s,
                        "sample": names,
                        "group": sheet["group"].to_numpy(),
                        "type1": [_label(v) for v in t1],
                        "control": control,
                        "score": frame["score"].to_numpy(),
                        "positive": frame["positive"].to_numpy() if "positive" in frame else pd.NA,
                        "fold_over_limit": frame["fold_over_limit"].to_numpy()
                        if "fold_over_limit" in frame
                        else np.nan,
                    }
                )
                long.append(part)
    out = pd.DataFrame(table, columns=list(COLUMNS))
    for c in ("tp", "fp", "tn", "fn", "pos_other"):
        out[c] = out[c].astype("Int64")
    scores = (
        pd.concat(long, ignore_index=True) if long else pd.DataFrame(columns=list(SCORE_COLUMNS))
    )
    out.attrs["scales"] = {k: sorted(set(v)) for k, v in scales.items()}
    return out, scores


def _label(v: Any) -> str:
    return "" if v is None else str(bool(v)).lower()


def _row(
    method: str,
    signature: str,
    frame: pd.DataFrame | None,
    limit: Any,
    rule: str,
    refused: str,
    notes: list[str],
    is_pos: np.ndarray,
    is_neg: np.ndarray,
    is_other: np.ndarray,
    control: np.ndarray,
) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS, math.nan)
    row.update(
        method=method,
        signature=signature,
        refused=refused,
        note=" | ".join(notes),
        limit_rule="",
        n_pos=int(is_pos.sum()),
        n_neg=int(is_neg.sum()),
        n_other=int(is_other.sum()),
        n_controls=int(control.sum()),
    )
    for c in ("tp", "fp", "tn", "fn", "pos_other"):
        row[c] = pd.NA
    if frame is None:
        return row
    s = frame["score"].to_numpy(dtype=np.float64)
    finite = np.isfinite(s)
    if not finite.all():
        row["note"] = " | ".join(
            [*notes, f"{int((~finite).sum())} sample(s) have no score; left out of the AUROCs"]
        )
    row["auroc"] = auroc(s[is_pos & finite], s[is_neg & finite])
    row["auroc_vs_other"] = auroc(s[is_pos & finite], s[is_other & finite])
    row["auroc_other_vs_neg"] = auroc(s[is_other & finite], s[is_neg & finite])
    if limit is None or "positive" not in frame:
        return row
    row["limit"] = float(limit.value)
    row["limit_rule"] = rule
    call = frame["positive"].to_numpy(dtype=bool)
    fold = frame["fold_over_limit"].to_numpy(dtype=np.float64)
    row["tp"] = int((call & is_pos).sum())
    row["fn"] = int((~call & is_pos).sum())
    row["fp"] = int((call & is_neg).sum())
    row["tn"] = int((~call & is_neg).sum())
    row["pos_other"] = int((call & is_other).sum())
    row["margin_pos"] = float(np.min(fold[is_pos])) if is_pos.any() else math.nan
    row["margin_neg"] = float(np.max(fold[is_neg])) if is_neg.any() else math.nan
    return row


# ------------------------------------------------------------------------------- reporting
def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or x is pd.NA:
        return ""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(f):
        return ""
    return f"{f:.{digits}f}"


def _fmt_limit(x: Any) -> str:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(f) else f"{f:.4g}"


def _groups(sheet: pd.DataFrame, mask: np.ndarray) -> str:
    counts = sheet.loc[mask, "group"].value_counts(sort=False)
    return ", ".join(f"{g} x{n}" for g, n in counts.items()) or "none"


def describe(sheet: pd.DataFrame) -> str:
    """One line: the samples of each class and their groups."""
    t1 = sheet["type1"].to_numpy(dtype=object)
    pos = np.array([v is True for v in t1])
    neg = np.array([v is False for v in t1])
    oth = np.array([v is None for v in t1])
    ctl = sheet["control"].to_numpy(dtype=bool)
    return (
        f"type I (type1 true): {pos.sum()} ({_groups(sheet, pos)}); "
        f"negatives (type1 false): {neg.sum()} ({_groups(sheet, neg)}); "
        f"other (type1 empty): {oth.sum()} ({_groups(sheet, oth)}); "
        f"controls (limits calibrated on them): {ctl.sum()} ({_groups(sheet, ctl)})"
    )


def _note_key(text: str) -> str:
    """What two notes share when they differ only in the signature named and the numbers."""
    key = re.sub(r"[Ss]ignature '[^']*'", "signature", text)
    return re.sub(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?", "#", key)


def to_markdown(table: pd.DataFrame, *, title: str = "", header: Sequence[str] = ()) -> str:
    """The accuracy table as Markdown, notes and refusals numbered below the table."""
    footnotes: dict[str, tuple[int, str, int]] = {}  # key -> (number, first text, rows)

    def ref(text: str) -> str:
        key = _note_key(text)
        k, first, n = footnotes.get(key, (len(footnotes) + 1, text, 0))
        footnotes[key] = (k, first, n + 1)
        return f"[{k}]"

    lines = []
    if title:
        lines += [f"### {title}", ""]
    for h in header:
        lines += [h, ""]
    lines += [
        "| method | signature | AUROC | vs other | other vs neg | margin + | margin - "
        "| TP | FP | TN | FN | other + | limit | rule | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in table.itertuples(index=False):
        marks = []
        if r.refused:
            marks.append("**refused** " + ref(str(r.refused)))
        if r.note:
            marks.append(" ".join(ref(n) for n in str(r.note).split(" | ")))
        cells = [
            str(r.method),
            str(r.signature),
            _fmt(r.auroc),
            _fmt(r.auroc_vs_other),
            _fmt(r.auroc_other_vs_neg),
            _fmt(r.margin_pos, 2),
            _fmt(r.margin_neg, 2),
            *(_fmt(getattr(r, c), 0) for c in ("tp", "fp", "tn", "fn", "pos_other")),
            _fmt_limit(r.limit),
            str(r.limit_rule),
            " ".join(marks),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if footnotes:
        lines += [
            "",
            "Notes and refusals (one per kind: where several rows share one, the first row's "
            "text is shown; `accuracy.csv` has each row's own text and numbers):",
            "",
        ]
        for k, text, n in footnotes.values():
            more = f" *({n} rows)*" if n > 1 else ""
            lines.append(f"{k}. {text.replace('|', '/')}{more}")
    return "\n".join(lines) + "\n"


def summary_markdown(table: pd.DataFrame) -> str:
    """A methods x signatures matrix of ``auroc / auroc_vs_other`` (``auroc_other_vs_neg``
    alone where no sample is type I): ``no score`` where the pair was refused outright,
    ``*`` where only its limit was refused (the AUROCs need none)."""
    no_pos = bool((table["n_pos"] == 0).all())
    sigs = list(dict.fromkeys(table["signature"]))
    methods = list(dict.fromkeys(table["method"]))
    cells = {(r.method, r.signature): r for r in table.itertuples(index=False)}
    what = "other vs negatives" if no_pos else "AUROC / vs other"
    lines = [
        f"| method ({what}) | " + " | ".join(sigs) + " |",
        "|---|" + "---:|" * len(sigs),
    ]
    for m in methods:
        out = []
        for s in sigs:
            r = cells.get((m, s))
            if r is None:
                out.append("")
                continue
            if no_pos:
                text = _fmt(r.auroc_other_vs_neg, 2)
            else:
                a, o = _fmt(r.auroc, 2), _fmt(r.auroc_vs_other, 2)
                text = f"{a} / {o}" if a or o else ""
            if not text:
                text = "no score"
            elif r.refused:
                text += "*"
            out.append(text)
        lines.append(f"| {m} | " + " | ".join(out) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------- command line
def add_arguments(
    p: argparse.ArgumentParser | argparse._ArgumentGroup, *, standalone: bool = True
) -> None:
    """The accuracy benchmark's arguments (``standalone=False``: those ``ifnscore bench``
    does not have already; it has ``--methods`` and ``--signatures``)."""
    from ._validation import SCALES

    p.add_argument("--data", default=None, help="expression file or folder (ifnscore.read)")
    p.add_argument(
        "--samples",
        default=None,
        help="sample sheet CSV: sample, group, type1 (true/false/empty), control (true/false)",
    )
    p.add_argument(
        "--example",
        action="store_true",
        help="use the bundled example cohort's counts as --data",
    )
    p.add_argument(
        "--scale",
        default="auto",
        choices=("auto", *SCALES),
        help="scale of the data (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        default=".",
        help="folder for accuracy.csv, accuracy_published.csv, accuracy.md, scores.csv "
        "(default: .)",
    )
    p.add_argument(
        "--exclude-genes",
        default="",
        help="comma-separated genes to leave out of every signature holding them (e.g. SIGLEC1)",
    )
    p.add_argument("--title", default="", help="heading of the Markdown table")
    if standalone:
        p.add_argument("--methods", default=None, help="comma-separated methods (default: all)")
        p.add_argument(
            "--signatures", default=None, help="comma-separated signatures (default: all)"
        )


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def run_from_args(args: argparse.Namespace, out: Any = None) -> int:
    """Run the benchmark from parsed arguments; write the tables; return the exit code."""
    from . import __version__, read
    from .datasets import example_files

    out = out or sys.stdout
    if args.example:
        if args.data:
            raise InputError("Give --data or --example, not both.")
        data_path = str(example_files()["counts"])
    elif args.data:
        data_path = args.data
    else:
        raise InputError("--data is missing: give the expression file or folder (or --example).")
    if not args.samples:
        raise InputError("--samples is missing: give the sample sheet CSV.")
    sheet = read_sheet(args.samples)
    read_notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = read(data_path)
    read_notes = list(dict.fromkeys(_warning_text(w) for w in caught))
    table, scores = evaluate(
        data,
        sheet,
        methods=_split(args.methods),
        signatures=_split(args.signatures),
        scale=args.scale,
        exclude_genes=_split(args.exclude_genes),
        data_name=data_path,
    )
    pub, _ = evaluate(
        data,
        sheet,
        methods=_split(args.methods),
        signatures=_split(args.signatures),
        scale=args.scale,
        exclude_genes=_split(args.exclude_genes),
        data_name=data_path,
        published=True,
    )
    aligned = _align(sheet, _sample_names(data), data_path)
    header = [
        f"Data: `{_show_path(data_path)}` ({data.n_obs} samples x {data.n_vars} genes, read once "
        f"with `ifnscore.read`); sample sheet `{_show_path(args.samples)}`; "
        f"ifnscore {__version__}.",
        describe(aligned) + ".",
    ]
    for sc, ms in table.attrs.get("scales", {}).items():
        which = "every method" if len(ms) == len(set(table["method"])) else ", ".join(ms)
        header.append(f"Scale (`--scale {args.scale}`): {sc}, for {which}.")
    if args.exclude_genes:
        header.append(f"Genes left out of every signature holding them: {args.exclude_genes}.")
    for n in read_notes:
        header.append(f"Reader: {n}")
    folder = Path(args.out)
    from ._io_util import atomic_write

    csv_path = atomic_write(folder / "accuracy.csv", lambda p: table.to_csv(p, index=False))
    md = to_markdown(table, title=args.title, header=header)
    if len(pub):
        md += "\n" + to_markdown(
            pub,
            header=[
                "**At the published limits** (the default where a signature's source gives one; "
                "`accuracy_published.csv`):"
            ],
        )
    pub_path = atomic_write(folder / "accuracy_published.csv", lambda p: pub.to_csv(p, index=False))
    md_path = atomic_write(folder / "accuracy.md", lambda p: p.write_text(md, encoding="utf-8"))
    sc_path = atomic_write(folder / "scores.csv", lambda p: scores.to_csv(p, index=False))
    both = pd.concat([table, pub], ignore_index=True)
    bugs = both["refused"].str.startswith(BUG_PREFIX)
    n_ref = int((table["refused"] != "").sum())
    print(
        f"accuracy: {len(table)} method x signature pairs on {data.n_obs} samples "
        f"({n_ref} refused), {len(pub)} at a published limit; wrote {csv_path}, {pub_path}, "
        f"{md_path}, {sc_path}",
        file=out,
    )
    for r in both[bugs].itertuples(index=False):
        print(f"accuracy: error: {r.method} x {r.signature}: {r.refused}", file=sys.stderr)
    return 1 if bugs.any() else 0


def _show_path(path: str) -> str:
    """A path as shown in the tables: relative to the working folder when inside it."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    """``python benchmarks/accuracy.py``: see the module docstring."""
    p = argparse.ArgumentParser(
        prog="accuracy.py",
        description="How well each method x signature separates type I IFN-stimulated samples.",
    )
    add_arguments(p, standalone=True)
    args = p.parse_args(argv)
    try:
        return run_from_args(args)
    except (IfnscoreError, OSError) as exc:
        print(f"accuracy: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
