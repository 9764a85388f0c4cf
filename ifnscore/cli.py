"""The ``ifnscore`` command line.

Every subcommand mirrors the Python API; ``main(argv)`` returns the exit code:
0 success, 1 data error (one line on stderr, no traceback unless ``--debug``), 2 usage error.

Adding a subcommand: write ``_add_<name>_parser(sub)`` (it creates its parser with
``sub.add_parser`` and sets ``func=``) and append it to :data:`SUBCOMMANDS`. Each lives in its
own small function so that subcommands added in parallel do not touch each other.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from ._methods._base import DEFAULT_METHOD
from ._signatures import DEFAULT_SIGNATURE
from ._validation import Scale
from ._version import __version__
from .errors import IfnscoreError, InputError

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

_FORMATTER = argparse.RawDescriptionHelpFormatter
#: What -o writes (each optionally compressed: .gz, .bz2, .xz, .zst).
OUTPUT_SUFFIXES = (".csv", ".tsv", ".json", ".parquet", ".xlsx")


# ------------------------------------------------------------------------------ helpers


def _output_path(value: str) -> str:
    """argparse type for -o: a known table extension, optionally compressed (else exit 2)."""
    from ._io._frame import table_kind
    from ._io._open import strip_compression

    try:
        table_kind(value, arg="-o")
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if Path(strip_compression(value)[0]).suffix.lower() not in OUTPUT_SUFFIXES:
        raise argparse.ArgumentTypeError(
            f"{value!r}: unknown output extension; use one of {', '.join(OUTPUT_SUFFIXES)} "
            "(optionally followed by .gz, .bz2, .xz or .zst)"
        )
    return value


def _upper_limit(value: str) -> float | str:
    """argparse type for --upper-limit: a number, 'published' or 'controls' (else exit 2)."""
    if value in ("published", "controls"):
        return value
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a number, 'published' or 'controls'"
        ) from None


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 1")
    return n


def _reference_path(value: str) -> str:
    if not value.lower().endswith(".json"):
        raise argparse.ArgumentTypeError(
            f"{value!r}: the reference is written as JSON; name it *.json"
        )
    return value


@contextmanager
def _progress(
    args: argparse.Namespace, desc: str, total: int | None, unit: str
) -> Iterator[Callable[[int], None] | None]:
    """A tqdm bar on stderr when it is a terminal and not --quiet (tqdm is optional: extra
    ``ifnscore[cli]``); otherwise nothing."""
    if getattr(args, "quiet", False) or not sys.stderr.isatty():
        yield None
        return
    try:
        from tqdm import tqdm
    except ImportError:
        yield None
        return
    bar = tqdm(
        total=total, desc=desc, unit=unit, unit_scale=unit == "B", file=sys.stderr, leave=False
    )
    try:
        yield bar.update
    finally:
        bar.close()


def _add_input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reading the input (see `ifnscore.read`)")
    from ._io import FORMATS

    g.add_argument(
        "--format",
        default="auto",
        choices=FORMATS,
        metavar="FORMAT",
        help="input format (default: detected from the content): " + ", ".join(FORMATS[1:]),
    )
    g.add_argument(
        "--rows",
        default="auto",
        choices=["auto", "genes", "samples"],
        help="what the rows of a table are",
    )
    g.add_argument(
        "--sep", help="column separator of a delimited file (default: from the extension/header)"
    )
    g.add_argument("--sheet", help="Excel sheet name or 0-based number (default: the first)")
    g.add_argument(
        "--backed", action="store_true", help="h5ad: keep X on disk and score it in row blocks"
    )
    g.add_argument(
        "--quantity",
        choices=["NumReads", "TPM", "est_counts", "tpm"],
        help="Salmon: NumReads (default) or TPM; kallisto: est_counts (default) or tpm",
    )
    g.add_argument(
        "--strand",
        choices=["unstranded", "forward", "reverse"],
        help="STAR ReadsPerGene.out.tab: which count column (default: inferred from the columns' totals, "
        "and reported; refused when unclear)",
    )
    g.add_argument(
        "--tx2gene", help="Salmon: a transcript,gene table to sum transcripts into genes"
    )
    g.add_argument(
        "--reference-genes",
        nargs="+",
        metavar="GENE",
        help="qPCR: reference genes (default HPRT1 18S)",
    )
    g.add_argument(
        "--calibrator", nargs="+", metavar="SAMPLE", help="qPCR: calibrator sample(s) for ddCt"
    )
    g.add_argument(
        "--max-ct",
        type=float,
        help="qPCR: the run's last cycle (default 40); a Ct above it is an error; a target with most "
        "replicates undetermined is censored here (a bound, shown as '<')",
    )
    g.add_argument(
        "--max-sd", type=float, help="qPCR: flag replicates whose Ct SD exceeds this (default 0.5)"
    )
    g.add_argument(
        "--efficiency",
        nargs="+",
        metavar="TARGET=E",
        help="qPCR: amplification factors per target (2.0 = 100%%; Pfaffl 2001), e.g. IFI27=1.95 "
        "HPRT1=2.0, or 'standard_curve' to estimate them from the plate's standards",
    )
    g.add_argument(
        "--combine-plates",
        choices=["keep", "mean"],
        help="qPCR: a sample on several plates: keep each run (sample@plate, default) or average",
    )
    g.add_argument(
        "--normalize-to", help="NanoString: 'batch' (nSolver, default) or a fixed number"
    )
    g.add_argument(
        "--background",
        choices=["subtract_mean", "threshold"],
        help="NanoString: background correction by the negative controls (default none): subtract "
        "their mean, or raise counts below their mean + 2 SD to it (as nSolver offers)",
    )


SCALES = ["auto", "counts", "linear", "log2", "log1p", "rq"]


def _add_scoring_options(
    p: argparse.ArgumentParser, *, method_default: str | None, nan: bool = True
) -> None:
    """The options of ifnscore.score / ifnscore.calibrate, declared once for every subcommand."""
    g = p.add_argument_group("scoring (see `ifnscore.score`)")
    g.add_argument(
        "--signature",
        nargs="+",
        metavar="NAME",
        help="signature name(s) or a .gmt file (default: the reference's, else rice6)",
    )
    g.add_argument(
        "--method",
        default=method_default,
        help="scoring method (default: "
        + (method_default or "the reference's, else fc_sum")
        + "); see `ifnscore.list_methods()`",
    )
    g.add_argument(
        "--scale",
        default="auto",
        choices=SCALES,
        help="expression scale (default: detected, or what the format implies)",
    )
    g.add_argument("--layer", help="AnnData (.h5ad): score this layer instead of X")
    g.add_argument("--use-raw", action="store_true", help="AnnData (.h5ad): score adata.raw")
    g.add_argument(
        "--min-genes",
        type=_positive_int,
        help="fewest signature genes that must be found (default: half, rounded up)",
    )
    g.add_argument(
        "--id-type",
        default="auto",
        choices=["auto", "symbol", "ensembl", "entrez"],
        help="what the data's gene names are (default: each by its form)",
    )
    if nan:  # calibrate refuses controls with missing values: no --nan there
        g.add_argument(
            "--nan",
            default="raise",
            choices=["raise", "omit"],
            help="missing values in signature genes: refuse (default) or leave out per sample",
        )
    g.add_argument(
        "--duplicates",
        default="sum",
        choices=["sum", "error"],
        help="several distinct identifiers of one gene (e.g. two Ensembl IDs): sum (default) or refuse",
    )
    g.add_argument(
        "--threads",
        type=_positive_int,
        help="threads for in-memory scans (default: IFNSCORE_NUM_THREADS, else all cores, at most 8)",
    )
    if nan:  # score and report classify: the borderline zone of `call`
        g.add_argument(
            "--repeatability-cv",
            type=float,
            metavar="CV",
            help="the assay's coefficient of variation near the limit (a fraction, e.g. 0.15): "
            "widens the borderline zone of `call` to limit +/- 1.645 CV limit",
        )


def _scoring_kwargs(args: argparse.Namespace, *, nan: bool = True) -> dict[str, Any]:
    kw = {
        "layer": args.layer,
        "use_raw": args.use_raw,
        "min_genes": args.min_genes,
        "id_type": args.id_type,
        "duplicates": args.duplicates,
    }
    if nan:
        kw["nan"] = args.nan
        kw["repeatability_cv"] = getattr(args, "repeatability_cv", None)
    return kw


def _add_control_options(p: argparse.ArgumentParser, *, group: Any = None) -> None:
    """--control-samples / --control-samples-from (mutually exclusive: in ``group`` when given,
    with the subcommand's other ways of naming the reference); --where."""
    g = group if group is not None else p.add_mutually_exclusive_group()
    g.add_argument(
        "--control-samples",
        nargs="+",
        metavar="SAMPLE",
        help="the healthy controls among the input's samples",
    )
    g.add_argument(
        "--control-samples-from",
        metavar="META",
        help="a sample table (CSV/TSV/XLSX, sample names first) that says which samples are controls; "
        "with --where",
    )
    p.add_argument(
        "--where",
        metavar="COLUMN=VALUE",
        help="with --control-samples-from: the controls are the rows whose COLUMN equals VALUE "
        "(e.g. group=control)",
    )


def _control_names(args: argparse.Namespace, samples: Sequence[str]) -> list[str] | None:
    """The control sample names from --control-samples or --control-samples-from/--where."""
    from ._io._frame import read_frame

    given = getattr(args, "control_samples", None)
    source = getattr(args, "control_samples_from", None)
    where = getattr(args, "where", None)
    if given and source:
        raise InputError("Give --control-samples or --control-samples-from, not both.")
    if where and not source:
        raise InputError(
            "--where needs --control-samples-from META (the table it selects rows of)."
        )
    if source:
        if not where or "=" not in where:
            raise InputError(
                "--control-samples-from needs --where COLUMN=VALUE, e.g. --where group=control."
            )
        column, value = (x.strip() for x in where.split("=", 1))
        meta = read_frame(source, arg="--control-samples-from")
        if column not in meta.columns:
            raise InputError(
                f"--where {where!r}: {source} has no column {column!r} (it has {list(meta.columns)})."
            )
        given = [str(i) for i, v in meta[column].items() if str(v).strip() == value]
        if not given:
            values = sorted({str(v) for v in meta[column]})[:10]
            raise InputError(
                f"--where {where!r}: no row of {source} has {column} = {value!r} (values: {values})."
            )
    if not given:
        return None
    known = set(samples)
    missing = [s for s in given if s not in known]
    if missing:
        raise InputError(
            f"control sample(s) {missing[:8]} are not samples of the input (first samples: {list(samples)[:5]})."
        )
    return list(given)


def _reader_options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if args.sep:
        opts["sep"] = "\t" if args.sep in ("\\t", "tab") else args.sep
    if args.sheet is not None:
        opts["sheet"] = int(args.sheet) if args.sheet.isdigit() else args.sheet
    if args.backed:
        opts["backed"] = True
    for name in (
        "quantity",
        "tx2gene",
        "max_ct",
        "max_sd",
        "combine_plates",
        "strand",
        "background",
    ):
        if getattr(args, name) is not None:
            opts[name] = getattr(args, name)
    if args.efficiency:
        opts["efficiency"] = _efficiency_arg(args.efficiency)
    if args.reference_genes:
        opts["reference_genes"] = args.reference_genes
    if args.calibrator:
        opts["calibrator"] = args.calibrator[0] if len(args.calibrator) == 1 else args.calibrator
    if args.normalize_to is not None:
        try:
            opts["normalize_to"] = float(args.normalize_to)
        except ValueError:
            opts["normalize_to"] = args.normalize_to
    return opts


def _efficiency_arg(values: Sequence[str]) -> str | dict[str, float]:
    if list(values) == ["standard_curve"]:
        return "standard_curve"
    out: dict[str, float] = {}
    for v in values:
        target, sep, number = v.partition("=")
        try:
            if not sep or not target:
                raise ValueError
            out[target.strip()] = float(number)
        except ValueError:
            raise InputError(
                f"--efficiency {v!r}: give TARGET=E (e.g. IFI27=1.95), or 'standard_curve' alone."
            ) from None
    return out


def _read_inputs(args: argparse.Namespace, paths: Sequence[str], signature: Any) -> Any:
    """Read INPUT(s) with the shared readers; a progress bar for large or many files."""
    from ._io import _read

    options = _reader_options(args)
    many = len(paths) > 1 or (len(paths) == 1 and Path(paths[0]).is_dir())
    size = None
    if not many and Path(paths[0]).is_file():
        from ._io._open import compression_of

        # the reader reports decompressed bytes: a total is known for plain files only
        size = os.path.getsize(paths[0]) if compression_of(paths[0]) is None else None
    unit = "file" if many else "B"
    with _progress(args, f"reading {Path(paths[0]).name}", size, unit) as bar:
        return _read(
            list(paths) if many else paths[0],
            format=args.format,
            rows=args.rows,
            signature=signature,
            options=options,
            progress=bar,
        )


def _refuse_overwrite(args: argparse.Namespace, inputs: Sequence[str]) -> None:
    """-o must not name an input (file, or a file inside an input folder)."""
    out = getattr(args, "output", None)
    if not out:
        return
    target = Path(out).resolve()
    for value in inputs:
        if not value:
            continue
        p = Path(value).resolve()
        if p == target or (p.is_dir() and p in target.parents):
            raise InputError(
                f"-o {out} would overwrite the input {value}; write the output to another path."
            )


def _scale(args: argparse.Namespace, adata: Any) -> Scale:
    """--scale, or the scale the reader knows (NumReads -> counts, RQ -> linear), else auto."""
    if args.scale != "auto":
        return cast(Scale, args.scale)
    return cast(Scale, str(adata.uns.get("ifnscore_read", {}).get("scale", "auto")))


def _signature_arg(values: Sequence[str] | None) -> Any:
    if not values:
        return None
    return values[0] if len(values) == 1 else list(values)


def _emit(table: Any, output: str | None) -> None:
    from ._io._frame import write_frame

    if output:
        write_frame(table, output, arg="-o")
    else:
        table.to_csv(sys.stdout)


def _info(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text, file=sys.stderr)


# ------------------------------------------------------------------------------ score

EPILOG_SCORE = """examples:
  ifnscore score counts.tsv.gz --controls healthy.tsv.gz -o scores.csv
  ifnscore score counts.tsv --control-samples HC1 HC2 HC3 HC4 HC5
  ifnscore score patients.csv --reference ref.json --signature rice6
  ifnscore score cts.xlsx --format qpcr --reference ref_qpcr.json --method fc_median
  ifnscore score run1/*.RCC --reference ref_nanostring.json -o scores.json
  ifnscore score adata.h5ad --backed --method mean_log --upper-limit 3.1
  ifnscore score all.tsv --control-samples-from meta.csv --where group=control --samples meta.csv
  ifnscore score patients.tsv --reference ref.json --upper-limit controls -o scores.csv.gz

When the rows of a delimited file are genes, only the signature genes' rows are kept (one
streaming pass; library sizes come from the same pass). The scores go to stdout as CSV
unless -o is given (.csv, .tsv, .json, .parquet or .xlsx, optionally .gz, .bz2, .xz or
.zst; written atomically).
"""


def _signature_hint(sig: Any, ref: Any) -> Any:
    """The genes the reader should keep: the signature(s) asked for, else the reference's."""
    if sig is not None:
        return sig
    if ref is not None:
        return {n: list(s.genes) + list(s.down) for n, s in ref.signatures.items()}
    return DEFAULT_SIGNATURE


def _check_request(args: argparse.Namespace) -> Any:
    """Validate what can be validated before any data is read: the method, the signature(s),
    the reference file, the thread count. Returns the loaded reference (or None)."""
    from ._methods import get_method
    from ._reference import Reference
    from ._signatures import as_signatures

    if getattr(args, "threads", None) is not None:
        os.environ["IFNSCORE_NUM_THREADS"] = str(args.threads)
    else:
        from ._gather import n_threads

        n_threads()  # a bad IFNSCORE_NUM_THREADS is an error now, not after the read
    if args.method is not None:
        get_method(args.method)
    sig = _signature_arg(args.signature)
    if sig is not None:
        as_signatures(sig)
    ref_path = getattr(args, "reference", None)
    return Reference.load(ref_path) if ref_path else None


def _cmd_score(args: argparse.Namespace) -> int:
    from ._io._frame import read_frame
    from ._reference import calibrate
    from ._results import flat
    from ._score import score_table

    _refuse_overwrite(args, [*args.input, args.samples or "", args.reference or ""])
    if args.multiqc:
        for value in args.input:
            if Path(value).resolve() == Path(args.multiqc).resolve():
                raise InputError(
                    f"--multiqc {args.multiqc} is an input folder; write MultiQC content elsewhere."
                )
    ref = _check_request(args)
    sig = _signature_arg(args.signature)
    meta = read_frame(args.samples, arg="--samples") if args.samples else None
    if args.groups and meta is None:
        raise InputError("--groups needs --samples FILE (sample metadata with that column).")
    hint = _signature_hint(sig, ref)
    adata = _read_inputs(args, args.input, hint)
    _report_read(args, adata)
    scale = _scale(args, adata)
    kw = _scoring_kwargs(args)
    names = _control_names(args, [str(s) for s in adata.obs_names])
    if args.controls or names is not None:
        if ref is not None:
            raise InputError(
                "Give --reference or healthy controls (--controls, --control-samples...), not both."
            )
        controls = _read_inputs(args, args.controls, hint) if args.controls else adata[names]
        ref = calibrate(
            controls,
            signature=sig,
            method=args.method or DEFAULT_METHOD,
            scale=_scale(args, controls),
            **_scoring_kwargs(args, nan=False),
        )
        _info(args, f"calibrated on {ref.n_controls} controls: {ref!r}")
    groups = None
    if args.groups:
        groups = _metadata_column(meta, args.groups, [str(s) for s in adata.obs_names], "--groups")
    table = score_table(
        adata,
        sig,
        method=args.method,
        reference=ref,
        upper_limit=args.upper_limit,
        groups=groups,
        scale=scale,
        **kw,
    )
    out = flat(table)
    if meta is not None:
        out = _with_metadata(out, meta, args.samples)
    _emit(out, args.output)
    if args.output:
        _info(args, f"wrote {len(out)} rows to {args.output}")
    if args.multiqc:
        from ._multiqc import write_multiqc

        for path in write_multiqc(table, args.multiqc):  # the table keeps the limits in attrs
            _info(args, f"wrote {path}")
    return 0


def _metadata_column(meta: Any, column: str, samples: Sequence[str], flag: str) -> Any:
    if column not in meta.columns:
        raise InputError(
            f"{flag} {column!r} is not a column of --samples (it has {list(meta.columns)})."
        )
    missing = [s for s in samples if s not in meta.index]
    if missing:
        raise InputError(
            f"--samples has no row for sample(s) {missing[:5]}; {flag} needs one for every sample."
        )
    return meta.loc[list(samples), column]


def _with_metadata(out: Any, meta: Any, source: str) -> Any:
    """The score table with the --samples columns after the scores (no column overwritten)."""
    clash = [c for c in meta.columns if c in out.columns]
    if clash:
        raise InputError(
            f"--samples {source} has column(s) {clash} that the score table already has; rename them."
        )
    missing = [s for s in out.index if s not in meta.index]
    if missing:
        print(
            f"ifnscore: note: --samples has no row for {len(missing)} scored sample(s) (first: {missing[:3]}); "
            "their metadata cells are empty.",
            file=sys.stderr,
        )
    return out.join(meta, how="left")


def _report_read(args: argparse.Namespace, adata: Any) -> None:
    """Print what the reader left out (qPCR control wells, skipped files...), when it says."""
    info = adata.uns.get("ifnscore_read", {}) if hasattr(adata, "uns") else {}
    if not isinstance(info, dict):
        return
    excluded = info.get("excluded_wells")
    if isinstance(excluded, dict) and excluded:
        parts = ", ".join(f"{n} {why}" for why, n in excluded.items())
        _info(args, f"ifnscore {args.command}: note: wells left out: {parts}")
    for key in ("undetermined_ignored", "censored", "skipped"):
        value = info.get(key)
        if value is not None and len(value):
            shown = value if isinstance(value, str) else "; ".join(map(str, list(value)[:10]))
            _info(args, f"ifnscore {args.command}: note: {key.replace('_', ' ')}: {shown}")
    for line in info.get("notes", []):
        _info(args, f"ifnscore {args.command}: note: {line}")


def _add_score_parser(sub: Any) -> None:
    p = sub.add_parser(
        "score",
        help="score expression files against healthy controls or a saved reference",
        description="Score every sample of INPUT for one or more interferon signatures.",
        epilog=EPILOG_SCORE,
        formatter_class=_FORMATTER,
    )
    p.add_argument("input", nargs="+", metavar="INPUT", help="expression file(s) or folder")
    ref = p.add_mutually_exclusive_group()
    ref.add_argument(
        "--reference", metavar="REF.json", help="a reference saved by `ifnscore calibrate`"
    )
    ref.add_argument(
        "--controls",
        nargs="+",
        metavar="FILE",
        help="healthy-control expression file(s) to calibrate on",
    )
    _add_control_options(p, group=ref)
    p.add_argument(
        "--upper-limit",
        type=_upper_limit,
        help="classify with this limit: a number, 'published' or 'controls' (the reference's)",
    )
    p.add_argument(
        "--samples",
        metavar="META",
        help="sample metadata (CSV/TSV/XLSX, sample names first): its columns are carried into the output",
    )
    p.add_argument(
        "--groups",
        metavar="COLUMN",
        help="classify each sample by its --samples group's partition limit",
    )
    p.add_argument(
        "-o",
        "--output",
        type=_output_path,
        help="write the scores here (.csv/.tsv/.json/.parquet/.xlsx, optionally .gz/.bz2/.xz/.zst); "
        "default stdout (CSV)",
    )
    p.add_argument(
        "--multiqc",
        metavar="DIR",
        help="also write MultiQC custom content to DIR (ifnscore_mqc.tsv: score, call and QC per "
        "sample; ifnscore_mqc.yaml: the scores with the upper limit as a line)",
    )
    _add_scoring_options(p, method_default=None)
    _add_input_options(p)
    p.set_defaults(func=_cmd_score)


# ------------------------------------------------------------------------------ calibrate

EPILOG_CALIBRATE = """examples:
  ifnscore calibrate healthy.tsv.gz -o ref.json
  ifnscore calibrate healthy_cts.csv --format qpcr --method fc_median --signature rice6 -o ref.json
  ifnscore calibrate controls/ --rule p97.5 -o ref.json     # a folder of count files
  ifnscore calibrate healthy.tsv --rule log:ep28 --samples meta.csv --groups age_band -o ref.json

The reference (per-gene control medians, the controls' scores and the upper limit) is
written atomically as JSON; its summary is printed.
"""


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from ._reference import calibrate

    _refuse_overwrite(args, [*args.controls, args.samples or "", args.control_samples_from or ""])
    _check_request(args)
    sig = _signature_arg(args.signature)
    data = _read_inputs(args, args.controls, sig if sig is not None else DEFAULT_SIGNATURE)
    _report_read(args, data)
    names = _control_names(args, [str(s) for s in data.obs_names])
    controls = data if names is None else data[names]
    groups = _groups_arg(args, controls)
    extra: dict[str, Any] = {}
    if args.exclude_genes:
        extra["exclude_genes"] = list(args.exclude_genes)
    ref = calibrate(
        controls,
        signature=sig,
        method=args.method,
        scale=_scale(args, controls),
        upper_limit=args.upper_limit,
        rule=args.rule,
        groups=groups,
        exclude_outliers=args.exclude_outliers,
        strict=args.strict,
        **_scoring_kwargs(args, nan=False),
        **extra,
    )
    ref.save(args.output)
    if not args.quiet:
        with _pd_display():
            print(ref.summary().round(4).T.to_string())
            if groups is not None:
                print()
                print(ref.summary(partitions=True).round(4).to_string())
        print(f"wrote {args.output}")
    return 0


@contextmanager
def _pd_display() -> Iterator[None]:
    import pandas as pd

    with pd.option_context("display.width", 120, "display.max_colwidth", 80):
        yield


def _groups_arg(args: argparse.Namespace, controls: Any) -> Any:
    """--groups COLUMN of --samples FILE, aligned with the controls (None without --groups)."""
    if args.groups is None:
        if args.samples is not None:
            raise InputError("--samples is only used with --groups; add --groups COLUMN.")
        return None
    if args.samples is None:
        raise InputError("--groups needs --samples FILE (sample metadata with that column).")
    from ._io._frame import read_frame

    meta = read_frame(args.samples, arg="--samples")
    if args.groups not in meta.columns:
        raise InputError(
            f"--groups {args.groups!r} is not a column of {args.samples} (has {list(meta.columns)})."
        )
    names = [str(s) for s in controls.obs_names]
    meta.index = meta.index.astype(str)
    missing = [s for s in names if s not in meta.index]
    if missing:
        raise InputError(f"{args.samples} has no row for control samples {missing[:5]}.")
    return meta.loc[names, args.groups]


def _add_calibrate_parser(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="learn a healthy-control reference and save it as JSON",
        description="Calibrate a reference on healthy controls (see `ifnscore.calibrate`).",
        epilog=EPILOG_CALIBRATE,
        formatter_class=_FORMATTER,
    )
    p.add_argument(
        "controls",
        nargs="+",
        metavar="CONTROLS",
        help="healthy-control expression file(s) or folder",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        type=_reference_path,
        help="where to write the reference (.json)",
    )
    p.add_argument(
        "--rule",
        default="ep28",
        help="controls' limit rule (default ep28: CLSI EP28-A3c's choice by the number of controls): "
        "mean+Ksd (e.g. mean+2sd, Rice 2013's convention), pNN (e.g. p97.5, EP28 ranks), robust "
        "(Horn & Pesce), ep28; each optionally on the log or Box-Cox scale: log:ep28, boxcox:mean+2sd",
    )
    p.add_argument(
        "--exclude-genes",
        nargs="+",
        metavar="GENE",
        help="leave these signature genes out (e.g. a gene whose control median is 0); recorded in "
        "the reference and re-applied when scoring with it",
    )
    p.add_argument("--samples", metavar="FILE", help="sample metadata (CSV/TSV, sample IDs first)")
    p.add_argument(
        "--groups", metavar="COLUMN", help="partition the limit by this --samples column"
    )
    p.add_argument(
        "--exclude-outliers",
        action="store_true",
        help="leave out the controls flagged as outliers (Tukey/Dixon); they are always reported",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse fewer controls than the rule needs, instead of a warning",
    )
    p.add_argument(
        "--upper-limit",
        type=_upper_limit,
        help="'published', 'controls' or a number (default: published when available)",
    )
    _add_control_options(p)
    _add_scoring_options(p, method_default=DEFAULT_METHOD, nan=False)
    _add_input_options(p)
    p.set_defaults(func=_cmd_calibrate)


# ------------------------------------------------------------------------------ demo

EPILOG_DEMO = """examples:
  ifnscore demo                       calibrate on the bundled controls, score everyone
  ifnscore demo -o scores.csv         ... and write the table to scores.csv
"""


def _cmd_demo(args: argparse.Namespace) -> int:
    import pandas as pd

    from . import calibrate, datasets, score
    from ._io._frame import write_frame

    counts, samples = datasets.load_example(as_frame=True)
    controls = counts[samples["group"] == "control"]
    ref = calibrate(controls, signature=args.signature, method=args.method)
    res = cast(pd.DataFrame, score(counts, reference=ref))
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
    path = write_frame(table, args.output, arg="-o")
    print(f"\nwrote {len(table)} rows to {path}", file=out)
    return 0


def _add_demo_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="score the bundled example cohort (what `make demo` runs)",
        description="Calibrate on the bundled healthy controls and score the whole example cohort.",
        epilog=EPILOG_DEMO,
        formatter_class=_FORMATTER,
    )
    p.add_argument(
        "-o",
        "--output",
        default="ifnscore_demo_scores.csv",
        type=_output_path,
        help="where to write the scores (default: %(default)s)",
    )
    p.add_argument(
        "--signature", default=DEFAULT_SIGNATURE, help="signature name (default: %(default)s)"
    )
    p.add_argument("--method", default=DEFAULT_METHOD, help="scoring method (default: %(default)s)")
    p.set_defaults(func=_cmd_demo)


