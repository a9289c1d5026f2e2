import pysam
import pytest

from hail_seqscore.cli import main
from hail_seqscore.engine import Engine, EngineConfig
from hail_seqscore.errors import InputFormatError
from hail_seqscore.precompute import Region, parse_region, read_bed
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


def test_precompute_writes_indexed_vcf_matching_the_engine(world, tmp_path, capsys):
    out = tmp_path / "snvs.vcf.gz"
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t450\t560\nchr1\t1190\t1260\n")   # straddles PLUS's start; PLUS+MINUS
    rc = main(["precompute", "-R", world["ref"], "-A", world["genes"], "--model", world["model"],
               "--bed", str(bed), "-D", "20", "-O", str(out)])
    assert rc == 0
    tbx = pysam.TabixFile(str(out))
    recs = [r.split("\t") for r in tbx.fetch("chr1", 1190, 1260)]
    assert len(recs) == 3 * 70                      # every base in genes, 3 ALTs each
    first = [r.split("\t") for r in tbx.fetch("chr1", 450, 560)]
    assert len(first) == 3 * 60                     # bases 501..560 are in PLUS (TX_START 500)
    assert all(r[1] != "500" for r in first)
    seq = world["seq"]
    eng = Engine(EngineConfig(model=world["model"], reference=world["ref"],
                              annotation=world["genes"], distance=20, strategy="window"))
    vs = [Variant("chr1", int(r[1]), r[3], r[4]) for r in recs]
    assert all(v.ref == seq[v.pos - 1] for v in vs)
    same = 0
    for r, res in zip(recs, eng.score(vs)):
        theirs = r[7].split("=", 1)[1].split(",")
        assert [e.split("|")[1] for e in theirs] == [s.gene for s in res.scores]
        for entry, s in zip(theirs, res.scores):
            vals = [float(x) for x in entry.split("|")[2:6]]
            assert max(abs(a - b) for a, b in zip(vals, [s.ds_ag, s.ds_al, s.ds_dg, s.ds_dl])) <= 0.0051
            same += entry == f"{r[4]}|{s.gene}|{s.ds_ag:.2f}|{s.ds_al:.2f}|{s.ds_dg:.2f}|{s.ds_dl:.2f}|{s.dp_ag}|{s.dp_al}|{s.dp_dg}|{s.dp_dl}"
    assert same >= 0.99 * sum(len(r[7].split(",")) for r in recs)
    assert "SNVs scored" in capsys.readouterr().err
