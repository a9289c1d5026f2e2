"""The daemon's wire schema: requests parsed with errors that name the field; per-variant
errors for bad values; hostile bodies refused as 400; content types; token files; round trips."""

import json
import subprocess
import sys

import pytest

from hail_seqscore.errors import (ConfigError, InputUnreadableError, PayloadTooLargeError,
                                  RequestError, UnsupportedMediaTypeError)
from hail_seqscore.protocol import (MAX_INT_DIGITS, check_content_type, decode_result,
                                    decode_score_response,
                                    encode_score_request, encode_score_response, loads_json,
                                    parse_score_request)
from hail_seqscore.tokens import read_token_file
from hail_seqscore.records import ErrorInfo, GeneScore, PangolinScore, ScoreResult, Variant

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
    ({"variants": [{**V, "pos": 12.0}]}, "variants[0].pos"),          # a float, even whole
    ({"variants": [{**V, "pos": 12.5}]}, "variants[0].pos"),
    ({"variants": [{**V, "pos": None}]}, "variants[0].pos"),
    ({"variants": [{**V, "ref": 7}]}, "variants[0].ref"),
    ({"variants": [{**V, "alt": ["A"]}]}, "variants[0].alt"),
    ({"variants": [{**V, "chrom": None}]}, "variants[0].chrom"),
    ({"variants": [{**V, "chrom": 1.5}]}, "variants[0].chrom"),
    ({"variants": [V], "distance": 50.0}, "distance"),
    ({"variants": [V], "mask": 1.0}, "mask"),
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


@pytest.mark.parametrize("raw, text", [
    (b"", "empty"),
    (b"{", "not valid JSON"),
    (b"\xff\xfe", "not"),
    (b'{"variants": [1,]}', "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),           # RecursionError
    (b'{"variants": [], "distance": ' + b"9" * 5000 + b"}", "5000 digits"),   # int limit
    (b'{"variants": [], "distance": -' + b"1" * (MAX_INT_DIGITS + 1) + b"}", "digits"),
    (b'{"variants": [], "distance": NaN}', "NaN"),
    (b'{"variants": [], "distance": Infinity}', "Infinity"),
    (b'{"variants": [], "distance": -Infinity}', "-Infinity"),
])
def test_bad_json_is_a_request_error_naming_the_problem(raw, text):
    with pytest.raises(RequestError) as e:
        loads_json(raw)
    assert e.value.field == "body" and e.value.http_status == 400
    assert text in e.value.message


def test_integers_up_to_the_digit_limit_are_read():
    big = 10 ** (MAX_INT_DIGITS - 1)
    assert loads_json(b'{"pos": %d}' % big) == {"pos": big}
    assert loads_json(b'{"pos": 1.0}') == {"pos": 1.0}                   # floats untouched


def test_bad_values_are_per_variant_errors_and_the_others_are_kept():
    # well typed, bad values: each variant gets its own error, the request stands
    req = parse_score_request({"variants": [
        V, {**V, "pos": 0}, {**V, "pos": -5}, {**V, "ref": ""}, {**V, "alt": ""},
        {**V, "ref": "X"}, {**V, "alt": "Q"}, {**V, "chrom": ""}, {**V, "ref": "g"}]})
    assert len(req.variants) == len(req.errors) == 9
    assert req.variants[1] == Variant("17", 0, "G", "A")                 # echoed as sent
    codes = [e.code if e else None for e in req.errors]
    assert codes == [None] + ["INVALID_VARIANT"] * 7 + [None]
    assert "pos must be an integer >= 1" in req.errors[1].message
    assert req.variants[5].ref == "X"


def test_over_long_alleles_are_refused_per_variant_with_a_short_message():
    long_alt = "G" + "A" * 100_000
    req = parse_score_request({"variants": [
        V, {**V, "alt": long_alt}, {**V, "ref": "G" * 11, "alt": "G"},
        {**V, "ref": "G" * 10, "alt": "G"}]}, max_allele_length=10)
    codes = [e.code if e else None for e in req.errors]
    assert codes == [None, "ALLELE_TOO_LONG", "ALLELE_TOO_LONG", None]
    msg = req.errors[1].message
    assert "ALT is 100,001 bp" in msg and "cap of 10 bp" in msg and len(msg) < 300
    assert "REF is 11 bp" in req.errors[2].message
    assert req.variants[1].alt == long_alt                               # echoed as sent
    # without a cap (model not loaded yet) only the body limit bounds it
    assert parse_score_request({"variants": [{**V, "alt": long_alt}]}).errors == (None,)


@pytest.mark.parametrize("value", [
    "application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8",
    "application/vnd.api+json", 'application/json; charset="utf8"'])
def test_json_content_types_are_accepted(value):
    check_content_type(value)


@pytest.mark.parametrize("value, text", [
    (None, "no Content-Type"), ("", "no Content-Type"),
    ("text/plain", "is not JSON"), ("application/x-www-form-urlencoded", "is not JSON"),
    ("multipart/form-data; boundary=x", "is not JSON"), ("json", "is not JSON"),
    ("application/json; charset=latin-1", "must be UTF-8"),
])
def test_other_content_types_are_415(value, text):
    with pytest.raises(UnsupportedMediaTypeError) as e:
        check_content_type(value)
    assert e.value.http_status == 415 and e.value.code == "UNSUPPORTED_MEDIA_TYPE"
    assert text in e.value.message and "Content-Type: application/json" in e.value.message


def test_token_files(tmp_path):
    good = tmp_path / "good"
    good.write_text("  s3cret-Token_1  \n")
    assert read_token_file(good) == "s3cret-Token_1"
    cases = {
        "binary": (b"\x00\x01\x02token\xff", "not text"),
        "latin1": ("caf\u00e9".encode("latin-1"), "not text"),
        "unicode": ("caf\u00e9-token".encode(), "visible ASCII"),
        "empty": (b"\n\n", "is empty"),
        "two_words": (b"one two\n", "visible ASCII"),
        "huge": (b"x" * 100_000, "larger than 4096 bytes"),
    }
    for name, (data, text) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ConfigError, match=text) as e:
            read_token_file(tmp_path / name)
        assert str(tmp_path / name) in e.value.message and e.value.exit_code == 64
    with pytest.raises(ConfigError, match="larger than"):      # bounded read of a device
        read_token_file("/dev/zero")
    for path in (tmp_path / "absent", tmp_path):                # missing, a directory
        with pytest.raises(InputUnreadableError, match="cannot read token file") as e:
            read_token_file(path)
        assert e.value.exit_code == 66


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