# ------------------------------------------------------------------------------ signatures


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


def _add_signatures_parser(sub: Any) -> None:
    p = sub.add_parser(
        "signatures",
        help="list the published signatures, or show one with its provenance",
        description="List the published signatures, or show one with its genes, formula, threshold and citation.",
        epilog="examples:\n  ifnscore signatures\n  ifnscore signatures rice6\n",
        formatter_class=_FORMATTER,
    )
    p.add_argument("name", nargs="?", help="a signature name, e.g. rice6")
    p.set_defaults(func=_cmd_signatures)


def _cmd_report(args: argparse.Namespace) -> int:
    """``ifnscore report``: read INPUT through the same readers as ``ifnscore score``."""
    from ._io._frame import read_frame
    from ._reference import calibrate
    from .datasets import example_files, load_example
    from .report import report

    inputs = list(args.input or [])
    _refuse_overwrite(
        args, [*inputs, args.samples or "", args.reference or "", args.treatments or ""]
    )
    ref = _check_request(args)
    sig = _signature_arg(args.signature)
    clinical = args.clinical
    control_group = args.control_group
    if args.example:
        if inputs:
            raise InputError("Give either INPUT or --example, not both.")
        data, meta = load_example(as_frame=True)
        treatments: Any = args.treatments or example_files()["treatments"]
        note = "the bundled simulated example cohort (ifnscore.datasets.load_example)"
        clinical = clinical or ["cmas"]
        control_group = control_group or "control"
    else:
        if not inputs:
            raise InputError("Give an expression file or folder INPUT (or --example).")
        data = _read_inputs(args, inputs, _signature_hint(sig, ref))
        _report_read(args, data)
        how = data.uns.get("ifnscore_read", {}).get("format", "auto")
        note = f"{', '.join(inputs)} (read with ifnscore.read, format {how})"
        meta = read_frame(args.samples, arg="--samples") if args.samples else None
        treatments = args.treatments
        if meta is not None:
            note += f"; sample metadata {args.samples}"
    names = [str(s) for s in (data.obs_names if hasattr(data, "obs_names") else data.index)]
    scale = _scale(args, data) if hasattr(data, "uns") else args.scale
    kw = _scoring_kwargs(args, nan=False)
    kw.pop("min_genes")
    kw.pop("duplicates")
    chosen = _control_names(args, names)
    if ref is not None:
        note += f"; reference {args.reference}"
    elif chosen is not None or control_group:
        if chosen is None:
            if meta is None:
                raise InputError(
                    "--control-group needs --samples (metadata with the group column)."
                )
            if args.group_column not in meta.columns:
                raise InputError(
                    f"--samples has no column {args.group_column!r} for --control-group; it has "
                    f"{list(meta.columns)}. Pass --group-column."
                )
            groups = meta[args.group_column].reindex(names)
            chosen = [n for n, g in zip(names, groups, strict=True) if str(g) == control_group]
            what = f"group {control_group!r}"
        else:
            what = "--control-samples"
        if len(chosen) < 2:
            raise InputError(
                f"{what}: {len(chosen)} samples of the input are controls; at least 2 are needed."
            )
        controls = data[chosen] if hasattr(data, "obs_names") else data.loc[chosen]
        ref = calibrate(
            controls,
            sig if sig is not None else DEFAULT_SIGNATURE,
            method=args.method or DEFAULT_METHOD,
            scale=scale,
            **kw,
        )
        note += f"; reference calibrated on the {len(chosen)} samples of {what}"
    else:
        raise InputError(
            "Give --reference REF.json, --control-group NAME or --control-samples S1 S2 ... (healthy controls)."
        )
    pick = sig if isinstance(sig, str) and sig in ref.signatures else None
    report(
        data,
        ref,
        samples=meta,
        treatments=treatments,
        group=args.group_column,
        patient=args.patient_column,
        time=args.time_column,
        clinical=clinical,
        signature=pick,
        scale=scale,
        title=args.title,
        input_note=note,
        output=args.output,
        repeatability_cv=args.repeatability_cv,
        **kw,
    )
    print(f"wrote {args.output}", file=sys.stdout)
    return 0


