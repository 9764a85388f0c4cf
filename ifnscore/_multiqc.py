"""Scores as MultiQC custom content, so a pipeline's MultiQC report shows them.

:func:`write_multiqc` writes two files that MultiQC finds by their ``_mqc`` suffix (its
"custom content" module, https://docs.seqera.io/multiqc/custom_content):

* ``ifnscore_mqc.tsv``: one row per sample, the columns of the table ``ifnscore score``
  writes (``score``, ``positive``, ``fold_over_limit``, ``n_genes``, the method's extras; for
  several signatures ``<signature>_<field>``), under a ``#`` comment header in YAML that
  declares a table (``plot_type: 'table'``) with a title and a description per column;
* ``ifnscore_mqc.yaml``: a bar graph of the scores with the upper limit drawn as a line
  (``pconfig: x_lines``: MultiQC's bars are horizontal, so the value axis is x). With several
  signatures there is one ``ifnscore_<signature>_mqc.yaml`` per signature instead, each with its
  own limit (MultiQC 1.35 does not accept per-dataset lines in one plot).

The header values are written as JSON, which is YAML (so no YAML library is needed here);
floats always carry a decimal point (``1.0e-05``, not ``1e-05``), because PyYAML's YAML 1.1
reader takes ``1e-05`` for a string.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._io_util import atomic_write
from ._results import flat, signature_names
from .errors import InputError

__all__ = ["write_multiqc"]

TABLE_NAME = "ifnscore_mqc.tsv"
PLOT_NAME = "ifnscore_mqc.yaml"
_PLOT_FILE = re.compile(r"^ifnscore_(?:.+_)?mqc\.yaml$")

#: Titles and descriptions of the fields of a result table (``flat`` column names).
_FIELDS: dict[str, tuple[str, str, str]] = {
    "score": ("Score", "the signature score", "{:,.4g}"),
    "positive": ("Positive", "score >= upper limit", ""),
    "fold_over_limit": ("Fold over limit", "score / upper limit", "{:,.3f}"),
    "call": ("Call", "negative, borderline, positive or unclassified", ""),
    "healthy_percentile": (
        "Healthy percentile",
        "percentile among the healthy controls",
        "{:,.1f}",
    ),
    "healthy_tail_p": (
        "Healthy tail P",
        "P(healthy score > this score) under the controls' fit",
        "{:,.3g}",
    ),
    "n_genes": ("Genes", "signature genes with a value for the sample", "{:,.0f}"),
}

#: Bar colours of the calls (the call column of the result), when the table has one.
_CALL_COLOURS = {
    "negative": "#1f77b4",
    "borderline": "#ff7f0e",
    "positive": "#d62728",
    "unclassified": "#7f7f7f",
}


def _number(x: float) -> str:
    """A float as JSON/YAML text that reads back as the same float in PyYAML (always a '.')."""
    text = repr(float(x))
    mantissa, e, exponent = text.partition("e")
    if e and "." not in mantissa:
        mantissa += ".0"
    if e and exponent[0] not in "+-":
        exponent = "+" + exponent
    return f"{mantissa}{e}{exponent}"


def _json(obj: Any) -> str:
    """JSON text that PyYAML reads back as ``obj`` (floats via :func:`_number`)."""
    if isinstance(obj, bool) or obj is None:
        return json.dumps(obj)
    if isinstance(obj, int | np.integer):
        return str(int(obj))
    if isinstance(obj, float | np.floating):
        if not math.isfinite(obj):
            raise ValueError(f"non-finite number {obj!r} in MultiQC config")  # caller filters
        return _number(float(obj))
    if isinstance(obj, str):
        return json.dumps(obj, ensure_ascii=False)
    if isinstance(obj, Mapping):
        return "{" + ", ".join(f"{_json(str(k))}: {_json(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ", ".join(_json(v) for v in obj) + "]"
    raise TypeError(f"cannot write {type(obj).__name__} to a MultiQC config")


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _text_cell(text: str) -> str:
    """A string cell that MultiQC reads back unchanged: quoted when MultiQC would otherwise
    read it as a number, strip its spaces or strip its quotes (its ``unquote``)."""
    if text != text.strip() or _looks_numeric(text) or text[:1] in "\"'":
        return f'"{text}"'
    return text


def _cell(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return "" if math.isnan(value) else _number(float(value))
    return _text_cell(str(value))


def _check_text(text: str, what: str, out: Path) -> None:
    """Refuse what would break the tab-separated table or MultiQC's reading of it."""
    bad = next((c for c in ("\t", "\n", "\r") if c in text), None)
    if bad is not None:
        raise InputError(
            f"{what} {text!r} contains a {'tab' if bad == chr(9) else 'line break'}, which would "
            f"break the tab-separated MultiQC table {out}; rename it."
        )


