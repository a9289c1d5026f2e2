"""`seqscore score`, `precompute` and `annotation` given odd reference FASTA and gene-table
inputs: each fails with the documented exit code (64 bad setting, 65 malformed, 66 missing or
unreadable), one line on stderr naming the file, and no output file; inputs that can be read
(plain gzip tables, a FASTA in a read-only folder, gene names with commas) give every record."""

from __future__ import annotations

import bz2
import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hail_seqscore.cli import main
from synthetic import GENES, VCF_HEADER, make_world, other_base

HEADER = VCF_HEADER


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = make_world(tmp_path_factory.mktemp("inputs"))
    s = w["seq"]
    rows = [(800, "in_plus"), (1300, "in_both"), (60, "in_none")]
    vcf = w["dir"] / "in.vcf"
    vcf.write_text(HEADER + "".join(f"chr1\t{p}\t{i}\t{s[p - 1]}\t{other_base(s[p - 1])}\t.\t.\t.\n"
                                    for p, i in rows))
    w["vcf"] = str(vcf)
    w["ids"] = [i for _, i in rows]
    return w


def _records(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


def _fasta_cases(w) -> dict:
    """name → (how to make it, exit code, words of the message); ``w`` is read when making."""
    def ref():
        return Path(w["ref"]).read_bytes()

    return {
        "plain_gzip.fa.gz": (lambda p: p.write_bytes(gzip.compress(ref())), 65,
                             "compressed with plain gzip"),
        "not_gzip.fa.gz": (lambda p: p.write_bytes(ref()), 65, "is not compressed: rename it"),
        "bzip2.fa": (lambda p: p.write_bytes(bz2.compress(ref())), 65, "bzip2-compressed"),
        "a_vcf.fa": (lambda p: p.write_bytes(Path(w["vcf"]).read_bytes()), 65,
                     "it looks like a VCF"),
        "empty.fa": (lambda p: p.write_bytes(b""), 65, "is empty"),
        "wrong_index.fa": (lambda p: (p.write_bytes(ref()), Path(f"{p}.fai").write_text(
            "chr9\t3000\t6\t60\t61\n")), 65, "does not match"),
        "directory.fa": (lambda p: p.mkdir(), 66, "is a directory"),
        "missing.fa": (lambda p: None, 66, "does not exist"),
    }


LATIN1_ROW = b"CAF\xc9\tchr1\t+\t1\t5\t1,\t5,\n"


def _table_cases() -> dict:
    return {
        "latin1.txt": (lambda p: p.write_bytes(GENES.encode() + LATIN1_ROW), 65,
                       "line 4 is not UTF-8"),
        "truncated.txt.gz": (lambda p: p.write_bytes(gzip.compress(
            (GENES + GENES.split("\n", 1)[1] * 200).encode())[:200]),
                             65, "is truncated"),
        "bad_row.txt": (lambda p: p.write_text(GENES + "X\tchr1\t*\t1\t5\t1,\t5,\n"), 65,
                        "line 4: STRAND '*'"),
        "dangling.gff3": (lambda p: p.write_text(
            "##gff-version 3\nchr1\tt\texon\t501\t700\t.\t+\t.\tParent=tx9\n"), 65,
            "line 2: exon Parent 'tx9' is not defined"),
        "directory.txt": (lambda p: p.mkdir(), 66, "is a directory"),
        "grch39": (lambda p: None, 64, "'grch39' is neither grch37/grch38 nor an existing file"),
    }


def _fail(capsys, argv, code, path, words, outputs):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"seqscore {argv[0]}: error: "), err
    assert str(path) in lines[0] and words in lines[0], err
    for out in outputs:
        assert not out.exists(), out
    assert not [p for p in outputs[0].parent.iterdir() if p.name.startswith(".seqscore")]


@pytest.mark.parametrize("name", list(_fasta_cases(None)))
def test_score_with_an_odd_reference(world, tmp_path, capsys, name):
    make, code, words = _fasta_cases(world)[name]
    ref = tmp_path / name
    make(ref)
    out = tmp_path / "out.vcf"
    _fail(capsys, ["score", "-I", world["vcf"], "-O", str(out), "-R", str(ref), "-A",
                   world["genes"], "--model", world["model"]], code, ref, words, [out])


@pytest.mark.parametrize("name", list(_table_cases()))
def test_score_with_an_odd_gene_table(world, tmp_path, capsys, name):
    make, code, words = _table_cases()[name]
    table = tmp_path / name if name != "grch39" else Path(name)
    make(table)
    out = tmp_path / "out.vcf"
    _fail(capsys, ["score", "-I", world["vcf"], "-O", str(out), "-R", world["ref"], "-A",
                   str(table), "--model", world["model"]], code, table, words, [out])


@pytest.mark.parametrize("kind, name", [("fasta", "plain_gzip.fa.gz"), ("fasta", "directory.fa"),
                                        ("fasta", "a_vcf.fa"), ("table", "latin1.txt"),
                                        ("table", "grch39"), ("table", "directory.txt")])
