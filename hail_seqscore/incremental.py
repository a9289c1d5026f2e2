"""Incremental ALT inference for SNVs and indels on split graphs (exact).

``seqscore export`` writes each model also as a chain of *trunk stages* (stem and groups 1–2,
each unit of group 3, the first unit of group 4) and a *head* (the rest).  Stage *k* loses
``halves[k]`` positions per side, so a variant changes its output only within ``C_k =
halves[0] + … + halves[k]`` positions of its ALT allele.  With the REF tile's activations after
every stage stored, the ALT prediction of a variant whose ALT allele spans ``q … r`` is computed
along a growing cone::

    stage 0 on the ALT bases q − 2·halves[0] … r + 2·halves[0]          → outputs q − C_0 … r + C_0
    stage k on REF(stage k−1) over q − C_k − halves[k] … r + C_k + halves[k],
            with q − C_{k−1} … r + C_{k−1} replaced by the ALT outputs  → outputs q − C_k … r + C_k
    head on REF(last stage) around the kept outputs, the ALT cone patched in → y

For an indel the positions are ALT coordinates: left of the allele they are the REF's, right of
it the REF's shifted by ``len(alt) − len(ref)`` (the REF activations there are the same values,
moved).  This is the full model's arithmetic at a fraction of the cost (31% of a full ALT pass
for an SNV; the head dominates).  Everything here works in model orientation
(reverse-complemented for minus-strand genes); callers flip outputs back.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
import numpy as np

from .encode import length_batches, one_hot_oriented, stack_padded
from .errors import ModelFormatError
from .models.registry import split_paths
from .models.session import ModelSession, get_session
from .models.spec import PREFIX

CHUNK = 16   # SNVs per stage/head call


@dataclass(frozen=True)
class AltJob:
    """An SNV or indel whose ALT prediction comes from a REF tile's activations."""

    key: tuple       # where the ALT prediction goes
    pos0: int        # 0-based position of the first REF base
    ref_len: int
    alt: str
    #: ALT outputs kept on each side (None: the call's distance); the ALT prediction covers
    #: ``2 * reach + 1 + len(alt) - ref_len`` positions
    reach: int | None = None


