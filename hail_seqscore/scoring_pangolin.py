"""Pangolin's scores: pure numpy, arrays in and arrays out, as the Pangolin CLI computes them.

The rules of ``pangolin`` (tkzeng/Pangolin 1.0.2, ``pangolin/pangolin.py``), with ``d`` the
distance (``-d``, default 50):

* **Window.** 0-based ``[pos - 5001 - d, pos + len(ref) + 4999 + d)``: 10,000 + 2d + len(ref)
  bases, the REF's first base at index ``5000 + d`` (:func:`window_bounds`).  ALT = the same
  window with REF replaced.  No N padding at gene ends.  Each strand that has an overlapping
  gene is scored: the window reverse-complemented for ``-``, the outputs flipped back, so every
  array here is in forward genomic order, position ``i`` = ``pos - d + i``.
* **ALT layout** (:func:`align_alt`), per replicate, before the difference: a deletion gets
  zeros after index ``d + 1`` (so the deleted positions score ``-REF``), an insertion the
  maximum over indices ``d … d + len(alt) - len(ref)`` (the anchor base and the inserted bases).
  The zeros are float64, which makes a deletion's arithmetic float64; SNVs and insertions stay
  float32.
* **Tissue deltas** (:func:`tissue_deltas`): per tissue (heart, liver, brain, testis) the mean
  over its 3 replicates of ALT − REF of P(splice); **loss** = min over tissues and **gain** = max
  per position (:func:`gain_loss`).
* **Masking** (default on; :func:`score_genes`): for each gene in turn, gains at its annotated
  sites are clipped to ``<= 0`` and losses at every other position to ``>= 0``.  The CLI clips
  the strand's arrays **in place**, so a later gene on the same strand sees the earlier genes'
  clipping too (gains clipped at the union of their sites, losses kept only where every gene so
  far has a site).  ``carry_over=True`` (the default) reproduces that; ``False`` masks each
  gene on a fresh copy.  A gene without exons gets the warning
  ``NoAnnotatedSitesToMaskForThisGene`` and all its losses clipped (gains untouched).
* **Picking**: gain at ``argmax(gain)``, loss at ``argmin(loss)`` — the first index on a tie,
  so a fully masked loss reports ``-d:0.0``.  Records (:class:`records.PangolinScore`) keep
  the values unrounded; output rounds them as ``round(x, 2)`` on the numpy scalar (float32 →
  float32, so ``-0.001`` gives ``-0.0``; :func:`rounded`), positions are ``index - d``.
* ``-s CUTOFF`` lists every gain ``>= cutoff`` then every loss ``<= -cutoff`` (ascending
  positions; compared in the arrays' precision); ``--score_exons`` lists, for each annotated exon
  with a site within range, both its sites' scores (the one of loss/gain with the larger
  magnitude, the loss on a tie; ``NA`` outside the range).  Both still use the masked arrays.

Output (:func:`format_gene`, :func:`format_pangolin`): one block ``gene|pos:gain|pos:loss|
Warnings:…`` per gene, ``+``-strand genes first, blocks joined by ``,``.  The CLI writes it as
the VCF INFO value ``Pangolin=`` (:data:`INFO_HEADER`) or as a CSV column ``Pangolin``; a
skipped variant (:func:`skip_reason`, REF mismatch, no gene, window off the contig) gets no
INFO key / an empty column, its reason printed on stdout only.  Values print as numpy 1.x
prints the rounded float32 (``0.07``, ``-0.0``); under numpy 2 the CLI prints the float32's
double expansion (``0.07000000029802322``), the same number.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .records import PangolinScore

FLANK = 5000                   # bases of context each side of the scored range
TISSUES = ("heart", "liver", "brain", "testis")
NO_SITES_WARNING = "NoAnnotatedSitesToMaskForThisGene"

# The CLI's messages for a variant it skips (printed, never written into the output).
SKIP_FORMAT = "Variant format not supported."
SKIP_DELETION = "Deletion too large"
SKIP_SEQUENCE = ("Could not get sequence, possibly because the variant is too close to "
                 "chromosome ends.")
SKIP_NO_GENE = ("Variant not contained in a gene body. Do GTF/FASTA chromosome names match?")


def ref_mismatch_reason(fasta_ref: str, ref: str) -> str:
    return (f"Mismatch between FASTA (ref base: {fasta_ref}) and variant file "
            f"(ref base: {ref}).")


def window_bounds(pos: int, ref_len: int, distance: int, flank: int = FLANK
                  ) -> tuple[int, int]:
    """The CLI's window around a variant at 1-based ``pos``: (start 0-based, end exclusive).
    ``flank``: the model's context on each side (5,000 for Pangolin)."""
    return pos - flank - 1 - distance, pos + ref_len + flank - 1 + distance


