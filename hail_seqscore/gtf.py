"""GTF / GFF3 → gene table: one transcript per gene, as SpliceAI's own table has.

Reads GENCODE / Ensembl GTF (``gene_id "…"; transcript_id "…"; tag "basic";``) and GFF3
(``ID=…;Parent=…;Name=…;tag=Ensembl_canonical,…``), plain or gzip (detected by content), and
picks one transcript per gene:

``canonical`` (default)
    the transcript tagged ``MANE_Select``, else ``Ensembl_canonical``, else the longest
    transcript tagged ``basic``, else the longest;
``mane``
    only genes with a ``MANE_Select`` transcript (that transcript);
``longest``
    the longest transcript.

"Longest" is the greatest spliced length (sum of exon lengths), then the widest genomic span,
then the first in the file.  Tags compare case-insensitively with spaces read as ``_``
(RefSeq writes ``MANE Select``).  GTF and GFF3 coordinates are 1-based inclusive: an exon
``start..end`` becomes ``(start - 1, end)`` (0-based start, exclusive end).  Genes keep the
order in which they first appear in the file.
"""

from __future__ import annotations

import functools
import gzip
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Iterable
from urllib.parse import unquote

import numpy as np

from .genes import SPLICEAI_COLUMNS, Gene, GeneTable
from .errors import AnnotationError
from .sniff import text_lines

TRANSCRIPT_POLICIES = ("canonical", "mane", "longest")

# Feature types that never parent an exon: not worth remembering by ID in GFF3.
_LEAF_TYPES = frozenset({
    "exon", "CDS", "five_prime_UTR", "three_prime_UTR", "UTR", "start_codon", "stop_codon",
    "Selenocysteine", "intron", "stop_codon_redefined_as_selenocysteine",
})
_GTF_ATTR = re.compile(r'([^\s";]+)\s+(?:"([^"]*)"|([^\s";]+))')
_GTF_ATTR_ONE = re.compile(r'\s*[^\s";]+\s+(?:"[^"]*"|[^\s";]+)\s*')
# key value pairs separated by ';' (stray ';;' occur in real files), the last ';' optional
_GTF_ATTRS_WHOLE = re.compile(
    r'(?:\s*;)*(?:\s*[^\s";]+\s+(?:"[^"]*"|[^\s";]+)\s*(?:;(?:\s*;)*|$))*\s*')
_GENE_BIOTYPE_KEYS = ("gene_type", "gene_biotype", "biotype")
_GENE_PREFIX = re.compile(r"^gene[:-]")


@dataclass(frozen=True, eq=False)
class GtfGene(Gene):
    """A :class:`Gene` that remembers where it came from and its exons."""

    gene_id: str = ""
    transcript_id: str = ""
    chosen_by: str = ""    # MANE_Select | Ensembl_canonical | longest basic | longest
    exons: tuple[tuple[int, int], ...] = ()    # (start 0-based, end exclusive), sorted


@dataclass
class _Transcript:
    tid: str
    gene_key: str
    contig: str
    strand: str
    line: int                                    # first line that mentions it
    exons: set[tuple[int, int]] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)

    def length_key(self) -> tuple[int, int, int]:
        spliced = sum(e - s for s, e in self.exons)
        span = max(e for _, e in self.exons) - min(s for s, _ in self.exons)
        return (spliced, span, -self.line)


@dataclass
class _GeneInfo:
    name: str = ""
    biotype: str = ""
    line: int = 0


@functools.lru_cache(maxsize=4096)
def _norm_tag(tag: str) -> str:
    return tag.strip().replace(" ", "_").lower()


def feature_fields(line: str, where: str) -> tuple[list[str], int, int]:
    """The 9 tab-separated columns of a GTF/GFF3 feature line and its 1-based inclusive start
    and end, checked; ``where`` names the file and line in errors."""
    f = line.split("\t")
    if len(f) != 9:
        raise AnnotationError(
            f"{where}: {len(f)} tab-separated columns, expected 9 "
            f"(seqname source feature start end score strand frame attributes)")
    try:
        start, end = int(f[3]), int(f[4])
    except ValueError:
        raise AnnotationError(
            f"{where}: start/end {f[3]!r}/{f[4]!r} are not integers") from None
    if start < 1 or end < start:
        raise AnnotationError(
            f"{where}: start {start} and end {end} are not 1-based with start <= end")
    return f, start, end


