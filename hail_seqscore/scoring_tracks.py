"""Variant effects of regulatory track models: pure numpy, arrays in and arrays out.

A track model (Puffin, Enformer, Basenji2, AI-TAC, a user's own) predicts ``T`` named tracks
over bins of its window.  A variant's effect on each track is a named reduction of the REF and
ALT predictions over the bins near the variant (:func:`effects`):

``diff``          sum over the bins of ALT − sum of REF (Basenji's and Enformer's "SAD");
``log2fc``        log2((sum ALT + c) / (sum REF + c)), ``c`` the pseudocount (default 1);
``max_abs_diff``  the ALT − REF difference of largest magnitude over the bins, with its sign.

**Indels: position-matched bins** (:func:`matched`).  Base-resolution models (``bin_size`` 1):
the REF positions ``[start − r, end + r)`` and the ALT positions of the same flanks are laid on a
common axis: the left flank, then the allele (REF's bases and ALT's bases, the shorter one
padded with zeros to the longer's length), then the right flank — so each flank position is
compared with the same genomic base, a deleted base's signal is compared with 0 and an inserted
base's signal with 0.  Sums (``diff``, ``log2fc``) are therefore the totals over the same
flanks plus each allele's own bases.  Binned models (``bin_size`` > 1): the ALT window is the
REF window with the allele replaced, cut or extended on the right to the same length
(left-anchored, as Enformer's and Basenji's variant scripts build it), and bins are compared by
index: bins left of the variant hold the same sequence, bins right of it are shifted by
``len(alt) − len(ref)`` bases.

**Strand and shift averaging.**  :func:`rc_permutation` pairs each track with its reverse-strand
partner (Puffin's ``FANTOM_CAGE+`` with ``FANTOM_CAGE−``), so predictions of the reverse
complement, flipped back, can be averaged with the forward ones track by track; shifted windows
are averaged as they are (their bins cover the same region within the shift).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

REDUCTIONS = ("diff", "log2fc", "max_abs_diff")
PSEUDOCOUNT = 1.0


def check_reduction(name: str) -> str:
    if name not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}, got {name!r}")
    return name


def bins_near(first_base: int, bin_size: int, n_bins: int, start: int, end: int
              ) -> tuple[int, int]:
    """Bins ``[i, j)`` of an output whose bin 0 starts at genome position ``first_base``
    (0-based) that overlap genome ``[start, end)``, clipped to the output."""
    i = (start - first_base) // bin_size
    j = -(-(end - first_base) // bin_size)
    return max(0, i), min(n_bins, j)


def matched(ref: np.ndarray, alt: np.ndarray, left: int, ref_len: int, alt_len: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Base-resolution REF ``[left + ref_len + right, T]`` and ALT ``[left + alt_len + right,
    T]`` (same flanks) on one axis: flanks matched base by base, the alleles aligned from the
    left, the shorter padded with zeros."""
    right = ref.shape[0] - left - ref_len
    if right < 0 or alt.shape[0] != left + alt_len + right:
        raise ValueError(f"REF {ref.shape} and ALT {alt.shape} do not share flanks of "
                         f"{left} and {right} positions around alleles of {ref_len} and "
                         f"{alt_len} bp")
    n = max(ref_len, alt_len)

    def laid(y: np.ndarray, k: int) -> np.ndarray:
        pad = np.zeros((n - k, y.shape[1]), dtype=y.dtype)
        return np.concatenate([y[:left + k], pad, y[left + k:]], axis=0)

    return laid(ref, ref_len), laid(alt, alt_len)


def effects(ref: np.ndarray, alt: np.ndarray, reduction: str,
            pseudocount: float = PSEUDOCOUNT) -> np.ndarray:
    """Per-track effect ``[T]`` (float64) of position-matched REF and ALT ``[bins, T]``."""
    check_reduction(reduction)
    if ref.shape != alt.shape or ref.ndim != 2:
        raise ValueError(f"REF {ref.shape} and ALT {alt.shape} must be equal [bins, tracks]")
    r, a = ref.astype(np.float64), alt.astype(np.float64)
    if reduction == "diff":
        return a.sum(axis=0) - r.sum(axis=0)
    if reduction == "log2fc":
        return np.log2((a.sum(axis=0) + pseudocount) / (r.sum(axis=0) + pseudocount))
    d = a - r
    if d.shape[0] == 0:
        return np.zeros(d.shape[1])
    return d[np.argmax(np.abs(d), axis=0), np.arange(d.shape[1])]


def summary(values: np.ndarray, names: Sequence[str]) -> tuple[float, str]:
    """(largest |effect|, its track's name); the first such track on a tie."""
    if len(values) == 0:
        return 0.0, ""
    i = int(np.argmax(np.abs(values)))
    return float(abs(values[i])), names[i]


def rc_permutation(tracks: Sequence[Mapping[str, str]]) -> np.ndarray:
    """For each track, the index of the track that a reverse-complemented input predicts in its
    place: its partner on the other strand (same name with ``+``/``-`` (or ``−``) swapped, or the
    same ``name`` without its strand suffix and the other ``strand``), else itself."""
    def key(t: Mapping[str, str]) -> tuple[str, str]:
        name = str(t.get("name", ""))
        strand = str(t.get("strand", ""))
        for suffix, s in (("+", "+"), ("-", "-"), ("\u2212", "-")):
            if name.endswith(suffix):
                return name[:-1], s
        return name, strand if strand in ("+", "-") else ""

    keys = [key(t) for t in tracks]
    index = {k: i for i, k in enumerate(keys)}
    other = {"+": "-", "-": "+"}
    return np.array([index.get((base, other[s]), i) if s in other else i
                     for i, (base, s) in enumerate(keys)], dtype=np.int64)


def average_rc(forward: np.ndarray, reverse: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Mean of forward predictions ``[bins, T]`` and those of the reverse complement (already
    flipped back to forward bin order), the latter's tracks permuted onto their partners."""
    return (forward + reverse[:, perm]) / 2
