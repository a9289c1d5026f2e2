"""A real ``seqscore serve`` (toy model, tiny generated genome) given hostile or odd input
(issue #11 items 4-6): every bad body is a 400/415 in the API's error shape naming the problem,
never a 500 or a traceback; bad variants get their own error while the others are scored; the
cache treats contig aliases as one variant; a model or engine failure stays per variant."""

from __future__ import annotations

import socket

import httpx
import numpy as np
import pytest

from daemon_harness import Daemon, toy_variants, toy_world, wait_until
from hail_seqscore.client import Client
from hail_seqscore.daemon.metrics import parse_exposition
from hail_seqscore.errors import ConfigError
from hail_seqscore.records import Variant

pytestmark = pytest.mark.timeout(300)
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return toy_world(tmp_path_factory.mktemp("bad_input"))


def serve_args(toy, *extra, model=None, fasta=None):
    return ["--model", str(model or toy["model"]), "-R", str(fasta or toy["fasta"]),
            "-A", str(toy["genes"]), *extra]


@pytest.fixture(scope="module")
def daemon(toy):
    with Daemon(serve_args(toy, "--max-allele-length", "50")) as d:
        yield d


def log_of(d: Daemon) -> str:
    return "".join(d.stderr)


def post(d: Daemon, raw: bytes, headers=JSON) -> httpx.Response:
    return httpx.post(d.url + "/v1/score", content=raw, headers=headers, timeout=60)


def error_of(r: httpx.Response) -> dict:
    assert r.headers["content-type"] == "application/json", r.text
    err = r.json()["error"]
    assert set(err) <= {"code", "message", "field"} and err["message"]
    return err


# ---- bodies that json.loads would crash on or accept -----------------------------------------
@pytest.mark.parametrize("raw, text", [
    (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),              # RecursionError
    (b'{"variants": [{"chrom": "1", "pos": ' + b"7" * 5000 + b', "ref": "A", "alt": "G"}]}',
     "integer of 5000 digits"),                                           # int str limit
    (b'{"variants": [], "distance": NaN}', "NaN"),
    (b'{"variants": [], "distance": Infinity}', "Infinity"),
    (b'{"variants": [], "distance": -Infinity}', "-Infinity"),
    (b'{"variants": []}\xff', "not UTF-8"),
    (b"\xc3\x28", "not UTF-8"),
])
def test_hostile_json_is_400_naming_the_problem(daemon, raw, text):
    r = post(daemon, raw)
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "BAD_REQUEST" and err["field"] == "body" and text in err["message"]


@pytest.mark.parametrize("variant, field", [
    ({"chrom": "1", "pos": 1600.0, "ref": "G", "alt": "T"}, "variants[0].pos"),
    ({"chrom": "1", "pos": "1600", "ref": "G", "alt": "T"}, "variants[0].pos"),
    ({"chrom": "1", "pos": 1600, "ref": 7, "alt": "T"}, "variants[0].ref"),
    ({"chrom": ["1"], "pos": 1600, "ref": "G", "alt": "T"}, "variants[0].chrom"),
    ({"chrom": "1", "pos": 1600, "ref": "G"}, "variants[0].alt"),
])
def test_wrong_json_types_are_400_naming_the_field(daemon, variant, field):
    r = httpx.post(daemon.url + "/v1/score", json={"variants": [variant]})
    assert r.status_code == 400 and error_of(r)["field"] == field


@pytest.mark.parametrize("body, field", [
    ({"variants": [], "distance": 50.0}, "distance"),
    ({"variants": [], "mask": 0.0}, "mask"),
])
def test_floats_for_integer_settings_are_400(daemon, body, field):
    r = httpx.post(daemon.url + "/v1/score", json=body)
    assert r.status_code == 400 and error_of(r)["field"] == field


@pytest.mark.parametrize("content_type", [
    None, "text/plain", "application/x-www-form-urlencoded", "application/xml",
    "application/json; charset=utf-16"])
def test_non_json_content_types_are_415(daemon, content_type):
    headers = {} if content_type is None else {"content-type": content_type}
    r = post(daemon, b'{"variants": []}', headers)
    assert r.status_code == 415
    err = error_of(r)
    assert err["code"] == "UNSUPPORTED_MEDIA_TYPE" and err["field"] == "Content-Type"
    assert "application/json" in err["message"]


def test_json_content_type_with_charset_is_accepted(daemon):
    r = post(daemon, b'{"variants": []}', {"content-type": "application/json; charset=UTF-8"})
    assert r.status_code == 200 and r.json()["results"] == []


