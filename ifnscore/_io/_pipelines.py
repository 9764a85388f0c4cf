"""RNA-seq pipeline outputs: Salmon ``quant.sf``, kallisto ``abundance.tsv``, STAR
``ReadsPerGene.out.tab``, featureCounts tables, and per-sample two-column count files
(HTSeq-count, GEO supplementary files) merged into one matrix.

Also the folder rules shared by the readers of one-file-per-sample formats: which files of a
folder are read and which are left out (and reported, never silently).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._validation import LIBRARY_SIZE_KEY
from ..errors import InputError
from ._open import open_binary, open_text, strip_compression
from ._table import check_unique, make_adata, numeric_frame

__all__ = [
    "FileList",
    "non_data_reason",
    "read_count_files",
    "read_featurecounts",
    "read_kallisto",
    "read_salmon",
    "read_star",
    "sample_name",
    "sniff_table",
]

#: HTSeq-count's summary rows (not genes): excluded from the matrix and from the library
#: size, reported in ``uns`` (HTSeq documentation, "htseq-count: counting reads in features").
#: Any other label that starts with ``__`` is treated the same way (no gene symbol or ID does).
HTSEQ_SPECIAL = (
    "__no_feature",
    "__ambiguous",
    "__too_low_aQual",
    "__not_aligned",
    "__alignment_not_unique",
)
#: The first four rows of STAR's ``ReadsPerGene.out.tab`` (STAR manual, section "Counting
#: number of reads per gene"): not genes.
STAR_SPECIAL = ("N_unmapped", "N_multimapping", "N_noFeature", "N_ambiguous")
#: ``strand=`` -> STAR's count column (1-based, as in the manual): 2 unstranded, 3 the
#: read's strand is the gene's (htseq-count ``-s yes``), 4 the reverse (``-s reverse``).
STAR_STRANDS = {"unstranded": 2, "forward": 3, "reverse": 4}
SALMON_COLUMNS = ("Name", "Length", "EffectiveLength", "TPM", "NumReads")
KALLISTO_COLUMNS = ("target_id", "length", "eff_length", "est_counts", "tpm")

#: Inferring STAR's strandedness from the gene totals of columns 3 (f) and 4 (r): stranded
#: when one holds at least this share of f + r (4x the other), unstranded when both are
#: within ``_UNSTRANDED`` of one half (within 1.5x of each other); in between, refused.
_STRANDED_SHARE = 0.8
_UNSTRANDED = (0.4, 0.6)

_NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")

# --------------------------------------------------------------------------- folders

#: Extensions (after any compression extension) of files that are never per-sample data.
_NON_DATA_EXT = {
    **dict.fromkeys(
        (
            ".md",
            ".markdown",
            ".rst",
            ".html",
            ".htm",
            ".pdf",
            ".doc",
            ".docx",
            ".odt",
            ".rtf",
            ".ppt",
            ".pptx",
        ),
        "a document",
    ),
    **dict.fromkeys(
        (
            ".py",
            ".r",
            ".rmd",
            ".qmd",
            ".ipynb",
            ".sh",
            ".bash",
            ".zsh",
            ".pl",
            ".rb",
            ".js",
            ".sql",
            ".nf",
            ".smk",
            ".wdl",
            ".cwl",
            ".bat",
            ".ps1",
        ),
        "a script",
    ),
    **dict.fromkeys(
        (".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".xml", ".log"),
        "a configuration, metadata or log file",
    ),
    **dict.fromkeys(
        (".png", ".jpg", ".jpeg", ".gif", ".svg", ".tif", ".tiff", ".bmp", ".eps", ".ps", ".webp"),
        "an image",
    ),
    **dict.fromkeys((".zip", ".tar", ".7z", ".rar"), "an archive (unpack it first)"),
    **dict.fromkeys(
        (
            ".bam",
            ".sam",
            ".cram",
            ".bai",
            ".crai",
            ".csi",
            ".fastq",
            ".fq",
            ".fa",
            ".fasta",
            ".fna",
            ".gtf",
            ".gff",
            ".gff3",
            ".bed",
            ".bw",
            ".bigwig",
            ".vcf",
        ),
        "reads, alignments or annotation, not counts",
    ),
    **dict.fromkeys((".md5", ".sha1", ".sha256", ".sha512"), "a checksum file"),
    **dict.fromkeys(
        (".xlsx", ".xlsm", ".xls", ".ods"),
        "a spreadsheet, not a per-sample count file (read it on its own)",
    ),
    **dict.fromkeys(
        (".h5ad", ".h5", ".loom", ".rds", ".rdata", ".rda", ".parquet", ".pq", ".mtx", ".gct"),
        "a whole matrix, not a per-sample count file (read it on its own)",
    ),
    ".rlf": "a NanoString RLF (probe annotation) file, not counts",
}
#: File names (lower case, before the first dot) that are documentation or provenance.
_NON_DATA_STEMS = {
    "readme",
    "license",
    "licence",
    "copying",
    "provenance",
    "notice",
    "authors",
    "changelog",
    "changes",
    "citation",
    "contributing",
    "manifest",
    "md5sum",
    "md5sums",
    "checksums",
    "sha256sums",
    "makefile",
    "snakefile",
    "dockerfile",
    "nextflow",
}
#: STAR's other outputs, named ``<prefix>Log.out`` etc.
_STAR_OTHER = ("log.out", "log.final.out", "log.progress.out", "sj.out.tab")


class FileList(list[Path]):
    """The files a reader is given, and those of the same folder left out (``skipped``:
    ``(name, reason)`` pairs), so the reader can record them in ``uns``."""

    def __init__(self, files: Iterable[Path] = (), skipped: Iterable[tuple[str, str]] = ()):
        super().__init__(files)
        self.skipped: list[tuple[str, str]] = list(skipped)


def skipped_of(paths: Sequence[Any]) -> list[dict[str, str]]:
    """``[{"file": name, "reason": why}, ...]`` for a :class:`FileList`, else ``[]``."""
    return [{"file": f, "reason": r} for f, r in getattr(paths, "skipped", [])]


def non_data_reason(path: Path) -> str | None:
    """Why ``path`` is not a per-sample data file (documentation, a script, an image, a
    provenance or licence file, ...), or ``None`` when it could be data."""
    name, _ = strip_compression(path)
    low = name.lower()
    if low.startswith("."):
        return "a hidden file"
    if low.split(".")[0] in _NON_DATA_STEMS or re.match(r"^(readme|license|licence)[_-]", low):
        return "documentation, licence or provenance"
    if any(low.endswith(s) for s in _STAR_OTHER):
        return "a STAR log or splice-junction file, not gene counts"
    return _NON_DATA_EXT.get(os.path.splitext(low)[1])


def sample_name(path: Path) -> str:
    """A sample's name from its file name without its data and compression extensions.

    ``S1.counts.txt.gz`` -> ``S1``; GEO's ``GSM4923334_HPPT_IFNa_rep1.txt`` ->
    ``GSM4923334_HPPT_IFNa_rep1`` (kept whole); Salmon's ``S1/quant.sf`` and kallisto's
    ``S1/abundance.tsv`` -> ``S1`` (the folder); STAR's ``S1_ReadsPerGene.out.tab`` -> ``S1``
    (the ``--outFileNamePrefix``, separators at its end dropped; the folder when empty).
    """
    name, _ = strip_compression(path)
    low = name.lower()
    for tail in ("readspergene.out.tab", "quant.genes.sf", "quant.sf", "abundance.tsv"):
        if low.endswith(tail):
            prefix = name[: -len(tail)].rstrip("._-")
            return prefix or path.resolve().parent.name
    for ext in (".txt", ".tsv", ".csv", ".tab", ".counts", ".count", ".htseq", ".sf", ".bam"):
        while name.lower().endswith(ext) and len(name) > len(ext):
            name = name[: -len(ext)]
    return name


def _fields(line: str) -> list[str]:
    return line.rstrip("\r\n").split("\t") if "\t" in line else line.split()


def sniff_table(path: Path, max_lines: int = 200) -> str | None:
    """``"star"``, ``"kallisto"`` or ``"count_files"`` from the content of ``path``, else None.

    A count file: every one of the first ``max_lines`` non-empty lines has two fields
    (tab-separated, or whitespace) and a number second, except that a first line whose second
    field is not a number is a header (``gene_id<TAB>count``). STAR: four fields, the first
    four rows ``N_unmapped``, ``N_multimapping``, ``N_noFeature``, ``N_ambiguous``. kallisto:
    the header ``target_id length eff_length est_counts tpm``.
    """
    lines: list[list[str]] = []
    try:
        with open_text(path) as fh:
            for line in fh:
                if not line.strip():
                    continue
                fields = _fields(line)
                if not lines and tuple(x.strip() for x in fields[:5]) == KALLISTO_COLUMNS:
                    return "kallisto"
                if len(fields) not in (2, 4):  # none of these layouts: stop reading
                    return None
                lines.append(fields)
                if len(lines) >= max_lines:
                    break
    except (InputError, UnicodeDecodeError, OSError):
        return None
    if not lines:
        return None
    if len(lines) >= 4 and all(
        len(f) == 4 and f[0] == s for f, s in zip(lines[:4], STAR_SPECIAL, strict=False)
    ):
        return "star"
    body = lines[1:] if len(lines[0]) == 2 and not _NUM.match(lines[0][1].strip()) else lines
    if body and all(len(f) == 2 and _NUM.match(f[1].strip()) for f in body):
        return "count_files"
    return None


def _read_frame(path: Path, **kw: Any) -> pd.DataFrame:
    try:
        with open_binary(path) as fh:
            return pd.read_csv(fh, **kw)
    except pd.errors.EmptyDataError:
        raise InputError(f"{str(path)!r} is empty.") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{str(path)!r}: not a well-formed table ({exc}).") from None


def _unique_samples(names: list[str], paths: Sequence[Path], what: str) -> None:
    seen: dict[str, Path] = {}
    for name, p in zip(names, paths, strict=True):
        if name in seen:
            raise InputError(
                f"{str(p)!r}: its sample name {name!r} ({what}) is also that of {str(seen[name])!r}; "
                "rename one of the two."
            )
        seen[name] = p


# --------------------------------------------------------------------------- Salmon, kallisto


def _one_salmon(path: Path) -> pd.DataFrame:
    df = _read_frame(path, sep="\t")
    missing = [c for c in SALMON_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(
            f"{str(path)!r}: not a Salmon quant.sf (missing columns {missing}; expected {list(SALMON_COLUMNS)})."
        )
    df = df.set_index("Name")
    df.index = df.index.map(str)
    check_unique(df.index, "transcript/gene Name", str(path))
    return numeric_frame(
        df[["Length", "EffectiveLength", "TPM", "NumReads"]], str(path), first_line=2
    )


def read_salmon(
    paths: Sequence[Path],
    *,
    quantity: str = "NumReads",
    tx2gene: str | os.PathLike | None = None,
    progress: Callable[[int], None] | None = None,
) -> Any:
    """Salmon ``quant.sf`` (or ``quant.genes.sf``) files, one per sample (named by their folder).

    ``quantity="NumReads"`` (estimated counts, scored with ``scale="counts"``) or ``"TPM"``
    (``scale="linear"``). ``tx2gene``: a two-column table (transcript, gene) to sum transcripts
    into genes (both quantities are additive over a gene's transcripts).
    """
    if quantity not in ("NumReads", "TPM"):
        raise InputError(f"quantity={quantity!r} is not valid for Salmon; use 'NumReads' or 'TPM'.")
    cols = {}
    names = [sample_name(p) for p in paths]
    _unique_samples(names, paths, "from the Salmon folders")
    for name, p in zip(names, paths, strict=True):
        cols[name] = _one_salmon(p)[quantity]
        if progress is not None:
            progress(1)
    frame = _merge(cols, [str(p) for p in paths])
    if tx2gene is not None:
        frame = _to_genes(frame, Path(tx2gene))
    scale = "counts" if quantity == "NumReads" else "linear"
    return make_adata(
        np.ascontiguousarray(frame.to_numpy(dtype=np.float64).T),
        frame.columns,
        frame.index,
        where=", ".join(map(str, paths)),
        fmt="salmon",
        uns={"quantity": quantity, "scale": scale, "skipped": skipped_of(paths)},
    )


def _one_kallisto(path: Path) -> pd.DataFrame:
    df = _read_frame(path, sep="\t")
    missing = [c for c in KALLISTO_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(
            f"{str(path)!r}: not a kallisto abundance.tsv (missing columns {missing}; expected "
            f"{list(KALLISTO_COLUMNS)})."
        )
    df = df.set_index("target_id")
    df.index = df.index.map(str)
    check_unique(df.index, "target_id", str(path))
    return numeric_frame(df[list(KALLISTO_COLUMNS[1:])], str(path), first_line=2)


def read_kallisto(
    paths: Sequence[Path],
    *,
    quantity: str = "est_counts",
    tx2gene: str | os.PathLike | None = None,
    progress: Callable[[int], None] | None = None,
) -> Any:
    """kallisto ``abundance.tsv`` files (``target_id length eff_length est_counts tpm``), one
    per sample, named by their folder (``S1/abundance.tsv`` -> ``S1``).

    ``quantity="est_counts"`` (estimated counts, ``scale="counts"``) or ``"tpm"``
    (``scale="linear"``), as for Salmon; ``tx2gene`` sums transcripts into genes.
    (kallisto manual, "quant": abundance.tsv columns.)
    """
    if quantity not in ("est_counts", "tpm"):
        raise InputError(
            f"quantity={quantity!r} is not valid for kallisto; use 'est_counts' or 'tpm'."
        )
    names = [sample_name(p) for p in paths]
    _unique_samples(names, paths, "from the kallisto folders")
    cols = {}
    for name, p in zip(names, paths, strict=True):
        cols[name] = _one_kallisto(p)[quantity]
        if progress is not None:
            progress(1)
    frame = _merge(cols, [str(p) for p in paths])
    if tx2gene is not None:
        frame = _to_genes(frame, Path(tx2gene))
    scale = "counts" if quantity == "est_counts" else "linear"
    return make_adata(
        np.ascontiguousarray(frame.to_numpy(dtype=np.float64).T),
        frame.columns,
        frame.index,
        where=", ".join(map(str, paths)),
        fmt="kallisto",
        uns={"quantity": quantity, "scale": scale, "skipped": skipped_of(paths)},
    )


def _to_genes(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    t2g = _read_frame(path, sep=None, engine="python", header=None, dtype=str)
    if t2g.shape[1] < 2:
        raise InputError(f"{str(path)!r}: tx2gene needs two columns (transcript, gene).")
    m = dict(zip(t2g.iloc[:, 0], t2g.iloc[:, 1], strict=True))
    unmapped = [t for t in frame.index if t not in m]
    if unmapped:
        raise InputError(
            f"{str(path)!r}: {len(unmapped)} transcripts have no gene (first: {unmapped[:3]}); "
            "use a tx2gene table made for the same annotation."
        )
    return frame.groupby(frame.index.map(m), sort=False).sum()


def _merge(cols: dict[str, pd.Series], where: list[str]) -> pd.DataFrame:
    """Columns with identical gene lists, one per sample; different gene lists are an error."""
    names = list(cols)
    first = cols[names[0]].index
    for k, name in enumerate(names[1:], start=1):
        idx = cols[name].index
        if not idx.equals(first):
            extra = idx.difference(first)[:3].tolist()
            lacking = first.difference(idx)[:3].tolist()
            if extra or lacking:
                raise InputError(
                    f"{where[k]!r}: its genes differ from {where[0]!r} (only here: {extra}, missing here: "
                    f"{lacking}); merge only files from the same annotation."
                )
            cols[name] = cols[name].reindex(first)
    return pd.DataFrame(cols, index=first)


# --------------------------------------------------------------------------- featureCounts


def read_featurecounts(path: Path) -> Any:
    """featureCounts output: ``Geneid Chr Start End Strand Length <one column per BAM>``.

    Sample names are the BAM paths' file names without directory and ``.bam``.
    """
    where = str(path)
    with open_text(path) as fh:
        first = fh.readline()
    skip = 1 if first.startswith("#") else 0
    df = _read_frame(path, sep="\t", skiprows=skip)
    need = ["Geneid", "Chr", "Start", "End", "Strand", "Length"]
    if list(df.columns[:6]) != need:
        raise InputError(f"{where}: not featureCounts output (expected the columns {need} first).")
    if df.shape[1] == 6:
        raise InputError(f"{where}: featureCounts table without sample columns.")
    df["Geneid"] = df["Geneid"].astype(str)
    df = df.set_index("Geneid")
    check_unique(df.index, "gene (Geneid)", where)
    samples = [sample_name(Path(c)) for c in df.columns[5:]]
    check_unique(samples, "sample (BAM file name)", where)
    counts = numeric_frame(df.iloc[:, 5:], where, first_line=2 + skip)
    return make_adata(
        np.ascontiguousarray(counts.to_numpy(dtype=np.float64).T),
        samples,
        df.index,
        where=where,
        fmt="featurecounts",
        var=df.iloc[:, :5].reset_index(drop=True),
        uns={"rows": "genes", "scale": "counts"},
    )


# --------------------------------------------------------------------------- count files


def _is_summary_row(label: str) -> bool:
    return label.startswith("__")


def _one_count_file(path: Path) -> tuple[pd.Series, dict[str, float], list[str] | None]:
    """(gene counts, HTSeq summary rows, header or None) of one two-column file."""
    where = str(path)
    genes: list[str] = []
    values: list[float] = []
    summary: dict[str, float] = {}
    header: list[str] | None = None
    first = True
    with open_text(path) as fh:
        for n, line in enumerate(fh, start=1):
            parts = _fields(line)
            if not parts or parts == [""] or not line.strip():
                continue
            if len(parts) != 2:
                raise InputError(
                    f"{where}: line {n} has {len(parts)} fields; a count file has two (gene, count) "
                    "- if this file is not a count file, move it out of the folder or list the count "
                    "files instead."
                )
            g, v = parts[0].strip().strip('"'), parts[1].strip()
            if not _NUM.match(v):
                if first:  # a header line: its second field is not a number
                    header = [g, v]
                    first = False
                    continue
                raise InputError(f"{where}: line {n}: count {v!r} for gene {g!r} is not a number.")
            first = False
            if not g:
                raise InputError(f"{where}: line {n}: empty gene name (count {v!r}).")
            if _is_summary_row(g):
                summary[g] = float(v)
                continue
            genes.append(g)
            values.append(float(v))
    if not genes:
        raise InputError(f"{where} is empty (no gene, count lines).")
    check_unique(genes, "gene", where)
    return pd.Series(values, index=pd.Index(genes), name=sample_name(path)), summary, header


def _library_obs(frame: pd.DataFrame) -> pd.DataFrame:
    """``obs[LIBRARY_SIZE_KEY]``: each sample's total over its genes (summary rows excluded),
    summed from that sample's own column, so a file read alone or in a folder gets the same."""
    return pd.DataFrame({LIBRARY_SIZE_KEY: [float(np.sum(frame[c].to_numpy())) for c in frame]})


def read_count_files(
    paths: Sequence[Path], *, progress: Callable[[int], None] | None = None
) -> Any:
    """Per-sample two-column files (gene, count) merged into one samples x genes matrix.

    Each file is one sample named after the file (:func:`sample_name`); a first line whose
    second field is not a number is a header (kept in ``uns['ifnscore_read']['headers']``).
    HTSeq-count's summary rows (``__no_feature``, ``__ambiguous``, ``__too_low_aQual``,
    ``__not_aligned``, ``__alignment_not_unique``) are not genes: they are left out of the
    matrix and of the library size, and reported per sample in
    ``uns['ifnscore_read']['htseq_summary']``. ``obs['ifnscore_library_size']`` holds each
    sample's total over its genes.
    """
    cols: dict[str, pd.Series] = {}
    summaries: dict[str, dict[str, float]] = {}
    headers: dict[str, list[str]] = {}
    names = [sample_name(p) for p in paths]
    _unique_samples(names, paths, "the file name without its extensions")
    for name, p in zip(names, paths, strict=True):
        s, summary, header = _one_count_file(p)
        cols[name] = s
        summaries[name] = summary
        if header is not None:
            headers[name] = header
        if progress is not None:
            progress(1)
    frame = _merge(cols, [str(p) for p in paths])
    rows = sorted({k for s in summaries.values() for k in s}, key=_summary_order)
    summary_out = {k: {n: summaries[n].get(k, float("nan")) for n in names} for k in rows}
    integer = bool(np.all(np.mod(frame.to_numpy(), 1.0) == 0))
    return make_adata(
        np.ascontiguousarray(frame.to_numpy(dtype=np.float64).T),
        frame.columns,
        frame.index,
        where=", ".join(map(str, paths)),
        fmt="count_files",
        obs=_library_obs(frame),
        uns={
            "scale": "counts",
            "htseq_summary": summary_out,
            "files": [str(p) for p in paths],
            "headers": headers,
            "all_integer": integer,
            "library_size": f"obs[{LIBRARY_SIZE_KEY!r}]: each file's total over its genes "
            "(HTSeq summary rows excluded)",
            "skipped": skipped_of(paths),
        },
    )


def _summary_order(k: str) -> tuple[int, str]:
    return (HTSEQ_SPECIAL.index(k) if k in HTSEQ_SPECIAL else len(HTSEQ_SPECIAL), k)


# --------------------------------------------------------------------------- STAR


def _one_star(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(genes x 3 count columns, the N_* rows x 3) of one ``ReadsPerGene.out.tab``."""
    where = str(path)
    genes: list[str] = []
    rows: list[list[float]] = []
    special: dict[str, list[float]] = {}
    with open_text(path) as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            parts = _fields(line)
            if len(parts) != 4:
                raise InputError(
                    f"{where}: line {n} has {len(parts)} fields; STAR's ReadsPerGene.out.tab has four "
                    "(gene, unstranded, forward, reverse counts)."
                )
            g = parts[0].strip()
            vals = []
            for k, v in enumerate(parts[1:], start=2):
                if not _NUM.match(v.strip()):
                    raise InputError(
                        f"{where}: line {n}: column {k} ({v.strip()!r}) of {g!r} is not a number."
                    )
                vals.append(float(v))
            if g in STAR_SPECIAL:
                special[g] = vals
            else:
                genes.append(g)
                rows.append(vals)
    if not genes:
        raise InputError(f"{where} has no gene rows (only STAR's N_* summary rows, or nothing).")
    lacking = [s for s in STAR_SPECIAL if s not in special]
    if lacking:
        raise InputError(
            f"{where}: STAR's summary rows {lacking} are missing; not a STAR ReadsPerGene.out.tab "
            "(for a two-column gene, count file use format='count_files')."
        )
    check_unique(genes, "gene", where)
    cols = ["unstranded", "forward", "reverse"]
    return (
        pd.DataFrame(rows, index=pd.Index(genes), columns=cols),
        pd.DataFrame(special, index=cols).T.loc[list(STAR_SPECIAL)],
    )


def _infer_strand(totals: dict[str, tuple[float, float]]) -> tuple[str, str]:
    """(strand, reason) from each sample's gene totals of columns 3 and 4; refuses when unclear."""
    votes: dict[str, list[str]] = {}
    for name, (f, r) in totals.items():
        share = f / (f + r) if f + r > 0 else float("nan")
        if share >= _STRANDED_SHARE:
            votes.setdefault("forward", []).append(name)
        elif share <= 1 - _STRANDED_SHARE:
            votes.setdefault("reverse", []).append(name)
        elif _UNSTRANDED[0] <= share <= _UNSTRANDED[1]:
            votes.setdefault("unstranded", []).append(name)
        else:
            raise InputError(
                f"STAR ReadsPerGene of sample {name!r}: the forward-strand column holds {share:.0%} of "
                "the forward + reverse gene counts, neither clearly stranded (>= 80% or <= 20%) nor "
                "unstranded (40-60%); pass strand='unstranded', 'forward' or 'reverse' (the library "
                "protocol says which)."
            )
    if len(votes) > 1:
        raise InputError(
            "STAR ReadsPerGene files disagree on the strand ("
            + "; ".join(f"{k}: {v[:3]}" for k, v in votes.items())
            + "); pass strand= explicitly, or read each library type separately."
        )
    strand = next(iter(votes))
    shares = [f / (f + r) for f, r in totals.values()]
    lo, hi = min(shares), max(shares)
    reason = (
        f"inferred from the gene totals: column 3 (forward, htseq-count -s yes) holds "
        f"{lo:.1%}-{hi:.1%} of columns 3 + 4 in every sample, so "
        + {
            "forward": "the library is stranded with reads on the gene's strand (column 3)",
            "reverse": "the library is stranded with reads on the opposite strand (column 4)",
            "unstranded": "the library is unstranded (column 2)",
        }[strand]
    )
    return strand, reason


def read_star(
    paths: Sequence[Path],
    *,
    strand: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Any:
    """STAR ``--quantMode GeneCounts`` output (``<prefix>ReadsPerGene.out.tab``), one per sample.

    Four tab-separated columns: gene ID, counts for unstranded RNA-seq, counts for reads on the
    gene's strand (htseq-count ``-s yes``), counts for reads on the opposite strand
    (``-s reverse``); the first four rows (``N_unmapped``, ``N_multimapping``,
    ``N_noFeature``, ``N_ambiguous``) are not genes (STAR manual, "Counting number of reads per
    gene"). They are left out of the matrix and of the library size and reported in
    ``uns['ifnscore_read']['star_summary']``.

    ``strand``: ``"unstranded"`` (column 2), ``"forward"`` (3) or ``"reverse"`` (4). When not
    given it is inferred, the way the manual's advice is usually applied: in a stranded library
    the wrong-strand column holds few of the gene counts (its reads fall in ``N_noFeature``).
    Here: with :math:`f, r` a sample's totals of columns 3 and 4 over genes, :math:`f/(f+r)
    \\ge 0.8` -> ``"forward"``, :math:`\\le 0.2` -> ``"reverse"``, within 0.4-0.6 ->
    ``"unstranded"``; anything else, or samples that disagree, is refused (pass ``strand=``).
    The column used and why are in ``uns['ifnscore_read']['strand']`` / ``['strand_reason']``
    and, when inferred, in an :class:`~ifnscore.errors.IfnscoreWarning`.
    """
    if strand is not None and strand not in STAR_STRANDS:
        raise InputError(
            f"strand={strand!r} is not valid for STAR; use 'unstranded' (column 2), 'forward' "
            "(column 3, htseq-count -s yes) or 'reverse' (column 4, -s reverse)."
        )
    names = [sample_name(p) for p in paths]
    _unique_samples(names, paths, "STAR's --outFileNamePrefix, or the folder")
    parsed = {}
    for name, p in zip(names, paths, strict=True):
        parsed[name] = _one_star(p)
        if progress is not None:
            progress(1)
    totals = {
        n: (float(g["forward"].sum()), float(g["reverse"].sum())) for n, (g, _) in parsed.items()
    }
    if strand is None:
        from .._warn import warn
        from ..errors import IfnscoreWarning

        strand, reason = _infer_strand(totals)
        inferred = True
        warn(
            f"STAR ReadsPerGene: using column {STAR_STRANDS[strand]} (strand={strand!r}), {reason}; "
            "pass strand= to choose the column yourself.",
            IfnscoreWarning,
        )
    else:
        reason = "given (strand=)"
        inferred = False
    frame = _merge({n: g[strand] for n, (g, _) in parsed.items()}, [str(p) for p in paths])
    summary = {
        k: {n: float(s.loc[k, strand]) for n, (_, s) in parsed.items()} for k in STAR_SPECIAL
    }
    return make_adata(
        np.ascontiguousarray(frame.to_numpy(dtype=np.float64).T),
        frame.columns,
        frame.index,
        where=", ".join(map(str, paths)),
        fmt="star",
        obs=_library_obs(frame),
        uns={
            "scale": "counts",
            "strand": strand,
            "column": STAR_STRANDS[strand],
            "strand_inferred": inferred,
            "strand_reason": reason,
            "forward_share": {
                n: f / (f + r) if f + r else float("nan") for n, (f, r) in totals.items()
            },
            "star_summary": summary,
            "files": [str(p) for p in paths],
            "library_size": f"obs[{LIBRARY_SIZE_KEY!r}]: each file's total over its genes in the column used "
            "(N_* rows excluded)",
            "skipped": skipped_of(paths),
        },
    )


# --------------------------------------------------------------------------- folder -> files

#: Formats read from a folder of one file (or one subfolder) per sample.
PER_SAMPLE_FORMATS = ("salmon", "kallisto", "star", "nanostring", "count_files")
_SUBFOLDER_FILE = {"salmon": "quant.sf", "kallisto": "abundance.tsv"}


def _plain(path: Path) -> str:
    return strip_compression(path)[0].lower()


def _is_star(path: Path) -> bool:
    return path.is_file() and _plain(path).endswith("readspergene.out.tab")


def _is_rcc(path: Path) -> bool:
    return path.is_file() and _plain(path).endswith(".rcc")


def resolve_folder(folder: Path, fmt: str) -> tuple[str, FileList]:
    """(format, files) of a folder holding one file (or subfolder) per sample.

    ``fmt`` ``"auto"`` tries, in order: Salmon (``quant.sf`` here or in each subfolder),
    kallisto (``abundance.tsv`` likewise), STAR (``*ReadsPerGene.out.tab`` here or in
    subfolders), NanoString (``*.RCC``), else per-sample count files, whose format (count file,
    STAR, kallisto) is then taken from their content. Every entry of the folder not read is
    listed in the returned :class:`FileList`'s ``skipped`` with the reason, and an
    :class:`~ifnscore.errors.IfnscoreWarning` names them: documentation, scripts, images,
    provenance and licence files (:func:`non_data_reason`), other formats' files, subfolders.
    A file that could be a count file is never skipped: it is read, and if malformed the
    error names it.
    """
    entries = sorted(folder.iterdir())
    if not entries:
        raise InputError(f"{str(folder)!r} is an empty folder.")
    files = [e for e in entries if e.is_file()]
    dirs = [e for e in entries if e.is_dir()]

    def other_reason(p: Path, what: str) -> str:
        if p.is_dir():
            return f"a folder without {what}" if what else "a folder (its files are not read)"
        return non_data_reason(p) or f"not {what}"

    chosen: list[Path] = []
    for kind, target in _SUBFOLDER_FILE.items():
        if fmt not in ("auto", kind):
            continue
        here = [f for f in files if _plain(f) == target]
        inner = [
            d / f.name for d in dirs for f in d.iterdir() if f.is_file() and _plain(f) == target
        ]
        if here or inner:
            fmt, chosen = kind, here or sorted(inner)
            used = set(chosen) | {c.parent for c in chosen}
            if here:  # the folder is one sample's output: its other files are that tool's own
                return _report(folder, fmt, FileList(chosen))
            skipped = [(e.name, other_reason(e, target)) for e in entries if e not in used]
            return _report(folder, fmt, FileList(chosen, skipped))
        if fmt == kind:
            raise InputError(
                f"{str(folder)!r}: no {target} in the folder or its subfolders; give the {kind} "
                "output folders (one per sample) or the files."
            )
    if fmt in ("auto", "star"):
        star = [f for f in files if _is_star(f)] or sorted(
            f for d in dirs for f in d.iterdir() if _is_star(f)
        )
        if star:
            used = set(star) | {s.parent for s in star}
            skipped = [
                (e.name, other_reason(e, "a STAR ReadsPerGene.out.tab"))
                for e in entries
                if e not in used
            ]
            return _report(folder, "star", FileList(star, skipped))
        if fmt == "star":
            raise InputError(
                f"{str(folder)!r}: no *ReadsPerGene.out.tab in the folder or its subfolders; give "
                "STAR's --quantMode GeneCounts outputs."
            )
    if fmt == "qpcr" or fmt == "auto":
        from ._qpcr import looks_like_qpcr

        plates = [f for f in files if non_data_reason(f) is None and looks_like_qpcr(f)]
        if fmt == "qpcr" or (
            plates and len(plates) == len([f for f in files if non_data_reason(f) is None])
        ):
            if not plates:
                raise InputError(
                    f"{str(folder)!r}: no qPCR plate export in the folder; give the files the instrument "
                    "software exported (or a table with sample, target and Ct columns)."
                )
            skipped = [
                (e.name, other_reason(e, "a qPCR plate export")) for e in entries if e not in plates
            ]
            return _report(folder, "qpcr", FileList(plates, skipped))
    rcc = [f for f in files if _is_rcc(f)]
    if fmt == "nanostring" or (fmt == "auto" and rcc):
        if not rcc:
            raise InputError(f"{str(folder)!r}: no .RCC files in the folder.")
        skipped = [(e.name, other_reason(e, "an RCC file")) for e in entries if e not in rcc]
        return _report(folder, "nanostring", FileList(rcc, skipped))
    if fmt not in ("auto", "count_files"):
        raise InputError(
            f"{str(folder)!r} is a folder, but format {fmt!r} reads one file; give the file, or "
            f"a folder of one of {', '.join(PER_SAMPLE_FORMATS)}."
        )
    data, skipped = [], []
    for e in entries:
        reason = "a folder (its files are not read)" if e.is_dir() else non_data_reason(e)
        if reason is None:
            data.append(e)
        else:
            skipped.append((e.name, reason))
    if not data:
        raise InputError(
            f"{str(folder)!r} holds no data file: "
            + "; ".join(f"{n} ({r})" for n, r in skipped[:5])
            + "; give a folder of per-sample count files."
        )
    kind = "count_files"
    if fmt == "auto":
        kinds = {sniff_table(p) for p in data}
        if len(kinds) == 1 and kinds <= {"star", "kallisto"}:
            kind = str(kinds.pop())
    return _report(folder, kind, FileList(data, skipped))


def _report(folder: Path, fmt: str, files: FileList) -> tuple[str, FileList]:
    if files.skipped:
        from .._warn import warn
        from ..errors import IfnscoreWarning

        listed = ", ".join(f"{n} ({r})" for n, r in files.skipped[:6])
        more = f" and {len(files.skipped) - 6} more" if len(files.skipped) > 6 else ""
        warn(
            f"{str(folder)!r}: read {len(files)} {fmt} file(s); left out {len(files.skipped)} that "
            f"are not {fmt} data: {listed}{more} (listed in uns['ifnscore_read']['skipped']).",
            IfnscoreWarning,
        )
    return fmt, files
