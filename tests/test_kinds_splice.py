"""kinds.splice: each splice scorer's VCF output (INFO key, header line, entry strings)."""

import numpy as np
import pytest

from hail_seqscore.errors import ModelFormatError
from hail_seqscore.kinds import info_format
from hail_seqscore.kinds.splice import OPENSPLICEAI, SPLICEAI, format_ds
from hail_seqscore.records import GeneScore, ScoreResult, Variant


def _result(*scores):
    return ScoreResult(Variant("21", 100, "A", "G"), tuple(scores))


def test_spliceai_header_is_the_original_tools_line():
    assert SPLICEAI.header == (
        '##INFO=<ID=SpliceAI,Number=.,Type=String,Description="SpliceAIv1.3.1 variant '
        'annotation. These include delta scores (DS) and delta positions (DP) for acceptor gain '
        '(AG), acceptor loss (AL), donor gain (DG), and donor loss (DL). Format: '
        'ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL">')
    assert OPENSPLICEAI.header.startswith(
        '##INFO=<ID=OpenSpliceAI,Number=.,Type=String,Description="OpenSpliceAI variant '
        'annotation. These include')


def test_entries_one_per_gene_two_decimals_and_negative_zero():
    r = _result(GeneScore("G1", "+", 0.125, -0.0004, 0.5, 0.0, -3, 4, 0, 50),
                GeneScore("G2", "-", *([None] * 8)))
    assert SPLICEAI.entries("G", r) == ["G|G1|0.12|-0.00|0.50|0.00|-3|4|0|50",
                                        "G|G2|.|.|.|.|.|.|.|."]
    assert OPENSPLICEAI.entries("G", r) == SPLICEAI.entries("G", r)


def test_formats_by_scorer():
    assert info_format("spliceai") is SPLICEAI
    assert info_format("openspliceai") is OPENSPLICEAI
    with pytest.raises(ModelFormatError, match="no-such-scorer"):
        info_format("no-such-scorer")


def test_format_matches_spliceai_rounding():
    assert format_ds(0.005) == f"{0.005:.2f}"
    assert format_ds(-0.0) == "-0.00"
    assert format_ds(np.float32(0.125)) == "0.12"
