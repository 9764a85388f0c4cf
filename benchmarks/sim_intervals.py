"""Simulation study of the upper-reference-limit rules of ``ifnscore.calibrate(rule=...)``.

For each true distribution of healthy scores and each number of controls n, draw n controls,
derive the upper limit (and its 90 % CI) by each rule, and record

* coverage: the true fraction of healthy people below the estimated limit, F(limit); the
  target is 0.975 (mean over replicates, and its 5th-95th percentiles across replicates);
* CI coverage: how often the 90 % CI contains the true 97.5th percentile (target 0.90), and
  how often a CI could be computed at all.

Distributions (on the scale of ``fc_sum`` scores of healthy controls, median near 6):
normal(10, 1.5) and lognormal(meanlog 1.8, sdlog 0.4).

Usage::

    PYTHONPATH=. python benchmarks/sim_intervals.py --reps 1000 --out docs/intervals_simulation.md
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy import stats

from ifnscore._io_util import atomic_write
from ifnscore._limits import controls_limit
from ifnscore.errors import InputError

DISTS = {
    "normal(10, 1.5)": stats.norm(10, 1.5),
    "lognormal(1.8, 0.4)": stats.lognorm(s=0.4, scale=np.exp(1.8)),
}
NS = (20, 40, 120, 240)
RULES = (
    "mean+2sd",
    "mean+1.96sd",
    "log:mean+1.96sd",
    "boxcox:mean+1.96sd",
    "p97.5",
    "robust",
    "log:robust",
    "ep28",
)


def _cell(args: tuple[str, int, int, int]) -> list[dict]:
    dist_name, n, reps, seed = args
    dist = DISTS[dist_name]
    q = float(dist.ppf(0.975))
    rng = np.random.default_rng(seed)
    acc: dict[str, dict[str, list]] = {
        r: {"cov": [], "ci": [], "has_ci": [], "failed": []} for r in RULES
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # keep the study's output free of per-replicate warnings
        for _ in range(reps):
            x = dist.rvs(size=n, random_state=rng)
            for rule in RULES:
                a = acc[rule]
                try:
                    lim = controls_limit(x, rule)
                except InputError:  # Box-Cox limit beyond the transform's range
                    a["failed"].append(True)
                    continue
                a["failed"].append(False)
                a["cov"].append(float(dist.cdf(lim.value)))
                lo, hi = lim.details["ci_low"], lim.details["ci_high"]
                a["has_ci"].append(lo is not None)
                if lo is not None:
                    a["ci"].append(lo <= q <= hi)
    rows = []
    for rule in RULES:
        cov = np.asarray(acc[rule]["cov"])
        ci = np.asarray(acc[rule]["ci"], dtype=float)
        rows.append(
            {
                "distribution": dist_name,
                "n": n,
                "rule": rule,
                "coverage": cov.mean(),
                "cov_p05": np.quantile(cov, 0.05),
                "cov_p95": np.quantile(cov, 0.95),
                "ci_coverage": ci.mean() if ci.size else None,
                "ci_computed": np.mean(acc[rule]["has_ci"]),
                "failed": np.mean(acc[rule]["failed"]),
            }
        )
    return rows


def _table(rows: list[dict]) -> str:
    head = (
        "| distribution | n | rule | mean coverage | coverage 5th-95th pct | "
        "90% CI covers true P97.5 | CI computed | no limit |\n"
        "|---|---:|---|---:|---|---:|---:|---:|\n"
    )
    lines = []
    for r in rows:
        ci = "n/a" if r["ci_coverage"] is None else f"{r['ci_coverage']:.3f}"
        lines.append(
            f"| {r['distribution']} | {r['n']} | `{r['rule']}` | {r['coverage']:.4f} | "
            f"{r['cov_p05']:.3f}-{r['cov_p95']:.3f} | {ci} | {r['ci_computed']:.0%} | "
            f"{r['failed']:.1%} |"
        )
    return head + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=1000, help="replicates per cell (default 1000)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown page here")
    args = ap.parse_args(argv)
    cells = [(d, n, args.reps, args.seed + 1000 * i + n) for i, d in enumerate(DISTS) for n in NS]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as ex:
        rows = [r for part in ex.map(_cell, cells) for r in part]
    elapsed = time.perf_counter() - t0
    table = _table(rows)
    cmd = f"PYTHONPATH=. python benchmarks/sim_intervals.py --reps {args.reps} --seed {args.seed}"
    page = (
        "# Upper reference limits: a simulation study\n\n"
        "How well does each `rule=` of `ifnscore.calibrate` estimate the 97.5th percentile of "
        "the healthy distribution? For each true distribution and number of controls `n`, "
        f"{args.reps} sets of `n` controls were drawn and the limit and its 90 % confidence "
        "interval derived by each rule (`ifnscore._limits.controls_limit`).\n\n"
        "* **mean coverage**: the mean over replicates of F(limit), the true fraction of healthy "
        "people below the estimated limit (target 0.975). The 5th-95th percentiles show how far "
        "a single laboratory's limit can land from the target.\n"
        "* **90% CI covers true P97.5**: the fraction of computed CIs that contain the true "
        "97.5th percentile (target 0.90). `mean+2sd` targets mean + 2 SD (the 97.7th percentile "
        "of a normal distribution), so its CI undercovers the 97.5th by design.\n"
        "* **CI computed**: non-parametric CIs from order statistics need n >= 119 "
        "(CLSI EP28-A3c: 120); `ep28` uses the robust method below 120 controls. Computed "
        "over replicates that gave a limit.\n"
        "* **no limit**: replicates where the Box-Cox limit fell beyond the transform's range "
        "(lambda < 0) and `calibrate` raises, asking for a `log:` rule.\n\n"
        f"Command (took {elapsed / 60:.0f} min on a shared 2-core machine):\n\n"
        f"    {cmd} --out docs/intervals_simulation.md\n\n"
        "Distributions: normal(mean 10, SD 1.5); lognormal(meanlog 1.8, sdlog 0.4), shaped like "
        "healthy `fc_sum` scores (median 6, right-skewed).\n\n"
        + table
        + "\n## Reading the table\n\n"
        "* Normal data: the raw-scale rules (`mean+1.96sd`, `robust`, and `p97.5` from 40 "
        "controls) average 0.965-0.976, a little low with 20 controls; `mean+2sd` sits slightly "
        "higher (it targets the 97.7th percentile). A `log:` transform of normal data overshoots "
        "(0.98-0.99) and its CI misses: choose the scale that fits the data.\n"
        "* Skewed (lognormal) data, like healthy `fc_sum` scores: every raw-scale parametric or "
        "robust limit is too low (0.94-0.955), and more controls only make its CI miss more "
        "surely. `log:` rules restore 0.965-0.976 with CIs near 0.90. `boxcox:` limits are as "
        "good, but their CIs undercover (about 0.82) because they ignore the uncertainty of the "
        "estimated lambda.\n"
        "* `ep28` is the raw-scale robust rule below 120 controls; for skewed scores use "
        "`log:ep28` (EP28 and Horn & Pesce recommend transforming skewed data before the robust "
        "method).\n"
        "* The non-parametric `p97.5` is unbiased from about 40 controls; with 20 the rank "
        "p(n + 1) lies beyond the largest control and the limit is just the maximum (coverage "
        "n/(n + 1)). Its order-statistic CI (from 119 controls) covers 0.915-0.944, "
        "conservative by construction.\n"
        "* The robust limit's bootstrap CI covers 0.88-0.91 when the scale is right.\n"
    )
    if args.out is not None:
        atomic_write(args.out, lambda p: p.write_text(page, encoding="utf-8"))
        print(f"wrote {args.out} in {elapsed:.0f} s", file=sys.stderr)
    else:
        print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
