"""Reference FASTA access through pyfaidx: plain or bgzip, contig aliases, opened lazily.

The handle is opened on first use in the process that uses it (it is not shared across a
fork), so a :class:`Genome` can be pickled to Spark workers or the daemon's worker.

Opening checks what the file is by its bytes, not its name, and says what to do when it
cannot be used: a directory, pipe or unreadable file (:class:`ReferenceUnavailableError`,
exit 66); an empty file, something that is not FASTA (a VCF passed as ``-R``), plain gzip
(which cannot be read by seeking: recompress with bgzip), other compressions, a truncated
bgzip file, a ``.gz`` name on an uncompressed file (:class:`ReferenceFormatError`, exit 65).

The index is ``FILE.fai`` (and ``FILE.gzi`` for bgzip) beside the FASTA.  When it is missing it
is built there, or, when that folder cannot be written (a read-only share), in the cache folder
``$SEQSCORE_HOME/faidx/`` (keyed by the FASTA's path, size and modification time), and the
FASTA is never modified.  An index is checked against the file each time it is opened (every
sequence's header sits where the index says, for up to 1,000 sequences, and the last sequence
ends where the file does): an index made for another file or before the FASTA changed is an
error naming it, never silently wrong sequence.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import tempfile
import threading
import warnings
import zlib

from .errors import ContigNotFoundError, ReferenceFormatError, ReferenceUnavailableError
from .sniff import (check_file, compression, describe_start, first_text, has_bgzf_eof,
                    read_head)

log = logging.getLogger(__name__)

_MITO = ("chrM", "MT", "chrMT", "M")
_GZ_NAMES = (".gz", ".bgz")           # the names pyfaidx reads as BGZF
_MAX_CHECKED = 1000                   # sequences whose place in the file is checked


def contig_aliases(name: str) -> list[str]:
    """Names that may denote the same contig: ``chr1``/``1``, ``chrM``/``MT``."""
    out = [name]
    if name in _MITO:
        out += [m for m in _MITO if m != name]
    elif name.startswith("chr"):
        out.append(name[3:])
    else:
        out.append("chr" + name)
    return out


class Genome:
    """A reference genome: ``fetch(contig, start, end)`` with 0-based, end-exclusive coords."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._fasta = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._resolved: dict[str, str | None] = {}
        self.index_paths: tuple[str, str | None] | None = None   # (.fai, .gzi) once opened

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.__init__(state["path"])

    def _open(self):
        if self._fasta is not None and self._pid == os.getpid():
            return self._fasta
        with self._lock:
            if self._fasta is None or self._pid != os.getpid():
                self._fasta, self.index_paths = open_fasta(self.path)
                self._pid = os.getpid()
                self._resolved = {}
        return self._fasta

    @property
    def contigs(self) -> list[str]:
        return list(self._open().keys())

    def resolve(self, contig: str) -> str:
        """The FASTA's own name for ``contig`` (trying aliases), or ContigNotFoundError."""
        fasta = self._open()
        name = self._resolved.get(contig)
        if name is None:
            name = next((a for a in contig_aliases(contig) if a in fasta), None)
            if name is not None:   # only names found are remembered: a daemon's clients can
                self._resolved[contig] = name   # send any number of unknown ones
        if name is None:
            raise ContigNotFoundError(
                f"contig {contig!r} is not in the reference {os.path.basename(self.path)} "
                f"(it has {_preview(self.contigs)})"
            )
        return name

    def length(self, contig: str) -> int:
        return len(self._open()[self.resolve(contig)])

    def fetch(self, contig: str, start: int, end: int) -> str:
        """Upper-case sequence of ``[start, end)``; the caller keeps it inside the contig."""
        name = self.resolve(contig)
        record = self._open()[name]
        return str(record[start:end])


def _preview(names: list[str], n: int = 5) -> str:
    shown = ", ".join(names[:n])
    return shown + (f", … ({len(names)} in all)" if len(names) > n else "")


