"""The Pangolin CLI's rule (tkzeng/Pangolin 1.0.2): windows and per-gene gain/loss records.

Per variant, for each strand that has an overlapping gene (``PangolinGenes.at``): the REF
window is the genome ``[pos - 5001 - d, pos + len(ref) + 4999 + d)`` with no N padding, the
ALT window the same with REF replaced (see :mod:`scoring_pangolin` for the rules).  So REF
outputs do not depend on the gene: they are slices of tiles shared by every variant of a
strand and contig, and SNV/indel ALTs come from the tile's activations where the split graphs
exist.  The model's ``y_members`` output (each replicate's P(splice)) is used throughout, so
every difference is taken per replicate and averaged per tissue in the CLI's order.

Skipped as the CLI skips them (each with our error code): no A/C/G/T in REF or ALT, or a
complex allele (``UNSUPPORTED_VARIANT``); REF longer than ``2 * d`` (``REF_TOO_LONG``); a window
off the contig (``NEAR_CONTIG_END``); REF not the reference's (``REF_MISMATCH``).  A variant in
no gene gets no record (``NO_GENE``), as the CLI writes nothing for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..annotation import check_build, load_annotation
from ..errors import (ModelFormatError, NearContigEndError, RefMismatchError, RefTooLongError,
                      UnsupportedVariantError)
from ..genes import GeneTable
from ..genome import contig_aliases
from ..incremental import AltJob
from ..pangolin_genes import (DEFAULT_FILTER, PangolinGene, PangolinGenes, parse_filter,
                              read_pangolin_gtf)
from ..records import ScoreResult, Variant
from ..scoring_pangolin import (SKIP_DELETION, SKIP_FORMAT, SKIP_SEQUENCE, TISSUES, gain_loss,
                                score_genes, skip_reason, tissue_deltas, variant_offset,
                                window_bounds)
from ..tiles import TileGroup
from . import Batch, Predictions
from .spliceai import finite

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger(__name__)


@dataclass
class _Strand:
    strand: str
    genes: list[PangolinGene]
    ref_need: tuple       # (TileGroup, start, end): REF outputs [pos - 1 - d, end + d)
    alt_key: tuple
    alt_trim: int         # ALT outputs to drop at the start (incremental ALTs reach further)


@dataclass
class _Plan:
    variant: Variant
    strands: list[_Strand] = field(default_factory=list)


def member_tissues(channels: tuple[str, ...]) -> list[int]:
    """The tissue (index into ``TISSUES``) of each ``y_members`` channel, from its name
    (``p_splice_heart_r1`` …)."""
    out = []
    for c in channels:
        hit = [i for i, t in enumerate(TISSUES) if f"_{t}_" in f"_{c}_"]
        if len(hit) != 1:
            raise ModelFormatError(f"member channel {c!r} names no tissue of {', '.join(TISSUES)}")
        out.append(hit[0])
    return out


def genes_from_table(table: GeneTable) -> PangolinGenes:
    """A SpliceAI-format gene table as Pangolin's annotation: one gene per row named by the
    table's NAME, its exon boundaries as the sites (as a GTF of the table loaded with
    ``create_db.py``)."""
    genes = [PangolinGene(g.name, g.contig, g.strand, g.tx_start, g.tx_end, g.boundaries)
             for g in table.genes]
    return PangolinGenes(genes, source=table.source, tags=None, sha256=table.sha256)


class PangolinRule:
    output = "y_members"
    default_mask = True

    def __init__(self, engine: "Engine"):
        self.engine = engine
        spec = engine.session.spec
        if not spec.member_channels:
            raise ModelFormatError(
                f"{engine.session.path}: a Pangolin model needs the y_members output; "
                "re-export it with `seqscore export pangolin`")
        self.tissues = member_tissues(spec.member_channels)
        cfg = engine.config
        self.tags = DEFAULT_FILTER if not cfg.annotation_filter else parse_filter(
            cfg.annotation_filter)
        self._contigs: dict[str, str | None] = {}

    # ---- annotation ----------------------------------------------------------------------
    def load_annotation(self) -> PangolinGenes:
        """A GTF read as ``create_db.py --filter`` keeps it; ``grch37``/``grch38`` or a
        SpliceAI-format table as one canonical transcript per gene."""
        from ..annotation import _looks_like_gtf  # noqa: PLC0415

        spec = str(self.engine.config.annotation)
        if spec not in ("grch37", "grch38") and _looks_like_gtf(spec):
            from ..models.registry import sha256_file  # noqa: PLC0415

            return read_pangolin_gtf(spec, tags=self.tags, sha256=sha256_file(spec))
        return genes_from_table(load_annotation(spec))

    def check_reference(self) -> None:
        check_build(str(self.engine.config.annotation), self.engine.genome)
        genes, genome = self.engine.annotation, self.engine.genome
        names = set(genome.contigs)
        if genes.contigs and not any(a in names for c in genes.contigs
                                     for a in contig_aliases(c)):
            log.warning("annotation %s names contigs (%s) that reference %s does not have: "
                        "no variant will be in a gene", genes.source,
                        ", ".join(genes.contigs[:3]), genome.path)

    def provenance(self) -> dict[str, object]:
        return {"annotation_filter": "None" if self.tags is None else ",".join(self.tags)}

    def _genes_at(self, contig: str, pos: int):
        genes = self.engine.annotation
        if contig not in self._contigs:
            known = set(genes.contigs)
            self._contigs[contig] = next((a for a in contig_aliases(contig) if a in known), None)
        name = self._contigs[contig]
        return ([], []) if name is None else genes.at(name, pos)

    # ---- planning and scoring ------------------------------------------------------------
    def plan(self, v: Variant, dist: int, batch: Batch) -> _Plan | ScoreResult:
        eng = self.engine
        why = skip_reason(v.ref.upper(), v.alt.upper(), dist)
        if why == SKIP_FORMAT:
            raise UnsupportedVariantError(
                f"{v}: not scored (Pangolin: {why} It scores SNVs, MNVs, insertions and "
                "deletions whose alleles hold A, C, G or T)")
        _, contig, contig_len = eng.checked_site(v, eng.session.spec.context)
        if why == SKIP_DELETION:
            raise RefTooLongError(f"{v}: REF is {len(v.ref)} bp, longer than 2 x distance "
                                  f"({2 * dist}); not scored (Pangolin: {why})")
        flank = eng.session.spec.flank
        start, end = window_bounds(v.pos, len(v.ref), dist, flank)
        if start < 0 or end > contig_len:
            raise NearContigEndError(
                f"{v}: its {end - start}-bp window runs off the end of contig {contig} "
                f"({contig_len} bp); not scored (Pangolin: {SKIP_SEQUENCE})")
        found = eng.genome.fetch(contig, v.start, v.end)
        if found != v.ref.upper():
            raise RefMismatchError(
                f"{v}: REF {v.ref} does not match the reference, which has {found} at "
                f"{contig}:{v.pos}")
        plus, minus = self._genes_at(v.contig, v.pos)
        if not plus and not minus:
            return ScoreResult(v, ())
        lr, la = len(v.ref), len(v.alt)
        alt = v.alt.upper()
        plan = _Plan(v)
        incremental = batch.incs is not None and (lr == 1 or la == 1)
        trim = lr - 1 if incremental else 0
        for strand, genes in (("+", plus), ("-", minus)):
            if not genes:
                continue
            group = TileGroup(contig, strand, 0, contig_len)     # no N padding
            # REF outputs [start - d, end + d); an incremental ALT reaches lr - 1 further left
            batch.need(group, v.start - dist - trim, v.end + dist)
            ref_need = (group, v.start - dist, v.end + dist)
            alt_key = ("pangolin", contig, v.pos, strand, v.ref.upper(), alt, dist, incremental)
            if incremental:
                batch.incs.setdefault(group, {})[alt_key] = AltJob(
                    alt_key, v.start, lr, alt, reach=dist + lr - 1)
            elif alt_key not in batch.windows:
                seq = eng.genome.fetch(contig, start, end)
                cut = variant_offset(dist, flank)
                batch.windows[alt_key] = (seq[:cut] + alt + seq[cut + lr:], strand)
            plan.strands.append(_Strand(strand, genes, ref_need, alt_key, trim))
        return plan

    def finish(self, plan: _Plan, preds: Predictions, dist: int, mask: bool) -> ScoreResult:
        v = plan.variant
        cfg = self.engine.config
        scores = []
        for s in plan.strands:
            ref = preds.ref(*s.ref_need)
            alt = preds.alt(s.alt_key)[s.alt_trim:]
            deltas = tissue_deltas(ref, alt, len(v.ref), len(v.alt), dist,
                                   member_tissue=self.tissues)
            loss, gain = gain_loss(deltas)
            scores += score_genes(loss, gain, [g.sites() for g in s.genes], v.pos, dist,
                                  strand=s.strand, mask=mask, carry_over=True,
                                  cutoff=cfg.score_cutoff, score_exons=cfg.score_exons)
        return finite(ScoreResult(v, tuple(scores)))
