"""Gene identifiers: the shipped table, matching by every identifier kind, map_genes.

The example cohort's gene universe (ifnscore/datasets/data/genes.tsv) gives every gene's
symbol, Entrez and Ensembl ID, chosen one-to-one in the source, so re-keying the same counts
must give bit-identical scores: the same columns are gathered in the same order.
"""

from __future__ import annotations

import gzip
import io
import sqlite3
import warnings
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ifnscore
from ifnscore._genes import (
    _build,
    detect_id_type,
    gene_likeness,
    load_table,
    match_genes,
    matches_frame,
    table_provenance,
)
from ifnscore._genes._table import AMBIGUOUS, read_table
from ifnscore.errors import GeneMatchError, IfnscoreWarning, InputError, MissingGenesWarning

SIGS = list(ifnscore.list_signatures().index)
METHODS = ["fc_sum", "z_sum", "mean_log"]
KEYINGS = ["symbol", "lower", "ensembl", "ensembl_versioned", "entrez"]


@pytest.fixture(scope="module")
def universe():
    path = ifnscore.datasets.example_files()["counts"].parent / "genes.tsv"
    return pd.read_csv(path, sep="\t", dtype=str).set_index("symbol")


def rekey(counts: pd.DataFrame, universe: pd.DataFrame, how: str) -> pd.DataFrame:
    sym = counts.columns
    if how == "symbol":
        cols = list(sym)
    elif how == "lower":
        cols = list(sym.str.lower())
    elif how == "ensembl":
        cols = list(universe.loc[sym, "ensembl"])
    elif how == "ensembl_versioned":
        # a different version per gene, as GENCODE has them
        cols = [f"{e}.{i % 17 + 1}" for i, e in enumerate(universe.loc[sym, "ensembl"])]
    else:
        cols = list(universe.loc[sym, "entrez"])
    return counts.set_axis(pd.Index(cols, name="gene"), axis=1)


@pytest.fixture(scope="module")
def scores_by_symbol(example):
    counts, samples = example
    ctrl = (samples["group"] == "control").to_numpy()
    out = {}
    for m in METHODS:
        ref = ifnscore.calibrate(counts[ctrl], signature=SIGS, method=m)
        out[m] = ifnscore.score(counts, reference=ref)
    return out


# ------------------------------------------------------------------ the shipped table


def test_table_provenance_and_size():
    prov = table_provenance()
    assert prov["source"]["debian_package"] == "r-bioc-org.hs.eg.db"
    assert prov["source"]["debian_version"] == "3.16.0-1"
    assert prov["database_metadata"]["EGSOURCEDATE"] == "2022-Sep12"
    assert prov["database_metadata"]["TAXID"] == "9606"
    table = load_table()
    assert len(table) == prov["n_genes"] > 60_000
    assert sum(len(e.split("|")) for e in table.ensembl if e) == prov["n_ensembl_ids"]
    assert load_table() is table  # cached


def test_table_holds_the_example_universe(universe):
    table = load_table()
    for sym, row in universe.iterrows():
        (r,) = table.by_entrez.get(row["entrez"])
        assert table.symbol[r] == sym
        assert table.by_ensembl.get(row["ensembl"]) == (r,)


SCHEMA = """
create table genes (_id integer primary key, gene_id varchar(10));
create table gene_info (_id integer, gene_name varchar(255), symbol varchar(80));
create table genetype (_id integer, gene_type varchar(20));
create table ensembl (_id integer, ensembl_id varchar(20));
create table alias (_id integer, alias_symbol varchar(80));
create table metadata (name varchar(80), value varchar(255));
"""


