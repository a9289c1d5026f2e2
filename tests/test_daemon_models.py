"""One real ``seqscore serve`` process serving two toy models at once (``--model A --model B``):
the request's ``model`` chooses, results equal each model's own in-process engine, the cache
never answers one model's variant with another's score, a batch never mixes models,
``/v1/models`` lists both with kind, scorer and result fields, an unknown model is a 400, a
model the daemon cannot serve stops the start, and ``seqscore score --server --model X`` writes
X's own INFO key."""

from __future__ import annotations

import subprocess
import sys
import threading

import httpx
import pytest

from daemon_harness import ROOT, Daemon, toy_variants, write_toy_genome
from hail_seqscore.cli import main
from hail_seqscore.daemon.metrics import parse_exposition
from hail_seqscore.engine import Engine, EngineConfig
from hail_seqscore.errors import RequestError
from hail_seqscore.records import GeneScore, Variant
from toy_models import build_toy_model, build_toy_pangolin, build_toy_tracks

pytestmark = pytest.mark.timeout(300)

A, B = "toy", "toy_osai"          # the two models' names (ModelSpec.name)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    fasta, genes, seq = write_toy_genome(d)
    paths = {A: build_toy_model(d / "toy.onnx", seed=0),
             B: build_toy_model(d / "osai.onnx", seed=1, scorer="openspliceai", name=B)}
    engines = {n: Engine(EngineConfig(model=str(p), reference=str(fasta),
                                      annotation=str(genes))) for n, p in paths.items()}
    return {"dir": d, "fasta": str(fasta), "genes": str(genes), "seq": seq, "paths": paths,
            "engines": engines}


def serve_args(toy, *models, extra=()):
    models = models or tuple(str(p) for p in toy["paths"].values())
    return [a for m in models for a in ("--model", str(m))] + [
        "-R", toy["fasta"], "-A", toy["genes"], *extra]


@pytest.fixture(scope="module")
def daemon(toy):
    # a long batching delay: variants of requests sent together would share a batch if the
    # batcher mixed models
    with Daemon(serve_args(toy, extra=("--max-batch", "64", "--max-delay-ms", "300"))) as d:
        yield d


def metrics(url):
    return parse_exposition(httpx.get(url + "/metrics").text)


def post(url, variants, **kw):
    return httpx.post(url + "/v1/score", json={"variants": [v.to_dict() for v in variants],
                                               **kw}, timeout=60)


# ---- choosing ---------------------------------------------------------------------------------
def test_the_request_model_chooses_and_each_equals_its_own_engine(daemon, toy):
    vs = toy_variants(toy["seq"], 30)
    want = {n: e.score(vs) for n, e in toy["engines"].items()}
    assert want[A] != want[B]                        # the two toys really score differently
    c = daemon.client()
    assert c.score(vs) == want[A]                    # no model: the first served
    assert c.score(vs, model=A) == want[A]
    assert c.score(vs, model=B) == want[B]
    assert c.score(vs, model=str(toy["paths"][B])) == want[B]   # the --model argument
    assert c.score(vs, model="osai") == want[B]                  # the file's stem
    for name in (A, B):
        r = post(daemon.url, vs[:2], model=name)
        prov = r.json()["provenance"]
        assert r.status_code == 200 and prov["model"] == name
        assert prov["model_sha256"] == toy["engines"][name].session.sha256


def test_an_unknown_model_is_a_400_listing_the_served_ones(daemon, toy):
    vs = toy_variants(toy["seq"], 2)
    r = post(daemon.url, vs, model="spliceai")
    err = r.json()["error"]
    assert r.status_code == 400 and err["code"] == "BAD_REQUEST" and err["field"] == "model"
    assert "'spliceai'" in err["message"] and f"'{A}', '{B}'" in err["message"]
    with pytest.raises(RequestError, match="does not serve 'nope'") as info:
        daemon.client().score(vs, model="nope")
    assert info.value.field == "model"


# ---- cache and batches ------------------------------------------------------------------------
def test_the_cache_never_answers_for_another_model(daemon, toy):
    vs = toy_variants(toy["seq"], 12, start=2000)
    c = daemon.client()
    assert c.score(vs, model=A) == toy["engines"][A].score(vs)          # cached for A
    before = metrics(daemon.url)
    assert c.score(vs, model=B) == toy["engines"][B].score(vs)          # same variants, B
    after = metrics(daemon.url)

    def delta(model, outcome):
        key = f'seqscore_variants_total{{model="{model}",outcome="{outcome}"}}'
        return after.get(key, 0) - before.get(key, 0)

    assert delta(B, "cached") == 0 and delta(B, "scored") == 12
    assert c.score(vs, model=B) == toy["engines"][B].score(vs)          # now B's own hits
    assert metrics(daemon.url)[f'seqscore_variants_total{{model="{B}",outcome="cached"}}'] \
        - after.get(f'seqscore_variants_total{{model="{B}",outcome="cached"}}', 0) == 12


