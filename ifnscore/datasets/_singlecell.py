"""A fast, seeded simulator of large sparse single-cell count matrices (for benchmarks).

Model (cell *i*, gene *g*):

* gene fractions :math:`\\lambda_g` log-normal (:math:`\\sigma = 2` on the natural-log scale,
  normalised to sum to 1), so a few genes take most reads, as in droplet data; the
  interferon-stimulated genes of :data:`~ifnscore.datasets._simulate.ISG_RESPONSE` are given
  ten times their whole-blood baselines (CPM);
* a cell's UMI total :math:`L_i` log-normal (:math:`\\sigma = 0.5`), scaled so that the
  expected fraction of non-zero entries equals ``density``;
* a fraction ``ifn_fraction`` of the cells is interferon-high: their ISG rates are multiplied
  by :math:`2^{r_g A_i}` with :math:`A_i \\sim U(1, 4)` and :math:`r_g` the gene's response;
* with :math:`\\mu_{ig} = L_i \\lambda_g`, the entry is non-zero with the Poisson probability
  :math:`1 - e^{-\\mu_{ig}}`, and a non-zero entry holds :math:`1 + Y`,
  :math:`Y \\sim \\mathrm{NB}(\\mu_{ig}, \\phi = 0.1)` (a gamma-Poisson draw): counts are
  negative-binomial-like with Poisson zeros.

Speed: the non-zero pattern is drawn from random bytes against 16-bit probability thresholds
(8 bits first, the low byte only for ties), with cells grouped into 64 library-size classes,
so 100,000 x 20,000 cells x genes take a few seconds. Blocks of :data:`BLOCK` rows have their
own seeds (spawned from ``seed``): the same seed gives the same matrix, and
:func:`iter_sparse_blocks` yields it block by block for matrices too large for memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._simulate import ISG_RESPONSE

__all__ = ["BLOCK", "iter_sparse_blocks", "simulate_sparse"]

#: Rows per independently seeded block.
BLOCK = 2048
_CLASSES = 64  # library-size classes
_DISPERSION = 0.1


@dataclass(frozen=True)
class _Model:
    n_cells: int
    genes: pd.Index
    lam: np.ndarray  # (n_genes,) gene fractions
    resp: np.ndarray  # (n_genes,) log2 response per unit IFN activity
    lib_class: np.ndarray  # (n_classes,) UMI totals of the size classes
    thr: np.ndarray  # (2 * n_classes, n_genes) uint16 thresholds: class (+ n_classes if IFN-high)
    ifn_fraction: float
    seeds: list[np.random.SeedSequence]


def _gene_names(n_genes: int) -> pd.Index:
    isg = list(ISG_RESPONSE)
    if n_genes < len(isg):
        return pd.Index(isg[:n_genes])
    width = len(str(n_genes))
    fill = [f"SIM{i:0{width}d}" for i in range(n_genes - len(isg))]
    return pd.Index(isg + fill)


def _model(n_cells: int, n_genes: int, density: float, ifn_fraction: float, seed: int) -> _Model:
    if not (isinstance(n_cells, int | np.integer) and n_cells >= 1):
        raise ValueError(f"n_cells={n_cells!r} must be a positive integer.")
    if not (isinstance(n_genes, int | np.integer) and n_genes >= 1):
        raise ValueError(f"n_genes={n_genes!r} must be a positive integer.")
    if not (0.0 < density < 0.5):
        raise ValueError(f"density={density!r} must be in (0, 0.5); droplet data are ~0.02-0.1.")
    if not (0.0 <= ifn_fraction <= 1.0):
        raise ValueError(f"ifn_fraction={ifn_fraction!r} must be in [0, 1].")
    ss = np.random.SeedSequence(seed)
    head, *blocks = ss.spawn(1 + -(-n_cells // BLOCK))
    rng = np.random.default_rng(head)
    genes = _gene_names(int(n_genes))
    lam = rng.lognormal(0.0, 2.0, size=n_genes)
    lam /= lam.sum()
    resp = np.zeros(n_genes)
    k = min(n_genes, len(ISG_RESPONSE))
    for j, g in enumerate(genes[:k]):
        r, base_cpm = ISG_RESPONSE[g]
        resp[j] = r
        # ISGs: blood baselines (CPM) x 10, as droplet data concentrate reads on fewer genes
        lam[j] = base_cpm * 1e-5
    if k < n_genes:
        lam[k:] *= (1.0 - lam[:k].sum()) / lam[k:].sum()
    else:
        lam /= lam.sum()
    # size classes: quantiles of a log-normal, scaled so that E[fraction non-zero] = density
    z = np.sqrt(2.0) * _erfinv_grid(_CLASSES)
    rel = np.exp(0.5 * z)

    def frac(scale: float) -> float:
        mu = scale * rel[:, None] * lam[None, :]
        return float(np.mean(-np.expm1(-mu)))

    lo, hi = 1.0, 1e9
    for _ in range(100):  # bisection on the log scale
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if frac(mid) < density else (lo, mid)
    lib_class = np.sqrt(lo * hi) * rel
    boost = np.exp2(resp * 2.5)  # mean activity of IFN-high cells (thresholds only)
    mu_low = lib_class[:, None] * lam[None, :]
    mu_high = mu_low * boost[None, :]
    q = -np.expm1(-np.vstack([mu_low, mu_high]))
    thr = np.minimum(np.round(q * 65536.0), 65535).astype(np.uint16)
    return _Model(int(n_cells), genes, lam, resp, lib_class, thr, float(ifn_fraction), blocks)


def _erfinv_grid(k: int) -> np.ndarray:
    """Standard-normal quantiles at the midpoints of k equal-probability classes, / sqrt(2)."""
    from scipy.special import erfinv

    p = (np.arange(k) + 0.5) / k
    return np.asarray(erfinv(2.0 * p - 1.0))


def _block(
    m: _Model, b: int, dtype: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows of block ``b``: (indptr from 0, int32 indices, values, IFN activity, UMI totals)."""
    rng = np.random.default_rng(m.seeds[b])
    start = b * BLOCK
    rows = min(m.n_cells, start + BLOCK) - start
    n_genes = m.lam.size
    cls = rng.integers(0, _CLASSES, size=rows)
    high = rng.random(rows) < m.ifn_fraction
    act = np.where(high, rng.uniform(1.0, 4.0, size=rows), 0.0)
    kind = cls + _CLASSES * high
    thr = m.thr[kind]  # (rows, genes) uint16
    hi = np.frombuffer(rng.bytes(rows * n_genes), dtype=np.uint8).reshape(rows, n_genes)
    thr_hi = (thr >> 8).astype(np.uint8)
    flat = np.flatnonzero(hi < thr_hi)
    tie = np.flatnonzero(hi == thr_hi)
    lo = np.frombuffer(rng.bytes(tie.size), dtype=np.uint8)
    keep = tie[lo < (thr.ravel()[tie] & 0xFF)]
    if keep.size:  # disjoint from flat (hi == thr_hi there)
        flat = np.sort(np.concatenate([flat, keep]))
    r = (flat // n_genes).astype(np.int64)
    c = (flat % n_genes).astype(np.int32)
    mu = m.lib_class[cls[r]] * m.lam[c] * np.exp2(m.resp[c] * act[r])
    shape = 1.0 / _DISPERSION
    y = rng.poisson(rng.gamma(shape, mu / shape))
    values = (1 + y).astype(dtype)
    indptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=rows), out=indptr[1:])
    return indptr, c, values, act, m.lib_class[cls]


