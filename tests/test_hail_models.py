"""score_table and `seqscore hail` with models other than SpliceAI: the model's kind decides the
result's fields, its scorer the VCF INFO key; a model with no Hail output is refused on the
driver.  Toy models (100-bp context) with the spec's scorer set; real Hail on local Spark, one
session for the run (conftest).
"""

from __future__ import annotations

import gzip

import pytest

hl = pytest.importorskip("hail", reason="needs the hail extra: pip install '.[hail]'")
pytest.importorskip("pyarrow", reason="needs the hail extra: pip install '.[hail]'")

from hail_seqscore import ScoreCache, ScoreStats, score_table  # noqa: E402
from hail_seqscore.cli import main  # noqa: E402
from hail_seqscore.errors import (CacheProvenanceError, InputFormatError,  # noqa: E402
                                  ModelFormatError)
from hail_seqscore.hail.schema import RESULT  # noqa: E402
from hail_seqscore.kinds.splice import OPENSPLICEAI  # noqa: E402
from test_hail_ops import (DS, RECODE, _round, assert_same, collect, expected,  # noqa: E402
                           import_vcf)
from toy_models import (TOY_TRACKS, build_toy_model, build_toy_pangolin,  # noqa: E402
                        build_toy_tracks)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def chr21(shared_data):
    return shared_data / "grch38_chr21"


@pytest.fixture(scope="module")
def toys(tmp_path_factory):
    """One toy model per scorer (same weights; only the spec's scorer differs)."""
    d = tmp_path_factory.mktemp("toys")
    toys = {s: str(build_toy_model(d / f"toy_{s}.onnx", scorer=s))
            for s in ("spliceai", "openspliceai", "tracks")}
    toys["pangolin"] = str(build_toy_pangolin(d / "toy_pangolin.onnx"))
    toys["tracks_model"] = str(build_toy_tracks(d / "toy_track_model.onnx"))
    return toys


@pytest.fixture(scope="module")
def args(toys, chr21):
    return dict(model=toys["openspliceai"], reference=str(chr21 / "chr21.fa.gz"),
                annotation=str(chr21 / "genes.grch38.spliceai.txt"), distance=50, mask=False)


def _vcf(path):
    """(header lines, {(pos, ref, alt): INFO}) of a (b)gzipped or plain VCF."""
    opener = gzip.open if str(path).endswith((".gz", ".bgz")) else open
    with opener(path, "rt") as f:
        lines = f.read().splitlines()
    header = [ln for ln in lines if ln.startswith("#")]
    recs = {tuple(ln.split("\t")[1:5]): ln.split("\t")[7] for ln in lines
            if not ln.startswith("#")}
    return header, recs


def test_openspliceai_matches_engine_and_records_its_scorer(hail_session, chr21, args):
    mt = import_vcf(chr21, "indels.vcf")
    out = score_table(mt, **args)
    assert out.seqscore.dtype == RESULT                    # the splice kind's fields
    got = collect(out)
    assert len(got) == mt.count_rows() == 70               # rows in = rows out
    assert_same(got, expected(args, got))
    prov = hl.eval(out.seqscore_provenance)
    assert (prov.model, prov.kind, prov.scorer) == ("toy", "splice", "openspliceai")


