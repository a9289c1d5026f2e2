"""Pangolin (Zeng & Li, Genome Biology 2022): the SpliceAI-10k trunk with four tissue heads.

What the original defines (``pangolin/model.py`` of tkzeng/Pangolin; the code here is our own):

* the SpliceAI-10k trunk — 1×1 stem, 16 pre-activation residual units (BN → ReLU → dilated
  conv, twice) with kernel/dilation 11/1, 11/4, 21/10, 41/25, a 1×1 skip conv on the stem and
  after every fourth unit, the skip sum cropped by 5,000 per side —, BatchNorm epsilon 1e-5;
* eight 1×1 heads on the skip sum, in output-channel order: per tissue (heart, liver, brain,
  testis) a 2-class softmax (channel 1 = P(splice)) and a 1-channel sigmoid (usage);
  12 channels in all.  State-dict names: ``conv1`` (stem), ``skip``, ``convs.0..3`` (skips),
  ``resblocks.0..15`` (``bn1``, ``conv1``, ``bn2``, ``conv2``), ``conv_last1..8``.

What its CLI (``pangolin/pangolin.py``) runs: 12 files ``final.{j}.{i}.3.v2``, loaded in the
order i = 0, 2, 4, 6 (heart, liver, brain, testis), then j = 1, 2, 3 (replicates).  From file
``final.j.i…`` it reads only output channel ``[1, 4, 7, 10][i / 2]``: the P(splice) of that
file's own tissue (head ``conv_last{i + 1}``).  Per tissue it averages the three replicates'
(ALT − REF) of that channel; loss and gain are then the min and max over the four tissues.

So a member here is one file together with its tissue: it computes only that head's P(splice)
(the other seven heads are loaded — every key is checked — but not exported).  The ensemble
averages the members in four groups of three, giving ``y`` channels ``p_splice_heart``,
``p_splice_liver``, ``p_splice_brain``, ``p_splice_testis``.  The CLI's mean of differences
equals the difference of these means (up to float rounding) wherever ALT and REF are aligned
base to base (SNVs, MNVs, deletions); for an insertion it takes each replicate's max over the
inserted bases before averaging, so the graph also outputs ``y_members``: each member's
P(splice), channels ``p_splice_heart_r1`` … ``p_splice_testis_r3`` in the CLI's order.
"""

from __future__ import annotations

import torch
from torch import nn

from .model import CHANNELS, GROUPS, Groups, SpliceAINet, Variant, _conv
from .torch_state import Rules, load_strict, read_state_dict

BN_EPS = 1e-5
TISSUES = ("heart", "liver", "brain", "testis")
OUT_CHANNELS = tuple(f"p_splice_{t}" for t in TISSUES)
#: output channels of the original network's eight heads (2-class softmax, 1-channel sigmoid …)
HEAD_WIDTHS = (2, 1, 2, 1, 2, 1, 2, 1)
REPLICATES = (1, 2, 3)
#: the second number of a file name, per tissue (the CLI's ``for i in [0, 2, 4, 6]``)
FILE_HEADS = (0, 2, 4, 6)


def member_files() -> list[tuple[str, int]]:
    """``(file name, tissue index)`` of the 12 members, in the CLI's loading order."""
    return [(f"final.{j}.{i}.3.v2", t) for t, i in enumerate(FILE_HEADS) for j in REPLICATES]


def member_channel(index: int) -> str:
    """The ``y_members`` channel name of member ``index`` (e.g. ``p_splice_heart_r1``)."""
    name, tissue = member_files()[index]
    return f"{OUT_CHANNELS[tissue]}_r{name.split('.')[1]}"


def tissue_groups(tissues: list[int]) -> Groups:
    """Member indices per tissue for members of the given tissues (every tissue present)."""
    return tuple(tuple(m for m, t in enumerate(tissues) if t == k) for k in range(len(TISSUES)))


class PangolinNet(SpliceAINet):
    """One member: ``[N, 4, (1,) L]`` → its tissue's P(splice), ``[N, 1, (1,) L − 10000]``."""

    def __init__(self, variant: Variant = Variant(), tissue: int = 0):
        if not 0 <= tissue < len(TISSUES):
            raise ValueError(f"tissue {tissue} not in 0..{len(TISSUES) - 1}")
        self.tissue = tissue
        super().__init__(variant, bn_eps=BN_EPS)

    def make_head(self, variant: Variant) -> nn.Module:
        return nn.ModuleList([_conv(variant, CHANNELS, w, 1, 1) for w in HEAD_WIDTHS])

    def output(self, skip: torch.Tensor) -> torch.Tensor:
        # head 2·tissue is the tissue's 2-class softmax; its class 1 is P(splice)
        return torch.softmax(self.head[2 * self.tissue](skip), dim=1)[:, 1:2]


def _rules() -> list[tuple[str, str]]:
    rules = [(r"conv1\.(weight|bias)", r"stem.\1"), (r"skip\.(weight|bias)", r"skips.0.\1"),
             (r"resblocks\.([0-9]+)\.(bn1|bn2|conv1|conv2)\.(\w+)", r"units.\1.\2.\3")]
    rules += [(rf"convs\.{j}\.(weight|bias)", rf"skips.{j + 1}.\1") for j in range(len(GROUPS))]
    rules += [(rf"conv_last{k + 1}\.(weight|bias)", rf"head.{k}.\1")
              for k in range(len(HEAD_WIDTHS))]
    return rules


RULES: Rules = tuple(_rules())


def load_member(path, tissue: int, variant: Variant = Variant()) -> PangolinNet:
    """One member from its state-dict file (all eight heads checked), computing ``tissue``."""
    return load_strict(PangolinNet(variant, tissue), str(path), read_state_dict(path), RULES)
