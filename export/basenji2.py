"""Basenji2 (Kelley, PLoS Comput Biol 2020) from a basenji2-pytorch state dict.

The weights file is what basenji2-pytorch publishes and loads (``basenji2.pth``: the state dict
of its ``Basenji2`` module, names ``model.trunk.<i>…`` and ``model.head.final…``; a Lightning
checkpoint of ``PLBasenji2`` — ``state_dict`` with the ``basenji2.`` prefix — is read too).
The architecture comes from the port's ``params`` dictionary (its ``model`` part: ``seq_length``,
``activation``, ``trunk`` blocks, ``head_human``); the published Basenji2's is built in
(:data:`BASENJI2_MODEL`), another can be given as a JSON file.

The network, written here from the paper's description (the code is our own): each conv block
is activation → convolution without bias ("same" zero padding, optional dilation) →
BatchNorm (epsilon 1e-3, as Keras) → optional max pooling by 2; the stem is one conv block
(width 15), the tower ``repeat`` blocks of width 5 whose filters grow by ``filters_mult``
(rounded), the dilated residual part ``repeat`` pairs (width-3 dilated block to ``filters``,
pointwise block back, plus the input), the dilation growing by ``rate_mult`` (rounded); then a
symmetric crop, a pointwise block, the activation, and the head: a linear map to the tracks and
softplus (inputs clipped to ±10,000).  ``[N, seq_length, 4]`` → ``[N, bins, tracks]``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from hail_seqscore.errors import ConfigError, WeightMappingError

from .checkpoints import read_weights
from .eval_norm import EvalBatchNorm
from .torch_state import load_strict

#: the published Basenji2 (the port's ``basenji2_params["model"]``; Kelley 2020)
BASENJI2_MODEL = {
    "seq_length": 131072, "activation": "gelu", "norm_type": "batch",
    "trunk": [
        {"name": "conv_block", "filters": 288, "kernel_size": 15, "pool_size": 2},
        {"name": "conv_tower", "filters_init": 339, "filters_mult": 1.1776, "kernel_size": 5,
         "pool_size": 2, "repeat": 6},
        {"name": "dilated_residual", "filters": 384, "rate_mult": 1.5, "repeat": 11,
         "dropout": 0.3, "round": True},
        {"name": "Cropping1D", "cropping": 64},
        {"name": "conv_block", "filters": 1536, "dropout": 0.05},
    ],
    "head_human": {"name": "final", "units": 5313, "activation": "softplus"},
}
ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu}
#: keys of a block that change nothing at inference
_TRAINING_ONLY = {"name", "dropout", "bn_momentum"}


class ConvUnit(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, dilation: int, act: str):
        super().__init__()
        self.act = act
        self.conv = nn.Conv1d(cin, cout, k, dilation=dilation,
                              padding=dilation * (k - 1) // 2, bias=False)
        self.bn = EvalBatchNorm(cout, eps=1e-3)

    def forward(self, x):
        return self.bn(self.conv(ACTIVATIONS[self.act](x)))


def _pool(x: torch.Tensor) -> torch.Tensor:
    if x.shape[-1] % 2:                           # "same" pooling of an odd length
        x = F.pad(x, (0, 1), value=-float("inf"))
    return F.max_pool1d(x, 2)


def _check(block: dict, allowed: set[str]) -> None:
    extra = sorted(set(block) - allowed - _TRAINING_ONLY)
    if extra:
        raise ConfigError(f"Basenji2 block {block.get('name')!r}: setting {extra[0]!r} is not "
                          "supported")
    if block.get("kernel_size", 1) % 2 == 0:
        raise ConfigError(f"Basenji2 block {block.get('name')!r}: even kernel sizes are not "
                          "supported")


class Basenji2Net(nn.Module):
    """Built from the port's model params; ``rules`` map the port's state-dict names to ours."""

    def __init__(self, params: dict):
        super().__init__()
        act = params.get("activation", "relu")
        if act not in ACTIVATIONS or params.get("norm_type", "batch") != "batch":
            raise ConfigError(f"Basenji2 params: activation {act!r} / norm_type "
                              f"{params.get('norm_type')!r} not supported (gelu or relu; batch)")
        self.act, self.seq_length = act, int(params["seq_length"])
        self.units = nn.ModuleList()
        self.steps: list[tuple] = []
        rules: list[tuple[str, str]] = []
        cin = 4

        def unit(port: str, cin: int, cout: int, k: int = 1, dilation: int = 1) -> int:
            self.units.append(ConvUnit(cin, cout, k, dilation, act))
            i = len(self.units) - 1
            rules.append((re.escape(port) + r"\.1\.weight", f"units.{i}.conv.weight"))
            rules.append((re.escape(port) + r"\.2\.(weight|bias|running_mean|running_var)",
                          rf"units.{i}.bn.\1"))
            return i

        for b, block in enumerate(params["trunk"]):
            port, name = f"model.trunk.{b}", block["name"]
            if name == "conv_block":
                _check(block, {"filters", "kernel_size", "pool_size", "dilation_rate"})
                i = unit(f"{port}.block", cin, block["filters"], block.get("kernel_size", 1),
                         int(round(block.get("dilation_rate", 1))))
                self.steps.append(("conv", i, block.get("pool_size", 1)))
                cin = block["filters"]
            elif name == "conv_tower":
                _check(block, {"filters_init", "filters_mult", "filters_end", "divisible_by",
                               "repeat", "kernel_size", "pool_size"})
                for j, filters in enumerate(_tower_filters(block)):
                    i = unit(f"{port}.tower.{j}.block", cin, filters,
                             block.get("kernel_size", 1))
                    self.steps.append(("conv", i, block.get("pool_size", 1)))
                    cin = filters
            elif name == "dilated_residual":
                _check(block, {"filters", "kernel_size", "rate_mult", "repeat", "round"})
                rate = 1.0
                for j in range(block.get("repeat", 1)):
                    inner = f"{port}.block.{j}.module"
                    a = unit(f"{inner}.0.block", cin, block["filters"],
                             block.get("kernel_size", 3), int(np.round(rate)))
                    c = unit(f"{inner}.1.block", block["filters"], cin)
                    self.steps.append(("residual", a, c))
                    rate *= block.get("rate_mult", 2)
                    if block.get("round"):
                        rate = float(np.round(rate))
            elif name == "Cropping1D":
                self.steps.append(("crop", int(block["cropping"])))
            else:
                raise ConfigError(f"Basenji2 params: block {name!r} not supported")
        head = params.get("head_human")
        if isinstance(head, list):
            head = head[0] if len(head) == 1 else None
        if not isinstance(head, dict) or head.get("name") != "final":
            raise ConfigError("Basenji2 params: head_human must be one 'final' block")
        self.head_act = head.get("activation", "linear")
        if self.head_act not in ("softplus", "linear", *ACTIVATIONS):
            raise ConfigError(f"Basenji2 head activation {self.head_act!r} not supported")
        self.head = nn.Linear(cin, int(head["units"]))
        rules.append((r"model\.head\.final\.block\.1\.(weight|bias)", r"head.\1"))
        self.rules = tuple(rules)
        self.n_tracks = int(head["units"])
        self.bin_size = 2 ** sum(1 for s in self.steps if s[0] == "conv" and s[2] > 1)
        if any(s[0] == "conv" and s[2] not in (1, 2) for s in self.steps):
            raise ConfigError("Basenji2 params: only pool_size 1 or 2 is supported")

    def n_bins(self, length: int) -> int:
        for step in self.steps:
            if step[0] == "conv" and step[2] == 2:
                length = (length + 1) // 2
            elif step[0] == "crop":
                length -= 2 * step[1]
        return length

    def forward(self, x):                                  # [N, L, 4]
        h = x.transpose(1, 2)
        for step in self.steps:
            if step[0] == "conv":
                h = self.units[step[1]](h)
                h = _pool(h) if step[2] == 2 else h
            elif step[0] == "residual":
                h = h + self.units[step[2]](self.units[step[1]](h))
            else:
                h = h[..., step[1]:h.shape[-1] - step[1]]
        h = ACTIVATIONS[self.act](h).transpose(1, 2)       # [N, bins, C]
        y = self.head(h)
        if self.head_act == "softplus":
            return F.softplus(y.clamp(-10000.0, 10000.0))
        return y if self.head_act == "linear" else ACTIVATIONS[self.head_act](y)


def _tower_filters(block: dict) -> list[int]:
    div = block.get("divisible_by", 1)
    repeat = block.get("repeat", 1)
    mult = block.get("filters_mult")
    if mult is None:
        mult = np.exp(np.log(block["filters_end"] / block["filters_init"]) / (repeat - 1))
    out, filters = [], block["filters_init"]
    for _ in range(repeat):
        out.append(int(np.round(filters / div) * div))
        filters *= mult
    return out


def read_params(path: str | Path | None) -> dict:
    """The port's model params: the built-in Basenji2, or a JSON file (``{"model": …}`` or the
    model part itself)."""
    if path is None:
        return json.loads(json.dumps(BASENJI2_MODEL))
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"--config {path}: no such file") from None
    except ValueError as exc:
        raise ConfigError(f"--config {path}: not valid JSON ({exc})") from None
    model = data.get("model", data) if isinstance(data, dict) else None
    if not isinstance(model, dict) or "trunk" not in model or "seq_length" not in model:
        raise ConfigError(f"--config {path}: expected basenji2-pytorch params (a 'model' table "
                          "with seq_length, trunk and head_human)")
    return model


def canonical_state(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Drop BatchNorm counters and a Lightning ``basenji2.`` prefix."""
    return {(k[len("basenji2."):] if k.startswith("basenji2.") else k): v
            for k, v in state.items() if not k.endswith("num_batches_tracked")}


def load(path: str | Path, config: str | Path | None = None) -> Basenji2Net:
    """The network of a basenji2-pytorch weights file (``config``: its params JSON, else the
    published Basenji2)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"--from {path}: basenji2 takes the weights file (basenji2.pth), not "
                          "a folder")
    if path.suffix == ".ckpt":
        from .checkpoints import read_torch  # noqa: PLC0415

        state = read_torch(path, key="state_dict")
    else:
        state = read_weights(path)
    net = Basenji2Net(read_params(config))
    try:
        return load_strict(net, str(path), canonical_state(state), net.rules)
    except WeightMappingError as exc:
        hint = "" if config else " (another architecture? pass its params with --config)"
        raise WeightMappingError(exc.message + hint) from None