class SplitModel:
    """The trunk-stage and head sessions of an exported model, if all exist."""

    def __init__(self, stages: list[ModelSession], head: ModelSession):
        self.stages, self.head = stages, head
        self.halves = [int(h) for h in head.metadata[PREFIX + "stage_halves"].split(",")]
        self.head_half = int(head.metadata[PREFIX + "head_half"])
        self.cum = list(accumulate(self.halves))          # C_k
        self.trunk_half = self.cum[-1]
        if len(self.halves) != len(stages):
            raise ModelFormatError(f"{head.path}: {len(self.halves)} trunk stages declared, "
                             f"{len(stages)} found")

    @classmethod
    def load(cls, model_file, *, providers=None, threads=None,
             precision: str = "fp32") -> "SplitModel | None":
        _, head_path = split_paths(model_file, 0)
        if not head_path.is_file():
            return None
        opts = dict(providers=providers, threads=threads, precision=precision)
        head = get_session(str(head_path), **opts)
        if PREFIX + "stage_halves" not in head.metadata:
            return None      # a head from an older export: no stage chain
        n = len(head.metadata[PREFIX + "stage_halves"].split(","))
        stage_paths, _ = split_paths(model_file, n)
        if not all(p.is_file() for p in stage_paths):
            return None
        stages = [get_session(str(p), **opts) for p in stage_paths]
        return cls(stages, head)

    # ---- graph calls ---------------------------------------------------------------------
    def _stage(self, k: int, inputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        names = ["x"] if k == 0 else ["h_in", "s_in"]
        h, s = self.stages[k].run(["h", "s"], dict(zip(names, inputs)))
        return h, s

    def _head(self, h: np.ndarray, s: np.ndarray, output: str) -> np.ndarray:
        return self.head.run([output], {"h": h, "s": s})[0]

    # ---- REF tiles and their ALTs ------------------------------------------------------
    def run_tiles(self, tiles: list["TileWork"], distance: int, spec,
                  budget: int, output: str = "y") -> dict[tuple, np.ndarray]:
        """REF predictions of each tile and ALT predictions of its variants, in model
        orientation (of the head's ``output``: ``y``, or ``y_members`` where exported).

        Tiles of similar length share stage/head calls (right-padded with N, which changes no
        kept output); variants with the same REF and ALT lengths are batched ``CHUNK`` at a
        time."""
        if self.trunk_half + self.head_half != spec.context // 2:
            raise ModelFormatError(f"split graphs lose {self.trunk_half} + {self.head_half} "
                                   f"positions per side, the model {spec.context // 2}")
        out: dict[tuple, np.ndarray] = {}
        acts: dict[int, list[np.ndarray]] = {}   # id(tile) -> [x, h_0, s_0, h_1, s_1, ...]
        tiles = sorted(tiles, key=lambda t: len(t.seq))
        # the stage chain and head over REF tiles, batched by length
        for group in length_batches(tiles, [len(t.seq) for t in tiles], budget):
            x = stack_padded([_encode(t.seq, t.strand, spec) for t in group], spec.n_value)
            per_stage = []
            h, s = self._stage(0, [x])
            per_stage.append((h, s))
            for k in range(1, len(self.stages)):
                h, s = self._stage(k, [h, s])
                per_stage.append((h, s))
            E = self.head_half
            y = self._head(h, np.ascontiguousarray(s[..., E:-E]), output)
            for b, t in enumerate(group):
                n = len(t.seq)
                stored = [x[b, :n]]
                for (hk, sk), c in zip(per_stage, self.cum):
                    stored += [hk[b, :, :, :n - 2 * c], sk[b, :, :, :n - 2 * c]]
                acts[id(t)] = stored
                out[t.key] = y[b, :n - spec.context]
        half = spec.context // 2
        by_shape: dict[tuple[int, int], list] = {}
        for t in tiles:
            for job in t.jobs:
                reach = distance if job.reach is None else job.reach
                by_shape.setdefault((len(job.alt), job.ref_len, reach), []).append((t, job))
        for (n_alt, n_ref, reach), jobs in sorted(by_shape.items()):   # one shape per call
            for c in range(0, len(jobs), CHUNK):
                chunk = jobs[c:c + CHUNK]
                # q: model-orientation index (in the tile input) of the REF allele's first base
                qs = [(tb + half - job.pos0 - n_ref) if t.strand == "-"
                      else (job.pos0 - ta + half) for t, job in chunk for ta, tb in [t.span]]
                alts = [_encode(job.alt, t.strand, spec) for t, job in chunk]
                minus = [t.strand == "-" for t, _ in chunk]
                y = self._alt_chunk([acts[id(t)] for t, _ in chunk], qs, alts, minus, n_ref,
                                    reach, output)
                for b, (_, job) in enumerate(chunk):
                    out[job.key] = y[b]
        return out

    def _alt_chunk(self, acts: list[list[np.ndarray]], qs: list[int], alts: list[np.ndarray],
                   minus: list[bool], n_ref: int, D: int, output: str = "y") -> np.ndarray:
        """ALT predictions (``2·D + 1 + len(alt) − n_ref`` positions, model orientation) of
        variants whose REF allele starts at tile input position ``q`` (see the module docstring
        for the cone).

        Positions are in ALT coordinates: left of the ALT allele they equal the REF tile's,
        right of it they are the REF's shifted by ``delta = len(alt) − n_ref``."""
        n_alt = alts[0].shape[0]
        delta = n_alt - n_ref
        h0 = self.halves[0]
        x = np.stack([_spliced(a[0], q - 2 * h0, q + n_alt - 1 + 2 * h0, alt, q, delta)
                      for a, q, alt in zip(acts, qs, alts)])
        h, s = self._stage(0, [x])
        for k in range(1, len(self.stages)):
            ck, hk, prev = self.cum[k], self.halves[k], self.cum[k - 1]
            h_in, s_in = [], []
            for b, (a, q) in enumerate(zip(acts, qs)):
                lo, hi = q - ck - hk, q + n_alt - 1 + ck + hk
                h_in.append(_spliced(a[2 * k - 1], lo, hi, h[b], q - prev, delta, prev))
                s_in.append(_spliced(a[2 * k], lo, hi, s[b], q - prev, delta, prev))
            h, s = self._stage(k, [np.stack(h_in), np.stack(s_in)])
        T, E = self.trunk_half, self.head_half
        last = 2 * len(self.stages) - 1
        h_in, s_in = [], []
        for b, (a, q) in enumerate(zip(acts, qs)):
            y0 = (q + n_ref - 1 - D) if minus[b] else (q - D)    # first kept ALT output
            y1 = y0 + 2 * D + delta                              # last kept ALT output
            h_in.append(_spliced(a[last], y0 - E, y1 + E, h[b], q - T, delta, T))
            s_in.append(_spliced(a[last + 1], y0, y1, s[b], q - T, delta, T))
        return self._head(np.stack(h_in), np.stack(s_in), output)


def _spliced(ref: np.ndarray, lo: int, hi: int, patch: np.ndarray, patch_lo: int,
             delta: int, offset: int = 0) -> np.ndarray:
    """ALT-coordinate positions ``lo`` … ``hi`` of an array whose position axis holds REF
    positions from ``offset`` on: the REF's own values left of ``patch_lo``, then ``patch`` (ALT
    values from ``patch_lo`` on, clipped to the range), then the REF's values shifted by
    ``delta``.  The position axis is the first of the one-hot input ``[L, 4]``, else the last."""
    axis = 0 if ref.ndim == 2 else ref.ndim - 1
    a, b = max(lo, patch_lo), min(hi + 1, patch_lo + patch.shape[axis])

    def cut(arr: np.ndarray, i: int, j: int) -> np.ndarray:
        if i < 0 or j > arr.shape[axis]:
            raise IndexError(f"positions {i}..{j} outside 0..{arr.shape[axis]}")
        idx = [slice(None)] * arr.ndim
        idx[axis] = slice(i, j)
        return arr[tuple(idx)]

    parts = [cut(ref, lo - offset, a - offset), cut(patch, a - patch_lo, b - patch_lo),
             cut(ref, b - delta - offset, hi + 1 - delta - offset)]
    return np.concatenate(parts, axis=axis)


@dataclass
class TileWork:
    """A REF tile (its masked sequence with context, genome span of its outputs) and the SNVs
    whose ALT predictions come from it."""

    key: tuple
    seq: str
    strand: str
    span: tuple[int, int]
    jobs: list[AltJob]


def _encode(seq: str, strand: str, spec) -> np.ndarray:
    return one_hot_oriented(seq, strand, spec.alphabet, spec.n_value)
