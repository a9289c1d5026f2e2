"""Enformer (Avsec et al., Nature Methods 2021) from an enformer-pytorch checkpoint folder.

The folder is what ``Enformer.save_pretrained`` writes (and what the converted official weights
are published as): ``config.json`` (``dim``, ``depth``, ``heads``, ``output_heads``,
``target_length``, ``attn_dim_key``, ``num_downsamples``, ``dim_divisible_by``; the port's
defaults otherwise) beside ``model.safetensors`` or ``pytorch_model.bin``.

The network, written here from the paper and the port's description (the code is our own):

* stem: a width-15 convolution (4 → dim/2), a residual pointwise conv block, attention pooling
  by 2; a conv block is BatchNorm → GELU (Enformer's ``sigmoid(1.702 x) · x``) → convolution;
* conv tower: ``num_downsamples - 1`` stages, each a width-5 conv block to the next width
  (exponentially spaced from dim/2 to dim, rounded to ``dim_divisible_by``), a residual
  pointwise conv block and attention pooling by 2 (softmax over each pair of positions of a
  pointwise linear map, the weighted sum);
* ``depth`` transformer layers: pre-LayerNorm multi-head attention with relative positional
  logits (content and position biases; the positional basis — exponential decays, central
  masks, gamma densities, each also signed by direction — mapped by a linear layer, shifted to
  relative offsets), then a pre-LayerNorm ReLU feed-forward block (dim → 2·dim → dim);
* crop to ``target_length`` bins, a pointwise conv block to 2·dim, GELU, and one head: linear
  to the tracks, softplus.

The input length is fixed at export (the positional basis depends on it): by default 1,536
positions after pooling (196,608 bp for 128-bp bins).  The gamma part of the basis is computed
in float32 as the port computes it, unless ``tf_gammas`` gives the table the TensorFlow
original computed (the port ships it as ``enformer_pytorch/precomputed/tf_gammas.pt`` and uses
it for the converted official weights, whose training saw those values; 1,536 positions only).

State-dict names are the port's (``stem.*``, ``conv_tower.*``, ``transformer.*``,
``final_pointwise.*``, ``_heads.<head>.*``); the same tensors under ``_trunk.N.*`` (the port's
shared trunk) are accepted and must be equal; BatchNorm's ``num_batches_tracked`` is ignored.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from hail_seqscore.errors import ConfigError, WeightMappingError

from .checkpoints import read_hf_folder
from .eval_norm import EvalBatchNorm
from .torch_state import load_strict

#: the port's EnformerConfig defaults (the official Enformer)
DEFAULTS = {"dim": 1536, "depth": 11, "heads": 8, "output_heads": {"human": 5313,
            "mouse": 1643}, "target_length": 896, "attn_dim_key": 64, "num_downsamples": 7,
            "dim_divisible_by": 128}
#: positions after pooling of the official input (196,608 bp / 128)
POSITIONS = 1536


def gelu(x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(1.702 * x) * x


def tower_widths(dim: int, stages: int, divisible_by: int) -> list[int]:
    """Output width of each conv-tower stage: exponentially spaced from dim/2 to dim."""
    half = dim // 2
    if stages < 2:
        raise ConfigError(f"num_downsamples must be >= 3 (got {stages + 1})")
    base = math.exp(math.log(dim / half) / (stages - 1))
    return [int(round(half * base ** i / divisible_by) * divisible_by) for i in range(stages)]


class ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 1):
        super().__init__()
        self.bn = EvalBatchNorm(cin)
        self.conv = nn.Conv1d(cin, cout, k, padding=k // 2)

    def forward(self, x):
        return self.conv(gelu(self.bn(x)))


class AttentionPool(nn.Module):
    """Pairs of positions → their softmax-weighted sum (weights from a pointwise linear map)."""

    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(dim, dim, 1, 1))

    def forward(self, x):                       # [b, d, n], n even
        b, d, n = x.shape
        logits = F.conv1d(x, self.weight[..., 0]).reshape(b, d, n // 2, 2)
        return (x.reshape(b, d, n // 2, 2) * logits.softmax(-1)).sum(-1)


class TowerStage(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = ConvBlock(cin, cout, 5)
        self.res = ConvBlock(cout, cout, 1)
        self.pool = AttentionPool(cout)

    def forward(self, x):
        x = self.conv(x)
        return self.pool(x + self.res(x))


def positional_basis(n: int, features: int, tf_gammas: torch.Tensor | None = None
                     ) -> torch.Tensor:
    """``[2n - 1, features]``: for each offset −(n−1) … n−1, exponential decays, central masks and
    gamma densities (``features / 6`` each), then the same signed by the offset's direction."""
    if features % 6:
        raise ConfigError(f"dim / heads = {features} must be divisible by 6 (the positional "
                          "basis has 6 parts)")
    per = features // 6
    offsets = torch.arange(-n + 1, n)
    dist = offsets.abs()
    half_life = 2 ** torch.linspace(3.0, math.log(n) / math.log(2.0), per)
    decay = torch.exp(-math.log(2.0) / half_life[None] * dist[:, None])
    widths = 2 ** torch.arange(1, per + 1).float() - 1
    mask = (widths[None] > dist[:, None]).float()
    if tf_gammas is not None:
        if tuple(tf_gammas.shape) != (2 * n - 1, per):
            raise ConfigError(f"--tf-gammas holds a {tuple(tf_gammas.shape)} table; this model "
                              f"needs ({2 * n - 1}, {per}) ({n} positions)")
        gamma = tf_gammas.float()
    else:
        stddev, start = n / (2 * per), n / per
        mean = torch.linspace(start, n, per)[None]
        conc, rate = (mean / stddev) ** 2, mean / stddev ** 2
        x = dist.float()[:, None]
        log_p = torch.xlogy(conc - 1.0, x) - rate * x - (torch.lgamma(conc) - conc * torch.log(
            rate))
        p = torch.exp(log_p) + 1e-8
        gamma = p / torch.amax(p, dim=-1, keepdim=True)
    basis = torch.cat([decay, mask, gamma], dim=-1)
    return torch.cat([basis, torch.sign(offsets)[:, None] * basis], dim=-1).float()