@pytest.mark.parametrize(
    ("ensembl", "alias", "match"),
    [("ENSG00000165949", "P\u00e427", "not ASCII"), ("LRG_1", "P27", "does not start with ENS")],
)
def test_build_refuses_what_the_reader_cannot_index(tmp_path, ensembl, alias, match):
    db = tmp_path / "org.Hs.eg.sqlite"
    con = sqlite3.connect(db)
    con.executescript(SCHEMA + "insert into genes values (1, '3429');")
    con.execute("insert into gene_info values (1, 'x', 'IFI27')")
    con.execute("insert into genetype values (1, 'protein-coding')")
    con.execute("insert into ensembl values (1, ?)", (ensembl,))
    con.execute("insert into alias values (1, ?)", (alias,))
    con.commit()
    con.close()
    with pytest.raises(RuntimeError, match=match):
        _build.read_rows(db)


def test_build_from_a_small_database(tmp_path):
    """The build script's reading and writing, on a database with org.Hs.eg.db's schema."""
    db = tmp_path / "org.Hs.eg.sqlite"
    con = sqlite3.connect(db)
    con.executescript(
        SCHEMA
        + """
        insert into genes values (1, '3429'), (2, '2537'), (3, '5715');
        insert into gene_info values (1, 'interferon alpha inducible protein 27', 'IFI27'),
            (2, 'interferon alpha inducible protein 6', 'IFI6'), (3, 'proteasome 26S subunit', 'PSMD9');
        insert into genetype values (1, 'protein-coding'), (2, 'protein-coding'), (3, 'protein-coding');
        insert into ensembl values (1, 'ENSG00000275214'), (1, 'ENSG00000165949'), (2, 'ENSG00000126709');
        insert into alias values (1, 'IFI27'), (1, 'P27'), (2, 'IFI6'), (2, 'G1P3'), (3, 'PSMD9'), (3, 'p27');
        insert into metadata values ('EGSOURCEDATE', '2022-Sep12');
        """
    )
    con.commit()
    con.close()
    rows, meta = _build.read_rows(db)
    assert meta == {"EGSOURCEDATE": "2022-Sep12"}
    assert rows == [
        ("2537", "IFI6", "protein-coding", "ENSG00000126709", "G1P3"),
        ("3429", "IFI27", "protein-coding", "ENSG00000165949|ENSG00000275214", "P27"),
        ("5715", "PSMD9", "protein-coding", "", "p27"),
    ]
    _build.write(rows, {"n_genes": 3}, tmp_path)
    blob = (tmp_path / _build.TABLE).read_bytes()
    _build.write(rows, {"n_genes": 3}, tmp_path)
    assert (tmp_path / _build.TABLE).read_bytes() == blob  # reproducible bytes
    table = read_table(io.BytesIO(blob))
    assert table.resolve("ENSG00000275214.4").rows == table.by_symbol.get("IFI27")
    assert table.resolve("g1p3").route == "alias"
    assert table.resolve("p27").ambiguous
    assert (
        gzip.decompress(blob).decode().splitlines()[0]
        == "entrez\tsymbol\tgene_type\tensembl\taliases"
    )


def test_table_lookups_equal_plain_dicts():
    """The compact (sorted bytes) indexes give what dicts built from the text with str.split
    give, for every identifier in the table, its lower-case form and a few absent names."""
    path = resources.files("ifnscore").joinpath("data/genes/human_genes.tsv.gz")
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()[1:]
    cells = [line.split("\t") for line in lines]
    table = load_table()
    assert len(table) == len(cells)
    expect: dict[str, dict[str, list[int]]] = {k: {} for k in ("sym", "up", "ent", "ens", "al")}
    for r, (entrez, sym, _gtype, ens, als) in enumerate(cells):
        for kind, keys in (
            ("sym", [sym]),
            ("up", [sym.upper()]),
            ("ent", [entrez]),
            ("ens", [e.upper() for e in ens.split("|") if e]),
            ("al", [a.upper() for a in als.split("|") if a]),
        ):
            for k in keys:
                rows = expect[kind].setdefault(k, [])
                if r not in rows:
                    rows.append(r)

    def known(rows):  # a symbol shared with phenotype-only records names the one real gene
        real = [r for r in rows if cells[r][2] != "unknown"]
        return (real[0],) if len(real) == 1 else tuple(rows)

    maps = {
        "sym": table.by_symbol,
        "up": table.by_upper,
        "ent": table.by_entrez,
        "ens": table.by_ensembl,
        "al": table.by_alias,
    }
    for kind, km in maps.items():
        want = {k: known(v) if kind in ("sym", "up") else tuple(v) for k, v in expect[kind].items()}
        keys = [*want, *(k.lower() for k in list(want)[::5]), "", "NOT-A-GENE", "IFI27\0", "ıfı27"]
        got = km.rows(keys)
        ref = [
            (-1 if k not in want else want[k][0] if len(want[k]) == 1 else AMBIGUOUS) for k in keys
        ]
        np.testing.assert_array_equal(got, ref)
        for k in list(want)[::50] + [k for k, v in want.items() if len(v) > 1]:
            assert km.get(k) == want[k]
        assert km.get("NOT-A-GENE") is None
    for r in range(0, len(cells), 1013):
        entrez, sym, gtype, ens, als = cells[r]
        assert (table.entrez[r], table.symbol[r], table.gene_type[r], table.ensembl[r]) == (
            entrez,
            sym,
            gtype,
            ens,
        )
        items = [x for x in (*ens.split("|"), *als.split("|")) if x]
        assert table.identifiers(r) == [sym, entrez, *items]


