"""score_table, ScoreCache and `seqscore hail` with real Hail on local Spark (local[2]).

One Hail/Spark session for the whole run (conftest; JVM start-up is slow).  Most tests use the toy model;
identity with the engine under the real SpliceAI model runs when it has been exported
(`make models`).  Every test has a timeout, so a Spark hang fails instead of stalling CI.
"""

from __future__ import annotations

import os
import sys

import pytest

hl = pytest.importorskip("hail", reason="needs the hail extra: pip install '.[hail]'")
pytest.importorskip("pyarrow", reason="needs the hail extra: pip install '.[hail]'")

import hail_seqscore  # noqa: E402
from hail_seqscore import ScoreCache, ScoreStats, score_table  # noqa: E402
from hail_seqscore.engine import Engine, EngineConfig  # noqa: E402
from hail_seqscore.errors import (CacheProvenanceError, ConfigError,  # noqa: E402
                                  InputFormatError)
from hail_seqscore.hail.reference import attach_sequence, reference_genome_from_fasta  # noqa: E402
from hail_seqscore.models.registry import models_dir  # noqa: E402
from hail_seqscore.records import Variant  # noqa: E402
from toy_models import build_toy_model  # noqa: E402

pytestmark = pytest.mark.timeout(300)
RECODE = {"21": "chr21"}
DS = ("ds_ag", "ds_al", "ds_dg", "ds_dl")


@pytest.fixture(scope="module")
def chr21(shared_data):
    return shared_data / "grch38_chr21"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return str(build_toy_model(tmp_path_factory.mktemp("toy") / "toy.onnx"))


@pytest.fixture(scope="module")
def args(toy, chr21):
    return dict(model=toy, reference=str(chr21 / "chr21.fa.gz"),
                annotation=str(chr21 / "genes.grch38.spliceai.txt"), distance=50, mask=False)


def import_vcf(chr21, name, rg="GRCh38"):
    return hl.import_vcf(str(chr21 / name), reference_genome=rg,
                         contig_recoding=RECODE if rg == "GRCh38" else None)


def collect(data, name="seqscore"):
    rows = (data.rows() if isinstance(data, hl.MatrixTable) else data).collect()
    return {(r.locus.contig, r.locus.position, tuple(r.alleles)): r[name] for r in rows}


def expected(args, keys):
    """What the engine gives, per key row, as score_table should shape it."""
    keys = list(keys)
    variants = [Variant(c, p, al[0], alt) for c, p, al in keys for alt in al[1:]]
    results = iter(Engine(EngineConfig(**args)).score(variants))
    out = {}
    for contig, pos, alleles in keys:
        scores, codes = [], []
        for alt in alleles[1:]:
            r = next(results)
            assert r.variant.alt == alt
            if r.error:
                codes.append(r.error.code)
            scores += [dict(s.to_dict(), allele=alt) for s in r.scores]
        vals = [max(s[f] for f in DS) for s in scores if s["ds_ag"] is not None]
        out[(contig, pos, tuple(alleles))] = (scores, max(vals) if vals else None,
                                              codes[0] if codes else None)
    return out


def assert_same(got, want):
    assert set(got) == set(want)
    for key, (scores, max_ds, code) in want.items():
        g = got[key]
        assert [dict(s) for s in g.scores] == scores, key
        assert g.max_ds == max_ds and g.reason_code == code, key


