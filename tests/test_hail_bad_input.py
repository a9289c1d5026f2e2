"""Bad and odd input at the Hail entry points (score_table and `seqscore hail`), with real Hail
on local Spark, the synthetic genome and the toy model.

Every row comes out with its reason (REF mismatch, unknown contig, symbolic alleles, over-long
alleles); what Hail cannot hold (a contig its reference genome lacks, a REF with IUPAC codes,
unparseable fields) is refused with one line and the documented exit code; --export-vcf writes
the input's own lines with only INFO added.  The Hail session is conftest's (one per run).
"""

from __future__ import annotations

import gzip
import os
import shutil
import sys

import pytest

hl = pytest.importorskip("hail", reason="needs the hail extra: pip install '.[hail]'")
pytest.importorskip("pyarrow", reason="needs the hail extra: pip install '.[hail]'")

from hail_seqscore import score_table  # noqa: E402
from hail_seqscore.cli import main  # noqa: E402
from synthetic import make_world, other_base  # noqa: E402

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = make_world(tmp_path_factory.mktemp("world"))
    assert not os.path.exists(w["ref"] + ".fai")          # indexed by the first Hail use
    return w


def base(world, pos: int) -> str:
    return world["seq"][pos - 1]


# ---- score_table ------------------------------------------------------------------------------
def rows_of_every_class(world):
    b = lambda p: base(world, p)  # noqa: E731
    long_del = world["seq"][899:1020]                     # 121-bp REF: over the toy's 100
    return [
        ("chr1", 600, [b(600), other_base(b(600))], None, []),
        ("chr1", 610, [other_base(b(610)), "T"], "REF_MISMATCH", ["T"]),
        ("chr2", 1000, ["A", "C"], "CONTIG_NOT_FOUND", ["C"]),          # not in the FASTA
        ("chr1", 620, [b(620), "<DEL>"], "UNSUPPORTED_VARIANT", ["<DEL>"]),
        ("chr1", 630, [b(630), other_base(b(630)), "*"], "UNSUPPORTED_VARIANT", ["*"]),
        ("chr1", 640, [b(640), b(640) + "]chr1:900]"], "UNSUPPORTED_VARIANT",
         [b(640) + "]chr1:900]"]),
        ("chr1", 800, [b(800), b(800) + "A" * 150], "ALLELE_TOO_LONG", [b(800) + "A" * 150]),
        ("chr1", 900, [long_del, long_del[0]], "ALLELE_TOO_LONG", [long_del[0]]),
        ("chr1", 700, [b(700), b(700) + "C" * 60], None, []),      # scored under the 100 cap
        ("chr1", 100, [b(100), other_base(b(100)), "<INS:ME>"], "UNSUPPORTED_VARIANT",
         ["<INS:ME>"]),                                    # no gene here: only <INS:ME> skipped
        ("chr1", 650, [b(650)], "NO_ALT", []),
    ]


def table(rows):
    return hl.Table.parallelize(
        [{"locus": hl.Locus(c, p, "GRCh38"), "alleles": a} for c, p, a, *_ in rows],
        hl.tstruct(locus=hl.tlocus("GRCh38"), alleles=hl.tarray(hl.tstr)),
        key=["locus", "alleles"])


def by_key(ht, name="seqscore"):
    return {(r.locus.contig, r.locus.position, tuple(r.alleles)): r[name] for r in ht.collect()}


