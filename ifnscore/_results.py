"""The one result model: the score table, and the only place that knows how it is written into
(and read back from) an AnnData.

The table is what the internal scorer returns for every input: a DataFrame indexed by sample
with, for one signature, the columns ``score``, ``positive``, ``fold_over_limit``,
``n_genes`` (and any method extras), and for several a ``(signature, field)`` MultiIndex; its
``attrs["ifnscore"]`` holds the method, scale, genes and limits. Everything that consumes
scores (the CLI, the report, :func:`ifnscore.verify_limit`, :func:`ifnscore.follow`,
:mod:`ifnscore.plot`) works on this table; an AnnData scored in place is turned back into it by
:func:`from_anndata`, from the column map stored in ``uns[key]``, never by decoding names.

AnnData layout (``key`` defaults to ``"ifnscore"``):

* ``obs[key]``, ``obs[f"{key}_{field}"]`` for one signature; ``obs[f"{key}_{signature}"]``,
  ``obs[f"{key}_{signature}_{field}"]`` for several;
* ``obsm[key]``: a samples x signatures DataFrame of scores (the layout of decoupler's
  ``obsm["score_<method>"]``, so ``decoupler.pp.get_obsm`` and ``scanpy.pl.*`` can use it);
* ``uns[key]``: the result's ``attrs["ifnscore"]`` made h5ad-safe, plus ``columns``
  (signature -> field -> obs column).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._warn import warn
from .errors import IfnscoreWarning, InputError

__all__ = [
    "flat",
    "from_anndata",
    "one_signature",
    "score_matrix",
    "signature_names",
    "to_anndata",
]


def signature_names(result: pd.DataFrame) -> list[str]:
    """The signatures of a result table, in order."""
    return list(result.attrs.get("ifnscore", {}).get("signatures", {})) or (
        list(dict.fromkeys(result.columns.get_level_values(0)))
        if isinstance(result.columns, pd.MultiIndex)
        else ["score"]
    )


def one_signature(
    result: pd.DataFrame, signature: str | None = None, *, arg: str = "signature"
) -> tuple[str, pd.DataFrame]:
    """(name, the fields of one signature: ``score``, ``positive``, ...) of a result table."""
    names = signature_names(result)
    if not isinstance(result.columns, pd.MultiIndex):
        if signature is not None and signature != names[0]:
            raise InputError(f"{arg}={signature!r} is not in the result (it holds {names}).")
        return names[0], result
    if signature is None:
        if len(names) != 1:
            raise InputError(f"The result holds signatures {names}; choose one with {arg}=.")
        signature = names[0]
    if signature not in names:
        raise InputError(f"{arg}={signature!r} is not in the result (it holds {names}).")
    sub = result[signature].copy()
    sub.attrs = result.attrs
    return signature, sub


def score_matrix(result: pd.DataFrame) -> pd.DataFrame:
    """Samples x signatures scores."""
    if isinstance(result.columns, pd.MultiIndex):
        out = result.xs("score", axis=1, level=1).copy()
    else:
        out = result[["score"]].copy()
        out.columns = pd.Index(signature_names(result))
    out.columns.name = "signature"
    out.attrs = {}
    return out


def flat(result: pd.DataFrame) -> pd.DataFrame:
    """The table with one level of column names, for files: ``score``, ``positive``, ... for
    one signature; ``<signature>_<field>`` for several."""
    out = result.copy()
    if isinstance(out.columns, pd.MultiIndex):
        out.columns = pd.Index([f"{s}_{f}" for s, f in out.columns])
    out.attrs = {}
    out.index.name = "sample"
    return out


def _obs_names(result: pd.DataFrame, key: str) -> dict[str, dict[str, str]]:
    names = signature_names(result)
    several = isinstance(result.columns, pd.MultiIndex)
    out: dict[str, dict[str, str]] = {}
    for sig in names:
        fields = result[sig].columns if several else result.columns
        base = f"{key}_{sig}" if several else key
        out[sig] = {f: base if f == "score" else f"{base}_{f}" for f in fields}
    return out


def to_anndata(adata: Any, result: pd.DataFrame, *, key: str, copy: bool) -> Any:
    """Write ``result`` into ``adata`` (or a copy): ``obs`` columns, ``obsm[key]``, ``uns[key]``."""
    if not isinstance(key, str) or not key:
        raise InputError(f"key={key!r} must be a non-empty string.")
    target = adata.copy() if copy else adata
    columns = _obs_names(result, key)
    several = isinstance(result.columns, pd.MultiIndex)
    new = {col: (sig, f) for sig, fields in columns.items() for f, col in fields.items()}
    clash = [c for c in new if c in target.obs.columns]
    if clash:
        warn(f"Overwriting existing obs columns {clash}; pass key= to keep them.", IfnscoreWarning)
    for col, (sig, f) in new.items():
        values = result[sig, f] if several else result[f]
        target.obs[col] = values.to_numpy()
    target.obsm[key] = pd.DataFrame(
        score_matrix(result).to_numpy(), index=target.obs_names, columns=signature_names(result)
    )
    meta = dict(result.attrs.get("ifnscore", {}))
    meta["columns"] = columns
    meta["obs_columns"] = list(new)
    target.uns[key] = _uns_safe(meta)
    return target if copy else None


def from_anndata(adata: Any, key: str = "ifnscore", *, arg: str = "data") -> pd.DataFrame:
    """The result table of an AnnData scored in place by :func:`ifnscore.score` with ``key``."""
    meta = adata.uns.get(key) if hasattr(adata, "uns") else None
    if not isinstance(meta, Mapping) or "columns" not in meta:
        raise InputError(
            f"{arg} is an AnnData without scores under key {key!r} (no uns[{key!r}] written by ifnscore.score); "
            f"score it first with ifnscore.score(adata, ..., key={key!r})."
        )
    columns: Mapping[str, Mapping[str, str]] = meta["columns"]
    missing = [
        c for fields in columns.values() for c in fields.values() if c not in adata.obs.columns
    ]
    if missing:
        raise InputError(f"{arg}: obs columns {missing} recorded in uns[{key!r}] are missing.")
    parts = {
        sig: pd.DataFrame(
            {f: adata.obs[c].to_numpy() for f, c in fields.items()}, index=adata.obs_names
        )
        for sig, fields in columns.items()
    }
    if len(parts) == 1:
        out = next(iter(parts.values()))
    else:
        out = pd.concat(parts, axis=1, names=["signature", "field"])
    out.index.name = "sample"
    out.attrs["ifnscore"] = _from_uns(meta)
    return out


def _uns_safe(obj: Any) -> Any:
    """AnnData's uns must be writable to h5ad: plain dicts, lists of str/numbers, no None."""
    if isinstance(obj, Mapping):
        return {str(k): _uns_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        if all(isinstance(v, Mapping) for v in obj) and obj:
            return {str(i): _uns_safe(v) for i, v in enumerate(obj)}
        return [_uns_safe(v) for v in obj]
    if obj is None:
        return "None"
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _from_uns(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _from_uns(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Sequence) and not isinstance(obj, str):
        return [_from_uns(v) for v in obj]
    if obj == "None":
        return None
    return obj
