"""Gene tables: SpliceAI's format, the grch37/grch38 tables of its wheel, and GTF/GFF3.

SpliceAI's table: ``#NAME CHROM STRAND TX_START TX_END EXON_START EXON_END`` (tab separated;
starts 0-based, ends 1-based, exon lists comma-terminated).  A variant at ``pos`` (1-based)
belongs to every gene with ``TX_START < pos <= TX_END``, in table order, on either strand.
"""

from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import AnnotationError
from .genome import contig_aliases
from .models.registry import ANNOTATION_FILES, ANNOTATION_SOURCE, downloads_dir, sha256_file

SPLICEAI_COLUMNS = ("#NAME", "CHROM", "STRAND", "TX_START", "TX_END", "EXON_START", "EXON_END")


@dataclass(frozen=True)
class Gene:
    name: str
    contig: str
    strand: str
    tx_start: int          # 0-based
    tx_end: int            # exclusive (= 1-based inclusive end)
    boundaries: np.ndarray  # sorted 1-based exon boundaries: exon starts + 1 and exon ends

    def distances(self, pos: int) -> tuple[int, int, int]:
        """SpliceAI's ``dist_ann``: to TX start, to TX end, to the nearest exon boundary.

        The nearest boundary is the first of the sorted boundaries with the least |distance|
        (so on a tie the upstream one wins, as ``min(..., key=abs)`` does in SpliceAI)."""
        d = self.boundaries - pos
        return (self.tx_start + 1 - pos, self.tx_end - pos, int(d[np.argmin(np.abs(d))]))


class GeneTable:
    """Genes by contig, with lookup by 1-based position in table order."""

    def __init__(self, genes: list[Gene], *, source: str, sha256: str | None = None):
        self.genes = genes
        self.source = source
        self.sha256 = sha256
        by_contig: dict[str, list[int]] = {}
        for i, g in enumerate(genes):
            by_contig.setdefault(g.contig, []).append(i)
        self._index = {
            c: (np.array(ix), np.array([genes[i].tx_start + 1 for i in ix]),
                np.array([genes[i].tx_end for i in ix]))
            for c, ix in by_contig.items()
        }
        self._resolved: dict[str, str | None] = {}

    def __len__(self) -> int:
        return len(self.genes)

    @property
    def contigs(self) -> list[str]:
        return list(self._index)

    def _contig(self, contig: str) -> str | None:
        if contig not in self._resolved:
            self._resolved[contig] = next(
                (a for a in contig_aliases(contig) if a in self._index), None)
        return self._resolved[contig]

    def genes_at(self, contig: str, pos: int) -> list[Gene]:
        name = self._contig(contig)
        if name is None:
            return []
        ix, starts1, ends = self._index[name]
        hit = ix[(starts1 <= pos) & (pos <= ends)]
        return [self.genes[i] for i in hit]


# ---- SpliceAI's table format ---------------------------------------------------------------
def _open_text(path: str | os.PathLike):
    p = os.fspath(path)
    if p.endswith(".gz"):
        return gzip.open(p, "rt")
    return open(p, "rt")


def _int_list(text: str, what: str, where: str) -> list[int]:
    try:
        return [int(v) for v in text.strip().split(",") if v != ""]
    except ValueError:
        raise AnnotationError(f"{where}: {what} {text!r} is not a comma-separated list of integers") \
            from None


def read_spliceai_table(path: str | os.PathLike, *, sha256: str | None = None) -> GeneTable:
    genes: list[Gene] = []
    label = os.fspath(path)
    try:
        fh = _open_text(path)
    except OSError as exc:
        raise AnnotationError(f"cannot read gene table {label}: {exc}") from None
    with fh:
        header = fh.readline().rstrip("\n").split("\t")
        missing = [c for c in SPLICEAI_COLUMNS if c not in header]
        if missing:
            raise AnnotationError(
                f"{label}: line 1: not a SpliceAI gene table: missing column(s) "
                f"{', '.join(missing)} (expected {' '.join(SPLICEAI_COLUMNS)})")
        col = {c: header.index(c) for c in SPLICEAI_COLUMNS}
        for lineno, line in enumerate(fh, start=2):
            if not line.strip():
                continue
            f = line.rstrip("\n").split("\t")
            where = f"{label}: line {lineno}"
            if len(f) < len(header):
                raise AnnotationError(f"{where}: {len(f)} fields, expected {len(header)}")
            strand = f[col["STRAND"]]
            if strand not in ("+", "-"):
                raise AnnotationError(f"{where}: STRAND {strand!r}, expected + or -")
            try:
                tx_start, tx_end = int(f[col["TX_START"]]), int(f[col["TX_END"]])
            except ValueError:
                raise AnnotationError(f"{where}: TX_START/TX_END are not integers") from None
            starts = _int_list(f[col["EXON_START"]], "EXON_START", where)
            ends = _int_list(f[col["EXON_END"]], "EXON_END", where)
            if not starts or len(starts) != len(ends):
                raise AnnotationError(f"{where}: EXON_START and EXON_END differ in length or are empty")
            genes.append(Gene(f[col["#NAME"]], f[col["CHROM"]], strand, tx_start, tx_end,
                              np.union1d(np.array(starts) + 1, np.array(ends))))
    return GeneTable(genes, source=label, sha256=sha256)


def builtin_table_path(name: str) -> Path:
    """``grch37``/``grch38``: the gene table of the spliceai wheel, fetched and sha256-checked."""
    from .wheels import extract_checked, fetch_wheel  # noqa: PLC0415

    member = ANNOTATION_FILES[name]
    target = downloads_dir() / "annotations"
    cached = target / member.filename
    if cached.is_file() and sha256_file(cached) == member.sha256:
        return cached
    wheel = fetch_wheel(*ANNOTATION_SOURCE)
    return extract_checked(wheel, member, cached, expected="%s==%s" % ANNOTATION_SOURCE)


def load_annotation(spec: str | os.PathLike) -> GeneTable:
    """``grch37``, ``grch38``, a SpliceAI-format table, or a GTF/GFF3 file (optionally .gz)."""
    text = os.fspath(spec)
    if text in ANNOTATION_FILES:
        path = builtin_table_path(text)
        return read_spliceai_table(path, sha256=ANNOTATION_FILES[text].sha256)
    if not Path(text).is_file():
        raise AnnotationError(
            f"annotation {text!r} is neither grch37/grch38 nor an existing file")
    sha = sha256_file(text)
    name = re.sub(r"\.gz$", "", text.lower())
    if name.endswith((".gtf", ".gff", ".gff3")):
        from .gtf import read_gtf  # noqa: PLC0415

        return read_gtf(text, sha256=sha)
    return read_spliceai_table(text, sha256=sha)
