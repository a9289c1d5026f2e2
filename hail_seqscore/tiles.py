"""Reference tiles: one forward pass over a stretch of a gene serves every variant in it.

A variant's REF window is a slice of its gene's *masked* sequence — the genome with N outside
the transcript (and beyond the contig ends) — so its REF predictions are the model's outputs
over that masked sequence at the variant's ``2 * distance + 1`` positions.  The exported graphs
compute each output from its own receptive field only, so one long pass gives exactly the
outputs of many short ones.  This module plans which spans to run (pure integer logic).

Cost model (SpliceAI-10k, per member): ``1.38 MFLOP`` per output position plus ``~9.3 GFLOP``
of context per pass.  Two needs ``gap`` bases apart are cheaper as one tile when
``1.38e6 * gap < 9.3e9``, i.e. ``gap < ~6,700``; the default merge gap stays below that.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

MERGE_GAP = 5_000        # merge needs closer than this (bases between them)
MAX_TILE = 30_000        # outputs per tile, bounding activation memory


@dataclass(frozen=True)
class TileGroup:
    """Variants whose REF windows come from one masked sequence and one orientation."""

    contig: str
    strand: str
    tx_start: int     # 0-based; bases before it are N
    tx_end: int       # exclusive; bases from it on are N


def plan_tiles(needs: list[tuple[int, int]], *, merge_gap: int = MERGE_GAP,
               max_len: int = MAX_TILE) -> list[tuple[int, int]]:
    """Cover the output spans ``needs`` ([start, end) 0-based) with sorted, disjoint tiles.

    Spans closer than ``merge_gap`` share a tile unless it would exceed ``max_len`` outputs;
    ``merge_gap < 0`` gives one tile per distinct span (the plain per-variant strategy)."""
    spans = sorted(set(needs))
    if merge_gap < 0:
        return spans
    tiles: list[tuple[int, int]] = []
    for a, b in spans:
        if tiles:
            ta, tb = tiles[-1]
            if a - tb < merge_gap and max(b, tb) - ta <= max_len:
                tiles[-1] = (ta, max(tb, b))
                continue
            if b <= tb:   # contained in the last tile
                continue
        tiles.append((a, b))
    return tiles


def find_tile(tiles: list[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """The tile of ``tiles`` (as returned by :func:`plan_tiles`) that covers [start, end)."""
    i = bisect.bisect_right(tiles, (start, float("inf"))) - 1
    while i >= 0:
        ta, tb = tiles[i]
        if ta <= start and end <= tb:
            return tiles[i]
        i -= 1
    raise LookupError(f"no tile covers [{start}, {end})")


def masked_span(fetch, contig_len: int, group: TileGroup, start: int, end: int) -> str:
    """The masked sequence of ``group`` over [start, end): genome inside the transcript and
    the contig, N elsewhere.  ``fetch(start, end)`` reads the genome."""
    lo, hi = max(start, group.tx_start, 0), min(end, group.tx_end, contig_len)
    if lo >= hi:
        return "N" * (end - start)
    return "N" * (lo - start) + fetch(lo, hi) + "N" * (end - hi)
