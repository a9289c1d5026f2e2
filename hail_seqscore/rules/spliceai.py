"""SpliceAI 1.3.1's rule (SpliceAI, CI-SpliceAI, OpenSpliceAI): windows and delta scores.

Per variant and overlapping gene (the gene table's genes, in table order): the REF window is
the genome around the variant with N outside the gene's transcript (and beyond the contig,
with ``--pad-edges``), the ALT window the same with REF replaced; the four delta scores and
their positions come from :func:`scoring.delta_scores` over ``2 * distance + 1`` positions.
REF outputs are slices of shared tiles per (gene span, strand); SNV and indel ALTs come from the
tile's activations where the split graphs exist (see ``incremental.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..annotation import check_build, check_reference, load_annotation
from ..encode import gene_padding, layout, mask_outside, splice_alt
from ..errors import NearContigEndError, RefMismatchError, RefTooLongError
from ..genes import GeneTable
from ..incremental import AltJob
from ..records import ErrorInfo, GeneScore, ScoreResult, Variant
from ..scoring import align_alt, delta_scores
from ..tiles import TileGroup
from ..variants import VariantKind
from . import Batch, Predictions

if TYPE_CHECKING:
    from ..engine import Engine

#: deletions longer than distance + this run as full ALT windows (the incremental cone of
#: a longer one would reach past its REF tile)
INCREMENTAL_MAX_REF = 1000


@dataclass
class _Job:
    """One (variant, gene) pair waiting for its REF and ALT predictions."""

    gene: str
    strand: str
    ref_need: tuple      # (TileGroup, start, end): REF outputs wanted, 0-based [start, end)
    alt_key: tuple
    dist_boundary: int


@dataclass
class _Plan:
    variant: Variant
    slots: list = field(default_factory=list)   # GeneScore (done) or _Job (to run)


class SpliceAIRule:
    output = "y"
    default_mask = False

    def __init__(self, engine: "Engine"):
        self.engine = engine
        spec = engine.session.spec
        self.acceptor, self.donor = spec.channel("acceptor"), spec.channel("donor")

    def load_annotation(self) -> GeneTable:
        return load_annotation(self.engine.config.annotation)

    def check_reference(self) -> None:
        check_build(str(self.engine.config.annotation), self.engine.genome)
        check_reference(self.engine.annotation, self.engine.genome)

    def provenance(self) -> dict[str, object]:
        return {}

    def plan(self, v: Variant, dist: int, batch: Batch) -> _Plan | ScoreResult:
        eng = self.engine
        context = eng.session.spec.context
        kind, contig, contig_len = eng.checked_site(v, context)
        genes = eng.annotation.genes_at(v.contig, v.pos)
        if not genes:
            return ScoreResult(v, ())
        found = eng.genome.fetch(contig, v.start, min(v.end, contig_len))
        if found != v.ref:
            raise RefMismatchError(
                f"{v}: REF {v.ref} does not match the reference, which has {found} at "
                f"{contig}:{v.pos}")
        lay = layout(v.pos, dist, context)
        if lay.start < 0 or lay.end > contig_len:
            if not eng.config.pad_edges:
                raise NearContigEndError(
                    f"{v}: its {lay.wid}-bp window runs off the end of contig {contig} "
                    f"({contig_len} bp); not scored (SpliceAI skips it; --pad-edges pads with N)")
            left, right = max(0, -lay.start), max(0, lay.end - contig_len)
            seq = ("N" * left + eng.genome.fetch(contig, lay.start + left, lay.end - right)
                   + "N" * right)
        else:
            seq = eng.genome.fetch(contig, lay.start, lay.end)
        if len(v.ref) > 2 * dist:
            raise RefTooLongError(
                f"{v}: REF is {len(v.ref)} bp, longer than 2 x distance ({2 * dist}); not scored")
        plan = _Plan(v)
        complex_allele = kind in (VariantKind.MNV, VariantKind.COMPLEX)
        for gene in genes:
            if complex_allele and not eng.config.score_complex:
                plan.slots.append(GeneScore(gene.name, gene.strand, *([None] * 8)))
                continue
            d_start, d_end, d_boundary = gene.distances(v.pos)
            pad = gene_padding(lay.wid, d_start, d_end)
            group = TileGroup(contig, gene.strand, gene.tx_start, gene.tx_end)
            need = batch.need(group, v.start - dist, v.start + dist + 1)
            alt_key = (contig, v.pos, lay.wid, pad, gene.strand, v.ref, v.alt)
            if batch.incs is not None and (kind is VariantKind.SNV or (
                    kind in (VariantKind.INSERTION, VariantKind.DELETION)
                    and len(v.ref) <= dist + INCREMENTAL_MAX_REF)):
                batch.incs.setdefault(group, {})[alt_key] = AltJob(alt_key, v.start,
                                                                   len(v.ref), v.alt)
            elif alt_key not in batch.windows:
                batch.windows[alt_key] = (splice_alt(mask_outside(seq, pad), lay.centre,
                                                     len(v.ref), v.alt), gene.strand)
            plan.slots.append(_Job(gene.name, gene.strand, need, alt_key, d_boundary))
        return plan

    def finish(self, plan: _Plan, preds: Predictions, dist: int, mask: bool) -> ScoreResult:
        v = plan.variant
        cov = 2 * dist + 1
        scores = []
        for slot in plan.slots:
            if isinstance(slot, GeneScore):
                scores.append(slot)
                continue
            y_ref = preds.ref(*slot.ref_need)
            y_alt = align_alt(preds.alt(slot.alt_key), cov, len(v.ref), len(v.alt))
            d = delta_scores(y_ref, y_alt, acceptor=self.acceptor, donor=self.donor,
                             dist_exon_boundary=slot.dist_boundary, mask=mask)
            scores.append(GeneScore(slot.gene, slot.strand, *d.ds, *d.dp))
        return finite(ScoreResult(v, tuple(scores)))


def finite(result: ScoreResult) -> ScoreResult:
    """``result``, or an ``INTERNAL`` error for its variant when the model gave a NaN or
    infinite score (never written as ``nan`` into a VCF, JSON or Hail table)."""
    for s in result.scores:
        if not s.finite():
            return ScoreResult(result.variant, error=ErrorInfo(
                "INTERNAL", f"{result.variant}: the model gave a non-finite score (NaN or "
                f"infinity) for gene {s.gene}; not scored"))
    return result