@pytest.mark.parametrize(
    "body",
    [b"1\tA1BG\tprotein-coding\t\n", b"1\tA1BG\tprotein-coding\t\t\t\n", "1\tÄ\tx\t\t\n".encode()],
)
def test_corrupt_table_is_refused(body):
    blob = gzip.compress(b"entrez\tsymbol\tgene_type\tensembl\taliases\n" + body)
    with pytest.raises(RuntimeError, match="gene table"):
        read_table(io.BytesIO(blob))


# ------------------------------------------------------------------ identical scores by keying


@pytest.mark.parametrize("keying", KEYINGS)
@pytest.mark.parametrize("method", METHODS)
def test_same_scores_whatever_the_keying(example, universe, scores_by_symbol, keying, method):
    counts, samples = example
    data = rekey(counts, universe, keying)
    ctrl = (samples["group"] == "control").to_numpy()
    ref = ifnscore.calibrate(data[ctrl], signature=SIGS, method=method)
    res = ifnscore.score(data, reference=ref)
    expected = scores_by_symbol[method]
    # identical: the same columns are gathered in the same order (tolerance 0)
    pd.testing.assert_frame_equal(res, expected, check_exact=True)
    assert res.columns.equals(expected.columns)
    via = {
        "symbol": "symbol",
        "lower": "symbol (case-insensitive)",
        "ensembl": "ensembl",
        "ensembl_versioned": "ensembl (version stripped)",
        "entrez": "entrez",
    }[keying]
    for name in SIGS:
        info = res.attrs["ifnscore"]["signatures"][name]
        assert info["genes_missing"] == []
        assert {m["via"] for m in info["matches"]} == {via}
        for m in info["matches"]:
            assert m["columns"] == str(data.columns[list(counts.columns).index(m["gene"])])


@pytest.mark.parametrize("keying", ["ensembl_versioned", "entrez"])
def test_symbol_reference_scores_other_keyings(example, universe, scores_by_symbol, keying):
    """A reference calibrated on symbol-keyed controls applies to Ensembl/Entrez-keyed data."""
    counts, samples = example
    ref = ifnscore.calibrate(counts[samples["group"] == "control"], signature=SIGS)
    res = ifnscore.score(rekey(counts, universe, keying), reference=ref)
    np.testing.assert_array_equal(res.to_numpy(), scores_by_symbol["fc_sum"].to_numpy())


@pytest.mark.parametrize("keying", ["ensembl", "entrez"])
def test_genes_as_rows_are_detected(example, universe, scores_by_symbol, keying):
    counts, samples = example
    data = rekey(counts, universe, keying)
    ref = ifnscore.calibrate(data[samples["group"] == "control"].T, signature=SIGS)
    res = ifnscore.score(data.T, reference=ref)
    np.testing.assert_array_equal(res.to_numpy(), scores_by_symbol["fc_sum"].to_numpy())


