"""Sphinx configuration for the ifnscore documentation.

Builds offline (no intersphinx, no remote resources fetched at build time) with warnings as
errors: ``make docs``. Pages that must not drift from the code (the signature table, the method
pages, the command line, the API list, the benchmark results) are written at build time by
``_ext/ifnscore_docgen.py`` into ``docs/generated/`` from the registry, the argument parser and
``ifnscore.__all__``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # document this checkout, not an installed copy
sys.path.insert(0, str(HERE / "_ext"))
# The notebooks' kernels (myst-nb) import this checkout too, and draw inline.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")])
)
os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")

import ifnscore  # noqa: E402

project = "ifnscore"
author = "ifnscore developers"
copyright = "ifnscore developers"
release = ifnscore.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax 3 copied into _static/mathjax/ (mathjax_path points there): formulas render
    # offline, and no page loads a script from a CDN (tests/test_docs.py checks the built HTML).
    "sphinx-mathjax-offline",
    "numpydoc",
    # myst-nb = myst-parser (the .md pages) + notebooks (.ipynb) executed at build time.
    "myst_nb",
    "ifnscore_docgen",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "_method_notes", "_ext", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# MyST: $...$ and $$...$$ maths, ::: fences, heading anchors for cross-page links.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# Notebooks: docgen copies notebooks/*.ipynb (stored without outputs) to generated/notebooks/;
# myst-nb executes each at every build ("force": the outputs shown are always this code's) in
# a temporary folder, and a cell that raises fails the build. IFNSCORE_DOCS_EXECUTE=off skips
# execution for a quick local build (the pages then show code without outputs).
nb_execution_mode = os.environ.get("IFNSCORE_DOCS_EXECUTE", "force")
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_in_temp = True
nb_merge_streams = True
nb_execution_excludepatterns: list[str] = []

# API reference: autosummary writes one page per public name (docs/api/generated/).
autosummary_generate = ["generated/api.md"]
autosummary_imported_members = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "none"  # numpydoc renders the types from the docstrings
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Checked on every documented object (warnings, so errors under -W): undocumented or unknown
# parameters, a missing Returns section, a missing docstring. Frozen dataclasses that document
# their fields under "Attributes" (Reference, Cohort) are exempt from PR01: the fields are the
# constructor's parameters.
numpydoc_validation_checks = {"PR01", "PR02", "PR10", "RT01", "GL08"}
numpydoc_validation_overrides = {"PR01": [r"Attributes\n\s*-{3,}"]}

html_theme = "pydata_sphinx_theme"
html_title = f"ifnscore {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_last_updated_fmt = None
# Pages without sub-pages get no (empty) left sidebar.
html_sidebars = {
    page: []
    for page in (
        "index",
        "getting-started",
        "from-spreadsheet",
        "from-scanpy",
        "concepts",
        "signatures",
        "formats",
        "cli",
        "performance",
        "changelog",
    )
}
