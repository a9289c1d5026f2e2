"""Windows, one-hot encoding and strand handling (numpy only).

SpliceAI's layout for a variant at ``pos`` (1-based) with ``cov = 2 * distance + 1`` output
positions and a model context ``C``: the window is ``wid = C + cov`` bases centred on ``pos``;
bases outside the gene's transcript are replaced by N; the ALT window splices ALT in place of
REF at the centre; a minus-strand gene sees the reverse complement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Row 0 is N; rows 1-4 are A, C, G, T.  Other letters (IUPAC codes) land where SpliceAI's
# ``one_hot_encode`` puts them: on row ``ord(letter.upper()) % 5``.
_LUT = np.array([(ord(chr(b).upper()) if b < 128 else b) % 5 for b in range(256)],
                dtype=np.uint8)
for _i, _b in enumerate("NACGT"):
    _LUT[ord(_b)] = _i
    _LUT[ord(_b.lower())] = _i


@dataclass(frozen=True)
class WindowLayout:
    """Where a variant's window lies: ``start`` 0-based, ``end`` exclusive, ``wid`` long."""

    start: int
    end: int
    cov: int
    wid: int

    @property
    def centre(self) -> int:
        """Offset of the variant's first REF base in the window (``wid // 2``)."""
        return self.wid // 2


def layout(pos: int, distance: int, context: int) -> WindowLayout:
    cov = 2 * distance + 1
    wid = context + cov
    return WindowLayout(start=pos - wid // 2 - 1, end=pos + wid // 2, cov=cov, wid=wid)


def gene_padding(wid: int, dist_tx_start: int, dist_tx_end: int) -> tuple[int, int]:
    """How many window bases lie before the transcript start / after its end (SpliceAI)."""
    return max(wid // 2 + dist_tx_start, 0), max(wid // 2 - dist_tx_end, 0)


def mask_outside(seq: str, pad: tuple[int, int]) -> str:
    left, right = pad
    n = len(seq)
    if left == 0 and right == 0:
        return seq
    return "N" * left + seq[left:n - right] + "N" * right


def splice_alt(ref_window: str, centre: int, ref_len: int, alt: str) -> str:
    return ref_window[:centre] + alt + ref_window[centre + ref_len:]


def one_hot(seq: str, alphabet: str = "ACGT", n_value: float = 0.0) -> np.ndarray:
    """``[len(seq), 4]`` float32; N (and, outside ACGT alphabets, any other letter) gets ``n_value``."""
    if alphabet.upper() == "ACGT":
        lut = _LUT
    else:
        lut = np.zeros(256, dtype=np.uint8)
        for i, b in enumerate(alphabet.upper(), start=1):
            lut[ord(b)] = i
            lut[ord(b.lower())] = i
    table = np.zeros((5, 4), dtype=np.float32)
    table[0] = n_value
    table[1:] = np.eye(4, dtype=np.float32)
    codes = lut[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]
    return table[codes]


def reverse_complement(x: np.ndarray) -> np.ndarray:
    """Reverse complement of a one-hot ``[..., L, 4]`` array in ACGT order (A↔T, C↔G)."""
    return x[..., ::-1, ::-1]


def one_hot_oriented(seq: str, strand: str, alphabet: str = "ACGT",
                     n_value: float = 0.0) -> np.ndarray:
    """``one_hot(seq)`` in model orientation: reverse-complemented for minus-strand genes."""
    x = one_hot(seq, alphabet, n_value)
    return reverse_complement(x) if strand == "-" else x


def length_batches(keys: list, lengths: list[int], budget: int, slack: float = 1.05):
    """Consecutive runs of ``keys`` (sorted by length) whose padded size fits ``budget`` and
    whose lengths differ by at most ``slack`` (padding is computed, so it must stay small).
    An item larger than ``budget`` forms a batch of its own."""
    batch: list = []
    first = 0
    for k, n in zip(keys, lengths):
        if batch and (n * (len(batch) + 1) > budget or n > first * slack):
            yield batch
            batch = []
        if not batch:
            first = n
        batch.append(k)
    if batch:
        yield batch


def stack_padded(arrays: list[np.ndarray], n_value: float = 0.0) -> np.ndarray:
    """Right-pad ``[L_i, 4]`` arrays with N to one length and stack them.

    Safe for the exported graphs: each output position sees only its own receptive field,
    so padding on the right adds outputs at the end and changes none of the others."""
    length = max(a.shape[0] for a in arrays)
    out = np.full((len(arrays), length, 4), n_value, dtype=np.float32)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a
    return out