def _limit_values(meta: Mapping[str, Any], sig: str) -> list[float]:
    lim = meta.get("signatures", {}).get(sig, {}).get("upper_limit")
    if lim is None:
        return []
    values = np.atleast_1d(np.asarray(lim, dtype=float))
    return sorted({float(v) for v in values if np.isfinite(v)})


def _limit_source(meta: Mapping[str, Any], sig: str) -> str:
    """A short name for where the limit comes from, for the line's label."""
    source = meta.get("signatures", {}).get(sig, {}).get("upper_limit_source")
    ref = meta.get("reference") or {}
    if source == "controls" and ref.get("n_controls"):
        return f"from {ref['n_controls']} healthy controls"
    return "" if source is None else str(source)


def _notes_of(
    given: Mapping[str, str | Sequence[str]], meta: Mapping[str, Any], sig: str
) -> list[str]:
    if sig in given:
        value = given[sig]
        if isinstance(value, str):
            return [value]
        if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
            raise InputError(
                f"limit_notes[{sig!r}] must be a string or a list of strings, got {value!r}."
            )
        return list(value)
    return [str(n) for n in meta.get("signatures", {}).get(sig, {}).get("upper_limit_notes") or []]


def _safe_name(sig: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9.-]+", "-", sig).strip("-.") or "signature"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    taken.add(name)
    return name


