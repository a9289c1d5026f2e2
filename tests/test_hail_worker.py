"""The parts of the Hail integration that run without Spark: the worker's scoring of key
rows (real Engine, toy model, real chr21 data) and the plan for shipping files."""

from __future__ import annotations

import pytest

from hail_seqscore.engine import Engine, EngineConfig
from hail_seqscore.errors import ConfigError, ReferenceFormatError, ReferenceUnavailableError
from hail_seqscore.hail.files import fasta_index, is_uri, plan_files, reference_companions
from hail_seqscore.hail.worker import (NO_ALT, make_batch_scorer, resolve_shipped, score_rows,
                                       worker_engine)
from hail_seqscore.records import Variant
from toy_models import build_toy_model


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return str(build_toy_model(tmp_path_factory.mktemp("toy") / "toy.onnx"))


@pytest.fixture(scope="module")
def chr21(shared_data):
    return shared_data / "grch38_chr21"


@pytest.fixture(scope="module")
def settings(toy, chr21):
    return dict(model=toy, reference=str(chr21 / "chr21.fa.gz"),
                annotation=str(chr21 / "genes.grch38.spliceai.txt"), distance=50, mask=False,
                batch_size=64, threads=1, providers=None, pad_edges=False,
                score_complex=False)


def test_rows_match_engine_per_alt(settings):
    engine = worker_engine(settings)
    # a two-ALT SNV in MRPL39, an SNV, an ALT-less row, a REF mismatch
    rows = [("chr21", 25585800, ["C", "A", "T"]), ("21", 25597400, ["G", "T"]),
            ("chr21", 25597400, ["G"]), ("chr21", 25597400, ["A", "C"])]
    ref = engine.genome.fetch("21", 25585799, 25585800)
    rows[0] = ("chr21", 25585800, [ref, *[b for b in "ACGT" if b != ref][:2]])
    out = score_rows(engine, *map(list, zip(*rows)))
    assert out["contig"] == [r[0] for r in rows] and out["alleles"] == [r[2] for r in rows]
    fresh = Engine(EngineConfig(**settings))
    for i in (0, 1):
        c, p, al = rows[i]
        expect = []
        for alt in al[1:]:
            res = fresh.score([Variant(c, p, al[0], alt)])[0]
            assert res.ok and res.scores
            expect += [dict(s.to_dict(), allele=alt) for s in res.scores]
        assert out["scores"][i] == expect
        assert out["max_ds"][i] == max(max(e[f] for f in ("ds_ag", "ds_al", "ds_dg", "ds_dl"))
                                       for e in expect)
        assert out["reason_code"][i] is None and out["reason"][i] is None
    assert out["reason_code"][2] == NO_ALT and out["scores"][2] == []
    assert out["reason_code"][3] == "REF_MISMATCH" and out["max_ds"][3] is None
    assert "chr21:25597400:A>C" in out["reason"][3]


def test_arrow_scorer_counts_rows_and_keeps_schema(settings):
    pa = pytest.importorskip("pyarrow", reason="needs the hail extra (pyarrow)")

    class Counter:
        value = 0

        def add(self, n):
            self.value += n

    counter = Counter()
    batch = pa.RecordBatch.from_pydict(
        {"contig": ["chr21"] * 3, "pos": [25597400, 25597401, 10],
         "alleles": [["G", "T"], ["G", "A"], ["N", "A"]]},
        schema=pa.schema([("contig", pa.string()), ("pos", pa.int32()),
                          ("alleles", pa.list_(pa.string()))]))
    out = list(make_batch_scorer(settings, chunk=2, counter=counter)(iter([batch])))
    assert [b.num_rows for b in out] == [2, 1] and counter.value == 3
    table = pa.Table.from_batches(out)
    assert table.column("pos").to_pylist() == [25597400, 25597401, 10]
    assert table.schema.field("scores").type.value_type.field("dp_ag").type == pa.int32()


def test_worker_engine_is_reused(settings):
    assert worker_engine(settings) is worker_engine(dict(settings))
    assert worker_engine(settings) is not worker_engine(dict(settings, distance=10))
    assert resolve_shipped("/a/b.fa") == "/a/b.fa"


