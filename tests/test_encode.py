import numpy as np
import pytest

from hail_seqscore.encode import (gene_padding, layout, mask_outside, one_hot,
                                  reverse_complement, splice_alt, stack_padded)


def test_one_hot_acgt_and_n():
    x = one_hot("ACGTNacgtn")
    assert x.dtype == np.float32 and x.shape == (10, 4)
    np.testing.assert_array_equal(x[:4], np.eye(4))
    np.testing.assert_array_equal(x[5:9], np.eye(4))
    assert not x[4].any() and not x[9].any()


def test_one_hot_n_value_and_iupac_like_spliceai():
    x = one_hot("NR", n_value=0.25)
    np.testing.assert_array_equal(x[0], [0.25] * 4)
    # SpliceAI maps other letters to row ord(c) % 5: R (82) -> 2 -> C
    np.testing.assert_array_equal(x[1], [0, 1, 0, 0])


def test_reverse_complement_is_rc_of_sequence():
    seq = "AACGTTTGCAN"
    rc = seq[::-1].translate(str.maketrans("ACGTN", "TGCAN"))
    np.testing.assert_array_equal(reverse_complement(one_hot(seq)), one_hot(rc))


def test_layout_matches_spliceai_slice():
    lay = layout(pos=20_000, distance=50, context=10_000)
    # SpliceAI: seq = fasta[pos - wid//2 - 1 : pos + wid//2], wid = 10000 + 101
    assert (lay.start, lay.end, lay.wid, lay.cov) == (20_000 - 5050 - 1, 20_000 + 5050, 10101, 101)
    assert lay.end - lay.start == lay.wid
    assert lay.centre == 5050


def test_gene_padding_and_masking():
    wid = 21
    # transcript starts 3 bases after the window's centre-10 → 7 bases of padding on the left
    pad = gene_padding(wid, dist_tx_start=-3, dist_tx_end=100)
    assert pad == (7, 0)
    seq = "ACGTACGTACGTACGTACGTA"
    masked = mask_outside(seq, pad)
    assert masked == "N" * 7 + seq[7:]
    assert mask_outside(seq, (0, 2)) == seq[:-2] + "NN"


def test_splice_alt_insertion_and_deletion():
    w = "AAAACGGGG"
    assert splice_alt(w, 4, 1, "CTT") == "AAAACTTGGGG"
    assert splice_alt(w, 3, 2, "A") == "AAAAGGGG"


def test_stack_padded_right_pads_with_n():
    a, b = one_hot("ACG"), one_hot("A")
    s = stack_padded([a, b], n_value=0.0)
    assert s.shape == (2, 3, 4)
    np.testing.assert_array_equal(s[1, 0], [1, 0, 0, 0])
    assert not s[1, 1:].any()


@pytest.mark.parametrize("bad", [(-1, 0), (0, -1)])
def test_gene_padding_never_negative(bad):
    assert min(gene_padding(101, 50 + bad[0] * 1000, -50 - bad[1] * 1000)) >= 0