def shift_relative(logits: torch.Tensor) -> torch.Tensor:
    """``[b, h, n, 2n-1]`` logits by offset (index ``m`` ↔ offset ``m - (n-1)``) →
    ``[b, h, n, n]`` logits by key position: ``out[i, j] = logits[i, j - i + n - 1]``."""
    b, h, n, width = logits.shape
    padded = F.pad(logits, (1, 0))                                   # [b, h, n, 2n]
    rows = padded.reshape(b, h, width + 1, n)[:, :, 1:]              # drop the first n values
    return rows.reshape(b, h, n, width)[..., :n]


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_key: int, n: int,
                 tf_gammas: torch.Tensor | None):
        super().__init__()
        dim_value, features = dim // heads, dim // heads
        self.heads, self.dim_key, self.scale = heads, dim_key, dim_key ** -0.5
        self.to_q = nn.Linear(dim, dim_key * heads, bias=False)
        self.to_k = nn.Linear(dim, dim_key * heads, bias=False)
        self.to_v = nn.Linear(dim, dim_value * heads, bias=False)
        self.to_out = nn.Linear(dim_value * heads, dim)
        self.to_rel_k = nn.Linear(features, dim_key * heads, bias=False)
        self.rel_content_bias = nn.Parameter(torch.zeros(1, heads, 1, dim_key))
        self.rel_pos_bias = nn.Parameter(torch.zeros(1, heads, 1, dim_key))
        self.register_buffer("basis", positional_basis(n, features, tf_gammas), persistent=False)

    def _split(self, t: torch.Tensor) -> torch.Tensor:         # [b, n, h·d] → [b, h, n, d]
        b, n, _ = t.shape
        return t.reshape(b, n, self.heads, -1).transpose(1, 2)

    def forward(self, x):                                       # [b, n, dim]
        q = self._split(self.to_q(x)) * self.scale
        k, v = self._split(self.to_k(x)), self._split(self.to_v(x))
        content = (q + self.rel_content_bias) @ k.transpose(-1, -2)
        rel_k = self.to_rel_k(self.basis).reshape(-1, self.heads, self.dim_key).transpose(0, 1)
        relative = shift_relative((q + self.rel_pos_bias) @ rel_k.transpose(-1, -2)[None])
        out = (content + relative).softmax(-1) @ v               # [b, h, n, dv]
        b, _, n, _ = out.shape
        return self.to_out(out.transpose(1, 2).reshape(b, n, -1))