def write_multiqc(
    table: pd.DataFrame,
    directory: str | os.PathLike[str],
    *,
    limit_notes: Mapping[str, str | Sequence[str]] | None = None,
) -> list[Path]:
    """Write scores as MultiQC custom content: a table and a bar graph with the upper limit.

    Parameters
    ----------
    table : pandas.DataFrame
        A result of :func:`ifnscore.score` (one or several signatures), or its flat form as
        ``ifnscore score`` writes it (``score``, ``positive``... or ``<signature>_<field>``
        columns, extra metadata columns kept). The limits are read from
        ``table.attrs["ifnscore"]``; without them the bar graph has no limit line.
    directory : str or os.PathLike
        The folder MultiQC will scan (created if missing). ``ifnscore_mqc.tsv`` and the plot
        file(s) are written there atomically; plot files of an earlier run for signatures not
        in this table (``ifnscore_<signature>_mqc.yaml``) are removed so MultiQC does not show
        stale scores.
    limit_notes : mapping of str to str or list of str, optional
        Per signature, the notes on its upper limit (where it comes from, how it was
        verified) shown as the help text of its plot; default: the result's own
        ``attrs["ifnscore"]["signatures"][sig]["upper_limit_notes"]``. The line's label
        names the limit's source (``published``, ``from 40 healthy controls``...).

    Returns
    -------
    list of pathlib.Path
        The files written: the table first, then the plot file(s).

    Raises
    ------
    InputError
        If ``table`` is not a score table, a sample name or a column name is empty, repeated,
        starts with ``#`` (MultiQC reads such a line as header) or holds a tab or line break,
        or ``directory`` exists and is not a folder.

    Notes
    -----
    Samples whose score is missing (NaN, e.g. with ``nan='omit'`` and no genes) are kept in
    the table with an empty cell and left out of the bar graph; the graph's description says
    how many. MultiQC reads a table cell that looks like a number as one, so text that does
    (a patient ID ``007``) is written quoted, which MultiQC strips.

    Examples
    --------
    >>> import tempfile, ifnscore
    >>> counts, samples = ifnscore.datasets.load_example(as_frame=True)
    >>> ref = ifnscore.calibrate(counts[samples["group"] == "control"], signature="rice6")
    >>> res = ifnscore.score(counts, reference=ref)
    >>> from ifnscore._multiqc import write_multiqc
    >>> with tempfile.TemporaryDirectory() as d:
    ...     [p.name for p in write_multiqc(res, d)]
    ['ifnscore_mqc.tsv', 'ifnscore_mqc.yaml']
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(
            f"table must be the DataFrame returned by ifnscore.score, got {type(table).__name__}."
        )
    out_dir = Path(directory)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(
            f"MultiQC directory {out_dir} exists and is not a folder; give a folder path."
        )
    given = dict(limit_notes or {})
    meta = table.attrs.get("ifnscore", {}) if isinstance(table.attrs, Mapping) else {}
    several = isinstance(table.columns, pd.MultiIndex)
    signatures = signature_names(table) if several else _single_name(table, meta)
    # a flat table of several signatures (as read back from `ifnscore score`'s file) has
    # "<signature>_<field>" columns too
    several = several or "score" not in table.columns
    unknown = sorted(set(given) - set(signatures))
    if unknown:
        raise InputError(
            f"limit_notes names signature(s) {unknown} that the table does not hold "
            f"(it holds {signatures}); key the notes by those names."
        )
    frame = flat(table)
    score_cols = {sig: (f"{sig}_score" if several else "score") for sig in signatures}
    missing = [c for c in score_cols.values() if c not in frame.columns]
    if missing:
        raise InputError(
            f"table has no column(s) {missing}; pass the table returned by ifnscore.score "
            "(or written by `ifnscore score`)."
        )
    table_path = out_dir / TABLE_NAME
    names = [str(s) for s in frame.index]
    _check_names(names, "sample", table_path)
    _check_names([str(c) for c in frame.columns], "column", table_path, header=False)
    if "sample" in map(str, frame.columns):
        raise InputError(
            f"table has a column named 'sample', the name of the MultiQC table's first column "
            f"({table_path}); rename that column."
        )

    method = meta.get("method")
    notes = {sig: _notes_of(given, meta, sig) for sig in signatures}
    text = _table_text(frame, names, signatures, several, method, meta, table_path)

    taken: set[str] = set()
    plot_files: dict[Path, str] = {}
    for sig in signatures:
        fname = PLOT_NAME if not several else f"ifnscore_{_safe_name(sig, taken)}_mqc.yaml"
        call_col = f"{sig}_call" if several else "call"
        plot_files[out_dir / fname] = _plot_text(
            frame,
            score_cols[sig],
            call_col if call_col in frame.columns else None,
            sig,
            fname,
            method,
            meta,
            notes[sig],
            several,
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [atomic_write(table_path, _writer(text))]
    for path, body in plot_files.items():
        written.append(atomic_write(path, _writer(body)))
    for old in out_dir.iterdir():
        if _PLOT_FILE.match(old.name) and old not in plot_files and old.is_file():
            old.unlink()
    return written


def _writer(text: str) -> Callable[[Path], Any]:
    def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")

    return write


def _single_name(table: pd.DataFrame, meta: Mapping[str, Any]) -> list[str]:
    sigs = list(meta.get("signatures", {}))
    if len(sigs) == 1:
        return sigs
    if sigs and all(f"{s}_score" in table.columns for s in sigs):
        return sigs  # flat(result) with its attrs: the signatures as recorded
    # A flat table read back from a file: signatures from the "<sig>_score" columns.
    if "score" in table.columns:
        return ["score"]
    found = [str(c)[: -len("_score")] for c in table.columns if str(c).endswith("_score")]
    if not found:
        raise InputError(
            "table has no 'score' column (nor '<signature>_score' columns); pass the table "
            "returned by ifnscore.score (or written by `ifnscore score`)."
        )
    return found


def _check_names(names: list[str], what: str, out: Path, *, header: bool = True) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not name.strip():
            raise InputError(
                f"{what} {i + 1} has an empty name, which MultiQC cannot show ({out}); name it."
            )
        _check_text(name, what.capitalize(), out)
        if header and name.startswith("#"):
            raise InputError(
                f"Sample {name!r} starts with '#', which MultiQC reads as a header line of {out}; "
                "rename the sample."
            )
        if name in seen:
            raise InputError(
                f"{what.capitalize()} {name!r} appears twice; MultiQC keeps one row per name "
                f"({out}), so make the names unique."
            )
        seen.add(name)


def _column_header(
    col: str, signatures: list[str], several: bool, method: Any, meta: Mapping[str, Any]
) -> dict[str, Any]:
    sig, field = None, col
    if several:
        for s in signatures:
            if col.startswith(f"{s}_") and col[len(s) + 1 :] in _FIELDS:
                sig, field = s, col[len(s) + 1 :]
                break
    elif col in _FIELDS:
        sig = signatures[0]
    if sig is None or field not in _FIELDS:
        return {"title": col}
    title, description, fmt = _FIELDS[field]
    if field == "score" and method:
        description = f"{sig}: {method} score"
    elif field in ("positive", "fold_over_limit"):
        limits = _limit_values(meta, sig)
        if len(limits) == 1:
            description = f"{sig}: {description} ({limits[0]:.6g})"
        else:
            description = f"{sig}: {description}"
    else:
        description = f"{sig}: {description}"
    header: dict[str, Any] = {
        "title": f"{sig} {title.lower()}" if several else title,
        "description": description,
    }
    if fmt:
        header["format"] = fmt
    return header


def _table_text(
    frame: pd.DataFrame,
    names: list[str],
    signatures: list[str],
    several: bool,
    method: Any,
    meta: Mapping[str, Any],
    out: Path,
) -> str:
    cols = [str(c) for c in frame.columns]
    limits = []
    for sig in signatures:
        values = _limit_values(meta, sig)
        label = _limit_source(meta, sig)
        if len(values) == 1:
            limits.append(f"{sig} upper limit {values[0]:.6g}" + (f" ({label})" if label else ""))
        elif values:
            limits.append(f"{sig}: {len(values)} group limits ({label or 'partition'})")
    description = (
        f"Type I interferon signature scores by ifnscore {meta.get('ifnscore_version', '')}".strip()
        + (f", method {method}" if method else "")
        + (f"; {'; '.join(limits)}" if limits else "")
        + "."
    )
    header = {
        "id": "ifnscore",
        "section_name": "Interferon signature scores",
        "description": description,
        "plot_type": "table",
        "pconfig": {
            "id": "ifnscore_table",
            "title": "ifnscore: scores",
            "namespace": "ifnscore",
            "col1_header": "Sample",
        },
        "headers": {c: _column_header(c, signatures, several, method, meta) for c in cols},
    }
    lines = [f"# {k}: {_json(v)}" for k, v in header.items()]
    lines.append("\t".join(["sample", *cols]))
    values = frame.to_numpy(dtype=object)
    for name, row in zip(names, values, strict=True):
        cells = [_cell(v) for v in row]
        for col, cell in zip(cols, cells, strict=True):
            _check_text(cell, f"The {col!r} value of sample {name!r},", out)
        lines.append("\t".join([_text_cell(name), *cells]))
    return "\n".join(lines) + "\n"


def _plot_text(
    frame: pd.DataFrame,
    score_col: str,
    call_col: str | None,
    sig: str,
    fname: str,
    method: Any,
    meta: Mapping[str, Any],
    notes: Sequence[str],
    several: bool,
) -> str:
    scores = frame[score_col]
    values = pd.to_numeric(scores, errors="coerce").to_numpy(dtype=float)
    calls = [str(c) for c in frame[call_col]] if call_col is not None else [sig] * len(values)
    data = {
        str(s): {c: float(v)}
        for s, v, c in zip(scores.index, values, calls, strict=True)
        if np.isfinite(v)
    }
    n_left = len(values) - len(data)
    limits = _limit_values(meta, sig)
    source = _limit_source(meta, sig)
    lines_cfg = [
        {
            "value": v,
            "label": f"upper limit {v:.6g}"
            + (f" ({source})" if source and len(limits) == 1 else ""),
            "color": "#d62728",
            "dash": "dash",
            "width": 2,
        }
        for v in limits
    ]
    what = f"{sig} score" + (f" ({method})" if method else "")
    desc = [f"The {what} of each sample"]
    if call_col is not None:
        desc.append(", coloured by its call")
    if len(limits) == 1:
        desc.append(
            f"; the dashed line is the upper limit {limits[0]:.6g}"
            + (f" ({source})" if source else "")
        )
    elif limits:
        desc.append(f"; the dashed lines are the {len(limits)} group upper limits")
    else:
        desc.append("; no upper limit was set, so no line is drawn")
    desc.append(".")
    rule = meta.get("signatures", {}).get(sig, {}).get("call_rule")
    if call_col is not None and rule:
        desc.append(f" Borderline zone: {rule}.")
    if n_left:
        desc.append(f" {n_left} sample(s) without a score are not drawn (see the table).")
    stem = fname[: -len("_mqc.yaml")]
    plot_id = "ifnscore_plot" if not several else f"{stem}_plot"
    config: dict[str, Any] = {
        "id": plot_id,
        "section_name": f"Interferon score: {sig}",
        "description": "".join(desc),
        "plot_type": "bargraph",
        "pconfig": {
            "id": f"{plot_id}_bar",
            "title": f"ifnscore: {sig}",
            "ylab": what,
            "cpswitch": False,
            "sort_samples": False,
            **({"x_lines": lines_cfg} if lines_cfg else {}),
        },
    }
    if notes:
        config["helptext"] = "Where the upper limit comes from:\n\n" + "\n".join(
            f"* {n}" for n in notes
        )
    if call_col is not None:
        present = list(dict.fromkeys(c for d in data.values() for c in d))  # drawn only
        order = [c for c in _CALL_COLOURS if c in present] + [
            c for c in present if c not in _CALL_COLOURS
        ]
        config["categories"] = {
            c: {"name": c, **({"color": _CALL_COLOURS[c]} if c in _CALL_COLOURS else {})}
            for c in order
        }
    config["data"] = data
    return "".join(f"{k}: {_json(v)}\n" for k, v in config.items())
