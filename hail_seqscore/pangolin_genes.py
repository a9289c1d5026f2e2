"""Pangolin's annotation: a GTF read as its ``create_db.py`` keeps it, and the CLI's gene lookup.

``create_db.py`` (tkzeng/Pangolin) builds a gffutils database of the GTF's ``gene``,
``transcript`` and ``exon`` features; with ``--filter TAGS`` (default ``Ensembl_canonical``)
only transcripts and exons that carry one of the tags (``tag "…"``, exact, case-sensitive) are
kept — gene features always are —; ``--filter None`` keeps all.  The CLI then takes, for a
variant at 1-based ``pos``:

* the **genes**: every ``gene`` feature on the contig with ``start <= pos - 1`` and
  ``end >= pos`` (1-based GTF coordinates; its region query at ``pos - 1`` and its own
  ``start <= pos <= end`` check together, so a variant on a gene's first base is **not** in
  that gene — reproduced; ``first_base=True`` includes it), named by ``gene_id``, grouped by
  strand (``+`` then ``-``; genes with another strand are ignored);
* each gene's **annotated sites**: the start and the end (1-based, as written in the GTF) of
  every kept exon line whose ``gene_id`` is the gene's — every transcript's, so the
  transcript starts and ends are sites too.  The exons are in the order gffutils lists a
  gene's children: by their ids ``exon_1``, ``exon_2`` … (numbered in the order the lines were
  kept) compared as text, ``exon_10`` before ``exon_2``.  That order matters only for
  ``--score_exons``; it is SQLite's for any real annotation (a database of a few dozen
  features is read in file order instead).

Order of genes on a strand: by gene start, then end, then file order.  gffutils' query has no
ORDER BY, so this is SQLite's plan: a database of several contigs is read through the (seqid,
start, end) index, i.e. in this order; one of a single contig (like the chr21 test GTFs)
through the feature-type index, i.e. in file order — the same for a position-sorted GTF, and
it matters only for genes on the same strand (their order in the output and the masking
carried from one to the next).

Two genes with the same ``gene_id`` make ``create_db.py`` fail; here they are an
:class:`AnnotationError`, as is a gene line without ``gene_id``.  GFF3 is not read (the
script takes GTF only).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .errors import AnnotationError
from .gtf import feature_fields, gtf_attributes
from .sniff import text_lines

log = logging.getLogger(__name__)

DEFAULT_FILTER: tuple[str, ...] = ("Ensembl_canonical",)
_KEPT = ("gene", "transcript", "exon")


def parse_filter(text: str | None) -> tuple[str, ...] | None:
    """``create_db.py``'s ``--filter``: ``"None"`` (or None) keeps everything, else tags
    separated by commas."""
    if text is None or text == "None":
        return None
    tags = tuple(t for t in text.split(",") if t)
    if not tags:
        raise AnnotationError(f"filter {text!r} names no tag (give TAG[,TAG…] or None)")
    return tags


@dataclass(frozen=True, eq=False)
class PangolinGene:
    gene_id: str
    contig: str
    strand: str
    start: int                 # 0-based (GTF start - 1)
    end: int                   # exclusive (= the GTF's 1-based end)
    site_pos: np.ndarray = field(repr=False)   # 1-based exon start, end, start, end, …

    def sites(self) -> tuple[str, np.ndarray]:
        """(name, sites) as :func:`scoring_pangolin.score_genes` takes them."""
        return self.gene_id, self.site_pos


class PangolinGenes:
    """Genes by contig with the CLI's lookup (:meth:`at`)."""

    def __init__(self, genes: Sequence[PangolinGene], *, source: str,
                 tags: tuple[str, ...] | None = DEFAULT_FILTER, sha256: str | None = None):
        self.source, self.tags, self.sha256 = source, tags, sha256
        by_contig: dict[str, list[PangolinGene]] = {}
        for g in genes:     # already in file order; a stable sort keeps it on ties
            by_contig.setdefault(g.contig, []).append(g)
        self._genes = {c: sorted(gs, key=lambda g: (g.start, g.end))
                       for c, gs in by_contig.items()}
        self._index = {c: (np.array([g.start for g in gs], dtype=np.int64),
                           np.array([g.end for g in gs], dtype=np.int64))
                       for c, gs in self._genes.items()}

    def __len__(self) -> int:
        return sum(len(gs) for gs in self._genes.values())

    @property
    def contigs(self) -> list[str]:
        return list(self._genes)

    def genes(self, contig: str) -> list[PangolinGene]:
        return list(self._genes.get(contig, ()))

    def at(self, contig: str, pos: int, *, first_base: bool = False
           ) -> tuple[list[PangolinGene], list[PangolinGene]]:
        """(``+`` genes, ``-`` genes) the CLI scores for a variant at 1-based ``pos`` on
        ``contig`` (the annotation's own contig name), each list in the CLI's order."""
        if contig not in self._index:
            return [], []
        starts, ends = self._index[contig]
        limit = pos if first_base else pos - 1       # 0-based start < limit
        hits = [self._genes[contig][i] for i in np.nonzero((starts < limit) & (ends >= pos))[0]]
        return ([g for g in hits if g.strand == "+"], [g for g in hits if g.strand == "-"])


