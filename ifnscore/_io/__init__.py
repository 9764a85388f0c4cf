"""Readers for expression files and lab platforms; :func:`read` is the public entry point.

One private module per format; every reader returns an AnnData (samples x genes) with
``uns['ifnscore_read']`` saying what was read and how.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import LIBRARY_SIZE_KEY
from ..errors import InputError

__all__ = ["FORMATS", "LIBRARY_SIZE_KEY", "read"]

FORMATS = (
    "auto",
    "delimited",
    "excel",
    "parquet",
    "h5ad",
    "10x_h5",
    "10x_mtx",
    "gct",
    "salmon",
    "featurecounts",
    "count_files",
    "star",
    "kallisto",
    "qpcr",
    "nanostring",
)

_OPTIONS: dict[str, tuple[str, ...]] = {
    "delimited": ("sep",),
    "excel": ("sheet",),
    "parquet": (),
    "h5ad": ("backed",),
    "10x_h5": ("var_names",),
    "10x_mtx": ("var_names",),
    "gct": (),
    "salmon": ("quantity", "tx2gene"),
    "featurecounts": (),
    "count_files": (),
    "star": ("strand",),
    "kallisto": ("quantity", "tx2gene"),
    "qpcr": (
        "reference_genes",
        "calibrator",
        "max_ct",
        "max_sd",
        "efficiency",
        "combine_plates",
        "sheet",
    ),
    "nanostring": (
        "normalize_to",
        "housekeeping",
        "positive",
        "fov_min",
        "binding_density",
        "linearity_min",
        "lod_sd",
        "housekeeping_geomean",
        "background",
    ),
}

_EXT = {
    ".h5ad": "h5ad",
    ".h5": "10x_h5",
    ".gct": "gct",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".rcc": "nanostring",
    ".sf": "salmon",
}


def _sniff(path: Path) -> str:
    """Format of a single file from its name or extension, else from its first line, else from
    its first lines' shape (two columns, numbers second: a per-sample count file; STAR's and
    kallisto's layouts: :func:`._pipelines.sniff_table`)."""
    from ._open import open_text, strip_compression
    from ._pipelines import sniff_table

    name, _ = strip_compression(path)
    if name.lower().endswith("readspergene.out.tab"):
        return "star"
    if name.lower() == "abundance.tsv":
        return "kallisto"
    ext = os.path.splitext(name)[1].lower()
    from ._qpcr import looks_like_qpcr

    if ext in (".xlsx", ".xlsm", ".xls", ".rdml", ".zip", ".xml") and looks_like_qpcr(path):
        return "qpcr"  # a vendor's workbook or an RDML archive, placed by its content
    if ext == ".rdml":
        return "qpcr"  # the RDML reader says what is wrong with it
    if ext in _EXT:
        return _EXT[ext]
    with open_text(path) as fh:
        first = fh.readline()
    low = first.strip().lower()
    if low.startswith("# program:featurecounts"):
        return "featurecounts"
    if low in ("#1.2", "#1.3"):
        return "gct"
    if low.startswith("<header>"):
        return "nanostring"
    table = sniff_table(path)
    if table is not None:
        return table
    if looks_like_qpcr(path, first):
        return "qpcr"
    return "delimited"


def _files_in(folder: Path) -> list[Path]:
    """Every entry of ``folder`` (files and subfolders, hidden ones too), sorted by name."""
    return sorted(folder.iterdir())


def _resolve(paths: list[Path], fmt: str) -> tuple[str, list[Path]]:
    """(format, files) for the given paths; folders are expanded.

    A folder's entries that are not read are reported (:func:`._pipelines.resolve_folder`);
    the files come back as a :class:`._pipelines.FileList` carrying them to the reader's
    ``uns['ifnscore_read']['skipped']``. Several files must all be of one format that merges
    files (checked from each file's content when ``fmt`` is ``"auto"``).
    """
    from ._pipelines import PER_SAMPLE_FORMATS, resolve_folder

    if fmt not in FORMATS:
        raise InputError(f"format={fmt!r} is not known; use one of {', '.join(FORMATS)}.")
    for p in paths:
        if not p.exists():
            raise InputError(f"{str(p)!r}: no such file or folder.")
    if len(paths) == 1 and paths[0].is_dir():
        folder = paths[0]
        from ._tenx import is_10x_folder

        if fmt in ("auto", "10x_mtx") and is_10x_folder(folder):
            return "10x_mtx", [folder]
        if not _files_in(folder):
            raise InputError(f"{str(folder)!r} is an empty folder.")
        return resolve_folder(folder, fmt)
    if any(p.is_dir() for p in paths):
        raise InputError(
            "Give either one folder or a list of files, not folders among several inputs."
        )
    multi = (*PER_SAMPLE_FORMATS, "qpcr")
    if fmt == "auto":
        kinds = {p: _sniff(p) for p in paths}
        found = set(kinds.values())
        if len(found) == 1:
            fmt = found.pop()
        elif found <= {"count_files", "delimited"}:
            fmt = "count_files"  # the count-file reader names the file that is not one
        else:
            first = {k: str(p) for p, k in reversed(list(kinds.items()))}
            raise InputError(
                "The files given are of different formats ("
                + "; ".join(f"{k}: {v!r}" for k, v in sorted(first.items()))
                + "); read one format at a time, or pass format=."
            )
    if len(paths) > 1 and fmt not in multi:
        raise InputError(
            f"format {fmt!r} reads one file at a time; several files are merged only for "
            f"{', '.join(multi)}."
        )
    return fmt, paths


