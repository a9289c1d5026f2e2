"""Puffin (Dudnyk et al., Science 2024): transcription initiation at base resolution.

What the original defines (``puffin.py`` of jzhoulab/puffin @ 467b4252; the code here is our
own, written from that description):

* three strand-symmetric motif convolutions on the one-hot input — ``conv`` (4→10, width 51),
  ``conv_inr`` (4→10, width 15) and ``conv_sim`` (4→32, width 3) — each applied to the sequence
  and to its reverse complement (the reverse-complement outputs flipped back), the two halves
  concatenated (20, 20 and 64 channels) and passed through softplus;
* three "deconvolutions" back to the 10 output tracks, summed: ``deconv`` (20→10, width 601)
  and ``deconv_sim`` (64→10, width 601) — FFT convolutions in the original (torch_fftconv's
  ``FFTConv1d``, which computes the same cross-correlation as ``nn.Conv1d`` with the same
  weights) — and ``deconv_inr``, a ``ConvTranspose1d`` (20→10, width 15);
* softplus of the sum.  Every convolution is zero-padded to the input length; the original
  ``predict()`` then crops 325 bases on each side (25 + 300 of the two wide layers), the
  receptive-field half-width, so each kept output sees only real sequence;
* ``scaler`` and ``scaler2``: two parameters in the state dict that ``forward`` never uses.

Here every convolution is an unpadded ``conv1d`` (the FFT layers become plain convolutions with
the same weights): the reverse-complement branch is the same convolution with the kernel
flipped along bases and positions (A↔T, C↔G; a reversed kernel), the transposed convolution is
the convolution with its kernel transposed and reversed, the narrower branches are cropped to
the positions the wide layers read, and the two wide layers (which read the same positions) are
one convolution over their concatenated inputs, summed over tap ranges pairwise
(:data:`TAP_CHUNKS`).  The graph thus computes exactly the central
``length - 650`` outputs the original keeps, for any input length ≥ 651.

Output channels (``targeti_map`` / ``targeti_rev_map``): 0–4 are FANTOM CAGE, ENCODE CAGE,
ENCODE RAMPAGE, GRO-cap, PRO-cap on the '+' strand; 5–9 the same assays on the '−' strand in
reverse order (PRO-cap … FANTOM CAGE).  Values are softplus outputs, ln(signal + 1).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from .torch_state import Rules, load_strict, read_state_dict

#: bases of context on each side of an output position (motif width 51 → 25, deconv 601 → 300)
FLANK = 325
CONTEXT = 2 * FLANK
#: the reference sequence encoding of the original (selene's): N is 0.25 in every column
N_VALUE = 0.25

#: (assay, description) of the five assays, in '+'-strand channel order
ASSAYS = (
    ("FANTOM_CAGE", "FANTOM5 CAGE"),
    ("ENCODE_CAGE", "ENCODE CAGE"),
    ("ENCODE_RAMPAGE", "ENCODE RAMPAGE"),
    ("GRO_CAP", "GRO-cap"),
    ("PRO_CAP", "PRO-cap"),
)


def track_table() -> tuple[dict[str, str], ...]:
    """The 10 tracks in channel order: '+' strand as listed, then '−' strand in reverse."""
    plus = [{"name": f"{a}+", "description": f"{d} transcription initiation, + strand "
             "(Puffin prediction, ln(signal + 1))", "assay": d, "strand": "+"}
            for a, d in ASSAYS]
    minus = [{"name": f"{a}-", "description": f"{d} transcription initiation, - strand "
              "(Puffin prediction, ln(signal + 1))", "assay": d, "strand": "-"}
             for a, d in reversed(ASSAYS)]
    return tuple(plus + minus)


TRACKS = track_table()
OUT_CHANNELS = tuple(t["name"] for t in TRACKS)


def _both_strands(conv: nn.Conv1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of ``conv`` applied to the sequence and (flipped back) to its reverse
    complement, as one convolution: the second half's kernel is reversed along bases and
    positions."""
    w = conv.weight
    return torch.cat([w, w.flip([1, 2])]), torch.cat([conv.bias, conv.bias])


