"""The SpliceAI-10k network in PyTorch (one definition for the SpliceAI and CI-SpliceAI weights).

Topology (Jaganathan et al. 2019, and the Keras ``model_config`` of the ``spliceai`` wheel):
a 1×1 stem conv (4→32), a 1×1 skip conv on the stem, then 4 groups of 4 pre-activation residual
units (BN → ReLU → dilated conv, twice, plus the identity) with kernel/dilation 11/1, 11/4,
21/10, 41/25, a 1×1 skip conv after each group, the skip sum cropped by 5,000 per side, and a
1×1 head to 3 channels (neither, acceptor, donor) with softmax.  BatchNorm epsilon is 1e-3.

Two equivalent forms of the convolutions:

* ``padding="same"``: what Keras does — zero "same" padding, then crop 5,000 per side;
* ``padding="valid"``: unpadded convs with centre-cropped residual and skip terms.  The
  receptive field is exactly 10,000, so each central output is the same sum of products; the
  graph simply never computes the 5,000 edge positions per side that the crop throws away.

and two layouts: ``layout="1d"`` (Conv1d on ``[N, C, L]``) or ``"2d"`` (Conv2d on
``[N, C, 1, L]``, which onnxruntime's CPU kernels run faster).

The same trunk serves the retrained descendants of this network: OpenSpliceAI (LeakyReLU 0.1,
PyTorch's BatchNorm epsilon 1e-5; :mod:`export.openspliceai`) and Pangolin (ReLU, epsilon 1e-5,
eight tissue heads; :mod:`export.pangolin`).  ``bn_eps`` and ``leaky_slope`` select them; a
subclass may replace :meth:`SpliceAINet.make_head` and :meth:`SpliceAINet.output`.  An ensemble
averages its members' outputs, all together or in ``groups`` (Pangolin: one per tissue).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

CHANNELS = 32
#: (kernel, dilation) of the 4 groups, each of 4 residual units
GROUPS: tuple[tuple[int, int], ...] = ((11, 1), (11, 4), (21, 10), (41, 25))
UNITS_PER_GROUP = 4
BN_EPS = 1e-3
OUT_CHANNELS = ("neither", "acceptor", "donor")


def context_of(groups=GROUPS, units=UNITS_PER_GROUP) -> int:
    """Bases consumed by the network: each unit has two convs of span ``(k - 1) * d``."""
    return sum(2 * units * (k - 1) * d for k, d in groups)


CONTEXT = context_of()  # 10,000


@dataclass(frozen=True)
class Variant:
    padding: str = "valid"   # "valid" (cone) or "same" (pad + crop)
    layout: str = "2d"       # "1d" or "2d"

    def __post_init__(self):
        if self.padding not in ("valid", "same") or self.layout not in ("1d", "2d"):
            raise ValueError(f"bad variant {self}")


def _conv(variant: Variant, cin: int, cout: int, k: int, d: int) -> nn.Module:
    pad = (k - 1) * d // 2 if variant.padding == "same" else 0
    if variant.layout == "1d":
        return nn.Conv1d(cin, cout, k, dilation=d, padding=pad)
    return nn.Conv2d(cin, cout, (1, k), dilation=(1, d), padding=(0, pad))


def _bn(variant: Variant, eps: float = BN_EPS) -> nn.Module:
    cls = nn.BatchNorm1d if variant.layout == "1d" else nn.BatchNorm2d
    return cls(CHANNELS, eps=eps)


def _crop(x: torch.Tensor, left: int, right: int) -> torch.Tensor:
    """Drop ``left``/``right`` positions of the last (length) axis."""
    if left == 0 and right == 0:
        return x
    # a negative end keeps the ONNX Slice constant (no Shape/Gather arithmetic)
    return x[..., left:-right] if right else x[..., left:]


class ResidualUnit(nn.Module):
    def __init__(self, variant: Variant, k: int, d: int, bn_eps: float = BN_EPS,
                 leaky_slope: float = 0.0):
        super().__init__()
        self.bn1, self.conv1 = _bn(variant, bn_eps), _conv(variant, CHANNELS, CHANNELS, k, d)
        self.bn2, self.conv2 = _bn(variant, bn_eps), _conv(variant, CHANNELS, CHANNELS, k, d)
        self.shrink = (k - 1) * d if variant.padding == "valid" else 0  # per side, both convs
        self.leaky_slope = leaky_slope

    def act(self, x: torch.Tensor) -> torch.Tensor:
        if self.leaky_slope:
            return nn.functional.leaky_relu(x, self.leaky_slope)
        return torch.relu(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(self.act(self.bn1(x)))
        y = self.conv2(self.act(self.bn2(y)))
        return y + _crop(x, self.shrink, self.shrink)


class SpliceAINet(nn.Module):
    """One member: ``[N, 4, L]`` (or ``[N, 4, 1, L]``) → softmax ``[N, 3, L - 10000]``."""

    def __init__(self, variant: Variant = Variant(), *, bn_eps: float = BN_EPS,
                 leaky_slope: float = 0.0):
        super().__init__()
        self.variant = variant
        self.stem = _conv(variant, 4, CHANNELS, 1, 1)
        self.skips = nn.ModuleList([_conv(variant, CHANNELS, CHANNELS, 1, 1)])
        self.units = nn.ModuleList()
        self._skip_crops = []  # per skip term: positions to drop per side in valid mode
        remaining = CONTEXT // 2
        self._skip_crops.append(remaining)
        for k, d in GROUPS:
            for _ in range(UNITS_PER_GROUP):
                self.units.append(ResidualUnit(variant, k, d, bn_eps, leaky_slope))
            self.skips.append(_conv(variant, CHANNELS, CHANNELS, 1, 1))
            remaining -= UNITS_PER_GROUP * (k - 1) * d
            self._skip_crops.append(remaining)
        self.head = self.make_head(variant)
        self.eval()

    def make_head(self, variant: Variant) -> nn.Module:
        return _conv(variant, CHANNELS, len(OUT_CHANNELS), 1, 1)

    def output(self, skip: torch.Tensor) -> torch.Tensor:
        """The member's outputs from the cropped skip sum."""
        return torch.softmax(self.head(skip), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        valid = self.variant.padding == "valid"
        h = self.stem(x)
        # a 1×1 conv commutes with cropping, so skip terms are cropped first (cheaper)
        skip = self.skips[0](_crop(h, *(2 * [self._skip_crops[0]])) if valid else h)
        for g in range(len(GROUPS)):
            for u in range(UNITS_PER_GROUP):
                h = self.units[g * UNITS_PER_GROUP + u](h)
            c = self._skip_crops[g + 1]
            skip = skip + self.skips[g + 1](_crop(h, c, c) if valid else h)
        if not valid:
            skip = _crop(skip, CONTEXT // 2, CONTEXT // 2)
        return self.output(skip)


#: member indices per output group (e.g. Pangolin's tissues), in output channel order
Groups = tuple[tuple[int, ...], ...]


def _mean(ys: list[torch.Tensor]) -> torch.Tensor:
    total = None
    for y in ys:
        total = y if total is None else total + y
    return total / len(ys) if len(ys) > 1 else total


def combine(ys: list[torch.Tensor], groups: Groups | None = None) -> torch.Tensor:
    """The ensemble's output from its members' outputs ``ys`` (channels on axis 1): the mean of
    all, or with ``groups`` (member indices per group) each group's mean, concatenated."""
    if groups is None:
        return _mean(ys)
    return torch.cat([_mean([ys[i] for i in g]) for g in groups], dim=1)


def check_groups(groups: Groups | None, n_members: int) -> None:
    if groups is None:
        return
    flat = [i for g in groups for i in g]
    if not all(groups) or sorted(flat) != list(range(n_members)):
        raise ValueError(f"groups {groups} must partition members 0..{n_members - 1}")


class Ensemble(nn.Module):
    """The exported graph: ``x`` ``[N, L, 4]`` (NLC one-hot) → ``y`` ``[N, L - 10000, C]``,
    the mean of the members' outputs (SpliceAI: softmax, C = 3), or of each group of them."""

    def __init__(self, members: list[SpliceAINet], groups: Groups | None = None,
                 member_output: bool = False):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        check_groups(groups, len(members))
        self.members = nn.ModuleList(members)
        self.groups = groups
        self.member_output = member_output
        self.layout = members[0].variant.layout
        self.eval()

    def forward(self, x: torch.Tensor):
        """``y``; with ``member_output`` also ``y_members`` ``[N, L - 10000, ΣC_m]``, every
        member's own outputs in member order (for rules that are not linear in them)."""
        h = x.transpose(1, 2)  # [N, 4, L]
        if self.layout == "2d":
            h = h.unsqueeze(2)  # [N, 4, 1, L]
        ys = [m(h) for m in self.members]
        outs = [combine(ys, self.groups)] + ([torch.cat(ys, dim=1)] if self.member_output else [])
        if self.layout == "2d":
            outs = [y.squeeze(2) for y in outs]
        outs = [y.transpose(1, 2) for y in outs]
        return tuple(outs) if self.member_output else outs[0]
