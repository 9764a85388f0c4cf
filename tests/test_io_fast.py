"""The whole-table fast path (polars, pyarrow) reads every table exactly as the pandas path:
same labels, dtype and values bit for bit, the same errors; it falls back when its parser is
missing or cannot read a file as pandas does."""

from __future__ import annotations

import gzip
import sys

import numpy as np
import pytest
from _iowriters import EXT, compress
from _real import real
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ifnscore
from ifnscore._io import _delimited
from ifnscore._io._delimited import fast_engine, read_delimited
from ifnscore.errors import InputError

ENGINES = [
    pytest.param(e, marks=pytest.mark.skipif(fast_engine([e]) is None, reason=f"{e} missing"))
    for e in ("polars", "pyarrow")
]
GENES = ["IFI27", "IFI44L", "IFIT1", "ISG15", "RSAD2", "SIGLEC1", "MX1", "OAS1"]


def _write(path_stem, data: bytes, comp: str):
    """``path_stem`` + the compression's extension, holding ``data`` compressed by ``comp``."""
    kind = {"": None, "gz": "gzip", "bz2": "bz2", "xz": "xz", "zst": "zstd"}[comp]
    return compress(path_stem.with_name(path_stem.name + EXT[kind]), data, kind)


def outcome(path, engine, **kw):
    """What reading gives: the table (labels, dtype, layout-free values as bytes) or the error."""
    try:
        a = read_delimited(path, gene_hint=kw.pop("gene_hint", []), engine=engine, **kw)
    except InputError as exc:
        return ("error", type(exc).__name__, str(exc))
    info = dict(a.uns["ifnscore_read"])
    used = info.pop("engine")
    X = np.ascontiguousarray(a.X)
    return (
        "ok",
        list(a.obs_names),
        list(a.var_names),
        X.dtype.str,
        X.shape,
        X.tobytes(),
        info,
    ), used


def same(path, engine, **kw):
    """The fast engine's outcome equals the pandas path's; returns the engine that read it."""
    want = outcome(path, None, **kw)
    got = outcome(path, engine, **kw)
    if want[0] == "error":
        assert got == want
        return None
    assert want[1] == "pandas"
    assert got[0] == want[0]
    return got[1]


# ----------------------------------------------------------------------------- property

LABEL_WORDS = [
    "NA",
    "nan",
    "NaN",
    "NULL",
    "None",
    "N/A",
    "null",
    "007",
    "1e3",
    "-1",
    "TRUE",
    "#N/A",
]
labels = st.one_of(
    st.sampled_from(LABEL_WORDS + GENES),
    st.text(alphabet="ABCxyz019_-. ", min_size=1, max_size=6).filter(lambda s: s.strip()),
)


@st.composite
def cells(draw):
    kind = draw(st.sampled_from(["int", "bigint", "repr", "g", "e", "missing", "quoted", "neg0"]))
    if kind == "int":
        return str(draw(st.integers(0, 10**6)))
    if kind == "bigint":
        return str(draw(st.integers(-(2**64), 2**64)))
    x = draw(st.floats(allow_nan=False, allow_infinity=False, width=64))
    if kind == "repr":
        return repr(x)
    if kind == "g":
        return f"{x:.6g}"
    if kind == "e":
        return f"{x:.17e}"
    if kind == "missing":
        return draw(st.sampled_from(["", "NA", "nan", "NaN", "NULL", "N/A", "None"]))
    if kind == "neg0":
        return draw(st.sampled_from(["-0", "-0.0", "+0", "0.0"]))
    return '"' + str(draw(st.integers(0, 999))) + '"'


@st.composite
def tables(draw):
    n_rows = draw(st.integers(1, 5))
    n_cols = draw(st.integers(1, 4))
    row_labels = draw(st.lists(labels, min_size=n_rows, max_size=n_rows, unique=True))
    col_labels = draw(st.lists(labels, min_size=n_cols, max_size=n_cols, unique=True))
    if draw(st.booleans()):  # genes as rows or as columns: orientation from the labels
        row_labels[0] = GENES[0]
    else:
        col_labels[0] = GENES[0]
    body = [[draw(cells()) for _ in range(n_cols)] for _ in range(n_rows)]
    return row_labels, col_labels, body


