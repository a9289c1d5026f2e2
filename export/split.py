"""Split graphs for incremental ALT inference: a chain of *trunk stages* and a *head*.

* stage 0: the stem and groups 1–2 (``x`` → ``h``, ``s``), 200 positions lost per side;
* stages 1–4: one residual unit of group 3 each (``h_in``, ``s_in`` → ``h``, ``s``), 200 per
  side;
* stage 5: the first unit of group 4, 1,000 per side;
* head: units 2–4 of group 4, the last skip, the output layer and the ensemble mean (``h``,
  ``s`` → ``y``), 3,000 per side.

``h`` is the hidden state and ``s`` the running sum of the skip terms, both ``[N, 32·M, 1, L]``
over the positions where ``h`` is defined.  The head takes ``s`` only over its output positions
(``s`` needs no context).  Chained, the pieces compute the full model's arithmetic.

Why so many stages: an SNV changes stage *k*'s output only within ±(sum of the halves up to
*k*) of itself, so the engine recomputes each stage only over that growing cone, patched into
the REF tile's stored activations: 801 bp for stage 0, 1,201 … 2,401 positions for the group-3
units, 6,001 for stage 5 (2.82 GFLOP per member in all, against 4.74 for a single trunk over
groups 1–3 and 9.04 for a full pass).  See :mod:`hail_seqscore.incremental`.
"""

from __future__ import annotations

import torch
from torch import nn

from .model import (CHANNELS, GROUPS, UNITS_PER_GROUP, Groups, SpliceAINet, _crop, check_groups,
                    combine)

#: residual-unit ranges of the trunk stages: groups 1–2 together, then each unit of group 3
STAGE_UNITS: tuple[tuple[int, int], ...] = ((0, 8), (8, 9), (9, 10), (10, 11), (11, 12),
                                            (12, 13))
HEAD_FIRST_UNIT = STAGE_UNITS[-1][1]


def _shrink(unit: int) -> int:
    k, d = GROUPS[unit // UNITS_PER_GROUP]
    return (k - 1) * d            # per side, both convs of a unit


def stage_half(index: int) -> int:
    a, b = STAGE_UNITS[index]
    return sum(_shrink(u) for u in range(a, b))


STAGE_HALVES = tuple(stage_half(i) for i in range(len(STAGE_UNITS)))     # 200 each
TRUNK_HALF = sum(STAGE_HALVES)                                          # 1000
HEAD_HALF = sum(_shrink(u) for u in range(HEAD_FIRST_UNIT, len(GROUPS) * UNITS_PER_GROUP))


def _check(members: list[SpliceAINet]) -> None:
    if not members:
        raise ValueError("a split model needs at least one member")
    for m in members:
        if m.variant.padding != "valid" or m.variant.layout != "2d":
            raise ValueError("split graphs are built from valid-padding 2-D members")


def _units(m: SpliceAINet, a: int, b: int, h: torch.Tensor, s: torch.Tensor):
    """Units ``a``..``b-1`` of member ``m``; ``s`` follows ``h``'s positions and gains the
    group's skip term after the last unit of each group."""
    pending = 0
    for u in range(a, b):
        h = m.units[u](h)
        pending += _shrink(u)
        if u % UNITS_PER_GROUP == UNITS_PER_GROUP - 1:
            s = _crop(s, pending, pending) + m.skips[u // UNITS_PER_GROUP + 1](h)
            pending = 0
    return h, _crop(s, pending, pending)


class TrunkStage(nn.Module):
    """Stage ``index`` of the trunk for every member (channels of the members concatenated)."""

    def __init__(self, members: list[SpliceAINet], index: int):
        super().__init__()
        _check(members)
        self.members = nn.ModuleList(members)
        self.index = index
        self.eval()

    def forward(self, *inputs: torch.Tensor):
        a, b = STAGE_UNITS[self.index]
        hs, ss = [], []
        for i, m in enumerate(self.members):
            if self.index == 0:
                h = m.stem(inputs[0].transpose(1, 2).unsqueeze(2))   # [N, L, 4] -> [N, 32, 1, L]
                s = m.skips[0](h)
            else:
                h = inputs[0][:, i * CHANNELS:(i + 1) * CHANNELS]
                s = inputs[1][:, i * CHANNELS:(i + 1) * CHANNELS]
            h, s = _units(m, a, b, h, s)
            hs.append(h)
            ss.append(s)
        return torch.cat(hs, dim=1), torch.cat(ss, dim=1)


class Head(nn.Module):
    """``h`` over L positions and ``s`` over the L − 2·HEAD_HALF output positions → ``y``
    (the members' outputs combined as :class:`export.model.Ensemble` does, ``groups`` included)."""

    def __init__(self, members: list[SpliceAINet], groups: Groups | None = None,
                 member_output: bool = False):
        super().__init__()
        _check(members)
        check_groups(groups, len(members))
        self.members = nn.ModuleList(members)
        self.groups = groups
        self.member_output = member_output
        self.eval()

    def forward(self, h_all: torch.Tensor, s_all: torch.Tensor):
        ys = []
        n_units = len(GROUPS) * UNITS_PER_GROUP
        for i, m in enumerate(self.members):
            h = h_all[:, i * CHANNELS:(i + 1) * CHANNELS]
            s = s_all[:, i * CHANNELS:(i + 1) * CHANNELS]
            for u in range(HEAD_FIRST_UNIT, n_units):
                h = m.units[u](h)
            s = s + m.skips[len(GROUPS)](h)
            ys.append(m.output(s))
        y = combine(ys, self.groups).squeeze(2).transpose(1, 2)
        if self.member_output:   # as Ensemble: every member's outputs too
            return y, torch.cat(ys, dim=1).squeeze(2).transpose(1, 2)
        return y


def split_metadata(role: str, index: int | None = None) -> dict[str, str]:
    from hail_seqscore.models.spec import PREFIX  # noqa: PLC0415

    meta = {PREFIX + "split_role": role, PREFIX + "trunk_half": str(TRUNK_HALF),
            PREFIX + "head_half": str(HEAD_HALF),
            PREFIX + "stage_halves": ",".join(map(str, STAGE_HALVES))}
    if index is not None:
        meta[PREFIX + "stage_index"] = str(index)
    return meta