def _wanted(gene_hint: Sequence[str]) -> Callable[[str], bool]:
    """Row filter of the streaming reader: keep every row whose label *could* name a signature
    gene under the matching rules of :func:`ifnscore._genes.match_genes`: the gene's name in
    any case, and, through the shipped gene table, its official symbol, aliases and previous
    symbols, Ensembl IDs (with or without version) and NCBI Gene ID. Keeping a superset is
    safe: the scorer then matches the kept rows exactly as it would the whole table."""
    from .._genes._table import _ensembl_core, load_table

    keys = {g.upper() for g in gene_hint}
    table = load_table()
    for g in gene_hint:
        for r in table.resolve(g).rows:
            keys.update(x.upper() for x in table.identifiers(r))

    def wanted(name: str) -> bool:
        up = name.upper()
        return up in keys or _ensembl_core(name) in keys

    return wanted


def read(
    path: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    format: str = "auto",
    rows: str = "auto",
    signature: Any = None,
    **options: Any,
) -> Any:
    r"""Read an expression file (or several) into an AnnData, samples x genes.

    Parameters
    ----------
    path
        A file, a folder, or a list of files. Folders: a 10x matrix folder, a folder of Salmon
        or kallisto outputs (``*/quant.sf``, ``*/abundance.tsv``), of STAR
        ``*ReadsPerGene.out.tab``, of NanoString ``.RCC`` files, or of per-sample count files.
        A folder of qPCR plate exports is several plates. Also the table (or list of tables,
        one per plate) returned by :func:`ifnscore.read_ct`, e.g. after setting the targets of
        a LightCycler export, which does not name them: it is read as ``format="qpcr"``.
        A folder's files that are not data (documentation, scripts, images, provenance and
        licence files, other formats' files, subfolders) are left out and reported: listed in
        ``uns["ifnscore_read"]["skipped"]`` with the reason, and named in an
        :class:`~ifnscore.errors.IfnscoreWarning`; a file that could be data is read, and is an
        error naming it when malformed.
    format
        ``"auto"`` (default: from the extension, then the first line; compression is detected
        from the content) or one of ``"delimited"`` (CSV/TSV/TXT, optionally gzip, bz2, xz or
        zstd), ``"excel"``, ``"parquet"``, ``"h5ad"``, ``"10x_h5"``, ``"10x_mtx"``, ``"gct"``
        (1.2 and 1.3), ``"salmon"``, ``"featurecounts"``, ``"count_files"`` (HTSeq/GEO gene,
        count files merged by gene), ``"star"`` (``ReadsPerGene.out.tab``), ``"kallisto"``
        (``abundance.tsv``), ``"qpcr"`` (qPCR plate exports -> relative quantities),
        ``"nanostring"`` (RCC files -> normalised counts).
    rows
        Tables only: ``"auto"`` (the axis whose labels look like gene identifiers holds the
        genes; refuses when unclear), ``"genes"`` or ``"samples"``.
    signature
        Signature(s) to be scored (anything :func:`ifnscore.score` accepts). With a delimited
        file whose rows are genes, only these genes' rows are kept, in one streaming pass that
        also sums every sample's column over all genes: ``obs["ifnscore_library_size"]``, which
        :func:`ifnscore.score` and :func:`ifnscore.calibrate` then use as the library size for
        ``scale="counts"``:

        .. math:: \mathrm{CPM}_{ig} = 10^6\,x_{ig} / \textstyle\sum_{h \in \text{file}} x_{ih}

        Memory is bounded by signature genes x samples, not by the file.
    **options
        Format options: ``sep`` (delimited; default from the extension or the header),
        ``sheet`` (excel, qpcr), ``backed`` (h5ad; keep ``X`` on disk), ``var_names``
        (10x: ``"gene_symbols"`` or ``"gene_ids"``), ``quantity`` (salmon: ``"NumReads"`` or
        ``"TPM"``; kallisto: ``"est_counts"`` or ``"tpm"``), ``tx2gene`` (salmon, kallisto:
        transcript -> gene table), ``strand`` (star).

        Per-sample count files (``format="count_files"``; detected from the content: two
        columns, tab- or space-separated, numbers second): each file is one sample named
        after the file without its data and compression extensions (GEO's
        ``GSM4923334_HPPT_IFNa_rep1.txt`` -> ``GSM4923334_HPPT_IFNa_rep1``), the same whether
        it is read alone, in a list or from its folder; a first line whose second field is
        not a number is a header. HTSeq-count's ``__no_feature``, ``__ambiguous``,
        ``__too_low_aQual``, ``__not_aligned`` and ``__alignment_not_unique`` rows are not
        genes: left out of ``X`` and of the library size (``obs["ifnscore_library_size"]``,
        each file's total over its genes) and reported per sample in
        ``uns["ifnscore_read"]["htseq_summary"]``. STAR (``format="star"``): ``strand``
        ``"unstranded"`` (column 2), ``"forward"`` (3, htseq-count ``-s yes``) or
        ``"reverse"`` (4, ``-s reverse``); when not given it is inferred from the gene totals
        of columns 3 and 4 (one >= 80 % of their sum: stranded; both 40-60 %: unstranded;
        else refused), reported in ``uns["ifnscore_read"]["strand_reason"]`` and a warning;
        the ``N_*`` rows are not genes (STAR manual, "Counting number of reads per gene").
        kallisto (``format="kallisto"``): ``quantity`` ``"est_counts"`` (default, scale
        ``"counts"``) or ``"tpm"`` (``"linear"``). All are scale ``"counts"`` otherwise.

        qPCR (``format="qpcr"``: plate exports of Applied Biosystems QuantStudio / ViiA 7 /
        StepOne / 7500 / SDS, Bio-Rad CFX, Roche LightCycler 480, Qiagen Rotor-Gene, RDML, or a
        generic long or wide Ct table, detected from the content; several files or a folder
        are several plates): ``reference_genes`` (default ``("HPRT1", "18S")``, Rice et al.
        2013, doi:10.1016/S1474-4422(13)70258-8; any case), ``calibrator`` (a sample, a list
        of samples, or ``None``: :math:`RQ = 2^{-\Delta Ct}`), ``max_ct`` (the run's last
        cycle, default 40: a Ct above it is an error), ``max_sd`` (flag replicates whose Ct
        SD exceeds it, default 0.5 cycles), ``efficiency`` (``None``: E = 2; a dict target ->
        amplification factor E in (1, 2.2]; or ``"standard_curve"``: from the plate's
        standards, :math:`E = 10^{-1/\mathrm{slope}}`), ``combine_plates`` (``"keep"``: a
        sample on several plates is a row per plate, ``sample@plate``; ``"mean"``: averaged
        in :math:`\log_2 RQ`), ``sheet``. Only wells of task Unknown are samples; NTC,
        standards, controls and omitted wells are left out and counted in
        ``uns["ifnscore_read"]["excluded_wells"]``. Undetermined replicates are ignored
        unless more than half of a sample's replicates for that target are undetermined; only
        then the value is censored at ``max_ct``, a bound (``layers["censored"]``; a warning)
        (the vendors' rule, Applied Biosystems SDS "Automatic Outlier Removal"). Each plate
        is normalised with its own reference genes:

        .. math:: \log_2 RQ_{st} = -Ct_{st}\log_2 E_t + \tfrac{1}{|R|}\textstyle\sum_{r\in R}
                  Ct_{sr}\log_2 E_r \;-\; (\text{the same for the calibrator})

        which is :math:`-\Delta\Delta Ct` when every E = 2 (Livak & Schmittgen 2001,
        doi:10.1006/meth.2001.1262; Pfaffl 2001, doi:10.1093/nar/29.9.e45; Hellemans et al.
        2007, doi:10.1186/gb-2007-8-2-r19). ``X`` holds RQ (scale ``"rq"``), ``layers``
        ``ct``, ``delta_ct``, ``log2_rq`` and ``censored``, ``obs`` the plate and the flags.

        NanoString (``format="nanostring"``, ``.RCC`` files; samples are keyed by file name
        without ``.RCC``, the RCC's Sample ID is ``obs["sample_ID"]``): ``normalize_to``
        (``"batch"``: nSolver's scaling to the mean of the lanes' geometric means, default; or
        a number: each lane scaled on its own to that housekeeping geometric mean, so values
        do not depend on the batch), ``housekeeping`` and ``positive`` (probe names; default:
        the codeset's Housekeeping and Positive classes), ``background`` (``None``, default;
        ``"subtract_mean"``: minus the lane's negatives' mean, floored at 0; ``"threshold"``:
        counts below the negatives' mean + ``lod_sd`` SD raised to it), and the QC limits of
        NanoStringNCTools' ``setQCFlags`` (NanoString's Gene Expression Data Analysis
        Guidelines, MAN-C0011-04): ``fov_min`` (0.75), ``binding_density`` (default
        (0.1, 2.25), (0.1, 1.8) on a SPRINT), ``linearity_min`` (0.95, :math:`R^2` of
        :math:`\log_2\max(\text{count}, 0.5)` on log2 concentration over the positive
        controls of at least 0.5 fM), ``lod_sd`` (2: the 0.5 fM control must not be below the
        negatives' mean + 2 SD) and ``housekeeping_geomean`` ((32, 100): housekeeping
        geometric mean below 32 ``"fail"``, below 100 ``"borderline"``). Code classes other
        than Endogenous, Housekeeping, Positive and Negative (PROTEIN, SNV_*) and lanes with
        none of them are left out with a note (``uns``, a warning). ``X`` holds the
        normalised counts, ``layers["counts"]`` the raw ones, ``obs`` attributes, QC values
        and ``qc_*`` flags.

    Returns
    -------
    anndata.AnnData
        Samples x genes; ``X`` dense float64 (sparse CSR for 10x; on disk for backed h5ad);
        ``obs``/``var`` hold the metadata the format carries (GCT column/row metadata,
        featureCounts annotation, qPCR flags, NanoString attributes and QC flags);
        ``uns["ifnscore_read"]`` records the format, source and options, and the scale the
        values are on where the format implies one (``"counts"``, ``"linear"``): pass it as
        ``scale=`` to :func:`ifnscore.score` (the command line does so when ``--scale`` is
        ``auto``).

    Raises
    ------
    ifnscore.errors.InputError
        Missing, empty, truncated or corrupt files, a file that is not what its extension
        says, non-numeric cells, duplicated genes or samples; the message names the file
        (and the line or sample where known).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> import ifnscore
    >>> counts, samples = ifnscore.datasets.load_example(as_frame=True)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "counts.tsv.gz"
    >>> counts.T.to_csv(path, sep="\t")                      # genes as rows, gzip
    >>> adata = ifnscore.read(path, signature="rice6")       # streams only rice6's rows
    >>> adata.shape
    (99, 6)
    >>> full = ifnscore.read(path)
    >>> controls = full[(samples["group"] == "control").to_numpy()]
    >>> ref = ifnscore.calibrate(controls, signature="rice6")
    >>> a = ifnscore.score(adata, reference=ref, copy=True).obs["ifnscore"]
    >>> b = ifnscore.score(full, reference=ref, copy=True).obs["ifnscore"]
    >>> bool(np.allclose(a, b, rtol=1e-12))
    True
    """
    return _read(path, format=format, rows=rows, signature=signature, options=options)