def test_export_vcf_writes_the_models_own_key(hail_session, chr21, args, capsys):
    """`seqscore hail --export-vcf` (text route) and export_vcf (Hail route) write
    OpenSpliceAI's key and header, as `seqscore score` does; scored shards are read back from
    that key."""
    from hail_seqscore.hail.shards import import_scored, join_scores
    from hail_seqscore.hail.vcf_export import export_vcf

    common = ["-R", args["reference"], "-A", args["annotation"], "--model", args["model"]]
    out_mt, out_vcf = str(hail_session / "osai.mt"), str(hail_session / "osai.vcf.bgz")
    src = str(chr21 / "indels.vcf")
    assert main(["hail", "-I", src, "-O", out_mt, "--export-vcf", out_vcf, *common]) == 0
    assert "70 rows" in capsys.readouterr().err
    ref_vcf = str(hail_session / "osai_score.vcf.gz")
    assert main(["score", "-I", src, "-O", ref_vcf, "-q", "--flag-skipped", *common]) == 0
    header, recs = _vcf(out_vcf)
    ref_header, ref_recs = _vcf(ref_vcf)
    assert OPENSPLICEAI.header in header and OPENSPLICEAI.header in ref_header
    assert not any("ID=SpliceAI," in h for h in header)
    assert len(recs) == len(ref_recs) == 70
    assert recs == ref_recs                                  # every INFO byte for byte
    assert sum("OpenSpliceAI=" in i for i in recs.values()) > 30
    assert not any("SpliceAI=" in i.replace("OpenSpliceAI=", "") for i in recs.values())

    mt = hl.read_matrix_table(out_mt)
    hail_vcf = str(hail_session / "osai_hail.vcf")
    export_vcf(mt, "seqscore", hail_vcf)
    header, recs = _vcf(hail_vcf)
    assert any(h.startswith("##INFO=<ID=OpenSpliceAI,") for h in header)
    assert not any("ID=SpliceAI," in h for h in header)
    assert sum("OpenSpliceAI=" in i for i in recs.values()) > 30

    scores = import_scored(ref_vcf, contig_recoding=RECODE)  # the key the header declares
    assert hl.eval(scores.provenance.scorer) == "openspliceai"
    joined = collect(join_scores(mt.select_rows().select_globals(), scores))
    direct = collect(mt)
    assert joined.keys() == direct.keys()
    for key, d in direct.items():
        assert [(s.allele, s.gene, *(_round(s[f]) for f in DS)) for s in d.scores] == \
            [(s.allele, s.gene, *(s[f] for f in DS)) for s in joined[key].scores], key
        assert joined[key].reason_code == d.reason_code, key
    with pytest.raises(InputFormatError, match="declares no SpliceAI INFO field"):
        import_scored(ref_vcf, contig_recoding=RECODE, scorer="spliceai")


def test_cache_of_one_model_refused_for_another(hail_session, chr21, args, toys):
    mt = import_vcf(chr21, "indels.vcf")
    mt = mt.filter_rows(mt.locus.position < 26_000_000)
    cache = ScoreCache(str(hail_session / "spliceai_cache.ht"))
    score_table(mt, **dict(args, model=toys["spliceai"]), cache=cache)
    n = cache.table().count()
    assert n > 0
    stats = ScoreStats()
    with pytest.raises(CacheProvenanceError,
                       match="scorer: cache has 'spliceai', this run has 'openspliceai'"):
        score_table(mt, **args, cache=cache, stats=stats)
    assert stats.to_score == 0 and cache.table().count() == n   # untouched
    assert len(cache.appended()) == 1
    assert cache.provenance()["scorer"] == "spliceai"


def test_model_without_hail_output_refused_on_driver(hail_session, chr21, args, toys, capsys):
    mt = import_vcf(chr21, "indels.vcf")
    tracker = hl.spark_context().statusTracker()
    mt.rows().head(1).collect()                                      # a Spark job, seen
    jobs = set(tracker.getJobIdsForGroup())
    assert jobs
    with pytest.raises(ModelFormatError, match="scorer 'tracks'.* no Hail output yet"):
        score_table(mt, **dict(args, model=toys["tracks"]))
    assert set(tracker.getJobIdsForGroup()) == jobs                 # no Spark job ran
    out = hail_session / "tracks.mt"
    rc = main(["hail", "-I", str(chr21 / "indels.vcf"), "-O", str(out), "--export-vcf",
               "-R", args["reference"], "-A", args["annotation"], "--model", toys["tracks"]])
    err = capsys.readouterr().err
    assert rc == 65 and not out.exists()
    assert err.count("\n") == 1 and "no Hail output yet" in err and "Traceback" not in err
    assert set(tracker.getJobIdsForGroup()) == jobs
    assert "scored as spliceai or openspliceai or pangolin" in err


