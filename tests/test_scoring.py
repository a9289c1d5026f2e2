import numpy as np

from hail_seqscore.scoring import align_alt, delta_scores

ACC, DON = 1, 2


def _flat(cov, value=0.1):
    y = np.full((cov, 3), value, dtype=np.float32)
    return y


def test_snv_gain_and_loss_positions():
    cov = 11
    ref, alt = _flat(cov), _flat(cov)
    alt[7, ACC] = 0.9          # acceptor gain 2 bp downstream
    ref[3, DON] = 0.8          # donor loss 2 bp upstream
    d = delta_scores(ref, alt, acceptor=ACC, donor=DON, dist_exon_boundary=99, mask=False)
    assert np.isclose(d.ds[0], 0.8) and d.dp[0] == 2
    assert np.isclose(d.ds[3], 0.7) and d.dp[3] == -2
    assert d.ds[1] == 0.0 and d.ds[2] == 0.0


def test_mask_zeroes_annotated_gain_and_unannotated_loss():
    cov = 11
    ref, alt = _flat(cov), _flat(cov)
    alt[7, ACC] = 0.9          # gain at the annotated boundary (+2) → masked
    ref[4, DON] = 0.8          # loss at -1, not the annotated boundary → masked
    d = delta_scores(ref, alt, acceptor=ACC, donor=DON, dist_exon_boundary=2, mask=True)
    assert d.ds[0] == 0.0 and d.dp[0] == 2
    assert d.ds[3] == 0.0 and d.dp[3] == -1
    d2 = delta_scores(ref, alt, acceptor=ACC, donor=DON, dist_exon_boundary=-1, mask=True)
    assert np.isclose(d2.ds[0], 0.8) and np.isclose(d2.ds[3], 0.7)


def test_argmax_ties_take_the_first_position():
    cov = 5
    ref, alt = _flat(cov), _flat(cov)
    alt[1, ACC] = alt[3, ACC] = 0.5
    d = delta_scores(ref, alt, acceptor=ACC, donor=DON, dist_exon_boundary=0, mask=False)
    assert d.dp[0] == -1


def test_align_deletion_inserts_zeros_after_alt_base():
    cov = 7                     # centre 3
    y_alt = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)  # REF 3 bp, ALT 1 bp
    out = align_alt(y_alt, cov, ref_len=3, alt_len=1)
    assert out.shape == (7, 3) and out.dtype == np.float64
    np.testing.assert_array_equal(out[:4], y_alt[:4])
    assert not out[4:6].any()
    np.testing.assert_array_equal(out[6], y_alt[4])


def test_align_insertion_takes_max_over_inserted_bases():
    cov = 5                     # centre 2
    y_alt = np.zeros((7, 3), dtype=np.float32)  # ALT 3 bp, REF 1 bp
    y_alt[3, 1] = 0.7
    y_alt[4, 2] = 0.4
    out = align_alt(y_alt, cov, ref_len=1, alt_len=3)
    assert out.shape == (5, 3)
    np.testing.assert_array_equal(out[2], np.array([0, 0.7, 0.4], dtype=np.float32))
    np.testing.assert_array_equal(out[3:], y_alt[5:])
