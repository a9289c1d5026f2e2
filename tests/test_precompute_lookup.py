"""Precomputed files read back as VEP's SpliceAI plugin (SpliceAI.pm, VEP 115) reads them: every
SNV and indel of a region scored by the engine is found, for each of its genes, with the value the
plugin would print; one record per ALT and gene, both files tabix-indexed, with one header
convention; the run reports progress to the end with an ETA."""

import re

import pysam
import pytest

from hail_seqscore.cli import main
from hail_seqscore.engine import Engine, EngineConfig
from hail_seqscore.kinds.splice import SPLICEAI
from hail_seqscore.precompute import (count_variants, parse_region, precompute, region_indels,
                                      region_snvs)
from synthetic import make_world

# 1191-1215: PLUS's first bases (TX_START 500 … ), 1201+ also in MINUS (two genes on opposite
# strands); 490-505: PLUS starts at 501, so bases 490-500 are in no gene
REGIONS = ["chr1:1191-1215", "chr1:490-505"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("prelookup"))


@pytest.fixture(scope="module")
def files(world, tmp_path_factory):
    d = tmp_path_factory.mktemp("prelookup_out")
    snv, indel = d / "spliceai_scores.raw.snv.vcf.gz", d / "spliceai_scores.raw.indel.vcf.gz"
    args = ["precompute", "-R", world["ref"], "-A", world["genes"], "--model", world["model"],
            "-D", "20", "-O", str(snv), "--indels", str(indel)]
    for r in REGIONS:
        args += ["--region", r]
    assert main(args) == 0
    return snv, indel


def vep_coordinates(pos, ref, alt):
    """VEP's start/end of a VCF allele (anchor base trimmed; an insertion has end = start - 1),
    ordered as SpliceAI.pm orders them before get_data."""
    if len(ref) == len(alt):
        return pos, pos
    start, end = pos + 1, pos + len(ref) - 1
    return min(start, end), max(start, end)


def spliceai_pm_lookup(tabix_files, chrom, pos, ref, alt):
    """SpliceAI.pm's run(): records of every file overlapping the variant (tabix by position),
    parsed as its parse_data (INFO 'SpliceAI=' removed, split at the first two '|' into allele,
    gene and the rest), kept where POS, REF and ALT equal the VCF allele's; {gene: SYMBOL|DS…|DP…}."""
    start, end = vep_coordinates(pos, ref, alt)
    found = {}
    for tbx in tabix_files:
        for line in tbx.fetch(chrom, start - 1, end):
            c, p, _, r, a, _, _, info = line.split("\t")[:8]
            info = info.replace("SpliceAI=", "", 1)
            allele, gene, rest = (info.split("|", 2) + ["", ""])[:3]
            if int(p) == pos and r == ref and a == alt:
                found[gene] = gene + "|" + rest
    return found


def test_every_scored_variant_is_found_as_spliceai_pm_finds_it(world, files):
    eng = Engine(EngineConfig(model=world["model"], reference=world["ref"],
                              annotation=world["genes"], distance=20))
    regions = [parse_region(r) for r in REGIONS]
    snvs = [v for r in regions for v in region_snvs(eng, r)]
    indels = [v for r in regions for v in region_indels(eng, r)]
    assert len(snvs) == 3 * 41 and len(indels) == 8 * 41
    tbx = [pysam.TabixFile(str(f)) for f in files]
    pairs = genes_seen = 0
    for res in eng.score(snvs + indels):
        v = res.variant
        assert res.error is None
        found = spliceai_pm_lookup(tbx, "chr1", v.pos, v.ref, v.alt)
        want = {s.gene: e.split("|", 1)[1] for s, e in zip(res.scores, SPLICEAI.entries(v.alt, res))}
        assert found == want, v        # every gene of the variant, nothing else
        pairs += len(want)
        genes_seen += len(want) == 2
    n_lines = sum(1 for t in tbx for _ in t.fetch("chr1"))
    assert n_lines == pairs                            # no record beyond the scored ones
    assert genes_seen == 11 * 15                       # 1201..1215 are in PLUS and MINUS
    assert pairs == 11 * (25 + 15 + 5)                 # 490..500 are in no gene: not written


def test_one_record_per_alt_and_gene_sorted_and_indexed(files):
    for f, alleles in zip(files, ({"snv"}, {"ins", "del"})):
        assert f.with_name(f.name + ".tbi").is_file()
        kinds, last = set(), 0
        with pysam.BGZFile(str(f), "rb") as fh:
            for line in fh.read().decode().splitlines():
                if line.startswith("#"):
                    continue
                c, p, i, r, a, q, flt, info = line.split("\t")
                assert (i, q, flt) == (".", ".", ".") and info.startswith("SpliceAI=")
                assert "," not in info and ";" not in info and info.count("|") == 9
                assert info.split("=", 1)[1].split("|")[0] == a          # ALLELE is the ALT
                assert int(p) >= last
                last = int(p)
                kinds.add("snv" if len(r) == len(a) == 1 else "ins" if len(a) == 2 and len(r) == 1
                          else "del" if len(a) == 1 and 2 <= len(r) <= 5 else "?")
        assert kinds == alleles


def test_both_files_have_one_header_convention(files):
    heads = [pysam.TabixFile(str(f)).header for f in files]
    heads = [[h for h in head if not h.startswith("##source=")] for head in heads]
    assert heads[0] == heads[1]
    head = heads[0]
    assert head[0] == "##fileformat=VCFv4.2" and re.fullmatch(r"##fileDate=\d{8}", head[1])
    assert "##contig=<ID=chr1,length=3000>" in head
    info = [h for h in head if h.startswith("##INFO=<ID=SpliceAI,")]
    # SpliceAI.pm takes the tool version from this line (SpliceAIv[\d.]+)
    assert len(info) == 1 and re.search(r"SpliceAIv[\d.]+", info[0])
    assert "Format: ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL" in info[0]


def test_progress_counts_every_variant_with_an_eta(world, tmp_path, capsys):
    eng = Engine(EngineConfig(model=world["model"], reference=world["ref"],
                              annotation=world["genes"], distance=20))
    regions = [parse_region("chr1:1191-1290")]
    total = count_variants(eng, regions, snvs=True, indels=True)
    assert total == 11 * 100
    calls = []
    stats = precompute(eng, regions, str(tmp_path / "s.vcf.gz"),
                       indels_path=str(tmp_path / "i.vcf.gz"), chunk=110, on_progress=calls.append)
    assert calls == [110] * 10 and stats.variants == total
    assert (stats.snvs, stats.indels) == (300, 800)
    assert main(["precompute", "-R", world["ref"], "-A", world["genes"], "--model",
                 world["model"], "-D", "20", "--region", "chr1:1191-1290", "--indels",
                 str(tmp_path / "i2.vcf.gz"), "--progress", "on"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"\r0/800 variants \(0%\), 0\.0/s, ETA \?", err)
    assert re.search(r"\r800/800 variants \(100%\), [\d.]+/s, ETA 0:00:00", err)
    assert "800 indels scored" in err and "SNVs" not in err.splitlines()[-1]
