"""The Pangolin rule in the engine, on the synthetic genome and a Pangolin-shaped toy model.

Expected scores are computed here the way the Pangolin CLI computes them — one REF and one ALT
window per variant and strand, straight through the model, then :mod:`scoring_pangolin` (whose
rules are checked against the CLI's own outputs in test_scoring_pangolin.py) — and compared
with what the engine returns after its tiling, deduplication and batching."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest

from hail_seqscore.encode import one_hot_oriented
from hail_seqscore.engine import Engine, EngineConfig
from hail_seqscore.genome import Genome
from hail_seqscore.kinds import info_format
from hail_seqscore.models.session import get_session
from hail_seqscore.pangolin_genes import read_pangolin_gtf
from hail_seqscore.records import PangolinScore, Variant
from hail_seqscore.rules.pangolin import member_tissues
from hail_seqscore.scoring_pangolin import (gain_loss, score_genes, tissue_deltas,
                                            window_bounds)
from synthetic import CONTIG_LEN, make_world
from toy_models import build_toy_pangolin

D = 20
# two + genes (PLUS2 inside PLUS: masking carries over) and one - gene; exon lines of
# PLUS2 are not Ensembl_canonical
GTF = [
    ("gene", 501, 2500, "+", 'gene_id "PLUS";', ""),
    ("transcript", 501, 2500, "+", 'gene_id "PLUS"; transcript_id "P1";', "Ensembl_canonical"),
    ("exon", 501, 700, "+", 'gene_id "PLUS"; transcript_id "P1";', "Ensembl_canonical"),
    ("exon", 1001, 1200, "+", 'gene_id "PLUS"; transcript_id "P1";', "Ensembl_canonical"),
    ("exon", 2001, 2500, "+", 'gene_id "PLUS"; transcript_id "P1";', "Ensembl_canonical"),
    ("gene", 801, 1600, "+", 'gene_id "PLUS2";', ""),
    ("transcript", 801, 1600, "+", 'gene_id "PLUS2"; transcript_id "Q1";', "basic"),
    ("exon", 801, 1050, "+", 'gene_id "PLUS2"; transcript_id "Q1";', "basic"),
    ("exon", 1400, 1600, "+", 'gene_id "PLUS2"; transcript_id "Q1";', "basic"),
    ("gene", 1201, 2900, "-", 'gene_id "MINUS";', ""),
    ("transcript", 1201, 2900, "-", 'gene_id "MINUS"; transcript_id "M1";', "Ensembl_canonical"),
    ("exon", 1201, 1500, "-", 'gene_id "MINUS"; transcript_id "M1";', "Ensembl_canonical"),
    ("exon", 2601, 2900, "-", 'gene_id "MINUS"; transcript_id "M1";', "Ensembl_canonical"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("pangolin")
    w = make_world(d)
    lines = []
    for feature, start, end, strand, attrs, tag in GTF:
        tags = f' tag "{tag}";' if tag else ""
        lines.append(f"chr1\ttest\t{feature}\t{start}\t{end}\t.\t{strand}\t.\t{attrs}{tags}\n")
    with gzip.open(d / "genes.gtf.gz", "wt") as f:
        f.writelines(lines)
    w["gtf"] = str(d / "genes.gtf.gz")
    w["pango"] = str(build_toy_pangolin(d / "toypango.onnx", context=100))
    return w


def expected(world, v: Variant, tags=("Ensembl_canonical",), mask=True, **options):
    """The CLI's computation: whole REF and ALT windows per strand, one variant at a time."""
    sess = get_session(world["pango"])
    tissue = member_tissues(sess.spec.member_channels)
    genes = read_pangolin_gtf(world["gtf"], tags=tags)
    start, end = window_bounds(v.pos, len(v.ref), D, sess.spec.flank)
    seq = Genome(world["ref"]).fetch("chr1", start, end)
    cut = sess.spec.flank + D
    alt_seq = seq[:cut] + v.alt + seq[cut + len(v.ref):]
    out = []
    for strand, hits in zip("+-", genes.at("chr1", v.pos)):
        if not hits:
            continue
        ys = []
        for s in (seq, alt_seq):
            y = sess.predict(one_hot_oriented(s, strand)[None], output="y_members")[0]
            ys.append(y[::-1] if strand == "-" else y)
        loss, gain = gain_loss(tissue_deltas(ys[0], ys[1], len(v.ref), len(v.alt), D,
                                             member_tissue=tissue))
        out += score_genes(loss, gain, [g.sites() for g in hits], v.pos, D, strand=strand,
                           mask=mask, **options)
    return tuple(out)


def engine(world, **kw) -> Engine:
    cfg = dict(model=world["pango"], reference=world["ref"], annotation=world["gtf"],
               distance=D)
    cfg.update(kw)
    return Engine(EngineConfig(**cfg))


def variants(world) -> list[Variant]:
    seq = world["seq"]
    out = []
    for pos in (520, 900, 1100, 1300, 1450, 2000, 2700):     # 1-based
        ref = seq[pos - 1]
        out.append(Variant("chr1", pos, ref, "A" if ref != "A" else "G"))
    out.append(Variant("chr1", 1350, seq[1349:1354], seq[1349]))             # deletion
    out.append(Variant("chr1", 1360, seq[1359], seq[1359] + "GATTACA"))      # insertion
    out.append(Variant("chr1", 1370, seq[1369:1372], "TTT" if seq[1369:1372] != "TTT"
                       else "AAA"))                                          # MNV
    return out


