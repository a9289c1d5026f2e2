"""An independent numpy forward pass over Puffin's original state dict (parity reference).

Written from the original's description in its own form — every convolution zero-padded to the
input length, the reverse-complement branch computed on the flipped input and flipped back, the
transposed convolution as a scatter of each input position's kernel, softplus, then the
325-base crop of ``predict()`` — in float64, reading the state dict under its own names.  It
shares nothing with :class:`export.puffin.PuffinNet` (unpadded, merged strands, kernels
rewritten) and is used only by the parity tests.
"""

from __future__ import annotations

import numpy as np

FLANK = 325


def _f64(state: dict) -> dict:
    return {k: np.asarray(v, dtype=np.float64) for k, v in state.items()}


def conv_same(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """torch ``Conv1d(padding=(k-1)//2)``: ``x`` ``[N, Cin, L]``, ``w`` ``[Cout, Cin, k]``,
    one tap at a time (``out[:, :, i] += w[:, :, t] @ x[:, :, i + t - pad]``)."""
    n, _, length = x.shape
    k = w.shape[2]
    pad = (k - 1) // 2
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    out = np.zeros((n, w.shape[0], length)) + b[None, :, None]
    for t in range(k):
        out += np.einsum("oc,ncl->nol", w[:, :, t], xp[:, :, t:t + length])
    return out


def conv_transpose_same(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """torch ``ConvTranspose1d(padding=(k-1)//2)``, stride 1: input position ``i`` adds
    ``w[:, :, t]`` (``w`` ``[Cin, Cout, k]``) at output position ``i + t - pad``."""
    n, _, length = x.shape
    k = w.shape[2]
    pad = (k - 1) // 2
    full = np.zeros((n, w.shape[1], length + k - 1))
    for t in range(k):
        full[:, :, t:t + length] += np.einsum("co,ncl->nol", w[:, :, t], x)
    return full[:, :, pad:pad + length] + b[None, :, None]


def softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


def _strands(x: np.ndarray, s: dict, name: str) -> np.ndarray:
    w, b = s[name + ".weight"], s[name + ".bias"]
    fwd = conv_same(x, w, b)
    rc = conv_same(x[:, ::-1, ::-1], w, b)[:, :, ::-1]
    return softplus(np.concatenate([fwd, rc], axis=1))


def puffin_forward(state: dict, x: np.ndarray) -> np.ndarray:
    """One-hot ``[N, L, 4]`` (ACGT) → ``[N, L - 650, 10]``, Puffin's cropped output."""
    s = _f64(state)
    xc = np.transpose(x.astype(np.float64), (0, 2, 1))
    motif, inr, sim = (_strands(xc, s, n) for n in ("conv", "conv_inr", "conv_sim"))
    y = (conv_same(motif, s["deconv.weight"], s["deconv.bias"])
         + conv_transpose_same(inr, s["deconv_inr.weight"], s["deconv_inr.bias"])
         + conv_same(sim, s["deconv_sim.weight"], s["deconv_sim.bias"]))
    y = softplus(y)[:, :, FLANK:y.shape[2] - FLANK]
    return np.transpose(y, (0, 2, 1))
