"""The ``ifnscore`` command line.

Every subcommand mirrors the Python API; ``main(argv)`` returns the exit code:
0 success, 1 data error (one line on stderr, no traceback unless ``--debug``), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from ._version import __version__
from .errors import IfnscoreError

__all__ = ["main"]

EPILOG_DEMO = """examples:
  ifnscore demo                       calibrate on the bundled controls, score everyone
  ifnscore demo -o scores.csv         ... and write the table to scores.csv
"""


def _cmd_demo(args: argparse.Namespace) -> int:
    import pandas as pd

    from . import calibrate, datasets, score
    from ._io_util import write_table

    counts, samples = datasets.load_example(as_frame=True)
    controls = counts[samples["group"] == "control"]
    ref = calibrate(controls, signature=args.signature, method=args.method)
    res = score(counts, reference=ref)
    table = res.join(samples[["group", "patient", "day"]])
    lim = ref.signatures[args.signature].upper_limit
    out = sys.stdout
    print(
        f"ifnscore {__version__} demo: {len(counts)} simulated whole-blood RNA-seq samples "
        f"({(samples['group'] == 'control').sum()} healthy controls), signature {args.signature!r}, "
        f"method {args.method!r}",
        file=out,
    )
    print(f"upper limit {lim.value:.4g} ({lim.source}: {lim.rule})", file=out)
    print(
        f"controls' own limit ({ref.signatures[args.signature].limits['controls'].rule}): "
        f"{ref.signatures[args.signature].limits['controls'].value:.4g}\n",
        file=out,
    )
    summary = table.groupby("group").agg(
        n=("score", "size"), median_score=("score", "median"), positive=("positive", "mean")
    )
    summary["positive"] = (summary["positive"] * 100).round(0).astype(int).astype(str) + "%"
    print(summary.round(2).to_string(), file=out)
    case = table[table["patient"] == "JDM01"][["day", "score", "fold_over_limit", "positive"]]
    print("\nfollowed JDM patient (simulated after the published case):", file=out)
    with pd.option_context("display.float_format", "{:.2f}".format):
        print(case.to_string(), file=out)
    path = write_table(table, args.output)
    print(f"\nwrote {len(table)} rows to {path}", file=out)
    return 0


def _cmd_signatures(args: argparse.Namespace) -> int:
    from ._signatures import get_signature, list_signatures

    if args.name is None:
        table = list_signatures()[["n_genes", "genes", "thresholds", "doi"]]
        print(table.to_string())
        return 0
    sig = get_signature(args.name)
    print(f"{sig.name}: {sig.title}")
    print(f"  genes:      {', '.join(sig.genes)}")
    for label, value in (
        ("tissue", sig.tissue),
        ("platform", sig.platform),
        ("reference", ", ".join(sig.reference_genes)),
        ("formula", sig.formula),
        ("citation", sig.citation),
        ("doi", sig.doi),
        ("notes", sig.notes),
    ):
        if value:
            text = " ".join(value.split())
            print(f"  {label + ':':<11} {text}")
    for t in sig.thresholds:
        print(
            f"  threshold:  {t.value:g} for method {t.method} ({t.rule}; {t.source}, doi:{t.doi})"
        )
    if not sig.thresholds:
        print("  threshold:  none published on an ifnscore method's scale (calibrate on controls)")
    return 0


def _add_report_parser(sub: argparse._SubParsersAction) -> None:
    """``ifnscore report``: a self-contained HTML report (implemented in ifnscore.report)."""
    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report: cohort, reference, followed patients, samples",
        description="Score an expression file against healthy controls and write one HTML file "
        "(figures embedded, opens offline). Figures need matplotlib: pip install 'ifnscore[plot]'.",
        epilog="examples:\n  ifnscore report --example -o report.html\n"
        "  ifnscore report counts.csv --samples samples.csv --control-group control -o report.html\n"
        "  ifnscore report counts.tsv --samples samples.csv --treatments treatments.csv "
        "--reference ref.json --clinical cmas -o report.html\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", nargs="?", help="expression table (CSV/TSV, read with pandas) or .h5ad")
    p.add_argument("--example", action="store_true", help="report on the bundled example cohort")
    p.add_argument("-o", "--output", default="ifnscore_report.html", help="HTML file (%(default)s)")
    p.add_argument("--samples", help="sample metadata CSV/TSV (first column: sample names)")
    p.add_argument("--treatments", help="treatment periods CSV: patient, drug, start, stop")
    p.add_argument("--reference", help="a reference saved by `ifnscore calibrate`/Reference.save")
    p.add_argument("--control-group", help="calibrate on the samples of this group instead")
    p.add_argument("--group-column", default="group", help="metadata group column (%(default)s)")
    p.add_argument("--patient-column", default="patient", help="patient column (%(default)s)")
    p.add_argument("--time-column", default="day", help="visit time column (%(default)s)")
    p.add_argument("--clinical", nargs="*", help="clinical measure columns, e.g. cmas")
    p.add_argument("--signature", help="signature (default: the reference's, else rice6)")
    p.add_argument("--method", default="fc_sum", help="method when calibrating (%(default)s)")
    p.add_argument("--scale", default="auto", help="expression scale (%(default)s)")
    p.add_argument("--title", default="Interferon signature report", help="report title")

    def run(args: argparse.Namespace) -> int:
        from .report import _cli

        return _cli(args)

    p.set_defaults(func=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ifnscore",
        description="Type I interferon signature scores for gene-expression data.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ifnscore {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "demo",
        help="score the bundled example cohort (what `make demo` runs)",
        description="Calibrate on the bundled healthy controls and score the whole example cohort.",
        epilog=EPILOG_DEMO,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "-o",
        "--output",
        default="ifnscore_demo_scores.csv",
        help="where to write the scores (default: %(default)s)",
    )
    p.add_argument("--signature", default="rice6", help="signature name (default: %(default)s)")
    p.add_argument("--method", default="fc_sum", help="scoring method (default: %(default)s)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "signatures",
        help="list the published signatures, or show one with its provenance",
        description="List the published signatures, or show one with its genes, formula, threshold and citation.",
        epilog="examples:\n  ifnscore signatures\n  ifnscore signatures rice6\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", nargs="?", help="a signature name, e.g. rice6")
    p.set_defaults(func=_cmd_signatures)
    _add_report_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 data error, 2 usage error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help/--version
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            return int(args.func(args))
    except (IfnscoreError, OSError) as exc:
        if args.debug:
            raise
        print(f"ifnscore {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