def test_plan_files(settings, chr21, tmp_path):
    ref = settings["reference"]
    assert reference_companions(ref) == [ref + ".fai", ref + ".gzi"]
    assert is_uri("gs://b/x.fa") and not is_uri("/x.fa")
    local = plan_files(settings["model"], ref, settings["annotation"], ship=False)
    assert local.uris == [] and local.settings["reference"] == ref
    shipped = plan_files(settings["model"], ref, settings["annotation"], ship=True)
    assert shipped.settings["reference"] == ("shipped", "chr21.fa.gz")
    assert sorted(u.rsplit("/", 1)[1] for u in shipped.uris) == sorted(
        ["toy.onnx", "chr21.fa.gz", "chr21.fa.gz.fai", "chr21.fa.gz.gzi",
         "genes.grch38.spliceai.txt"])
    bare = tmp_path / "noindex.fa"
    bare.write_text(">1\nACGT\n")
    plan = plan_files(settings["model"], str(bare), settings["annotation"], ship=True)
    assert plan.reference_index == str(bare) + ".fai" and (tmp_path / "noindex.fa.fai").exists()
    assert sorted(u.rsplit("/", 1)[1] for u in plan.uris if "noindex" in u) == [
        "noindex.fa", "noindex.fa.fai"]
    with pytest.raises(ConfigError, match="neither grch37/grch38 nor an existing file"):
        plan_files(settings["model"], ref, str(tmp_path / "missing.txt"), ship=False)
    clash = tmp_path / "chr21.fa.gz"
    clash.write_text("")
    with pytest.raises(ConfigError, match="both are named chr21.fa.gz"):
        plan_files(str(clash), ref, settings["annotation"], ship=True)


def test_cli_help_needs_no_hail(capsys):
    from hail_seqscore.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["hail", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "-I INPUT" in out and "--export-vcf" in out and "--cache" in out


def test_fasta_index_local_is_built_uri_must_have_one(tmp_path):
    """A local FASTA without .fai is indexed on the driver (as `seqscore score` does); a URI
    without one is refused with how to make it; a file that is not a FASTA is the genome's
    one-line error."""
    fa = tmp_path / "ref.fa"
    fa.write_text(">chr1\n" + "ACGT" * 30 + "\n")
    assert fasta_index(str(fa)) == [str(fa) + ".fai"]
    assert (tmp_path / "ref.fa.fai").read_text().startswith("chr1\t120\t")
    bare = tmp_path / "bare.fa"
    bare.write_text(">chr1\nACGT\n")
    with pytest.raises(ReferenceUnavailableError, match=r"has no index .*bare\.fa\.fai.*upload"):
        fasta_index(bare.resolve().as_uri())
    with pytest.raises(ReferenceUnavailableError, match="does not exist"):
        fasta_index((tmp_path / "missing.fa").resolve().as_uri())
    vcf = tmp_path / "notfasta.fa"
    vcf.write_text("##fileformat=VCFv4.2\n")
    with pytest.raises(ReferenceFormatError):
        fasta_index(str(vcf))


def test_rows_report_each_skipped_alt(settings):
    """Per-ALT reasons: at a site in a gene the scorable ALT has scores and only the symbolic
    one is skipped; at a site in no gene the same holds (no scores at all); an over-long ALT
    is skipped with ALLELE_TOO_LONG and its message stays short."""
    engine = worker_engine(settings)
    ingene, nogene = 25585800, 9_000_000
    r1 = engine.genome.fetch("21", ingene - 1, ingene)
    r2 = engine.genome.fetch("21", nogene - 1, nogene)
    rows = [("chr21", ingene, [r1, "A" if r1 != "A" else "C", "*"]),
            ("chr21", nogene, [r2, "A" if r2 != "A" else "C", "<DEL>"]),
            ("chr21", ingene, [r1, r1 + "T" * 20_000]),
            ("chr21", ingene, ["A" * 30_000])]
    out = score_rows(engine, *map(list, zip(*rows)))
    assert out["skipped"][0] == [{"allele": "*", "code": "UNSUPPORTED_VARIANT"}]
    assert out["scores"][0] and out["reason_code"][0] == "UNSUPPORTED_VARIANT"
    assert out["skipped"][1] == [{"allele": "<DEL>", "code": "UNSUPPORTED_VARIANT"}]
    assert out["scores"][1] == [] and out["max_ds"][1] is None
    assert out["skipped"][2] == [{"allele": rows[2][2][1], "code": "ALLELE_TOO_LONG"}]
    assert len(out["reason"][2]) < 200
    assert out["reason_code"][3] == NO_ALT and out["skipped"][3] == []
    assert len(out["reason"][3]) < 200