class TransformerLayer(nn.Module):
    def __init__(self, dim: int, heads: int, dim_key: int, n: int,
                 tf_gammas: torch.Tensor | None):
        super().__init__()
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dim_key, n, tf_gammas)
        self.ff_norm = nn.LayerNorm(dim)
        self.ff1 = nn.Linear(dim, 2 * dim)
        self.ff2 = nn.Linear(2 * dim, dim)

    def forward(self, x):
        x = x + self.attn(self.attn_norm(x))
        return x + self.ff2(torch.relu(self.ff1(self.ff_norm(x))))


class EnformerNet(nn.Module):
    """``[N, input_length, 4]`` (one-hot ACGT) → ``[N, target_length, tracks]`` (one head)."""

    def __init__(self, config: dict, head: str, input_length: int,
                 tf_gammas: torch.Tensor | None = None):
        super().__init__()
        c = {**DEFAULTS, **{k: v for k, v in config.items() if k in DEFAULTS}}
        dim, down = int(c["dim"]), int(c["num_downsamples"])
        heads = dict(c["output_heads"])
        if head not in heads:
            raise ConfigError(f"head {head!r} not in the checkpoint's config (heads: "
                              f"{', '.join(heads)})")
        self.bin_size = 2 ** down
        if input_length % self.bin_size:
            raise ConfigError(f"input length {input_length} is not a multiple of the bin size "
                              f"{self.bin_size} (2 ** num_downsamples)")
        n = input_length // self.bin_size
        self.target = int(c["target_length"])
        if self.target > n or (n - self.target) % 2:
            raise ConfigError(f"input length {input_length} gives {n} positions; the "
                              f"{self.target} target bins need at least that many and an even "
                              "difference (equal crops on both sides)")
        self.input_length, self.n_tracks = input_length, int(heads[head])
        widths = tower_widths(dim, down - 1, int(c["dim_divisible_by"]))
        self.stem_conv = nn.Conv1d(4, dim // 2, 15, padding=7)
        self.stem_res = ConvBlock(dim // 2, dim // 2, 1)
        self.stem_pool = AttentionPool(dim // 2)
        self.tower = nn.ModuleList(TowerStage(a, b) for a, b in zip([dim // 2] + widths,
                                                                     widths))
        self.layers = nn.ModuleList(
            TransformerLayer(dim, int(c["heads"]), int(c["attn_dim_key"]), n, tf_gammas)
            for _ in range(int(c["depth"])))
        self.final = ConvBlock(widths[-1], 2 * dim, 1)
        self.head = nn.Linear(2 * dim, self.n_tracks)

    @property
    def context(self) -> int:
        return self.input_length - self.target * self.bin_size

    def forward(self, x):                                       # [N, L, 4]
        h = self.stem_conv(x.transpose(1, 2))
        h = self.stem_pool(h + self.stem_res(h))
        for stage in self.tower:
            h = stage(h)
        h = h.transpose(1, 2)                                   # [N, n, dim]
        for layer in self.layers:
            h = layer(h)
        crop = (h.shape[1] - self.target) // 2
        h = h[:, crop:crop + self.target].transpose(1, 2)
        h = gelu(self.final(h)).transpose(1, 2)                 # [N, bins, 2·dim]
        return F.softplus(self.head(h))


#: the port's names → ours (the first full match wins); ``_trunk`` aliases are folded first
RULES = (
    (r"stem\.0\.(weight|bias)", r"stem_conv.\1"),
    (r"stem\.1\.fn\.0\.(\w+)", r"stem_res.bn.\1"),
    (r"stem\.1\.fn\.2\.(weight|bias)", r"stem_res.conv.\1"),
    (r"stem\.2\.to_attn_logits\.weight", r"stem_pool.weight"),
    (r"conv_tower\.(\d+)\.0\.0\.(\w+)", r"tower.\1.conv.bn.\2"),
    (r"conv_tower\.(\d+)\.0\.2\.(weight|bias)", r"tower.\1.conv.conv.\2"),
    (r"conv_tower\.(\d+)\.1\.fn\.0\.(\w+)", r"tower.\1.res.bn.\2"),
    (r"conv_tower\.(\d+)\.1\.fn\.2\.(weight|bias)", r"tower.\1.res.conv.\2"),
    (r"conv_tower\.(\d+)\.2\.to_attn_logits\.weight", r"tower.\1.pool.weight"),
    (r"transformer\.(\d+)\.0\.fn\.0\.(weight|bias)", r"layers.\1.attn_norm.\2"),
    (r"transformer\.(\d+)\.0\.fn\.1\.(to_\w+)\.(weight|bias)", r"layers.\1.attn.\2.\3"),
    (r"transformer\.(\d+)\.0\.fn\.1\.(rel_content_bias|rel_pos_bias)", r"layers.\1.attn.\2"),
    (r"transformer\.(\d+)\.1\.fn\.0\.(weight|bias)", r"layers.\1.ff_norm.\2"),
    (r"transformer\.(\d+)\.1\.fn\.1\.(weight|bias)", r"layers.\1.ff1.\2"),
    (r"transformer\.(\d+)\.1\.fn\.4\.(weight|bias)", r"layers.\1.ff2.\2"),
    (r"final_pointwise\.1\.0\.(\w+)", r"final.bn.\1"),
    (r"final_pointwise\.1\.2\.(weight|bias)", r"final.conv.\1"),
    (r"head\.(weight|bias)", r"head.\1"),
)
_TRUNK_ALIAS = {"1": "stem", "2": "conv_tower", "4": "transformer", "6": "final_pointwise"}


def canonical_state(state: dict[str, np.ndarray], head: str, source: str
                    ) -> dict[str, np.ndarray]:
    """The port's state dict with ``_trunk.N`` aliases folded (equal tensors required), BatchNorm
    counters dropped, and only ``head``'s weights kept (as ``head.*``)."""
    out: dict[str, np.ndarray] = {}
    heads_seen = set()
    for name, value in state.items():
        if name.endswith("num_batches_tracked"):
            continue
        m = re.fullmatch(r"_heads\.(\w+)\.0\.(weight|bias)", name)
        if m:
            heads_seen.add(m.group(1))
            if m.group(1) == head:
                out[f"head.{m.group(2)}"] = value
            continue
        m = re.fullmatch(r"_trunk\.(\d+)\.(.+)", name)
        if m:
            if m.group(1) not in _TRUNK_ALIAS:
                raise WeightMappingError(f"{source}: unexpected key {name!r}")
            name = f"{_TRUNK_ALIAS[m.group(1)]}.{m.group(2)}"
            if name in state and not np.array_equal(state[name], value):
                raise WeightMappingError(f"{source}: {name!r} and its _trunk alias differ")
        out[name] = value
    if head not in heads_seen:
        raise WeightMappingError(f"{source}: no weights for head {head!r} (heads found: "
                                 f"{', '.join(sorted(heads_seen)) or 'none'})")
    return out


def load(folder: str | Path, head: str = "human", input_length: int | None = None,
         tf_gammas: str | Path | None = None) -> tuple[EnformerNet, list[Path]]:
    """The network of an enformer-pytorch checkpoint folder, and the files read."""
    folder = Path(folder)
    config, state, files = read_hf_folder(folder)
    table = None
    if tf_gammas is not None:
        table = torch.load(str(tf_gammas), map_location="cpu", weights_only=True)
        if not isinstance(table, torch.Tensor):
            raise ConfigError(f"--tf-gammas {tf_gammas}: expected one tensor")
        files.append(Path(tf_gammas))
    c = {**DEFAULTS, **config}
    if input_length is None:
        input_length = POSITIONS * 2 ** int(c["num_downsamples"])
    net = EnformerNet(config, head, input_length, table)
    net = load_strict(net, str(folder), canonical_state(state, head, str(folder)), RULES)
    return net, files