def _add_report_parser(sub: argparse._SubParsersAction) -> None:
    """``ifnscore report``: a self-contained HTML report (drawn by ifnscore.report)."""
    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report: cohort, reference, followed patients, samples",
        description="Score INPUT against healthy controls and write one HTML file (figures "
        "embedded, opens offline). INPUT is read exactly as by `ifnscore score` (files, folders of "
        "count or RCC files, qPCR exports, compressed tables). Figures need matplotlib: pip install "
        "'ifnscore[plot]'.",
        epilog="examples:\n  ifnscore report --example -o report.html\n"
        "  ifnscore report counts.csv --samples samples.csv --control-group control -o report.html\n"
        "  ifnscore report rcc_folder/ --reference ref.json -o report.html\n"
        "  ifnscore report counts.tsv --samples samples.csv --treatments treatments.csv "
        "--reference ref.json --clinical cmas -o report.html\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", nargs="*", metavar="INPUT", help="expression file(s) or folder")
    p.add_argument("--example", action="store_true", help="report on the bundled example cohort")
    p.add_argument("-o", "--output", default="ifnscore_report.html", help="HTML file (%(default)s)")
    p.add_argument("--samples", help="sample metadata (CSV/TSV/XLSX; first column: sample names)")
    p.add_argument("--treatments", help="treatment periods table: patient, drug, start, stop")
    ref = p.add_mutually_exclusive_group()
    ref.add_argument("--reference", help="a reference saved by `ifnscore calibrate`")
    ref.add_argument("--control-group", help="calibrate on the samples of this --samples group")
    _add_control_options(p, group=ref)
    p.add_argument("--group-column", default="group", help="metadata group column (%(default)s)")
    p.add_argument("--patient-column", default="patient", help="patient column (%(default)s)")
    p.add_argument("--time-column", default="day", help="visit time column (%(default)s)")
    p.add_argument("--clinical", nargs="*", help="clinical measure columns, e.g. cmas")
    p.add_argument("--title", default="Interferon signature report", help="report title")
    _add_scoring_options(p, method_default=None, nan=False)
    p.add_argument(
        "--repeatability-cv",
        type=float,
        metavar="CV",
        help="the assay's coefficient of variation near the limit (e.g. 0.15): widens the "
        "borderline zone of `call`, drawn as a band on the figures",
    )
    _add_input_options(p)
    p.set_defaults(func=_cmd_report)


