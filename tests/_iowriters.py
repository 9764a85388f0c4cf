"""Writers of real-format test files (used by the I/O, CLI, qPCR and NanoString tests).

Each follows the published layout of its format (see the reader modules for references);
the tests read them back and compare with the matrix that was written.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

RICE6 = ["IFI27", "IFI44L", "IFIT1", "ISG15", "RSAD2", "SIGLEC1"]


def compress(path: Path, data: bytes, kind: str | None) -> Path:
    if kind is None:
        path.write_bytes(data)
    elif kind == "gzip":
        path.write_bytes(gzip.compress(data))
    elif kind == "bz2":
        path.write_bytes(bz2.compress(data))
    elif kind == "xz":
        path.write_bytes(lzma.compress(data))
    elif kind == "zstd":
        zstandard = pytest.importorskip("zstandard")  # the `zstd` extra

        path.write_bytes(zstandard.ZstdCompressor().compress(data))
    return path


EXT = {None: "", "gzip": ".gz", "bz2": ".bz2", "xz": ".xz", "zstd": ".zst"}


def write_delimited(
    df: pd.DataFrame,
    folder: Path,
    *,
    genes_as_rows: bool,
    sep: str = "\t",
    kind: str | None = None,
    ext: str | None = None,
) -> Path:
    """``df`` is samples x genes."""
    table = df.T if genes_as_rows else df
    ext = ext or {"\t": ".tsv", ",": ".csv"}[sep]
    text = table.to_csv(sep=sep, index_label="gene" if genes_as_rows else "sample")
    return compress(folder / f"table{ext}{EXT[kind]}", text.encode(), kind)


def write_excel(df: pd.DataFrame, path: Path, *, genes_as_rows: bool) -> Path:
    pytest.importorskip("openpyxl")  # the `excel` extra
    (df.T if genes_as_rows else df).to_excel(path, sheet_name="expr")
    return path


def write_parquet(df: pd.DataFrame, path: Path, *, genes_as_rows: bool) -> Path:
    t = df.T if genes_as_rows else df
    t.index.name = "gene" if genes_as_rows else "sample"
    pytest.importorskip("pyarrow")  # the `parquet` extra
    t.reset_index().to_parquet(path, index=False)
    return path


def write_10x_h5(df: pd.DataFrame, path: Path, *, extra_feature: bool = False) -> Path:
    """Cell Ranger >= 3 layout: matrix/{data,indices,indptr,shape,barcodes,features/...}."""
    import h5py

    genes = list(df.columns)
    X = sp.csc_matrix(df.to_numpy().T.astype(np.int32))  # genes x cells, compressed by cell
    ids = [f"ENSG{i:011d}" for i in range(len(genes))]
    types = ["Gene Expression"] * len(genes)
    if extra_feature:
        X = sp.vstack([X, sp.csc_matrix(np.full((1, X.shape[1]), 7, dtype=np.int32))]).tocsc()
        genes, ids, types = [*genes, "CD3_TotalSeqB"], [*ids, "CD3"], [*types, "Antibody Capture"]
    with h5py.File(path, "w") as f:
        g = f.create_group("matrix")
        g.create_dataset("data", data=X.data)
        g.create_dataset("indices", data=X.indices.astype(np.int64))
        g.create_dataset("indptr", data=X.indptr.astype(np.int64))
        g.create_dataset("shape", data=np.array(X.shape, dtype=np.int32))
        g.create_dataset("barcodes", data=np.array([s.encode() for s in df.index]))
        fg = g.create_group("features")
        fg.create_dataset("id", data=np.array([s.encode() for s in ids]))
        fg.create_dataset("name", data=np.array([s.encode() for s in genes]))
        fg.create_dataset("feature_type", data=np.array([s.encode() for s in types]))
        fg.create_dataset("genome", data=np.array([b"GRCh38"] * len(ids)))
    return path


def write_10x_mtx(df: pd.DataFrame, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    X = sp.coo_matrix(df.to_numpy().T.astype(np.int64))
    raw = folder / "matrix.mtx"
    scipy.io.mmwrite(raw, X, field="integer")
    compress(folder / "matrix.mtx.gz", raw.read_bytes(), "gzip")
    raw.unlink()
    feats = "".join(f"ENSG{i:011d}\t{g}\tGene Expression\n" for i, g in enumerate(df.columns))
    compress(folder / "features.tsv.gz", feats.encode(), "gzip")
    compress(folder / "barcodes.tsv.gz", "".join(f"{b}\n" for b in df.index).encode(), "gzip")
    return folder


def write_gct(df: pd.DataFrame, path: Path, *, version: str = "1.2") -> Path:
    genes, samples = list(df.columns), list(df.index)
    lines = []
    if version == "1.2":
        lines += [
            "#1.2",
            f"{len(genes)}\t{len(samples)}",
            "\t".join(["Name", "Description", *samples]),
        ]
        for g in genes:
            lines.append("\t".join([g, f"{g} desc", *(repr(float(v)) for v in df[g])]))
    else:
        lines += [
            "#1.3",
            f"{len(genes)}\t{len(samples)}\t1\t1",
            "\t".join(["id", "symbol", *samples]),
        ]
        lines.append("\t".join(["group", "na", *(f"g{i % 2}" for i in range(len(samples)))]))
        for g in genes:
            lines.append("\t".join([g, g.lower(), *(repr(float(v)) for v in df[g])]))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_salmon(df: pd.DataFrame, folder: Path, *, tpm: pd.DataFrame | None = None) -> list[Path]:
    out = []
    for s in df.index:
        d = folder / s
        d.mkdir(parents=True, exist_ok=True)
        counts = df.loc[s]
        t = tpm.loc[s] if tpm is not None else counts / counts.sum() * 1e6
        q = pd.DataFrame(
            {
                "Name": df.columns,
                "Length": 1500,
                "EffectiveLength": 1350.5,
                "TPM": t.to_numpy(),
                "NumReads": counts.to_numpy(),
            }
        )
        q.to_csv(d / "quant.sf", sep="\t", index=False)
        out.append(d / "quant.sf")
    return out


def write_featurecounts(df: pd.DataFrame, path: Path) -> Path:
    head = '# Program:featureCounts v2.0.6; Command:"featureCounts" "-a" "genes.gtf" "-o" "counts.txt"\n'
    ann = pd.DataFrame(
        {
            "Geneid": df.columns,
            "Chr": "chr1",
            "Start": 100,
            "End": 2000,
            "Strand": "+",
            "Length": 1900,
        }
    )
    for s in df.index:
        ann[f"/data/bams/{s}.bam"] = df.loc[s].to_numpy()
    path.write_text(head + ann.to_csv(sep="\t", index=False))
    return path


def write_count_files(
    df: pd.DataFrame, folder: Path, *, htseq: bool = True, kind: str | None = "gzip"
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for s in df.index:
        lines = [f"{g}\t{int(v)}" for g, v in df.loc[s].items()]
        if htseq:
            lines += [
                "__no_feature\t12",
                "__ambiguous\t3",
                "__too_low_aQual\t0",
                "__not_aligned\t5",
                "__alignment_not_unique\t9",
            ]
        p = folder / f"{s}.counts.txt{EXT[kind]}"
        out.append(compress(p, ("\n".join(lines) + "\n").encode(), kind))
    return out


POS = [
    ("POS_A(128)", 128.0),
    ("POS_B(32)", 32.0),
    ("POS_C(8)", 8.0),
    ("POS_D(2)", 2.0),
    ("POS_E(0.5)", 0.5),
    ("POS_F(0.125)", 0.125),
]
NEG = ["NEG_A(0)", "NEG_B(0)", "NEG_C(0)", "NEG_D(0)", "NEG_E(0)", "NEG_F(0)"]


def rcc_text(
    sample_id: str,
    endogenous: dict[str, float],
    housekeeping: dict[str, float],
    *,
    pos_scale: float = 100.0,
    neg: tuple[float, ...] = (8, 12, 5, 10, 7, 9),
    fov: tuple[int, int] = (280, 278),
    density: float = 0.8,
    lane: int = 1,
) -> str:
    """An RCC file (FileVersion 1.7 layout as written by the nCounter Digital Analyzer)."""
    lines = [
        "<Header>",
        "FileVersion,1.7",
        "SoftwareVersion,4.0.0.3",
        "SystemType,Gen2",
        "</Header>",
        "",
        "<Sample_Attributes>",
        f"ID,{sample_id}",
        "Owner,lab",
        "Comments,",
        "Date,20240115",
        "GeneRLF,NS_IFN_C1234",
        "SystemAPF,n6_vDV1",
        "AssayType,Gene Expression",
        "</Sample_Attributes>",
        "",
        "<Lane_Attributes>",
        f"ID,{lane}",
        f"FovCount,{fov[0]}",
        f"FovCounted,{fov[1]}",
        "ScannerID,1209C0555",
        f"StagePosition,{1 + lane % 3}",
        f"BindingDensity,{density}",
        "CartridgeID,CART01",
        "CartridgeBarcode,",
        "</Lane_Attributes>",
        "",
        "<Code_Summary>",
        "CodeClass,Name,Accession,Count",
    ]
    for name, conc in POS:
        lines.append(f"Positive,{name},ERCC_{int(conc * 1000):05d}.1,{round(conc * pos_scale)}")
    for name, c in zip(NEG, neg, strict=True):
        lines.append(f"Negative,{name},ERCC_NEG.1,{int(c)}")
    for i, (g, c) in enumerate(endogenous.items()):
        lines.append(f"Endogenous,{g},NM_{1000 + i:06d}.1,{int(c)}")
    for i, (g, c) in enumerate(housekeeping.items()):
        lines.append(f"Housekeeping,{g},NM_{2000 + i:06d}.2,{int(c)}")
    lines += ["</Code_Summary>", "", "<Messages>", "</Messages>", ""]
    return "\r\n".join(lines)


def counts_frame(rng: np.random.Generator, n_samples: int = 8, n_extra: int = 30) -> pd.DataFrame:
    """Integer counts, samples x genes (rice6 + filler genes), every library non-empty."""
    genes = RICE6 + [f"GENE{i}" for i in range(n_extra)]
    X = rng.poisson(rng.uniform(5, 400, size=len(genes)), size=(n_samples, len(genes))) + 1
    return pd.DataFrame(X, index=[f"S{i + 1}" for i in range(n_samples)], columns=genes)
