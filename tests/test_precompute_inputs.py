"""`seqscore precompute` inputs and outputs: a gzip/bgzip BED is read by streaming; a truncated,
binary or missing BED or a bad line is one line naming the file (65/66) and leaves no output; the
two outputs (-O, --indels) are checked before anything runs and a failing one leaves neither."""

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
    recs = [r.split("\t") for r in pysam.TabixFile(str(out)).fetch("chr1", 0, 3000)]
    # bases 1301..1320, once each: 3 ALTs, each a record for PLUS and one for MINUS
    assert len(recs) == 3 * 20 * 2
    assert len({(r[1], r[4], r[7].split("|")[1]) for r in recs}) == len(recs)


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


def base_args(w, *extra):
    return ["precompute", "-R", w["ref"], "-A", w["genes"], "--model", w["model"], "-D", "20",
            "--region", "chr1:1301-1310", *extra]


def test_an_output_is_required(world, capsys):
    with pytest.raises(SystemExit) as e:
        main(base_args(world))
    assert e.value.code == 2
    assert "give -O FILE for the SNVs and/or --indels FILE" in capsys.readouterr().err


@pytest.mark.parametrize("how, needle", [
    ("same", "-O and --indels name the same file"),
    ("not_gz", "must end in .gz"),
])
def test_bad_indel_output_is_refused_before_anything(world, tmp_path, capsys, how, needle):
    snv = tmp_path / "s.vcf.gz"
    indel = snv if how == "same" else tmp_path / "i.vcf"
    assert main(base_args(world, "-O", str(snv), "--indels", str(indel))) == 64
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_indel_output_that_is_an_input_is_refused(world, tmp_path, capsys):
    bed = tmp_path / "r.bed.gz"
    bed.write_text("chr1\t1300\t1310\n")
    assert main(["precompute", "-R", world["ref"], "-A", world["genes"], "--model",
                 world["model"], "--bed", str(bed), "-O", str(tmp_path / "s.vcf.gz"),
                 "--indels", str(bed)]) == 64
    assert "would destroy the input" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.bed.gz"]


def test_unwritable_indel_output_leaves_neither_file(world, tmp_path, capsys):
    snv = tmp_path / "s.vcf.gz"
    assert main(base_args(world, "-O", str(snv), "--indels",
                          str(tmp_path / "no" / "dir" / "i.vcf.gz"))) == 74
    err = capsys.readouterr().err
    assert "cannot write the indel output" in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_indels_alone(world, tmp_path, capsys):
    indel = tmp_path / "i.vcf.gz"
    assert main(base_args(world, "--indels", str(indel))) == 0
    recs = [r.split("\t") for r in pysam.TabixFile(str(indel)).fetch("chr1", 0, 3000)]
    assert len(recs) == 8 * 10 * 2                   # 4 insertions + 4 deletions, 2 genes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i.vcf.gz", "i.vcf.gz.tbi"]
    assert "80 indels scored" in capsys.readouterr().err
