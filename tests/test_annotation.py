"""Gene tables (hail_seqscore/annotation.py): SpliceAI's format, lookup, and every kind of odd
table: compressed by content, not UTF-8, truncated, a directory, an unknown name, no genes,
genes backwards, names VCF INFO cannot carry."""

import bz2
import gzip
import logging
import os
import re

import numpy as np
import pytest

from hail_seqscore.annotation import load_annotation, read_spliceai_table
from hail_seqscore.genes import Gene, info_safe_name
from hail_seqscore.errors import AnnotationError, ConfigError, InputUnreadableError

HEAD = "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"


def test_lookup_uses_spliceai_bounds_and_table_order(tmp_path):
    p = tmp_path / "g.txt"
    p.write_text(HEAD + "B\t1\t-\t100\t200\t100,150,\t120,200,\n"
                        "A\t1\t+\t150\t300\t150,\t300,\n")
    t = read_spliceai_table(p)
    assert [g.name for g in t.genes_at("chr1", 101)] == ["B"]       # TX_START < pos
    assert t.genes_at("1", 100) == []
    assert [g.name for g in t.genes_at("1", 200)] == ["B", "A"]     # pos <= TX_END, table order
    assert t.genes_at("1", 201)[0].name == "A"
    assert t.genes_at("2", 150) == []


def test_distances_like_spliceai():
    g = Gene("G", "1", "+", 99, 200, np.union1d(np.array([100, 151]), np.array([120, 200])))
    assert g.distances(110) == (-10, 90, -10)        # tie between 100 and 120: upstream wins
    assert g.distances(150) == (-50, 50, 1)


@pytest.mark.parametrize("body,needle", [
    ("A\t1\t*\t1\t5\t1,\t5,\n", "STRAND"),
    ("A\t1\t+\tx\t5\t1,\t5,\n", "TX_START/TX_END"),
    ("A\t1\t+\t1\t5\t1,2,\t5,\n", "differ in length"),
    ("A\t1\t+\t1\t5\n", "fields"),
])
def test_malformed_rows_name_the_line(tmp_path, body, needle):
    p = tmp_path / "g.txt"
    p.write_text(HEAD + body)
    with pytest.raises(AnnotationError, match=f"line 2: .*{needle}"):
        read_spliceai_table(p)


