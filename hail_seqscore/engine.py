"""The one batching engine: variants in, one :class:`ScoreResult` per variant out.

It dedupes variants, builds each site's windows once, shares a REF window between the ALT
alleles and genes that see the same sequence, runs windows of similar length together in
batches, and turns predictions into delta scores.  One bad variant never sinks a batch: it
gets a result carrying its error.  The CLI, the daemon and the Hail scorers all call this.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from . import __version__
from .annotation import check_reference, load_annotation
from .genes import GeneTable
from .encode import (gene_padding, layout, length_batches, mask_outside, one_hot_oriented,
                     splice_alt, stack_padded)
from .errors import (AlleleTooLongError, ConfigError, InvalidVariantError, NearContigEndError,
                     RefMismatchError, RefTooLongError, SeqScoreError, UnsupportedVariantError)
from .genome import Genome
from .incremental import AltJob, SplitModel, TileWork
from .models.registry import PRECISIONS
from .models.session import ModelSession, get_session
from .records import ErrorInfo, GeneScore, ScoreResult, Variant
from .scoring import align_alt, delta_scores
from .tiles import MERGE_GAP, TileGroup, find_tile, masked_span, plan_tiles
from .variants import VariantKind, classify, validate

MAX_DISTANCE = 4999   # SpliceAI's -D accepts 0..4999
STRATEGIES = ("auto", "incremental", "tiled", "window")
#: deletions longer than distance + this run as full ALT windows (the incremental cone of
#: a longer one would reach past its REF tile)
INCREMENTAL_MAX_REF = 1000
#: tile positions whose REF activations after every trunk stage are held at once (6 stages ×
#: h and s × 160 channels × 4 bytes ≈ 7.7 KB per position for 5 members: ≈ 0.5 GB)
INCREMENTAL_POSITIONS = 64_000


def check_distance(distance: object) -> int:
    if isinstance(distance, bool) or not isinstance(distance, int) or not 0 <= distance <= MAX_DISTANCE:
        raise ConfigError(f"distance must be an integer from 0 to {MAX_DISTANCE}, got {distance!r}")
    return distance


@dataclass(frozen=True)
class EngineConfig:
    model: str = "spliceai"
    reference: str = ""
    annotation: str = "grch38"
    distance: int = 50
    mask: bool = False
    batch_size: int = 64
    threads: int | None = None
    providers: tuple[str, ...] | None = None
    pad_edges: bool = False       # N-pad windows that run off a contig end (SpliceAI skips them)
    score_complex: bool = False   # score MNVs / complex indels (SpliceAI writes '.')
    # "window": a REF and an ALT window per variant; "tiled": nearby variants share REF tiles;
    # "incremental": tiled, and SNV/indel ALTs reuse the tile's stage activations (needs the split
    # graphs that `seqscore export` writes); "auto": incremental where the split graphs exist,
    # else tiled
    strategy: str = "auto"
    # "fp32" (default, exact), "tf32" (TF32 convolutions on a CUDA GPU) or "fp16" (the
    # half-precision graphs of `seqscore export --fp16`); see models/session.py
    precision: str = "fp32"
    # longest REF or ALT scored, in bases; longer alleles get ALLELE_TOO_LONG before any
    # sequence is fetched or encoded (bounded work per variant: an ALT window grows with the
    # ALT's length).  None = the model's context (10,000 bp for SpliceAI).
    max_allele_length: int | None = None

    def __post_init__(self):
        check_distance(self.distance)
        m = self.max_allele_length
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise ConfigError(f"max_allele_length must be an integer >= 1, got {m!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) \
                or self.batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ConfigError(f"threads must be an integer >= 1, got {self.threads!r}")
        if not self.reference:
            raise ConfigError("a reference FASTA is required")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}, got "
                              f"{self.strategy!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got "
                              f"{self.precision!r}")
        if self.providers is not None:
            object.__setattr__(self, "providers", tuple(self.providers))


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


class Engine:
    """Score variants with one model, reference and annotation (see :class:`EngineConfig`).

    Cheap to construct and picklable: the FASTA, gene table and ONNX session open lazily in
    the process that first scores."""

    def __init__(self, config: EngineConfig | None = None, **kwargs):
        self.config = config if config is not None else EngineConfig(**kwargs)
        self._genome: Genome | None = None
        self._annotation: GeneTable | None = None
        self._split: SplitModel | None | bool = False   # False = not looked up yet
        self._lock = threading.Lock()

    def __getstate__(self):
        return {"config": self.config}

    def __setstate__(self, state):
        self.__init__(state["config"])

    # ---- lazily opened resources ---------------------------------------------------------
    @property
    def session(self) -> ModelSession:
        c = self.config
        return get_session(c.model, providers=c.providers, threads=c.threads,
                           precision=c.precision)

    @property
    def genome(self) -> Genome:
        if self._genome is None:
            self._genome = Genome(self.config.reference)
        return self._genome

    @property
    def annotation(self) -> GeneTable:
        if self._annotation is None:
            with self._lock:
                if self._annotation is None:
                    self._annotation = load_annotation(self.config.annotation)
        return self._annotation

    @property
    def split_model(self) -> SplitModel | None:
        """The trunk-stage/head graphs for incremental ALT inference, when the strategy uses
        them."""
        if self._split is False:
            c = self.config
            split = None
            if c.strategy in ("auto", "incremental"):
                split = SplitModel.load(self.session.path, providers=c.providers,
                                        threads=c.threads, precision=c.precision)
                if split is None and c.strategy == "incremental":
                    raise ConfigError(
                        f"strategy 'incremental' needs the trunk-stage/head graphs beside "
                        f"{self.session.path}; re-export with `seqscore export`")
            self._split = split
        return self._split  # type: ignore[return-value]

    def warm_up(self) -> "Engine":
        """Open everything now (the daemon's readiness, fail-fast in the CLI), and warn when the
        gene table and the reference look like different genome builds."""
        _ = self.session, self.annotation, self.genome.contigs, self.split_model
        check_reference(self.annotation, self.genome)
        return self

    def provenance(self) -> dict[str, object]:
        s = self.session
        ann = self.annotation
        return {
            "model": s.spec.name, "model_version": s.spec.version, "model_sha256": s.sha256,
            "model_source": f"{s.spec.source_package}=={s.spec.source_version}",
            "reference": os.path.abspath(self.config.reference),
            "annotation": self.config.annotation, "annotation_sha256": ann.sha256 or "",
            "distance": self.config.distance, "mask": bool(self.config.mask),
            "precision": self.config.precision,
            "hail_seqscore_version": __version__,
        }

    # ---- scoring -------------------------------------------------------------------------
    def score(self, variants: Sequence[Variant] | Iterable[Variant], *,
              distance: int | None = None, mask: bool | None = None) -> list[ScoreResult]:
        """One result per input variant, in input order.  ``distance``/``mask`` override the
        configured values for this call."""
        variants = list(variants)
        dist = self.config.distance if distance is None else check_distance(distance)
        msk = self.config.mask if mask is None else bool(mask)
        spec = self.session.spec
        plans: dict[tuple, _Plan | ScoreResult] = {}
        windows: dict[tuple, tuple[str, str]] = {}
        needs: dict[TileGroup, list[tuple[int, int]]] = {}
        incs: dict[TileGroup, dict[tuple, AltJob]] | None = {} if self.split_model else None
        for v in variants:
            key = _key(v)
            if key in plans:
                continue
            try:
                plans[key] = self._plan(v, dist, spec.context, windows, needs, incs)
            except SeqScoreError as exc:
                plans[key] = ScoreResult(v, error=ErrorInfo(exc.code, exc.message))
        tiles = self._add_tiles(needs, windows, spec.context)
        budget = self.config.batch_size * (spec.context + 2 * dist + 1)
        preds = self._predict_incremental(incs, tiles, windows, dist, budget) if incs else {}
        preds.update(self._predict(windows, budget=budget))
        cov = 2 * dist + 1
        acc, don = spec.channel("acceptor"), spec.channel("donor")
        done: dict[tuple, ScoreResult] = {}
        for key, plan in plans.items():
            if isinstance(plan, ScoreResult):
                done[key] = plan
                continue
            v = plan.variant
            scores = []
            for slot in plan.slots:
                if isinstance(slot, GeneScore):
                    scores.append(slot)
                    continue
                group, start, end = slot.ref_need
                ta, tb = find_tile(tiles[group], start, end)
                y_ref = preds[("tile", group, ta, tb)][start - ta:end - ta]
                y_alt = align_alt(preds[slot.alt_key], cov, len(v.ref), len(v.alt))
                d = delta_scores(y_ref, y_alt, acceptor=acc, donor=don,
                                 dist_exon_boundary=slot.dist_boundary, mask=msk)
                scores.append(GeneScore(slot.gene, slot.strand, *d.ds, *d.dp))
            done[key] = _finite(ScoreResult(v, tuple(scores)))
        out = []
        for v in variants:
            r = done[_key(v)]
            out.append(r if r.variant is v else ScoreResult(v, r.scores, r.error))
        return out

    def _add_tiles(self, needs: dict[TileGroup, list[tuple[int, int]]],
                   windows: dict[tuple, tuple[str, str]],
                   context: int) -> dict[TileGroup, list[tuple[int, int]]]:
        """Plan the REF tiles of every group and add their masked sequences to ``windows``."""
        gap = -1 if self.config.strategy == "window" else MERGE_GAP
        half = context // 2
        tiles = {}
        for group, spans in needs.items():
            tiles[group] = plan_tiles(spans, merge_gap=gap)
            masked = self._masked_reader(group)
            for ta, tb in tiles[group]:
                windows[("tile", group, ta, tb)] = (masked(ta - half, tb + half), group.strand)
        return tiles

    def _masked_reader(self, group: TileGroup):
        """``(start, end) -> str``: the group's masked sequence (N outside its transcript)."""
        genome = self.genome
        clen = genome.length(group.contig)
        fetch = lambda a, b: genome.fetch(group.contig, a, b)  # noqa: E731
        return lambda a, b: masked_span(fetch, clen, group, a, b)

    def _predict_incremental(self, incs: dict[TileGroup, dict[tuple, AltJob]],
                             tiles: dict[TileGroup, list[tuple[int, int]]],
                             windows: dict[tuple, tuple[str, str]], dist: int,
                             budget: int) -> dict[tuple, np.ndarray]:
        """REF tiles holding SNVs or indels and their ALTs, on the split graphs (the tiles are
        taken out of ``windows``).  Predictions in forward-strand order."""
        work: list[TileWork] = []
        for group, jobs in incs.items():
            per_tile: dict[tuple[int, int], list[AltJob]] = {}
            for job in jobs.values():
                per_tile.setdefault(find_tile(tiles[group], job.pos0 - dist, job.pos0 + dist + 1),
                                    []).append(job)
            for tile, tile_jobs in per_tile.items():
                key = ("tile", group) + tile
                seq, _ = windows.pop(key)
                work.append(TileWork(key, seq, group.strand, tile, tile_jobs))
        out: dict[tuple, np.ndarray] = {}
        minus = {t.key for t in work if t.strand == "-"} | {
            j.key for t in work if t.strand == "-" for j in t.jobs}
        for batch in _position_batches(work, INCREMENTAL_POSITIONS):
            preds = self.split_model.run_tiles(batch, dist, self.session.spec, budget)
            for key, y in preds.items():
                out[key] = y[::-1] if key in minus else y
        return out

    def _plan(self, v: Variant, dist: int, context: int,
              windows: dict[tuple, tuple[str, str]],
              needs: dict[TileGroup, list[tuple[int, int]]],
              incs: dict[TileGroup, dict[tuple, AltJob]] | None = None) -> _Plan | ScoreResult:
        if not isinstance(v, Variant):
            raise InvalidVariantError(f"expected a Variant, got {type(v).__name__}")
        v = validate(v)
        kind = classify(v.ref, v.alt)
        if kind is VariantKind.SYMBOLIC:
            raise UnsupportedVariantError(f"{v}: ALT {v.alt!r} is symbolic or missing; not scored")
        self._check_lengths(v, context)
        genome = self.genome
        contig = genome.resolve(v.contig)
        contig_len = genome.length(contig)
        if v.pos > contig_len:
            raise InvalidVariantError(
                f"{v}: position {v.pos} is beyond the end of contig {contig} ({contig_len} bp)")
        genes = self.annotation.genes_at(v.contig, v.pos)
        if not genes:
            return ScoreResult(v, ())
        found = genome.fetch(contig, v.start, min(v.end, contig_len))
        if found != v.ref:
            raise RefMismatchError(
                f"{v}: REF {v.ref} does not match the reference, which has {found} at "
                f"{contig}:{v.pos}")
        lay = layout(v.pos, dist, context)
        if lay.start < 0 or lay.end > contig_len:
            if not self.config.pad_edges:
                raise NearContigEndError(
                    f"{v}: its {lay.wid}-bp window runs off the end of contig {contig} "
                    f"({contig_len} bp); not scored (SpliceAI skips it; --pad-edges pads with N)")
            left, right = max(0, -lay.start), max(0, lay.end - contig_len)
            seq = "N" * left + genome.fetch(contig, lay.start + left, lay.end - right) + "N" * right
        else:
            seq = genome.fetch(contig, lay.start, lay.end)
        if len(v.ref) > 2 * dist:
            raise RefTooLongError(
                f"{v}: REF is {len(v.ref)} bp, longer than 2 x distance ({2 * dist}); not scored")
        plan = _Plan(v)
        complex_allele = kind in (VariantKind.MNV, VariantKind.COMPLEX)
        for gene in genes:
            if complex_allele and not self.config.score_complex:
                plan.slots.append(GeneScore(gene.name, gene.strand, *([None] * 8)))
                continue
            d_start, d_end, d_boundary = gene.distances(v.pos)
            pad = gene_padding(lay.wid, d_start, d_end)
            group = TileGroup(contig, gene.strand, gene.tx_start, gene.tx_end)
            need = (group, v.start - dist, v.start + dist + 1)
            needs.setdefault(group, []).append(need[1:])
            alt_key = (contig, v.pos, lay.wid, pad, gene.strand, v.ref, v.alt)
            if incs is not None and (kind is VariantKind.SNV or (
                    kind in (VariantKind.INSERTION, VariantKind.DELETION)
                    and len(v.ref) <= dist + INCREMENTAL_MAX_REF)):
                incs.setdefault(group, {})[alt_key] = AltJob(alt_key, v.start, len(v.ref), v.alt)
            elif alt_key not in windows:
                windows[alt_key] = (splice_alt(mask_outside(seq, pad), lay.centre, len(v.ref),
                                               v.alt), gene.strand)
            plan.slots.append(_Job(gene.name, gene.strand, need, alt_key, d_boundary))
        return plan

    def max_allele_length(self, context: int | None = None) -> int:
        """The longest REF or ALT scored (the configured cap, else the model's context)."""
        cap = self.config.max_allele_length
        if cap is not None:
            return cap
        return self.session.spec.context if context is None else context

    def _check_lengths(self, v: Variant, context: int) -> None:
        cap = self.max_allele_length(context)
        longest = max(len(v.ref), len(v.alt))
        if longest > cap:
            which = "REF" if len(v.ref) >= len(v.alt) else "ALT"
            raise AlleleTooLongError(
                f"{v}: {which} is {longest:,} bp, longer than the cap of {cap:,} bp "
                f"(the model's window; --max-allele-length raises it); not scored")

    def _predict(self, windows: dict[tuple, tuple[str, str]], *,
                 budget: int) -> dict[tuple, np.ndarray]:
        """Run every window through the model, batched by similar length, at most ``budget``
        input positions (padding included) per call.  Returns each window's predictions in
        forward-strand order, ``len(window) - context`` long."""
        if not windows:
            return {}
        session = self.session
        spec = session.spec
        order = sorted(windows, key=lambda k: len(windows[k][0]))
        out: dict[tuple, np.ndarray] = {}
        for keys in length_batches(order, [len(windows[k][0]) for k in order], budget):
            arrays = [one_hot_oriented(*windows[k], spec.alphabet, spec.n_value) for k in keys]
            y = session.predict(stack_padded(arrays, spec.n_value))
            for j, k in enumerate(keys):
                n = len(windows[k][0]) - spec.context
                yk = y[j, :n]
                out[k] = yk[::-1] if windows[k][1] == "-" else yk
        return out


def _finite(result: ScoreResult) -> ScoreResult:
    """``result``, or an ``INTERNAL`` error for its variant when the model gave a NaN or
    infinite score (never written as ``nan`` into a VCF, JSON or Hail table)."""
    for s in result.scores:
        if s.scored and not all(np.isfinite((s.ds_ag, s.ds_al, s.ds_dg, s.ds_dl))):
            return ScoreResult(result.variant, error=ErrorInfo(
                "INTERNAL", f"{result.variant}: the model gave a non-finite score (NaN or "
                f"infinity) for gene {s.gene}; not scored"))
    return result


def _position_batches(work: list[TileWork], limit: int):
    """Consecutive runs of tiles whose sequences add up to at most ``limit`` positions (a
    longer tile forms a run of its own)."""
    batch: list[TileWork] = []
    size = 0
    for tile in work:
        if batch and size + len(tile.seq) > limit:
            yield batch
            batch, size = [], 0
        batch.append(tile)
        size += len(tile.seq)
    if batch:
        yield batch


def _key(v: Variant) -> tuple:
    return (v.contig, v.pos, v.ref.upper(), v.alt.upper()) if isinstance(v, Variant) else (id(v),)
