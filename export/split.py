"""Split graphs for incremental ALT inference: a *trunk* (stem and groups 1–3) and a *head*
(group 4, the last skip, the output layer and the ensemble mean).

An SNV changes the trunk's output only within ±1,000 positions of itself (the receptive
half-width of groups 1–3), so the engine runs the trunk on a 4,001-bp piece around the ALT base,
pastes the result into the REF tile's trunk output, and runs only the head on the patched
activations.  The arithmetic is the full model's: the split is exact.

* trunk: ``x`` ``[N, L, 4]`` → ``h``, ``s`` ``[N, 32·M, 1, L − 2000]`` — hidden state after group 3
  and the running sum of the skip terms, both over the positions where ``h`` is defined;
* head: ``h``, ``s`` → ``y`` ``[N, L′ − 8000, 3]``.
"""

from __future__ import annotations

import torch
from torch import nn

from .model import CHANNELS, GROUPS, UNITS_PER_GROUP, SpliceAINet, _crop

TRUNK_GROUPS = 3
#: positions lost per side in groups 1-3 and in group 4
TRUNK_HALF = sum(UNITS_PER_GROUP * (k - 1) * d for k, d in GROUPS[:TRUNK_GROUPS])   # 1000
HEAD_HALF = sum(UNITS_PER_GROUP * (k - 1) * d for k, d in GROUPS[TRUNK_GROUPS:])    # 4000


def _check(members: list[SpliceAINet]) -> None:
    if not members:
        raise ValueError("a split model needs at least one member")
    for m in members:
        if m.variant.padding != "valid" or m.variant.layout != "2d":
            raise ValueError("split graphs are built from valid-padding 2-D members")


class Trunk(nn.Module):
    def __init__(self, members: list[SpliceAINet]):
        super().__init__()
        _check(members)
        self.members = nn.ModuleList(members)
        self.eval()

    def forward(self, x: torch.Tensor):
        x = x.transpose(1, 2).unsqueeze(2)          # [N, 4, 1, L]
        hs, ss = [], []
        for m in self.members:
            h = m.stem(x)
            crop = TRUNK_HALF
            s = m.skips[0](_crop(h, crop, crop))
            for g in range(TRUNK_GROUPS):
                for u in range(UNITS_PER_GROUP):
                    h = m.units[g * UNITS_PER_GROUP + u](h)
                k, d = GROUPS[g]
                crop -= UNITS_PER_GROUP * (k - 1) * d
                s = s + m.skips[g + 1](_crop(h, crop, crop))
            hs.append(h)
            ss.append(s)
        return torch.cat(hs, dim=1), torch.cat(ss, dim=1)


class Head(nn.Module):
    def __init__(self, members: list[SpliceAINet]):
        super().__init__()
        _check(members)
        self.members = nn.ModuleList(members)
        self.eval()

    def forward(self, h_all: torch.Tensor, s_all: torch.Tensor) -> torch.Tensor:
        total = None
        for i, m in enumerate(self.members):
            h = h_all[:, i * CHANNELS:(i + 1) * CHANNELS]
            s = s_all[:, i * CHANNELS:(i + 1) * CHANNELS]
            for g in range(TRUNK_GROUPS, len(GROUPS)):
                for u in range(UNITS_PER_GROUP):
                    h = m.units[g * UNITS_PER_GROUP + u](h)
            s = _crop(s, HEAD_HALF, HEAD_HALF) + m.skips[len(GROUPS)](h)
            y = torch.softmax(m.head(s), dim=1)
            total = y if total is None else total + y
        y = total / len(self.members) if len(self.members) > 1 else total
        return y.squeeze(2).transpose(1, 2)


def split_metadata(role: str) -> dict[str, str]:
    from hail_seqscore.models.spec import PREFIX  # noqa: PLC0415

    return {PREFIX + "split_role": role, PREFIX + "trunk_half": str(TRUNK_HALF),
            PREFIX + "head_half": str(HEAD_HALF)}