#: the 601-tap sums are computed as this many convolutions over consecutive tap ranges, added
#: pairwise: one float32 accumulation over 84 × 601 terms (pre-activation values up to ~18)
#: drifts by up to 1.2e-5 from the exact sum on real windows, the pairwise sum of 32 partial
#: ones by 3.5e-6, for ~6 % more time (measured: 33 → 35 ms per 1,651-bp window, one thread)
TAP_CHUNKS = 32


class PuffinNet(nn.Module):
    """``[N, 4, L]`` (one-hot, ACGT) → ``[N, 10, L - 650]``; parameter names as the original."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 10, 51)
        self.conv_inr = nn.Conv1d(4, 10, 15)
        self.conv_sim = nn.Conv1d(4, 32, 3)
        self.deconv = nn.Conv1d(20, 10, 601)
        self.deconv_sim = nn.Conv1d(64, 10, 601)
        self.deconv_inr = nn.ConvTranspose1d(20, 10, 15)
        # present in the original state dict, unused by its forward pass
        self.scaler = nn.Parameter(torch.ones(1))
        self.scaler2 = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        edge = (self.conv.kernel_size[0] - 1) // 2                       # 25
        motif = F.softplus(F.conv1d(x, *_both_strands(self.conv)))       # positions 25 .. L-26
        sim = F.softplus(F.conv1d(x, *_both_strands(self.conv_sim)))     # positions 1 .. L-2
        sim = _crop(sim, edge - (self.conv_sim.kernel_size[0] - 1) // 2)
        inr = F.softplus(F.conv1d(x, *_both_strands(self.conv_inr)))     # positions 7 .. L-8
        k_inr = self.deconv_inr.kernel_size[0]
        inr = _crop(inr, FLANK - (k_inr - 1) // 2 - (k_inr - 1) // 2)   # positions 318 .. L-319
        # the two wide layers read the same positions: one convolution over 20 + 64 channels
        wide = _tree_conv(torch.cat([motif, sim], 1),
                          torch.cat([self.deconv.weight, self.deconv_sim.weight], 1),
                          self.deconv.bias + self.deconv_sim.bias, self.deconv.kernel_size[0])
        # a stride-1 transposed convolution = the convolution with kernel [out, in, k] reversed
        w_inr = self.deconv_inr.weight.transpose(0, 1).flip([2])
        return F.softplus(wide + F.conv1d(inr, w_inr, self.deconv_inr.bias))  # 325 .. L-326


def _crop(t: torch.Tensor, n: int) -> torch.Tensor:
    return t[:, :, n:t.shape[2] - n] if n else t


def _tree_conv(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor, k: int,
               chunks: int = TAP_CHUNKS) -> torch.Tensor:
    """Unpadded ``conv1d(x, w, bias)`` (``w`` has ``k`` taps) as ``chunks`` convolutions over
    consecutive tap ranges, their results added pairwise (a tree): it rounds less than one long
    sum."""
    edges = [round(i * k / chunks) for i in range(chunks + 1)]
    parts = [F.conv1d(x[:, :, a:x.shape[2] - (k - e)], w[:, :, a:e])
             for a, e in zip(edges, edges[1:]) if e > a]
    while len(parts) > 1:
        parts = [parts[i] + parts[i + 1] if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    return parts[0] + bias[:, None]


#: the original's names are ours: every key must match a parameter, and every parameter a key
RULES: Rules = (
    (r"(conv|conv_inr|conv_sim|deconv|deconv_sim|deconv_inr)\.(weight|bias)", r"\1.\2"),
    (r"scaler2?", r"\g<0>"),
)


def load(path: str | Path) -> PuffinNet:
    """The network from Puffin's state-dict file, every key checked by name and shape."""
    return load_strict(PuffinNet(), str(path), read_state_dict(Path(path)), RULES)
