"""Incremental ALT inference for SNVs on split graphs (exact).

``seqscore export`` writes each model also as a *trunk* (stem and groups 1–3) and a *head*
(group 4 and the output).  An SNV changes the trunk's output only within ``trunk_half``
positions of itself, so an SNV's ALT prediction is::

    head( trunk(REF tile) with [p - trunk_half, p + trunk_half] replaced by
          trunk(ALT bases p - 2·trunk_half … p + 2·trunk_half) )

which costs about half of a full ALT pass.  Everything here works in model orientation
(reverse-complemented for minus-strand genes); callers flip outputs back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .encode import one_hot, reverse_complement, stack_padded
from .models.registry import split_paths
from .models.session import ModelSession, get_session
from .models.spec import PREFIX

CHUNK = 16   # windows per trunk/head call


@dataclass(frozen=True)
class SnvJob:
    key: tuple       # where the ALT prediction goes
    pos0: int        # 0-based position of the SNV
    alt: str


class SplitModel:
    """The trunk and head sessions of an exported model, if both exist."""

    def __init__(self, trunk: ModelSession, head: ModelSession):
        self.trunk, self.head = trunk, head
        self.trunk_half = int(trunk.metadata[PREFIX + "trunk_half"])
        self.head_half = int(head.metadata[PREFIX + "head_half"])

    @classmethod
    def load(cls, model_file, *, providers=None, threads=None) -> "SplitModel | None":
        trunk_path, head_path = split_paths(model_file)
        if not (trunk_path.is_file() and head_path.is_file()):
            return None
        trunk = get_session(str(trunk_path), providers=providers, threads=threads)
        head = get_session(str(head_path), providers=providers, threads=threads)
        if PREFIX + "trunk_half" not in trunk.metadata or PREFIX + "head_half" not in head.metadata:
            return None
        return cls(trunk, head)

    def _trunk(self, x: np.ndarray):
        return self.trunk.run(["h", "s"], {"x": np.ascontiguousarray(x, dtype=np.float32)})

    def _head(self, h: np.ndarray, s: np.ndarray) -> np.ndarray:
        return self.head.run(["y"], {"h": h, "s": s})[0]

    def run_tiles(self, tiles: list["TileWork"], distance: int, spec,
                  budget: int) -> dict[tuple, np.ndarray]:
        """REF predictions of each tile and ALT predictions of its SNVs, in model orientation.

        Tiles of similar length share trunk/head calls (right-padded with N, which changes no
        kept output); all SNVs of the tiles are batched ``CHUNK`` at a time."""
        T, E, D = self.trunk_half, self.head_half, distance
        out: dict[tuple, np.ndarray] = {}
        tiles = sorted(tiles, key=lambda t: len(t.seq))
        trunk_out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        i = 0
        while i < len(tiles):          # trunk + head over REF tiles, batched by length
            j, first = i, len(tiles[i].seq)
            while (j < len(tiles) and len(tiles[j].seq) <= first * 1.05
                   and len(tiles[j].seq) * (j - i + 1) <= max(budget, first)):
                j += 1
            group = tiles[i:j]
            x = stack_padded([_encode(t.seq, t.strand, spec) for t in group], spec.n_value)
            h, s = self._trunk(x)
            y = self._head(h, s)
            for k, t in enumerate(group):
                n = len(t.seq)
                trunk_out[id(t)] = (h[k:k + 1, :, :, :n - 2 * T], s[k:k + 1, :, :, :n - 2 * T])
                out[t.key] = y[k, :n - spec.context]
            i = j
        width, offset = 2 * D + 1 + 2 * E, E + D - T
        jobs = [(t, job) for t in tiles for job in t.snvs]
        for c in range(0, len(jobs), CHUNK):   # SNV ALTs: small trunk, patch, head
            chunk = jobs[c:c + CHUNK]
            small = []
            for t, job in chunk:
                seq = t.masked(job.pos0 - 2 * T, job.pos0 + 2 * T + 1)
                small.append(_encode(seq[:2 * T] + job.alt + seq[2 * T + 1:], t.strand, spec))
            h_s, s_s = self._trunk(np.stack(small))
            hs, ss = [], []
            for k, (t, job) in enumerate(chunk):
                ta, tb = t.span
                k0 = (tb - 1 - job.pos0 - D) if t.strand == "-" else (job.pos0 - D - ta)
                h_t, s_t = trunk_out[id(t)]
                h = h_t[0, :, :, k0:k0 + width].copy()
                s = s_t[0, :, :, k0:k0 + width].copy()
                h[:, :, offset:offset + 2 * T + 1] = h_s[k]
                s[:, :, offset:offset + 2 * T + 1] = s_s[k]
                hs.append(h)
                ss.append(s)
            y = self._head(np.stack(hs), np.stack(ss))
            for k, (t, job) in enumerate(chunk):
                out[job.key] = y[k]
        return out


@dataclass
class TileWork:
    """A REF tile (its masked sequence with context, genome span of its outputs) and the SNVs
    whose ALT predictions come from it."""

    key: tuple
    seq: str
    strand: str
    span: tuple[int, int]
    masked: Callable[[int, int], str]
    snvs: list[SnvJob]


def _encode(seq: str, strand: str, spec) -> np.ndarray:
    x = one_hot(seq, spec.alphabet, spec.n_value)
    return reverse_complement(x) if strand == "-" else x
