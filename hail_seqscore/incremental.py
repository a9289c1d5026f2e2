"""Incremental ALT inference for SNVs on split graphs (exact).

``seqscore export`` writes each model also as a chain of *trunk stages* (stem and groups 1–2,
then each unit of group 3) and a *head* (group 4 and the output).  Stage *k* loses ``halves[k]``
positions per side, so an SNV changes its output only within ``C_k = halves[0] + … +
halves[k]`` positions of itself.  With the REF tile's activations after every stage stored, an
SNV's ALT prediction is computed along a growing cone::

    stage 0 on the ALT bases q ± 2·halves[0]                       → outputs q ± C_0
    stage k on REF(stage k-1) over q ± (C_k + halves[k]),
            with q ± C_{k-1} replaced by the ALT outputs            → outputs q ± C_k
    head on REF(last stage) over q ± (D + head_half), with q ± C_K patched   → y at q ± D

which is the full model's arithmetic at a fraction of the cost: the trunk work of one SNV drops
from a 4,001-bp pass over groups 1–3 to 801 bp for groups 1–2 and 1,201–2,401 positions for each
unit of group 3; the head (group 4) dominates.  Everything here works in model orientation
(reverse-complemented for minus-strand genes); callers flip outputs back.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from .encode import one_hot, reverse_complement, stack_padded
from .errors import ModelFormatError
from .models.registry import split_paths
from .models.session import ModelSession, get_session
from .models.spec import PREFIX

CHUNK = 16   # SNVs per stage/head call


@dataclass(frozen=True)
class SnvJob:
    key: tuple       # where the ALT prediction goes
    pos0: int        # 0-based position of the SNV
    alt: str


class SplitModel:
    """The trunk-stage and head sessions of an exported model, if all exist."""

    def __init__(self, stages: list[ModelSession], head: ModelSession):
        self.stages, self.head = stages, head
        self.halves = [int(h) for h in head.metadata[PREFIX + "stage_halves"].split(",")]
        self.head_half = int(head.metadata[PREFIX + "head_half"])
        self.cum = list(np.cumsum(self.halves))           # C_k
        self.trunk_half = int(self.cum[-1])
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

    def _head(self, h: np.ndarray, s: np.ndarray) -> np.ndarray:
        return self.head.run(["y"], {"h": h, "s": s})[0]

    # ---- REF tiles and SNV ALTs ----------------------------------------------------------
    def run_tiles(self, tiles: list["TileWork"], distance: int, spec,
                  budget: int) -> dict[tuple, np.ndarray]:
        """REF predictions of each tile and ALT predictions of its SNVs, in model orientation.

        Tiles of similar length share stage/head calls (right-padded with N, which changes no
        kept output); all SNVs of the tiles are batched ``CHUNK`` at a time."""
        if self.trunk_half + self.head_half != spec.context // 2:
            raise ModelFormatError(f"split graphs lose {self.trunk_half} + {self.head_half} positions "
                             f"per side, the model {spec.context // 2}")
        out: dict[tuple, np.ndarray] = {}
        acts: dict[int, list[np.ndarray]] = {}   # id(tile) -> [x, h_0, s_0, h_1, s_1, ...]
        tiles = sorted(tiles, key=lambda t: len(t.seq))
        i = 0
        while i < len(tiles):          # the stage chain and head over REF tiles, by length
            j, first = i, len(tiles[i].seq)
            while (j < len(tiles) and len(tiles[j].seq) <= first * 1.05
                   and len(tiles[j].seq) * (j - i + 1) <= max(budget, first)):
                j += 1
            group = tiles[i:j]
            x = stack_padded([_encode(t.seq, t.strand, spec) for t in group], spec.n_value)
            per_stage = []
            h, s = self._stage(0, [x])
            per_stage.append((h, s))
            for k in range(1, len(self.stages)):
                h, s = self._stage(k, [h, s])
                per_stage.append((h, s))
            E = self.head_half
            y = self._head(h, np.ascontiguousarray(s[..., E:-E]))
            for b, t in enumerate(group):
                n = len(t.seq)
                stored = [x[b, :n]]
                for (hk, sk), c in zip(per_stage, self.cum):
                    stored += [hk[b, :, :, :n - 2 * c], sk[b, :, :, :n - 2 * c]]
                acts[id(t)] = stored
                out[t.key] = y[b, :n - spec.context]
            i = j
        jobs = [(t, job) for t in tiles for job in t.snvs]
        half = spec.context // 2
        for c in range(0, len(jobs), CHUNK):
            chunk = jobs[c:c + CHUNK]
            qs = [(tb - 1 - job.pos0 + half) if t.strand == "-" else (job.pos0 - ta + half)
                  for t, job in chunk for ta, tb in [t.span]]
            y = self._alt_chunk([acts[id(t)] for t, _ in chunk], qs,
                                [_encode(job.alt, t.strand, spec)[0] for t, job in chunk],
                                distance)
            for b, (_, job) in enumerate(chunk):
                out[job.key] = y[b]
        return out

    def _alt_chunk(self, acts: list[list[np.ndarray]], qs: list[int], alts: list[np.ndarray],
                   D: int) -> np.ndarray:
        """ALT predictions at q ± D of SNVs at tile input positions ``qs`` (see the module
        docstring for the cone)."""
        h0 = self.halves[0]
        x = np.stack([a[0][q - 2 * h0:q + 2 * h0 + 1] for a, q in zip(acts, qs)])
        x[:, 2 * h0] = np.stack(alts)
        h, s = self._stage(0, [x])
        for k in range(1, len(self.stages)):
            hk, ck, prev = self.halves[k], int(self.cum[k]), int(self.cum[k - 1])
            # inputs q ± (ck + hk), indexed in stage k-1's output (which starts at prev)
            off, w = ck + hk + prev, 2 * (ck + hk) + 1
            h_in = np.stack([a[2 * k - 1][:, :, q - off:q - off + w] for a, q in zip(acts, qs)])
            s_in = np.stack([a[2 * k][:, :, q - off:q - off + w] for a, q in zip(acts, qs)])
            h_in[..., 2 * hk:2 * hk + h.shape[-1]] = h
            s_in[..., 2 * hk:2 * hk + s.shape[-1]] = s
            h, s = self._stage(k, [h_in, s_in])
        T, E = self.trunk_half, self.head_half
        last = 1 + 2 * (len(self.stages) - 1)
        w = 2 * (D + E) + 1
        h_in = np.stack([a[last][:, :, q - D - E - T:q - D - E - T + w] for a, q in zip(acts, qs)])
        h_in[..., D + E - T:D + E + T + 1] = h
        s_in = np.stack([a[last + 1][:, :, q - D - T:q + D + 1 - T] for a, q in zip(acts, qs)])
        m = min(D, T)
        s_in[..., D - m:D + m + 1] = s[..., T - m:T + m + 1]
        return self._head(h_in, s_in)


@dataclass
class TileWork:
    """A REF tile (its masked sequence with context, genome span of its outputs) and the SNVs
    whose ALT predictions come from it."""

    key: tuple
    seq: str
    strand: str
    span: tuple[int, int]
    snvs: list[SnvJob]


def _encode(seq: str, strand: str, spec) -> np.ndarray:
    x = one_hot(seq, spec.alphabet, spec.n_value)
    return reverse_complement(x) if strand == "-" else x
