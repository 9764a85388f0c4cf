"""Atomic writes, shared by every writer of the library and the CLI.

A file is written to a temporary ``.<name>.<pid>.<random>.tmp`` beside it and moved into
place only once complete; an interrupted write (an exception, Ctrl-C) removes its temporary.
A process killed outright (SIGKILL) cannot, so the next write of the same output removes the
temporaries of that output left by processes that no longer run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` then move the file into place: readers never see a partial
    file, and an existing file is only replaced once the new one is complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    os.close(fd)
    try:
        # mkstemp makes the file private (0600); give it the permissions open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove_stale(path: Path) -> None:
    """Remove ``.<name>.<pid>.*.tmp`` files of ``path`` whose writing process is gone."""
    prefix = f".{path.name}."
    for tmp in path.parent.glob(f"{glob_escape(prefix)}*.tmp"):
        pid = tmp.name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def glob_escape(text: str) -> str:
    import glob

    return glob.escape(text)