def test_score_table_keeps_every_row_with_its_reason(hail_session, world):
    rows = rows_of_every_class(world)
    out = score_table(table(rows), model=world["model"], reference=world["ref"],
                      annotation=world["genes"])
    got = by_key(out)
    assert len(got) == len(rows) == out.count()                      # rows in == rows out
    assert os.path.exists(world["ref"] + ".fai")          # indexed on the driver, as score does
    for contig, pos, alleles, code, skipped in rows:
        r = got[(contig, pos, tuple(alleles))]
        assert r.reason_code == code, (pos, r.reason)
        assert [(s.allele, s.code) for s in r.skipped] == [(a, code) for a in skipped], pos
        if code is not None:
            assert r.reason and f"{contig}:{pos}" in r.reason
    assert got[("chr1", 600, tuple(rows[0][2]))].max_ds is not None
    assert {s.allele for s in got[("chr1", 630, tuple(rows[4][2]))].scores} == {rows[4][2][1]}
    assert got[("chr1", 100, tuple(rows[9][2]))].scores == []                      # no gene
    too_long = got[("chr1", 800, tuple(rows[6][2]))].reason
    assert "151 bp" in too_long and len(too_long) < 200                # abbreviated allele
    assert hl.eval(out.seqscore_provenance.max_allele_length) == 100       # the toy's context


def test_score_table_max_allele_length_reaches_the_workers(hail_session, world):
    rows = [r for r in rows_of_every_class(world) if r[1] in (600, 700)]
    out = score_table(table(rows), model=world["model"], reference=world["ref"],
                      annotation=world["genes"], max_allele_length=50)
    got = by_key(out)
    assert got[("chr1", 700, tuple(rows[1][2]))].reason_code == "ALLELE_TOO_LONG"
    assert got[("chr1", 600, tuple(rows[0][2]))].reason_code is None
    assert hl.eval(out.seqscore_provenance.max_allele_length) == 50


# ---- seqscore hail on a VCF --------------------------------------------------------------------
HEADER = """##fileformat=VCFv4.2
##FILTER=<ID=LowQual,Description="Low quality">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">
##INFO=<ID=END,Number=1,Type=Integer,Description="End">
##INFO=<ID=SVTYPE,Number=1,Type=String,Description="SV type">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##contig=<ID=1,length=3000>
##contig=<ID=2,length=5000>
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2
"""


def vcf_records(world) -> list[str]:
    """GRCh38 records named 1, 2 (recoded to chr1, chr2 by default): ID, odd QUAL, FILTER,
    declared and undeclared INFO and FORMAT keys, symbolic and over-long alleles."""
    b = lambda p: base(world, p)  # noqa: E731
    return [
        f"1\t600\trs142513484\t{b(600)}\t{other_base(b(600))}\t50\tLowQual\t"
        "DP=12;UNDECL=x,y;FLAGU\tGT:AD:XX\t0/1:5,7:foo\t0/0:9,0:bar",
        f"1\t610\t.\t{other_base(b(610))}\tT\t1234.5678\tPASS\tDP=3\tGT:AD\t0/1:1,2\t./.:.",
        f"1\t620\tsv1\t{b(620)}\t<DEL>\t30\tPASS\tSVTYPE=DEL;END=700\tGT:AD\t0/1:.\t0/0:.",
        f"1\t630\t.\t{b(630)}\t{other_base(b(630))},*\t0.001\t.\t.\tGT:AD\t1/2:1,2,3\t0/0:4,0,0",
        f"1\t640\tbnd1\t{b(640)}\t{b(640)}]1:900]\t.\t.\tSVTYPE=BND\tGT\t0/1\t./1",
        f"1\t800\t.\t{b(800)}\t{b(800) + 'A' * 150}\t.\t.\t.\tGT\t0/1\t0/0",
        f"1\t700\t.\t{b(700)}\t{b(700) + 'C' * 60}\t.\t.\t.\tGT\t0/1\t0/0",
        "2\t1000\t.\tA\tC\t99\t.\t.\tGT\t0/1\t0/0",
    ]


EXPECTED_SKIP = {600: None, 610: "REF_MISMATCH", 620: "UNSUPPORTED_VARIANT",
                 630: "UNSUPPORTED_VARIANT", 640: "UNSUPPORTED_VARIANT", 800: "ALLELE_TOO_LONG",
                 700: None, 1000: "CONTIG_NOT_FOUND"}


def write_vcf(path, records, header=HEADER):
    path.write_text(header + "\n".join(records) + "\n")
    return str(path)


