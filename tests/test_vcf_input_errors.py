"""Inputs `seqscore score` cannot read: one line naming the file (and line) and what to do, the
documented exit code (65 malformed, 66 missing/unreadable), no traceback, and no output file
left behind.  Also: the line number is right on stdin; a bgzip file cut at a block boundary is
caught (its last line is cut and the BGZF end-of-file block is missing)."""

import gzip
import struct
import subprocess
import sys

import pysam
import pytest

from hail_seqscore.cli import main
from hail_seqscore.vcf_reader import BGZF_EOF
from synthetic import VCF_HEADER, make_world, other_base

HEADER = VCF_HEADER


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = make_world(tmp_path_factory.mktemp("inerr"))
    s = w["seq"]
    w["body"] = "".join(f"chr1\t{p}\tr{p}\t{s[p - 1]}\t{other_base(s[p - 1])}\t.\t.\t.\n"
                        for p in range(800, 1600, 4))     # 200 records
    return w


def run(w, inp, tmp_path, capsys):
    out = tmp_path / "out.vcf"
    rc = main(["score", "-I", str(inp), "-O", str(out), "-R", w["ref"], "-A", w["genes"],
               "--model", w["model"], "-D", "20", "--chunk-size", "16"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err                # one line
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("out.")] == []   # no .part
    return rc, err


def test_truncated_gzip(world, tmp_path, capsys):
    data = gzip.compress((HEADER + world["body"]).encode())
    inp = tmp_path / "trunc.vcf.gz"
    inp.write_bytes(data[:len(data) * 2 // 3])
    rc, err = run(world, inp, tmp_path, capsys)
    assert rc == 65 and "trunc.vcf.gz" in err and "truncated" in err


def test_corrupt_gzip(world, tmp_path, capsys):
    data = bytearray(gzip.compress((HEADER + world["body"]).encode()))
    data[len(data) // 2] ^= 0xFF
    inp = tmp_path / "corrupt.vcf.gz"
    inp.write_bytes(bytes(data))
    rc, err = run(world, inp, tmp_path, capsys)
    assert rc == 65 and "corrupt.vcf.gz" in err and ("corrupt" in err or "truncated" in err)


def test_gz_name_that_is_not_gzip_nor_vcf(world, tmp_path, capsys):
    inp = tmp_path / "fake.vcf.gz"
    inp.write_bytes(bytes(range(256)) * 4)
    rc, err = run(world, inp, tmp_path, capsys)
    assert rc == 65 and "fake.vcf.gz" in err and "not gzip-compressed" in err


def test_gz_name_holding_plain_vcf_text_is_read(world, tmp_path, capsys):
    inp = tmp_path / "plain.vcf.gz"
    inp.write_text(HEADER + world["body"])
    out = tmp_path / "out.vcf"
    assert main(["score", "-I", str(inp), "-O", str(out), "-R", world["ref"], "-A",
                 world["genes"], "--model", world["model"], "-D", "20"]) == 0
    assert sum(1 for l in out.read_text().splitlines() if not l.startswith("#")) == 200


@pytest.mark.parametrize("content,needle", [
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "binary data"),
    (b"BZh91AY&SY" + bytes(50), "bzip2"),
    (b"\x28\xb5\x2f\xfd" + bytes(50), "zstd"),
    (b"", "empty"),
    (b"chr1\t800\t.\tA\tC\t.\t.\t.\n", "not a VCF"),
    (b"##fileformat=VCFv4.2\n##contig=<ID=chr1>\n", "no '#CHROM' header line"),
    (b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\n", "8 expected"),
])
def test_not_a_vcf(world, tmp_path, capsys, content, needle):
    inp = tmp_path / "odd.vcf"
    inp.write_bytes(content)
    rc, err = run(world, inp, tmp_path, capsys)
    assert rc == 65 and "odd.vcf" in err and needle in err


def test_directory_and_missing_file(world, tmp_path, capsys):
    d = tmp_path / "adir.vcf"
    d.mkdir()
    rc, err = run(world, d, tmp_path, capsys)
    assert rc == 66 and "adir.vcf" in err and "directory" in err
    rc, err = run(world, tmp_path / "nope.vcf", tmp_path, capsys)
    assert rc == 66 and "nope.vcf" in err and "does not exist" in err


@pytest.mark.parametrize("record,needle", [
    ("chr1\tabc\t.\tA\tC\t.\t.\t.", "line 6: POS 'abc' is not an integer"),
    ("chr1\t1.5\t.\tA\tC\t.\t.\t.", "line 6: POS '1.5' is not an integer"),
    ("chr1\t800\t.\tA\tC", "line 6: 8 columns expected (CHROM POS ID REF ALT QUAL FILTER INFO), "
                           "found 5"),
    ("chr1 800 . A C . . .", "separated by tabs"),
])
def test_bad_record_names_the_problem_and_line(world, tmp_path, capsys, record, needle):
    inp = tmp_path / "bad.vcf"
    inp.write_text(HEADER + "chr1\t800\t.\tA\tC\t.\t.\t.\n\n" + record + "\n")  # a blank line
    rc, err = run(world, inp, tmp_path, capsys)
    assert rc == 65 and "bad.vcf" in err and needle in err


def test_line_number_on_stdin(world, tmp_path):
    lines = (HEADER + world["body"]).splitlines()
    lines[150] = lines[150].replace("\t", "\tx", 1)          # POS 'x…' on line 151
    cmd = [sys.executable, "-m", "hail_seqscore", "score", "-R", world["ref"], "-A",
           world["genes"], "--model", world["model"], "-D", "20", "--chunk-size", "16"]
    proc = subprocess.run(cmd, input="\n".join(lines) + "\n", capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 65
    assert "stdin: line 151: POS 'x" in proc.stderr and "Traceback" not in proc.stderr
    assert "stdout holds only the" in proc.stderr


def _bgzip(tmp_path, text):
    plain = tmp_path / "src.vcf"
    plain.write_text(text)
    gz = tmp_path / "src.vcf.gz"
    pysam.tabix_compress(str(plain), str(gz))
    plain.unlink()
    data = gz.read_bytes()
    gz.unlink()
    return data


def _blocks(data):
    """Offsets of the BGZF blocks of ``data``."""
    offsets, off = [], 0
    while off < len(data):
        offsets.append(off)
        off += struct.unpack("<H", data[off + 16:off + 18])[0] + 1
    return offsets


def test_bgzip_cut_at_a_block_boundary_is_truncated(world, tmp_path, capsys):
    pad = "\tPAD=" + "x" * 2000 + "\n"         # 2-kb lines: 200 records fill several blocks
    body = world["body"].replace("\t.\n", pad)
    data = _bgzip(tmp_path, HEADER + body)
    blocks = _blocks(data)
    assert len(blocks) > 3
    inp = tmp_path / "cut.vcf.gz"
    inp.write_bytes(data[:blocks[2]])            # whole blocks: gzip itself sees no error
    rc, err = run(world, inp, tmp_path, capsys)
    assert rc == 65 and "cut.vcf.gz" in err and "truncated" in err


def test_bgzip_without_eof_marker_is_read_with_a_warning(world, tmp_path):
    data = _bgzip(tmp_path, HEADER + world["body"])
    assert data.endswith(BGZF_EOF)
    inp = tmp_path / "noeof.vcf.gz"
    inp.write_bytes(data[:-len(BGZF_EOF)])
    out = tmp_path / "out.vcf"
    proc = subprocess.run([sys.executable, "-m", "hail_seqscore", "score", "-I", str(inp), "-O",
                           str(out), "-R", world["ref"], "-A", world["genes"], "--model",
                           world["model"], "-D", "20", "-q"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert sum(1 for l in out.read_text().splitlines() if not l.startswith("#")) == 200
    assert "noeof.vcf.gz has no BGZF end-of-file marker" in proc.stderr
