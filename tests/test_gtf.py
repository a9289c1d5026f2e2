"""GTF/GFF3 → gene table (hail_seqscore/gtf.py) and ``seqscore annotation``."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest

from hail_seqscore.annotation import load_annotation, read_spliceai_table
from hail_seqscore.cli import main
from hail_seqscore.errors import AnnotationError, InputUnreadableError
from hail_seqscore.gtf import GtfGene, read_gtf, write_spliceai_table

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "grch38_chr21"
needs_data = pytest.mark.skipif(
    not (DATA / "custom_test.gtf.gz").is_file(),
    reason=f"real test data not found at {DATA} (../shared/data beside the checkout)")


def gtf_line(contig, feature, start, end, strand, **attrs):
    parts = []
    for key, value in attrs.items():
        for v in value if isinstance(value, list) else [value]:
            parts.append(f'{key} "{v}";')
    return "\t".join([contig, "test", feature, str(start), str(end), ".", strand, ".",
                      " ".join(parts)]) + "\n"


def exon(contig, start, end, strand, gene, tx, name=None, tags=(), biotype="protein_coding"):
    attrs = {"gene_id": gene, "transcript_id": tx, "gene_type": biotype}
    if name:
        attrs["gene_name"] = name
    if tags:
        attrs["tag"] = list(tags)
    return gtf_line(contig, "exon", start, end, strand, **attrs)


# Gene G1 (+): T1 basic (longest), T2 Ensembl_canonical, T3 MANE_Select.
# Gene G2 (-): T4 not basic but longest, T5 basic.  Gene G3 (+): no tags, T6 and T7 (longer).
# G2 is written first on purpose: genes keep file order, not coordinate order.
SMALL_GTF = "".join([
    "#!genome-build test\n",
    exon("chr1", 5001, 5100, "-", "G2", "T4", "BETA"),
    exon("chr1", 5501, 6000, "-", "G2", "T4", "BETA"),
    exon("chr1", 5001, 5050, "-", "G2", "T5", "BETA", tags=["basic"]),
    exon("chr1", 5801, 5900, "-", "G2", "T5", "BETA", tags=["basic"]),
    gtf_line("chr1", "gene", 101, 1000, "+", gene_id="G1", gene_name="ALPHA"),
    gtf_line("chr1", "transcript", 101, 1000, "+", gene_id="G1", transcript_id="T1",
             gene_name="ALPHA", tag="basic"),
    exon("chr1", 101, 400, "+", "G1", "T1", "ALPHA", tags=["basic"]),
    exon("chr1", 601, 1000, "+", "G1", "T1", "ALPHA", tags=["basic"]),
    exon("chr1", 201, 300, "+", "G1", "T2", "ALPHA", tags=["basic", "Ensembl_canonical"]),
    exon("chr1", 601, 700, "+", "G1", "T2", "ALPHA", tags=["basic", "Ensembl_canonical"]),
    # exons out of order on purpose
    exon("chr1", 801, 900, "+", "G1", "T3", "ALPHA", tags=["basic", "MANE_Select"]),
    exon("chr1", 151, 250, "+", "G1", "T3", "ALPHA", tags=["basic", "MANE_Select"]),
    exon("chr1", 501, 550, "+", "G1", "T3", "ALPHA", tags=["basic", "MANE_Select"]),
    gtf_line("chr1", "CDS", 520, 550, "+", gene_id="G1", transcript_id="T3"),
    exon("chr2", 11, 20, "+", "G3", "T6", biotype="lncRNA"),
    exon("chr2", 11, 20, "+", "G3", "T7", biotype="lncRNA"),
    exon("chr2", 31, 60, "+", "G3", "T7", biotype="lncRNA"),
])


@pytest.fixture
def small_gtf(tmp_path):
    path = tmp_path / "small.gtf"
    path.write_text(SMALL_GTF)
    return path


def as_dict(table):
    return {g.name: g for g in table.genes}


def test_canonical_choice_and_coordinates(small_gtf):
    table = read_gtf(small_gtf)
    assert [g.name for g in table.genes] == ["BETA", "ALPHA", "G3"]  # file order; id fallback
    genes = as_dict(table)
    alpha = genes["ALPHA"]
    assert isinstance(alpha, GtfGene)
    assert (alpha.transcript_id, alpha.chosen_by) == ("T3", "MANE_Select")
    assert (alpha.contig, alpha.strand, alpha.tx_start, alpha.tx_end) == ("chr1", "+", 150, 900)
    assert alpha.exons == ((150, 250), (500, 550), (800, 900))
    assert alpha.boundaries.tolist() == [151, 250, 501, 550, 801, 900]
    beta = genes["BETA"]
    assert (beta.transcript_id, beta.chosen_by) == ("T5", "longest basic")
    assert (beta.strand, beta.tx_start, beta.tx_end) == ("-", 5000, 5900)
    assert beta.exons == ((5000, 5050), (5800, 5900))
    g3 = genes["G3"]
    assert (g3.transcript_id, g3.chosen_by, g3.tx_start, g3.tx_end) == ("T7", "longest", 10, 60)
    # the table answers SpliceAI's lookup: TX_START < pos <= TX_END
    assert [g.name for g in table.genes_at("1", 151)] == ["ALPHA"]
    assert table.genes_at("chr1", 150) == []
    assert [g.name for g in table.genes_at("chr1", 5900)] == ["BETA"]


def test_ensembl_canonical_when_no_mane(tmp_path):
    text = "".join(line for line in SMALL_GTF.splitlines(keepends=True) if '"T3"' not in line)
    path = tmp_path / "nomane.gtf"
    path.write_text(text)
    alpha = as_dict(read_gtf(path))["ALPHA"]
    assert (alpha.transcript_id, alpha.chosen_by) == ("T2", "Ensembl_canonical")
    assert alpha.exons == ((200, 300), (600, 700))


def test_policies_mane_longest_and_biotypes(small_gtf):
    mane = read_gtf(small_gtf, transcripts="mane")
    assert [(g.name, g.transcript_id) for g in mane.genes] == [("ALPHA", "T3")]
    longest = as_dict(read_gtf(small_gtf, transcripts="longest"))
    assert longest["ALPHA"].transcript_id == "T1"   # 700 bp spliced
    assert longest["BETA"].transcript_id == "T4"    # not basic, but longest
    coding = read_gtf(small_gtf, biotypes={"protein_coding"})
    assert [g.name for g in coding.genes] == ["BETA", "ALPHA"]
    with pytest.raises(AnnotationError, match="no gene has a biotype in \\['snRNA'\\]"):
        read_gtf(small_gtf, biotypes=["snRNA"])
    with pytest.raises(AnnotationError, match="transcripts='best'"):
        read_gtf(small_gtf, transcripts="best")


def test_gzip_is_detected_by_content(tmp_path, small_gtf):
    path = tmp_path / "small.gtf.gz"
    path.write_bytes(gzip.compress(SMALL_GTF.encode()))
    plain, packed = read_gtf(small_gtf), read_gtf(path)
    assert [(g.name, g.exons) for g in plain.genes] == [(g.name, g.exons) for g in packed.genes]
    odd = tmp_path / "gzipped_without_suffix.gtf"
    odd.write_bytes(path.read_bytes())
    assert len(read_gtf(odd)) == 3


def test_load_annotation_dispatches_gtf(small_gtf):
    table = load_annotation(small_gtf)
    assert [g.name for g in table.genes] == ["BETA", "ALPHA", "G3"]
    assert table.sha256 and len(table.sha256) == 64


ENSEMBL_GFF3 = """\
##gff-version 3
##sequence-region   7 1 1000000
7\tGRCh38\tchromosome\t1\t1000000\t.\t.\t.\tID=chromosome:7
7\tensembl_havana\tgene\t1001\t9000\t.\t-\t.\tID=gene:ENSG01;Name=GAMMA;biotype=protein_coding;gene_id=ENSG01
7\tensembl_havana\tmRNA\t1001\t9000\t.\t-\t.\tID=transcript:ENST01;Parent=gene:ENSG01;biotype=protein_coding;tag=basic
7\thavana\tmRNA\t2001\t8000\t.\t-\t.\tID=transcript:ENST02;Parent=gene:ENSG01;biotype=protein_coding;tag=basic,Ensembl_canonical
7\tensembl_havana\texon\t1001\t1500\t.\t-\t.\tParent=transcript:ENST01;Name=ENSE01
7\tensembl_havana\texon\t8001\t9000\t.\t-\t.\tParent=transcript:ENST01;Name=ENSE02
7\thavana\texon\t2001\t2100\t.\t-\t.\tParent=transcript:ENST02
7\thavana\texon\t7901\t8000\t.\t-\t.\tParent=transcript:ENST02
7\thavana\tCDS\t2001\t2100\t.\t-\t0\tID=CDS:ENSP02;Parent=transcript:ENST02
7\thavana\tncRNA_gene\t20001\t21000\t.\t+\t.\tID=gene:ENSG02;biotype=lncRNA;gene_id=ENSG02
7\thavana\tlnc_RNA\t20001\t21000\t.\t+\t.\tID=transcript:ENST03;Parent=gene:ENSG02
7\thavana\texon\t20001\t20100\t.\t+\t.\tParent=transcript:ENST03
7\thavana\texon\t20901\t21000\t.\t+\t.\tParent=transcript:ENST03
"""

# GENCODE style: gene_name on every feature, shared exons with two parents, MANE tag with a
# space as RefSeq writes it, and percent-encoding.
GENCODE_GFF3 = """\
##gff-version 3
chrX\tHAVANA\tgene\t101\t900\t.\t+\t.\tID=ENSG9;gene_id=ENSG9;gene_type=protein_coding;gene_name=DELTA%2C1
chrX\tHAVANA\ttranscript\t101\t900\t.\t+\t.\tID=ENST8;Parent=ENSG9;gene_name=DELTA%2C1;tag=basic
chrX\tHAVANA\ttranscript\t101\t700\t.\t+\t.\tID=ENST9;Parent=ENSG9;gene_name=DELTA%2C1;tag=MANE Select,basic
chrX\tHAVANA\texon\t101\t200\t.\t+\t.\tID=exon:1;Parent=ENST8,ENST9;gene_name=DELTA%2C1
chrX\tHAVANA\texon\t601\t700\t.\t+\t.\tID=exon:2;Parent=ENST9;gene_name=DELTA%2C1
chrX\tHAVANA\texon\t801\t900\t.\t+\t.\tID=exon:3;Parent=ENST8;gene_name=DELTA%2C1
##FASTA
>chrX
ACGT
"""


def test_gff3_ensembl(tmp_path):
    path = tmp_path / "ens.gff3"
    path.write_text(ENSEMBL_GFF3)
    table = read_gtf(path)
    assert [g.name for g in table.genes] == ["GAMMA", "ENSG02"]
    gamma, lnc = table.genes
    assert (gamma.transcript_id, gamma.chosen_by) == ("transcript:ENST02", "Ensembl_canonical")
    assert (gamma.strand, gamma.tx_start, gamma.tx_end) == ("-", 2000, 8000)
    assert gamma.exons == ((2000, 2100), (7900, 8000))
    assert lnc.gene_id == "gene:ENSG02" and lnc.exons == ((20000, 20100), (20900, 21000))
    assert [g.name for g in read_gtf(path, biotypes=["lncRNA"]).genes] == ["ENSG02"]
    assert read_gtf(path, transcripts="longest").genes[0].transcript_id == "transcript:ENST01"


def test_gff3_gencode_shared_exons_and_fasta_section(tmp_path):
    path = tmp_path / "gencode.gff3.gz"
    path.write_bytes(gzip.compress(GENCODE_GFF3.encode()))
    (gene,) = read_gtf(path).genes
    # the comma of DELTA%2C1 (GFF3 percent-encoding) would break VCF INFO: it stays encoded
    assert (gene.name, gene.transcript_id, gene.chosen_by) == \
        ("DELTA%2C1", "ENST9", "MANE_Select")
    assert gene.exons == ((100, 200), (600, 700))
    longest = read_gtf(path, transcripts="longest").genes[0]
    assert (longest.transcript_id, longest.exons) == ("ENST8", ((100, 200), (800, 900)))


def test_write_spliceai_table_round_trip(tmp_path, small_gtf):
    table = read_gtf(small_gtf)
    out = tmp_path / "genes.txt.gz"
    assert write_spliceai_table(table, out) == 3
    text = gzip.decompress(out.read_bytes()).decode().splitlines()
    assert text[0] == "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END"
    assert text[2] == "ALPHA\tchr1\t+\t150\t900\t150,500,800,\t250,550,900,"
    back = read_spliceai_table(out)
    for a, b in zip(table.genes, back.genes):
        assert (a.name, a.contig, a.strand, a.tx_start, a.tx_end) == \
            (b.name, b.contig, b.strand, b.tx_start, b.tx_end)
        assert np.array_equal(a.boundaries, b.boundaries)
    with pytest.raises(AnnotationError, match="no exon list"):
        write_spliceai_table(back, tmp_path / "again.txt")
    assert not (tmp_path / "again.txt").exists()


# ---- malformed input ---------------------------------------------------------------------------
GOOD = exon("1", 10, 20, "+", "G", "T")


@pytest.mark.parametrize("bad, message", [
    ("1\ttest\texon\t10\t20\t.\t+\n", r"line 2: 7 tab-separated columns, expected 9"),
    (GOOD.replace("\t10\t", "\tten\t"), r"line 2: start/end 'ten'/'20' are not integers"),
    (GOOD.replace("\t10\t20\t", "\t30\t20\t"), r"line 2: start 30 and end 20"),
    (GOOD.replace("\t10\t20\t", "\t0\t20\t"), r"line 2: start 0 and end 20"),
    (GOOD.replace("\t+\t", "\tplus\t"), r"line 2: strand 'plus'"),
    (GOOD.replace("\t+\t", "\t.\t"), r"line 2: exon strand '\.'"),
    (GOOD.replace('transcript_id "T"; ', ""), r"line 2: exon without a transcript_id"),
    (GOOD.replace('gene_id "G"; ', ""), r"line 2: exon without a gene_id"),
    (GOOD.replace('gene_id "G";', 'gene_id "G" junk;'), r"line 2: malformed GTF attribute"),
    (GOOD.replace("\t+\t", "\t-\t"), r"line 2: transcript T is on 1 - here but on 1 \+ at line 1"),
])
def test_malformed_gtf_names_file_and_line(tmp_path, bad, message):
    path = tmp_path / "bad.gtf"
    path.write_text(GOOD + bad)
    with pytest.raises(AnnotationError, match=re.escape(str(path)) + ": " + message):
        read_gtf(path)


def test_malformed_gff3_and_empty_files(tmp_path):
    path = tmp_path / "bad.gff3"
    path.write_text("##gff-version 3\n1\tt\texon\t1\t10\t.\t+\t.\tID=e1\n")
    with pytest.raises(AnnotationError, match=r"line 2: exon without a Parent"):
        read_gtf(path)
    path.write_text("##gff-version 3\n1\tt\texon\t1\t10\t.\t+\t.\tParent=t1;oops\n")
    with pytest.raises(AnnotationError, match=r"line 2: malformed GFF3 attribute 'oops'"):
        read_gtf(path)
    path.write_text("##gff-version 3\n1\tt\tgene\t1\t10\t.\t+\t.\tID=g1\n")
    with pytest.raises(AnnotationError, match=r"no exon records"):
        read_gtf(path)
    trunc = tmp_path / "trunc.gtf.gz"
    trunc.write_bytes(gzip.compress((GOOD * 2000).encode())[:400])
    with pytest.raises(AnnotationError, match=r"trunc.gtf.gz is truncated: its gzip stream ends "
                                              r"after line \d+ without its end marker"):
        read_gtf(trunc)
    with pytest.raises(InputUnreadableError, match=r"cannot read .*missing.gtf") as exc:
        read_gtf(tmp_path / "missing.gtf")
    assert exc.value.exit_code == 66
    with pytest.raises(InputUnreadableError, match=r"Is a directory"):
        read_gtf(tmp_path)
    latin = tmp_path / "latin.gtf"
    latin.write_bytes(GOOD.encode() + GOOD.replace('"G"', '"G\xe9"').encode("latin-1"))
    with pytest.raises(AnnotationError, match=r"latin.gtf: line 2 is not UTF-8 text \(byte 0xe9"):
        read_gtf(latin)


GFF3_TX = ("##gff-version 3\n"
           "1\tt\tgene\t1\t100\t.\t+\t.\tID=g1;Name=REAL\n"
           "1\tt\tmRNA\t1\t100\t.\t+\t.\tID=t1;Parent=g1\n")


@pytest.mark.parametrize("text, message", [
    (GFF3_TX + "1\tt\texon\t1\t10\t.\t+\t.\tParent=t1\n"
               "1\tt\texon\t20\t30\t.\t+\t.\tParent=t2\n",
     r"line 5: exon Parent 't2' is not defined: no feature in the file has ID=t2"),
    (GFF3_TX.replace("Parent=g1", "Parent=g9") + "1\tt\texon\t1\t10\t.\t+\t.\tParent=t1\n",
     r"line 3: mRNA t1 has Parent 'g9', which is not defined: no feature in the file has ID=g9"),
])
def test_gff3_undefined_parent_is_an_error_naming_the_line(tmp_path, text, message):
    """Not a made-up gene named after the dangling ID."""
    path = tmp_path / "dangling.gff3"
    path.write_text(text)
    with pytest.raises(AnnotationError, match=re.escape(str(path)) + ": " + message):
        read_gtf(path)


# ---- the command -------------------------------------------------------------------------------
def test_cli_annotation(tmp_path, small_gtf, capsys):
    out = tmp_path / "genes.txt"
    assert main(["annotation", "-i", str(small_gtf), "-o", str(out),
                 "--transcripts", "mane"]) == 0
    assert out.read_text().splitlines()[1:] == [
        "ALPHA\tchr1\t+\t150\t900\t150,500,800,\t250,550,900,"]
    assert "1 genes on 1 contig(s) (MANE_Select: 1)" in capsys.readouterr().err
    assert main(["annotation", "-i", str(small_gtf), "--biotype", "lncRNA", "-q"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "G3\tchr2\t+\t10\t60\t10,30,\t20,60,"
    bad = tmp_path / "bad.gtf"
    bad.write_text(GOOD.replace("\t+\t", "\tx\t"))
    assert main(["annotation", "-i", str(bad), "-o", str(tmp_path / "x.txt")]) == 65
    assert "line 1: strand 'x'" in capsys.readouterr().err
    assert not (tmp_path / "x.txt").exists()
    with pytest.raises(SystemExit) as exc:
        main(["annotation", "--help"])
    assert exc.value.code == 0
    assert "MANE_Select" in capsys.readouterr().out


# ---- real data: Ensembl GTF of chr21 vs the spliceai 1.3.1 GRCh38 table -----------------------
# The GTF (an older Ensembl release, VEP's test data) carries no Ensembl_canonical/MANE tags;
# each gene's transcript in SpliceAI's table (GENCODE V24 canonical) is present in it exactly.
SPLICEAI_TRANSCRIPTS = {"MRPL39": "ENST00000352957", "JAM2": "ENST00000480456",
                        "ATP5J": "ENST00000400094", "GABPA": "ENST00000354828",
                        "APP": "ENST00000346798"}


def spliceai_rows():
    lines = (DATA / "genes.grch38.spliceai.txt").read_text().splitlines()
    return {line.split("\t")[0]: line for line in lines[1:]}


@needs_data
def test_real_gtf_tagged_canonical_reproduces_spliceai_rows(tmp_path):
    """Tag SpliceAI's transcripts Ensembl_canonical (as current Ensembl GTFs do): the table
    written from the GTF then holds SpliceAI's own rows, byte for byte."""
    tagged = tmp_path / "tagged.gtf.gz"
    with gzip.open(DATA / "custom_test.gtf.gz", "rt") as src, gzip.open(tagged, "wt") as dst:
        for line in src:
            if any(f'transcript_id "{t}";' in line for t in SPLICEAI_TRANSCRIPTS.values()):
                line = line.rstrip("\n") + ' tag "Ensembl_canonical";\n'
            dst.write(line)
    table = read_gtf(tagged)
    out = tmp_path / "genes.txt"
    write_spliceai_table(table, out)
    ours = {line.split("\t")[0]: line for line in out.read_text().splitlines()[1:]}
    expected = spliceai_rows()
    for name, transcript in SPLICEAI_TRANSCRIPTS.items():
        assert ours[name] == expected[name], name
        assert as_dict(table)[name].transcript_id == transcript
    names = [g.name for g in table.genes]
    assert [n for n in names if n in expected] == list(expected)  # same order as SpliceAI's