def test_pangolin_rows_carry_its_record_and_export_its_cli_value(hail_session, chr21, toys,
                                                                 tmp_path, capsys):
    """score_table with a Pangolin model: its own per-gene record (gain/loss), values equal
    to the engine's, default masking on, the GTF filter applied; `seqscore hail --export-vcf`
    writes the Pangolin= value that `seqscore score` writes."""
    from hail_seqscore.engine import Engine, EngineConfig
    from hail_seqscore.records import Variant

    gtf = str(chr21 / "custom_test.gtf.gz")
    common = dict(model=toys["pangolin"], reference=str(chr21 / "chr21.fa.gz"), annotation=gtf)
    mt = import_vcf(chr21, "indels.vcf")
    out = score_table(mt, **common, annotation_filter="None")
    fields = out.seqscore.dtype["scores"].element_type
    assert list(fields) == ["allele", "gene", "strand", "gain", "gain_pos", "loss", "loss_pos",
                            "warnings"]
    prov = hl.eval(out.seqscore_provenance)
    assert (prov.scorer, prov.mask, prov.annotation_filter) == ("pangolin", True, "None")
    rows = out.rows().collect()
    eng = Engine(EngineConfig(**common, annotation_filter="None"))
    variants = [Variant(r.locus.contig.replace("chr", ""), r.locus.position, r.alleles[0], a)
                for r in rows for a in r.alleles[1:]]
    want = {(v.pos, v.alt): res for v, res in zip(variants, eng.score(variants))}
    n = 0
    for r in rows:
        for s in r.seqscore.scores:
            w = next(x for x in want[(r.locus.position, s.allele)].scores if x.gene == s.gene)
            assert (s.gain_pos, s.loss_pos, s.strand, s.warnings) == (
                w.gain_pos, w.loss_pos, w.strand, w.warnings)
            assert s.gain == pytest.approx(w.gain, abs=1e-7)
            assert s.loss == pytest.approx(w.loss, abs=1e-7)
            n += 1
    assert n >= 10
    hail_vcf, cli_vcf = tmp_path / "hail.vcf", tmp_path / "cli.vcf"
    rc = main(["hail", "-I", str(chr21 / "indels.vcf"), "-O", str(tmp_path / "p.mt"),
               "--export-vcf", str(hail_vcf), "-R", common["reference"], "-A", gtf,
               "--gtf-filter", "None", "--model", toys["pangolin"]])
    assert rc == 0, capsys.readouterr().err
    rc = main(["score", "-I", str(chr21 / "indels.vcf"), "-O", str(cli_vcf), "-R",
               common["reference"], "-A", gtf, "--gtf-filter", "None", "--model",
               toys["pangolin"], "-q"])
    assert rc == 0
    _, from_hail = _vcf(hail_vcf)
    _, from_cli = _vcf(cli_vcf)
    assert from_hail == from_cli and any("Pangolin=" in v for v in from_cli.values())


def test_track_model_rows_carry_effects_and_the_track_table(hail_session, chr21, toys, capsys):
    """A track model: per ALT its effects (array<float32>, the model's track order), reduction,
    max_abs_effect and top_track, equal to the engine's; the track table as a global; VCF
    export refused in one line (seqscore score writes it)."""
    from hail_seqscore.engine import Engine, EngineConfig
    from hail_seqscore.records import Variant

    common = dict(model=toys["tracks_model"], reference=str(chr21 / "chr21.fa.gz"))
    mt = import_vcf(chr21, "indels.vcf")
    out = score_table(mt, **common, annotation="grch38", distance=20, reduction="max_abs_diff")
    entry = out.seqscore.dtype["scores"].element_type
    assert list(entry) == ["allele", "effects", "reduction", "max_abs_effect", "top_track"]
    assert entry["effects"] == hl.tarray(hl.tfloat32)
    assert [t.name for t in hl.eval(out.seqscore_tracks)] == [t["name"] for t in TOY_TRACKS]
    assert hl.eval(out.seqscore_provenance.reduction) == "max_abs_diff"
    rows = out.rows().collect()
    eng = Engine(EngineConfig(**common, distance=20, reduction="max_abs_diff"))
    n = 0
    for r in rows:
        vs = [Variant(r.locus.contig.replace("chr", ""), r.locus.position, r.alleles[0], a)
              for a in r.alleles[1:]]
        for s, res in zip(r.seqscore.scores, eng.score(vs)):
            want = res.scores[0]
            assert s.effects == pytest.approx(list(want.effects), abs=1e-6, rel=1e-6)
            assert (s.top_track, s.reduction) == (want.top_track, "max_abs_diff")
            n += 1
        assert r.seqscore.max_ds == pytest.approx(max(s.max_abs_effect
                                                      for s in r.seqscore.scores))
    assert n >= 10
    rc = main(["hail", "-I", str(chr21 / "indels.vcf"), "-O", str(hail_session / "t.mt"),
               "--export-vcf", str(hail_session / "t.vcf"), "-R", common["reference"],
               "--model", toys["tracks_model"]])
    err = capsys.readouterr().err
    assert rc == 64 and "not available from Hail" in err and "Traceback" not in err
