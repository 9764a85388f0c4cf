"""Documentation contract.

* Every public name (``ifnscore.__all__`` and the ``__all__`` of every public module) has a
  numpydoc docstring: functions with Parameters (when they take any), Returns (unless they return
  None) and Examples, top-level functions that take arguments also with Raises; classes with
  Examples and Parameters or Attributes; their public methods with Parameters/Returns where
  they apply; exceptions and warnings with a sentence.
* The pages that ``docs/_ext/ifnscore_docgen.py`` generates at build time cover the whole
  registry (every signature, every method), every CLI subcommand and every public name.

The Sphinx build itself (``make docs``, warnings as errors) runs in CI; these tests need no Sphinx.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import pkgutil
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

import ifnscore

DOCS = Path(__file__).resolve().parent.parent / "docs"
SECTION = re.compile(r"^([A-Z][A-Za-z ]+)\n-{3,}\s*$", re.MULTILINE)


def _public(module: ModuleType) -> list[str]:
    return [n for n in getattr(module, "__all__", ()) if not n.startswith("_")]


def _public_modules() -> list[ModuleType]:
    """Modules in ``ifnscore.__all__`` and every other public submodule but the CLI."""
    names = {n for n in _public(ifnscore) if inspect.ismodule(getattr(ifnscore, n))}
    names |= {m.name for m in pkgutil.iter_modules(ifnscore.__path__) if not m.name.startswith("_")}
    names -= {"cli"}  # documented by its own page, generated from the parser
    return [importlib.import_module(f"ifnscore.{n}") for n in sorted(names)]


def _public_objects() -> list[tuple[str, object]]:
    out = [(f"ifnscore.{n}", getattr(ifnscore, n)) for n in _public(ifnscore)]
    seen = {id(obj) for _, obj in out}
    for mod in _public_modules():
        for n in _public(mod):
            obj = getattr(mod, n)
            if id(obj) not in seen:
                seen.add(id(obj))
                out.append((f"{mod.__name__}.{n}", obj))
    return out


PUBLIC = _public_objects()
FUNCTIONS = [(n, o) for n, o in PUBLIC if inspect.isfunction(o)]
CLASSES = [
    (n, o) for n, o in PUBLIC if inspect.isclass(o) and not issubclass(o, BaseException | Warning)
]
EXCEPTIONS = [
    (n, o) for n, o in PUBLIC if inspect.isclass(o) and issubclass(o, BaseException | Warning)
]


def _sections(obj: object) -> set[str]:
    return set(SECTION.findall(inspect.getdoc(obj) or ""))


def _takes_arguments(func: object) -> bool:
    params = list(inspect.signature(func).parameters.values())  # type: ignore[arg-type]
    return any(p.name not in ("self", "cls") for p in params)


def _returns_value(func: object) -> bool:
    ann = inspect.signature(func).return_annotation  # type: ignore[arg-type]
    return ann not in (None, "None")


def _missing(func: object, *, examples: bool, raises: bool) -> list[str]:
    have = _sections(func)
    need = []
    if _takes_arguments(func):
        need.append("Parameters")
    if _returns_value(func):
        need.append("Returns")
    if examples:
        need.append("Examples")
    if raises and _takes_arguments(func):
        need.append("Raises")
    return [s for s in need if s not in have]


def test_the_public_surface_is_what_these_tests_inspect():
    # Guards the collection above: if it found nothing, every test below would pass vacuously.
    names = {n for n, _ in PUBLIC}
    assert {"ifnscore.score", "ifnscore.calibrate", "ifnscore.Reference"} <= names
    assert len(FUNCTIONS) >= 5
    assert len(CLASSES) >= 2
    assert len(EXCEPTIONS) >= 5


@pytest.mark.parametrize(("name", "func"), FUNCTIONS, ids=[n for n, _ in FUNCTIONS])
def test_public_function_docstring_has_numpydoc_sections(name, func):
    top_level = name.count(".") == 1  # ifnscore.score, not ifnscore.datasets.load_example
    missing = _missing(func, examples=True, raises=top_level)
    assert not missing, f"{name}: docstring lacks the numpydoc section(s) {missing}"


@pytest.mark.parametrize(("name", "cls"), CLASSES, ids=[n for n, _ in CLASSES])
def test_public_class_docstring_has_numpydoc_sections(name, cls):
    have = _sections(cls)
    assert "Examples" in have, f"{name}: class docstring lacks an Examples section"
    assert have & {"Parameters", "Attributes"}, (
        f"{name}: class docstring lacks a Parameters or Attributes section"
    )


def _public_methods() -> list[tuple[str, object]]:
    out = []
    for cname, cls in CLASSES:
        for mname, member in vars(cls).items():
            if mname.startswith("_"):
                continue
            func = member.__func__ if isinstance(member, classmethod | staticmethod) else member
            if inspect.isfunction(func):
                out.append((f"{cname}.{mname}", func))
    return out


METHODS = _public_methods()


@pytest.mark.parametrize(("name", "func"), METHODS, ids=[n for n, _ in METHODS])
def test_public_method_docstring_has_numpydoc_sections(name, func):
    assert inspect.getdoc(func), f"{name} has no docstring"
    missing = _missing(func, examples=False, raises=False)
    assert not missing, f"{name}: docstring lacks the numpydoc section(s) {missing}"


@pytest.mark.parametrize(("name", "exc"), EXCEPTIONS, ids=[n for n, _ in EXCEPTIONS])
def test_public_exception_has_a_docstring(name, exc):
    # A class's __doc__ is not inherited, so this fails for an exception without its own.
    assert (exc.__doc__ or "").strip(), f"{name} has no docstring"


def test_section_parser_catches_a_missing_section():
    def documented(x: int) -> int:
        """Double.

        Parameters
        ----------
        x : int

        Returns
        -------
        int

        Examples
        --------
        >>> 1
        1
        """
        return 2 * x

    def undocumented(x: int) -> int:
        """Double."""
        return 2 * x

    assert _missing(documented, examples=True, raises=False) == []
    assert _missing(undocumented, examples=True, raises=True) == [
        "Parameters",
        "Returns",
        "Examples",
        "Raises",
    ]


# --------------------------------------------------------------------------- generated pages
@pytest.fixture(scope="module")
def docgen():
    path = DOCS / "_ext" / "ifnscore_docgen.py"
    spec = importlib.util.spec_from_file_location("ifnscore_docgen", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ifnscore_docgen"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("ifnscore_docgen", None)


def test_signature_page_lists_every_signature_with_genes_and_limits(docgen):
    text = docgen.page_signatures()
    for name in ifnscore.list_signatures().index:
        sig = ifnscore.get_signature(name)
        assert f"(sig-{name})=" in text
        for gene in sig.genes:
            assert gene in text
        for t in sig.thresholds:
            assert f"`{t.method}` **{t.value:g}**" in text
    assert (
        "[doi:10.1016/S1474-4422(13)70258-8](<https://doi.org/10.1016/S1474-4422(13)70258-8>)"
        in text
    )


def test_every_method_has_a_generated_page_and_hand_written_notes(docgen):
    toc = docgen.page_methods_toc()
    for name in ifnscore.list_methods().index:
        assert f"/generated/methods/{name}" in toc
        page = docgen.page_method(name)
        assert ifnscore.list_methods().loc[name, "formula"] in page
        assert (DOCS / "_method_notes" / f"{name}.md").is_file(), (
            f"method {name!r} has no hand-written notes docs/_method_notes/{name}.md "
            "(maths, the peer it matches and to what tolerance, cost)"
        )


def test_cli_page_shows_every_subcommand(docgen):
    from ifnscore.cli import build_parser

    text = docgen.page_cli()
    subs = docgen._subcommands(build_parser())
    assert subs
    for name, parser in subs:
        assert f"### `ifnscore {name}`" in text
        assert parser.format_usage().split()[1] in text


def test_api_page_lists_every_public_name(docgen):
    text = docgen.page_api()
    for mod in _public_modules():
        assert f"## `{mod.__name__}`" in text
    for name, obj in PUBLIC:
        if callable(obj):
            assert f"   {name.rsplit('.', 1)[1]}\n" in text, name


def test_performance_page_shows_results_when_they_exist(docgen, tmp_path, monkeypatch):
    monkeypatch.setattr(docgen, "RESULTS", tmp_path / "RESULTS.md")
    assert "python benchmarks/compare_peers.py" in docgen.page_results()
    (tmp_path / "RESULTS.md").write_text(
        "# Results\n\n![plot](scaling.png) by [the script](compare_peers.py), "
        "[doi](https://doi.org/10.1/x)\n\n```text\n# not a heading [x](y)\n```\n",
        encoding="utf-8",
    )
    text = docgen.page_results()
    assert text.startswith("## Results\n")
    assert "![plot](/../benchmarks/scaling.png)" in text
    assert "{download}`the script </../benchmarks/compare_peers.py>`" in text
    assert "[doi](https://doi.org/10.1/x)" in text
    assert "# not a heading [x](y)\n" in text
    assert "{figure} /../benchmarks/scaling.png" not in text  # linked already
    (tmp_path / "RESULTS.md").write_text("# Results\n", encoding="utf-8")
    (tmp_path / "scaling.png").write_bytes(b"")
    assert "{figure} /../benchmarks/scaling.png" in docgen.page_results()


def test_notebooks_are_listed_when_there_are_some(docgen, tmp_path, monkeypatch):
    monkeypatch.setattr(docgen, "NOTEBOOKS", tmp_path)
    assert docgen.page_notebooks() == ""
    cell = {"cell_type": "markdown", "source": ["# Quick start\n", "\n", "Score a cohort.\n"]}
    (tmp_path / "01_quick.ipynb").write_text(json.dumps({"cells": [cell]}), encoding="utf-8")
    text = docgen.page_notebooks()
    assert (
        "{doc}`/generated/notebooks/01_quick` "
        "({download}`01_quick.ipynb </../notebooks/01_quick.ipynb>`)" in text
    )
    assert ": **Quick start**. Score a cohort." in text
    assert "```{toctree}\n:hidden:\n\n/generated/notebooks/01_quick\n```" in text


def test_notebooks_are_copied_unchanged_and_stale_copies_removed(docgen, tmp_path, monkeypatch):
    books = tmp_path / "notebooks"
    books.mkdir()
    monkeypatch.setattr(docgen, "NOTEBOOKS", books)
    (books / "a.ipynb").write_bytes(b'{"cells": []}\r\n')
    out = tmp_path / "generated" / "notebooks"
    out.mkdir(parents=True)
    (out / "gone.ipynb").write_text("{}")
    assert docgen.copy_notebooks(out) == [out / "a.ipynb"]
    assert (out / "a.ipynb").read_bytes() == b'{"cells": []}\r\n'  # byte for byte
    assert sorted(p.name for p in out.iterdir()) == ["a.ipynb"]


def test_the_real_notebooks_are_rendered_with_outputs_by_the_docs(docgen):
    # conf.py executes them at build time (myst-nb), so the pages show this code's outputs
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert '"myst_nb"' in conf
    assert 'nb_execution_mode = os.environ.get("IFNSCORE_DOCS_EXECUTE", "force")' in conf
    assert "nb_execution_raise_on_error = True" in conf
    if docgen.NOTEBOOKS.is_dir():
        for book in sorted(docgen.NOTEBOOKS.glob("*.ipynb")):
            assert f"/generated/notebooks/{book.stem}\n" in docgen.page_notebooks()


# --------------------------------------------------------------------------- offline pages
def test_remote_scripts_are_found_in_html(docgen):
    page = (
        '<script src="_static/mathjax/tex-chtml.js"></script>'
        '<script defer="defer" src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js">'
        "</script><script src='//unpkg.com/x.js'></script>"
        '<SCRIPT SRC="HTTP://example.org/y.js"></SCRIPT>'
        '<script>var url = "https://not-a-src.example";</script>'
        '<link rel="stylesheet" href="https://fonts.example/css">'
    )
    assert docgen.remote_resources(page) == [
        "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js",
        "//unpkg.com/x.js",
        "HTTP://example.org/y.js",
        "https://fonts.example/css",
    ]
    assert docgen.remote_resources('<a href="https://doi.org/10.1/x">doi</a>') == []


def test_the_build_check_reports_each_page_with_a_remote_script(docgen, tmp_path):
    (tmp_path / "ok.html").write_text('<script src="_static/x.js"></script>')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bad.html").write_text(
        '<script src="https://cdn.example/mathjax.js"></script>'
    )
    assert docgen.offline_problems(tmp_path) == [
        "sub/bad.html loads https://cdn.example/mathjax.js from the network"
    ]


def test_built_site_loads_nothing_from_the_network_when_built(docgen):
    site = DOCS / "_build" / "html"
    if not (site / "index.html").is_file():
        pytest.skip("docs not built here (make docs builds them and runs the same check)")
    assert docgen.offline_problems(site) == []
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()


def test_pages_added_to_docs_get_a_table_of_contents(docgen, tmp_path, monkeypatch):
    listed = set().union(*(docgen._toctree_entries(p) for p in DOCS.glob("*.md")))
    unlisted = {p.stem for p in DOCS.glob("*.md")} - listed
    assert (docgen.page_more_toc() == "") == (unlisted <= {"index"})
    for page in ("index.md", "concepts.md", "intervals_simulation.md"):
        (tmp_path / page).write_text("# x\n", encoding="utf-8")
    toc = "```{toctree}\n:maxdepth: 2\n\nconcepts\nAPI </generated/api>\n```\n"
    (tmp_path / "index.md").write_text(toc, encoding="utf-8")
    monkeypatch.setattr(docgen, "DOCS", tmp_path)
    assert docgen._toctree_entries(tmp_path / "index.md") == {"concepts", "generated/api"}
    assert "\nintervals_simulation\n" in docgen.page_more_toc()


# --------------------------------------------------------------------------- page examples
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
#: ```python and ```console blocks, in page order (a console line "$ ifnscore ..." is run)
BLOCK = re.compile(r"^```(python|console)\n(.*?)^```", re.MULTILINE | re.DOTALL)
PAGES = sorted(p for p in DOCS.glob("*.md") if BLOCK.search(p.read_text(encoding="utf-8")))
#: peers a page may compare with, in its last blocks: skipped (the blocks before ran) if absent
PEERS = ("matplotlib", "scanpy", "decoupler", "pyucell", "openpyxl")


def test_pages_with_python_examples_are_found():
    assert DOCS / "getting-started.md" in PAGES
    assert DOCS / "from-spreadsheet.md" in PAGES
    assert DOCS / "from-scanpy.md" in PAGES


def _console_commands(block: str) -> list[list[str]]:
    import shlex

    out = []
    for line in block.splitlines():
        if line.startswith("$ "):
            argv = shlex.split(line[2:], comments=True)
            assert argv[0] == "ifnscore", f"console examples run ifnscore only: {line!r}"
            out.append(argv[1:])
    return out


def test_console_commands_are_parsed():
    block = "$ ifnscore score a.csv -o 'my scores.csv'  # a comment\nwrote 3 rows\n"
    assert _console_commands(block) == [["score", "a.csv", "-o", "my scores.csv"]]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_examples_in_pages_run(page, tmp_path, monkeypatch, capsys):
    """Every ```python block of a hand-written page runs, in order, in one namespace per page,
    and every ``$ ifnscore ...`` line of its ```console blocks exits 0, in the same folder."""
    from ifnscore.cli import main

    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    text = page.read_text(encoding="utf-8")
    for i, (kind, block) in enumerate(BLOCK.findall(text)):
        if kind == "console":
            for argv in _console_commands(block):
                code = main(argv)
                assert code == 0, (
                    f"{page.name}: `ifnscore {' '.join(argv)}` exited {code}: "
                    + (capsys.readouterr().err[-2000:])
                )
            continue
        if "from ifnscore import plot" in block or "ifnscore.report import" in block:
            pytest.importorskip("matplotlib")  # the `plot` extra; the blocks before it ran
        needs = [peer for peer in PEERS if re.search(rf"^import {peer}\b", block, re.M)]
        if ".to_excel(" in block:
            needs.append("openpyxl")
        for peer in needs:
            pytest.importorskip(peer)
        code = compile(block, f"{page.name}[block {i + 1}]", "exec")
        exec(code, namespace)
