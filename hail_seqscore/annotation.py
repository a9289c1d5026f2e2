"""Gene tables: SpliceAI's format, the grch37/grch38 tables of its wheel, and GTF/GFF3 (read by
:mod:`gtf`); the gene types themselves live in :mod:`genes`.

SpliceAI's table: ``#NAME CHROM STRAND TX_START TX_END EXON_START EXON_END`` (tab separated;
starts 0-based, ends 1-based, exon lists comma-terminated).  A variant at ``pos`` (1-based)
belongs to every gene with ``TX_START < pos <= TX_END``, in table order, on either strand.

Tables are read plain, gzip or bgzip, told by their bytes and not their name.  What the input
looks like is checked, and said: a missing file, a directory or an unreadable one is an
:class:`InputUnreadableError` (exit 66); a name that is neither ``grch37``/``grch38`` nor a file
a :class:`ConfigError` (64); malformed text (not UTF-8, truncated gzip, bad rows, negative
coordinates, an empty name) an :class:`AnnotationError` naming the line (65).  A table without
genes, or with genes whose start is after their end, loads with a warning (logging): every
variant would come out unscored, so the file or genome build is probably not the one meant.

Gene names go into SpliceAI's VCF INFO (``ALLELE|SYMBOL|…`` entries joined by ``,``), so the
characters that would break it (``,`` ``|`` ``;`` ``=`` and whitespace, and a ``%`` that does
not start an escape) are percent-encoded as VCF 4.3 does (``A,B`` → ``A%2CB``), once, with a
warning; an already encoded name is left as it is.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np

from .errors import AnnotationError, ConfigError, InputUnreadableError
from .genes import SPLICEAI_COLUMNS, Gene, GeneTable
from .genome import Genome, contig_aliases
from .models.registry import ANNOTATION_FILES, ANNOTATION_SOURCE, downloads_dir, sha256_file
from .sniff import check_file, first_text, read_head, text_lines

log = logging.getLogger(__name__)

# ---- SpliceAI's table format ---------------------------------------------------------------
def _int_list(text: str, what: str, where: str) -> list[int]:
    try:
        return [int(v) for v in text.strip().split(",") if v != ""]
    except ValueError:
        raise AnnotationError(
            f"{where}: {what} {text!r} is not a comma-separated list of integers") from None


def read_spliceai_table(path: str | os.PathLike, *, sha256: str | None = None) -> GeneTable:
    """SpliceAI's gene-table format (plain or gzip; see the module doc for the checks)."""
    genes: list[Gene] = []
    label = os.fspath(path)
    backwards: dict[str, list[tuple[int, str]]] = {"TX": [], "exon": []}
    lines = text_lines(label, f"gene table {label}", AnnotationError)
    lineno, first = next(lines, (0, None))
    if first is None:
        raise AnnotationError(f"gene table {label} is empty: expected a header line "
                              f"{' '.join(SPLICEAI_COLUMNS)}")
    header = first.split("\t")
    missing = [c for c in SPLICEAI_COLUMNS if c not in header]
    if missing:
        raise AnnotationError(
            f"{label}: line 1: not a SpliceAI gene table: missing column(s) "
            f"{', '.join(missing)} (expected {' '.join(SPLICEAI_COLUMNS)}); -A takes grch37, "
            f"grch38, a SpliceAI gene table or a GTF/GFF3 file")
    col = {c: header.index(c) for c in SPLICEAI_COLUMNS}
    for lineno, line in lines:
        if not line.strip():
            continue
        f = line.split("\t")
        where = f"{label}: line {lineno}"
        if len(f) < len(header):
            raise AnnotationError(f"{where}: {len(f)} fields, expected {len(header)}")
        name, contig, strand = f[col["#NAME"]], f[col["CHROM"]], f[col["STRAND"]]
        if not name.strip() or not contig.strip():
            raise AnnotationError(f"{where}: empty #NAME or CHROM")
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
        if min(tx_start, tx_end, *starts, *ends) < 0:
            raise AnnotationError(f"{where}: a negative coordinate (TX_START/TX_END or an exon)")
        if tx_start > tx_end:
            backwards["TX"].append((lineno, name))
        if any(s > e for s, e in zip(starts, ends)):
            backwards["exon"].append((lineno, name))
        genes.append(Gene(name, contig, strand, tx_start, tx_end,
                          np.union1d(np.array(starts) + 1, np.array(ends))))
    _warn_backwards(label, backwards)
    return GeneTable(genes, source=label, sha256=sha256)


def _warn_backwards(label: str, backwards: dict[str, list[tuple[int, str]]]) -> None:
    what = {"TX": "TX_START after TX_END (such a gene holds no variant)",
            "exon": "an exon whose start is after its end (its splice sites are misplaced)"}
    for key, found in backwards.items():
        if found:
            lineno, name = found[0]
            log.warning("gene table %s: %d gene(s) with %s, first %s at line %d: is this the "
                        "right file and genome build?", label, len(found), what[key], name,
                        lineno)


