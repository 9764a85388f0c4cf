"""A self-contained HTML report of a scored cohort: :func:`report`.

One HTML file, with every figure embedded as a base64 PNG and the styles inline: it opens
offline and can be mailed or archived as it is. Sections: the cohort summary (scores by group,
per-gene fold changes), the reference used and its provenance (controls, limit and how it was
made, method and citation), a section per followed patient (trajectory, visits, treatments),
and a table of all samples. Figures need matplotlib (``pip install 'ifnscore[plot]'``).

From the command line: ``ifnscore report INPUT --samples META.csv --reference ref.json -o
report.html`` (see ``ifnscore report --help``), or ``ifnscore report --example -o report.html``
for the bundled example cohort.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._version import __version__
from .errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ._genes import IdType
    from ._reference import Reference
    from ._validation import Scale
    from .longitudinal import Followup

__all__ = ["report"]

#: Above this many samples the table of all samples is cut (the report says so).
MAX_TABLE_ROWS = 5000


def report(
    data: Any,
    reference: Reference,
    *,
    samples: Any = None,
    treatments: Any = None,
    group: str | None = "group",
    patient: str = "patient",
    time: str = "day",
    clinical: str | Sequence[str] | None = None,
    signature: str | None = None,
    scale: Scale = "auto",
    layer: str | None = None,
    use_raw: bool = False,
    id_type: IdType = "auto",
    repeatability_cv: float | None = None,
    title: str = "Interferon signature report",
    input_note: str | None = None,
    output: str | os.PathLike | None = None,
) -> str:
    """Score ``data`` against ``reference`` and write a self-contained HTML report.

    Parameters
    ----------
    data
        Expression, as for :func:`ifnscore.score` (DataFrame, array with gene names is not
        accepted here; AnnData is, and is not modified).
    reference
        The healthy-control :class:`ifnscore.Reference` to score against.
    samples
        Sample metadata indexed by sample (DataFrame, or a CSV/TSV path); default for AnnData:
        its ``obs``. Optional: without it the report has no groups and no followed patients.
    treatments
        Treatment periods (patient, drug, start, stop), as for :func:`ifnscore.follow`;
        default for AnnData: ``uns["treatments"]`` when present.
    group
        Metadata column that groups samples in the cohort figure and summary (``None``: one
        group). A missing column is reported, not an error.
    patient, time, clinical
        Metadata columns for :func:`ifnscore.follow`; patients with at least two visits get a
        section each.
    signature
        Which of the reference's signatures (default: its only one).
    scale, layer, use_raw, id_type, repeatability_cv
        How to read ``data`` and match its gene names; see :func:`ifnscore.score`.
    title
        Title of the report.
    input_note
        A line on where the data came from, shown in the report (the command line records
        the file and the reader).
    output
        When given, the report is also written there (atomically).

    Returns
    -------
    str
        The HTML document.

    Examples
    --------
    >>> import ifnscore
    >>> from ifnscore.report import report
    >>> counts, samples = ifnscore.datasets.load_example(as_frame=True)
    >>> ref = ifnscore.calibrate(counts[samples["group"] == "control"], signature="rice6")
    >>> text = report(counts, ref, samples=samples, clinical="cmas")
    >>> text.startswith("<!DOCTYPE html>")
    True
    """
    from . import plot
    from ._gene_table import gene_table
    from ._io._frame import read_frame
    from ._reference import Reference
    from ._results import one_signature
    from ._score import score_table
    from .longitudinal import follow

    if not isinstance(reference, Reference):
        raise InputError(
            f"reference= must be an ifnscore.Reference (from ifnscore.calibrate or "
            f"Reference.load), got {type(reference).__name__}."
        )
    signature = reference.one_signature(signature)
    meta, treatments = _metadata_of(data, samples, treatments)
    kw: dict[str, Any] = {"layer": layer, "use_raw": use_raw, "id_type": id_type}
    table = score_table(
        data, None, reference=reference, scale=scale, repeatability_cv=repeatability_cv, **kw
    )
    _, scores = one_signature(table, signature)
    if meta is not None:
        meta = read_frame(meta, arg="samples")
        meta.index = meta.index.astype(str)
    notes: list[str] = []
    groups = _groups(scores, meta, group, notes)
    followup: Followup | None = None
    if meta is not None and patient in meta.columns and time in meta.columns:
        followup = follow(
            scores,
            meta,
            patient=patient,
            time=time,
            clinical=clinical,
            treatments=treatments,
            signature=signature,
        )
    elif meta is not None:
        notes.append(
            f"No patients were followed: the sample metadata has no {patient!r} and {time!r} "
            "columns."
        )
    from ._methods import get_method

    values = None
    if get_method(reference.method).kind == "gene":
        values = gene_table(data, reference, signature=signature, scale=scale, **kw)
    sref = reference.signatures[signature]
    limit = float(scores.attrs["ifnscore"]["signatures"][signature]["upper_limit"])
    parts = [
        _head(title),
        _intro(title, scores, reference, signature, input_note, notes),
        _cohort_section(scores, groups, values, limit, plot),
        _reference_section(reference, signature, sref, plot),
        _patients_section(followup, plot),
        _samples_section(scores, meta, group, patient, time, followup),
        _footer(reference),
        "</body>\n</html>\n",
    ]
    text = "\n".join(parts)
    if output is not None:
        from ._io_util import atomic_write

        atomic_write(output, lambda p: p.write_text(text, encoding="utf-8"))
    return text


# --------------------------------------------------------------------------- inputs
def _metadata_of(data: Any, samples: Any, treatments: Any) -> tuple[Any, Any]:
    """The sample metadata and treatments: as given, else an AnnData's ``obs`` and
    ``uns["treatments"]``."""
    if hasattr(data, "obs") and hasattr(data, "uns"):
        if samples is None:
            samples = data.obs
        if treatments is None and "treatments" in data.uns:
            treatments = data.uns["treatments"]
    return samples, treatments


def _groups(
    scores: pd.DataFrame, meta: pd.DataFrame | None, group: str | None, notes: list[str]
) -> pd.Series:
    if meta is not None and group is not None and group in meta.columns:
        g = meta[group].reindex(scores.index.astype(str))
        g.index = scores.index
        return g
    if meta is not None and group is not None:
        notes.append(f"The sample metadata has no {group!r} column: all samples form one group.")
    return pd.Series("all samples", index=scores.index)


# --------------------------------------------------------------------------- html pieces
_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1.2em; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.9em; margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #0072B2; padding-bottom: 0.2em; margin-top: 2.2em; }
h3 { margin-top: 1.6em; }
.meta { color: #555; font-size: 0.95em; }
.note { background: #FFF6E0; border-left: 4px solid #E69F00; padding: 0.5em 0.9em; margin: 0.8em 0; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.6em 0 1.2em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #eef4f9; }
td:first-child, th:first-child { text-align: left; }
tr.pos td { background: #FCEBDD; }
dl.kv { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1.2em; }
dl.kv dt { font-weight: 600; }
dl.kv dd { margin: 0; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; }
figcaption { color: #444; font-size: 0.92em; }
.scroll { max-height: 32em; overflow-y: auto; }
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(x: Any, digits: int = 4) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return _e(x)
    if not np.isfinite(v):
        return "–"
    if v == int(v) and abs(v) < 1e6:
        return f"{int(v)}"
    return f"{v:.{digits}g}" if abs(v) < 1e4 else f"{v:,.0f}"


def _table(df: pd.DataFrame, *, index: bool = True, highlight: Sequence[bool] | None = None) -> str:
    cols = ([df.index.name or ""] if index else []) + [str(c) for c in df.columns]
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{_e(c)}</th>" for c in cols) + "</tr></thead>"]
    out.append("<tbody>")
    for i, (idx, row) in enumerate(df.iterrows()):
        cls = ' class="pos"' if highlight is not None and highlight[i] else ""
        cells = [_e(idx)] if index else []
        for v in row:
            if isinstance(v, bool | np.bool_):
                cells.append("yes" if v else "no")
            elif isinstance(v, int | float | np.integer | np.floating):
                cells.append(_num(v))
            elif v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
                cells.append("–")
            else:
                cells.append(_e(v))
        out.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _kv(items: Mapping[str, Any]) -> str:
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items.items())
    return f'<dl class="kv">{rows}</dl>'


def _figure_html(fig: Figure, caption: str, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _head(title: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>"
    )


def _intro(
    title: str,
    scores: pd.DataFrame,
    reference: Reference,
    signature: str,
    input_note: str | None,
    notes: list[str],
) -> str:
    meta = scores.attrs["ifnscore"]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">Generated {now} by ifnscore {_e(__version__)}. Signature '
        f"<b>{_e(signature)}</b>, method <b>{_e(reference.method)}</b>, "
        f"{len(scores)} samples (scale {_e(meta['scale'])}: {_e(meta['scale_note'])}).</p>",
    ]
    if input_note:
        lines.append(f'<p class="meta">Input: {_e(input_note)}</p>')
    lines += [f'<p class="note">{_e(n)}</p>' for n in notes]
    sig_meta = meta["signatures"][signature]
    genes = ", ".join(sig_meta.get("genes_used", []))
    lines.append(
        f"<p>The assay's genes (EULAR 2022 asks that results name them): {_e(genes)}. Each sample is "
        "called <i>negative</i>, <i>borderline</i> or <i>positive</i>; borderline: "
        f"{_e(sig_meta.get('call_rule') or 'no zone (no limit)')}.</p>"
    )
    lines.append(
        '<p class="note">Interferon signature assays support stratification and monitoring; '
        "they are not diagnostic tests on their own (EULAR points to consider, Ann Rheum Dis "
        "2023;82:754-62).</p>"
    )
    lines.append(
        '<p>Contents: <a href="#cohort">Cohort</a> · <a href="#reference">Reference</a> · '
        '<a href="#patients">Followed patients</a> · <a href="#samples">All samples</a></p>'
    )
    return "\n".join(lines)


def _cohort_section(
    scores: pd.DataFrame, groups: pd.Series, values: pd.DataFrame | None, limit: float, plot: Any
) -> str:
    s = scores["score"]
    rows = []
    for name, sub in s.groupby(groups.astype(str), sort=True):
        v = sub.to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        k = int((v >= limit).sum())
        rows.append(
            {
                "group": name,
                "n": int(sub.size),
                "median": float(np.median(v)) if v.size else np.nan,
                "q25": float(np.quantile(v, 0.25)) if v.size else np.nan,
                "q75": float(np.quantile(v, 0.75)) if v.size else np.nan,
                "min": float(v.min()) if v.size else np.nan,
                "max": float(v.max()) if v.size else np.nan,
                "n ≥ limit": k,
                "% ≥ limit": 100.0 * k / v.size if v.size else np.nan,
            }
        )
    table = pd.DataFrame(rows).set_index("group")
    fig_c = plot.cohort(scores, groups, upper_limit=limit)
    if values is None:
        heatmap = (
            '<p class="note">No per-gene heatmap: this method scores whole expression profiles '
            "(ranks), not a combination of per-gene values.</p>"
        )
    else:
        heatmap = _figure_html(
            plot.gene_heatmap(values, groups=groups),
            "Per-gene values behind the score (for fc_* methods the fold change over the "
            "healthy controls' median, on a log2 colour scale centred at 1-fold), samples "
            "ordered by group and score.",
            "Heatmap of per-gene values across samples",
        )
    return "\n".join(
        [
            '<h2 id="cohort">Cohort</h2>',
            f"<p>Scores by group against the upper limit {_num(limit)} (a sample is above the "
            "limit when its score is at or above it; a followed patient counts once per "
            "visit).</p>",
            _table(table),
            _figure_html(
                fig_c,
                "Scores by group: boxes show the quartiles and median, points are samples, the "
                "dashed line is the upper limit; above each group the fraction at or above it.",
                "Box plot of scores by group with the upper limit",
            ),
            heatmap,
        ]
    )


def _reference_section(reference: Reference, signature: str, sref: Any, plot: Any) -> str:
    from ._methods import list_methods

    method = list_methods().loc[reference.method]
    lim = sref.upper_limit
    items = {
        "method": f"{reference.method}: {method['formula']} (LaTeX)",
        "method citation": method["citation"],
        "signature genes": ", ".join(sref.genes + sref.down),
        "genes used": ", ".join(sref.genes_used),
        "genes left out": ", ".join(getattr(sref, "excluded_genes", ())) or "none",
        "signature source": f"{sref.citation} doi:{sref.doi}" if sref.doi else sref.citation,
        "upper limit": f"{_num(lim.value)} ({lim.source}: {lim.rule})",
        "limit citation": lim.citation or "–",
        "healthy controls": f"{reference.n_controls} samples, scale {reference.scale}",
        "controls' scores": ", ".join(
            f"{k} {_num(sref.summary[k])}" for k in ("median", "mean", "sd") if k in sref.summary
        ),
        "reference created": f"{reference.created or 'unknown'} with ifnscore "
        f"{reference.ifnscore_version or 'unknown'} (schema {reference.schema_version})",
    }
    for name, other in sref.limits.items():
        if other is not lim and name != lim.source:
            items[f"{name} limit"] = f"{_num(other.value)} ({other.rule})"
    parts = ['<h2 id="reference">Reference</h2>', _kv(items)]
    # the limit's provenance travels with it (ifnscore._limits.Limit.notes): printed as is
    for note in getattr(lim, "notes", ()):
        parts.append(f'<p class="note">{_e(note)}</p>')
    if sref.control_scores:
        parts.append(
            _figure_html(
                plot.calibration(reference, signature=signature),
                "The healthy controls' scores (histogram; ticks mark each control), the upper "
                "limit in use and the controls' own limit.",
                "Histogram of the healthy controls' scores with the upper limit",
            )
        )
    return "\n".join(parts)


def _patients_section(followup: Followup | None, plot: Any) -> str:
    parts = ['<h2 id="patients">Followed patients</h2>']
    if followup is None or not followup.patients:
        parts.append("<p>No patient has two or more visits.</p>")
        return "\n".join(parts)
    unit = followup.time_unit
    lim = followup.upper_limit
    band = (
        f"above means score ≥ {_num(lim * (1 + followup.margin))} and below means score < "
        f"{_num(lim * (1 - followup.margin))} (the limit ± {_num(100 * followup.margin)}%)"
        if followup.margin > 0
        else f"above means score ≥ {_num(lim)}, below means score < {_num(lim)}"
    )
    runs = "one visit" if followup.confirm == 1 else f"{followup.confirm} consecutive visits"
    base = (
        "first visit"
        if followup.baseline == "first"
        else "last visit at or before the first treatment start"
    )
    parts.append(
        f"<p>{len(followup.patients)} patient(s) with two or more visits. Time is in {unit}s"
        f" from the first visit. The baseline is the {base}; "
        f"{band}; a change of state needs {runs}. Normalisation: from above to below (the true "
        "crossing lies between the last visit above and the first visit of the confirming "
        "run). Re-elevation: above again after a normalisation; a patient below at baseline "
        "who rises has a first elevation, not a re-elevation.</p>"
    )
    for c in followup.clinical:
        rm = followup.rm_correlation.loc[c]
        parts.append(
            f"<p>Repeated-measures correlation of the score with {_e(c)} over the patients "
            f"(Bakdash &amp; Marusich 2017, doi:10.3389/fpsyg.2017.00456): r<sub>rm</sub> = "
            f"{_num(rm['r_rm'], 3)}, df = {int(rm['dof'])} ({int(rm['n_obs'])} visits of "
            f"{int(rm['n_patients'])} patient(s)), "
            + (
                f"95% CI {_num(rm['ci_low'], 3)} to {_num(rm['ci_high'], 3)}, "
                f"p = {_num(rm['p_value'], 3)}."
                if np.isfinite(rm["p_value"])
                else "no p-value or confidence interval (they need two or more patients with "
                "two or more visits that have both values)."
            )
            + " The per-patient Spearman ρ below is descriptive only: one patient's visits are "
            "not independent.</p>"
        )
    for pid in followup.patients:
        r = followup.summary.loc[pid]
        items = {
            "visits": f"{int(r['n_visits'])} ({int(r['n_scored'])} scored)",
            "baseline": f"{_num(r['baseline'])} at {unit} {_num(r['baseline_time'])}",
            "peak": f"{_num(r['peak'])} at {unit} {_num(r['peak_time'])}",
            "latest": f"{_num(r['latest'])} at {unit} {_num(r['latest_time'])} "
            f"({_num(r['latest_fold_over_limit'], 3)} × limit; "
            f"{_num(r['latest_pct_change'], 3)}% from baseline)",
        }
        if pd.notna(r["above_at_baseline"]) and bool(r["above_at_baseline"]):
            if np.isfinite(r["time_to_normalisation"]):
                items["time to normalisation"] = (
                    f"{_num(r['time_to_normalisation'])} {unit}s (first below the limit at "
                    f"{unit} {_num(r['first_below_time'])}; last above at {unit} "
                    f"{_num(r['last_above_time'])})"
                )
            else:
                items["time to normalisation"] = "not normalised by the latest visit"
        elif pd.isna(r["above_at_baseline"]):
            items["time to normalisation"] = "within the margin around the limit at baseline"
        else:
            items["time to normalisation"] = "below the limit at baseline"
        if np.isfinite(r["first_elevation_time"]):
            items["first elevation"] = f"at {unit} {_num(r['first_elevation_time'])}"
        times = ", ".join(_num(t) for t in r["re_elevation_times"])
        items["re-elevations"] = f"{int(r['n_re_elevations'])}" + (
            f" (at {unit} {times})" if times else ""
        )
        for c in followup.clinical:
            items[f"Spearman ρ with {c}"] = f"{_num(r[f'rho_{c}'], 3)} (n = {int(r[f'n_{c}'])})"
        visits = followup.patient(pid).drop(columns="patient")
        hl = [x is True for x in visits["above_limit"].astype(object)]
        treat = followup.treatments[followup.treatments["patient"] == pid]
        parts += [f'<h3 id="patient-{_e(pid)}">Patient {_e(pid)}</h3>', _kv(items)]
        parts.append(
            _figure_html(
                plot.trajectory(followup, pid),
                f"Patient {pid}: score per visit (log scale); the shaded band is the reference "
                "range below the upper limit (dashed); open circles are visits below the limit."
                + (" Treatment periods below." if len(treat) else ""),
                f"Trajectory of patient {pid}",
            )
        )
        parts.append(_table(visits, highlight=hl))
        if len(treat):
            t = treat.drop(columns="patient").set_index("drug")
            parts.append(_table(t))
    return "\n".join(parts)


def _samples_section(
    scores: pd.DataFrame,
    meta: pd.DataFrame | None,
    group: str | None,
    patient: str,
    time: str,
    followup: Followup | None,
) -> str:
    table = scores.copy()
    if meta is not None:
        cols = [c for c in (group, patient, time) if c is not None and c in meta.columns]
        extra = meta.reindex(table.index.astype(str))[cols]
        extra.index = table.index
        table = extra.join(table)
    n = len(table)
    parts = ['<h2 id="samples">All samples</h2>']
    if n > MAX_TABLE_ROWS:
        parts.append(
            f'<p class="note">{n} samples: the first {MAX_TABLE_ROWS} are shown. Write the '
            "full table with ifnscore score ... -o scores.csv.</p>"
        )
        table = table.iloc[:MAX_TABLE_ROWS]
    hl = list(table["positive"]) if "positive" in table.columns else None
    parts.append('<div class="scroll">' + _table(table, highlight=hl) + "</div>")
    return "\n".join(parts)


def _footer(reference: Reference) -> str:
    return (
        '<p class="meta">Rows shaded orange are at or above the upper limit. Figures use the '
        "Okabe–Ito colour-blind-safe palette. Made with ifnscore "
        f"{_e(__version__)}; reference made with ifnscore {_e(reference.ifnscore_version)}.</p>"
    )


# --------------------------------------------------------------------------- command line
