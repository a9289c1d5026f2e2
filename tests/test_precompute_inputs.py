"""`seqscore precompute` region inputs: a gzip/bgzip BED is read by streaming; a truncated,
binary or missing BED or a bad line is one line naming the file (65/66) and leaves no output."""

import gzip

import pysam
import pytest

from hail_seqscore.cli import main
from synthetic import make_world

BED = "track name=x\nchr1\t1300\t1310\n# a comment\nchr1\t1305\t1320\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("preinputs"))


def run(w, bed, out):
    return main(["precompute", "-R", w["ref"], "-A", w["genes"], "--model", w["model"],
                 "-D", "20", "--bed", str(bed), "-O", str(out)])


@pytest.mark.parametrize("how", ["gzip", "bgzip"])
def test_compressed_bed_is_read(world, tmp_path, how):
    bed = tmp_path / "r.bed.gz"
    if how == "gzip":
        bed.write_bytes(gzip.compress(BED.encode()))
    else:
        (tmp_path / "r.bed").write_text(BED)
        pysam.tabix_compress(str(tmp_path / "r.bed"), str(bed))
    out = tmp_path / "o.vcf.gz"
    assert run(world, bed, out) == 0
    recs = list(pysam.TabixFile(str(out)).fetch("chr1", 0, 3000))
    assert len(recs) == 3 * 20                  # bases 1301..1320, once each


@pytest.mark.parametrize("content,code,needle", [
    (gzip.compress(BED.encode())[:-12], 65, "truncated"),
    (bytes(range(128, 256)), 65, "not a text BED"),
    ("chr1\t10\n", 65, "line 1: a BED line needs 3 tab-separated columns"),
    ("chr1\tten\t20\n", 65, "line 1: start/end are not integers ('ten', '20')"),
    (None, 66, "does not exist"),
    ("dir", 66, "is a directory"),
])
def test_bad_bed(world, tmp_path, capsys, content, code, needle):
    bed = tmp_path / "r.bed"
    if content == "dir":
        bed.mkdir()
    elif isinstance(content, str):
        bed.write_text(content)
    elif content is not None:
        bed.write_bytes(content)
    out = tmp_path / "o.vcf.gz"
    assert run(world, bed, out) == code
    err = capsys.readouterr().err
    assert needle in err and str(bed) in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if content is None else ["r.bed"])


def test_output_name_and_input_checked_before_anything(world, tmp_path, capsys):
    assert main(["precompute", "-R", world["ref"], "-A", world["genes"], "--model",
                 str(tmp_path / "no-such-model.onnx"), "--region", "chr1:1-10",
                 "-O", str(tmp_path / "o.vcf")]) == 64
    assert "must end in .gz" in capsys.readouterr().err
