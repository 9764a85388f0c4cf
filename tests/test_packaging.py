"""The package as it is published: the wheel holds the code, ``py.typed`` and every data file
(signatures, gene table, bundled datasets) and nothing of the repository's tests, benchmarks,
docs or notebooks; its metadata passes ``twine check``. And ``ifnscore._versions`` (what
``ifnscore --version`` prints).

The wheel is built here from this checkout without build isolation (hatchling from the
``release`` extra, so it needs no network); the test skips without ``build`` / ``hatchling``.
CI also builds the sdist and the wheel in isolation and runs ``twine check --strict`` on both.
"""

from __future__ import annotations

import email
import importlib.metadata
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import ifnscore
from ifnscore._versions import OPTIONAL, REQUIRED, format_versions, versions

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "ifnscore"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("build", reason="build is not installed (the release extra)")
    pytest.importorskip("hatchling", reason="hatchling is not installed (the release extra)")
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("not a source checkout")
    out = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (path,) = out.glob("ifnscore-*.whl")
    return path


def _names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as z:
        return set(z.namelist())


def test_wheel_holds_the_typed_marker_and_every_data_file(wheel):
    names = _names(wheel)
    assert "ifnscore/py.typed" in names
    data = sorted(
        p.relative_to(ROOT).as_posix()
        for folder in (PKG / "data", PKG / "datasets" / "data")
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    # the source tree's data files, found on disk: the signatures, the gene table, the datasets
    assert "ifnscore/data/genes/human_genes.tsv.gz" in data
    assert "ifnscore/data/signatures/rice6.toml" in data
    assert "ifnscore/datasets/data/example_counts.csv.gz" in data
    missing = [d for d in data if d not in names]
    assert not missing, f"data files not in the wheel: {missing}"


def test_wheel_holds_every_module_and_nothing_of_the_repository(wheel):
    names = _names(wheel)
    modules = sorted(
        p.relative_to(ROOT).as_posix() for p in PKG.rglob("*.py") if "__pycache__" not in p.parts
    )
    assert "ifnscore/_multiqc.py" in modules
    assert [m for m in modules if m not in names] == []
    top = {n.split("/", 1)[0] for n in names}
    assert top == {"ifnscore", f"ifnscore-{ifnscore.__version__}.dist-info"}
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "docs/", "notebooks/"))]


def test_wheel_metadata_is_what_pip_and_pypi_read(wheel):
    with zipfile.ZipFile(wheel) as z:
        info = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(z.read(info))
        entry = z.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert meta["Name"] == "ifnscore"
    assert meta["Version"] == ifnscore.__version__
    assert meta["Requires-Python"] == ">=3.11"
    requires = [r.split(";")[0].strip() for r in meta.get_all("Requires-Dist")]
    for dist in REQUIRED:
        assert any(r.startswith(dist) for r in requires), dist
    extras = set(meta.get_all("Provides-Extra"))
    assert {"pipelines", "release", "docs", "test"} <= extras
    assert "ifnscore = ifnscore.cli:main" in entry
    assert meta.get_payload().lstrip().startswith("# ifnscore")  # README as the description


def test_twine_accepts_the_wheel(wheel):
    pytest.importorskip("twine", reason="twine is not installed (the release extra)")
    cmd = [sys.executable, "-m", "twine", "check", "--strict", str(wheel)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASSED" in proc.stdout


# --------------------------------------------------------------------------- versions
def test_versions_lists_ifnscore_python_and_the_dependencies():
    v = versions()
    assert list(v)[:6] == ["ifnscore", "python", "numpy", "scipy", "pandas", "anndata"]
    assert v["ifnscore"] == ifnscore.__version__
    assert v["python"] == ".".join(map(str, sys.version_info[:3]))
    for dist in REQUIRED:
        assert v[dist] == importlib.metadata.version(dist)
    for dist in OPTIONAL:
        try:
            expected = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            assert dist not in v
        else:
            assert v[dist] == expected


def test_missing_packages_are_left_out_or_said_to_be_missing(monkeypatch):
    real = importlib.metadata.version

    def version(dist):
        if dist in ("numba", "scipy"):
            raise importlib.metadata.PackageNotFoundError(dist)
        return real(dist)

    monkeypatch.setattr("ifnscore._versions.metadata.version", version)
    v = versions()
    assert "numba" not in v  # optional: left out
    assert v["scipy"] == "not installed"  # required: said so


def test_versions_imports_none_of_the_optional_packages():
    # in a fresh interpreter: what versions() imports beyond `import ifnscore` (pandas itself
    # may import pyarrow) must hold none of the packages it reports on
    code = (
        "import sys, json; from ifnscore._versions import versions; before = set(sys.modules); "
        "versions(); print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    new = {m.split(".")[0] for m in json.loads(proc.stdout)}
    assert not new & {d.replace("-", "_") for d in (*REQUIRED, *OPTIONAL)}, new


def test_format_versions_one_name_and_version_a_line():
    text = format_versions({"ifnscore": "0.1.0", "python": "3.12.1", "numpy": "2.1.0"})
    assert text == "ifnscore 0.1.0\npython 3.12.1\nnumpy 2.1.0\n"
    lines = format_versions().splitlines()
    assert lines[0] == f"ifnscore {ifnscore.__version__}"
    assert all(len(line.split()) == 2 for line in lines)
