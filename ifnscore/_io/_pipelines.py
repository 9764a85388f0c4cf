"""RNA-seq pipeline outputs: Salmon ``quant.sf``, featureCounts tables, and per-sample
two-column count files (HTSeq-count, GEO supplementary files) merged into one matrix."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ._open import open_binary, open_text, strip_compression
from ._table import check_unique, make_adata, numeric_frame

__all__ = ["read_count_files", "read_featurecounts", "read_salmon", "sample_name"]

#: HTSeq-count's summary rows (not genes): excluded from the matrix, kept in uns.
HTSEQ_SPECIAL = (
    "__no_feature",
    "__ambiguous",
    "__too_low_aQual",
    "__not_aligned",
    "__alignment_not_unique",
)
SALMON_COLUMNS = ("Name", "Length", "EffectiveLength", "TPM", "NumReads")


def sample_name(path: Path) -> str:
    """A sample's name from its file: ``S1.counts.txt.gz`` -> ``S1``; Salmon's ``S1/quant.sf`` -> ``S1``."""
    name, _ = strip_compression(path)
    if name in ("quant.sf", "quant.genes.sf"):
        return path.resolve().parent.name
    for ext in (".txt", ".tsv", ".csv", ".tab", ".counts", ".count", ".htseq", ".sf", ".bam"):
        while name.lower().endswith(ext):
            name = name[: -len(ext)]
    return name


def _read_frame(path: Path, **kw: Any) -> pd.DataFrame:
    try:
        with open_binary(path) as fh:
            return pd.read_csv(fh, **kw)
    except pd.errors.EmptyDataError:
        raise InputError(f"{str(path)!r} is empty.") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{str(path)!r}: not a well-formed table ({exc}).") from None


def _one_salmon(path: Path, quantity: str) -> pd.DataFrame:
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
    for p in paths:
        df = _one_salmon(p, quantity)
        cols[sample_name(p)] = df[quantity]
        if progress is not None:
            progress(1)
    check_unique(list(cols), "sample name (from the Salmon folders)", ", ".join(map(str, paths)))
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
        uns={"quantity": quantity, "scale": scale},
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


_NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _one_count_file(path: Path) -> pd.Series:
    where = str(path)
    genes: list[str] = []
    values: list[float] = []
    with open_text(path) as fh:
        for n, line in enumerate(fh, start=1):
            parts = line.rstrip("\r\n").split("\t") if "\t" in line else line.split()
            if not parts or parts == [""]:
                continue
            if len(parts) != 2:
                raise InputError(
                    f"{where}: line {n} has {len(parts)} fields; a count file has two (gene, count)."
                )
            g, v = parts[0].strip().strip('"'), parts[1].strip()
            if not _NUM.match(v):
                if n == 1 and not genes:  # a header line
                    continue
                raise InputError(f"{where}: line {n}: count {v!r} for gene {g!r} is not a number.")
            genes.append(g)
            values.append(float(v))
    if not genes:
        raise InputError(f"{where} is empty (no gene, count lines).")
    check_unique(genes, "gene", where)
    return pd.Series(values, index=pd.Index(genes), name=sample_name(path))


def read_count_files(
    paths: Sequence[Path], *, progress: Callable[[int], None] | None = None
) -> Any:
    """Per-sample two-column files (gene, count) merged into one samples x genes matrix.

    HTSeq-count's summary rows (``__no_feature`` etc.) are not genes: they are left out of the
    matrix (and of the library size) and kept in ``uns['ifnscore_read']['htseq_summary']``.
    """
    cols: dict[str, pd.Series] = {}
    for p in paths:
        s = _one_count_file(p)
        if s.name in cols:
            raise InputError(
                f"{str(p)!r}: sample name {s.name!r} is used by two files; rename one."
            )
        cols[str(s.name)] = s
        if progress is not None:
            progress(1)
    frame = _merge(cols, [str(p) for p in paths])
    special = frame.index.isin(HTSEQ_SPECIAL)
    summary = {k: frame.loc[k].to_dict() for k in frame.index[special]}
    frame = frame.loc[~special]
    return make_adata(
        np.ascontiguousarray(frame.to_numpy(dtype=np.float64).T),
        frame.columns,
        frame.index,
        where=", ".join(map(str, paths)),
        fmt="count_files",
        uns={"scale": "counts", "htseq_summary": summary, "files": [str(p) for p in paths]},
    )