def test_id_type_override(example, universe, ref_fc_sum):
    counts, _ = example
    data = rekey(counts, universe, "entrez")
    res = ifnscore.score(data, reference=ref_fc_sum, id_type="entrez")
    np.testing.assert_array_equal(
        res["score"], ifnscore.score(counts, reference=ref_fc_sum)["score"]
    )
    versioned = rekey(counts, universe, "ensembl_versioned")
    res = ifnscore.score(versioned, reference=ref_fc_sum, id_type="ensembl")
    np.testing.assert_array_equal(
        res["score"], ifnscore.score(counts, reference=ref_fc_sum)["score"]
    )
    with pytest.raises(GeneMatchError, match="only 0 of its 6 genes"):
        ifnscore.score(data, reference=ref_fc_sum, id_type="symbol")
    with pytest.raises(InputError, match=r"id_type='ensembl'.*none of the data's 2000 gene names"):
        ifnscore.score(counts, reference=ref_fc_sum, id_type="ensembl")
    with pytest.raises(InputError, match="id_type='hgnc' is not valid"):
        ifnscore.score(counts, reference=ref_fc_sum, id_type="hgnc")
    with pytest.raises(InputError, match="id_type="):
        ifnscore.calibrate(counts, id_type="ENSEMBL")


@given(
    perm_seed=st.integers(0, 2**32 - 1),
    kinds=st.lists(st.sampled_from(KEYINGS), min_size=1, max_size=5),
)
def test_property_order_and_mixed_keying(example, universe, ref_fc_sum, perm_seed, kinds):
    """Shuffling the gene columns and keying each column by a different kind of identifier
    changes nothing but the row totals' summation order (tolerance 1e-12 relative)."""
    counts, _ = example
    rng = np.random.default_rng(perm_seed)
    keyed = [rekey(counts, universe, k).columns for k in kinds]
    choice = rng.integers(0, len(keyed), size=counts.shape[1])
    cols = [keyed[c][j] for j, c in enumerate(choice)]
    data = counts.set_axis(pd.Index(cols), axis=1)
    order = rng.permutation(counts.shape[1])
    data = data.iloc[:, order]
    res = ifnscore.score(data, reference=ref_fc_sum)
    expected = ifnscore.score(counts, reference=ref_fc_sum)
    np.testing.assert_allclose(res["score"], expected["score"], rtol=1e-12, atol=0)
    assert res.attrs["ifnscore"]["signatures"]["rice6"]["genes_missing"] == []


# ------------------------------------------------------------------ aliases and ambiguity


def test_ifi27_ensembl_both_ways():
    fwd = ifnscore.map_genes(["IFI27"], to="ensembl")
    assert "ENSG00000165949" in fwd.loc["IFI27", "ensembl"].split("|")
    back = ifnscore.map_genes(["ENSG00000165949", "ENSG00000165949.12"])
    assert back["symbol"].tolist() == ["IFI27", "IFI27"]
    assert back["via"].tolist() == ["ensembl", "ensembl (version stripped)"]
    (m,) = match_genes(["IFI27"], pd.Index(["ENSG00000126709", "ENSG00000165949.12"]))
    assert (m.columns, m.via) == ((1,), "ensembl (version stripped)")


def test_alias_in_signature_resolves(example, ref_fc_sum):
    counts, samples = example
    m = match_genes(["G1P3"], counts.columns)[0]
    assert m.names == ("IFI6",)
    assert m.via == "alias G1P3 -> IFI6, then symbol"
    genes = ["G1P3", "IFI27", "ISG15"]
    ctrl = counts[samples["group"] == "control"]
    old = ifnscore.score(counts, genes, reference=ifnscore.calibrate(ctrl, genes))
    new_genes = ["IFI6", "IFI27", "ISG15"]
    new = ifnscore.score(counts, new_genes, reference=ifnscore.calibrate(ctrl, new_genes))
    np.testing.assert_array_equal(old["score"], new["score"])