def _close(got: tuple, want: tuple) -> None:
    assert [(s.gene, s.strand, s.gain_pos, s.loss_pos, s.warnings) for s in got] == \
        [(s.gene, s.strand, s.gain_pos, s.loss_pos, s.warnings) for s in want]
    for a, b in zip(got, want):
        assert abs(a.gain - b.gain) < 1e-6 and abs(a.loss - b.loss) < 1e-6


@pytest.mark.parametrize("strategy", ["tiled", "window"])
def test_engine_scores_as_the_cli_computes_one_variant_at_a_time(world, strategy):
    vs = variants(world)
    results = engine(world, strategy=strategy).score(vs)
    assert [r.variant for r in results] == vs
    n_both = 0
    for v, r in zip(vs, results):
        assert r.error is None, r.error
        assert all(isinstance(s, PangolinScore) for s in r.scores)
        _close(r.scores, expected(world, v))
        n_both += {"+", "-"} <= {s.strand for s in r.scores}
    assert n_both >= 3            # variants in genes on both strands were scored twice


def test_mask_filter_and_options_follow_the_cli(world):
    vs = variants(world)[:5]
    raw = engine(world, mask=False, annotation_filter="None").score(vs)
    for v, r in zip(vs, raw):
        _close(r.scores, expected(world, v, tags=None, mask=False))
    # PLUS2's exons are not canonical: with the default filter it warns and masks every loss
    plus2 = [s for r in engine(world).score(vs) for s in r.scores if s.gene == "PLUS2"]
    assert plus2 and all(s.warnings == "NoAnnotatedSitesToMaskForThisGene" for s in plus2)
    cut = engine(world, score_cutoff=0.01).score(vs)
    for v, r in zip(vs, cut):
        want = expected(world, v, cutoff=0.01)
        flat = lambda scores: [x for s in scores for site in s.cutoff_sites for x in site]  # noqa: E731
        assert flat(r.scores) == pytest.approx(flat(want))
        assert [len(s.cutoff_sites) for s in r.scores] == [len(s.cutoff_sites) for s in want]
    ex = engine(world, score_exons=True).score(vs)
    for v, r in zip(vs, ex):
        assert [s.exon_sites for s in r.scores] == [s.exon_sites for s in
                                                     expected(world, v, score_exons=True)]


def test_skips_get_the_cli_reasons_as_error_codes(world):
    seq = world["seq"]
    cases = {
        Variant("chr1", 1100, seq[1099], "<DEL>"): "UNSUPPORTED_VARIANT",
        Variant("chr1", 1100, seq[1099:1102], "GA"): "UNSUPPORTED_VARIANT",   # complex
        Variant("chr1", 1100, seq[1099:1099 + 2 * D + 1], seq[1099]): "REF_TOO_LONG",
        Variant("chr1", 30, seq[29], other(seq[29])): "NEAR_CONTIG_END",
        Variant("chr1", CONTIG_LEN - 40, seq[-41], other(seq[-41])): "NEAR_CONTIG_END",
        Variant("chr1", 1100, other(seq[1099]), seq[1099]): "REF_MISMATCH",
        Variant("chrZ", 1100, "A", "C"): "CONTIG_NOT_FOUND",
    }
    results = engine(world).score(list(cases))
    assert [r.error.code if r.error else None for r in results] == list(cases.values())
    outside = engine(world).score([Variant("chr1", 200, seq[199], other(seq[199]))])[0]
    assert outside.error is None and outside.scores == ()          # no gene: no record
    first = engine(world).score([Variant("chr1", 501, seq[500], other(seq[500]))])[0]
    assert [s.gene for s in first.scores] == []    # a gene's first base is not in it (CLI)


def test_vcf_entries_are_the_cli_blocks(world):
    v = variants(world)[3]
    r = engine(world).score([v])[0]
    fmt = info_format("pangolin")
    one = fmt.entries(v.alt, r)
    assert len(one) == len(r.scores) >= 2
    for block, s in zip(one, r.scores):
        m = re.fullmatch(r"(\w+)\|(-?\d+):(-?\d\.\d\d?)\|(-?\d+):(-?\d\.\d\d?)\|Warnings:(\w*)",
                         block)
        assert m, block
        assert (m[1], int(m[2]), int(m[4]), m[6]) == (s.gene, s.gain_pos, s.loss_pos, s.warnings)
        assert abs(float(m[3]) - s.gain) <= 0.005 + 1e-9 and abs(float(m[5]) - s.loss) <= 0.005 + 1e-9
    two = fmt.entries(v.alt, r, n_alts=2)
    assert two == [f"{v.alt}|{b}" for b in one]
    assert fmt.header.startswith("##INFO=<ID=Pangolin,Number=.,Type=String,")


def test_default_mask_is_on_and_provenance_names_the_filter(world):
    e = engine(world)
    assert e.default_mask is True and e.provenance()["mask"] is True
    assert e.provenance()["annotation_filter"] == "Ensembl_canonical"
    assert engine(world, annotation_filter="None").provenance()["annotation_filter"] == "None"
    assert engine(world, model=world["model"]).default_mask is False     # SpliceAI's rule


def test_a_gene_table_annotation_works_as_one_canonical_transcript_per_gene(world):
    vs = variants(world)[:4]
    got = engine(world, annotation=world["genes"]).score(vs)
    assert {s.gene for r in got for s in r.scores} <= {"PLUS", "MINUS"}
    assert all(r.error is None for r in got)


def other(b: str) -> str:
    return "A" if b != "A" else "C"