# ---- routes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("method, path, status, code", [
    ("GET", "/", 404, "NOT_FOUND"),
    ("GET", "/v2/score", 404, "NOT_FOUND"),
    ("POST", "/v1/health", 405, "METHOD_NOT_ALLOWED"),
    ("GET", "/v1/score", 405, "METHOD_NOT_ALLOWED"),
    ("DELETE", "/v1/score", 405, "METHOD_NOT_ALLOWED"),
])
def test_unknown_routes_and_methods_answer_in_the_api_shape(daemon, method, path, status, code):
    r = httpx.request(method, daemon.url + path)
    assert r.status_code == status and error_of(r)["code"] == code
    if status == 405:
        assert r.headers["allow"] in error_of(r)["message"]


def test_a_client_pointed_at_a_wrong_path_is_a_config_error(daemon):
    with pytest.raises(ConfigError, match="HTTP 404"):
        Client(daemon.url + "/not-here").score([Variant("1", 1600, "G", "T")])


def test_a_huge_header_block_is_400_in_the_api_shape(daemon):
    host, port = daemon.url.split("//")[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b'"code":"BAD_REQUEST"' in body and b"16 KiB" in body
    assert httpx.get(daemon.url + "/v1/health").status_code == 200


# ---- per-variant errors: the others are scored ------------------------------------------------
def test_bad_values_and_long_alleles_are_per_variant_the_others_scored(daemon, toy):
    good = toy_variants(toy["seq"], 3)
    g = [v.to_dict() for v in good]
    sent = [g[0],
            {**g[1], "pos": 0},                                   # POS 0
            {**g[1], "pos": -3},
            {**g[1], "ref": "X"},                                 # not a base
            {**g[1], "alt": ""},
            {**g[1], "alt": g[1]["ref"] + "A" * 100_000},         # 100-kb insertion
            {**g[1], "ref": g[1]["ref"] * 51},                    # REF over the cap of 50
            {**g[1], "chrom": ""},
            g[1],
            {**g[2], "alt": g[2]["ref"] + "A" * 49},              # exactly at the cap: scored
            g[2]]
    r = httpx.post(daemon.url + "/v1/score", json={"variants": sent}, timeout=60)
    assert r.status_code == 200
    res = r.json()["results"]
    assert len(res) == len(sent)
    assert [x["variant"] for x in res] == sent                    # echoed as sent
    codes = [x.get("error", {}).get("code") for x in res]
    assert codes == [None, "INVALID_VARIANT", "INVALID_VARIANT", "INVALID_VARIANT",
                     "INVALID_VARIANT", "ALLELE_TOO_LONG", "ALLELE_TOO_LONG", "INVALID_VARIANT",
                     None, None, None]
    assert all(x["scores"][0]["gene"] == "TOY1" for x in (res[0], res[8], res[10]))
    long_msg = res[5]["error"]["message"]
    assert "ALT is 100,001 bp" in long_msg and "cap of 50 bp" in long_msg and len(long_msg) < 300
    m = parse_exposition(httpx.get(daemon.url + "/metrics").text)
    assert m["seqscore_cache_entries"] < 100         # the refused variants were never cached


def test_the_client_returns_one_result_per_variant_like_the_engine(daemon, toy):
    good = toy_variants(toy["seq"], 2)
    v = good[0]
    variants = [good[0], Variant("1", 0, v.ref, v.alt), Variant("1", v.pos, "X", v.alt),
                Variant("1", v.pos, v.ref, v.ref + "C" * 60), "1:100:A:G",
                Variant("1", "12", "A", "G"), Variant("1", v.pos, v.ref, v.ref + "C" * 9_000_000),
                good[1]]
    got = daemon.client().score(variants)
    assert len(got) == len(variants)
    assert [r.variant for r in got] == variants
    assert [r.error.code if r.error else None for r in got] == [
        None, "INVALID_VARIANT", "INVALID_VARIANT", "ALLELE_TOO_LONG", "INVALID_VARIANT",
        "INVALID_VARIANT", "ALLELE_TOO_LONG", None]


def test_the_client_splits_a_request_the_server_finds_too_large(toy):
    vs = toy_variants(toy["seq"], 120)
    with Daemon(serve_args(toy, "--max-variants", "50", "--max-body-mb", "0.004")) as d:
        got = Client(d.url, chunk_size=120).score(vs)        # 413 twice over: split in halves
        assert [r.variant for r in got] == vs and all(r.ok for r in got)
        huge = Variant("1", vs[0].pos, vs[0].ref, vs[0].ref + "A" * 10_000)
        (one,) = Client(d.url).score([huge])                  # alone over the body limit
        assert one.variant is huge and one.error.code == "ALLELE_TOO_LONG"
        assert "PAYLOAD_TOO_LARGE" not in one.error.message and "limit" in one.error.message
    assert "Traceback" not in log_of(d)


# ---- the cache -------------------------------------------------------------------------------
def test_cache_treats_contig_aliases_as_one_variant_and_echoes_each_spelling(toy):
    v = toy_variants(toy["seq"], 1, start=4700)[0]
    with Daemon(serve_args(toy)) as d:
        def hits():
            return parse_exposition(httpx.get(d.url + "/metrics").text)[
                "seqscore_cache_hits_total"]

        first = d.client().score([v])[0]
        spellings = [Variant("chr1", v.pos, v.ref, v.alt), Variant("1", v.pos, v.ref.lower(),
                                                                    v.alt.lower())]
        again = d.client().score(spellings)
        assert hits() == 2
        assert [r.variant for r in again] == spellings
        assert all(r.scores == first.scores for r in again)
        r = httpx.post(d.url + "/v1/score", json={"variants": [s.to_dict() for s in spellings]})
        assert [x["variant"]["chrom"] for x in r.json()["results"]] == ["chr1", "1"]


# ---- failures inside the model or engine stay per variant -------------------------------------
def nan_model(toy) -> str:
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(toy["model"]))
    for init in m.graph.initializer:
        if init.name == "b2":
            init.CopyFrom(numpy_helper.from_array(np.array([np.nan, -1, -1], np.float32), "b2"))
    out = toy["dir"] / "nan.onnx"
    onnx.save(m, str(out))
    return str(out)