def test_not_a_table_and_missing(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("hello\n")
    with pytest.raises(AnnotationError, match="missing column"):
        read_spliceai_table(p)
    with pytest.raises(ConfigError, match="neither grch37/grch38 nor an existing file") as exc:
        load_annotation(str(tmp_path / "none.txt"))
    assert exc.value.exit_code == 64


def test_shared_gene_table(shared_data):
    t = load_annotation(str(shared_data / "grch38_chr21" / "genes.grch38.spliceai.txt"))
    names = {g.name for g in t.genes}
    assert {"MRPL39", "JAM2", "ATP5J", "GABPA", "APP"} <= names
    assert t.sha256 and len(t.sha256) == 64


# ---- odd tables ----------------------------------------------------------------------------
ROW = "A\t1\t+\t100\t200\t100,150,\t120,200,\n"


@pytest.mark.parametrize("name, data", [
    ("genes.txt.gz", gzip.compress((HEAD + ROW).encode())),          # plain gzip: streamed
    ("genes.txt", gzip.compress((HEAD + ROW).encode())),             # gzip without .gz name
    ("genes.txt.gz", (HEAD + ROW).encode()),                         # .gz name, plain text
    ("genes.txt", ("\ufeff" + HEAD + ROW).replace("\n", "\r\n").encode()),  # BOM and CRLF
])
def test_compression_is_told_by_content_not_name(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    (gene,) = load_annotation(str(p)).genes
    assert (gene.name, gene.tx_start, gene.tx_end, list(gene.boundaries)) == \
        ("A", 100, 200, [101, 120, 151, 200])


@pytest.mark.parametrize("data, error, words", [
    (HEAD.encode() + b"CAF\xc9\t1\t+\t1\t5\t1,\t5,\n", AnnotationError,
     r"line 2 is not UTF-8 text \(byte 0xc9 at column 4\): convert the file to UTF-8"),
    (gzip.compress((HEAD + ROW * 3000).encode())[:300], AnnotationError,
     r"is truncated: its gzip stream ends after line \d+ without its end marker"),
    (bz2.compress((HEAD + ROW).encode()), AnnotationError, r"bzip2-compressed"),
    (b"\x00\x01binary", AnnotationError, r"binary file"),
    (b"", AnnotationError, r"is empty: expected a header line"),
    (HEAD.encode() + b"A\t1\t+\t-5\t200\t1,\t5,\n", AnnotationError,
     r"line 2: a negative coordinate"),
    (HEAD.encode() + b"\t1\t+\t1\t200\t1,\t5,\n", AnnotationError, r"line 2: empty #NAME"),
])
def test_malformed_tables_are_one_line_errors(tmp_path, data, error, words):
    p = tmp_path / "genes.txt"
    p.write_bytes(data)
    with pytest.raises(error, match=re.escape(str(p)) + ".*" + words) as exc:
        load_annotation(str(p))
    assert exc.value.exit_code == 65 and "\n" not in exc.value.message


def test_directory_and_unknown_names(tmp_path):
    with pytest.raises(InputUnreadableError, match="is a directory, not a file") as exc:
        load_annotation(str(tmp_path))
    assert exc.value.exit_code == 66
    with pytest.raises(ConfigError, match="'grch39' is neither grch37/grch38 nor an existing "
                                          "file: -A takes grch37, grch38, a SpliceAI"):
        load_annotation("grch39")
    with pytest.raises(InputUnreadableError, match="cannot read gene table"):
        read_spliceai_table(tmp_path / "missing.txt")
    fifo = tmp_path / "genes.fifo"            # -A <(zcat genes.txt.gz): read twice, so refused
    os.mkfifo(fifo)
    with pytest.raises(InputUnreadableError, match="is not a regular file"):
        load_annotation(str(fifo))


def test_empty_table_and_backwards_genes_warn(tmp_path, caplog):
    p = tmp_path / "genes.txt"
    p.write_text(HEAD)
    with caplog.at_level(logging.WARNING, logger="hail_seqscore.annotation"):
        assert len(load_annotation(str(p))) == 0
    assert f"gene table {p} has no genes: no variant can be scored" in caplog.text
    caplog.clear()
    p.write_text(HEAD + ROW + "B\t1\t+\t500\t300\t300,\t500,\n" + "C\t1\t+\t600\t400\t400,\t600,\n"
                 + "D\t1\t-\t700\t900\t700,850,\t800,750,\n")
    with caplog.at_level(logging.WARNING, logger="hail_seqscore.annotation"):
        t = load_annotation(str(p))
    assert len(t) == 4 and t.genes_at("1", 400) == []             # B and C hold no variant
    assert (f"gene table {p}: 2 gene(s) with TX_START after TX_END (such a gene holds no "
            f"variant), first B at line 3: is this the right file and genome build?") in caplog.text
    assert "1 gene(s) with an exon whose start is after its end" in caplog.text
    assert "first D at line 5" in caplog.text


def test_gene_names_are_percent_encoded_for_vcf_info(tmp_path, caplog):
    assert info_safe_name("A,B|C;D=E F\tG") == "A%2CB%7CC%3BD%3DE%20F%09G"
    assert info_safe_name("100%") == "100%25" and info_safe_name("A%2CB") == "A%2CB"
    assert info_safe_name(info_safe_name("x, y%")) == info_safe_name("x, y%")   # idempotent
    assert info_safe_name("GENE-1.2_AS1(x):y") == "GENE-1.2_AS1(x):y"
    p = tmp_path / "genes.txt"
    p.write_text(HEAD + ROW.replace("A", "ALPHA,1", 1) + ROW.replace("A", "BETA 2", 1) + ROW)
    with caplog.at_level(logging.WARNING, logger="hail_seqscore.annotation"):
        t = load_annotation(str(p))
    assert [g.name for g in t.genes] == ["ALPHA%2C1", "BETA%202", "A"]
    assert [g.name for g in t.genes_at("1", 150)] == ["ALPHA%2C1", "BETA%202", "A"]
    assert "2 gene name(s) hold characters that VCF INFO cannot carry" in caplog.text
    assert "'ALPHA,1' as 'ALPHA%2C1'" in caplog.text


def test_gtf_told_by_content(tmp_path):
    p = tmp_path / "annotation.txt"
    p.write_text('chr1\tt\texon\t101\t200\t.\t+\t.\tgene_id "G"; transcript_id "T"; '
                 'gene_name "GNAME";\n')
    (gene,) = load_annotation(str(p)).genes
    assert (gene.name, gene.tx_start, gene.tx_end) == ("GNAME", 100, 200)


def test_table_against_the_reference(tmp_path, caplog):
    from hail_seqscore.annotation import check_reference
    from hail_seqscore.genome import Genome

    fa = tmp_path / "g.fa"
    fa.write_text(">chr1\n" + "A" * 300 + "\n>chr2\n" + "C" * 100 + "\n")
    genome = Genome(fa)
    p = tmp_path / "genes.txt"
    p.write_text(HEAD + ROW + "Z\t7\t+\t10\t50\t10,\t50,\n")      # chr7 absent: normal
    with caplog.at_level(logging.WARNING, logger="hail_seqscore.annotation"):
        assert check_reference(load_annotation(str(p)), genome) == []
        p.write_text(HEAD + ROW.replace("\t200\t", "\t900\t").replace("120,200,", "120,900,"))
        (past,) = check_reference(load_annotation(str(p)), genome)
        assert past == (f"1 gene(s) of gene table {p} end past the end of their contig in the "
                        f"reference {fa}, first A ending at 1:900 (contig length 300): are they "
                        f"the same genome build?")
        p.write_text(HEAD + ROW.replace("\t1\t", "\tNC_000001.11\t"))
        (none,) = check_reference(load_annotation(str(p)), genome)
        assert none.startswith(f"none of the contigs of gene table {p} (NC_000001.11) is in "
                               f"the reference {fa} (chr1, chr2)")
    assert past in caplog.text and none in caplog.text


def test_a_reference_of_the_other_build_is_refused_for_builtin_tables(tmp_path):
    """-A grch38 with a GRCh37 chr21 (48,129,895 bp) is refused naming both builds; the
    right build, a region FASTA and a custom table say nothing."""
    from hail_seqscore.annotation import check_build
    from hail_seqscore.errors import ConfigError
    from hail_seqscore.genome import Genome

    fa = tmp_path / "grch37_chr21.fa"
    n = 48_129_895
    with open(fa, "w") as f:
        f.write(">chr21\n")
        line = "N" * 60 + "\n"
        f.write(line * (n // 60) + "N" * (n % 60) + "\n")
    genome = Genome(fa)
    with pytest.raises(ConfigError, match=r"GRCH37 \(chr21 is 48,129,895 bp.*give -A grch37"):
        check_build("grch38", genome)
    check_build("grch37", genome)
    check_build(str(tmp_path / "genes.txt"), genome)
    small = tmp_path / "region.fa"
    small.write_text(">21\n" + "ACGT" * 100 + "\n")
    check_build("grch38", Genome(small))