def test_one_gene_twice_in_a_signature_is_refused(example):
    counts, _ = example
    with pytest.raises(GeneMatchError, match="'IFI6' and 'G1P3' both match data column 'IFI6'"):
        ifnscore.score(counts, ["IFI6", "G1P3", "ISG15"], method="mean_log")


def test_alias_in_data_resolves(example):
    counts, samples = example
    ctrl = (samples["group"] == "control").to_numpy()
    ref = ifnscore.calibrate(counts[ctrl], "janssen10")
    expected = ifnscore.score(counts, reference=ref)
    old_names = counts.rename(columns={"IFI6": "G1P3"})
    res = ifnscore.score(old_names, reference=ref)
    np.testing.assert_array_equal(res["score"], expected["score"])
    matches = res.attrs["ifnscore"]["signatures"]["janssen10"]["matches"]
    assert {"gene": "IFI6", "found": True, "via": "alias in data", "columns": "G1P3"} in matches


def test_ambiguous_alias_in_signature_names_candidates(example):
    counts, _ = example
    with pytest.warns(
        IfnscoreWarning, match=r"'p27' \(alias\) names 6 genes: IFI27 \(Entrez 3429\), PSMD9"
    ):
        (m,) = match_genes(["p27"], counts.columns)
    assert not m.found
    assert m.via == "missing (ambiguous alias)"
    res = ifnscore.map_genes(["p27"])
    assert res["symbol"].isna().all()
    assert "PSMD9 (Entrez 5715)" in res.loc["p27", "candidates"]


def test_ambiguous_alias_in_data_is_not_used(example):
    counts, _ = example
    data = counts.rename(columns={"IFI27": "P27"})  # IFI27's alias, but also PSMD9's etc.
    with (
        pytest.warns(MissingGenesWarning, match="IFI27"),
        pytest.warns(IfnscoreWarning, match="data column 'P27' \\(alias\\) names 6 genes: IFI27"),
    ):
        res = ifnscore.score(data, method="mean_log")
    info = res.attrs["ifnscore"]["signatures"]["rice6"]
    assert info["genes_missing"] == ["IFI27"]


def test_ensembl_id_of_several_genes_is_not_used():
    data = pd.Index(["ENSG00000203668", "ENSG00000054277"])  # CHML+OPN3 share the first
    with pytest.warns(IfnscoreWarning, match="'ENSG00000203668' \\(ensembl\\) names 2 genes: CHML"):
        chml, opn3 = match_genes(["CHML", "OPN3"], data)
    assert not chml.found
    assert (opn3.names, opn3.via) == (("ENSG00000054277",), "ensembl")


def test_symbol_of_two_genes():
    # NCBI gives HBD to hemoglobin delta (3045) and to a phenotype locus of gene type
    # 'unknown' (100187828): the one gene with a known type is HBD
    (m,) = match_genes(["HBD"], pd.Index(["ENSG00000223609", "ENSG00000165949"]))
    assert (m.names, m.via) == (("ENSG00000223609",), "ensembl")
    assert ifnscore.map_genes(["HBD"], to="entrez")["entrez"].tolist() == ["3045"]
    # RNR1 is both an rRNA (4549) and an 'other' locus (6052): ambiguous
    with pytest.warns(IfnscoreWarning, match="'RNR1' \\(symbol\\) names 2 genes"):
        (m,) = match_genes(["RNR1"], pd.Index(["ENSG00000165949", "3429"]))
    assert not m.found
    (m,) = match_genes(["RNR1"], pd.Index(["RNR1", "IFI27"]))  # exact names still match
    assert m.via == "symbol"


def test_unknown_gene_is_reported_missing():
    (m,) = match_genes(["NOTAGENE1"], pd.Index(["IFI27"]))
    assert m.via == "missing (not in the data, not in the gene table)"
    frame = matches_frame([m])
    assert frame.to_dict(orient="records") == [
        {"gene": "NOTAGENE1", "found": False, "via": m.via, "columns": ""}
    ]


# ------------------------------------------------------------------ several columns, one gene


