"""`seqscore precompute`: regions, the variants of a base (Illumina's SNV and indel sets), and
files whose records equal the engine's scores, one per ALT and gene."""

import pysam
import pytest

from hail_seqscore.cli import main
from hail_seqscore.engine import Engine, EngineConfig
from hail_seqscore.errors import InputFormatError
from hail_seqscore.precompute import Region, parse_region, position_alleles, read_bed
from hail_seqscore.records import Variant
from synthetic import make_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("pre"))


def test_region_parsing():
    assert parse_region("chr1:1,001-2,000") == Region("chr1", 1000, 2000)
    for bad in ("chr1:0-10", "chr1:20-10", "chr1", "chr1:a-b"):
        with pytest.raises(InputFormatError):
            parse_region(bad)


def test_bed_errors_name_the_line(tmp_path):
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t10\t20\nchr1\tx\t30\n")
    with pytest.raises(InputFormatError, match="line 2"):
        read_bed(bed)


def test_variants_of_a_base_are_illuminas_sets():
    seq = "ACGTGNA"
    assert position_alleles(seq, 0) == [("A", "C"), ("A", "G"), ("A", "T")]
    assert position_alleles(seq, 0, snvs=False, indels=True) == [
        ("A", "AA"), ("A", "AC"), ("A", "AG"), ("A", "AT"),          # 4 one-base insertions
        ("AC", "A"), ("ACG", "A"), ("ACGT", "A"), ("ACGTG", "A")]    # deletions of 1-4 bases
    both = position_alleles(seq, 0, snvs=True, indels=True)
    assert len(both) == 3 + 4 + 4
    # deletions stop at a base that is not A/C/G/T and at the end of the sequence
    assert [r for r, a in position_alleles(seq, 3, False, True) if len(r) > 1] == ["TG"]
    assert [r for r, a in position_alleles(seq, 6, False, True) if len(r) > 1] == []
    assert position_alleles(seq, 5, True, True) == []                 # N: nothing at all


def test_precompute_writes_indexed_vcf_matching_the_engine(world, tmp_path, capsys):
    out = tmp_path / "snvs.vcf.gz"
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t450\t560\nchr1\t1190\t1260\n")   # straddles PLUS's start; PLUS+MINUS
    rc = main(["precompute", "-R", world["ref"], "-A", world["genes"], "--model", world["model"],
               "--bed", str(bed), "-D", "20", "-O", str(out)])
    assert rc == 0
    tbx = pysam.TabixFile(str(out))
    recs = [r.split("\t") for r in tbx.fetch("chr1", 1190, 1260)]
    # one record per ALT and gene: 1191..1260 in PLUS (70 bases), 1201..1260 also in MINUS
    assert len(recs) == 3 * 70 + 3 * 60
    assert all("," not in r[7] and r[7].count("|") == 9 for r in recs)
    first = [r.split("\t") for r in tbx.fetch("chr1", 450, 560)]
    assert len(first) == 3 * 60                     # bases 501..560 are in PLUS (TX_START 500)
    assert all(r[1] != "500" for r in first)
    seq = world["seq"]
    eng = Engine(EngineConfig(model=world["model"], reference=world["ref"],
                              annotation=world["genes"], distance=20, strategy="window"))
    keys = list(dict.fromkeys((int(r[1]), r[3], r[4]) for r in recs))
    assert len(keys) == 3 * 70 and all(ref == seq[pos - 1] for pos, ref, _ in keys)
    expected = {}
    for res in eng.score([Variant("chr1", *k) for k in keys]):
        v = res.variant
        for s in res.scores:
            expected[(v.pos, v.ref, v.alt, s.gene)] = s
    assert len(expected) == len(recs)
    same = 0
    for r in recs:
        allele, gene, *vals = r[7].split("=", 1)[1].split("|")
        assert allele == r[4]
        s = expected.pop((int(r[1]), r[3], r[4], gene))
        ds = [float(x) for x in vals[:4]]
        assert max(abs(a - b) for a, b in zip(ds, [s.ds_ag, s.ds_al, s.ds_dg, s.ds_dl])) <= 0.0051
        same += vals == [f"{s.ds_ag:.2f}", f"{s.ds_al:.2f}", f"{s.ds_dg:.2f}", f"{s.ds_dl:.2f}",
                         str(s.dp_ag), str(s.dp_al), str(s.dp_dg), str(s.dp_dl)]
    assert expected == {}
    assert same >= 0.99 * len(recs)
    err = capsys.readouterr().err
    assert "SNVs scored" in err and f"written as {3 * 60 + len(recs):,} records" in err
