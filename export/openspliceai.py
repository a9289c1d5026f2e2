"""OpenSpliceAI (Chao et al., eLife 2025): the SpliceAI-10k network retrained in PyTorch.

What differs from :mod:`export.model`'s SpliceAI (read from OpenSpliceAI's
``openspliceai/train_base/openspliceai.py``; the code here is our own):

* the activation in every residual unit is LeakyReLU with negative slope 0.1, not ReLU;
* BatchNorm uses PyTorch's default epsilon 1e-5 (Keras: 1e-3);
* the state-dict names: ``initial_conv`` (stem), ``initial_skip.conv`` (first skip),
  ``residual_units.N`` — a flat list in which every fifth entry (N = 4, 9, 14, 19) is a skip
  conv (``.conv``) and the others are residual units (``batchnorm1``, ``conv1``, ``batchnorm2``,
  ``conv2``) —, and ``final_conv`` (the 3-class head: neither, acceptor, donor; softmax).

``openspliceai variant`` loads every ``*.p[th]`` file of the model folder and averages the five
members' softmax outputs (``torch.mean`` over the stacked outputs), which is what
:class:`export.model.Ensemble` computes.  Flank 10,000: 16 residual units with the kernel and
dilation of SpliceAI-10k, receptive field 10,000, so the valid-convolution form and the split
graphs of :mod:`export.split` apply unchanged.
"""

from __future__ import annotations

from .model import GROUPS, UNITS_PER_GROUP, SpliceAINet, Variant
from .torch_state import Rules, load_strict, read_state_dict

BN_EPS = 1e-5
LEAKY_SLOPE = 0.1
N_MEMBERS = 5


def _rules() -> list[tuple[str, str]]:
    rules = [(r"initial_conv\.(weight|bias)", r"stem.\1"),
             (r"initial_skip\.conv\.(weight|bias)", r"skips.0.\1"),
             (r"final_conv\.(weight|bias)", r"head.\1")]
    n_units = len(GROUPS) * UNITS_PER_GROUP
    entry = 0
    for unit in range(n_units):
        for src, ours in (("batchnorm1", "bn1"), ("batchnorm2", "bn2"), ("conv1", "conv1"),
                          ("conv2", "conv2")):
            rules.append((rf"residual_units\.{entry}\.{src}\.(\w+)", rf"units.{unit}.{ours}.\1"))
        entry += 1
        if unit % UNITS_PER_GROUP == UNITS_PER_GROUP - 1:
            skip = unit // UNITS_PER_GROUP + 1
            rules.append((rf"residual_units\.{entry}\.conv\.(weight|bias)", rf"skips.{skip}.\1"))
            entry += 1
    return rules


RULES: Rules = tuple(_rules())


def member(variant: Variant = Variant()) -> SpliceAINet:
    """An empty OpenSpliceAI-10k member (random weights) in ``variant``'s form."""
    return SpliceAINet(variant, bn_eps=BN_EPS, leaky_slope=LEAKY_SLOPE)


def load_member(path, variant: Variant = Variant()) -> SpliceAINet:
    """One member from its state-dict file, every key mapped by name."""
    return load_strict(member(variant), str(path), read_state_dict(path), RULES)
