"""10x Genomics Cell Ranger output: ``filtered_feature_bc_matrix.h5`` and the matrix folder.

HDF5 (Cell Ranger >= 3): group ``matrix`` with ``data``, ``indices``, ``indptr``, ``shape``
(genes x barcodes, compressed by barcode), ``barcodes`` and ``features/{id,name,feature_type}``.
The folder: ``matrix.mtx[.gz]`` (MatrixMarket, genes x barcodes), ``features.tsv[.gz]`` (id,
name, type; ``genes.tsv`` with id and name in Cell Ranger 2) and ``barcodes.tsv[.gz]``.
Format reference: https://www.10xgenomics.com/support/software/cell-ranger/latest/analysis/outputs/cr-outputs-h5-matrices

Only "Gene Expression" features are kept (antibody capture and other feature types are not
genes); how many were dropped is recorded in ``uns['ifnscore_read']``. Gene names: symbols
(``var_names="gene_symbols"``, default, as scanpy; the scorer sums duplicated symbols and
reports it) or IDs (``var_names="gene_ids"``); the other is kept in ``var``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import InputError
from ._h5ad import check_hdf5
from ._open import open_binary
from ._table import make_adata

__all__ = ["read_10x_h5", "read_10x_mtx"]


def _finish(
    X: Any,
    barcodes: list[str],
    ids: list[str],
    names: list[str],
    types: list[str],
    *,
    where: str,
    fmt: str,
    var_names: str,
) -> Any:
    if var_names not in ("gene_symbols", "gene_ids"):
        raise InputError(f"var_names={var_names!r} is not valid; use 'gene_symbols' or 'gene_ids'.")
    if not (len(ids) == len(names) == len(types) == X.shape[1]):
        raise InputError(
            f"{where}: {X.shape[1]} genes in the matrix but {len(ids)} feature rows; the files do not belong together."
        )
    if len(barcodes) != X.shape[0]:
        raise InputError(
            f"{where}: {X.shape[0]} barcodes in the matrix but {len(barcodes)} in the barcode list."
        )
    keep = np.array([t == "Gene Expression" for t in types], dtype=bool)
    dropped = int((~keep).sum())
    if dropped:
        X = X[:, np.flatnonzero(keep)]
        ids = [g for g, k in zip(ids, keep, strict=True) if k]
        names = [g for g, k in zip(names, keep, strict=True) if k]
    var = pd.DataFrame({"gene_ids": ids, "gene_symbols": names, "feature_types": "Gene Expression"})
    genes = names if var_names == "gene_symbols" else ids
    return make_adata(
        X.tocsr(),
        barcodes,
        genes,
        where=where,
        fmt=fmt,
        var=var,
        uns={"var_names": var_names, "features_dropped": dropped},
        unique_genes=var_names == "gene_ids",
    )


def read_10x_h5(path: str | os.PathLike, *, var_names: str = "gene_symbols") -> Any:
    """Read a Cell Ranger (>= 3) feature-barcode matrix ``.h5``."""
    import h5py

    where = str(path)
    check_hdf5(path, ".h5")

    def text(a: Any) -> list[str]:
        return [x.decode() if isinstance(x, bytes) else str(x) for x in a[()]]

    try:
        with h5py.File(path, "r") as f:
            if "matrix" not in f:
                raise InputError(
                    f"{where}: no 'matrix' group, so not a Cell Ranger >= 3 feature-barcode matrix."
                )
            g = f["matrix"]
            n_genes, n_cells = (int(x) for x in g["shape"][()])
            M = sp.csc_matrix(
                (g["data"][()], g["indices"][()], g["indptr"][()]), shape=(n_genes, n_cells)
            )
            feats = g["features"]
            ids, names = text(feats["id"]), text(feats["name"])
            types = (
                text(feats["feature_type"])
                if "feature_type" in feats
                else ["Gene Expression"] * len(ids)
            )
            barcodes = text(g["barcodes"])
    except KeyError as exc:
        raise InputError(f"{where}: missing dataset in the 10x matrix ({exc}).") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{where}: not a readable 10x HDF5 matrix ({exc}).") from None
    return _finish(M.T, barcodes, ids, names, types, where=where, fmt="10x_h5", var_names=var_names)


def _find(folder: Path, stems: tuple[str, ...]) -> Path | None:
    for stem in stems:
        for suffix in ("", ".gz"):
            p = folder / f"{stem}{suffix}"
            if p.exists():
                return p
    return None


def is_10x_folder(folder: Path) -> bool:
    return _find(folder, ("matrix.mtx",)) is not None


def read_10x_mtx(folder: str | os.PathLike, *, var_names: str = "gene_symbols") -> Any:
    """Read a Cell Ranger matrix folder (``matrix.mtx``, ``features.tsv``/``genes.tsv``, ``barcodes.tsv``)."""
    import scipy.io

    folder = Path(folder)
    where = str(folder)
    mtx = _find(folder, ("matrix.mtx",))
    feats = _find(folder, ("features.tsv", "genes.tsv"))
    bcs = _find(folder, ("barcodes.tsv",))
    if mtx is None or feats is None or bcs is None:
        missing = [
            n
            for n, p in (("matrix.mtx", mtx), ("features.tsv", feats), ("barcodes.tsv", bcs))
            if p is None
        ]
        raise InputError(f"{where}: not a 10x matrix folder, missing {missing} (optionally .gz).")
    try:
        with open_binary(mtx) as fh:
            M = scipy.io.mmread(fh)
    except ValueError as exc:
        raise InputError(f"{str(mtx)!r}: not a MatrixMarket file ({exc}).") from None
    rows = []
    with open_binary(feats) as fh:
        for line in fh:
            parts = line.decode("utf-8").rstrip("\r\n").split("\t")
            if parts != [""]:
                rows.append(parts)
    if any(len(r) < 2 for r in rows):
        raise InputError(
            f"{str(feats)!r}: every line needs at least a gene ID and a name (tab-separated)."
        )
    ids = [r[0] for r in rows]
    names = [r[1] for r in rows]
    types = [r[2] if len(r) > 2 else "Gene Expression" for r in rows]
    with open_binary(bcs) as fh:
        barcodes = [ln.decode("utf-8").strip() for ln in fh if ln.strip()]
    return _finish(
        sp.csc_matrix(M).T,
        barcodes,
        ids,
        names,
        types,
        where=where,
        fmt="10x_mtx",
        var_names=var_names,
    )