def test_two_ensembl_ids_of_ifi27_are_summed(example, universe, ref_fc_sum):
    counts, _ = example
    data = rekey(counts, universe, "ensembl")
    ifi27 = data["ENSG00000165949"].to_numpy()
    half = ifi27 // 2
    split = data.assign(ENSG00000165949=ifi27 - half, ENSG00000275214=half)
    with pytest.warns(IfnscoreWarning, match=r"IFI27 <- \['ENSG00000165949', 'ENSG00000275214'\]"):
        res = ifnscore.score(split, reference=ref_fc_sum)
    # summed on the linear scale: the same CPM as the single column (relative 1e-12)
    np.testing.assert_allclose(
        res["score"], ifnscore.score(counts, reference=ref_fc_sum)["score"], rtol=1e-12
    )
    match = res.attrs["ifnscore"]["signatures"]["rice6"]["matches"][0]
    assert match["columns"] == "ENSG00000165949, ENSG00000275214"
    with pytest.raises(GeneMatchError, match="Several data columns match one signature gene"):
        ifnscore.score(split, reference=ref_fc_sum, duplicates="error")


# ------------------------------------------------------------------ detection and map_genes


def test_detect_id_type(example, universe):
    counts, _ = example
    got = {k: detect_id_type(rekey(counts, universe, k).columns) for k in KEYINGS}
    assert got == {
        "symbol": "symbol",
        "lower": "symbol",
        "ensembl": "ensembl",
        "ensembl_versioned": "ensembl_versioned",
        "entrez": "entrez",
    }
    assert detect_id_type(["IFI27", "ENSG00000126709", "__no_feature"]) == "mixed"
    assert detect_id_type(["sample1", "__ambiguous"]) == "unknown"


def test_gene_likeness():
    assert gene_likeness(["ENSG00000165949", "ENSG00000126709.3"]) == 1.0
    assert gene_likeness(["3429", "2537", "9636", "not_a_gene"]) == 0.75  # IFI27, IFI6, ISG15
    assert gene_likeness([str(i) for i in range(100)]) == 0.0  # a positional index
    assert gene_likeness([str(i) for i in range(1001, 1100)]) == 0.0  # numeric sample IDs
    assert gene_likeness([str(i) for i in range(2, 5000)]) > 0.5  # many NCBI Gene IDs
    # 1..n is positional: only the signature genes' own IDs among them count
    assert gene_likeness([str(i) for i in range(1, 5000)]) < 0.01
    assert gene_likeness(["3429", "9636", "1001"]) == pytest.approx(2 / 3)  # IFI27, ISG15
    # a sample called like a gene symbol does not make the sample axis look like genes
    assert gene_likeness(["CAT", "P01", "P02", "P03"]) == 0.0
    assert gene_likeness(["MYGENE"], hint=["mygene"]) == 1.0
    assert gene_likeness([]) == 0.0


def test_entrez_columns_with_a_range_index(example, universe, ref_fc_sum):
    counts, _ = example
    data = rekey(counts, universe, "entrez").reset_index(drop=True)
    res = ifnscore.score(data, reference=ref_fc_sum)
    np.testing.assert_array_equal(
        res["score"], ifnscore.score(counts, reference=ref_fc_sum)["score"]
    )


def test_numeric_sample_ids_with_symbol_columns(example, ref_fc_sum):
    counts, _ = example
    data = counts.set_axis(pd.Index([str(1001 + i) for i in range(len(counts))]), axis=0)
    res = ifnscore.score(data, reference=ref_fc_sum)
    np.testing.assert_array_equal(
        res["score"].to_numpy(), ifnscore.score(counts, reference=ref_fc_sum)["score"].to_numpy()
    )


def test_small_entrez_frame_is_oriented_by_its_signature_genes(example, universe, ref_fc_sum):
    counts, _ = example
    rice = list(ifnscore.get_signature("rice6").genes)
    data = rekey(counts[rice], universe, "entrez")
    res = ifnscore.score(data.T, reference=ref_fc_sum, scale="counts")
    assert res["n_genes"].eq(6).all()


