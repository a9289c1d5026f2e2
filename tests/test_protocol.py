"""The daemon's wire schema: requests parsed with errors that name the field; round trips."""

import json
import subprocess
import sys

import pytest

from hail_seqscore.errors import PayloadTooLargeError, RequestError
from hail_seqscore.protocol import (decode_score_response, encode_score_request,
                                    encode_score_response, loads_json, parse_score_request)
from hail_seqscore.records import ErrorInfo, GeneScore, ScoreResult, Variant

V = {"chrom": "17", "pos": 43045615, "ref": "G", "alt": "A"}


def test_parse_full_request():
    req = parse_score_request({"variants": [V, {**V, "chrom": 17}], "distance": 500,
                               "mask": 1, "model": "spliceai"})
    assert req.variants == (Variant("17", 43045615, "G", "A"),) * 2
    assert (req.distance, req.mask, req.model) == (500, True, "spliceai")


def test_optional_fields_default_to_none():
    req = parse_score_request({"variants": []})
    assert (req.variants, req.distance, req.mask, req.model) == ((), None, None, None)


@pytest.mark.parametrize("body, field", [
    ([V], "body"),
    ({}, "variants"),
    ({"variants": V}, "variants"),
    ({"variants": [V, "17:1:A:G"]}, "variants[1]"),
    ({"variants": [V, {"chrom": "1", "pos": 5, "ref": "A"}]}, "variants[1].alt"),
    ({"variants": [{**V, "pos": "43045615"}]}, "variants[0].pos"),
    ({"variants": [{**V, "pos": True}]}, "variants[0].pos"),
    ({"variants": [{**V, "pos": 0}]}, "variants[0].pos"),
    ({"variants": [{**V, "ref": ""}]}, "variants[0].ref"),
    ({"variants": [{**V, "chrom": None}]}, "variants[0].chrom"),
    ({"variants": [V], "distance": "50"}, "distance"),
    ({"variants": [V], "distance": -1}, "distance"),
    ({"variants": [V], "mask": 2}, "mask"),
    ({"variants": [V], "model": 3}, "model"),
    ({"variants": [V], "distanse": 50}, "distanse"),
])
def test_malformed_requests_name_the_field(body, field):
    with pytest.raises(RequestError) as e:
        parse_score_request(body)
    assert e.value.field == field
    assert e.value.http_status == 400
    assert field.split("[")[0] in e.value.message or field == "body"


def test_too_many_variants_is_413():
    with pytest.raises(PayloadTooLargeError) as e:
        parse_score_request({"variants": [V] * 11}, max_variants=10)
    assert e.value.http_status == 413 and "at most 10" in e.value.message


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b'{"variants": [1,]}'])
def test_bad_json(raw):
    with pytest.raises(RequestError) as e:
        loads_json(raw)
    assert e.value.field == "body"


def test_bad_bases_are_left_to_the_engine():
    # well-formed but not DNA: a per-variant error later, not a failed request
    req = parse_score_request({"variants": [{**V, "ref": "X"}]})
    assert req.variants[0].ref == "X"


def test_round_trip():
    vs = [Variant("17", 10, "G", "A"), Variant("17", 11, "T", "C"), Variant("9", 1, "A", "G")]
    gs = GeneScore("BRCA1", "-", 0.0123456789, 0.5, 0.0, 1e-9, -3, 4, 0, 50)
    results = [ScoreResult(vs[0], (gs,)), ScoreResult(vs[1], ()),
               ScoreResult(vs[2], (), ErrorInfo("CONTIG_NOT_FOUND", "no 9"))]
    wire = json.loads(json.dumps(encode_score_response(results, {"model": "x"})))
    assert wire["results"][0]["scores"][0]["ds_ag"] == 0.0123456789
    assert wire["results"][2]["error"]["code"] == "CONTIG_NOT_FOUND"
    assert decode_score_response(wire, vs) == results
    body = encode_score_request(vs, distance=50, mask=False, model="spliceai")
    assert parse_score_request(body).variants == tuple(vs)


def test_decode_checks_count_and_order():
    vs = [Variant("17", 10, "G", "A"), Variant("17", 11, "T", "C")]
    wire = encode_score_response([ScoreResult(v, ()) for v in vs])
    with pytest.raises(RequestError, match="2 results for 1 variants"):
        decode_score_response(wire, vs[:1])
    with pytest.raises(RequestError, match="echoes"):
        decode_score_response(wire, vs[::-1])


def test_protocol_and_client_import_no_framework_or_runtime():
    code = ("import sys, hail_seqscore.client, hail_seqscore.protocol; "
            "bad = [m for m in ('fastapi', 'starlette', 'uvicorn', 'onnxruntime', 'numpy') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
