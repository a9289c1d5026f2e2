"""precompute_table / `seqscore hail precompute` on local Spark (local[2]): every SNV of a region
scored across partitions, into a Hail table and precomputed-format VCF shards identical to
`seqscore precompute` on the same region.

Real GRCh38 chr21 sequence and genes (../shared/data; skipped where absent); the toy model for
the plumbing and, where it has been exported, the real SpliceAI model on a short stretch.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

hl = pytest.importorskip("hail", reason="needs the hail extra: pip install '.[hail]'")
pytest.importorskip("pyarrow", reason="needs the hail extra: pip install '.[hail]'")
pysam = pytest.importorskip("pysam")

from hail_seqscore import ScoreCache, ScoreStats, precompute_table, score_table  # noqa: E402
from hail_seqscore.cli import main  # noqa: E402
from hail_seqscore.errors import ConfigError  # noqa: E402
from hail_seqscore.hail.precompute import (PrecomputeTableStats, deal,  # noqa: E402
                                           gene_regions, plan_chunks)
from hail_seqscore.models.registry import models_dir, precision_path  # noqa: E402
from hail_seqscore.precompute import Region, parse_region  # noqa: E402
from toy_models import build_toy_model  # noqa: E402

pytestmark = pytest.mark.timeout(600)
#: 300 bp where ATP5J (−) ends and GABPA (+) begins: SNVs scored against two genes
REGION = "21:25734801-25735100"


@pytest.fixture(scope="module")
def chr21(shared_data):
    d = shared_data / "grch38_chr21"
    if not (d / "chr21.fa.gz").is_file():
        pytest.skip(f"the real chr21 data is not at {d}")
    return d


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return str(build_toy_model(tmp_path_factory.mktemp("toy") / "toy.onnx"))


def read_vcf(path) -> tuple[list[str], list[str]]:
    """(header lines, record lines) of a bgzipped VCF."""
    with gzip.open(path, "rt") as f:
        lines = f.read().splitlines()
    return [x for x in lines if x.startswith("#")], [x for x in lines if not x.startswith("#")]


def seqscore_precompute(tmp: Path, chr21: Path, model: str, regions: list[str]) -> Path:
    out = tmp / "precompute.vcf.gz"
    args = ["precompute", "-R", str(chr21 / "chr21.fa.gz"), "-A",
            str(chr21 / "genes.grch38.spliceai.txt"), "--model", model, "-O", str(out),
            "--progress", "off"]
    for r in regions:
        args += ["--region", r]
    assert main(args) == 0
    return out


def shards_records(stats: PrecomputeTableStats, header: list[str]) -> list[str]:
    """The shards' records in shard order; each shard has ``header`` and a working index."""
    records = []
    for path in stats.shards:
        h, recs = read_vcf(path)
        assert h == header, path
        with pysam.TabixFile(path) as tbx:          # the .tbi is there and matches
            assert sum(1 for c in tbx.contigs for _ in tbx.fetch(c)) == len(recs)
        records += recs
    return records


def test_chunks_merge_split_and_balance():
    regions = [Region("21", 0, 450), Region("21", 400, 1000), Region("22", 0, 100)]
    chunks = plan_chunks(regions, chunk_bp=300)
    assert chunks == [Region("21", 0, 300), Region("21", 300, 600), Region("21", 600, 900),
                      Region("21", 900, 1000), Region("22", 0, 100)]
    groups = deal(chunks, 2)
    assert [c for g in groups for c in g] == chunks          # every chunk once, in order
    assert [sum(c.end - c.start for c in g) for g in groups] == [600, 500]
    assert deal(chunks, 50) == [[c] for c in chunks]        # never an empty partition
    with pytest.raises(ConfigError):
        plan_chunks(regions, chunk_bp=0)


def test_gene_regions_are_exons_with_flanks(chr21):
    genes = str(chr21 / "genes.grch38.spliceai.txt")
    regions = gene_regions(genes, ["ATP5J"], flank=50)
    # ATP5J: 5 exons; the first 25724479-25724677 (0-based start, 1-based end)
    assert len(regions) == 5
    assert regions[0] == Region("21", 25724479 - 50, 25724677 + 50)
    with pytest.raises(ConfigError, match="NOT_A_GENE"):
        gene_regions(genes, ["ATP5J", "NOT_A_GENE"])


def test_toy_identical_to_seqscore_precompute(hail_session, chr21, toy, tmp_path):
    """Split into 3 chunks over 2 partitions: the shards' records, in order, are the records of
    `seqscore precompute` byte for byte; every SNV scored once; the table has a row per SNV."""
    want_header, want = read_vcf(seqscore_precompute(tmp_path, chr21, toy, [REGION]))
    stats = PrecomputeTableStats()
    ht = precompute_table([REGION], reference=str(chr21 / "chr21.fa.gz"),
                          annotation=str(chr21 / "genes.grch38.spliceai.txt"), model=toy,
                          mask=False, output=str(tmp_path / "pre.ht"),
                          vcf_dir=str(tmp_path / "shards"), chunk_bp=100, n_partitions=2,
                          stats=stats)
    assert (stats.chunks, stats.partitions, len(stats.shards)) == (3, 2, 2)
    assert shards_records(stats, want_header) == want
    assert len(want) > stats.variants          # two genes: some SNVs have two records
    region = parse_region(REGION)
    assert stats.variants == 3 * (region.end - region.start)     # real sequence: no N here
    assert stats.scored == stats.variants                        # each scored exactly once
    rows = ht.collect()
    assert len(rows) == stats.variants
    assert len({(r.locus.position, tuple(r.alleles)) for r in rows}) == len(rows)
    assert all(r.locus.contig == "chr21" and len(r.alleles) == 2 for r in rows)
    assert sum(len(r.scores) for r in rows) == len(want)      # one entry per ALT and gene
    assert all(r.reason_code is None for r in rows)