# ---- what the file is ------------------------------------------------------------------------
def check_fasta_file(path: str) -> bool:
    """Raise a clear error unless ``path`` is a FASTA that can be indexed; True if bgzip."""
    check_file(path, "reference FASTA", ReferenceUnavailableError)
    head = read_head(path)
    if not head:
        raise ReferenceFormatError(
            f"reference FASTA {path} is empty (0 bytes): -R takes the reference genome FASTA")
    kind = compression(head)
    named_gz = path.lower().endswith(_GZ_NAMES)
    if kind == "gzip":
        base = path[:-3] if path.lower().endswith(".gz") else path
        raise ReferenceFormatError(
            f"reference FASTA {path} is compressed with plain gzip, which cannot be read by "
            f"position: recompress it with bgzip (gzip -dc {path} | bgzip > {base}.bgz) or "
            f"decompress it (gzip -dc {path} > {base})")
    if kind is not None and kind != "bgzf":
        raise ReferenceFormatError(
            f"reference FASTA {path} is {kind}-compressed: decompress it, or recompress it "
            f"with bgzip")
    if kind == "bgzf" and not named_gz:
        raise ReferenceFormatError(
            f"reference FASTA {path} is bgzip-compressed but its name does not end in .gz or "
            f".bgz: rename it (e.g. {path}.gz) with its index files")
    if kind is None and named_gz:
        raise ReferenceFormatError(
            f"reference FASTA {path} is named {os.path.splitext(path)[1]} but is not "
            f"compressed: rename it without that ending, or compress it with bgzip")
    if kind == "bgzf" and not has_bgzf_eof(path):
        raise ReferenceFormatError(
            f"reference FASTA {path} is truncated (its bgzip end-of-file block is missing): "
            f"download or compress it again")
    text = first_text(head)
    if b"\x00" in text:
        raise ReferenceFormatError(f"reference FASTA {path} is a binary file, not a FASTA")
    first = next((ln for ln in text.splitlines()
                  if ln.strip() and not ln.startswith(b";")), b"")
    if not first.startswith(b">"):
        looks = " (it looks like a VCF)" if first.startswith(b"##fileformat=VCF") else ""
        raise ReferenceFormatError(
            f"reference FASTA {path} is not a FASTA file{looks}: it starts with "
            f"{describe_start(text)} where a '>name' line is expected; -R takes the reference "
            f"genome FASTA")
    return kind == "bgzf"


