"""The one batching engine: variants in, one :class:`ScoreResult` per variant out.

It dedupes variants, asks the model's scoring rule (``rules/``: SpliceAI's, Pangolin's; chosen by
the model's ``scorer``) which REF tiles, incremental ALTs and whole windows each variant needs,
plans REF tiles shared by nearby variants, runs windows of similar length together in batches,
and hands the predictions back to the rule, which builds each variant's records.  One bad
variant never sinks a batch: it gets a result carrying its error.  The CLI, the daemon and the
Hail scorers all call this.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from . import __version__
from .encode import length_batches, one_hot_oriented, stack_padded
from .errors import (AlleleTooLongError, ConfigError, InvalidVariantError, SeqScoreError,
                     UnsupportedVariantError)
from .genome import Genome
from .incremental import AltJob, SplitModel, TileWork
from .models.device import merge_device
from .models.registry import PRECISIONS
from .models.session import ModelSession, get_session
from .pangolin_genes import parse_filter
from .records import ErrorInfo, ScoreResult, Variant
from .rules import Batch, Predictions, Rule, rule_for
from .tiles import MERGE_GAP, TileGroup, find_tile, masked_span, plan_tiles
from .variants import VariantKind, as_variant, classify, validate

MAX_DISTANCE = 4999   # SpliceAI's -D accepts 0..4999
STRATEGIES = ("auto", "incremental", "tiled", "window")
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
    mask: bool | None = None      # None: the tool's own default (SpliceAI off, Pangolin on)
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
    # which transcripts of a GTF annotation a Pangolin model keeps, as its create_db.py
    # --filter: "" = its default (Ensembl_canonical), "None" = all, else TAG[,TAG...]
    annotation_filter: str = ""
    # Pangolin's -s CUTOFF (every site with |change| >= cutoff) and --score_exons
    score_cutoff: float | None = None
    score_exons: bool = False
    # track models (kind "tracks"): the reduction over bins (None = the model's default: diff,
    # log2fc or max_abs_diff), the bases each side of the variant whose bins are reduced (None
    # = the distance for any-length models, the whole output for fixed-length ones), averaging
    # with the reverse complement, and window shifts averaged (fixed-length models)
    reduction: str | None = None
    radius: int | None = None
    rc_average: bool = False
    shifts: tuple[int, ...] = ()
    # "auto" (best available provider, reported), "cpu" or "cuda" (required: an error at
    # start-up when the CUDA provider cannot be created); see models/device.py
    device: str = "auto"

    def __post_init__(self):
        check_distance(self.distance)
        if self.mask is not None:
            object.__setattr__(self, "mask", bool(self.mask))
        if self.annotation_filter:
            parse_filter(self.annotation_filter)
        r = self.radius
        if r is not None and (isinstance(r, bool) or not isinstance(r, int) or r < 0):
            raise ConfigError(f"radius must be an integer >= 0, got {r!r}")
        object.__setattr__(self, "shifts", tuple(int(x) for x in self.shifts))
        c = self.score_cutoff
        if c is not None and (isinstance(c, bool) or not isinstance(c, (int, float))
                              or not 0 <= c <= 1):
            raise ConfigError(f"score_cutoff must be a number from 0 to 1, got {c!r}")
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
        object.__setattr__(self, "providers", merge_device(self.device, self.providers))


class Engine:
    """Score variants with one model, reference and annotation (see :class:`EngineConfig`).

    Cheap to construct and picklable: the FASTA, gene table and ONNX session open lazily in
    the process that first scores."""

    def __init__(self, config: EngineConfig | None = None, **kwargs):
        self.config = config if config is not None else EngineConfig(**kwargs)
        self._genome: Genome | None = None
        self._annotation = None
        self._rule: Rule | None = None
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
                           precision=c.precision, device=c.device)

    @property
    def genome(self) -> Genome:
        if self._genome is None:
            self._genome = Genome(self.config.reference)
        return self._genome

    @property
    def rule(self) -> Rule:
        """The scoring rule of the model's tool (``rules/``)."""
        if self._rule is None:
            self._rule = rule_for(self)
        return self._rule

    @property
    def annotation(self):
        """The gene annotation as the model's rule reads it (a ``GeneTable`` for SpliceAI's
        rule, ``PangolinGenes`` for Pangolin's)."""
        if self._annotation is None:
            with self._lock:
                if self._annotation is None:
                    self._annotation = self.rule.load_annotation()
        return self._annotation

    @property
    def default_mask(self) -> bool:
        """Masking when neither the configuration nor the call says: the tool's own default."""
        return self.rule.default_mask if self.config.mask is None else self.config.mask

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
        self.rule.check_reference()
        return self

    def provenance(self) -> dict[str, object]:
        s = self.session
        ann = self.annotation
        return {
            "model": s.spec.name, "model_version": s.spec.version, "model_sha256": s.sha256,
            "model_source": f"{s.spec.source_package}=={s.spec.source_version}",
            "reference": os.path.abspath(self.config.reference),
            "annotation": self.config.annotation, "annotation_sha256": (ann.sha256 if ann is not None else "") or "",
            "distance": self.config.distance, "mask": self.default_mask,
            "precision": self.config.precision,
            "hail_seqscore_version": __version__,
            **self.rule.provenance(),
        }

    # ---- scoring -------------------------------------------------------------------------
    def score(self, variants: Sequence[Variant] | Iterable[Variant], *,
              distance: int | None = None, mask: bool | None = None) -> list[ScoreResult]:
        """One result per input variant, in input order.  ``distance``/``mask`` override the
        configured values for this call."""
        variants = [_mapped(v, i) for i, v in enumerate(variants)]
        dist = self.config.distance if distance is None else check_distance(distance)
        msk = self.default_mask if mask is None else bool(mask)
        spec = self.session.spec
        rule = self.rule
        plans: dict[tuple, object] = {}
        batch = Batch(incs={} if self.split_model else None)
        for v in variants:
            key = _key(v)
            if key in plans:
                continue
            try:
                plans[key] = rule.plan(as_variant(v), dist, batch)
            except SeqScoreError as exc:
                plans[key] = ScoreResult(v, error=ErrorInfo(exc.code, exc.message))
        tiles = self._add_tiles(batch.needs, batch.windows, spec.context)
        budget = (rule.budget(dist) if hasattr(rule, "budget")
                  else self.config.batch_size * (spec.context + 2 * dist + 1))
        preds = (self._predict_incremental(batch.incs, tiles, batch.windows, dist, budget)
                 if batch.incs else {})
        preds.update(self._predict(batch.windows, budget=budget))
        got = Predictions(preds, tiles)
        done: dict[tuple, ScoreResult] = {}
        for key, plan in plans.items():
            done[key] = plan if isinstance(plan, ScoreResult) else rule.finish(plan, got, dist,
                                                                               msk)
        out = []
        for v in variants:
            r = done[_key(v)]
            out.append(r if r.variant is v else ScoreResult(v, r.scores, r.error))
        return out

    def checked_site(self, v: Variant, context: int) -> tuple[VariantKind, str, int]:
        """Checks every rule makes first: a valid, non-symbolic variant no longer than the cap,
        on a contig of the reference, within it.  Returns (kind, FASTA contig, its length)."""
        if not isinstance(v, Variant):
            raise InvalidVariantError(f"expected a Variant, got {type(v).__name__}")
        v = validate(v)
        kind = classify(v.ref, v.alt)
        if kind is VariantKind.SYMBOLIC:
            raise UnsupportedVariantError(f"{v}: ALT {v.alt!r} is symbolic or missing; not scored")
        self._check_lengths(v, context)
        contig = self.genome.resolve(v.contig)
        contig_len = self.genome.length(contig)
        if v.pos > contig_len:
            raise InvalidVariantError(
                f"{v}: position {v.pos} is beyond the end of contig {contig} ({contig_len} bp)")
        return kind, contig, contig_len

    def _add_tiles(self, needs: dict[TileGroup, list[tuple[int, int]]],
                   windows: dict[tuple, tuple[str, str]],
                   context: int) -> dict[TileGroup, list[tuple[int, int]]]:
        """Plan the REF tiles of every group and add their masked sequences to ``windows``."""
        # nearby needs share a tile when the bases between them cost less than a tile's
        # context: SpliceAI's 10,000 bases allow MERGE_GAP, Puffin's 650 far less
        gap = -1 if self.config.strategy == "window" else min(MERGE_GAP, context)
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
            preds = self.split_model.run_tiles(batch, dist, self.session.spec, budget,
                                               output=self.rule.output)
            for key, y in preds.items():
                out[key] = y[::-1] if key in minus else y
        return out

    def max_allele_length(self, context: int | None = None) -> int:
        """The longest REF or ALT scored (the configured cap, else the model's context, or its
        input length for a model whose one bin is its whole window, such as AI-TAC)."""
        cap = self.config.max_allele_length
        if cap is not None:
            return cap
        spec = self.session.spec
        return max(spec.context if context is None else context, spec.input_length)

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
            y = session.predict(stack_padded(arrays, spec.n_value), output=self.rule.output)
            for j, k in enumerate(keys):
                n = (len(windows[k][0]) - spec.context) // spec.bin_size
                yk = y[j, :n]
                out[k] = yk[::-1] if windows[k][1] == "-" else yk
        return out


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


def _mapped(v, i: int):
    """A ``{"chrom", "pos", "ref", "alt"}`` mapping as a Variant; one that does not make a
    valid variant stays as it is (its result then carries the error)."""
    try:
        return as_variant(v, where=f"variants[{i}]")
    except InvalidVariantError:
        return v


def _key(v: Variant) -> tuple:
    return (v.contig, v.pos, v.ref.upper(), v.alt.upper()) if isinstance(v, Variant) else (id(v),)