def _add_bench_parser(sub: argparse._SubParsersAction) -> None:
    """``ifnscore bench``: throughput and peak memory on a synthetic cohort (``ifnscore._bench``)."""
    from ._bench import configure_parser

    configure_parser(
        sub.add_parser(
            "bench",
            help="time scoring on a synthetic cohort of a given size (to size a job)",
            description="Simulate a sparse single-cell count matrix, score it with the chosen methods, "
            "and print the time, throughput (samples/s), peak extra memory and the ratio to one bare "
            "X @ w over the same matrix.",
            epilog="examples:\n  ifnscore bench\n  ifnscore bench --cells 1000000 --container h5ad "
            "--methods fc_sum\n  ifnscore bench --cells 20000 --methods fc_sum,mean_log "
            "--signatures rice6,ifngs4 -o bench.csv\n",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )


# ------------------------------------------------------------------------------ parser / main

#: One function per subcommand; each adds its parser to the subparsers object it is given.
# ------------------------------------------------------------------------------ verify

EPILOG_VERIFY = """examples:
  ifnscore verify new_healthy.tsv --reference ref.json
  ifnscore verify new_healthy.tsv --reference ref.json --limit 12.49

Scores the new healthy samples against the reference and applies CLSI EP28-A3c's check:
a transferred limit is accepted when no more than 2 of 20 healthy samples fall outside it.
Exit code 0 whether or not the limit is accepted; the verdict is printed.
"""


def _cmd_verify(args: argparse.Namespace) -> int:
    from ._results import one_signature
    from ._score import score_table
    from ._verify import verify_limit

    args.method = None
    ref = _check_request(args)
    sig = ref.one_signature(args.signature)
    data = _read_inputs(args, args.healthy, _signature_hint(None, ref))
    _report_read(args, data)
    table = score_table(data, reference=ref, scale=_scale(args, data), **_scoring_kwargs(args))
    _, fields = one_signature(table, sig, arg="--signature")
    limit = args.limit if args.limit is not None else ref.signatures[sig].upper_limit.value
    v = verify_limit(limit, fields["score"])
    print(
        f"limit {v.limit:.4g} ({sig}, {ref.method}): {v.n_outside} of {v.n} healthy samples at or above it "
        f"(at most {v.max_outside} allowed; p = {v.p_value:.3g}) -> {'ACCEPTED' if v.accepted else 'NOT accepted'}"
    )
    if v.outside:
        print(f"outside: {', '.join(v.outside)}")
    print(v.note)
    return 0


def _add_verify_parser(sub: Any) -> None:
    p = sub.add_parser(
        "verify",
        help="check a transferred upper limit on new healthy samples (CLSI EP28, 20-sample rule)",
        description="Verify an upper limit (the reference's, or --limit) on a lab's own healthy samples.",
        epilog=EPILOG_VERIFY,
        formatter_class=_FORMATTER,
    )
    p.add_argument(
        "healthy", nargs="+", metavar="HEALTHY", help="expression file(s) of new healthy samples"
    )
    p.add_argument("--reference", required=True, help="reference JSON from `ifnscore calibrate`")
    p.add_argument(
        "--limit", type=float, help="limit to verify (default: the reference's upper limit)"
    )
    p.add_argument(
        "--signature", help="which of the reference's signatures (when it holds several)"
    )
    g = p.add_argument_group("scoring (see `ifnscore.score`)")
    g.add_argument(
        "--scale", default="auto", choices=SCALES, help="expression scale (default: detected)"
    )
    g.add_argument("--layer", help="AnnData (.h5ad): score this layer instead of X")
    g.add_argument("--use-raw", action="store_true", help="AnnData (.h5ad): score adata.raw")
    g.add_argument(
        "--min-genes", type=_positive_int, help="fewest signature genes that must be found"
    )
    g.add_argument("--id-type", default="auto", choices=["auto", "symbol", "ensembl", "entrez"])
    g.add_argument("--nan", default="raise", choices=["raise", "omit"])
    g.add_argument("--duplicates", default="sum", choices=["sum", "error"])
    g.add_argument("--threads", type=_positive_int, help="threads for in-memory scans")
    _add_input_options(p)
    p.set_defaults(func=_cmd_verify)


SUBCOMMANDS: list[Callable[[Any], None]] = [
    _add_score_parser,
    _add_calibrate_parser,
    _add_verify_parser,
    _add_signatures_parser,
    _add_demo_parser,
    _add_report_parser,
    _add_bench_parser,
]

EPILOG_MAIN = """examples:
  ifnscore demo
  ifnscore calibrate healthy.tsv.gz -o ref.json
  ifnscore score patients.tsv.gz --reference ref.json -o scores.csv
  ifnscore signatures rice6

exit codes: 0 success, 1 data error, 2 usage error.
"""


class _Versions(argparse.Action):
    """``--version``: ifnscore's version, then Python's and the dependencies' (for bug
    reports and pipeline version capture)."""

    def __init__(
        self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kw: Any
    ) -> None:
        kw.pop("default", None)
        super().__init__(
            option_strings=option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, **kw
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: Any,
        values: Any,
        option_string: Any = None,
    ) -> None:
        from ._versions import format_versions

        sys.stdout.write(format_versions())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback on errors",
    )
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="no progress bar or messages on stderr",
    )
    parser = argparse.ArgumentParser(
        prog="ifnscore",
        description="Type I interferon signature scores for gene-expression data.",
        epilog=EPILOG_MAIN,
        formatter_class=_FORMATTER,
        parents=[common],
    )
    parser.add_argument(
        "--version",
        action=_Versions,
        help="show the versions of ifnscore, Python and its numerical dependencies, and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    real_add = sub.add_parser

    def add_parser(name: str, **kw: Any) -> argparse.ArgumentParser:
        kw.setdefault("parents", [common])
        return real_add(name, **kw)

    sub.add_parser = add_parser  # type: ignore[method-assign]
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def _show_warning(command: str) -> Callable[..., None]:
    def show(
        message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None
    ) -> None:
        text = cli_words(" ".join(str(message).split()))
        print(f"ifnscore {command}: warning: {text}", file=sys.stderr)

    return show


#: Python keywords of the API -> the flags that say the same on the command line.
_FLAGS = {
    "reference": "--reference",
    "upper_limit": "--upper-limit",
    "signature": "--signature",
    "method": "--method",
    "scale": "--scale",
    "rows": "--rows",
    "layer": "--layer",
    "use_raw": "--use-raw",
    "nan": "--nan",
    "min_genes": "--min-genes",
    "duplicates": "--duplicates",
    "id_type": "--id-type",
    "rule": "--rule",
    "strict": "--strict",
    "exclude_outliers": "--exclude-outliers",
    "exclude_genes": "--exclude-genes",
    "groups": "--groups",
    "format": "--format",
    "sep": "--sep",
    "sheet": "--sheet",
    "reference_genes": "--reference-genes",
    "calibrator": "--calibrator",
    "max_ct": "--max-ct",
    "max_sd": "--max-sd",
    "undetermined": "--undetermined",
    "normalize_to": "--normalize-to",
    "quantity": "--quantity",
    "tx2gene": "--tx2gene",
    "backed": "--backed",
}
_PHRASES = (
    (
        re.compile(
            r"pass reference=ifnscore\.calibrate\([^)]*\)(?: \(or Reference\.load\(path\)\))?"
        ),
        "pass --reference REF.json (from `ifnscore calibrate`) or healthy controls (--controls FILE, "
        "--control-samples S1 S2 ...)",
    ),
    (re.compile(r"ifnscore\.calibrate\(([^)]*)\)"), "`ifnscore calibrate`"),
)
_KEYWORD = re.compile(r"(?<![\w.\-])([a-z][a-z_]*)=(?:'([^']*)'|\"([^\"]*)\"|([^\s,;)\]]*))")


def cli_words(message: str) -> str:
    """A library message in the words of the command line: ``scale='log2'`` -> ``--scale log2``."""
    for pattern, text in _PHRASES:
        message = pattern.sub(text, message)

    def flag(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in _FLAGS:
            return m.group(0)
        value = next((g for g in m.groups()[1:] if g is not None), "")
        if value in ("True", "true") and name in (
            "strict",
            "use_raw",
            "backed",
            "exclude_outliers",
        ):
            return _FLAGS[name]
        return f"{_FLAGS[name]} {value}".rstrip()

    return _KEYWORD.sub(flag, message)


#: Optional imports -> the extra that installs them.
_EXTRAS = {
    "openpyxl": "io",
    "pyarrow": "io",
    "zstandard": "io",
    "python_calamine": "io",
    "tqdm": "io",
    "matplotlib": "plot",
    "dask": "dask",
    "distributed": "dask",
    "zarr": "zarr",
    "numba": "fast",
    "h5py": "io",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 data error, 2 usage error, 130
    interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help/--version
        return int(exc.code or 0)
    for flag in ("debug", "quiet"):
        if not hasattr(args, flag):
            setattr(args, flag, False)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning(args.command)
            return int(args.func(args))
    except KeyboardInterrupt:
        print(f"ifnscore {args.command}: interrupted; nothing was written.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `ifnscore score ... | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except ImportError as exc:
        if args.debug:
            raise
        name = (exc.name or "").split(".")[0]
        extra = _EXTRAS.get(name)
        hint = (
            f"pip install 'ifnscore[{extra}]'"
            if extra
            else f"pip install {name or 'the missing package'}"
        )
        print(
            f"ifnscore {args.command}: error: this needs the optional package {name or exc}: {hint}.",
            file=sys.stderr,
        )
        return 1
    except (IfnscoreError, OSError) as exc:
        if args.debug:
            raise
        message = cli_words(" ".join(str(exc).split()))
        print(f"ifnscore {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
