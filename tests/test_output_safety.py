"""Outputs never destroy an input and never look complete unless they are: `score` and
`precompute` refuse an output that is an input (64), write through a temporary renamed on
success, leave nothing on failure or interrupt (a SIGKILL leaves only the .part name), report a
full disk as one line with exit 74, and never leave a stale .tbi."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pysam
import pytest

from daemon_harness import wait_until
from hail_seqscore.cli import main
from hail_seqscore.errors import OutputError
from hail_seqscore.output import AtomicFile
from synthetic import VCF_HEADER, make_world, other_base

ROOT = Path(__file__).resolve().parents[1]
HEADER = VCF_HEADER


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = make_world(tmp_path_factory.mktemp("outsafe"))
    s = w["seq"]
    w["lines"] = [f"chr1\t{p}\tr{p}\t{s[p - 1]}\t{other_base(s[p - 1])}\t.\t.\t.\n"
                  for p in range(800, 1000, 10)]             # 20 records
    vcf = w["dir"] / "in.vcf"
    vcf.write_text(HEADER + "".join(w["lines"]))
    w["vcf"] = vcf
    return w


def score_args(w, inp, out, *extra):
    return ["score", "-I", str(inp), "-O", str(out), "-R", w["ref"], "-A", w["genes"],
            "--model", w["model"], "-D", "20", *extra]


def n_records(path):
    return sum(1 for l in Path(path).read_text().splitlines() if not l.startswith("#"))


def leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.endswith(".part"))


def cli(*argv, **kw):
    return subprocess.run([sys.executable, "-m", "hail_seqscore", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, **kw)


# ---- the output is an input -----------------------------------------------------------------
@pytest.mark.parametrize("link", ["same", "relative", "symlink", "hardlink"])
def test_output_that_is_the_input_is_refused(world, tmp_path, capsys, link):
    inp = tmp_path / "in.vcf"
    inp.write_bytes(world["vcf"].read_bytes())
    out = {"same": inp, "relative": tmp_path / "." / "x" / ".." / "in.vcf",
           "symlink": tmp_path / "link.vcf", "hardlink": tmp_path / "hard.vcf"}[link]
    (tmp_path / "x").mkdir()
    if link == "symlink":
        out.symlink_to(inp)
    elif link == "hardlink":
        os.link(inp, out)
    rc = main(score_args(world, inp, out))
    err = capsys.readouterr().err
    assert rc == 64 and "would destroy the input" in err and "Traceback" not in err
    assert inp.read_bytes() == world["vcf"].read_bytes() and n_records(inp) == 20
    assert leftovers(tmp_path) == []


def test_output_that_is_the_reference_or_gene_table_is_refused(world, tmp_path, capsys):
    for target in (world["ref"], world["genes"]):
        before = Path(target).read_bytes()
        assert main(score_args(world, world["vcf"], target)) == 64
        assert "would destroy the input" in capsys.readouterr().err
        assert Path(target).read_bytes() == before


def test_stdin_and_stdout_that_are_the_output_or_input(world, tmp_path):
    inp = tmp_path / "in.vcf"
    inp.write_bytes(world["vcf"].read_bytes())
    with open(inp, "rb") as fh:                     # seqscore score -O in.vcf < in.vcf
        proc = cli(*score_args(world, "-", inp), stdin=fh)
    assert proc.returncode == 64 and "input VCF stdin" in proc.stderr
    with open(inp, "ab") as fh:                     # seqscore score -I in.vcf >> in.vcf
        proc = subprocess.run([sys.executable, "-m", "hail_seqscore",
                               *score_args(world, inp, "-")], cwd=ROOT, stdout=fh,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 64 and "output stdout" in proc.stderr
    assert inp.read_bytes() == world["vcf"].read_bytes()


# ---- cannot write -----------------------------------------------------------------------------
def test_disk_full_file_is_one_line_exit_74(world, capsys):
    rc = main(score_args(world, world["vcf"], "/dev/full"))
    err = capsys.readouterr().err
    assert rc == 74
    assert err.strip() == ("seqscore score: error: cannot write the output VCF /dev/full: "
                           "No space left on device")


def test_disk_full_stdout_is_one_line_exit_74(world):
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([sys.executable, "-m", "hail_seqscore",
                               *score_args(world, world["vcf"], "-")], cwd=ROOT, stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 74
    assert proc.stderr.strip().splitlines() == [
        "seqscore score: error: cannot write the output VCF to stdout: No space left on device"]


@pytest.mark.parametrize("where", ["missing_dir", "is_dir"])
def test_unwritable_output_is_74(world, tmp_path, capsys, where):
    out = tmp_path / "no" / "such" / "out.vcf" if where == "missing_dir" else tmp_path
    rc = main(score_args(world, world["vcf"], out))
    err = capsys.readouterr().err
    assert rc == 74 and str(out) in err and "Traceback" not in err


def test_failure_mid_run_leaves_the_old_output_and_no_part(world, tmp_path, capsys):
    bad = tmp_path / "bad.vcf"
    bad.write_text(HEADER + "".join(world["lines"]) + "chr1\tBAD\t.\tA\tC\t.\t.\t.\n")
    out = tmp_path / "out.vcf"
    out.write_text("an earlier, complete output\n")
    rc = main(score_args(world, bad, out, "--chunk-size", "2"))  # 10 chunks written first
    err = capsys.readouterr().err
    assert rc == 65 and "line 24" in err and f"{out} not written" in err
    assert out.read_text() == "an earlier, complete output\n"
    assert leftovers(tmp_path) == []


def test_success_replaces_the_output_and_drops_its_stale_index(world, tmp_path):
    out = tmp_path / "out.vcf.gz"
    out.write_bytes(b"old")
    (tmp_path / "out.vcf.gz.tbi").write_bytes(b"an index of the old file")
    (tmp_path / "out.vcf.gz.csi").write_bytes(b"another one")
    link = tmp_path / "link.vcf.gz"
    link.symlink_to(out)
    assert main(score_args(world, world["vcf"], link)) == 0
    assert link.is_symlink()                       # written through the link, link kept
    with pysam.BGZFile(str(out), "rb") as fh:
        assert sum(1 for l in fh.read().decode().splitlines() if not l.startswith("#")) == 20
    assert not (tmp_path / "out.vcf.gz.tbi").exists() and not (tmp_path / "out.vcf.gz.csi").exists()
    assert leftovers(tmp_path) == []


# ---- interrupted and killed runs -------------------------------------------------------------
def _start_streaming(world, out):
    """A `score` reading stdin, blocked after its first records, with its .part created."""
    proc = subprocess.Popen([sys.executable, "-m", "hail_seqscore",
                             *score_args(world, "-", out, "--chunk-size", "1")], cwd=ROOT,
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write((HEADER + "".join(world["lines"][:5])).encode())
    proc.stdin.flush()
    assert wait_until(lambda: leftovers(out.parent) or proc.poll() is not None, 120)
    assert proc.poll() is None, proc.stderr.read().decode()
    return proc


def test_sigterm_removes_the_partial_output(world, tmp_path):
    out = tmp_path / "out.vcf"
    proc = _start_streaming(world, out)
    proc.send_signal(signal.SIGTERM)
    proc.stdin.close()
    rc = proc.wait(60)
    err = proc.stderr.read().decode()
    assert rc == 130, err
    assert "not written (partial output removed)" in err and "Traceback" not in err
    assert not out.exists() and leftovers(tmp_path) == []


def test_sigkill_leaves_only_the_part_name(world, tmp_path):
    out = tmp_path / "out.vcf"
    proc = _start_streaming(world, out)
    proc.kill()
    proc.wait(60)
    proc.stdin.close()
    proc.stderr.close()
    assert not out.exists()
    parts = leftovers(tmp_path)
    assert len(parts) == 1 and parts[0].startswith("out.vcf.") and parts[0].endswith(".part")


# ---- the shared writer --------------------------------------------------------------------------
def test_atomic_file_failure_keeps_the_old_pair(tmp_path):
    out = tmp_path / "x.vcf.gz"
    out.write_bytes(b"old data")
    (tmp_path / "x.vcf.gz.tbi").write_bytes(b"old index")

    def index(path):
        Path(path + ".tbi").write_bytes(b"new index")
        raise OutputError("indexing failed")

    with pytest.raises(OutputError):
        with AtomicFile(str(out), bgzip=True, companions=(".tbi",)) as f:
            f.write(b"new data\n")
            f.commit(index=index)
    assert out.read_bytes() == b"old data"
    assert (tmp_path / "x.vcf.gz.tbi").read_bytes() == b"old index"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.vcf.gz", "x.vcf.gz.tbi"]


def test_atomic_file_success_moves_the_pair_and_keeps_permissions(tmp_path):
    out = tmp_path / "x.txt"
    with AtomicFile(str(out), companions=(".tbi",)) as f:
        f.write(b"new\n")
        f.commit(index=lambda p: Path(p + ".tbi").write_bytes(b"idx"))
    assert out.read_bytes() == b"new\n" and (tmp_path / "x.txt.tbi").read_bytes() == b"idx"
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt", "x.txt.tbi"]


# ---- precompute --------------------------------------------------------------------------------
def pre_args(w, out, *extra):
    return ["precompute", "-R", w["ref"], "-A", w["genes"], "--model", w["model"], "-D", "20",
            "-O", str(out), *extra]


def test_precompute_refuses_an_input_as_output(world, tmp_path, capsys):
    bed = tmp_path / "regions.bed.gz"             # a plain-text BED whose name ends in .gz
    bed.write_text("chr1\t800\t820\n")
    assert main(pre_args(world, bed, "--bed", str(bed))) == 64
    assert "would destroy the input" in capsys.readouterr().err
    assert bed.read_text() == "chr1\t800\t820\n"
    assert main(pre_args(world, tmp_path / "no" / "dir" / "o.vcf.gz",
                         "--region", "chr1:800-820")) == 74


def test_precompute_rerun_replaces_file_and_index_together(world, tmp_path, capsys):
    out = tmp_path / "snvs.vcf.gz"
    assert main(pre_args(world, out, "--region", "chr1:800-819")) == 0
    # overlapping and repeated regions: every SNV once, sorted, so tabix can index it
    assert main(pre_args(world, out, "--region", "chr1:1300-1319", "--region",
                         "chr1:1310-1329", "--region", "chr1:1300-1309")) == 0
    tbx = pysam.TabixFile(str(out))
    recs = [r.split("\t") for r in tbx.fetch("chr1", 0, 3000)]
    # records out = SNVs of 1300..1329, one record per ALT and gene (PLUS and MINUS)
    assert len(recs) == 3 * 30 * 2
    assert len({(r[1], r[4], r[7].split("|")[1]) for r in recs}) == len(recs)
    assert list(tbx.fetch("chr1", 799, 819)) == []           # the old file's SNVs are gone
    assert leftovers(tmp_path) == [] and "(+ .tbi)" in capsys.readouterr().err