def test_precompute_with_odd_inputs(world, tmp_path, capsys, kind, name):
    cases = _fasta_cases(world) if kind == "fasta" else _table_cases()
    make, code, words = cases[name]
    path = tmp_path / name if name != "grch39" else Path(name)
    make(path)
    ref, table = (path, world["genes"]) if kind == "fasta" else (world["ref"], path)
    out = tmp_path / "snvs.vcf.gz"
    _fail(capsys, ["precompute", "-R", str(ref), "-A", str(table), "--model", world["model"],
                   "--region", "chr1:501-510", "-O", str(out)], code, path, words,
          [out, Path(f"{out}.tbi")])


@pytest.mark.parametrize("name, code, words", [
    ("missing.gtf", 66, "No such file"), ("directory.gtf", 66, "Is a directory"),
    ("dangling.gff3", 65, "line 2: exon Parent 'tx9' is not defined"),
])
def test_annotation_command_with_odd_inputs(tmp_path, capsys, name, code, words):
    path = tmp_path / name
    if name == "directory.gtf":
        path.mkdir()
    elif name == "dangling.gff3":
        _table_cases()[name][0](path)
    out = tmp_path / "genes.txt"
    _fail(capsys, ["annotation", "-i", str(path), "-o", str(out)], code, path, words, [out])


# ---- inputs that can be read ------------------------------------------------------------------
def test_plain_gzip_table_and_read_only_reference_folder_score_every_record(world, tmp_path,
                                                                             monkeypatch):
    """A gzip (not bgzip) gene table is streamed; a FASTA whose folder cannot be written, root
    included (/proc/self/fd, see tests/test_genome.py), is indexed in $SEQSCORE_HOME."""
    home = tmp_path / "home"
    monkeypatch.setenv("SEQSCORE_HOME", str(home))
    model = Path(world["model"])
    table = tmp_path / "genes.txt.gz"
    table.write_bytes(gzip.compress(GENES.encode()))
    ref = tmp_path / "ref.fa"
    ref.write_bytes(Path(world["ref"]).read_bytes())
    out = tmp_path / "out.vcf"
    with open(ref, "rb") as fh:
        rc = main(["score", "-I", world["vcf"], "-O", str(out), "-R",
                   f"/proc/self/fd/{fh.fileno()}", "-A", str(table), "--model", str(model),
                   "-D", "20", "-q"])
    assert rc == 0
    recs = _records(out.read_text())
    assert [r[2] for r in recs] == world["ids"]
    assert "SpliceAI=" in recs[0][7] and recs[2][7] == "."        # in_none lies in no gene
    assert list((home / "faidx").glob("*/*.fai"))
    assert not Path(f"{ref}.fai").exists()


def test_gene_names_with_commas_keep_the_spliceai_field_parseable(world, tmp_path):
    table = tmp_path / "genes.txt"
    table.write_text(GENES.replace("PLUS\t", "PLUS,1 a|b\t").replace("MINUS\t", "MINUS;x=y\t"))
    out = tmp_path / "out.vcf"
    assert main(["score", "-I", world["vcf"], "-O", str(out), "-R", world["ref"], "-A",
                 str(table), "--model", world["model"], "-D", "20", "-q"]) == 0
    recs = _records(out.read_text())
    assert [r[2] for r in recs] == world["ids"]
    info = recs[1][7]                                             # in_both: two genes
    (field,) = [f for f in info.split(";") if f.startswith("SpliceAI=")]
    entries = field[len("SpliceAI="):].split(",")
    assert [e.split("|")[1] for e in entries] == ["PLUS%2C1%20a%7Cb", "MINUS%3Bx%3Dy"]
    assert all(len(e.split("|")) == 10 for e in entries)


def test_warnings_about_the_gene_table_show_on_stderr(world, tmp_path):
    """An empty table and genes whose start is after their end: the run goes on, every record
    comes out, and stderr says the file or build is probably wrong."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for body, words in (("", "has no genes: no variant can be scored"),
                        ("BACK\tchr1\t+\t2500\t500\t500,\t2500,\n",
                         "1 gene(s) with TX_START after TX_END")):
        table = tmp_path / "genes.txt"
        table.write_text(GENES.splitlines(keepends=True)[0] + body)
        proc = subprocess.run(
            [sys.executable, "-m", "hail_seqscore", "score", "-I", world["vcf"], "-R",
             world["ref"], "-A", str(table), "--model", world["model"], "-D", "20"],
            capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 0, proc.stderr
        assert f"seqscore: WARNING: gene table {table}" in proc.stderr and words in proc.stderr
        assert ": is this the right file" in proc.stderr and "Traceback" not in proc.stderr
        recs = _records(proc.stdout)
        assert [r[2] for r in recs] == world["ids"] and all(r[7] == "." for r in recs)