def read_pangolin_gtf(path: str | os.PathLike, *, tags: tuple[str, ...] | None = DEFAULT_FILTER,
                      sha256: str | None = None) -> PangolinGenes:
    """A GTF (plain or gzip; ``-`` = stdin) → :class:`PangolinGenes` as ``create_db.py
    --filter TAGS`` keeps it (``tags=None``: ``--filter None``)."""
    label = os.fspath(path)
    genes: dict[str, tuple[int, str, str, int, int]] = {}    # id → (line, contig, strand, s, e)
    exons: dict[str, list[tuple[int, int, int]]] = {}        # gene_id → (exon number, start, end)
    n_exons = n_tagged = 0
    for lineno, line in text_lines(label, label, AnnotationError):
        if not line.strip() or line.startswith("#"):
            if line.startswith("##gff-version 3"):
                raise AnnotationError(f"{label} is GFF3; Pangolin's annotation is a GTF "
                                      f"(gene_id \"…\"; transcript_id \"…\";)")
            continue
        where = f"{label}: line {lineno}"
        f, start, end = feature_fields(line, where)
        if f[2] not in _KEPT:
            continue
        attrs, found = gtf_attributes(f[8], where)
        if f[2] == "gene":
            gid = attrs.get("gene_id")
            if not gid:
                raise AnnotationError(f"{where}: gene without a gene_id attribute")
            if gid in genes:
                raise AnnotationError(f"{where}: gene_id {gid} is also the gene of line "
                                      f"{genes[gid][0]} (create_db.py refuses duplicate ids)")
            genes[gid] = (lineno, f[0], f[6], start, end)
            continue
        if f[2] != "exon":
            continue
        n_exons += 1
        if tags is not None and not set(tags) & set(found):
            continue
        n_tagged += 1
        if attrs.get("gene_id"):
            exons.setdefault(attrs["gene_id"], []).append((n_tagged, start, end))
    if not genes:
        raise AnnotationError(f"{label}: no gene records (column 3 = 'gene'); Pangolin takes "
                              f"genes from the GTF's gene lines")
    if tags is not None and n_exons and not n_tagged:
        log.warning("%s: no exon is tagged %s, so no gene has annotated sites (every gene "
                    "gets the warning %s); for all transcripts use filter None",
                    label, ",".join(tags), "NoAnnotatedSitesToMaskForThisGene")
    out = []
    for gid, (_, contig, strand, start, end) in genes.items():
        ordered = sorted(exons.get(gid, ()), key=lambda e: f"exon_{e[0]}")
        sites = np.array([p for _, s, e in ordered for p in (s, e)], dtype=np.int64)
        out.append(PangolinGene(gid, contig, strand, start - 1, end, sites))
    return PangolinGenes(out, source=label, tags=tags, sha256=sha256)
