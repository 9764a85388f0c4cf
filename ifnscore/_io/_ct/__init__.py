"""qPCR plate exports -> one long Ct table (:func:`read_ct`).

One private module per instrument family; each exposes ``sniff(probe) -> bool`` (is this
file mine? decided from the content, not the extension alone) and
``parse(probe, *, sheet) -> pandas.DataFrame`` (the table of :mod:`._common`, built with
:func:`._common.finish`). :func:`read_ct` asks them in the order of :data:`READERS` (the
generic long/wide tables last) and refuses, in one sentence, a file none of them places.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import pandas as pd

from ...errors import InputError
from ._common import COLUMNS, TASKS, probe_file

__all__ = ["COLUMNS", "READERS", "TASKS", "read_ct"]

#: (module, what it reads), asked in this order.
READERS: tuple[tuple[str, str], ...] = (
    ("_rdml", "RDML 1.0-1.4 (zipped XML)"),
    ("_abi", "Applied Biosystems QuantStudio / ViiA 7 / StepOne / 7500 / Design & Analysis"),
    ("_biorad", "Bio-Rad CFX Manager / CFX Maestro Quantification Cq Results"),
    ("_roche", "Roche LightCycler 480 Abs Quant"),
    ("_qiagen", "Qiagen Rotor-Gene Q Excel Analysed Data Export"),
    ("_generic", "a long (sample, target, Ct) or wide Ct table"),
)


def read_ct(
    path: str | os.PathLike, *, sheet: str | int | None = None, rows: str = "auto"
) -> pd.DataFrame:
    """Read a qPCR plate export as it was run: one row per well and target.

    Parameters
    ----------
    path
        The file the instrument software exported (text, CSV, XLSX, XLS, RDML; gzip, bz2, xz
        or zstd compressed text too). The format is detected from the content.
    sheet
        Workbooks only: the sheet to read (default: the one the vendor's export puts the
        results in, e.g. ``Results``; the first sheet for generic tables).
    rows
        Generic wide Ct tables only: ``"auto"``, ``"samples"`` or ``"genes"`` (targets).

    Returns
    -------
    pandas.DataFrame
        Columns ``well``, ``sample``, ``target``, ``ct`` (float; NaN when undetermined),
        ``undetermined`` (bool), ``task`` (lower case: ``unknown``, ``standard``, ``ntc``,
        ``negative``, ...), ``omitted`` (bool), then any vendor columns kept (e.g.
        ``quantity`` of standards). ``attrs["ifnscore_ct"]``: ``vendor``, ``instrument``,
        ``software``, ``version``, ``run_date``, ``file``, ``format`` and ``notes``.

    Raises
    ------
    ifnscore.errors.InputError
        The file is missing, empty, damaged, or not a qPCR export ifnscore knows (the
        message names the file and the formats it reads).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import ifnscore
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "plate.csv"
    >>> _ = path.write_text(
    ...     "Well,Sample Name,Target Name,Task,CT\\n"
    ...     "A1,P1,IFI27,UNKNOWN,24.1\\nA2,P1,IFI27,UNKNOWN,Undetermined\\n"
    ...     "A3,NTC,IFI27,NTC,Undetermined\\n"
    ... )
    >>> plate = ifnscore.read_ct(path)
    >>> print(plate[["well", "sample", "ct", "undetermined", "task"]].to_string(index=False))
    well sample   ct  undetermined    task
      A1     P1 24.1         False unknown
      A2     P1  NaN          True unknown
      A3    NTC  NaN          True     ntc
    """
    if rows not in ("auto", "samples", "genes"):
        raise InputError(f"rows={rows!r} is not valid; use 'auto', 'samples' or 'genes'.")
    probe = probe_file(path)
    for name, _ in READERS:
        mod: Any = importlib.import_module(f"{__name__}.{name}")
        if mod.sniff(probe):
            if name == "_generic":
                return mod.parse(probe, sheet=sheet, rows=rows)
            return mod.parse(probe, sheet=sheet)
    kinds = "; ".join(what for _, what in READERS)
    raise InputError(
        f"{probe.where}: not a qPCR export ifnscore can read (it reads {kinds}); export the "
        "plate's results table from the instrument software, or a table with sample, target "
        "and Ct columns."
    )
