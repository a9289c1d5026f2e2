"""What an input file is, judged by its bytes rather than its name, and line-by-line reading of
text inputs (plain, gzip or bgzip) whose errors name the file, the line and what to do.

Used by the readers of the reference FASTA (:mod:`.genome`) and of gene tables
(:mod:`.annotation`, :mod:`.gtf`).  Nothing here knows about FASTA or gene tables.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
import zlib
from typing import IO, Iterator

from .errors import InputUnreadableError

GZIP_MAGIC = b"\x1f\x8b"
# The empty block that ends every complete BGZF file (SAM specification, section 4.1.2).
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_OTHER_COMPRESSION = (
    (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"PK\x03\x04", "zip"), (b"\x04\x22\x4d\x18", "lz4"),
)
HEAD_BYTES = 1 << 16


def compression(head: bytes) -> str | None:
    """``"bgzf"``, ``"gzip"`` (plain, not block gzip), ``"bzip2"``, ``"xz"``, ``"zstd"``,
    ``"zip"``, ``"lz4"`` from a file's first bytes, or None for uncompressed data."""
    if head[:2] == GZIP_MAGIC:
        return "bgzf" if _is_bgzf(head) else "gzip"
    return next((name for magic, name in _OTHER_COMPRESSION if head.startswith(magic)), None)


def _is_bgzf(head: bytes) -> bool:
    """A gzip member header with the FEXTRA flag and a ``BC`` subfield (the BGZF block size)."""
    if len(head) < 18 or head[2] != 8 or not head[3] & 4:
        return False
    extra = head[12:12 + int.from_bytes(head[10:12], "little")]
    i = 0
    while i + 4 <= len(extra):
        if extra[i:i + 2] == b"BC":
            return True
        i += 4 + int.from_bytes(extra[i + 2:i + 4], "little")
    return False


def has_bgzf_eof(path: str) -> bool:
    """True when a BGZF file ends with its end-of-file block (it is not truncated)."""
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size < len(BGZF_EOF):
            return False
        fh.seek(size - len(BGZF_EOF))
        return fh.read() == BGZF_EOF


def read_head(path: str, n: int = HEAD_BYTES) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def first_text(head: bytes) -> bytes:
    """The uncompressed start of a file from its raw first bytes (the first gzip member only,
    enough to tell what the text is); the raw bytes when uncompressed."""
    if head[:2] != GZIP_MAGIC:
        return head
    try:
        return zlib.decompressobj(wbits=31).decompress(head)
    except zlib.error:
        return b""


def check_file(path: str, what: str, error: type[Exception], *,
               random_access: bool = True) -> None:
    """Raise ``error`` unless ``path`` names a readable file.

    ``random_access`` also refuses pipes and devices (``<(zcat x)``, ``/dev/stdin``): an
    indexed FASTA is read by seeking, and a gene table is read twice (checksum, parse)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{what} {path} is a directory, not a file")
    if random_access and not stat.S_ISREG(st.st_mode):
        raise error(f"{what} {path} is not a regular file (a pipe or a device?): it is read "
                    f"more than once, so save it to a file first")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def describe_start(text: bytes, limit: int = 40) -> str:
    """The first non-blank line of ``text``, shortened, for messages such as "it starts
    with '##fileformat=VCFv4.2'"."""
    line = next((ln for ln in text.splitlines() if ln.strip()), b"")
    shown = line[:limit].decode("utf-8", "replace")
    return repr(shown + ("…" if len(line) > limit else ""))


def _open_binary(path: str, label: str, error: type[Exception]) -> IO[bytes]:
    if path == "-":
        raw: IO[bytes] = sys.stdin.buffer
    else:
        try:
            raw = open(path, "rb")
        except OSError as exc:
            raise InputUnreadableError(f"cannot read {label}: {exc.strerror or exc}") from None
    buffered = raw if hasattr(raw, "peek") else io.BufferedReader(raw)  # type: ignore[arg-type]
    head = buffered.peek(HEAD_BYTES)[:HEAD_BYTES]
    kind = compression(head)
    if kind in ("gzip", "bgzf"):
        return gzip.GzipFile(fileobj=buffered)  # type: ignore[return-value]
    if kind is not None:
        raise error(f"{label} is {kind}-compressed, which is not read here: decompress it "
                    f"(or compress it with gzip or bgzip)")
    if b"\x00" in head:
        raise error(f"{label} is a binary file, not text (it has NUL bytes)")
    return buffered


def text_lines(path: str, label: str, error: type[Exception]) -> Iterator[tuple[int, str]]:
    """``(line number, line without its line end)`` of a text file, plain or gzip/bgzip
    (told by its bytes, not its name); ``-`` = stdin.  A file that cannot be opened raises
    InputUnreadableError; a line that is not UTF-8, a truncated or corrupt gzip stream, binary
    data or another compression raise ``error``, each naming ``label`` (and the line)."""
    lineno = 0
    fh = _open_binary(path, label, error)
    try:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise error(
                    f"{label}: line {lineno} is not UTF-8 text (byte 0x{raw[exc.start]:02x} "
                    f"at column {exc.start + 1}): convert the file to UTF-8, e.g. "
                    f"iconv -f latin1 -t utf-8") from None
            if lineno == 1:
                line = line.removeprefix("\ufeff")
            yield lineno, line.rstrip("\r\n")
    except EOFError:
        raise error(f"{label} is truncated: its gzip stream ends after line {lineno} without "
                    f"its end marker; download or compress it again") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise error(f"{label} is corrupt: gzip data after line {lineno} cannot be read "
                    f"({exc}); download or compress it again") from None
    finally:
        if path != "-":
            fh.close()