def _field(s, sep, quote):
    if quote or sep in s or '"' in s:
        return '"' + s.replace('"', '""') + '"'
    return s


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    table=tables(),
    sep=st.sampled_from(["\t", ","]),
    ext=st.sampled_from([".tsv", ".csv", ".txt"]),
    comp=st.sampled_from(["", "gz", "bz2", "xz", "zst"]),
    quote=st.booleans(),
    crlf=st.booleans(),
    rows=st.sampled_from(["auto", "genes", "samples"]),
    engine=st.sampled_from(["polars", "pyarrow"]),
)
def test_fast_path_reads_as_pandas(tmp_path, table, sep, ext, comp, quote, crlf, rows, engine):
    if fast_engine([engine]) is None:
        pytest.skip(f"{engine} missing")
    if ext == ".csv":
        sep = ","
    elif ext == ".tsv":
        sep = "\t"
    row_labels, col_labels, body = table
    eol = "\r\n" if crlf else "\n"
    lines = [sep.join(_field(x, sep, quote) for x in ["gene", *col_labels])]
    for lab, vals in zip(row_labels, body, strict=True):
        lines.append(sep.join([_field(lab, sep, quote), *vals]))
    data = (eol.join(lines) + eol).encode()
    path = _write(tmp_path / f"t{ext}", data, comp)
    same(path, engine, rows=rows)


# ------------------------------------------------------------------ the fast path is used


def _counts(tmp_path, name="c.tsv", n_genes=50, n_samples=7, floats=False):
    rng = np.random.default_rng(3)
    genes = [*GENES, *(f"G{i}" for i in range(n_genes - len(GENES)))]
    X = rng.poisson(20, (n_genes, n_samples)).astype(float)
    if floats:
        X = X * rng.random(X.shape) * 10.0 ** rng.integers(-8, 8, X.shape)
    text = "gene\t" + "\t".join(f"S{j}" for j in range(n_samples)) + "\n"
    for g, row in zip(genes, X, strict=True):
        cells = [repr(float(v)) if floats else str(int(v)) for v in row]
        text += g + "\t" + "\t".join(cells) + "\n"
    return text.encode()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("comp", ["", "gz", "bz2", "xz", "zst"])
@pytest.mark.parametrize("floats", [False, True])
def test_fast_engine_reads_clean_tables(tmp_path, engine, comp, floats):
    path = _write(tmp_path / "c.tsv", _counts(tmp_path, floats=floats), comp)
    assert same(path, engine, rows="auto") == engine


@pytest.mark.parametrize("engine", ENGINES)
def test_samples_as_rows_and_missing_values(tmp_path, engine):
    text = 'id,IFI27,ISG15,MX1\nNA,1,,3.5\nnan,NA,2e-3,4\n"S,3",0.1,0.2,NULL\n'
    path = tmp_path / "s.csv"
    path.write_text(text)
    assert same(path, engine, rows="auto") == engine
    a = read_delimited(path, rows="auto", gene_hint=[], engine=engine)
    assert list(a.obs_names) == ["NA", "nan", "S,3"]
    assert np.isnan(a.X[0, 1])
    assert a.X[1, 1] == 0.002


def test_auto_uses_the_first_installed_engine(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_bytes(_counts(tmp_path))
    a = ifnscore.read(path)
    assert a.uns["ifnscore_read"]["engine"] == fast_engine()


# ------------------------------------------------------------------------- fallbacks


@pytest.mark.parametrize(
    ("missing", "expected"),
    [(("polars",), "pyarrow"), (("pyarrow",), "polars"), (("polars", "pyarrow"), "pandas")],
)
def test_fallback_when_a_parser_is_missing(tmp_path, monkeypatch, missing, expected):
    for name in missing:
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError
    if expected != "pandas" and fast_engine([expected]) is None:
        pytest.skip(f"{expected} missing")
    path = tmp_path / "c.tsv.gz"
    path.write_bytes(gzip.compress(_counts(tmp_path)))
    a = ifnscore.read(path)
    assert a.uns["ifnscore_read"]["engine"] == expected
    monkeypatch.undo()
    b = read_delimited(path, rows="auto", gene_hint=[], engine=None)
    assert np.array_equal(a.X, b.X)
    assert list(a.var_names) == list(b.var_names)


def test_no_fast_engines_configured(tmp_path, monkeypatch):
    monkeypatch.setattr(_delimited, "FAST_ENGINES", ())
    path = tmp_path / "c.tsv"
    path.write_bytes(_counts(tmp_path))
    assert ifnscore.read(path).uns["ifnscore_read"]["engine"] == "pandas"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "text",
    [
        "gene\tS1\tS2\nIFI27\t-0\t2\nISG15\t3\t4\n",  # pandas: integer 0
        "gene\tS1\tS2\nIFI27\tNAN\t2\nISG15\t3\t4\n",  # pandas: text, refused
        "gene\tS1\tS2\nIFI27\tinf\t2\nISG15\t3\t4\n",
        "gene\tS1\tS2\nIFI27\t1e400\t2\nISG15\t3\t4\n",
        "gene\tS1\tS2\nIFI27\t1\t2\n\nISG15\t3\t4\n",  # a blank line
        "gene\tS1\tS2\nIFI27\t1\t2\n   \nISG15\t3\t4\n",
        "gene\tS1\tS2\nIFI27\t5 \t2\nISG15\t 3\t4\n",  # spaces around numbers
        "gene\tS1\tS2\nNA\t1\t2\nISG15\t3\t4\n",  # a gene named NA
        "gene\tS1\tS2\nIFI27\t9223372036854775808\t2\nISG15\t\t4\n",  # pandas: text
        "gene\tS1\tS2\nIFI27\t18446744073709551615\t2\nISG15\t3\t4\n",  # pandas: uint64
        "gene\tS1\tS2\nIFI27\tnan\t2\nISG15\t3\t4\n",  # a missing-value word, quick try fails
        'gene\tS1\tS2\n"IF\nI27"\t1\t2\n"ISG""15"\t3\t4\n',  # quoted line break and quote
    ],
)
def test_cases_the_fast_parser_hands_over(tmp_path, engine, text):
    path = tmp_path / "x.tsv"
    path.write_text(text)
    same(path, engine, rows="genes")