def test_map_genes_round_trip(universe):
    sym = list(universe.index)
    ens = ifnscore.map_genes(sym, to="ensembl")
    assert ens.index.tolist() == sym
    assert all(
        e in full.split("|") for e, full in zip(universe["ensembl"], ens["ensembl"], strict=True)
    )
    back = ifnscore.map_genes(list(universe["ensembl"]), to="symbol")
    assert back["symbol"].tolist() == sym
    assert back.attrs["id_type"] == "ensembl"
    assert back.attrs["gene_table"]["debian_package"] == "r-bioc-org.hs.eg.db"
    entrez = ifnscore.map_genes(list(universe["entrez"]), to="entrez", id_type="entrez")
    assert entrez["entrez"].tolist() == list(universe["entrez"])
    assert set(entrez["via"]) == {"entrez"}


@given(data=st.data())
def test_property_map_genes_any_mix_of_kinds(universe, data):
    """Each gene of the example universe, named by any kind of identifier, maps back to its
    symbol, Entrez and Ensembl ID, whatever the order and the mix."""
    picks = data.draw(
        st.lists(
            st.tuples(st.integers(0, len(universe) - 1), st.sampled_from(KEYINGS)),
            min_size=1,
            max_size=40,
        )
    )
    ids = []
    for i, kind in picks:
        sym = universe.index[i]
        ens, ent = universe.iloc[i]["ensembl"], universe.iloc[i]["entrez"]
        ids.append(
            {
                "symbol": sym,
                "lower": sym.lower(),
                "ensembl": ens,
                "ensembl_versioned": f"{ens}.{i % 9 + 1}",
                "entrez": ent,
            }[kind]
        )
    expected = [universe.index[i] for i, _ in picks]
    assert ifnscore.map_genes(ids)["symbol"].tolist() == expected
    assert ifnscore.map_genes(ids, to="entrez")["entrez"].tolist() == [
        universe.iloc[i]["entrez"] for i, _ in picks
    ]
    got = ifnscore.map_genes(ids, to="ensembl")["ensembl"].tolist()
    assert all(
        universe.iloc[i]["ensembl"] in g.split("|") for (i, _), g in zip(picks, got, strict=True)
    )


def test_map_genes_id_type_and_errors():
    # read as symbols, '3429' is not a gene; read as Entrez (auto), it is IFI27
    assert ifnscore.map_genes(["3429"], id_type="symbol")["via"].tolist() == ["not found"]
    assert ifnscore.map_genes(["3429"])["symbol"].tolist() == ["IFI27"]
    with pytest.raises(InputError, match="single string"):
        ifnscore.map_genes("IFI27")
    with pytest.raises(InputError, match="to='hgnc' is not valid"):
        ifnscore.map_genes(["IFI27"], to="hgnc")
    res = ifnscore.map_genes(pd.Series(["IFI27", "IFI27", "not_a_gene"]))
    assert res.index.tolist() == ["IFI27", "IFI27", "not_a_gene"]
    assert res["symbol"].isna().tolist() == [False, False, True]


def test_matching_symbol_data_does_not_warn(example, ref_fc_sum):
    counts, _ = example
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ifnscore.score(counts, reference=ref_fc_sum)


def test_indexes_are_built_only_when_a_lookup_needs_them():
    """Official symbols resolve without the Ensembl and alias indexes (memory of streaming
    reads); a name left over then builds the alias index and resolves as before."""
    path = resources.files("ifnscore").joinpath("data/genes/human_genes.tsv.gz")
    with path.open("rb") as raw:
        table = read_table(raw)
    rows, _ = table.resolve_many(["IFI27", "ISG15"])
    assert {"by_ensembl", "by_alias"}.isdisjoint(vars(table))
    np.testing.assert_array_equal(rows, load_table().resolve_many(["IFI27", "ISG15"])[0])
    assert table.resolve("G1P3").route == "alias"
    assert "by_alias" in vars(table)
