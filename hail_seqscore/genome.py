"""Reference FASTA access through pyfaidx: plain or bgzip, contig aliases, opened lazily.

The handle is opened on first use in the process that uses it (it is not shared across a
fork), so a :class:`Genome` can be pickled to Spark workers or the daemon's worker.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .errors import ContigNotFoundError, ReferenceUnavailableError

_MITO = ("chrM", "MT", "chrMT", "M")


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

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.__init__(state["path"])

    def _open(self):
        if self._fasta is not None and self._pid == os.getpid():
            return self._fasta
        with self._lock:
            if self._fasta is None or self._pid != os.getpid():
                if not Path(self.path).is_file():
                    raise ReferenceUnavailableError(f"reference FASTA {self.path} does not exist")
                import pyfaidx  # noqa: PLC0415

                try:
                    self._fasta = pyfaidx.Fasta(self.path, as_raw=True, rebuild=False,
                                                sequence_always_upper=True)
                except Exception as exc:  # pyfaidx raises many kinds of errors
                    raise ReferenceUnavailableError(
                        f"cannot open reference FASTA {self.path}: {exc}") from None
                self._pid = os.getpid()
                self._resolved = {}
        return self._fasta

    @property
    def contigs(self) -> list[str]:
        return list(self._open().keys())

    def resolve(self, contig: str) -> str:
        """The FASTA's own name for ``contig`` (trying aliases), or ContigNotFoundError."""
        fasta = self._open()
        if contig not in self._resolved:
            self._resolved[contig] = next((a for a in contig_aliases(contig) if a in fasta), None)
        name = self._resolved[contig]
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