def variant_offset(distance: int, flank: int = FLANK) -> int:
    """Index of the REF's first base in the window of :func:`window_bounds`."""
    return flank + distance


def skip_reason(ref: str, alt: str, distance: int) -> str | None:
    """The CLI's reason to skip a variant before reading the genome, or None.

    No A/C/G/T in REF or ALT (``N``, ``*``, symbolic alleles), or both longer than 1 base and of
    different lengths (complex): format not supported; REF longer than ``2 * distance``:
    deletion too large.  (The CSV mode upper-cases REF and ALT first; the VCF mode does not.)"""
    acgt = set("ACGT")
    if not acgt & set(ref) or not acgt & set(alt) or (
            len(ref) != 1 and len(alt) != 1 and len(ref) != len(alt)):
        return SKIP_FORMAT
    if len(ref) > 2 * distance:
        return SKIP_DELETION
    return None


def align_alt(alt: np.ndarray, ref_len: int, alt_len: int, distance: int) -> np.ndarray:
    """ALT predictions ``[2d + alt_len, …]`` (forward order) → ``[2d + ref_len, …]``, the
    CLI's way: a deletion gets float64 zeros after index ``d + 1``, an insertion the maximum over
    indices ``d … d + alt_len - ref_len``; SNVs and MNVs are returned as they are."""
    d = distance
    n = abs(ref_len - alt_len)
    if alt.shape[0] != 2 * d + alt_len:
        raise ValueError(f"ALT predictions cover {alt.shape[0]} positions, expected "
                         f"2 * {d} + {alt_len} = {2 * d + alt_len}")
    if ref_len > alt_len:
        gap = np.zeros((n, *alt.shape[1:]), dtype=np.float64)
        return np.concatenate([alt[:d + 1], gap, alt[d + 1:]], axis=0)
    if alt_len > ref_len:
        top = alt[d:d + n + 1].max(axis=0, keepdims=True)
        return np.concatenate([alt[:d], top, alt[d + n + 1:]], axis=0)
    return alt


def tissue_deltas(ref: np.ndarray, alt: np.ndarray, ref_len: int, alt_len: int, distance: int,
                  member_tissue: Sequence[int] | None = None) -> np.ndarray:
    """ALT − REF per tissue: ``[2d + ref_len, 4]`` in forward order.

    ``ref`` ``[2d + ref_len, C]`` and ``alt`` ``[2d + alt_len, C]`` are either the 4 tissue
    means (``member_tissue=None``) or the replicate channels (``y_members``) with
    ``member_tissue[c]`` the tissue of channel ``c``.  With replicates, each one's ALT is laid
    out (:func:`align_alt`) and its difference taken before the mean over the tissue's
    replicates, in channel order, as the CLI does: exact for insertions, where the maximum of
    a mean is not the mean of the maxima.  With means the result differs from the CLI's only by
    float rounding (for SNVs, MNVs and deletions)."""
    want = 2 * distance + ref_len
    if ref.shape[0] != want or ref.ndim != 2:
        raise ValueError(f"REF predictions have shape {ref.shape}, expected [{want}, channels]")
    if alt.ndim != 2 or alt.shape[1] != ref.shape[1]:
        raise ValueError(f"ALT predictions have shape {alt.shape}, REF {ref.shape}")
    diff = align_alt(alt, ref_len, alt_len, distance) - ref
    if member_tissue is None:
        if diff.shape[1] != len(TISSUES):
            raise ValueError(f"{diff.shape[1]} channels; tissue means need {len(TISSUES)} "
                             f"(or give member_tissue for replicate channels)")
        return diff
    tissue = np.asarray(member_tissue)
    if tissue.shape != (diff.shape[1],) or set(tissue.tolist()) != set(range(len(TISSUES))):
        raise ValueError(f"member_tissue {list(tissue)} must give a tissue 0-3 for each of "
                         f"the {diff.shape[1]} channels and cover all 4")
    # np.mean over a list of per-replicate arrays, as the CLI: summed in order, then divided
    return np.stack([np.mean(diff[:, tissue == t].T, axis=0) for t in range(len(TISSUES))],
                    axis=1)