def gtf_attributes(text: str, where: str) -> tuple[dict[str, str], list[str]]:
    """``key "value"; key value;`` → (first value per key, every ``tag`` value)."""
    if not _GTF_ATTRS_WHOLE.fullmatch(text):
        bad = next((m for m in re.finditer(r"[^;]+", text)
                    if m.group().strip() and not _GTF_ATTR_ONE.fullmatch(m.group())), None)
        near = bad.group().strip() if bad else text
        raise AnnotationError(
            f'{where}: malformed GTF attribute {near[:60]!r} (expected key "value";)')
    attrs: dict[str, str] = {}
    tags: list[str] = []
    for key, quoted, bare in _GTF_ATTR.findall(text):
        value = quoted or bare
        if key == "tag":
            tags.append(value)
        attrs.setdefault(key, value)
    return attrs, tags


def _gff3_attributes(text: str, where: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if text.strip() in ("", "."):
        return attrs
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not eq or not key:
            raise AnnotationError(
                f"{where}: malformed GFF3 attribute {part!r} (expected key=value)")
        attrs.setdefault(unquote(key), value)
    return attrs


def _values(attrs: dict[str, str], key: str) -> list[str]:
    """GFF3 multi-value attribute (comma separated, percent-encoded)."""
    return [unquote(v) for v in attrs.get(key, "").split(",") if v]


class _Parser:
    """Collects transcripts (with exons and tags) and genes from GTF or GFF3 lines."""

    def __init__(self, label: str):
        self.label = label
        self.format: str | None = None            # "gtf" | "gff3"
        self.transcripts: dict[tuple[str, str], _Transcript] = {}
        self.genes: dict[str, _GeneInfo] = {}
        self.gff_features: dict[str, tuple[str, list[str], dict[str, str]]] = {}
        self.gff_exons: list[tuple[int, str, str, int, int, list[str], dict[str, str]]] = []
        self.n_exons = 0

    def _gene(self, key: str, line: int) -> _GeneInfo:
        info = self.genes.get(key)
        if info is None:
            info = self.genes[key] = _GeneInfo(line=line)
        return info

    def feed(self, lineno: int, line: str) -> bool:
        """One line; False once the GFF3 ``##FASTA`` section starts."""
        if not line.strip():
            return True
        if line.startswith("#"):
            if line.startswith("##gff-version"):
                version = line.split()[1:2]
                self.format = "gff3" if version and version[0].startswith("3") else "gtf"
            return not line.startswith("##FASTA")
        where = f"{self.label}: line {lineno}"
        f, start, end = feature_fields(line, where)
        contig, feature, strand = f[0], f[2], f[6]
        if strand not in ("+", "-", ".", "?"):
            raise AnnotationError(f"{where}: strand {strand!r}, expected + or - (or .)")
        if self.format is None:
            self.format = "gtf" if '"' in f[8] or "=" not in f[8] else "gff3"
        if feature == "exon" and strand not in ("+", "-"):
            raise AnnotationError(f"{where}: exon strand {strand!r}, expected + or -")
        if self.format == "gtf":
            self._gtf(where, lineno, contig, feature, start, end, strand, f[8])
        else:
            self._gff3(where, lineno, contig, feature, start, end, strand, f[8])
        return True

    # GTF: every exon line names its gene and transcript.
    def _gtf(self, where, lineno, contig, feature, start, end, strand, text) -> None:
        if feature not in ("exon", "transcript", "gene"):
            return
        attrs, tags = gtf_attributes(text, where)
        gene_id = attrs.get("gene_id")
        if not gene_id:
            raise AnnotationError(f"{where}: {feature} without a gene_id attribute")
        gene = self._gene(gene_id, lineno)
        gene.name = gene.name or attrs.get("gene_name", "")
        gene.biotype = gene.biotype or next(
            (attrs[k] for k in _GENE_BIOTYPE_KEYS if k in attrs), "")
        if feature == "gene":
            return
        tid = attrs.get("transcript_id")
        if not tid:
            raise AnnotationError(f"{where}: {feature} without a transcript_id attribute")
        tx = self._transcript(where, (gene_id, tid), gene_id, contig, strand, lineno)
        tx.tags.update(_norm_tag(t) for t in tags)
        if feature == "exon":
            tx.exons.add((start - 1, end))
            self.n_exons += 1

    def _transcript(self, where, key, gene_key, contig, strand, lineno) -> _Transcript:
        tx = self.transcripts.get(key)
        if tx is None:
            tx = self.transcripts[key] = _Transcript(key[1], gene_key, contig, strand, lineno)
        elif (tx.contig, tx.strand) != (contig, strand):
            raise AnnotationError(
                f"{where}: transcript {key[1]} is on {contig} {strand} here but on "
                f"{tx.contig} {tx.strand} at line {tx.line}")
        return tx

    # GFF3: exons point at transcripts by ID, transcripts at genes; resolved in finish().
    def _gff3(self, where, lineno, contig, feature, start, end, strand, text) -> None:
        if feature in _LEAF_TYPES and feature != "exon":
            return
        attrs = _gff3_attributes(text, where)
        if feature == "exon":
            parents = _values(attrs, "Parent")
            if not parents:
                raise AnnotationError(f"{where}: exon without a Parent attribute")
            self.gff_exons.append((lineno, contig, strand, start, end, parents, attrs))
            self.n_exons += 1
            return
        ident = unquote(attrs.get("ID", ""))
        if ident and ident not in self.gff_features:
            attrs["_line"] = str(lineno)
            self.gff_features[ident] = (feature, _values(attrs, "Parent"), attrs)

    def finish(self) -> None:
        if self.format != "gff3":
            return
        feats = self.gff_features
        for lineno, contig, strand, start, end, parents, attrs in self.gff_exons:
            where = f"{self.label}: line {lineno}"
            for tid in parents:
                if tid not in feats:
                    raise AnnotationError(
                        f"{where}: exon Parent {tid!r} is not defined: no feature in the file "
                        f"has ID={tid} (is the file cut short, or filtered to exons?)")
                feature, tx_parents, tx_attrs = feats[tid]
                gene_key = tx_parents[0] if tx_parents else tid
                if gene_key not in feats:
                    raise AnnotationError(
                        f"{self.label}: line {tx_attrs['_line']}: {feature} {tid} has Parent "
                        f"{gene_key!r}, which is not defined: no feature in the file has "
                        f"ID={gene_key}")
                gene_attrs = feats.get(gene_key, ("", [], {}))[2]
                first = min(int(a["_line"]) for a in (tx_attrs, gene_attrs, {"_line": lineno})
                            if "_line" in a)
                gene = self._gene(gene_key, first)
                gene.line = min(gene.line, first)
                if not gene.name:
                    gene.name = next(
                        (unquote(a[k]) for a, k in ((gene_attrs, "gene_name"),
                                                    (gene_attrs, "Name"),
                                                    (tx_attrs, "gene_name"),
                                                    (attrs, "gene_name"),
                                                    (gene_attrs, "gene_id"))
                         if a.get(k)), _GENE_PREFIX.sub("", gene_key))
                if not gene.biotype:
                    gene.biotype = next((unquote(a[k]) for a, keys in (
                        (gene_attrs, _GENE_BIOTYPE_KEYS), (tx_attrs, _GENE_BIOTYPE_KEYS[:2]))
                        for k in keys if a.get(k)), "")
                tx = self._transcript(where, (gene_key, tid), gene_key, contig, strand,
                                      int(tx_attrs.get("_line", lineno)))
                tx.tags.update(_norm_tag(t) for t in _values(tx_attrs, "tag"))
                tx.tags.update(_norm_tag(t) for t in _values(attrs, "tag"))
                tx.exons.add((start - 1, end))


# ---- choosing one transcript per gene ------------------------------------------------------
def _choose(txs: list[_Transcript], policy: str) -> tuple[_Transcript, str] | None:
    if policy == "longest":
        return max(txs, key=_Transcript.length_key), "longest"
    for tag, reason in (("mane_select", "MANE_Select"), ("ensembl_canonical", "Ensembl_canonical")):
        tagged = [t for t in txs if tag in t.tags]
        if tagged:
            return min(tagged, key=lambda t: t.line), reason
        if policy == "mane":
            return None
    basic = [t for t in txs if "basic" in t.tags]
    if basic:
        return max(basic, key=_Transcript.length_key), "longest basic"
    return max(txs, key=_Transcript.length_key), "longest"


def read_gtf(path: str | os.PathLike, *, sha256: str | None = None,
             transcripts: str = "canonical",
             biotypes: Iterable[str] | None = None) -> GeneTable:
    """A GTF or GFF3 file (plain or gzip; ``-`` = stdin) → a :class:`GeneTable` of
    :class:`GtfGene`, one transcript per gene (see the module doc for ``transcripts``).

    ``biotypes``: keep only genes whose gene biotype (``gene_type``/``gene_biotype``/GFF3
    ``biotype``) is one of these."""
    if transcripts not in TRANSCRIPT_POLICIES:
        raise AnnotationError(
            f"transcripts={transcripts!r}, expected one of {', '.join(TRANSCRIPT_POLICIES)}")
    label = os.fspath(path)
    parser = _Parser(label)
    for lineno, line in text_lines(label, label, AnnotationError):
        if not parser.feed(lineno, line):
            break
    parser.finish()
    if parser.n_exons == 0:
        raise AnnotationError(
            f"{label}: no exon records (column 3 = 'exon'); is this a GTF or GFF3 annotation?")

    by_gene: dict[str, list[_Transcript]] = {}
    for tx in parser.transcripts.values():
        if tx.exons:
            by_gene.setdefault(tx.gene_key, []).append(tx)
    keep = set(biotypes) if biotypes is not None else None
    genes: list[Gene] = []
    for key in sorted(by_gene, key=lambda k: parser.genes[k].line):
        info = parser.genes[key]
        if keep is not None and info.biotype not in keep:
            continue
        chosen = _choose(by_gene[key], transcripts)
        if chosen is None:
            continue
        tx, reason = chosen
        exons = tuple(sorted(tx.exons))
        starts = np.array([s for s, _ in exons], dtype=np.int64)
        ends = np.array([e for _, e in exons], dtype=np.int64)
        genes.append(GtfGene(
            info.name or key, tx.contig, tx.strand, int(starts.min()), int(ends.max()),
            np.union1d(starts + 1, ends), gene_id=key, transcript_id=tx.tid,
            chosen_by=reason, exons=exons))
    if not genes:
        if transcripts == "mane":
            why = "no transcript is tagged MANE_Select"
        else:
            present = sorted({parser.genes[k].biotype or "(none)" for k in by_gene})
            why = (f"no gene has a biotype in {sorted(keep or [])} "
                   f"(present: {', '.join(present[:12])}{', …' if len(present) > 12 else ''})")
        raise AnnotationError(f"{label}: no genes selected: {why}")
    return GeneTable(genes, source=label, sha256=sha256)


# ---- output ----------------------------------------------------------------------------------
def _exons_of(gene: Gene) -> tuple[tuple[int, int], ...]:
    exons = getattr(gene, "exons", None)
    if not exons:
        raise AnnotationError(
            f"gene {gene.name}: no exon list to write (only genes read from GTF/GFF3 keep "
            f"exon starts and ends apart)")
    return exons


def format_spliceai_table(table: GeneTable) -> Iterable[str]:
    yield "\t".join(SPLICEAI_COLUMNS) + "\n"
    for g in table.genes:
        exons = _exons_of(g)
        yield "\t".join((
            g.name, g.contig, g.strand, str(g.tx_start), str(g.tx_end),
            "".join(f"{s}," for s, _ in exons), "".join(f"{e}," for _, e in exons),
        )) + "\n"


def write_spliceai_table(table: GeneTable, path: str | os.PathLike) -> int:
    """Write SpliceAI's gene-table format (``-`` = stdout; ``.gz`` = gzip); returns the number
    of genes.  Files are written to a temporary name and renamed when complete."""
    target = os.fspath(path)
    lines = list(format_spliceai_table(table))  # validates every gene before writing
    if target == "-":
        sys.stdout.writelines(lines)
        sys.stdout.flush()
        return len(table.genes)
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".seqscore-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as raw:
            data = "".join(lines).encode()
            raw.write(gzip.compress(data, mtime=0) if target.endswith(".gz") else data)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return len(table.genes)