def test_an_invalid_variant_echo_decodes_with_its_error():
    bad = Variant("17", 0, "G", "A")
    wire = json.loads(json.dumps(encode_score_response(
        [ScoreResult(bad, (), ErrorInfo("INVALID_VARIANT", "pos must be >= 1"))])))
    (r,) = decode_score_response(wire, [bad])
    assert r.variant is bad and r.error.code == "INVALID_VARIANT"


def test_decode_checks_count_and_order():
    vs = [Variant("17", 10, "G", "A"), Variant("17", 11, "T", "C")]
    wire = encode_score_response([ScoreResult(v, ()) for v in vs])
    with pytest.raises(RequestError, match="2 results for 1 variants"):
        decode_score_response(wire, vs[:1])
    with pytest.raises(RequestError, match="echoes"):
        decode_score_response(wire, vs[::-1])


def test_protocol_and_client_import_no_framework_or_runtime():
    code = ("import sys, hail_seqscore.client, hail_seqscore.protocol, hail_seqscore.tokens; "
            "bad = [m for m in ('fastapi', 'starlette', 'uvicorn', 'onnxruntime', 'numpy') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_cap_for_gives_the_named_models_cap_and_refuses_unknown_models_first():
    caps = {None: 10, "a": 10, "b": 3}
    seen = []

    def cap_for(model):
        seen.append(model)
        if model not in caps:
            raise RequestError(f"model: this server does not serve {model!r}", field="model")
        return caps[model]

    long_ = {**V, "ref": "GGGG", "alt": "G"}
    assert parse_score_request({"variants": [long_]}, cap_for=cap_for).errors == (None,)
    req = parse_score_request({"variants": [long_], "model": "b"}, cap_for=cap_for)
    assert req.errors[0].code == "ALLELE_TOO_LONG" and "cap of 3 bp" in req.errors[0].message
    with pytest.raises(RequestError) as info:     # before the malformed variant is looked at
        parse_score_request({"variants": [{"chrom": 1}], "model": "c"}, cap_for=cap_for)
    assert info.value.field == "model"
    assert seen == [None, "b", "c"]


def test_result_schemas_are_data_describing_each_served_record():
    from hail_seqscore.protocol import (GENE_SCORE_SCHEMA, RESULT_SCHEMAS, result_schema,
                                        served_kinds)

    splice = result_schema("splice", "openspliceai")
    assert splice is result_schema("splice", "spliceai") and result_schema("tracks",
                                                                           "pangolin") is None
    assert [f["name"] for f in splice["fields"]] == list(GeneScore.__slots__)
    assert list(ScoreResult(Variant("1", 1, "A", "C"), (GeneScore(
        "G", "+", 0.1, 0, 0, 0, 1, 2, 3, 4),)).to_dict()["scores"][0]) == \
        [f["name"] for f in splice["fields"]]
    json.dumps(RESULT_SCHEMAS[("splice", "spliceai")])            # plain JSON data
    assert GENE_SCORE_SCHEMA["properties"]["dp_al"]["type"] == ["integer", "null"]
    assert served_kinds() == (
        "splice/spliceai, splice/openspliceai, splice/pangolin, tracks/tracks")
    pangolin = result_schema("splice", "pangolin")
    record = PangolinScore("ENSG1", "-", 0.25, 3, -0.5, -7, "", ((3, 0.25),), None)
    assert list(record.to_dict()) == [f["name"] for f in pangolin["fields"]][:8]
    json.dumps(pangolin)
    back = decode_result(ScoreResult(Variant("1", 1, "A", "C"), (record,)).to_dict())
    assert back.scores == (record,)