def test_import_without_hail_is_lazy():
    import subprocess

    code = ("import sys, hail_seqscore, hail_seqscore.engine, hail_seqscore.cli; "
            "sys.exit('hail' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    assert hail_seqscore.score_table is score_table


def test_matrix_table_matches_engine_and_scores_each_key_once(hail_session, chr21, args):
    mt = import_vcf(chr21, "indels.vcf")
    mt = mt.union_rows(mt)            # duplicate rows: each distinct key is still scored once
    stats = ScoreStats()
    out = score_table(mt, **args, stats=stats)
    got = collect(out)
    collect(out)                      # using the result again must not rescore
    assert stats.to_score == len(got) == 70 and stats.scored == 70
    assert any(len(k[2]) > 2 for k in got)          # two-ALT records are scored per ALT
    assert_same(got, expected(args, got))
    prov = hl.eval(out.seqscore_provenance)
    assert prov.model == "toy" and prov.distance == 50 and prov.mask is False
    assert len(prov.model_sha256) == 64 and prov.reference == args["reference"]
    assert prov.hail_seqscore_version == hail_seqscore.__version__


def test_table_identical_across_partitions(hail_session, chr21, args):
    ht = import_vcf(chr21, "dbsnp_snvs.vcf").rows()
    results = []
    for n in (1, 3, 8):
        part = ht.repartition(n)
        assert part.n_partitions() == n
        results.append(collect(score_table(part, **args, n_partitions=n, name="splice"),
                               "splice"))
    assert len(results[0]) == 132
    assert results[0] == results[1] == results[2]
    assert_same(results[0], expected(args, results[0]))


def test_shipped_files_give_the_same_scores(hail_session, chr21, args):
    """The cluster route: model, FASTA (+ .fai, .gzi) and gene table fetched per executor with
    SparkContext.addFile and opened from SparkFiles, forced here on the local master."""
    ht = import_vcf(chr21, "indels.vcf").rows()
    shipped = collect(score_table(ht, **args, ship_files=True))
    registered = hl.spark_context()._seqscore_shipped
    assert any(u.endswith("chr21.fa.gz.gzi") for u in registered)
    assert shipped == collect(score_table(ht, **args))


def test_custom_reference_written_and_read_back(hail_session, chr21, args):
    rg = reference_genome_from_fasta(args["reference"], name="chr21_test")
    assert rg.contigs == ["21"] and rg.has_sequence()
    mt = import_vcf(chr21, "indels.vcf", rg=rg)
    path = str(hail_session / "custom.ht")
    mt.rows().select().write(path, overwrite=True)
    ht = hl.read_table(path)
    rg_back = ht.locus.dtype.reference_genome
    assert rg_back.name == "chr21_test" and not rg_back.has_sequence()
    attach_sequence(rg_back, args["reference"])
    assert hl.eval(hl.get_sequence("21", 25597400, reference_genome=rg_back)) == "G"
    got = collect(score_table(ht, **args))
    assert {k[0] for k in got} == {"21"}
    want = expected(args, [("chr21", p, a) for _, p, a in got])
    assert_same({("chr21",) + k[1:]: v for k, v in got.items()}, want)


def test_unscorable_rows_get_reasons_and_empty_table(hail_session, args):
    rows = [("chr21", 25597400, ["G", "T"]), ("chr21", 25597400, ["A", "C"]),   # REF mismatch
            ("chr22", 20000000, ["A", "C"]),                                     # no such contig
            ("chr21", 25597400, ["G", "<DEL>"]), ("chr21", 9_000_000, ["N", "A"])]
    ht = hl.Table.parallelize(
        [{"locus": hl.Locus(c, p, "GRCh38"), "alleles": a} for c, p, a in rows],
        hl.tstruct(locus=hl.tlocus("GRCh38"), alleles=hl.tarray(hl.tstr)),
        key=["locus", "alleles"])
    got = collect(score_table(ht, **args))
    by = {k[1:]: v for k, v in got.items()}
    assert by[(25597400, ("G", "T"))].max_ds is not None
    mm = by[(25597400, ("A", "C"))]
    assert mm.reason_code == "REF_MISMATCH" and mm.max_ds is None and "chr21:25597400" in mm.reason
    assert by[(20000000, ("A", "C"))].reason_code == "CONTIG_NOT_FOUND"
    assert by[(25597400, ("G", "<DEL>"))].reason_code == "UNSUPPORTED_VARIANT"
    nogene = by[(9_000_000, ("N", "A"))]
    assert nogene.scores == [] and nogene.reason_code is None and nogene.max_ds is None
    empty = score_table(ht.filter(False), **args)
    assert empty.count() == 0 and "seqscore" in empty.row


def test_cache_hits_misses_and_provenance(hail_session, chr21, args):
    mt = import_vcf(chr21, "dbsnp_snvs.vcf")
    cache = ScoreCache(str(hail_session / "scores_cache.ht"))
    part = mt.filter_rows(mt.locus.position < 25_800_000)
    n_part = part.count_rows()
    assert 0 < n_part < 132
    s1, s2, s3 = ScoreStats(), ScoreStats(), ScoreStats()
    first = collect(score_table(part, **args, cache=cache, stats=s1))
    assert s1.to_score == s1.scored == n_part and cache.table().count() == n_part
    full = collect(score_table(mt, **args, cache=cache, stats=s2))
    assert s2.to_score == s2.scored == 132 - n_part           # only the misses
    assert cache.table().count() == 132
    assert all(full[k] == v for k, v in first.items())
    assert full == collect(score_table(mt, **args))            # same as without a cache
    collect(score_table(mt, **args, cache=cache, stats=s3))
    assert s3.to_score == 0 and s3.scored == 0                 # all hits
    with pytest.raises(CacheProvenanceError, match="distance: cache has 50, this run has 10"):
        score_table(mt, **dict(args, distance=10), cache=cache)


def test_bad_keys_and_names(hail_session, args):
    ht = hl.utils.range_table(3)
    with pytest.raises(InputFormatError, match=r"keyed by \[locus.*it is keyed by \[idx: int32\]"):
        score_table(ht, **args)
    ht = ht.key_by(locus=hl.locus("chr21", 25597400 + ht.idx, "GRCh38"), alleles=["G", "T"])
    with pytest.raises(ConfigError, match="already has a field 'idx'"):
        score_table(ht, **args, name="idx")
    with pytest.raises(ConfigError, match="reference="):
        score_table(ht, model=args["model"])


def test_cli_writes_table_and_vcf_like_seqscore_score(hail_session, chr21, args, capsys):
    from hail_seqscore.cli import main

    out_ht, out_vcf = str(hail_session / "cli.mt"), str(hail_session / "cli.vcf.bgz")
    common = ["-R", args["reference"], "-A", args["annotation"], "--model", args["model"]]
    assert main(["hail", "-I", str(chr21 / "indels.vcf"), "-O", out_ht, "--export-vcf",
                 out_vcf, *common]) == 0
    assert "70 rows" in capsys.readouterr().err
    mt = hl.read_matrix_table(out_ht)
    assert mt.count_rows() == 70 and "seqscore" in mt.row
    ref_vcf = str(hail_session / "score.vcf")
    assert main(["score", "-I", str(chr21 / "indels.vcf"), "-O", ref_vcf, "-q", *common]) == 0
    def info(path):
        import pysam

        with pysam.VariantFile(path) as f:
            return {(r.pos, r.ref, r.alts): tuple(r.info.get("SpliceAI", ())) for r in f}
    assert info(out_vcf) == info(ref_vcf)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_real_spliceai_matches_engine(hail_session, chr21, args):
    model = models_dir() / "spliceai.onnx"
    if not model.is_file():
        pytest.skip(f"the real model is not exported at {model} (run `make models`)")
    real = dict(args, model=str(model))
    # a subsample (the real model takes ~1 CPU-s per variant): every 12th record of both
    # files, two-ALT records included
    mt = import_vcf(chr21, "indels.vcf").union_rows(import_vcf(chr21, "dbsnp_snvs.vcf"))
    mt = mt.add_row_index()
    mt = mt.filter_rows((mt.row_idx % 12 == 0) | (hl.len(mt.alleles) > 2)).drop("row_idx")
    got = collect(score_table(mt, **real))
    assert 15 < len(got) < 30 and any(len(k[2]) > 2 for k in got)
    assert_same(got, expected(real, got))


def _round(x):
    return None if x is None else float(f"{x:.2f}")


def test_shards_route_outside_spark(hail_session, chr21, args):
    import glob

    from hail_seqscore.cli import main
    from hail_seqscore.hail.shards import export_shards, import_scored, join_scores

    mt = import_vcf(chr21, "indels.vcf")
    shards = export_shards(mt, str(hail_session / "shards"), n_shards=3)
    parts = sorted(glob.glob(f"{shards}/part-*"))
    assert len(parts) == 3
    scored_dir = hail_session / "scored"
    scored_dir.mkdir()
    for part in parts:
        out = str(scored_dir / (os.path.basename(part).split(".")[0] + ".vcf.gz"))
        assert main(["score", "-I", part, "-O", out, "-q", "--flag-skipped", "-R",
                     args["reference"], "-A", args["annotation"], "--model", args["model"]]) == 0
    scores = import_scored(str(scored_dir / "*.vcf.gz"), contig_recoding=RECODE)
    joined = collect(join_scores(mt, scores))
    direct = collect(score_table(mt, **args))
    assert joined.keys() == direct.keys()
    for key, d in direct.items():
        j = joined[key]
        assert [(s.allele, s.gene, *(_round(s[f]) for f in DS)) for s in d.scores] == \
            [(s.allele, s.gene, *(s[f] for f in DS)) for s in j.scores], key
        assert j.reason_code == d.reason_code, key
