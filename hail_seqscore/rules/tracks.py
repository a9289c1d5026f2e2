"""The rule of regulatory track models (kind ``tracks``): windows and per-track effects.

Two window plans, by the model's input (``ModelSpec.input_length``):

* **Any length** (fully convolutional, e.g. Puffin): REF outputs are slices of tiles shared by
  every variant of a contig — one pass over a stretch serves all its variants, exactly as one
  window each would — and each ALT is one window holding ``radius`` positions each side of its
  allele plus the model's context.  Beyond a contig end the window is N.
* **Fixed length** (Enformer, Basenji2, AI-TAC): one window of ``input_length`` bases with the
  variant's first base at its centre; the ALT window is the REF window with the allele replaced,
  cut or extended on the right to the same length (left-anchored).  Variants at one position
  share their REF window.  ``shifts`` adds windows moved by each shift (averaged).  An
  any-length model with bins of several bases gets the same kind of window, just long enough for
  the bins within ``radius`` of the variant and one bin more on each side.

Effects per track come from :mod:`scoring_tracks` (reduction, position-matched bins for
indels, reverse-complement averaging with strand-paired tracks).  No annotation is used: every
variant on the reference is scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError, RefMismatchError
from ..records import ScoreResult, TrackEffects, Variant
from ..scoring_tracks import (REDUCTIONS, average_rc, bins_near, effects, matched,
                              rc_permutation, summary)
from ..tiles import TileGroup
from . import Batch, Predictions
from .spliceai import finite

if TYPE_CHECKING:
    from ..engine import Engine

#: input positions per model call for windowed models (Enformer's activations for one window
#: take ~5 GB)
WINDOW_POSITIONS = 262_144


@dataclass
class _Plan:
    variant: Variant
    radius: int
    ref_needs: list          # any length: (TileGroup, start, end) per strand
    ref_keys: list           # fixed length: window keys per (strand, shift)
    alt_keys: list           # window keys per (strand[, shift])
    bins: tuple[int, int] = (0, 0)    # fixed length: the bins reduced


class TracksRule:
    output = "y"
    default_mask = False

    def __init__(self, engine: "Engine"):
        self.engine = engine
        spec = engine.session.spec
        cfg = engine.config
        self.spec = spec
        self.names = list(spec.output_channels)
        self.reduction = cfg.reduction or spec.default_reduction
        if self.reduction not in REDUCTIONS:
            raise ConfigError(f"reduction must be one of {', '.join(REDUCTIONS)}, got "
                              f"{self.reduction!r}")
        self.strands = ("+", "-") if cfg.rc_average else ("+",)
        self.perm = rc_permutation(spec.tracks or [{"name": n} for n in self.names])
        # windows per variant for fixed-length and binned models; base-resolution any-length
        # models use shared REF tiles (shifting their input only shifts their output)
        self.fixed = spec.input_length > 0 or spec.bin_size > 1
        self.shifts = (0,) + tuple(s for s in cfg.shifts if s != 0) if self.fixed else (0,)

    def load_annotation(self) -> None:
        return None                 # effects need no genes

    def check_reference(self) -> None:
        return None

    def provenance(self) -> dict[str, object]:
        return {"reduction": self.reduction, "rc_average": len(self.strands) == 2,
                "shifts": ",".join(map(str, self.shifts)),
                "radius": "" if self.engine.config.radius is None else self.engine.config.radius}

    def budget(self, dist: int) -> int:
        """Input positions per model call: a few windows of a fixed-length model (their
        activations are large), else the engine's default."""
        cfg, spec = self.engine.config, self.spec
        if self.fixed:    # up to 256k input positions per call: one Enformer window, 64 AI-TAC
            return spec.input_length * max(1, min(cfg.batch_size, WINDOW_POSITIONS //
                                                  max(1, spec.input_length)))
        return cfg.batch_size * (spec.context + 2 * self._radius(dist) + 1)

    def _radius(self, dist: int) -> int:
        r = self.engine.config.radius
        return dist if r is None else r

    def _fetch(self, contig: str, length: int, start: int, end: int) -> str:
        """Genome [start, end) with N beyond the contig."""
        lo, hi = max(0, start), min(length, end)
        if lo >= hi:
            return "N" * (end - start)
        return "N" * (lo - start) + self.engine.genome.fetch(contig, lo, hi) + "N" * (end - hi)

    def plan(self, v: Variant, dist: int, batch: Batch) -> _Plan:
        eng = self.engine
        _, contig, clen = eng.checked_site(v, self.spec.context)
        found = eng.genome.fetch(contig, v.start, min(v.end, clen))
        if found != v.ref.upper():
            raise RefMismatchError(f"{v}: REF {v.ref} does not match the reference, which has "
                                   f"{found} at {contig}:{v.pos}")
        alt = v.alt.upper()
        if self.fixed:
            return self._plan_fixed(v, alt, contig, clen, batch, dist)
        r = self._radius(dist)
        spec = self.spec
        left, right = spec.offset, spec.context - spec.offset
        plan = _Plan(v, r, [], [], [])
        seq = self._fetch(contig, clen, v.start - r - left, v.end + r + right)
        cut = r + left
        alt_seq = seq[:cut] + alt + seq[cut + len(v.ref):]
        for strand in self.strands:
            group = TileGroup(contig, strand, -(1 << 62), 1 << 62)    # no masking
            plan.ref_needs.append(batch.need(group, v.start - r, v.end + r))
            key = ("tracks", contig, v.pos, v.ref.upper(), alt, r, strand)
            batch.windows.setdefault(key, (alt_seq, strand))
            plan.alt_keys.append(key)
        return plan

    def _plan_fixed(self, v: Variant, alt: str, contig: str, clen: int, batch: Batch,
                    dist: int) -> _Plan:
        spec = self.spec
        b = spec.bin_size
        r = self.engine.config.radius
        if spec.input_length:            # the model's length, the variant at its centre
            L, centre = spec.input_length, spec.input_length // 2
        else:                            # any length, binned: bins covering ±radius and a bin
            r = self._radius(dist)
            n = -(-(2 * r + len(v.ref)) // b) + 2
            L, centre = spec.context + n * b, spec.offset + r + b
        n_bins = (L - spec.context) // b
        plan = _Plan(v, 0, [], [], [])
        for shift in self.shifts:
            ws = v.start - centre + shift
            ref_seq = self._fetch(contig, clen, ws, ws + L)
            cut = v.start - ws
            tail = self._fetch(contig, clen, ws + L, ws + L + max(0, len(v.ref) - len(alt)))
            alt_seq = (ref_seq[:cut] + alt + ref_seq[cut + len(v.ref):] + tail)[:L]
            for strand in self.strands:
                ref_key = ("tracks-ref", contig, ws, L, strand)
                batch.windows.setdefault(ref_key, (ref_seq, strand))
                alt_key = ("tracks-alt", contig, ws, L, strand, v.ref.upper(), alt)
                batch.windows.setdefault(alt_key, (alt_seq, strand))
                plan.ref_keys.append(ref_key)
                plan.alt_keys.append(alt_key)
            if shift == 0:
                plan.bins = (0, n_bins) if r is None else bins_near(
                    ws + spec.offset, b, n_bins, v.start - r, v.end + r)
        return plan

    def _strand_mean(self, ys: list[np.ndarray]) -> np.ndarray:
        """Average over strands (``+`` first, then ``-`` with its tracks permuted) and shifts
        (keys ordered shift by shift, strands within)."""
        per_shift = []
        n = len(self.strands)
        for i in range(0, len(ys), n):
            group = ys[i:i + n]
            per_shift.append(group[0] if n == 1 else average_rc(group[0], group[1], self.perm))
        return np.mean(per_shift, axis=0) if len(per_shift) > 1 else per_shift[0]

    def finish(self, plan: _Plan, preds: Predictions, dist: int, mask: bool) -> ScoreResult:
        v = plan.variant
        if self.fixed:
            i, j = plan.bins
            ref = self._strand_mean([preds.alt(k) for k in plan.ref_keys])[i:j]
            alt = self._strand_mean([preds.alt(k) for k in plan.alt_keys])[i:j]
        else:
            ref = self._strand_mean([preds.ref(*need) for need in plan.ref_needs])
            alt = self._strand_mean([preds.alt(k) for k in plan.alt_keys])
            ref, alt = matched(ref, alt, plan.radius, len(v.ref), len(v.alt))
        values = effects(ref, alt, self.reduction)
        top, name = summary(values, self.names)
        record = TrackEffects(tuple(float(x) for x in values), self.reduction, top, name)
        return finite(ScoreResult(v, (record,)))
