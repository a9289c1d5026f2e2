"""Read a VCF as its original text lines: plain, gzip or bgzip (a file or stdin), or BCF.

Every header line and every record is kept as the text it was, so a writer can pass it through
byte for byte (htslib would re-serialise records: add ``END`` to symbolic alleles, reformat
floats, declare keys the header lacks).  Only the columns needed to score are parsed (CHROM,
POS, REF, ALT); anything else a VCF carries goes through untouched.  Text is decoded as UTF-8
with ``surrogateescape``, so other bytes also come out as they went in.

The compression is found from the content, not the name, and read by streaming (Python's
:mod:`gzip` reads plain gzip and bgzip alike); BCF goes through pysam.  Every problem is one
:class:`~errors.InputFormatError` (exit 65) or :class:`~errors.InputUnreadableError` (exit 66)
naming the file, the line and what to do.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import sys
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from .errors import InputFormatError, InputUnreadableError
from .sniff import BGZF_EOF, compression

log = logging.getLogger(__name__)

_POS = re.compile(r"[0-9]+")
_ENCODING = ("utf-8", "surrogateescape")


@dataclass(slots=True)
class VcfRecord:
    """One data line: its columns (``fields[7]`` is INFO, as written) and line ending.

    ``lineno`` is the 1-based line of the input (the record number for BCF)."""

    lineno: int
    fields: list[str]
    ending: str
    pos: int

    @property
    def chrom(self) -> str:
        return self.fields[0]

    @property
    def ref(self) -> str:
        return self.fields[3]

    @property
    def alts(self) -> tuple[str, ...]:
        alt = self.fields[4]
        return () if alt in (".", "") else tuple(alt.split(","))

    def text(self) -> str:
        return "\t".join(self.fields) + self.ending


def split_ending(line: str) -> tuple[str, str]:
    """``("text", "\\r\\n" | "\\n" | "")``."""
    if line.endswith("\r\n"):
        return line[:-2], "\r\n"
    if line.endswith("\n"):
        return line[:-1], "\n"
    return line, ""


class VcfReader:
    """``with VcfReader(path) as r: r.header (list of lines with endings); r.records()``.

    ``path`` ``-`` is stdin.  Opening reads the header, so a file that is not a VCF fails
    before any output is made."""

    def __init__(self, path: str):
        self.path = path
        self.name = "stdin" if path == "-" else path
        self.header: list[str] = []
        self._lines: Iterator[bytes] | None = None
        self._lineno = 0
        self._close = None
        self._bcf = None
        self._no_eof = False     # a BGZF file without its end-of-file block

    # ---- opening -------------------------------------------------------------------------
    def __enter__(self) -> "VcfReader":
        if not self.header:
            self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> "VcfReader":
        raw = self._open_raw()
        self._close = None if self.path == "-" else raw.close
        head = _peek(raw, 64)
        kind = compression(head)
        if kind in ("gzip", "bgzf"):
            if kind == "bgzf" and self.path != "-" and not _ends_with_bgzf_eof(raw):
                self._no_eof = True
            raw = gzip.GzipFile(fileobj=raw, mode="rb")
            head = self._guard(lambda: _peek(raw, 64))
        if head[:3] == b"BCF":
            self._open_bcf()
        else:
            self._check_text(head)
            self._lines = iter(raw)
            self._read_header()
        return self

    def _open_raw(self) -> BinaryIO:
        if self.path == "-":
            return sys.stdin.buffer
        try:
            return open(self.path, "rb")
        except FileNotFoundError:
            raise InputUnreadableError(f"input VCF {self.path} does not exist") from None
        except IsADirectoryError:
            raise InputUnreadableError(f"input VCF {self.path} is a directory, not a VCF file") \
                from None
        except OSError as exc:
            raise InputUnreadableError(
                f"cannot read the input VCF {self.path}: {exc.strerror or exc}") from None

    def _check_text(self, head: bytes) -> None:
        if not head:
            raise InputFormatError(f"{self.name}: the input is empty; expected a VCF header "
                                   "(##fileformat=VCFv4.x ... #CHROM)")
        kind = compression(head)
        if kind not in (None, "gzip", "bgzf"):   # gzip was opened already: twice is not a VCF
            raise InputFormatError(f"{self.name}: compressed with {kind}, which cannot be "
                                   "read; decompress it, or recompress it with bgzip")
        if not head.startswith(b"#"):
            gz = " (its name says gzip, but it is not gzip-compressed)" \
                if self.name.endswith((".gz", ".bgz")) else ""
            what = "binary data" if _binary(head) else repr(head[:20].decode())
            raise InputFormatError(
                f"{self.name}: not a VCF{gz}: it starts with {what}, not the header line "
                "'##fileformat=VCFv4.x' (a VCF is text, plain or compressed with bgzip/gzip)")

    def _read_header(self) -> None:
        for line in self._raw_lines():
            if not line.startswith("#"):
                if not line.strip():
                    continue
                raise InputFormatError(
                    f"{self.name}: line {self._lineno}: a record before the '#CHROM' header "
                    "line; the VCF header is missing or incomplete")
            self.header.append(line)
            if line.startswith("#CHROM"):
                cols = split_ending(line)[0].split("\t")
                if len(cols) < 8:
                    raise InputFormatError(
                        f"{self.name}: line {self._lineno}: the #CHROM header line has "
                        f"{len(cols)} tab-separated columns, 8 expected (#CHROM POS ID REF ALT "
                        "QUAL FILTER INFO)")
                return
        raise InputFormatError(f"{self.name}: no '#CHROM' header line: not a complete VCF "
                               "(the file may be truncated)")

    def _open_bcf(self) -> None:
        if self.path == "-":
            raise InputFormatError("stdin: BCF cannot be read from stdin; pass it with "
                                   "-I FILE.bcf, or pipe `bcftools view` (text VCF)")
        if self._close:
            self._close()
        import pysam  # noqa: PLC0415

        pysam.set_verbosity(0)
        try:
            self._bcf = pysam.VariantFile(self.path)
        except (OSError, ValueError) as exc:
            raise InputFormatError(f"{self.path}: cannot read as BCF: {exc}") from None
        self._close = self._bcf.close
        self.header = [line + "\n" for line in str(self._bcf.header).splitlines()]

    # ---- reading ---------------------------------------------------------------------------
    def _guard(self, read):
        """Run ``read()``, turning decompression and I/O errors into one clear error."""
        try:
            return read()
        except EOFError:
            raise InputFormatError(
                f"{self.name}: the compressed data ends after line {self._lineno}: the file is "
                "truncated (re-create or re-download it)") from None
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise InputFormatError(
                f"{self.name}: corrupt gzip data after line {self._lineno} ({exc}); "
                "re-create the file, e.g. recompress it with bgzip") from None
        except OSError as exc:
            raise InputUnreadableError(
                f"cannot read {self.name} after line {self._lineno}: {exc.strerror or exc}") \
                from None

    def _raw_lines(self) -> Iterator[str]:
        lines = self._lines
        if lines is None:   # not opened, or BCF
            return
        while True:
            raw = self._guard(lambda: next(lines, None))
            if raw is None:
                return
            self._lineno += 1
            if b"\x00" in raw:
                raise InputFormatError(f"{self.name}: line {self._lineno}: binary data (NUL "
                                       "bytes) in a text VCF; the file is corrupt or not a VCF")
            yield raw.decode(*_ENCODING)

    def records(self) -> Iterator[VcfRecord]:
        """Every data line, in order (blank lines are skipped)."""
        if self._bcf is not None:
            yield from self._bcf_records()
            return
        for line in self._raw_lines():
            text, ending = split_ending(line)
            if not text.strip():
                continue
            if not ending and self._no_eof:
                raise InputFormatError(
                    f"{self.name}: line {self._lineno}: the last line is cut short and the "
                    "file has no BGZF end-of-file marker: the file is truncated (re-create or "
                    "re-download it)")
            yield self.parse(text, ending, self._lineno)
        if self._no_eof:
            log.warning("%s has no BGZF end-of-file marker: it may be truncated (all %d lines "
                        "read were written; compare the record count with the source)",
                        self.name, self._lineno)

    def _bcf_records(self) -> Iterator[VcfRecord]:
        it = iter(self._bcf)
        n = 0
        while True:
            try:
                rec = next(it)
            except StopIteration:
                return
            except (OSError, ValueError) as exc:
                raise InputFormatError(f"{self.path}: record {n + 1}: malformed BCF record "
                                       f"({exc})") from None
            n += 1
            text, ending = split_ending(str(rec))
            yield self.parse(text, ending, n)

    def parse(self, text: str, ending: str, lineno: int) -> VcfRecord:
        fields = text.split("\t")
        where = f"{self.name}: line {lineno}"
        if len(fields) < 8:
            hint = " (columns must be separated by tabs, not spaces)" \
                if len(text.split()) >= 8 else ""
            raise InputFormatError(f"{where}: 8 columns expected (CHROM POS ID REF ALT QUAL "
                                   f"FILTER INFO), found {len(fields)}{hint}: {text[:80]!r}")
        if not _POS.fullmatch(fields[1]):
            raise InputFormatError(f"{where}: POS {fields[1][:40]!r} is not an integer")
        return VcfRecord(lineno, fields, ending, int(fields[1]))

    def close(self) -> None:
        if self._close is not None:
            try:
                self._close()
            except OSError:
                pass
            self._close = None


def _peek(fh, n: int) -> bytes:
    """The first ``n`` bytes of a buffered binary stream without consuming them."""
    data = fh.peek(n)
    if len(data) >= n:
        return data[:n]
    return data  # shorter: the stream is that short (or gave what it had)


def _ends_with_bgzf_eof(raw) -> bool:
    """True when a seekable BGZF file ends with the EOF block (True when it cannot be told)."""
    try:
        size = os.fstat(raw.fileno()).st_size
        if size < len(BGZF_EOF):
            return False
        return os.pread(raw.fileno(), len(BGZF_EOF), size - len(BGZF_EOF)) == BGZF_EOF
    except (OSError, ValueError, AttributeError):
        return True


def _binary(head: bytes) -> bool:
    """Control characters, or bytes that are not UTF-8 (a cut character at the end is fine)."""
    if any(b < 9 or 13 < b < 32 for b in head):
        return True
    try:
        head.decode()
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 3
    return False


def count_records(path: str) -> int | None:
    """Records of a VCF file, for a progress bar (None for stdin or an unreadable file)."""
    if path == "-":
        return None
    try:
        with VcfReader(path) as r:
            return sum(1 for _ in r.records())
    except (InputFormatError, InputUnreadableError):
        return None
