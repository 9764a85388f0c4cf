"""Example data: a bundled simulated cohort and the simulator that made it.

The bundled cohort (``load_example``) holds 40 healthy controls, 30 JDM and 20 SLE patients
(one whole-blood RNA-seq sample each) and one JDM patient followed over a year (9 visits),
modelled on the published case of anti-MDA5 JDM treated with baricitinib
(doi:10.3390/jcm15020709): IFN score about 890 at diagnosis, falling below the 12.49 limit,
with the muscle score (CMAS) recovering. All values are simulated
(:func:`simulate_cohort`, seed 2026); gene names are real HGNC symbols.

:func:`simulate_sparse` makes large sparse single-cell count matrices quickly (seeded), for
benchmarks and for sizing jobs.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from ._simulate import Cohort, simulate_cohort
from ._singlecell import simulate_sparse

__all__ = ["Cohort", "example_files", "load_example", "simulate_cohort", "simulate_sparse"]


def example_files() -> dict[str, Path]:
    """Paths of the bundled example files, to try the file readers and the command line.

    Returns
    -------
    dict of str to pathlib.Path
        ``counts`` (genes x samples CSV, gzip), ``samples`` (sample metadata CSV) and
        ``treatments`` (treatment periods CSV).

    Examples
    --------
    >>> from ifnscore import datasets
    >>> sorted(datasets.example_files())
    ['counts', 'samples', 'treatments']
    >>> datasets.example_files()["counts"].name
    'example_counts.csv.gz'
    """
    base = resources.files("ifnscore.datasets") / "data"
    return {
        "counts": Path(str(base / "example_counts.csv.gz")),
        "samples": Path(str(base / "example_samples.csv")),
        "treatments": Path(str(base / "example_treatments.csv")),
    }


def load_example(*, as_frame: bool = False) -> Any:
    """Load the bundled example cohort.

    Parameters
    ----------
    as_frame
        If True, return ``(counts, samples)`` DataFrames (samples x genes integer counts,
        and the sample metadata). If False (default), an AnnData with the counts in ``X``,
        the metadata in ``obs`` and the treatment periods in ``uns["treatments"]``.

    Returns
    -------
    anndata.AnnData or tuple of pandas.DataFrame
        99 samples x 2,000 genes of integer counts (simulated whole-blood RNA-seq; HGNC
        symbols), with the sample metadata ``group``, ``patient``, ``day`` and ``cmas``.

    Examples
    --------
    >>> from ifnscore import datasets
    >>> counts, samples = datasets.load_example(as_frame=True)
    >>> counts.shape
    (99, 2000)
    >>> samples["group"].value_counts().to_dict()
    {'control': 40, 'JDM': 39, 'SLE': 20}
    """
    files = example_files()
    counts = pd.read_csv(files["counts"], index_col=0).T
    counts.index.name = "sample"
    counts.columns.name = "gene"
    samples = pd.read_csv(files["samples"], index_col=0).loc[counts.index]
    if as_frame:
        return counts, samples
    import anndata as ad

    adata = ad.AnnData(
        X=counts.to_numpy(), obs=samples.copy(), var=pd.DataFrame(index=counts.columns)
    )
    treat = pd.read_csv(files["treatments"])
    adata.uns["treatments"] = {c: treat[c].tolist() for c in treat.columns}
    return adata
