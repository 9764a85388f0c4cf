"""A seeded simulator of whole-blood RNA-seq counts with a type I interferon signature.

Model (per sample *i*, gene *g*):

* interferon activity :math:`A_i` on a log2 scale: healthy :math:`N(0, 0.42)`; JDM
  :math:`N(2.4, 1.4)` and SLE :math:`N(2.3, 1.4)`, so that the Rice fold-change medians roughly
  follow Rice 2017 (controls ~0.7-1, JDM ~9, juvenile SLE ~11; doi:10.1007/s10875-016-0359-1);
* expected expression :math:`\\mu_{ig} = b_g \\, 2^{r_g A_i + e_{ig}}` CPM, with a baseline
  :math:`b_g` (log-normal around 10 CPM; fixed values for signature and housekeeping genes),
  a gene-specific response :math:`r_g` (0 for non-ISGs; IFI27 the strongest) and biological
  noise :math:`e_{ig} \\sim N(0, 0.3)`;
* library sizes :math:`L_i` log-normal around 20 million reads;
* counts negative binomial with mean :math:`\\mu_{ig} L_i / 10^6` and dispersion 0.05.

The values are made to look like whole-blood RNA-seq, not taken from any data set.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["CASE_VISITS", "HOUSEKEEPING", "ISG_RESPONSE", "simulate_cohort"]

#: Response of each interferon-stimulated gene: log2 fold per unit of IFN activity, and its
#: healthy baseline in CPM. IFI27 has the lowest baseline and the strongest induction.
ISG_RESPONSE: dict[str, tuple[float, float]] = {
    "IFI27": (1.9, 3.0),
    "SIGLEC1": (1.25, 6.0),
    "RSAD2": (1.3, 20.0),
    "IFI44L": (1.35, 25.0),
    "IFIT1": (1.2, 30.0),
    "ISG15": (1.0, 60.0),
    "IFI44": (1.1, 35.0),
    "IFIT3": (1.05, 45.0),
    "LY6E": (0.8, 80.0),
    "MX1": (0.95, 90.0),
    "OAS1": (0.9, 40.0),
    "OASL": (0.9, 25.0),
    "HERC5": (1.05, 18.0),
    "IFI6": (1.1, 70.0),
    "IRF7": (0.7, 60.0),
    "EIF2AK2": (0.55, 50.0),
    "DHX58": (0.6, 8.0),
    "PARP9": (0.5, 45.0),
    "PLSCR1": (0.55, 70.0),
    "SAMD9L": (0.6, 30.0),
    "MX2": (0.85, 40.0),
    "OAS2": (0.9, 30.0),
    "OAS3": (0.95, 25.0),
    "IFIT2": (1.0, 20.0),
    "IFIT5": (0.6, 15.0),
    "EPSTI1": (0.9, 20.0),
    "XAF1": (0.7, 40.0),
    "USP18": (0.9, 8.0),
    "HERC6": (0.8, 15.0),
    "STAT1": (0.45, 120.0),
    "IFITM1": (0.5, 300.0),
    "ISG20": (0.6, 60.0),
    "CMPK2": (1.0, 10.0),
    "SPATS2L": (0.5, 30.0),
}

#: Housekeeping genes with typical whole-blood baselines (CPM).
HOUSEKEEPING: dict[str, float] = {
    "ACTB": 4000.0,
    "GAPDH": 1500.0,
    "B2M": 6000.0,
    "HPRT1": 25.0,
    "PPIA": 600.0,
    "RPLP0": 1500.0,
    "TBP": 12.0,
    "GUSB": 40.0,
    "HMBS": 30.0,
    "YWHAZ": 700.0,
    "PGK1": 200.0,
    "TFRC": 30.0,
    "UBC": 900.0,
    "SDHA": 35.0,
    "POLR2A": 60.0,
}

#: Visits of the longitudinal JDM patient modelled on the case report (day, IFN activity, CMAS).
#: Activity chosen so that fc_sum is about 890 at diagnosis and falls below 12.49 on treatment.
CASE_VISITS: tuple[tuple[int, float, float], ...] = (
    (0, 5.1, 10.0),
    (14, 4.5, 12.0),
    (28, 3.8, 17.0),
    (56, 2.9, 25.0),
    (84, 2.2, 31.0),
    (112, 1.5, 37.0),
    (168, 0.6, 43.0),
    (252, 0.2, 47.0),
    (365, 0.0, 50.0),
)
#: Treatment periods of the case patient (drug, start day, stop day; NaN = ongoing).
CASE_TREATMENTS: tuple[tuple[str, float, float], ...] = (
    ("methylprednisolone", 0.0, 3.0),
    ("prednisolone", 3.0, 180.0),
    ("baricitinib", 7.0, float("nan")),
)
CASE_PATIENT = "JDM01"


@dataclass(frozen=True)
class Cohort:
    """A simulated cohort, as :func:`simulate_cohort` returns it.

    Attributes
    ----------
    counts : pandas.DataFrame
        Integer counts, samples x genes (HGNC symbols).
    samples : pandas.DataFrame
        Sample metadata: ``group``, ``patient``, ``day``, ``cmas`` and the simulated
        ``ifn_activity``.
    treatments : pandas.DataFrame
        Treatment periods: ``patient``, ``drug``, ``start``, ``stop`` (days; NaN = ongoing).
    genes : pandas.DataFrame
        The gene universe: symbol, Entrez and Ensembl IDs.

    Examples
    --------
    >>> from ifnscore import datasets
    >>> cohort = datasets.simulate_cohort(n_controls=3, n_jdm=2, n_sle=2, seed=7)
    >>> list(cohort.treatments["drug"])
    ['methylprednisolone', 'prednisolone', 'baricitinib']
    """

    counts: pd.DataFrame
    samples: pd.DataFrame
    treatments: pd.DataFrame
    genes: pd.DataFrame


def _gene_universe() -> pd.DataFrame:
    path = resources.files("ifnscore.datasets") / "data" / "genes.tsv"
    with resources.as_file(path) as p:
        return pd.read_csv(p, sep="\t", dtype=str)


def simulate_cohort(
    *,
    n_controls: int = 40,
    n_jdm: int = 30,
    n_sle: int = 20,
    case_patient: bool = True,
    seed: int | np.random.Generator = 2026,
    dispersion: float = 0.05,
    library_size: float = 2e7,
) -> Cohort:
    """Simulate whole-blood RNA-seq counts of controls, JDM and SLE patients.

    Parameters
    ----------
    n_controls, n_jdm, n_sle
        Number of healthy controls and of patients (one sample each).
    case_patient
        Add the longitudinal JDM patient modelled on the case report (9 visits over a year,
        IFN score about 890 at diagnosis, CMAS recovering on baricitinib).
    seed
        Seed or :class:`numpy.random.Generator`; the same seed gives the same cohort.
    dispersion
        Negative-binomial dispersion (variance = mean + dispersion * mean^2).
    library_size
        Median library size (reads).

    Returns
    -------
    Cohort
        ``counts`` (int64 DataFrame, samples x genes, HGNC symbols), ``samples`` (metadata:
        ``group``, ``patient``, ``day``, ``cmas``, ``ifn_activity``), ``treatments`` (patient,
        drug, start, stop in days) and ``genes`` (symbol, Entrez and Ensembl IDs).

    Examples
    --------
    >>> from ifnscore import datasets
    >>> cohort = datasets.simulate_cohort(n_controls=5, n_jdm=3, n_sle=0, case_patient=False, seed=1)
    >>> cohort.counts.shape[0]
    8
    >>> cohort.samples["group"].value_counts().to_dict()
    {'control': 5, 'JDM': 3}
    """
    rng = np.random.default_rng(seed)
    genes = _gene_universe()
    sym = genes["symbol"].to_numpy()
    m = sym.size
    base = 10.0 ** rng.normal(1.0, 0.8, size=m)
    resp = np.zeros(m)
    index = {s: i for i, s in enumerate(sym)}
    for g, (r, b) in ISG_RESPONSE.items():
        if g in index:
            resp[index[g]], base[index[g]] = r, b
    for g, b in HOUSEKEEPING.items():
        if g in index:
            base[index[g]] = b

    rows = []  # (sample, group, patient, day, cmas, activity)
    for i in range(n_controls):
        rows.append(
            (f"CTRL{i + 1:02d}", "control", f"CTRL{i + 1:02d}", 0, np.nan, rng.normal(0.0, 0.42))
        )
    if case_patient:
        for day, act, cmas in CASE_VISITS:
            rows.append((f"{CASE_PATIENT}_d{day:03d}", "JDM", CASE_PATIENT, day, cmas, act))
    start = 2 if case_patient else 1
    for i in range(n_jdm):
        pid = f"JDM{i + start:02d}"
        rows.append((pid, "JDM", pid, 0, np.nan, rng.normal(2.4, 1.4)))
    for i in range(n_sle):
        pid = f"SLE{i + 1:02d}"
        rows.append((pid, "SLE", pid, 0, np.nan, rng.normal(2.3, 1.4)))
    meta = pd.DataFrame(
        rows, columns=["sample", "group", "patient", "day", "cmas", "ifn_activity"]
    ).set_index("sample")
    act = meta["ifn_activity"].to_numpy()
    n = act.size
    noise = rng.normal(0.0, 0.3, size=(n, m)) * (resp > 0)  # ISGs vary beyond the shared activity
    noise += rng.normal(0.0, 0.15, size=(n, m))
    cpm = base * np.exp2(np.outer(act, resp) + noise)
    cpm *= 1e6 / cpm.sum(axis=1, keepdims=True)
    lib = library_size * np.exp(rng.normal(0.0, 0.3, size=n))
    mu = cpm * lib[:, None] / 1e6
    # negative binomial as a gamma-Poisson mixture
    shape = 1.0 / dispersion
    lam = rng.gamma(shape, mu / shape)
    counts = rng.poisson(lam).astype(np.int64)
    counts_df = pd.DataFrame(counts, index=meta.index, columns=pd.Index(sym, name="gene"))
    treat = pd.DataFrame(
        [(CASE_PATIENT, d, s, e) for d, s, e in CASE_TREATMENTS] if case_patient else [],
        columns=["patient", "drug", "start", "stop"],
    )
    meta["day"] = meta["day"].astype(np.int64)
    return Cohort(counts_df, meta, treat, genes)


def write_example(folder: Path) -> None:
    """Write the bundled example files into ``folder`` (see ``_build_example``)."""
    c = simulate_cohort()
    folder = Path(folder)
    c.counts.T.to_csv(
        folder / "example_counts.csv.gz",
        index_label="gene",
        compression={"method": "gzip", "mtime": 0},
    )
    c.samples.drop(columns="ifn_activity").to_csv(folder / "example_samples.csv")
    c.treatments.to_csv(folder / "example_treatments.csv", index=False)
    print(
        f"wrote example cohort: {c.counts.shape[0]} samples x {c.counts.shape[1]} genes to {folder}"
    )
