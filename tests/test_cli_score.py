"""`seqscore score` end to end on the synthetic genome with the toy model: output shapes,
stdio, bgzip, and every kind of bad input (never a traceback, every record written)."""

import gzip
import subprocess
import sys

import pytest

from hail_seqscore.cli import main
from synthetic import VCF_HEADER, make_world, other_base

HEADER = VCF_HEADER


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = make_world(tmp_path_factory.mktemp("cli"))
    s = w["seq"]
    rows = [
        ("chr1", 800, "snv", s[799], other_base(s[799])),
        ("chr1", 1300, "two_alts", s[1299], f"{other_base(s[1299])},{s[1299]}GT"),
        ("chr1", 1350, "del", s[1349:1353], s[1349]),
        ("chr1", 1400, "mnv", s[1399:1401], other_base(s[1399]) + other_base(s[1400])),
        ("chr1", 900, "refmismatch", other_base(s[899]), s[899]),
        ("chr2", 100, "nocontig", "A", "C"),
        ("chr1", 60, "nogene", s[59], other_base(s[59])),
        ("chr1", 1000, "star", s[999], "*"),
    ]
    body = "".join(f"{c}\t{p}\t{i}\t{r}\t{a}\t.\t.\t.\n" for c, p, i, r, a in rows)
    vcf = w["dir"] / "in.vcf"
    vcf.write_text(HEADER.replace("##contig=<ID=chr1,length=3000>\n",
                                  "##contig=<ID=chr1,length=3000>\n##contig=<ID=chr2,length=500>\n")
                   + body)
    w["vcf"] = str(vcf)
    w["rows"] = rows
    return w


def _args(w, *extra):
    return ["score", "-I", w["vcf"], "-R", w["ref"], "-A", w["genes"], "--model", w["model"],
            "-D", "20", *extra]


def _records(text):
    return [l.split("\t") for l in text.splitlines() if l and not l.startswith("#")]


def test_every_record_comes_out_with_spliceai_strings(world, tmp_path, capsys):
    out = tmp_path / "out.vcf"
    assert main(_args(world, "-O", str(out))) == 0
    text = out.read_text()
    assert '##INFO=<ID=SpliceAI,Number=.,Type=String,Description="SpliceAIv1.3.1 variant' in text
    recs = _records(text)
    assert [r[2] for r in recs] == [r[2] for r in world["rows"]]
    info = {r[2]: r[7] for r in recs}
    alt = world["rows"][0][4]
    assert info["snv"].startswith(f"SpliceAI={alt}|PLUS|")
    fields = info["snv"].split("=")[1].split("|")
    assert len(fields) == 10 and all(len(x.split(".")[1]) == 2 for x in fields[2:6])
    # two ALTs x two genes, alleles first then genes in table order
    entries = info["two_alts"].split("=")[1].split(",")
    assert [e.split("|")[1] for e in entries] == ["PLUS", "MINUS", "PLUS", "MINUS"]
    assert "|.|.|.|.|.|.|.|." in info["mnv"]
    for skipped in ("refmismatch", "nocontig", "nogene", "star"):
        assert info[skipped] == ".", skipped
    err = capsys.readouterr().err
    assert "REF_MISMATCH: 1" in err and "CONTIG_NOT_FOUND: 1" in err


def test_flag_skipped_adds_reason(world, tmp_path):
    out = tmp_path / "flag.vcf"
    assert main(_args(world, "-O", str(out), "--flag-skipped")) == 0
    info = {r[2]: r[7] for r in _records(out.read_text())}
    assert "SeqScore_skip=" in info["refmismatch"] and "REF_MISMATCH" in info["refmismatch"]
    assert "CONTIG_NOT_FOUND" in info["nocontig"]


def test_contig_missing_from_header_and_reference_is_written_with_its_reason(world, tmp_path,
                                                                             capsys):
    s = world["seq"]
    vcf = tmp_path / "undeclared.vcf"
    vcf.write_text(HEADER + f"chr1\t800\tfirst\t{s[799]}\t{other_base(s[799])}\t.\t.\t.\n"
                   "chrZZ\t100\tundeclared\tA\tG\t.\t.\t.\n"
                   f"chr1\t810\tlast\t{s[809]}\t{other_base(s[809])}\t.\t.\t.\n")
    out = tmp_path / "undeclared.out.vcf"
    # chunk size 1: the undeclared contig arrives after the output header was written
    args = ["score", "-I", str(vcf), "-R", world["ref"], "-A", world["genes"], "--model",
            world["model"], "-D", "20", "-O", str(out), "--flag-skipped", "--chunk-size", "1"]
    assert main(args) == 0
    info = {r[2]: r[7] for r in _records(out.read_text())}
    assert list(info) == ["first", "undeclared", "last"]
    assert "CONTIG_NOT_FOUND" in info["undeclared"] and "SpliceAI=" in info["last"]
    assert "CONTIG_NOT_FOUND: 1" in capsys.readouterr().err


