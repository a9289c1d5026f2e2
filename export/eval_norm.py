"""BatchNorm for inference only: the four tensors a trained network keeps, no step counter.

``nn.BatchNorm1d`` also holds ``num_batches_tracked``, a training counter that some weight files
omit (safetensors conversions, hand-made state dicts) and that no inference uses; this module
has exactly ``weight``, ``bias``, ``running_mean`` and ``running_var``, so a strict load checks
what matters and nothing else.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class EvalBatchNorm(nn.Module):
    """``(x - running_mean) / sqrt(running_var + eps) · weight + bias`` over channel dim 1."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            False, 0.0, self.eps)
