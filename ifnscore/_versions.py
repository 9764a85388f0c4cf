"""The versions of ifnscore, Python and the installed dependencies, for ``ifnscore --version``
and bug reports.

Read from the installed distributions' metadata (:mod:`importlib.metadata`): nothing is
imported, so ``ifnscore --version`` stays fast and works when an optional package is broken.
"""

from __future__ import annotations

import platform
from importlib import metadata

from ._version import __version__

__all__ = ["format_versions", "versions"]

#: Always installed (``[project] dependencies``).
REQUIRED = ("numpy", "scipy", "pandas", "anndata")
#: Listed only when installed (the optional extras of ``pyproject.toml``).
OPTIONAL = (
    "numba",
    "dask",
    "distributed",
    "matplotlib",
    "scanpy",
    "openpyxl",
    "pyarrow",
    "python-calamine",
    "zstandard",
    "zarr",
    "h5py",
    "tqdm",
)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str]:
    """The versions of ifnscore, Python, its dependencies and the optional packages installed.

    Returns
    -------
    dict of str to str
        ``ifnscore`` and ``python`` first, then ``numpy``, ``scipy``, ``pandas``, ``anndata``
        (``"not installed"`` if one is missing, which a broken environment can do), then each
        installed optional dependency (numba, dask, matplotlib, scanpy, openpyxl, pyarrow,
        python-calamine, zarr, h5py...); a missing optional package is left out.

    Examples
    --------
    >>> from ifnscore._versions import versions
    >>> v = versions()
    >>> list(v)[:3]
    ['ifnscore', 'python', 'numpy']
    """
    out = {"ifnscore": __version__, "python": platform.python_version()}
    for dist in REQUIRED:
        out[dist] = _version(dist) or "not installed"
    for dist in OPTIONAL:
        found = _version(dist)
        if found is not None:
            out[dist] = found
    return out


def format_versions(found: dict[str, str] | None = None) -> str:
    """The versions as text, one ``name version`` per line (what ``ifnscore --version`` prints).

    Parameters
    ----------
    found : dict of str to str, optional
        The versions to format; default :func:`versions`.

    Returns
    -------
    str
        One line per package, ``name version`` separated by one space (the first line is
        ``ifnscore <version>``, what ``--version`` printed before), ending with a newline.

    Examples
    --------
    >>> from ifnscore._versions import format_versions
    >>> print(format_versions({"ifnscore": "0.1.0", "python": "3.12.1"}), end="")
    ifnscore 0.1.0
    python 3.12.1
    """
    found = versions() if found is None else found
    return "".join(f"{k} {v}\n" for k, v in found.items())
