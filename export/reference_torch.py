"""Independent numpy forward passes over the original OpenSpliceAI and Pangolin state dicts.

Written from the architecture descriptions (the originals' ``SpliceAI`` and ``Pangolin``
modules), in float64, with the originals' form: every convolution zero-padded to "same" length,
the skip sum cropped by half the context afterwards — never the valid-convolution cone the
exporter builds.  It reads the state dicts under their own names (``initial_conv``,
``residual_units.N``, ``conv_last1`` …), shares nothing with :mod:`export.model`, and is used
only by the parity tests and ``export/parity_torch.py``.
"""

from __future__ import annotations

import numpy as np

from .reference_ops import valid_conv

#: kernel width and dilation of the 16 residual units (SpliceAI-10k, both models)
WIDTHS = [11] * 8 + [21] * 4 + [41] * 4
RATES = [1] * 4 + [4] * 4 + [10] * 4 + [25] * 4
CROP = sum(r * (w - 1) for w, r in zip(WIDTHS, RATES))   # per side: 5,000
#: the channel of the full 12-channel Pangolin output that the CLI reads, per tissue
PANGOLIN_CHANNEL = (1, 4, 7, 10)


def _f64(state: dict) -> dict:
    return {k: np.asarray(v, dtype=np.float64) for k, v in state.items()}


def conv_same(x: np.ndarray, state: dict, prefix: str, rate: int = 1) -> np.ndarray:
    """torch ``Conv1d`` with "same" zero padding; ``x`` ``[N, L, Cin]``."""
    w, b = state[prefix + ".weight"], state[prefix + ".bias"]
    pad = (w.shape[2] - 1) * rate // 2
    xp = np.pad(x, ((0, 0), (pad, pad), (0, 0)))
    return valid_conv(xp, np.transpose(w, (2, 1, 0)), rate) + b


def batchnorm(x: np.ndarray, state: dict, prefix: str, eps: float = 1e-5) -> np.ndarray:
    scale = state[prefix + ".weight"] / np.sqrt(state[prefix + ".running_var"] + eps)
    return (x - state[prefix + ".running_mean"]) * scale + state[prefix + ".bias"]


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _unit(x, state, prefix, names, rate, act):
    bn1, conv1, bn2, conv2 = (f"{prefix}.{n}" for n in names)
    y = conv_same(act(batchnorm(x, state, bn1)), state, conv1, rate)
    y = conv_same(act(batchnorm(y, state, bn2)), state, conv2, rate)
    return x + y


def openspliceai_member(state: dict, x: np.ndarray) -> np.ndarray:
    """One OpenSpliceAI member: one-hot ``[N, L, 4]`` → softmax ``[N, L - 10000, 3]``."""
    s = _f64(state)
    leaky = lambda v: np.where(v > 0, v, 0.1 * v)  # noqa: E731
    h = conv_same(x.astype(np.float64), s, "initial_conv")
    skip = conv_same(h, s, "initial_skip.conv")
    unit, entry = 0, 0
    while f"residual_units.{entry}.conv.weight" in s or unit < len(WIDTHS):
        prefix = f"residual_units.{entry}"
        if prefix + ".conv.weight" in s:        # a Skip entry of the flat list
            skip = skip + conv_same(h, s, prefix + ".conv")
        else:
            h = _unit(h, s, prefix, ("batchnorm1", "conv1", "batchnorm2", "conv2"),
                      RATES[unit], leaky)
            unit += 1
        entry += 1
    return softmax(conv_same(skip[:, CROP:-CROP], s, "final_conv"))


def pangolin_member(state: dict, x: np.ndarray) -> np.ndarray:
    """One Pangolin file: one-hot ``[N, L, 4]`` → all 12 channels ``[N, L - 10000, 12]``
    (per tissue: 2-class softmax, then a sigmoid)."""
    s = _f64(state)
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    h = conv_same(x.astype(np.float64), s, "conv1")
    skip = conv_same(h, s, "skip")
    for i, rate in enumerate(RATES):
        h = _unit(h, s, f"resblocks.{i}", ("bn1", "conv1", "bn2", "conv2"), rate, relu)
        if (i + 1) % 4 == 0:
            skip = skip + conv_same(h, s, f"convs.{i // 4}")
    skip = skip[:, CROP:-CROP]
    outs = []
    for k in range(1, 9, 2):
        outs.append(softmax(conv_same(skip, s, f"conv_last{k}")))
        outs.append(1 / (1 + np.exp(-conv_same(skip, s, f"conv_last{k + 1}"))))
    return np.concatenate(outs, axis=-1)


def openspliceai_forward(states: list[dict], x: np.ndarray) -> np.ndarray:
    """The mean of the members' softmax outputs, as ``openspliceai variant`` averages."""
    return np.mean([openspliceai_member(s, x) for s in states], axis=0)


def pangolin_members(states: list[dict], tissues: list[int], x: np.ndarray) -> np.ndarray:
    """Each file's P(splice) channel for its tissue, the one the Pangolin CLI reads:
    ``[N, L - 10000, len(states)]``."""
    return np.stack([pangolin_member(s, x)[..., PANGOLIN_CHANNEL[t]]
                     for s, t in zip(states, tissues)], axis=-1)


def pangolin_forward(states: list[dict], tissues: list[int], x: np.ndarray,
                     members: np.ndarray | None = None) -> np.ndarray:
    """Per tissue (heart, liver, brain, testis), the mean over that tissue's files of their
    P(splice) channel: ``[N, L - 10000, 4]`` (from ``members`` when already computed)."""
    if members is None:
        members = pangolin_members(states, tissues, x)
    return np.stack([members[..., [i for i, u in enumerate(tissues) if u == t]].mean(axis=-1)
                     for t in sorted(set(tissues))], axis=-1)