def run_cli(world, *args):
    return main(["hail", "-R", world["ref"], "-A", world["genes"], "--model", world["model"],
                 *args])


def read_lines(path: str) -> list[str]:
    with (gzip.open(path, "rt") if path.endswith((".gz", ".bgz")) else open(path)) as f:
        return f.read().splitlines()


def info_dict(info: str) -> dict[str, str | None]:
    return {} if info == "." else {e.split("=", 1)[0]: (e.split("=", 1) + [None])[1]
                                   for e in info.split(";")}


def test_cli_vcf_every_record_and_column_comes_out_as_it_went_in(hail_session, world, tmp_path,
                                                                  capsys):
    records = vcf_records(world)
    vcf = write_vcf(tmp_path / "in.vcf", records)
    out_mt, out_vcf = str(tmp_path / "out.mt"), str(tmp_path / "out.vcf.bgz")
    assert run_cli(world, "-I", vcf, "-O", out_mt, "--export-vcf") == 0
    err = capsys.readouterr().err
    assert f"{len(records)} records read, {len(records)} rows" in err
    assert "not scored: ALLELE_TOO_LONG: 1" in err and "Traceback" not in err

    mt = hl.read_matrix_table(out_mt)
    assert mt.count_rows() == len(records)
    first = mt.filter_rows(mt.locus.position == 600)
    row = first.rows().collect()[0]
    assert row.rsid == "rs142513484" and row.qual == 50 and row.filters == {"LowQual"}
    assert row.info.UNDECL == ["x", "y"] and row.info.FLAGU is True   # undeclared, kept
    assert sorted(e.XX for e in first.entries().collect()) == [["bar"], ["foo"]]

    lines = read_lines(out_vcf)
    header = [ln for ln in lines if ln.startswith("#")]
    body = [ln for ln in lines if not ln.startswith("#")]
    want_header = HEADER.splitlines()
    assert header[:-3] == want_header[:-1] and header[-1] == want_header[-1]
    assert header[-3].startswith("##INFO=<ID=SpliceAI,") and \
        header[-2].startswith("##INFO=<ID=SeqScore_skip,")
    assert len(body) == len(records)                                # every record, in order
    for got, want in zip(body, records):
        g, w = got.split("\t"), want.split("\t")
        assert g[:7] == w[:7] and g[8:] == w[8:], want             # CHROM..FILTER, samples
        gi, wi = info_dict(g[7]), info_dict(w[7])
        assert {k: v for k, v in gi.items() if k not in ("SpliceAI", "SeqScore_skip")} == wi
        pos = int(w[1])
        code = EXPECTED_SKIP[pos]
        if code is None:
            assert "SeqScore_skip" not in gi and gi["SpliceAI"].count("|PLUS|") == 1
        else:
            skipped = ["*"] if pos == 630 else w[4].split(",")     # A of A,* is scored
            assert gi["SeqScore_skip"] == ",".join(f"{a}|{code}" for a in skipped), want
    assert body[3].split("\t")[7].startswith("SpliceAI=" + other_base(base(world, 630)) + "|")
    assert not [f for f in os.listdir(tmp_path) if "seqscore-tmp" in f]

    # a Hail matrix table as input: hl.export_vcf keeps ID, QUAL, FILTER, INFO and entries
    again = str(tmp_path / "again.vcf.bgz")
    assert run_cli(world, "-I", out_mt, "-O", str(tmp_path / "again.mt"), "--name", "second",
                   "--export-vcf", again) == 0
    exported = [ln.split("\t") for ln in read_lines(again) if not ln.startswith("#")]
    assert len(exported) == len(records)
    rec = next(f for f in exported if f[1] == "600")
    assert rec[0] == "chr1" and rec[2] == "rs142513484" and float(rec[5]) == 50
    assert rec[6] == "LowQual" and "DP=12" in rec[7] and rec[9].startswith("0/1:5,7")