def _read(
    path: Any,
    *,
    format: str = "auto",
    rows: str = "auto",
    signature: Any = None,
    options: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Any:
    options = dict(options or {})
    tables = _ct_tables(path)
    if tables is not None:  # plates already read by read_ct (and perhaps edited)
        if format not in ("auto", "qpcr"):
            raise InputError(
                f"path= is a read_ct table, which is read as format='qpcr', not format={format!r}."
            )
        ct_options = {o for o in _OPTIONS["qpcr"] if o != "sheet"}
        unknown = sorted(set(options) - ct_options)
        if unknown:
            raise InputError(
                f"Option(s) {unknown} do not apply to read_ct tables; the options are {sorted(ct_options)}."
            )
        from ._qpcr import relative_quantities

        return relative_quantities(tables, **options)
    if isinstance(path, str | os.PathLike):
        paths = [Path(path)]
    else:
        paths = [Path(p) for p in path]
        if not paths:
            raise InputError("path= is an empty list; give at least one file.")
    if rows not in ("auto", "genes", "samples"):
        raise InputError(f"rows={rows!r} is not valid; use 'auto', 'genes' or 'samples'.")
    fmt, files = _resolve(paths, format)
    allowed = _OPTIONS[fmt]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(
            f"Option(s) {unknown} do not apply to format {fmt!r}; its options are {list(allowed) or 'none'}."
        )
    gene_hint: list[str] = []
    if signature is not None:
        from .._signatures import as_signatures

        gene_hint = [g for s in as_signatures(signature) for g in s.all_genes]
    f0 = files[0]
    if fmt == "delimited":
        return _read_delimited(
            f0,
            rows=rows,
            gene_hint=gene_hint,
            stream=signature is not None,
            progress=progress,
            **options,
        )
    if fmt == "excel":
        from ._excel import read_excel_table

        return read_excel_table(f0, rows=rows, gene_hint=gene_hint, **options)
    if fmt == "parquet":
        from ._parquet import read_parquet

        return read_parquet(f0, rows=rows, gene_hint=gene_hint)
    if fmt == "h5ad":
        from ._h5ad import read_h5ad

        return read_h5ad(f0, **options)
    if fmt == "10x_h5":
        from ._tenx import read_10x_h5

        return read_10x_h5(f0, **options)
    if fmt == "10x_mtx":
        from ._tenx import read_10x_mtx

        return read_10x_mtx(f0, **options)
    if fmt == "gct":
        from ._gct import read_gct

        return read_gct(f0)
    if fmt == "salmon":
        from ._pipelines import read_salmon

        return read_salmon(files, progress=progress, **options)
    if fmt == "featurecounts":
        from ._pipelines import read_featurecounts

        return read_featurecounts(f0)
    if fmt == "count_files":
        from ._pipelines import read_count_files

        return read_count_files(files, progress=progress)
    if fmt == "qpcr":
        from ._qpcr import read_qpcr

        return read_qpcr(files, rows=rows, **options)
    if fmt == "star":
        from ._pipelines import read_star

        return read_star(files, progress=progress, **options)
    if fmt == "kallisto":
        from ._pipelines import read_kallisto

        return read_kallisto(files, progress=progress, **options)
    from ._nanostring import read_rcc

    return read_rcc(files, progress=progress, **options)


def _ct_tables(path: Any) -> list[Any] | None:
    """The table(s) of :func:`read_ct` given as ``path``, or None for file paths."""
    import pandas as pd

    from ._ct import COLUMNS

    items = [path] if isinstance(path, pd.DataFrame) else path
    if (
        not isinstance(items, list | tuple)
        or not items
        or not all(isinstance(t, pd.DataFrame) for t in items)
    ):
        return None
    for i, t in enumerate(items):
        missing = [c for c in COLUMNS if c not in t.columns]
        if missing:
            raise InputError(
                f"path= table {i + 1} is not a read_ct table: it lacks columns {missing} (a read_ct table has "
                f"{list(COLUMNS)})."
            )
    return list(items)


def _read_delimited(
    path: Path,
    *,
    rows: str,
    gene_hint: Sequence[str],
    stream: bool,
    progress: Callable[[int], None] | None,
    sep: str | None = None,
) -> Any:
    from .._genes import gene_likeness
    from ._delimited import guess_sep, read_delimited, read_header, split_header

    header = read_header(path)
    sep = sep or guess_sep(path, header)
    if stream and rows != "samples" and sep != r"\s+":
        labels = split_header(header, sep)
        if rows == "genes" or gene_likeness(labels[1:], gene_hint) == 0:
            return _read_streamed(path, sep=sep, gene_hint=gene_hint, progress=progress)
    return read_delimited(path, rows=rows, gene_hint=gene_hint, sep=sep)


def _read_streamed(
    path: Path, *, sep: str, gene_hint: Sequence[str], progress: Callable[[int], None] | None
) -> Any:
    from ._stream import stream_gene_rows
    from ._table import make_adata

    s = stream_gene_rows(path, sep=sep, wanted=_wanted(gene_hint), progress=progress)
    if not s.genes:
        raise InputError(
            f"{str(path)!r}: none of the signature genes ({sorted(set(gene_hint))[:8]}...) is a row label of this "
            f"file (first rows: {s.row_labels_sample[:3]}); if its rows are samples pass rows='samples', else "
            "check the gene identifiers."
        )
    import pandas as pd

    obs = pd.DataFrame({LIBRARY_SIZE_KEY: s.totals})
    return make_adata(
        np.ascontiguousarray(s.values.T),
        s.samples,
        s.genes,
        where=str(path),
        fmt="delimited",
        obs=obs,
        uns={
            "rows": "genes",
            "sep": sep,
            "streamed": True,
            "n_genes_in_file": s.n_rows,
            "all_integer": s.integer,
            "library_size": f"obs[{LIBRARY_SIZE_KEY!r}]: column totals over all {s.n_rows} genes",
        },
    )