def test_a_batch_never_mixes_models(daemon, toy):
    vs = {A: toy_variants(toy["seq"], 10, start=3000), B: toy_variants(toy["seq"], 10, start=3100)}
    before = metrics(daemon.url)
    got = {}
    go = threading.Barrier(2)

    def send(name):
        go.wait()
        got[name] = daemon.client().score(vs[name], model=name)

    threads = [threading.Thread(target=send, args=(n,)) for n in (A, B)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = metrics(daemon.url)

    def delta(key):
        return after.get(key, 0) - before.get(key, 0)

    for name in (A, B):
        assert got[name] == toy["engines"][name].score(vs[name])
        assert delta(f'seqscore_batches_total{{model="{name}"}}') == 1
    # two batches of 10, never one of 20 (the requests arrived within one batching delay)
    assert delta("seqscore_batch_size_count") == 2 and delta("seqscore_batch_size_sum") == 20
    assert delta('seqscore_batch_size_bucket{le="16"}') == 2
    assert after[f'seqscore_request_latency_seconds_count{{model="{B}"}}'] >= 1


# ---- what the daemon says about its models ---------------------------------------------------
def test_models_lists_both_with_kind_scorer_and_result_fields(daemon, toy):
    data = httpx.get(daemon.url + "/v1/models").json()
    listed = data["models"]
    assert [m["name"] for m in listed] == [A, B] and data["default"] == A
    assert [(m["kind"], m["scorer"]) for m in listed] == [("splice", "spliceai"),
                                                          ("splice", "openspliceai")]
    assert [m["default"] for m in listed] == [True, False]
    assert listed[1]["aliases"] == [str(toy["paths"][B]), "osai"]
    for m in listed:
        engine = toy["engines"][m["name"]]
        assert m["sha256"] == engine.session.sha256 and m["licence"] == "CC0"
        assert m["execution_providers"] == ["CPUExecutionProvider"]
        assert m["provenance"]["model_sha256"] == m["sha256"]
        assert m["max_allele_length"] == 100                        # the toys' context
        out = m["output"]
        assert (out["list"], out["per"]) == ("scores", "gene")
        assert [f["name"] for f in out["fields"]] == list(GeneScore.__slots__)
        types = {f["name"]: (f["type"], f["nullable"]) for f in out["fields"]}
        assert types["gene"] == ("string", False) and types["ds_ag"] == ("number", True)
        assert types["dp_dl"] == ("integer", True)
    assert data["provenance"] == listed[0]["provenance"]
    assert daemon.client().models() == listed
    # the fields listed are the fields a result carries
    r = post(daemon.url, toy_variants(toy["seq"], 1), model=B).json()["results"][0]
    assert list(r["scores"][0]) == [f["name"] for f in listed[1]["output"]["fields"]]
    ready = httpx.get(daemon.url + "/v1/ready").json()
    assert ready == {"status": "ready", "models": [A, B]}


# ---- start-up refusals ------------------------------------------------------------------------
def run_serve(args):
    return subprocess.run([sys.executable, "-m", "hail_seqscore", "serve", "--port", "0",
                           *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if "listening on" not in line]


def test_a_model_of_a_scorer_not_served_stops_the_start(toy):
    odd = build_toy_model(toy["dir"] / "odd.onnx", seed=2, scorer="tracks", name="odd")
    r = run_serve(serve_args(toy, toy["paths"][A], odd))
    lines = error_lines(r.stderr)
    assert r.returncode == 69 and len(lines) == 1, r.stderr
    assert lines[0].startswith(f"seqscore serve: error: model '{odd}': ")
    assert "scorer 'tracks'" in lines[0] and "pangolin" in lines[0]


def test_a_pangolin_model_without_replicate_outputs_is_refused_naming_the_fix(toy):
    pango = build_toy_model(toy["dir"] / "pango.onnx", seed=2, scorer="pangolin", name="pango")
    r = run_serve(serve_args(toy, toy["paths"][A], pango))
    lines = error_lines(r.stderr)
    assert r.returncode == 69 and len(lines) == 1, r.stderr
    assert "needs the y_members output" in lines[0] and "seqscore export pangolin" in lines[0]


def test_a_model_that_fails_to_load_stops_the_start_naming_it(toy):
    bad = toy["dir"] / "bad.onnx"
    bad.write_bytes(b"not a model")
    r = run_serve(serve_args(toy, toy["paths"][A], bad))
    lines = error_lines(r.stderr)
    assert r.returncode == 69 and len(lines) == 1, r.stderr
    assert lines[0].startswith(f"seqscore serve: error: model '{bad}': cannot load ")


def test_two_models_of_one_name_or_one_model_twice_are_refused(toy):
    twin = build_toy_model(toy["dir"] / "twin.onnx", seed=3)            # also named "toy"
    r = run_serve(serve_args(toy, toy["paths"][A], twin))
    assert r.returncode == 69 and "are both named 'toy'" in r.stderr, r.stderr
    r = run_serve(serve_args(toy, toy["paths"][A], toy["paths"][A]))
    assert r.returncode == 64 and "are the same model" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


# ---- seqscore score --server --model X -----------------------------------------------------------
def test_score_through_the_server_writes_the_chosen_models_info_key(daemon, toy, tmp_path):
    seq = toy["seq"]
    rows = [f"1\t{p}\t.\t{seq[p - 1]}\t{'A' if seq[p - 1] != 'A' else 'C'}\t.\t.\t.\n"
            for p in range(1600, 1660, 6)]
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=1,length=6000>\n"
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(rows))
    for name, key in ((B, "OpenSpliceAI"), (A, "SpliceAI")):
        remote, local = tmp_path / f"{name}.remote.vcf", tmp_path / f"{name}.local.vcf"
        assert main(["score", "-I", str(vcf), "-O", str(remote), "--server", daemon.url,
                     "--model", name, "-q"]) == 0
        assert main(["score", "-I", str(vcf), "-O", str(local), "--model",
                     str(toy["paths"][name]), "-R", toy["fasta"], "-A", toy["genes"],
                     "-q"]) == 0
        text = remote.read_text()
        assert f"##INFO=<ID={key}," in text
        records = [line for line in text.splitlines() if not line.startswith("#")]
        assert len(records) == len(rows)
        assert all(f"\t{key}=" in line for line in records)
        assert records == [line for line in local.read_text().splitlines()
                           if not line.startswith("#")]


def test_score_through_the_server_without_model_uses_the_daemons_default(daemon, toy, tmp_path,
                                                                          capsys):
    """No --model: the daemon's default (the first --model it was started with) scores and
    its INFO key is written; a --model the daemon does not serve is a bad setting (64) named
    before any output is made."""
    seq = toy["seq"]
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=1,length=6000>\n"
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   f"1\t1600\t.\t{seq[1599]}\t{'A' if seq[1599] != 'A' else 'C'}\t.\t.\t.\n")
    out = tmp_path / "out.vcf"
    assert main(["score", "-I", str(vcf), "-O", str(out), "--server", daemon.url, "-q"]) == 0
    default = [m for m in daemon.client().models() if m["default"]][0]
    key = {"spliceai": "SpliceAI", "openspliceai": "OpenSpliceAI"}[default["scorer"]]
    assert f"\t{key}=" in out.read_text()
    capsys.readouterr()
    missing = tmp_path / "never.vcf"
    assert main(["score", "-I", str(vcf), "-O", str(missing), "--server", daemon.url,
                 "--model", "not-served", "-q"]) == 64
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not-served" in err and "serves" in err
    assert not missing.exists()