def test_cli_recoded_contigs_on_request_and_max_allele_length(hail_session, world, tmp_path,
                                                               capsys):
    records = vcf_records(world)
    vcf = write_vcf(tmp_path / "in.vcf", records)
    out_vcf = str(tmp_path / "out.vcf")
    assert run_cli(world, "-I", vcf, "-O", str(tmp_path / "out.mt"), "--export-vcf", out_vcf,
                   "--export-recoded-contigs", "--max-allele-length", "50") == 0
    assert "not scored: ALLELE_TOO_LONG: 2" in capsys.readouterr().err
    lines = read_lines(out_vcf)
    assert "##contig=<ID=chr1,length=3000>" in lines and "##contig=<ID=chr2,length=5000>" in lines
    body = [ln.split("\t") for ln in lines if not ln.startswith("#")]
    assert [f[0] for f in body] == ["chr1"] * 7 + ["chr2"]
    assert "SeqScore_skip=" + records[6].split("\t")[4] + "|ALLELE_TOO_LONG" in body[6][7]


def test_cli_plain_gzip_vcf_is_read(hail_session, world, tmp_path, capsys):
    records = vcf_records(world)[:2]
    plain = tmp_path / "in.vcf.gz"
    plain.write_bytes(gzip.compress((HEADER + "\n".join(records) + "\n").encode()))
    assert run_cli(world, "-I", str(plain), "-O", str(tmp_path / "out.mt")) == 0
    assert "2 records read, 2 rows" in capsys.readouterr().err


@pytest.mark.parametrize("case, record, code, words", [
    ("contig not in GRCh38", "chrFoo\t600\t.\tA\tC\t.\t.\t.\tGT\t0/1\t0/0", 65,
     ["chrFoo", "--reference-genome fasta"]),
    ("IUPAC REF dropped by Hail", "1\t600\t.\tR\tC\t.\t.\t.\tGT\t0/1\t0/0", 65,
     ["1:600 REF R", "bcftools norm"]),
    ("position past the contig", "1\t300000000\t.\tA\tC\t.\t.\t.\tGT\t0/1\t0/0", 65,
     ["1:300000000", "another build"]),
    ("INFO value of the wrong type", "1\t600\t.\tA\tC\t.\t.\tDP=abc\tGT\t0/1\t0/0", 65,
     ["Hail cannot read it", "DP"]),
    ("too few columns", "1\t600\t.\tA\tC", 65, ["fewer than 8"]),
])
def test_cli_vcf_hail_cannot_hold_is_one_line(hail_session, world, tmp_path, capsys, case,
                                               record, code, words):
    good = vcf_records(world)[0]
    vcf = write_vcf(tmp_path / "in.vcf", [good, record])
    out = tmp_path / "out.mt"
    assert run_cli(world, "-I", vcf, "-O", str(out)) == code, case
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("seqscore hail:")]
    assert len(lines) == 1 and "error" in lines[0], err
    assert all(w in lines[0] for w in words), lines[0]
    assert "Traceback" not in err and "\tat " not in err
    assert not out.exists()                        # nothing half-written left behind


# ---- outputs and files, refused before Hail starts ----------------------------------------------
def test_cli_outputs_that_would_destroy_the_input(world, tmp_path, capsys):
    vcf = write_vcf(tmp_path / "cohort.vcf", vcf_records(world)[:1])
    bgz = tmp_path / "cohort.vcf.bgz"
    shutil.copy(vcf, bgz)
    # -O cohort.mt --export-vcf: the default VCF name is the input itself
    assert run_cli(world, "-I", str(bgz), "-O", str(tmp_path / "cohort.mt"),
                   "--export-vcf") == 64
    assert "would destroy the input" in capsys.readouterr().err
    assert run_cli(world, "-I", vcf, "-O", str(tmp_path / "x.mt"), "--export-vcf",
                   str(tmp_path / "." / "cohort.vcf")) == 64
    mt = tmp_path / "in.mt"
    mt.mkdir()
    assert run_cli(world, "-I", str(mt), "-O", str(mt) + "/") == 64
    existing = tmp_path / "exists.mt"
    existing.mkdir()
    assert run_cli(world, "-I", vcf, "-O", str(existing)) == 74
    assert "--overwrite" in capsys.readouterr().err
    assert bgz.read_bytes() == open(vcf, "rb").read()


