"""SpliceAI's delta scores: pure numpy, arrays in and arrays out.

``y_ref`` is the model output over the ``cov = 2 * distance + 1`` positions centred on the
variant (forward-strand order); ``y_alt`` is the output for the ALT window, which is longer or
shorter by ``len(alt) - len(ref)``.  :func:`align_alt` brings it to ``cov`` positions the way
SpliceAI 1.3.1 does; :func:`delta_scores` finds the largest gain and loss per channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Deltas:
    """DS_AG, DS_AL, DS_DG, DS_DL and their positions (bp from the variant)."""

    ds: tuple[float, float, float, float]
    dp: tuple[int, int, int, int]


def align_alt(y_alt: np.ndarray, cov: int, ref_len: int, alt_len: int) -> np.ndarray:
    """Bring ALT predictions ``[cov + alt_len - ref_len, C]`` to ``[cov, C]``.

    Deletion (REF longer): the deleted positions get zeros after the ALT bases.  Insertion
    (ALT longer): the inserted positions collapse to their maximum.  For SNVs nothing changes.
    With ``len(ref) == 1`` or ``len(alt) == 1`` this is SpliceAI's rule; for complex alleles it
    generalises it (only used when complex scoring is switched on).
    SpliceAI pads deletions with float64 zeros, which promotes the arithmetic to float64; so
    does this, so that argmax ties break as they do there."""
    c = cov // 2
    if ref_len > alt_len:
        gap = np.zeros((ref_len - alt_len, y_alt.shape[1]), dtype=np.float64)
        return np.concatenate([y_alt[: c + alt_len], gap, y_alt[c + alt_len:]], axis=0)
    if alt_len > ref_len:
        span = alt_len - ref_len + 1
        return np.concatenate(
            [y_alt[:c], y_alt[c: c + span].max(axis=0, keepdims=True), y_alt[c + span:]], axis=0)
    return y_alt


def delta_scores(y_ref: np.ndarray, y_alt: np.ndarray, *, acceptor: int, donor: int,
                 dist_exon_boundary: int, mask: bool) -> Deltas:
    """Gains and losses of acceptor/donor probability within the ``cov`` window.

    With ``mask``, an acceptor/donor *gain* at the annotated boundary nearest the variant and a
    *loss* anywhere else are set to 0 (SpliceAI's ``-M 1``)."""
    cov = y_ref.shape[0]
    if y_alt.shape[0] != cov:
        raise ValueError(f"aligned ALT has {y_alt.shape[0]} positions, REF has {cov}")
    if y_alt.dtype != y_ref.dtype:
        dt = np.result_type(y_alt.dtype, y_ref.dtype)
        y_ref, y_alt = y_ref.astype(dt), y_alt.astype(dt)
    half = cov // 2
    ds: list[float] = []
    dp: list[int] = []
    for ch in (acceptor, donor):
        gain = y_alt[:, ch] - y_ref[:, ch]
        loss = y_ref[:, ch] - y_alt[:, ch]
        i_gain, i_loss = int(gain.argmax()), int(loss.argmax())
        masked_gain = mask and (i_gain - half == dist_exon_boundary)
        masked_loss = mask and (i_loss - half != dist_exon_boundary)
        ds += [float(gain[i_gain]) * (0 if masked_gain else 1),
               float(loss[i_loss]) * (0 if masked_loss else 1)]
        dp += [i_gain - half, i_loss - half]
    return Deltas(ds=(ds[0], ds[1], ds[2], ds[3]), dp=(dp[0], dp[1], dp[2], dp[3]))
