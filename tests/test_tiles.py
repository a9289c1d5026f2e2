import pytest

from hail_seqscore.tiles import TileGroup, find_tile, masked_span, plan_tiles


def test_plan_merges_close_spans_and_keeps_far_ones_apart():
    needs = [(100, 201), (150, 251), (4000, 4101), (20_000, 20_101)]
    assert plan_tiles(needs, merge_gap=5000) == [(100, 4101), (20_000, 20_101)]
    assert plan_tiles(needs, merge_gap=-1) == sorted(set(needs))


def test_plan_respects_max_len_and_every_need_is_covered():
    needs = [(i, i + 101) for i in range(0, 100_000, 1000)]
    tiles = plan_tiles(needs, merge_gap=5000, max_len=10_000)
    assert all(b - a <= 10_000 for a, b in tiles)
    for a, b in needs:
        ta, tb = find_tile(tiles, a, b)
        assert ta <= a and b <= tb
    with pytest.raises(LookupError):
        find_tile(tiles, -500, -400)


def test_masked_span_puts_n_outside_transcript_and_contig():
    genome = "ACGTACGTAC"
    fetch = lambda a, b: genome[a:b]  # noqa: E731
    g = TileGroup("c", "+", 2, 7)
    assert masked_span(fetch, len(genome), g, -2, 12) == "NN" + "NN" + genome[2:7] + "NNN" + "NN"
    assert masked_span(fetch, len(genome), g, 8, 10) == "NN"