def test_cli_unreadable_inputs(hail_session, world, tmp_path, capsys):
    fake = tmp_path / "fake.vcf.gz"
    fake.write_text(HEADER)                                  # a .gz name on plain text
    assert run_cli(world, "-I", str(fake), "-O", str(tmp_path / "a.mt")) == 65
    assert "not compressed" in capsys.readouterr().err
    assert run_cli(world, "-I", str(tmp_path / "missing.vcf"), "-O",
                   str(tmp_path / "b.mt")) == 66
    assert run_cli(world, "-I", str(tmp_path / "missing.mt"), "-O",
                   str(tmp_path / "c.mt")) == 66
    notvcf = tmp_path / "notvcf.vcf"
    notvcf.write_text("hello\n")
    assert run_cli(world, "-I", str(notvcf), "-O", str(tmp_path / "d.mt")) == 65
    assert "no '#CHROM' header line" in capsys.readouterr().err


def test_cli_fasta_genome_from_an_unindexed_fasta(hail_session, world, tmp_path, capsys):
    """--reference-genome fasta indexes a FASTA without .fai first; a contig the FASTA lacks
    is refused in one line saying how to leave those records out."""
    fresh = tmp_path / "fresh.fa"
    shutil.copy(world["ref"], fresh)
    records = [r.replace("1\t", "chr1\t", 1) for r in vcf_records(world)[:3]]
    vcf = write_vcf(tmp_path / "in.vcf", records, HEADER.replace("ID=1,", "ID=chr1,"))
    common = ["-A", world["genes"], "--model", world["model"], "--reference-genome", "fasta"]
    assert main(["hail", "-I", vcf, "-O", str(tmp_path / "a.mt"), "-R", str(fresh),
                 *common]) == 0
    assert (tmp_path / "fresh.fa.fai").exists()
    assert "3 records read, 3 rows" in capsys.readouterr().err
    vcf2 = write_vcf(tmp_path / "in2.vcf", records + ["chr2\t5\t.\tA\tC\t.\t.\t.\tGT\t0/1\t0/0"])
    assert main(["hail", "-I", vcf2, "-O", str(tmp_path / "b.mt"), "-R", str(fresh),
                 *common]) == 65
    err = capsys.readouterr().err
    assert "(chr2)" in err and "bcftools view -t ^chr2" in err and "Traceback" not in err


def test_python_workers_must_run_this_interpreter(tmp_path):
    """A venv's ``python`` and ``python3.11`` name one interpreter; another folder's link to
    the same binary is another environment (Spark's context stands in as its two fields)."""
    from types import SimpleNamespace

    from hail_seqscore.errors import ConfigError
    from hail_seqscore.hail.table import _check_python_workers

    real = os.path.realpath(sys.executable)
    venv, other = tmp_path / "venv" / "bin", tmp_path / "other" / "bin"
    for d in (venv, other):
        d.mkdir(parents=True)
    (venv / "python3.11").symlink_to(real)
    (venv / "python").symlink_to("python3.11")
    (other / "python").symlink_to(real)
    me = str(venv / "python3.11")
    for exec_ in (venv / "python", venv / "python3.11"):
        _check_python_workers(SimpleNamespace(master="local[2]", pythonExec=str(exec_)), me)
    with pytest.raises(ConfigError, match=r"run '.*other/bin/python', not this interpreter "
                                          r"\(.*venv/bin/python3\.11\)"):
        _check_python_workers(SimpleNamespace(master="local[2]", pythonExec=str(other / "python")),
                              me)
    # on a cluster the executors' interpreter is theirs to set: nothing to compare here
    _check_python_workers(SimpleNamespace(master="spark://127.0.0.1:7077",
                                          pythonExec=str(other / "python")), me)
