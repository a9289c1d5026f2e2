"""Pangolin's annotation (hail_seqscore.pangolin_genes): a GTF kept as create_db.py keeps it
and the CLI's gene lookup.  The expected genes, sites and orders below are what gffutils 0.14
returns for these files through create_db.py and pangolin.py's get_genes (checked once with
them); the real-data test reads both annotations of the reference outputs."""

from __future__ import annotations

import gzip
import logging

import numpy as np
import pytest

from hail_seqscore.errors import AnnotationError
from hail_seqscore.pangolin_genes import parse_filter, read_pangolin_gtf

CANON = ' tag "basic"; tag "Ensembl_canonical";'


def _line(kind, start, end, strand, gene, tx=None, tags="", contig="21"):
    attrs = f'gene_id "{gene}";' + (f' transcript_id "{tx}";' if tx else "") + tags
    return f"{contig}\tsrc\t{kind}\t{start}\t{end}\t.\t{strand}\t.\t{attrs}\n"


def _gtf(tmp_path, lines, name="a.gtf", gz=False):
    path = tmp_path / name
    text = "#!genome-build GRCh38\n" + "".join(lines)
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


def _two_transcripts():
    return [
        _line("gene", 100, 900, "+", "G1"),
        _line("transcript", 100, 900, "+", "G1", "T1", CANON),
        _line("exon", 100, 200, "+", "G1", "T1", CANON),
        _line("exon", 500, 900, "+", "G1", "T1", CANON),
        _line("transcript", 150, 700, "+", "G1", "T2", ' tag "basic";'),
        _line("exon", 150, 200, "+", "G1", "T2", ' tag "basic";'),
        _line("exon", 600, 700, "+", "G1", "T2", ' tag "basic";'),
        _line("CDS", 160, 200, "+", "G1", "T2", CANON),
    ]


def test_default_filter_keeps_the_canonical_exons_and_none_keeps_all(tmp_path):
    path = _gtf(tmp_path, _two_transcripts(), gz=True)
    (g,) = read_pangolin_gtf(path).genes("21")
    assert (g.gene_id, g.strand, g.start, g.end) == ("G1", "+", 99, 900)
    assert g.site_pos.tolist() == [100, 200, 500, 900]      # 1-based exon starts and ends
    (a,) = read_pangolin_gtf(path, tags=None).genes("21")
    assert a.site_pos.tolist() == [100, 200, 500, 900, 150, 200, 600, 700]
    (b,) = read_pangolin_gtf(path, tags=("basic",)).genes("21")
    assert b.site_pos.tolist() == a.site_pos.tolist()
    assert parse_filter("None") is None and parse_filter(None) is None
    assert parse_filter("Ensembl_canonical,MANE_Select") == ("Ensembl_canonical", "MANE_Select")


def test_tags_match_exactly(tmp_path):
    lines = [_line("gene", 100, 900, "+", "G1"),
             _line("exon", 100, 200, "+", "G1", "T1", ' tag "ensembl_canonical";'),
             _line("exon", 300, 400, "+", "G1", "T1", ' tag "Ensembl_canonical_x";')]
    (g,) = read_pangolin_gtf(_gtf(tmp_path, lines)).genes("21")
    assert g.site_pos.tolist() == []


def test_no_tagged_exon_warns_and_every_gene_has_no_sites(tmp_path, caplog):
    lines = [l for l in _two_transcripts() if "Ensembl_canonical" not in l]
    with caplog.at_level(logging.WARNING):
        genes = read_pangolin_gtf(_gtf(tmp_path, lines))
    assert genes.genes("21")[0].site_pos.size == 0
    assert "no exon is tagged Ensembl_canonical" in caplog.text and "filter None" in caplog.text


def test_a_variant_on_the_genes_first_base_is_outside_it(tmp_path):
    genes = read_pangolin_gtf(_gtf(tmp_path, _two_transcripts()))
    assert genes.at("21", 100) == ([], [])               # the CLI's region query at pos - 1
    assert [g.gene_id for g in genes.at("21", 100, first_base=True)[0]] == ["G1"]
    assert [g.gene_id for g in genes.at("21", 101)[0]] == ["G1"]
    assert [g.gene_id for g in genes.at("21", 900)[0]] == ["G1"]   # the last base is inside
    assert genes.at("21", 901) == ([], [])
    assert genes.at("chr21", 500) == ([], [])            # contig names are the GTF's own