def fails_on_n_model(toy) -> str:
    """The toy model plus a Gather whose index is the number of N positions in the window:
    onnxruntime raises (index out of bounds) for any window holding an N."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(str(toy["model"]))
    last = m.graph.node[-1]
    last.output[0] = "y0"
    m.graph.initializer.extend([
        numpy_helper.from_array(np.array([1, 2], np.int64), "axes12"),
        numpy_helper.from_array(np.array(1, np.int64), "one"),
        numpy_helper.from_array(np.zeros(1, np.float32), "zero1"),
        numpy_helper.from_array(np.array([-1, 1, 1], np.int64), "b11")])
    m.graph.node.extend([
        helper.make_node("ReduceSum", ["x", "axes12"], ["bases"], keepdims=0),
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "one"], ["length"]),
        helper.make_node("Cast", ["length"], ["length_f"], to=onnx.TensorProto.FLOAT),
        helper.make_node("Sub", ["length_f", "bases"], ["ns"]),
        helper.make_node("Cast", ["ns"], ["ns_i"], to=onnx.TensorProto.INT64),
        helper.make_node("Gather", ["zero1", "ns_i"], ["g"]),
        helper.make_node("Reshape", ["g", "b11"], ["g3"]),
        helper.make_node("Add", ["y0", "g3"], ["y"])])
    onnx.checker.check_model(m)
    out = toy["dir"] / "fails_on_n.onnx"
    onnx.save(m, str(out))
    return str(out)


def test_a_model_giving_nan_is_a_per_variant_internal_error_not_a_500(toy):
    vs = toy_variants(toy["seq"], 4)
    with Daemon(serve_args(toy, model=nan_model(toy))) as d:
        r = httpx.post(d.url + "/v1/score", json={"variants": [v.to_dict() for v in vs]})
        assert r.status_code == 200
        res = r.json()["results"]
        assert len(res) == 4 and {x["error"]["code"] for x in res} == {"INTERNAL"}
        assert "non-finite score" in res[0]["error"]["message"]
        assert len(d.client().score(vs)) == 4               # never cached, same answer again
    assert "Traceback" not in log_of(d)


def test_an_engine_failure_in_a_batch_becomes_per_variant_internal_errors(toy):
    seq = toy["seq"]
    bad_seq = seq[:3000] + "N" * 10 + seq[3010:]
    fasta = toy["dir"] / "with_n.fa"
    fasta.write_text(">1\n" + "\n".join(bad_seq[i:i + 60] for i in range(0, len(bad_seq), 60))
                     + "\n")
    vs = [v for v in toy_variants(seq, 40, start=2000, step=61)
          if not 3000 <= v.pos - 1 < 3010]
    # a variant's window (distance 50, context 100) is pos-1 +- 100: these reach an N
    near_n = [2900 <= v.pos - 1 <= 3109 for v in vs]
    assert any(near_n) and not all(near_n)
    with Daemon(serve_args(toy, "--cache-size", "0", model=fails_on_n_model(toy),
                           fasta=fasta)) as d:
        r = httpx.post(d.url + "/v1/score", json={"variants": [v.to_dict() for v in vs]},
                       timeout=120)
        assert r.status_code == 200
        res = r.json()["results"]
        assert len(res) == len(vs)
        for x, bad in zip(res, near_n):
            if bad:
                assert x["error"]["code"] == "INTERNAL", x
                assert "internal error while scoring" in x["error"]["message"]
            else:
                assert "error" not in x and x["scores"][0]["gene"] == "TOY1", x
        assert wait_until(lambda: "scoring its variants one by one" in log_of(d), 10)
        assert httpx.get(d.url + "/v1/ready").status_code == 200
    log = log_of(d)
    assert "Traceback" not in log
    assert sum("failed:" in line for line in d.stderr) == sum(near_n)   # one line each