def test_stdout_is_pure_vcf_and_gz_is_bgzip(world, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "hail_seqscore", *_args(world, "-O", "-")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("##fileformat=VCF")
    assert all(l.startswith("#") or l.count("\t") >= 7 for l in proc.stdout.splitlines())
    gz = tmp_path / "out.vcf.gz"
    assert main(_args(world, "-O", str(gz))) == 0
    raw = gz.read_bytes()
    assert raw[:4] == b"\x1f\x8b\x08\x04"          # gzip with the BGZF extra field
    with gzip.open(gz, "rt") as fh:
        assert len(_records(fh.read())) == len(world["rows"])


def test_stdin_input(world):
    with open(world["vcf"]) as fh:
        proc = subprocess.run([sys.executable, "-m", "hail_seqscore", "score", "-R", world["ref"],
                               "-A", world["genes"], "--model", world["model"], "-D", "20"],
                              stdin=fh, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(_records(proc.stdout)) == len(world["rows"])


def test_malformed_vcf_names_the_line(world, tmp_path, capsys):
    bad = tmp_path / "bad.vcf"
    bad.write_text(HEADER + "chr1\t800\t.\tA\tC\t.\t.\t.\nchr1\tNOTANUMBER\t.\tA\tC\t.\t.\t.\n")
    rc = main(["score", "-I", str(bad), "-O", str(tmp_path / "o.vcf"), "-R", world["ref"],
               "-A", world["genes"], "--model", world["model"]])
    err = capsys.readouterr().err
    assert rc == 65
    assert "line 5" in err and "Traceback" not in err


@pytest.mark.parametrize("argv,code,needle", [
    (["-D", "6000"], 64, "distance"),
    (["--model", "nosuchmodel"], 64, "known models"),
    (["--batch-size", "0"], 64, "batch_size"),
])
def test_bad_settings_exit_cleanly(world, tmp_path, capsys, argv, code, needle):
    args = _args(world, "-O", str(tmp_path / "o.vcf"))
    # later flags win in argparse
    rc = main(args + argv)
    err = capsys.readouterr().err
    assert rc == code and needle in err and "Traceback" not in err


def test_missing_input_and_reference(world, tmp_path, capsys):
    rc = main(["score", "-I", str(tmp_path / "nope.vcf"), "-R", world["ref"],
               "-A", world["genes"], "--model", world["model"], "-O", str(tmp_path / "o.vcf")])
    assert rc == 66 and "nope.vcf" in capsys.readouterr().err
    rc = main(["score", "-I", world["vcf"], "-R", str(tmp_path / "nope.fa"), "-A", world["genes"],
               "--model", world["model"], "-O", str(tmp_path / "o.vcf")])
    assert rc == 66 and "nope.fa" in capsys.readouterr().err


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit) as e:
        main(["score", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for flag in ("-I", "-O", "-R", "-A", "-D", "-M", "--model", "--server", "--threads",
                 "--pad-edges", "--score-complex", "--flag-skipped", "exit codes",
                 "--max-allele-length", "--token-file", "74", "77"):
        assert flag in text


def _vcf(tmp_path, rows, name="w.vcf"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{c}\t{p}\t{i}\t{r}\t{a}\t.\t.\t.\n"
                                     for c, p, i, r, a in rows))
    return path


def _score(world, vcf, out, *extra):
    return main(["score", "-I", str(vcf), "-O", str(out), "-R", world["ref"], "-A",
                 world["genes"], "--model", world["model"], "-D", "20", "-q", *extra])


@pytest.mark.parametrize("bad,good,warned", [(12, 3, True), (9, 0, False), (12, 13, False)])
def test_most_alleles_mismatching_the_reference_warn_of_the_wrong_build(
        world, tmp_path, capsys, bad, good, warned):
    s = world["seq"]
    rows = [("chr1", p, f"bad{p}", other_base(s[p - 1]), s[p - 1]) for p in range(800, 800 + bad)]
    rows += [("chr1", p, f"ok{p}", s[p - 1], other_base(s[p - 1]))
             for p in range(1300, 1300 + good)]
    out = tmp_path / "o.vcf"
    assert _score(world, _vcf(tmp_path, rows), out) == 0
    assert len(_records(out.read_text())) == bad + good
    err = capsys.readouterr().err
    assert ("the reference probably is not the build of the VCF" in err) is warned
    if warned:
        assert f"{bad} of {bad + good} ALT alleles checked" in err   # shown despite -q


def test_most_alleles_on_contigs_the_reference_lacks_warn(world, tmp_path, capsys):
    rows = [("chrUn_x", p, ".", "A", "C") for p in range(100, 112)]
    out = tmp_path / "o.vcf"
    assert _score(world, _vcf(tmp_path, rows), out) == 0
    assert len(_records(out.read_text())) == 12
    err = capsys.readouterr().err
    assert "12 of 12 ALT alleles lie on contigs the reference does not have (chrUn_x)" in err


def test_max_allele_length(world, tmp_path, capsys):
    s = world["seq"]
    rows = [("chr1", 1350, "del10", s[1349:1360], s[1349]),
            ("chr1", 1300, "ins10", s[1299], s[1299] + "ACGTACGTAC"),
            ("chr1", 1400, "snv", s[1399], other_base(s[1399]))]
    out = tmp_path / "o.vcf"
    assert _score(world, _vcf(tmp_path, rows), out, "--max-allele-length", "5",
                  "--flag-skipped") == 0
    info = {r[2]: r[7] for r in _records(out.read_text())}
    assert list(info) == ["del10", "ins10", "snv"]
    assert info["del10"].endswith("|ALLELE_TOO_LONG") and info["ins10"].endswith("|ALLELE_TOO_LONG")
    assert info["snv"].startswith("SpliceAI=")
    assert _score(world, _vcf(tmp_path, rows), out, "--max-allele-length", "20") == 0
    assert all("SpliceAI=" in r[7] for r in _records(out.read_text()))
    assert _score(world, _vcf(tmp_path, rows), out, "--max-allele-length", "0") == 64
    assert "max_allele_length" in capsys.readouterr().err