@needs_data
def test_real_gtf_default_choice_against_spliceai_table():
    """Without tags the default falls back to the longest 'basic' transcript.  That is
    SpliceAI's transcript for JAM2 and GABPA; for MRPL39 it is a longer isoform with one
    extra exon (same span, boundaries a superset); for ATP5J and APP an isoform with an
    upstream TSS (same 3' end, wider span)."""
    table = read_gtf(DATA / "custom_test.gtf.gz")
    assert len(table) == 42
    ours = as_dict(table)
    ref = {g.name: g for g in read_spliceai_table(DATA / "genes.grch38.spliceai.txt").genes}
    for name in ref:
        assert ours[name].chosen_by == "longest basic"
        assert (ours[name].contig, ours[name].strand) == (ref[name].contig, ref[name].strand)
    for name in ("JAM2", "GABPA"):
        assert ours[name].transcript_id == SPLICEAI_TRANSCRIPTS[name]
        assert np.array_equal(ours[name].boundaries, ref[name].boundaries)
        assert (ours[name].tx_start, ours[name].tx_end) == (ref[name].tx_start, ref[name].tx_end)
    mrpl39 = ours["MRPL39"]
    assert mrpl39.transcript_id == "ENST00000307301"
    assert (mrpl39.tx_start, mrpl39.tx_end) == (ref["MRPL39"].tx_start, ref["MRPL39"].tx_end)
    assert set(ref["MRPL39"].boundaries) < set(mrpl39.boundaries)
    assert len(mrpl39.exons) == 11 and len(ref["MRPL39"].boundaries) == 20
    for name, transcript in (("ATP5J", "ENST00000400093"), ("APP", "ENST00000357903")):
        g, r = ours[name], ref[name]
        assert g.transcript_id == transcript
        assert g.tx_start == r.tx_start and g.tx_end > r.tx_end  # minus strand: TSS moved up
        assert g.boundaries[0] == r.boundaries[0]