# ---- where the index is ----------------------------------------------------------------------
def _writable_dir(directory: str) -> bool:
    """Whether a file can be created in ``directory`` (tried, since permission bits do not
    apply to root and a read-only mount ignores them)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".seqscore-probe-", dir=directory or ".")
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


def cache_index_dir(path: str) -> str:
    """The cache folder for the index of a FASTA whose own folder cannot be written."""
    from .models.registry import home  # noqa: PLC0415

    st = os.stat(path)
    key = hashlib.sha256(f"{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return os.path.join(home(), "faidx", key.hexdigest()[:16])


def find_index(path: str, bgzf: bool) -> tuple[str, str | None]:
    """``(fai, gzi or None)``: beside the FASTA, else in the cache, else built (beside it if
    its folder can be written, else in the cache)."""
    beside = (path + ".fai", path + ".gzi" if bgzf else None)
    if _complete(*beside):
        return beside
    cache = cache_index_dir(path)
    name = os.path.join(cache, os.path.basename(path))
    cached = (name + ".fai", name + ".gzi" if bgzf else None)
    if _complete(*cached):
        return cached
    missing = ".fai and .gzi" if bgzf else ".fai"
    if _writable_dir(os.path.dirname(path)):
        log.info("indexing %s (no %s beside it)", path, missing)
        _build_index(path, *beside)
        return beside
    try:
        os.makedirs(cache, exist_ok=True)
    except OSError as exc:
        raise ReferenceUnavailableError(
            f"reference FASTA {path} has no index ({missing}) and neither its folder nor the "
            f"cache folder {cache} can be written ({exc.strerror or exc}): run "
            f"`samtools faidx` on a writable copy, or set SEQSCORE_HOME to a writable folder"
        ) from None
    log.warning("reference FASTA %s has no index (%s) and its folder cannot be written: "
                "indexing it in %s", path, missing, cache)
    _build_index(path, *cached)
    return cached


def _complete(fai: str, gzi: str | None) -> bool:
    return os.path.isfile(fai) and (gzi is None or os.path.isfile(gzi))


def _build_index(path: str, fai: str, gzi: str | None) -> None:
    """Build under temporary names and rename, so a concurrent reader never sees half an
    index."""
    import pyfaidx  # noqa: PLC0415

    tag = f".tmp-{os.getpid()}-{threading.get_ident()}"
    tmp = (fai + tag, gzi + tag if gzi else None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pyfaidx.Faidx(path, indexname=tmp[0], gzi_indexname=tmp[1]).close()
        if gzi:
            os.replace(tmp[1], gzi)
        os.replace(tmp[0], fai)
    except pyfaidx.FastaIndexingError as exc:
        raise ReferenceFormatError(f"reference FASTA {path} cannot be indexed: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ReferenceFormatError(
            f"reference FASTA {path} is not a text FASTA (a line has the byte "
            f"0x{exc.object[exc.start]:02x}, which is not UTF-8)") from None
    except (ValueError, EOFError, zlib.error) as exc:
        raise ReferenceFormatError(f"reference FASTA {path} cannot be indexed: {exc}") from None
    except OSError as exc:
        cause = exc.__context__ if isinstance(exc.__context__, OSError) else exc
        raise ReferenceUnavailableError(
            f"cannot write the index {fai} of reference FASTA {path}: "
            f"{cause.strerror or cause}") from None
    finally:
        for t in tmp:
            if t and os.path.exists(t):
                os.unlink(t)


# ---- opening and checking --------------------------------------------------------------------
def open_fasta(path: str):
    """``(pyfaidx.Fasta, (fai, gzi or None))`` after the checks in the module doc."""
    import pyfaidx  # noqa: PLC0415

    bgzf = check_fasta_file(path)
    fai, gzi = find_index(path, bgzf)
    redo = f"delete {fai}{' and ' + gzi if gzi else ''} and run `samtools faidx {path}`"
    try:
        with warnings.catch_warnings():   # pyfaidx warns of older index files: checked below
            warnings.simplefilter("ignore")
            fasta = pyfaidx.Fasta(path, indexname=fai, gzi_indexname=gzi, as_raw=True,
                                  rebuild=False, build_index=False, sequence_always_upper=True)
    except (ValueError, IndexError, struct.error) as exc:
        raise ReferenceFormatError(
            f"the index {fai} of reference FASTA {path} cannot be read ({exc}): {redo}") from None
    except OSError as exc:
        raise ReferenceUnavailableError(
            f"cannot open reference FASTA {path} or its index {fai}: {exc}") from None
    try:
        _check_index(fasta.faidx, path, fai, redo)
    except BaseException:
        fasta.close()
        raise
    return fasta, (fai, gzi)


def _check_index(faidx, path: str, fai: str, redo: str) -> None:
    items = list(faidx.index.items())
    if not items:
        raise ReferenceFormatError(f"the index {fai} of reference FASTA {path} lists no "
                                   f"sequence: {redo}")
    if not any(rec.rlen for _, rec in items):
        raise ReferenceFormatError(f"reference FASTA {path} holds no sequence (only headers)")
    step = max(1, len(items) // _MAX_CHECKED)
    picks = items[::step] + ([items[-1]] if (len(items) - 1) % step else [])
    for name, rec in picks:
        if not _header_matches(faidx, name, first=rec.prev_bend == 0):
            raise ReferenceFormatError(
                f"the index {fai} does not match reference FASTA {path}: sequence {name!r} is "
                f"not where the index puts it (was the FASTA changed, or the index made for "
                f"another file?): {redo}")
    name, rec = items[-1]
    if not _ends_where_indexed(faidx, name, rec.rlen):
        raise ReferenceFormatError(
            f"the index {fai} does not match reference FASTA {path}: the last sequence "
            f"{name!r} does not end where the index says (was the FASTA changed or "
            f"truncated?): {redo}")


def _header_matches(faidx, name: str, first: bool) -> bool:
    """The text between the previous sequence and this one is its ``>name`` line (pyfaidx
    drops that text's first character, the '>')."""
    try:
        text = faidx.get_long_name(name).strip()
    except (OSError, ValueError, EOFError, zlib.error, UnicodeDecodeError):
        return False
    lines = text.splitlines()
    if not lines or (len(lines) > 1 and not first):
        return False
    return lines[-1].lstrip(">").split()[:1] == [name]


def _ends_where_indexed(faidx, name: str, length: int) -> bool:
    if length == 0:
        return True
    try:
        last = faidx.from_file(name, length, length)
        rest = faidx.file.read(4096)
    except (OSError, ValueError, EOFError, zlib.error):
        return False
    return len(last) == 1 and not last.isspace() and not rest.strip()