# ----------------------------------------------------------------------------- errors

BAD = {
    "nonnumeric.tsv": b"gene\tS1\tS2\nIFI27\t1\tx7\nISG15\t3\t4\n",
    "dup_gene.tsv": b"gene\tS1\tS2\nIFI27\t1\t2\nIFI27\t3\t4\n",
    "dup_sample.tsv": b"gene\tS1\tS1\nIFI27\t1\t2\nISG15\t3\t4\n",
    "empty_label.tsv": b"gene\tS1\tS2\nIFI27\t1\t2\n\t3\t4\n",
    "empty_sample.csv": b"gene,S1,\nIFI27,1,2\nISG15,3,4\n",
    "short.csv": b"gene,S1,S2\nIFI27,1,2\nISG15,3\n",
    "long.csv": b"gene,S1,S2\nIFI27,1,2\nISG15,3,4,5\n",
    "header_only.tsv": b"gene\tS1\tS2\n",
    "empty.tsv": b"",
    "latin1.tsv": "gene\tS1\nIFI27\t1\nGÈNE\t2\n".encode("latin-1"),
    "bool.tsv": b"gene\tS1\tS2\nIFI27\tTrue\t2\nISG15\tFalse\t4\n",
    "decimal_comma.tsv": b"gene\tS1\tS2\nIFI27\t1,5\t2\nISG15\t3\t4\n",
    "unclear.tsv": b"id\tA\tB\nX\t1\t2\nY\t3\t4\n",
    "truncated.tsv.gz": gzip.compress(b"gene\tS1\tS2\n" + b"IFI27\t1\t2\n" * 500)[:60],
    "not_gz.tsv.gz": b"gene\tS1\tS2\nIFI27\t1\t2\n",
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", sorted(BAD))
def test_same_errors(tmp_path, engine, name):
    path = tmp_path / name
    path.write_bytes(BAD[name])
    want = outcome(path, None, rows="auto")
    assert want[0] == "error", want
    assert str(path) in want[2]
    assert outcome(path, engine, rows="auto") == want


def test_streamed_float_rows_match_the_whole_table(tmp_path):
    """The streaming path (pandas for non-integer blocks) parses floats correctly rounded too."""
    path = tmp_path / "f.tsv"
    path.write_bytes(_counts(tmp_path, floats=True))
    s = ifnscore.read(path, signature="rice6")
    w = ifnscore.read(path)
    exact = {}
    for line in path.read_text().splitlines()[1:]:
        g, *vals = line.split("\t")
        exact[g] = np.array([float(v) for v in vals])
    for g in s.var_names:
        assert np.array_equal(s[:, g].X.ravel(), exact[g])
        assert np.array_equal(w[:, g].X.ravel(), exact[g])


# ----------------------------------------------------------------------------- real files


@pytest.mark.parametrize("engine", ENGINES)
def test_real_fpkm_table(engine):
    path = real("expression/fujiwara_gse120844/GSE120844_FPKM_table-4.txt")
    assert same(path, engine, rows="auto") == engine


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("folder", ["expression/jankowski_hppt", "expression/lee_saec"])
def test_real_count_files_as_tables(engine, folder):
    for path in sorted(real(folder).glob("*.txt"))[:3]:
        assert same(path, engine, rows="genes") == engine
