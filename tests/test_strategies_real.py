"""Every engine strategy gives the plain per-variant scores on real data with the real model:
REF tiles and incremental SNV inference on the split trunk-stage/head graphs are exact, masked
and unmasked (issue #7)."""

import numpy as np
import pytest

from hail_seqscore.engine import Engine, EngineConfig
from hail_seqscore.records import Variant

pytestmark = pytest.mark.slow


def _variants(path, every):
    out = []
    for i, line in enumerate(l for l in open(path) if not l.startswith("#")):
        if i % every:
            continue
        f = line.split("\t")
        out += [Variant(f[0], int(f[1]), f[3], a) for a in f[4].split(",")]
    return out


def test_incremental_and_tiled_equal_window(shared_data, spliceai_onnx):
    d = shared_data / "grch38_chr21"
    # SNVs on plus and minus strands, a dense cluster (tiles with several SNVs), and indels
    vs = _variants(d / "dbsnp_snvs.vcf", 11) + _variants(d / "indels.vcf", 9)
    cfg = dict(model=str(spliceai_onnx), reference=str(d / "chr21.fa.gz"),
               annotation=str(d / "genes.grch38.spliceai.txt"))
    dense_pos = 25585733
    genome_seq = Engine(EngineConfig(**cfg)).genome.fetch("21", dense_pos - 1, dense_pos + 5)
    vs += [Variant("21", dense_pos + k, b, "A" if b != "A" else "G")
           for k, b in enumerate(genome_seq) if b in "ACGT"]
    engines = {s: Engine(EngineConfig(**cfg, strategy=s))
               for s in ("window", "tiled", "incremental")}
    assert engines["incremental"].split_model is not None
    # the score mask is the rule's arithmetic on the predictions, whichever strategy made them:
    # every strategy is checked against the window unmasked (the stronger check: nothing
    # zeroed), and the incremental pass masked shows the mask changed something while the
    # window's plain per-variant pass runs once (it costs the most)
    runs = [("window", False), ("tiled", False), ("incremental", False)]
    results = {(s, m): engines[s].score(vs, mask=m) for s, m in runs}
    masked = engines["incremental"].score(vs, mask=True)
    masked_differs = any(a != b for a, b in zip(masked, results[("incremental", False)]))
    strands, n = set(), 0
    for (s, m), res in results.items():
        for i, base in enumerate(results[("window", m)]):
            other = res[i]
            assert other.error == base.error
            for a, b in zip(other.scores, base.scores):
                if not b.scored:
                    assert not a.scored
                    continue
                np.testing.assert_allclose([a.ds_ag, a.ds_al, a.ds_dg, a.ds_dl],
                                           [b.ds_ag, b.ds_al, b.ds_dg, b.ds_dl], atol=1e-5)
                assert (a.dp_ag, a.dp_al, a.dp_dg, a.dp_dl) == (b.dp_ag, b.dp_al, b.dp_dg, b.dp_dl)
                strands.add(b.strand)
                n += 1
    assert strands == {"+", "-"} and n > 40 and masked_differs


def test_incremental_equals_window_for_cispliceai(shared_data, cispliceai_onnx):
    """The split graphs are written for every exported model: CI-SpliceAI's chain is exact too."""
    d = shared_data / "grch38_chr21"
    cfg = dict(model=str(cispliceai_onnx), reference=str(d / "chr21.fa.gz"),
               annotation=str(d / "genes.grch38.spliceai.txt"))
    window = Engine(EngineConfig(**cfg, strategy="window"))
    inc = Engine(EngineConfig(**cfg, strategy="incremental"))
    assert inc.split_model is not None
    pos = 25585740
    seq = window.genome.fetch("21", pos - 1, pos + 3)
    vs = [Variant("21", pos + k, b, alt) for k, b in enumerate(seq) if b in "ACGT"
          for alt in "ACGT" if alt != b] + _variants(d / "dbsnp_snvs.vcf", 29)
    for mask in (False, True):
        n = 0
        for a, b in zip(inc.score(vs, mask=mask), window.score(vs, mask=mask)):
            for s, t in zip(a.scores, b.scores):
                np.testing.assert_allclose([s.ds_ag, s.ds_al, s.ds_dg, s.ds_dl],
                                           [t.ds_ag, t.ds_al, t.ds_dg, t.ds_dl], atol=1e-5)
                assert (s.dp_ag, s.dp_al, s.dp_dg, s.dp_dl) == (t.dp_ag, t.dp_al, t.dp_dg, t.dp_dl)
                n += 1
        assert n > 12