def test_pangolin_and_track_models_served_beside_spliceai(toy, tmp_path):
    """One daemon serving a SpliceAI, a Pangolin and a track model: each listed with its own
    record (and the track table), each request's results equal to its own engine's, and
    `seqscore score --server` writing each model's own INFO field as in process."""
    pango = build_toy_pangolin(toy["dir"] / "pango_ok.onnx", name="toypango")
    tracks = build_toy_tracks(toy["dir"] / "tracks.onnx", name="toytracks")
    seq = toy["seq"]
    variants = toy_variants(seq, 6) + [Variant("1", 2100, seq[2099:2103], seq[2099])]
    with Daemon(serve_args(toy, toy["paths"][A], pango, tracks)) as d:
        listed = {m["name"]: m for m in d.client().models()}
        assert listed["toypango"]["output"]["record"] == "pangolin_gain_loss"
        assert listed["toytracks"]["output"]["record"] == "track_effects"
        assert [t["name"] for t in listed["toytracks"]["tracks"]] == ["CAGE+", "CAGE-", "DNASE"]
        for name, path in (("toypango", pango), ("toytracks", tracks)):
            got = d.client().score(variants, model=name)
            want = Engine(EngineConfig(model=str(path), reference=toy["fasta"],
                                       annotation=toy["genes"])).score(variants)
            assert [r.scores for r in got] == [r.scores for r in want], name
            assert any(r.scores for r in got)
        vcf = tmp_path / "in.vcf"
        vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                       + "".join(f"1\t{v.pos}\t.\t{v.ref}\t{v.alt}\t.\t.\t.\n"
                                 for v in variants))
        for name, path, key in (("toypango", pango, "Pangolin"),
                                ("toytracks", tracks, "SeqScore_toytracks")):
            remote, local = tmp_path / f"{name}.r.vcf", tmp_path / f"{name}.l.vcf"
            assert main(["score", "-I", str(vcf), "-O", str(remote), "--server", d.url,
                         "--model", name, "-q"]) == 0
            assert main(["score", "-I", str(vcf), "-O", str(local), "--model", str(path),
                         "-R", toy["fasta"], "-A", toy["genes"], "-q"]) == 0
            text = remote.read_text()
            assert f"##INFO=<ID={key}," in text and f"\t{key}=" in text
            assert text == local.read_text()
