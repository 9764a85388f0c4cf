"""Opening files: compression detected from the content (magic bytes), errors that name the file.

gzip, bz2, xz and zstd are recognised by their first bytes, whatever the extension says; an
extension that promises compression the content does not have (or the reverse, for a known
binary format) is an error naming the file. Decompression errors (truncated or corrupt
archives) become :class:`~ifnscore.errors.InputError` naming the file.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from ..errors import InputError

__all__ = [
    "COMPRESSED",
    "compression_of",
    "open_binary",
    "open_text",
    "read_errors",
    "strip_compression",
]

#: Magic bytes of the compressions ifnscore reads.
_MAGIC = {
    "gzip": b"\x1f\x8b",
    "bz2": b"BZh",
    "xz": b"\xfd7zXZ\x00",
    "zstd": b"\x28\xb5\x2f\xfd",
}
COMPRESSED = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd", ".zstd": "zstd"}

#: Errors a damaged file raises while being decompressed or parsed.
read_errors: tuple[type[BaseException], ...] = (
    EOFError,
    OSError,
    zlib.error,
    lzma.LZMAError,
    gzip.BadGzipFile,
    UnicodeDecodeError,
)


def _zstd_error() -> tuple[type[BaseException], ...]:
    try:
        import zstandard
    except ImportError:
        return ()
    return (zstandard.ZstdError,)


def strip_compression(path: str | os.PathLike) -> tuple[str, str | None]:
    """``("table.tsv", "gzip")`` for ``table.tsv.gz``; the compression is the extension's."""
    name = Path(path).name
    for ext, comp in COMPRESSED.items():
        if name.lower().endswith(ext):
            return name[: -len(ext)], comp
    return name, None


def compression_of(path: str | os.PathLike) -> str | None:
    """The compression of ``path`` from its first bytes; checks it against the extension."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{str(p)!r}: no such file.")
    if p.is_dir():
        raise InputError(f"{str(p)!r} is a folder, not a file.")
    with open(p, "rb") as fh:
        head = fh.read(8)
    found = next((c for c, m in _MAGIC.items() if head.startswith(m)), None)
    _, claimed = strip_compression(p)
    if claimed is not None and found != claimed:
        raise InputError(
            f"{str(p)!r}: the extension says {claimed} but the file is "
            f"{'not compressed' if found is None else found + '-compressed'}; rename it or fix the file."
        )
    return found


def _decompressor(fh: IO[bytes], comp: str | None) -> IO[bytes]:
    if comp is None:
        return fh
    if comp == "gzip":
        return gzip.GzipFile(fileobj=fh)  # type: ignore[return-value]
    if comp == "bz2":
        return bz2.BZ2File(fh)  # type: ignore[return-value]
    if comp == "xz":
        return lzma.LZMAFile(fh)  # type: ignore[return-value]
    try:
        import zstandard
    except ImportError:
        raise InputError(
            "Reading zstd-compressed files needs the 'zstandard' package: pip install 'ifnscore[zstd]'."
        ) from None
    return io.BufferedReader(_ZstdRaw(fh, zstandard), buffer_size=1 << 20)


class _ZstdRaw(io.RawIOBase):
    """zstd frames decompressed as a stream; a stream cut inside a frame raises EOFError
    (zstandard's own stream reader returns the partial data silently)."""

    def __init__(self, fh: IO[bytes], zstandard: Any) -> None:
        self._fh = fh
        self._zstd = zstandard
        self._d = zstandard.ZstdDecompressor().decompressobj()
        self._buf = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf and not self._done:
            chunk = self._fh.read(1 << 20)
            if not chunk:
                if not self._d.eof:
                    raise EOFError("the zstd stream ends inside a frame")
                self._done = True
                break
            if self._d.eof:  # a further frame
                self._d = self._zstd.ZstdDecompressor().decompressobj()
            self._buf = self._d.decompress(chunk)
            rest = self._d.unused_data if self._d.eof else b""
            while rest:
                self._d = self._zstd.ZstdDecompressor().decompressobj()
                self._buf += self._d.decompress(rest)
                rest = self._d.unused_data if self._d.eof else b""
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


@contextmanager
def open_binary(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """Open ``path`` for reading bytes, decompressing as its content says.

    Decompression and I/O errors inside the ``with`` block become :class:`InputError` naming
    the file.
    """
    comp = compression_of(path)
    errors = read_errors + _zstd_error()
    try:
        with open(path, "rb") as raw:
            fh = _decompressor(raw, comp)
            try:
                yield fh
            finally:
                fh.close()
    except errors as exc:
        raise InputError(
            f"{str(path)!r}: could not read the file ({type(exc).__name__}: {exc}); "
            f"{'the compressed data are truncated or corrupt' if comp else 'is it a text table?'}."
        ) from exc


@contextmanager
def open_text(path: str | os.PathLike) -> Iterator[IO[str]]:
    """Open ``path`` as UTF-8 text (BOM removed), decompressing as its content says."""
    with open_binary(path) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")  # type: ignore[arg-type]
        try:
            yield text
        finally:
            text.detach()
