"""numpy convolution shared by the two parity references (not by the exporter)."""

from __future__ import annotations

import numpy as np

_ROWS = 4096  # rows per im2col block: bounds memory at ~_ROWS * K * Cin values


def valid_conv(x: np.ndarray, kernel: np.ndarray, dilation: int) -> np.ndarray:
    """Unpadded dilated convolution of ``x`` ``[N, L, Cin]`` with ``kernel`` ``[K, Cin, Cout]``
    (cross-correlation, as in TensorFlow), returning ``[N, L - (K-1)*dilation, Cout]``.

    Taps are gathered into ``[rows, K*Cin]`` blocks so that each block is a single matmul."""
    k, cin, cout = kernel.shape
    n, length, _ = x.shape
    n_out = length - (k - 1) * dilation
    if n_out <= 0:
        raise ValueError(f"input length {length} too short for kernel {k} dilation {dilation}")
    w = kernel.reshape(k * cin, cout)
    out = np.empty((n, n_out, cout), dtype=np.result_type(x, kernel))
    for i in range(n):
        for s in range(0, n_out, _ROWS):
            e = min(n_out, s + _ROWS)
            cols = np.stack([x[i, s + t * dilation:e + t * dilation] for t in range(k)], axis=1)
            out[i, s:e] = cols.reshape(e - s, k * cin) @ w
    return out