# ---- the table against the reference ---------------------------------------------------------
#: lengths of a few chromosomes in each build the built-in tables are for: a FASTA holding one
#: of them at the other build's length is the other build
BUILD_LENGTHS = {
    "grch37": {"1": 249_250_621, "2": 243_199_373, "17": 81_195_210, "21": 48_129_895,
               "22": 51_304_566, "X": 155_270_560},
    "grch38": {"1": 248_956_422, "2": 242_193_529, "17": 83_257_441, "21": 46_709_983,
               "22": 50_818_468, "X": 156_040_895},
}


def check_build(annotation: str, genome: Genome) -> None:
    """With ``-A grch37`` or ``-A grch38``, refuse (:class:`ConfigError`) a reference whose
    chromosomes have the other build's lengths: the wrong gene table would be used silently
    (spliceai itself makes ``-A`` mandatory).  A FASTA of regions or other contigs says
    nothing."""
    if annotation not in BUILD_LENGTHS:
        return
    names = set(genome.contigs)
    for other, lengths in BUILD_LENGTHS.items():
        if other == annotation:
            continue
        for chrom, length in lengths.items():
            hit = next((a for a in contig_aliases(chrom) if a in names), None)
            if hit is not None and genome.length(hit) == length \
                    and length != BUILD_LENGTHS[annotation][chrom]:
                raise ConfigError(
                    f"-A {annotation}: the reference {genome.path} is {other.upper()} "
                    f"({hit} is {length:,} bp, as in {other.upper()}; "
                    f"{annotation.upper()} has {BUILD_LENGTHS[annotation][chrom]:,}); give "
                    f"-A {other} (or a gene table of the reference's build)")


def check_reference(table: GeneTable, genome: Genome) -> list[str]:
    """Warn (logging) when the gene table and the reference look like different genomes: none
    of the table's contigs is in the reference, or genes end past the end of their contig.
    A reference holding only some of the table's contigs is normal (a chr21 FASTA with the
    genome-wide table) and says nothing.  Returns the warnings."""
    if not table.genes:
        return []
    ref = set(genome.contigs)
    found = {c: next((a for a in contig_aliases(c) if a in ref), None) for c in table.contigs}
    out = []
    if not any(found.values()):
        out.append(f"none of the contigs of gene table {table.source} ({_preview(table.contigs)}) "
                   f"is in the reference {genome.path} ({_preview(genome.contigs)}): no variant "
                   f"can be scored; are they the same genome build?")
    past = [g for g in table.genes if found[g.contig] and g.tx_end > genome.length(found[g.contig])]
    if past:
        g = past[0]
        out.append(f"{len(past)} gene(s) of gene table {table.source} end past the end of their "
                   f"contig in the reference {genome.path}, first {g.name} ending at "
                   f"{g.contig}:{g.tx_end} (contig length {genome.length(found[g.contig])}): "
                   f"are they the same genome build?")
    for message in out:
        log.warning("%s", message)
    return out


def _preview(names: list[str], n: int = 3) -> str:
    return ", ".join(names[:n]) + (f", … ({len(names)} in all)" if len(names) > n else "")


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
    """``grch37``, ``grch38``, a SpliceAI-format table, or a GTF/GFF3 file (plain or gzip).

    A file is read as GTF/GFF3 when its name says so (``.gtf``, ``.gff``, ``.gff3``, maybe
    ``.gz``) or when its text does (``##gff-version`` or 9 tab-separated columns)."""
    text = os.fspath(spec)
    if text in ANNOTATION_FILES:
        path = builtin_table_path(text)
        return read_spliceai_table(path, sha256=ANNOTATION_FILES[text].sha256)
    if not os.path.lexists(text):
        raise ConfigError(
            f"annotation {text!r} is neither grch37/grch38 nor an existing file: -A takes "
            f"grch37, grch38, a SpliceAI gene table or a GTF/GFF3 file")
    check_file(text, "gene table", InputUnreadableError)
    sha = sha256_file(text)
    if _looks_like_gtf(text):
        from .gtf import read_gtf  # noqa: PLC0415

        return read_gtf(text, sha256=sha)
    return read_spliceai_table(text, sha256=sha)


def _looks_like_gtf(path: str) -> bool:
    if re.sub(r"\.b?gz$", "", path.lower()).endswith((".gtf", ".gff", ".gff3")):
        return True
    lines = first_text(read_head(path)).decode("utf-8", "replace").splitlines()
    if lines and lines[0].startswith("##gff-version"):
        return True
    data = next((ln for ln in lines if ln.strip() and not ln.startswith("#")), "")
    f = data.split("\t")
    return len(f) == 9 and f[3].isdigit() and f[4].isdigit()
