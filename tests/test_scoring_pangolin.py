"""Pangolin's scoring rules (hail_seqscore.scoring_pangolin) on small arrays, one rule each.
Parity with the Pangolin CLI's own outputs on real data, through the engine and the CLI, is in
test_parity_pangolin.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hail_seqscore.records import PangolinScore
from hail_seqscore.scoring_pangolin import (
    NO_SITES_WARNING, SKIP_DELETION, SKIP_FORMAT, align_alt, format_gene,
    format_pangolin, gain_loss, rounded, score_genes, skip_reason, tissue_deltas, variant_offset,
    window_bounds)

D = 3            # distance: 2d + 1 = 7 positions for an SNV; index i ↔ pos - 3 + i
POS = 1000


def _loss_gain(values_gain, values_loss):
    return (np.array(values_loss, dtype=np.float32), np.array(values_gain, dtype=np.float32))


def test_window_is_10000_plus_2d_plus_ref_len_with_the_ref_at_5000_plus_d():
    for ref_len in (1, 4):
        start, end = window_bounds(POS, ref_len, 50)
        assert end - start == 10_000 + 100 + ref_len
        assert start + variant_offset(50) == POS - 1        # the REF's first base, 0-based
    assert window_bounds(5_101, 1, 50) == (50, 10_151)


def test_skip_reasons_are_the_clis():
    assert skip_reason("A", "G", 50) is None
    assert skip_reason("A", "AT", 50) is None and skip_reason("AT", "GC", 50) is None
    for ref, alt in (("N", "A"), ("A", "*"), ("A", "<DEL>"), ("AT", "GCA")):
        assert skip_reason(ref, alt, 50) == SKIP_FORMAT, (ref, alt)
    assert skip_reason("A" * 100, "A", 50) is None
    assert skip_reason("A" * 101, "A", 50) == SKIP_DELETION


def test_deletion_is_zero_padded_after_d_plus_1_in_float64():
    alt = np.arange(1, 2 * D + 2, dtype=np.float32)[:, None]     # ALT of a 3-base REF, 1 ALT
    out = align_alt(alt, 3, 1, D)
    assert out.dtype == np.float64 and out.shape == (2 * D + 3, 1)
    assert out[:, 0].tolist() == [1, 2, 3, 4, 0, 0, 5, 6, 7]


def test_insertion_takes_the_max_over_the_anchor_and_inserted_bases():
    alt = np.array([1, 2, 3, 9, 4, 8, 5, 6, 7], dtype=np.float32)[:, None]   # 1 → 3 bases
    out = align_alt(alt, 1, 3, D)
    assert out.dtype == np.float32
    assert out[:, 0].tolist() == [1, 2, 3, 9, 5, 6, 7]
    alt[3] = 0                                       # the max comes from an inserted base
    assert align_alt(alt, 1, 3, D)[:, 0].tolist() == [1, 2, 3, 8, 5, 6, 7]
    with pytest.raises(ValueError, match="expected"):
        align_alt(alt[:-1], 1, 3, D)


def test_insertion_max_is_taken_per_replicate_before_the_mean():
    ref = np.zeros((2 * D + 1, 12), dtype=np.float32)
    alt = np.zeros((2 * D + 2, 12), dtype=np.float32)
    alt[3, 0], alt[4, 1] = 0.6, 0.6       # heart r1 peaks at the anchor, r2 at the new base
    tissue = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    per_member = tissue_deltas(ref, alt, 1, 2, D, member_tissue=tissue)
    assert np.isclose(per_member[3, 0], 0.4)               # (0.6 + 0.6 + 0) / 3
    means = np.stack([alt[:, 3 * t:3 * t + 3].mean(1) for t in range(4)], 1)
    of_means = tissue_deltas(ref[:, :4], means, 1, 2, D)
    assert np.isclose(of_means[3, 0], 0.2)                 # what the means alone would give


def test_loss_is_min_and_gain_max_over_tissues():
    ref = np.full((2 * D + 1, 4), 0.5, dtype=np.float32)
    alt = ref.copy()
    alt[2] = [0.9, 0.1, 0.5, 0.6]
    loss, gain = gain_loss(tissue_deltas(ref, alt, 1, 1, D))
    assert np.isclose(gain[2], 0.4) and np.isclose(loss[2], -0.4)
    assert gain[0] == 0 and loss[0] == 0


def test_tissue_deltas_check_shapes():
    ref = np.zeros((2 * D + 1, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="expected"):
        tissue_deltas(ref[:-1], ref, 1, 1, D)
    with pytest.raises(ValueError, match="member_tissue"):
        tissue_deltas(np.zeros((7, 12)), np.zeros((7, 12)), 1, 1, D, member_tissue=[0] * 12)


def _scores(*args, **kwargs) -> list[PangolinScore]:
    """score_genes with gain and loss rounded as the CLI prints them."""
    return [dataclasses.replace(s, gain=rounded(s.gain), loss=rounded(s.loss))
            for s in score_genes(*args, **kwargs)]


def test_mask_clips_gains_at_sites_and_losses_elsewhere():
    loss, gain = _loss_gain([0.1, 0.2, 0.9, 0.0, 0.0, 0.3, 0.0],
                            [-0.1, -0.5, 0.0, 0.0, -0.2, 0.0, 0.0])
    site = POS - D + 2                       # index 2: its gain 0.9 and its loss stay/go
    (s,) = _scores(loss.copy(), gain.copy(), [("G", np.array([site, site + 2]))], POS, D)
    assert (s.gain_pos, s.gain) == (2, 0.3)              # 0.9 at the site is clipped to 0
    assert (s.loss_pos, s.loss) == (1, -0.2)             # the site at index 4: -0.2 kept
    (u,) = _scores(loss, gain, [("G", np.array([site, site + 2]))], POS, D, mask=False)
    assert (u.gain_pos, u.gain, u.loss_pos, u.loss) == (-1, 0.9, -2, -0.5)


def test_fully_masked_loss_reports_the_first_position_and_no_sites_warns():
    loss, gain = _loss_gain([0.0, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0],
                            [-0.3, -0.1, 0.0, 0.0, 0.0, 0.0, -0.2])
    (s,) = _scores(loss, gain, [("G", np.array([], dtype=np.int64))], POS, D)
    assert (s.loss_pos, s.loss) == (-D, 0.0) and s.warnings == NO_SITES_WARNING
    assert (s.gain_pos, s.gain) == (-2, 0.1)              # gains are not masked then
    assert format_gene(s) == f"G|-2:0.1|-3:0.0|Warnings:{NO_SITES_WARNING}"


def test_sites_outside_the_range_mask_every_loss_but_no_gain():
    loss, gain = _loss_gain([0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0], [-0.4] * 7)
    (s,) = _scores(loss, gain, [("G", np.array([POS + 500, POS + 600]))], POS, D)
    assert (s.gain_pos, s.gain, s.loss, s.warnings) == (-1, 0.5, 0.0, "")


def test_mask_carries_over_to_the_next_gene_on_the_strand():
    loss, gain = _loss_gain([0.0, 0.0, 0.0, 0.0, 0.0, 0.7, 0.0],
                            [0.0, -0.6, 0.0, 0.0, 0.0, 0.0, 0.0])
    a = ("A", np.array([POS + 2, POS + 3]))          # index 5 (the gain) is A's site
    b = ("B", np.array([POS - 2, POS + 3]))          # index 1 (the loss) is B's site
    sa, sb = _scores(loss.copy(), gain.copy(), [a, b], POS, D)
    assert (sa.gain, sa.loss) == (0.0, 0.0)
    assert (sb.gain, sb.loss) == (0.0, 0.0)          # A's clipping carried into B
    fa, fb = _scores(loss.copy(), gain.copy(), [a, b], POS, D, carry_over=False)
    assert (fa.gain, fa.loss) == (0.0, 0.0)
    assert (fb.gain, fb.gain_pos, fb.loss, fb.loss_pos) == (0.7, 2, -0.6, -2)
    kept_loss, kept_gain = loss.copy(), gain.copy()
    score_genes(kept_loss, kept_gain, [a, b], POS, D, carry_over=False)
    assert (kept_loss == loss).all() and (kept_gain == gain).all()


def test_ties_take_the_first_index_and_values_round_as_float32():
    loss, gain = _loss_gain([0.0, 0.3, 0.1, 0.3, 0.0, 0.0, 0.0],
                            [0.0, 0.0, -0.004, 0.0, 0.0, -0.004, 0.0])
    (s,) = _scores(loss, gain, [("G", np.array([]))], POS, D, mask=False)
    assert (s.gain_pos, s.loss_pos) == (-2, -1)
    assert str(rounded(s.loss)) == "-0.0"                # round(float32(-0.004), 2)
    assert format_gene(s) == "G|-2:0.3|-1:-0.0|Warnings:"
    # rounded in the arrays' precision: float32(0.28500000000000003) is 0.28499999…
    v = 0.28500000000000003
    (r,) = _scores(*_loss_gain([v] * 7, [0.0] * 7), [("G", [])], POS, D, mask=False)
    assert rounded(r.gain) == 0.28
    (q,) = _scores(np.zeros(7), np.full(7, v), [("G", [])], POS, D, mask=False)
    assert rounded(q.gain) == 0.29


def test_cutoff_lists_gains_then_losses_in_position_order():
    loss, gain = _loss_gain([0.0, 0.25, 0.0, 0.0, 0.2, 0.0, 0.1],
                            [-0.3, 0.0, 0.0, -0.2, 0.0, 0.0, -0.19])
    (s,) = score_genes(loss, gain, [("G", np.array([]))], POS, D, mask=False, cutoff=0.2)
    assert [(p, rounded(v)) for p, v in s.cutoff_sites] == [(-2, 0.25), (1, 0.2), (-3, -0.3),
                                                            (0, -0.2)]
    assert format_gene(s) == "G|-2:0.25|1:0.2|-3:-0.3|0:-0.2|Warnings:"
    (n,) = score_genes(loss, gain, [("G", np.array([]))], POS, D, mask=False, cutoff=0.5)
    assert format_gene(n) == "G|Warnings:"


def test_score_exons_lists_both_sites_of_each_exon_in_range():
    loss, gain = _loss_gain([0.0, 0.0, 0.4, 0.0, 0.0, 0.0, 0.0],
                            [0.0, 0.0, -0.1, 0.0, -0.5, 0.0, 0.0])
    sites = np.array([POS - 1, POS + 1,       # exon 1: indices 2 and 4, both in range
                      POS + 3, POS + 40,      # exon 2: index 6 in range, the end is not
                      POS + 50, POS + 60])    # exon 3: out of range, left out
    (s,) = score_genes(loss, gain, [("G", sites)], POS, D, mask=False, score_exons=True)
    assert [[(p, None if v is None else rounded(v)) for p, v in e] for e in s.exon_sites] == [
        [(-1, 0.4), (1, -0.5)], [(3, 0.0), (40, None)]]
    assert format_gene(s) == "G_sites1|-1:0.4|3:0.0|G_sites2|1:-0.5|40:NA|Warnings:"


def test_blocks_are_joined_by_commas():
    a = PangolinScore("ENSG1", "+", 0.0, 1, 0.0, -49)
    b = PangolinScore("ENSG2", "-", 0.0, 19, -0.15, 49, NO_SITES_WARNING)
    assert format_pangolin([a, b]) == (
        "ENSG1|1:0.0|-49:0.0|Warnings:,"
        f"ENSG2|19:0.0|49:-0.15|Warnings:{NO_SITES_WARNING}")
    assert format_pangolin([]) == ""