def gain_loss(deltas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[positions, 4]`` tissue deltas → (loss = min over tissues, gain = max), new arrays."""
    return deltas.min(axis=1), deltas.max(axis=1)


def rounded(x: float) -> float:
    """``round(x, 2)`` as the CLI computes it on its numpy scalar, as the Python float that
    prints as numpy 1.x prints the result (``0.07``, ``-0.0``).

    The CLI rounds in the arrays' precision: float32 for SNVs and insertions, float64 for
    deletions (see :func:`align_alt`).  A float32 value converted to a Python float converts
    back exactly, so such values are rounded as float32, others as float64."""
    v = np.float32(x) if float(np.float32(x)) == x else np.float64(x)
    return float(str(np.round(v, 2)))


def _mask(loss: np.ndarray, gain: np.ndarray, idx: np.ndarray) -> str:
    """The CLI's masking for one gene, in place; ``idx`` = its sites as indices (any range)."""
    if len(idx) == 0:
        np.maximum(loss, 0, out=loss)
        return NO_SITES_WARNING
    inside = idx[(idx >= 0) & (idx < len(loss))]
    gain[inside] = np.minimum(gain[inside], 0)
    others = ~np.isin(np.arange(len(loss)), inside)
    loss[others] = np.maximum(loss[others], 0)
    return ""


def _exon_value(loss: np.ndarray, gain: np.ndarray, i: int) -> float | None:
    if i < 0 or i >= len(loss):
        return None
    pair = [loss[i], gain[i]]
    return float(pair[int(np.argmax(np.abs(pair)))])


def score_genes(loss: np.ndarray, gain: np.ndarray, genes: Sequence[tuple[str, np.ndarray]],
                pos: int, distance: int, *, strand: str = "+", mask: bool = True,
                carry_over: bool = True, cutoff: float | None = None,
                score_exons: bool = False) -> list[PangolinScore]:
    """The blocks of the genes of one strand, in the order given (the CLI's order:
    :meth:`PangolinGenes.at`).

    ``loss``/``gain`` from :func:`gain_loss` for that strand; ``genes`` = (name, exon site
    positions, 1-based, in the annotation's exon order as pairs start, end).  With
    ``carry_over`` (the CLI's behaviour) the arrays are masked **in place** and each gene's
    masking carries into the next; otherwise each gene is masked on a copy and the arrays are
    left unchanged."""
    d = distance
    if loss.shape != gain.shape or loss.ndim != 1:
        raise ValueError(f"loss {loss.shape} and gain {gain.shape} must be equal 1-d arrays")
    out = []
    for name, sites in genes:
        lo, ga = (loss, gain) if carry_over else (loss.copy(), gain.copy())
        idx = np.asarray(sites, dtype=np.int64) - (pos - d)
        warnings = _mask(lo, ga, idx) if mask else ""
        g, lw = int(np.argmax(ga)), int(np.argmin(lo))
        cut = exons = None
        if score_exons:
            exons = tuple(((int(idx[k]) - d, _exon_value(lo, ga, int(idx[k]))),
                           (int(idx[k + 1]) - d, _exon_value(lo, ga, int(idx[k + 1]))))
                          for k in range(0, len(idx) - 1, 2))
            exons = tuple(e for e in exons if e[0][1] is not None or e[1][1] is not None)
        elif cutoff is not None:
            gains = np.nonzero(ga >= ga.dtype.type(cutoff))[0]
            losses = np.nonzero(lo <= lo.dtype.type(-cutoff))[0]
            cut = tuple([(int(i) - d, float(ga[i])) for i in gains]
                        + [(int(i) - d, float(lo[i])) for i in losses])
        out.append(PangolinScore(name, strand, float(ga[g]), g - d, float(lo[lw]), lw - d,
                                 warnings, cut, exons))
    return out


def _value(v: float | None) -> str:
    return "NA" if v is None else repr(rounded(v))


def format_gene(score: PangolinScore) -> str:
    """One gene's block as the CLI writes it (``--score_exons`` and ``-s`` forms included)."""
    if score.exon_sites is not None:
        parts = ([f"{score.gene}_sites1"] + [f"{p}:{_value(v)}" for (p, v), _ in score.exon_sites]
                 + [f"{score.gene}_sites2"]
                 + [f"{p}:{_value(v)}" for _, (p, v) in score.exon_sites])
    elif score.cutoff_sites is not None:
        parts = [score.gene] + [f"{p}:{_value(v)}" for p, v in score.cutoff_sites]
    else:
        parts = [score.gene, f"{score.gain_pos}:{_value(score.gain)}",
                 f"{score.loss_pos}:{_value(score.loss)}"]
    return "|".join(parts + ["Warnings:" + score.warnings])


def format_pangolin(scores: Sequence[PangolinScore]) -> str:
    """The value of the CLI's ``Pangolin`` INFO key / CSV column: the blocks joined by ``,``
    (``+``-strand genes first, then ``-``, as :meth:`PangolinGenes.at` orders them)."""
    return ",".join(format_gene(s) for s in scores)
