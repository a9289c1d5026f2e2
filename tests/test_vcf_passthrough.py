"""`seqscore score` passes every header line and record through byte for byte, adding only its
INFO entries: undeclared INFO/FILTER/FORMAT keys, symbolic ALTs and breakends (with or without
END), sample columns, CRLF line ends, non-UTF-8 bytes; for plain, gzip, bgzip, stdin and BCF
input.  Each skipped allele is counted with its reason."""

import gzip
import subprocess
import sys

import pysam
import pytest

from hail_seqscore.cli import main
from hail_seqscore.vcf import set_info
from synthetic import make_world, other_base

HEADER = [
    "##fileformat=VCFv4.2",
    "##contig=<ID=chr1,length=3000>",
    "##source=SomeCaller v1 (décor: non-ASCII in a header line)",
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2",
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = make_world(tmp_path_factory.mktemp("pass"))
    s = w["seq"]
    b = lambda p: s[p - 1]            # noqa: E731 - the reference base at 1-based p
    o = lambda p: other_base(s[p - 1])  # noqa: E731
    w["records"] = [
        # undeclared INFO, FILTER and FORMAT keys, a float QUAL htslib would reformat
        f"chr1\t800\tsnv\t{b(800)}\t{o(800)}\t50.123456\tLowQual;Weird\tUNDECL=1;FLAGX\t"
        "GT:ZZ\t0/1:3\t./.:.",
        # symbolic without END (htslib would add END), with END, breakends, <INS:ME>, <DUP>, <CNV>
        f"chr1\t900\tdel\t{b(900)}\t<DEL>\t.\tPASS\tSVTYPE=DEL;SVLEN=-100\tGT\t0/1\t0/0",
        f"chr1\t910\tdup\t{b(910)}\t<DUP>\t.\t.\tEND=1010\tGT\t0/1\t0/0",
        f"chr1\t920\tcnv\t{b(920)}\t<CNV>\t.\t.\t.\tGT\t0/1\t0/0",
        f"chr1\t950\tbnd1\t{b(950)}\t{b(950)}]chr1:1500]\t.\t.\tSVTYPE=BND\tGT\t0/1\t0/0",
        f"chr1\t951\tbnd2\t{b(951)}\t[chr17:198982[{b(951)}\t.\t.\t.\tGT\t0/1\t0/0",
        # a symbolic ALT next to a scored one; a stale SpliceAI entry is replaced
        f"chr1\t1000\tme\t{b(1000)}\t<INS:ME>,{o(1000)}\t.\t.\tA=1;SpliceAI=old|X;B=2\t"
        "GT\t1/2\t0/0",
        # no ALT, a star allele, bytes that are not UTF-8 in INFO
        f"chr1\t1010\tnoalt\t{b(1010)}\t.\t.\t.\t.\tGT\t0/0\t0/0",
        f"chr1\t1020\tstar\t{b(1020)}\t*,{o(1020)}\t.\t.\tNOTE=caf\udce9\tGT\t1/2\t0/0",
        # outside every gene: unchanged apart from nothing
        f"chr1\t60\tnogene\t{b(60)}\t{o(60)}\t.\t.\tDP=3\tGT\t0/1\t0/0",
    ]
    return w


def write_vcf(path, records, ending="\n"):
    text = ending.join(HEADER + records) + ending
    data = text.encode("utf-8", "surrogateescape")
    if str(path).endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def args(w, inp, out, *extra):
    return ["score", "-I", str(inp), "-O", str(out), "-R", w["ref"], "-A", w["genes"],
            "--model", w["model"], "-D", "20", "--chunk-size", "3", *extra]


def read_lines(path):
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8", "surrogateescape").splitlines(keepends=True)


def check_passthrough(w, out_lines, records, ending="\n", flagged=True):
    """Every header line unchanged (ours added before #CHROM), every record unchanged but for
    INFO; returns {ID: INFO}."""
    header = [l for l in out_lines if l.startswith("#")]
    body = [l for l in out_lines if not l.startswith("#")]
    ours = [l for l in header if l.startswith(("##INFO=<ID=SpliceAI,", "##INFO=<ID=SeqScore_skip"))]
    assert len(ours) == (2 if flagged else 1)
    assert [l for l in header if l not in ours] == [h + ending for h in HEADER]
    assert header[-1].startswith("#CHROM")
    assert len(body) == len(records)                       # every record in = every record out
    info = {}
    for got, want in zip(body, records):
        assert got.endswith(ending)
        g, e = got[:-len(ending)].split("\t"), want.split("\t")
        assert g[:7] == e[:7] and g[8:] == e[8:]            # all but INFO byte for byte
        info[g[2]] = g[7]
    return info


def check_infos(w, info):
    s = w["seq"]
    assert info["snv"].startswith(f"UNDECL=1;FLAGX;SpliceAI={other_base(s[799])}|PLUS|")
    assert info["del"] == "SVTYPE=DEL;SVLEN=-100;SeqScore_skip=<DEL>|UNSUPPORTED_VARIANT"
    assert info["dup"] == "END=1010;SeqScore_skip=<DUP>|UNSUPPORTED_VARIANT"
    assert info["cnv"] == "SeqScore_skip=<CNV>|UNSUPPORTED_VARIANT"
    assert info["bnd1"].endswith("]chr1:1500]|UNSUPPORTED_VARIANT")
    assert info["bnd2"] == f"SeqScore_skip=[chr17:198982[{s[950]}|UNSUPPORTED_VARIANT"
    me = info["me"].split(";")
    assert me[0] == "A=1" and me[1].startswith(f"SpliceAI={other_base(s[999])}|PLUS|")
    assert me[2:] == ["B=2", "SeqScore_skip=<INS:ME>|UNSUPPORTED_VARIANT"]
    assert info["noalt"] == "."
    assert info["star"].startswith("NOTE=caf\udce9;SpliceAI=") and "*|UNSUPPORTED" in info["star"]
    assert info["nogene"] == "DP=3"


def test_plain_vcf_passes_through_byte_for_byte(world, tmp_path, capsys):
    inp = write_vcf(tmp_path / "in.vcf", world["records"])
    out = tmp_path / "out.vcf"
    assert main(args(world, inp, out, "--flag-skipped")) == 0
    info = check_passthrough(world, read_lines(out), world["records"])
    check_infos(world, info)
    err = capsys.readouterr().err
    assert "10 records read" in err
    assert "UNSUPPORTED_VARIANT: 7" in err and "NO_ALT: 1" in err and "NO_GENE: 1" in err


def test_without_flag_skipped_only_spliceai_is_added(world, tmp_path):
    inp = write_vcf(tmp_path / "in.vcf", world["records"])
    out = tmp_path / "out.vcf"
    assert main(args(world, inp, out)) == 0
    info = check_passthrough(world, read_lines(out), world["records"], flagged=False)
    for rec in world["records"]:
        fields = rec.split("\t")
        if "SpliceAI=" not in info[fields[2]]:
            assert info[fields[2]] == fields[7]            # unscored: INFO untouched


@pytest.mark.parametrize("name", ["in.vcf.gz", "in.vcf.bgz"])
def test_gzip_and_bgzip_input(world, tmp_path, name):
    if name.endswith(".bgz"):
        plain = write_vcf(tmp_path / "in.vcf", world["records"])
        inp = tmp_path / name
        pysam.tabix_compress(str(plain), str(inp))
        assert inp.read_bytes()[:4] == b"\x1f\x8b\x08\x04"    # BGZF
    else:
        inp = write_vcf(tmp_path / name, world["records"])  # plain gzip, one member
        assert inp.read_bytes()[:4] == b"\x1f\x8b\x08\x00"
    out = tmp_path / "out.vcf.gz"
    assert main(args(world, inp, out, "--flag-skipped")) == 0
    assert out.read_bytes()[:4] == b"\x1f\x8b\x08\x04"       # written bgzipped
    check_infos(world, check_passthrough(world, read_lines(out), world["records"]))


@pytest.mark.parametrize("compress", [False, True])
def test_stdin_plain_and_gzip(world, tmp_path, compress):
    inp = write_vcf(tmp_path / ("in.vcf.gz" if compress else "in.vcf"), world["records"])
    cmd = [sys.executable, "-m", "hail_seqscore", *args(world, "-", "-", "--flag-skipped")]
    with open(inp, "rb") as fh:
        proc = subprocess.run(cmd, stdin=fh, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    check_infos(world, check_passthrough(world, lines, world["records"]))


def test_crlf_line_ends_are_kept(world, tmp_path):
    inp = write_vcf(tmp_path / "crlf.vcf", world["records"], ending="\r\n")
    out = tmp_path / "out.vcf"
    assert main(args(world, inp, out, "--flag-skipped")) == 0
    lines = read_lines(out)
    assert all(l.endswith("\r\n") for l in lines)
    check_infos(world, check_passthrough(world, lines, world["records"], ending="\r\n"))


def test_bcf_input(world, tmp_path, capsys):
    s = world["seq"]
    header = pysam.VariantHeader()
    header.add_line("##contig=<ID=chr1,length=3000>")
    header.add_line('##INFO=<ID=SVTYPE,Number=1,Type=String,Description="type">')
    header.add_line('##INFO=<ID=END,Number=1,Type=Integer,Description="end">')  # BCF stores it
    header.add_sample("S1")
    bcf = tmp_path / "in.bcf"
    with pysam.VariantFile(str(bcf), "wb", header=header) as vf:
        for pos, alts, svtype in ((800, (other_base(s[799]),), None), (900, ("<DEL>",), "DEL"),
                                  (60, (other_base(s[59]),), None)):
            rec = vf.new_record(contig="chr1", start=pos - 1, stop=pos,
                                alleles=(s[pos - 1], *alts), id=f"r{pos}")
            if svtype:
                rec.info["SVTYPE"] = svtype
            vf.write(rec)
    out = tmp_path / "out.vcf"
    assert main(args(world, bcf, out, "--flag-skipped")) == 0
    body = [l.split("\t") for l in read_lines(out) if not l.startswith("#")]
    assert [r[2] for r in body] == ["r800", "r900", "r60"]
    assert body[0][7].startswith("SpliceAI=")
    assert body[1][7] == "END=900;SVTYPE=DEL;SeqScore_skip=<DEL>|UNSUPPORTED_VARIANT"
    assert "3 records read" in capsys.readouterr().err


def test_header_already_declaring_our_fields_is_not_duplicated(world, tmp_path):
    recs = world["records"][:2]
    declared = ('##INFO=<ID=SpliceAI,Number=.,Type=String,Description="old run">\n'
                '##INFO=<ID=SeqScore_skip,Number=.,Type=String,Description="old run">\n')
    inp = tmp_path / "in.vcf"
    inp.write_text("\n".join(HEADER[:-1]) + "\n" + declared + HEADER[-1] + "\n"
                   + "\n".join(recs) + "\n")
    out = tmp_path / "out.vcf"
    assert main(args(world, inp, out, "--flag-skipped")) == 0
    text = out.read_text()
    assert text.count("##INFO=<ID=SpliceAI,") == 1 and text.count("##INFO=<ID=SeqScore_skip") == 1
    assert text.startswith(inp.read_text().split("#CHROM")[0])


@pytest.mark.parametrize("info,key,values,want", [
    (".", "K", ["a", "b"], "K=a,b"),
    ("", "K", ["a"], "K=a"),
    ("X=1;FLAG", "K", ["a"], "X=1;FLAG;K=a"),
    ("X=1;K=old;Y", "K", ["new"], "X=1;K=new;Y"),
    ("K=old;K=older", "K", ["new"], "K=new"),
    ("KEY=1", "K", ["a"], "KEY=1;K=a"),              # a key that only starts alike is kept
    ("X=1;K=old", "K", None, "X=1"),
    ("K=old", "K", None, "."),
    ("X=1", "K", None, "X=1"),
])
def test_set_info(info, key, values, want):
    assert set_info(info, key, values) == want