def test_table_is_a_score_cache(hail_session, chr21, toy, tmp_path):
    """score_table over some of the precomputed SNVs scores none of them: all cache hits,
    scores equal to a fresh score_table."""
    common = dict(reference=str(chr21 / "chr21.fa.gz"),
                  annotation=str(chr21 / "genes.grch38.spliceai.txt"), model=toy, mask=False)
    pre = str(tmp_path / "pre.ht")
    precompute_table(["21:25734861-25734900"], output=pre, **common)
    keys = hl.read_table(pre).select().select_globals()
    keys = keys.filter(keys.locus.position % 3 == 0)
    n = keys.count()
    stats = ScoreStats()
    got = score_table(keys, **common, cache=ScoreCache(pre), stats=stats).collect()
    fresh = {(r.locus.position, tuple(r.alleles)): r.seqscore
             for r in score_table(keys, **common).collect()}
    assert len(got) == n == len(fresh) and stats.to_score == 0
    assert all(r.seqscore == fresh[(r.locus.position, tuple(r.alleles))] for r in got)


def test_fp16_ships_the_half_precision_copy(hail_session, chr21, toy, tmp_path):
    """precision="fp16": precompute_table and score_table plan, record and open the model's
    .fp16.onnx copy (an fp16 session refuses the fp32 graph)."""
    from export.onnx_export import _write_fp16

    half = precision_path(toy, "fp16")
    if not half.exists():
        _write_fp16(Path(toy), half)
    common = dict(reference=str(chr21 / "chr21.fa.gz"),
                  annotation=str(chr21 / "genes.grch38.spliceai.txt"), model=toy, mask=False,
                  precision="fp16")
    digest = hashlib.sha256(half.read_bytes()).hexdigest()
    stats = PrecomputeTableStats()
    ht = precompute_table(["21:25734861-25734880"], **common, stats=stats)
    assert {p for what, p in stats.opened if what == "model"} == {str(half)}
    prov = hl.eval(ht.provenance)
    assert prov.model_sha256 == digest and prov.precision == "fp16"
    assert ht.count() == stats.scored == 60
    s = ScoreStats()
    out = score_table(ht.select().select_globals(), **common, stats=s)
    assert hl.eval(out.seqscore_provenance.model_sha256) == digest
    assert out.count() == 60 and {p for what, p in s.opened if what == "model"} == {str(half)}


def test_refused_before_spark_work(hail_session, chr21, toy, tmp_path):
    common = dict(reference=str(chr21 / "chr21.fa.gz"),
                  annotation=str(chr21 / "genes.grch38.spliceai.txt"), model=toy)
    with pytest.raises(ConfigError, match="not in the reference genome"):
        precompute_table(["chrUn_x:1-10"], **common)
    with pytest.raises(ConfigError, match="no regions"):
        precompute_table([], **common)
    existing = tmp_path / "exists.ht"
    existing.mkdir()
    with pytest.raises(ConfigError, match="exists"):
        precompute_table(["21:25734861-25734870"], output=str(existing), **common)
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "part-00007.vcf.gz").write_bytes(b"")      # an earlier run's shard
    with pytest.raises(ConfigError, match="earlier run"):
        precompute_table(["21:25734861-25734870"], vcf_dir=str(shards), **common)
    precompute_table(["21:25734861-25734870"], vcf_dir=str(shards), overwrite=True, **common)
    assert [p.name for p in shards.glob("part-*.vcf.gz")] == ["part-00000.vcf.gz"]


def test_cli_hail_precompute(hail_session, chr21, toy, tmp_path, capsys):
    bed = tmp_path / "regions.bed"
    bed.write_text("21\t25734800\t25734900\n21\t25734850\t25734950\n")   # overlapping: merged
    want_header, want = read_vcf(seqscore_precompute(tmp_path, chr21, toy,
                                                     ["21:25734801-25734950"]))
    out, shards = tmp_path / "cli.ht", tmp_path / "cli_shards"
    rc = main(["hail", "precompute", "--bed", str(bed), "-R", str(chr21 / "chr21.fa.gz"),
               "-A", str(chr21 / "genes.grch38.spliceai.txt"), "--model", toy,
               "-O", str(out), "--vcf-dir", str(shards), "--chunk-bp", "50"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "450 SNVs" in err and "450 scored" in err
    got = []
    for path in sorted(shards.glob("part-*.vcf.gz")):
        h, recs = read_vcf(path)
        assert h == want_header
        got += recs
    assert got == want
    assert hl.read_table(str(out)).count() == 450


def test_real_spliceai_identical_to_seqscore_precompute(hail_session, chr21, tmp_path):
    model = models_dir() / "spliceai.onnx"
    if not model.is_file():
        pytest.skip(f"the real model is not exported at {model} (run `make models`)")
    region = "21:25734881-25734910"          # 30 bp across ATP5J's last exon end: 90 SNVs
    want_header, want = read_vcf(seqscore_precompute(tmp_path, chr21, str(model), [region]))
    stats = PrecomputeTableStats()
    precompute_table([region], reference=str(chr21 / "chr21.fa.gz"),
                     annotation=str(chr21 / "genes.grch38.spliceai.txt"), model=str(model),
                     mask=False, vcf_dir=str(tmp_path / "shards"), chunk_bp=15,
                     n_partitions=2, stats=stats)
    assert shards_records(stats, want_header) == want
    assert stats.scored == stats.variants == 90