def test_genes_by_strand_then_start_end_and_file_order(tmp_path):
    lines = [_line("gene", 100, 400, "+", "G3"), _line("gene", 50, 300, "+", "G1"),
             _line("gene", 100, 200, "+", "G2"), _line("gene", 10, 500, "-", "G4"),
             _line("gene", 120, 130, "+", "G0"), _line("gene", 100, 150, "+", "G5"),
             _line("gene", 100, 150, "+", "G6"), _line("gene", 90, 150, ".", "G7"),
             _line("gene", 100, 150, "+", "X1", contig="22")]
    genes = read_pangolin_gtf(_gtf(tmp_path, lines))
    plus, minus = genes.at("21", 124)
    assert [g.gene_id for g in plus] == ["G1", "G5", "G6", "G2", "G3", "G0"]
    assert [g.gene_id for g in minus] == ["G4"]          # G7 (strand .) is never scored
    assert sorted(genes.contigs) == ["21", "22"] and len(genes) == 9


def test_exons_in_gffutils_child_order(tmp_path):
    """Children come by id, ``exon_<n>`` in the order exons were kept, compared as text (20
    filler genes make the database big enough for SQLite to read the relations index, as it
    does for any real annotation; a database of a few dozen features is read in file order)."""
    lines = [_line("gene", 1, 10_000, "-", "G")]
    lines += [_line("exon", 100 * k + 1, 100 * k + 50, "-", "G", "T", CANON) for k in range(11)]
    lines.insert(3, _line("exon", 5000, 5001, "-", "G", "U"))     # dropped: not canonical
    for n in range(20):
        start = 20_000 + 1000 * n
        lines.append(_line("gene", start, start + 500, "+", f"F{n}"))
        lines += [_line("exon", start + 10 * k, start + 10 * k + 5, "+", f"F{n}", f"F{n}.1", CANON)
                  for k in range(3)]
    g = read_pangolin_gtf(_gtf(tmp_path, lines)).genes("21")[0]
    order = [0, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8]   # exon_1, exon_10, exon_11, exon_2, …
    assert g.site_pos.tolist() == [p for k in order for p in (100 * k + 1, 100 * k + 50)]


@pytest.mark.parametrize("lines, message", [
    ([_line("gene", 1, 9, "+", "G"), _line("gene", 20, 29, "+", "G")],
     "gene_id G is also the gene of line 2"),
    (["21\tsrc\tgene\t1\t9\t.\t+\t.\tgene_name \"A\";\n"], "line 2: gene without a gene_id"),
    (["21\tsrc\tgene\t1\t9\t.\t+\n"], "line 2: 7 tab-separated columns, expected 9"),
    (["21\tsrc\tgene\tone\t9\t.\t+\t.\tgene_id \"G\";\n"], "'one'/'9' are not integers"),
    ([_line("exon", 1, 9, "+", "G", "T")], "no gene records"),
    (["##gff-version 3\n"], "is GFF3"),
])
def test_bad_annotation_names_the_line(tmp_path, lines, message):
    with pytest.raises(AnnotationError) as err:
        read_pangolin_gtf(_gtf(tmp_path, lines))
    assert message in err.value.message


def test_real_annotations_of_the_reference_run(shared_data):
    data = shared_data / "grch38_chr21"
    custom = read_pangolin_gtf(data / "custom_test.gtf.gz", tags=None)
    assert len(custom) == 42
    assert sum(g.site_pos.size for g in custom.genes("21")) == 2 * 491
    plus, minus = custom.at("21", 25734940)      # rs71649640: GABPA (+) and ATP5J (-)
    assert [g.gene_id for g in plus + minus] == ["ENSG00000154727", "ENSG00000154723"]
    canon = read_pangolin_gtf(data / "custom_test.gtf.gz")   # no Ensembl_canonical tags at all
    assert all(g.site_pos.size == 0 for g in canon.genes("21"))
    table = read_pangolin_gtf(
        data / "reference_outputs" / "pangolin" / "annotation" / "chr21_genes_table.gtf")
    assert [g.gene_id for g in table.genes("21")] == ["MRPL39", "JAM2", "ATP5J", "GABPA", "APP"]
    assert sum(g.site_pos.size for g in table.genes("21")) == 2 * 53
    assert table.at("21", 25734940)[1] == []     # ATP5J's table span ends before it
    mrpl39 = table.genes("21")[0]
    assert (mrpl39.strand, mrpl39.start, mrpl39.end) == ("-", 25585655, 25607517)
    assert mrpl39.site_pos[:4].tolist() == [25607403, 25607517, 25585656, 25585754]
    assert np.isin([25585656, 25607517], mrpl39.site_pos).all()   # transcript ends are sites
