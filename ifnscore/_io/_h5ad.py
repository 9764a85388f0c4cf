"""AnnData ``.h5ad`` files, in memory or backed (rows read on demand)."""

from __future__ import annotations

import os
from typing import Any

from ..errors import InputError
from ._open import compression_of

__all__ = ["read_h5ad"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def check_hdf5(path: str | os.PathLike, what: str) -> None:
    """Refuse a file that is not HDF5 although its extension says so."""
    compression_of(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head != _HDF5_MAGIC:
        raise InputError(
            f"{str(path)!r} is not an HDF5 file although its extension says {what}; check the file."
        )


def read_h5ad(path: str | os.PathLike, *, backed: bool = False) -> Any:
    """Read an ``.h5ad``; ``backed=True`` keeps ``X`` on disk (scored in row blocks)."""
    import anndata as ad

    check_hdf5(path, ".h5ad")
    try:
        adata = ad.read_h5ad(path, backed="r" if backed else None)
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{str(path)!r}: not a readable h5ad file ({exc}).") from None
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise InputError(f"{str(path)!r}: no data ({adata.n_obs} samples x {adata.n_vars} genes).")
    adata.uns["ifnscore_read"] = {"format": "h5ad", "source": str(path), "backed": bool(backed)}
    return adata