def iter_sparse_blocks(
    n_cells: int,
    n_genes: int = 20_000,
    *,
    density: float = 0.0465,
    ifn_fraction: float = 0.2,
    seed: int = 0,
    dtype: Any = np.float32,
) -> Iterator[sp.csr_matrix]:
    """Yield the rows of :func:`simulate_sparse` as CSR blocks of :data:`BLOCK` rows.

    For writing matrices larger than memory to disk (h5ad, zarr) block by block; stacking
    the blocks gives exactly ``simulate_sparse(...).X`` for the same arguments.
    """
    m = _model(n_cells, n_genes, density, ifn_fraction, seed)
    for b in range(len(m.seeds)):
        indptr, idx, val, _, _ = _block(m, b, dtype)
        yield sp.csr_matrix((val, idx, indptr), shape=(indptr.size - 1, n_genes))


def simulate_sparse(
    n_cells: int,
    n_genes: int = 20_000,
    *,
    density: float = 0.0465,
    ifn_fraction: float = 0.2,
    seed: int = 0,
    dtype: Any = np.float32,
) -> Any:
    r"""Simulate a large sparse single-cell count matrix, quickly and reproducibly.

    Meant for benchmarks and for sizing jobs (``ifnscore bench``); the counts look like
    droplet single-cell data (most entries zero, a few highly expressed genes,
    negative-binomial-like non-zero counts, varying library sizes) but are not fitted to
    any data set.

    Parameters
    ----------
    n_cells, n_genes
        Matrix size. The first genes are the interferon-stimulated genes of every shipped
        signature (``IFI27``, ``IFI44L``, ...); the rest are named ``SIM00000``, ...
    density
        Expected fraction of non-zero entries (default 0.0465: about 930 genes per cell of
        20,000, i.e. 93 million non-zeros for 100,000 cells).
    ifn_fraction
        Fraction of interferon-high cells (activity :math:`A_i \sim U(1, 4)` on a log2 scale).
    seed
        The same seed gives the same matrix, whatever the size of the machine.
    dtype
        Value type of the matrix (float32 by default, as written by most pipelines).

    Returns
    -------
    anndata.AnnData
        ``X`` a CSR matrix (cells x genes, ``dtype`` values, int32 column indices),
        ``obs["ifn_activity"]`` and ``obs["umi_scale"]`` (the simulated truth).

    Notes
    -----
    With :math:`\lambda_g` the gene fractions, :math:`L_i` the cell's UMI scale and
    :math:`A_i` its interferon activity (0 for most cells),

    .. math:: \mu_{ig} = L_i \lambda_g 2^{r_g A_i}, \quad
              P(x_{ig} > 0) = 1 - e^{-\mu_{ig}}, \quad
              x_{ig} \mid x_{ig} > 0 \sim 1 + \mathrm{NB}(\mu_{ig}, \phi = 0.1).

    (The non-zero pattern uses the IFN-high activity 2.5 for every IFN-high cell; the
    values use each cell's own activity.)

    Examples
    --------
    >>> from ifnscore.datasets import simulate_sparse
    >>> adata = simulate_sparse(1000, 2000, seed=1)
    >>> adata.shape, adata.X.format, adata.X.dtype.name
    ((1000, 2000), 'csr', 'float32')
    >>> 0.04 < adata.X.nnz / (1000 * 2000) < 0.055
    True
    """
    import anndata as ad

    m = _model(n_cells, n_genes, density, ifn_fraction, seed)
    parts = [_block(m, b, dtype) for b in range(len(m.seeds))]
    nnz = sum(p[1].size for p in parts)
    index_dtype = np.int32 if nnz < 2**31 else np.int64
    indptr = np.empty(m.n_cells + 1, dtype=index_dtype)
    indices = np.empty(nnz, dtype=np.int32)
    data = np.empty(nnz, dtype=dtype)
    indptr[0] = 0
    row = pos = 0
    for p_indptr, p_idx, p_val, _, _ in parts:
        k = p_idx.size
        indptr[row + 1 : row + p_indptr.size] = p_indptr[1:] + pos
        indices[pos : pos + k] = p_idx
        data[pos : pos + k] = p_val
        row += p_indptr.size - 1
        pos += k
    X = sp.csr_matrix((data, indices, indptr), shape=(m.n_cells, len(m.genes)))
    width = len(str(m.n_cells))
    obs = pd.DataFrame(
        {
            "ifn_activity": np.concatenate([p[3] for p in parts]),
            "umi_scale": np.concatenate([p[4] for p in parts]),
        },
        index=pd.Index([f"cell{i:0{width}d}" for i in range(m.n_cells)]),
    )
    return ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=m.genes))
