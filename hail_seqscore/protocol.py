"""The scoring daemon's wire schema, shared by the server (``daemon/``) and :mod:`client`.

Plain Python: no HTTP framework, no onnxruntime.  The server parses requests with
:func:`parse_score_request` and writes responses with :func:`encode_score_response`; the client
does the reverse with :func:`encode_score_request` and :func:`decode_score_response`.  The JSON
schemas below are what the server's OpenAPI document (``/v1/openapi.json``) shows.

Request (``POST /v1/score``)::

    {"variants": [{"chrom": "17", "pos": 43045615, "ref": "G", "alt": "A"}, ...],
     "distance": 50, "mask": 0, "model": "spliceai"}          # the last three optional

Response: ``{"results": [...], "provenance": {...}}`` with exactly one result per input variant,
in input order; each holds ``variant`` and either ``scores`` (one entry per gene, unrounded) or
``error`` (``{"code", "message"}``).  A failed request answers
``{"error": {"code", "message", "field"}}`` with the matching HTTP status.

Structural problems (a missing field, a wrong JSON type) fail the request with 400 naming the
field; a well-formed variant the reference disagrees with (bad bases, unknown contig, REF
mismatch) gets its own per-variant error instead.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Sequence

from .errors import PayloadTooLargeError, RequestError
from .records import ErrorInfo, GeneScore, ScoreResult, Variant

API_VERSION = "v1"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8642

SCORE_PATH = "/v1/score"
HEALTH_PATH = "/v1/health"
READY_PATH = "/v1/ready"
MODELS_PATH = "/v1/models"
METRICS_PATH = "/metrics"
OPENAPI_PATH = "/v1/openapi.json"
DOCS_PATH = "/v1/docs"

DEFAULT_MAX_VARIANTS = 10_000   # per request (the server's default; the client chunks below it)
_VARIANT_FIELDS = ("chrom", "pos", "ref", "alt")
_REQUEST_FIELDS = {"variants", "distance", "mask", "model"}


class ScoreRequest:
    """A parsed ``POST /v1/score`` body.  ``None`` means "the server's default"."""

    __slots__ = ("variants", "distance", "mask", "model")

    def __init__(self, variants: Sequence[Variant], distance: int | None = None,
                 mask: bool | None = None, model: str | None = None):
        self.variants = tuple(variants)
        self.distance = distance
        self.mask = mask
        self.model = model

    def __repr__(self) -> str:
        return (f"ScoreRequest({len(self.variants)} variants, distance={self.distance}, "
                f"mask={self.mask}, model={self.model!r})")


# ---- server side ------------------------------------------------------------------------------
def loads_json(body: bytes) -> Any:
    """Decode a request body; a malformed one raises :class:`RequestError`."""
    if not body:
        raise RequestError("request body is empty; expected a JSON object", field="body")
    try:
        return json.loads(body)
    except UnicodeDecodeError as exc:
        raise RequestError(f"request body is not UTF-8: {exc}", field="body") from None
    except json.JSONDecodeError as exc:
        raise RequestError(f"request body is not valid JSON: {exc.msg} at line {exc.lineno} "
                           f"column {exc.colno}", field="body") from None


def parse_variant(obj: Any, where: str) -> Variant:
    """Structural checks only (fields present, JSON types right); bases are the engine's job."""
    if not isinstance(obj, Mapping):
        raise RequestError(f"{where}: expected an object with chrom, pos, ref, alt; got "
                           f"{_json_type(obj)}", field=where)
    missing = [k for k in _VARIANT_FIELDS if k not in obj]
    if missing:
        raise RequestError(f"{where}: missing field(s) {', '.join(missing)}",
                           field=f"{where}.{missing[0]}")
    chrom, pos, ref, alt = (obj[k] for k in _VARIANT_FIELDS)
    if isinstance(chrom, int) and not isinstance(chrom, bool):
        chrom = str(chrom)
    if not isinstance(chrom, str) or not chrom:
        raise RequestError(f"{where}.chrom: expected a non-empty string, got {chrom!r}",
                           field=f"{where}.chrom")
    if isinstance(pos, bool) or not isinstance(pos, int) or pos < 1:
        raise RequestError(f"{where}.pos: expected an integer >= 1 (1-based), got {pos!r}",
                           field=f"{where}.pos")
    for name, value in (("ref", ref), ("alt", alt)):
        if not isinstance(value, str) or not value:
            raise RequestError(f"{where}.{name}: expected a non-empty string, got {value!r}",
                               field=f"{where}.{name}")
    return Variant(chrom, pos, ref, alt)


def parse_score_request(obj: Any, *, max_variants: int = DEFAULT_MAX_VARIANTS) -> ScoreRequest:
    """Validate a decoded ``POST /v1/score`` body; errors name the field (``variants[3].pos``)."""
    if not isinstance(obj, Mapping):
        raise RequestError(f"request body: expected a JSON object, got {_json_type(obj)}",
                           field="body")
    unknown = sorted(set(obj) - _REQUEST_FIELDS)
    if unknown:
        raise RequestError(f"unknown field(s) {', '.join(map(repr, unknown))}; expected "
                           f"{', '.join(sorted(_REQUEST_FIELDS))}", field=str(unknown[0]))
    if "variants" not in obj:
        raise RequestError("missing field 'variants' (a list of {chrom, pos, ref, alt})",
                           field="variants")
    raw = obj["variants"]
    if not isinstance(raw, list):
        raise RequestError(f"variants: expected a list, got {_json_type(raw)}", field="variants")
    if len(raw) > max_variants:
        raise PayloadTooLargeError(f"variants: {len(raw)} variants in one request; at most "
                                   f"{max_variants} are accepted (split the request)",
                                   field="variants")
    variants = [parse_variant(v, f"variants[{i}]") for i, v in enumerate(raw)]

    distance = obj.get("distance")
    if distance is not None and (isinstance(distance, bool) or not isinstance(distance, int)
                                 or distance < 0):
        raise RequestError(f"distance: expected a non-negative integer, got {distance!r}",
                           field="distance")
    mask = obj.get("mask")
    if mask is not None:
        if isinstance(mask, bool):
            pass
        elif isinstance(mask, int) and mask in (0, 1):
            mask = bool(mask)
        else:
            raise RequestError(f"mask: expected 0, 1, true or false, got {mask!r}", field="mask")
    model = obj.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        raise RequestError(f"model: expected a model name, got {model!r}", field="model")
    return ScoreRequest(variants, distance, mask, model)


def encode_result(result: ScoreResult) -> dict[str, Any]:
    return result.to_dict()


def encode_score_response(results: Iterable[ScoreResult],
                          provenance: Mapping[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"results": [encode_result(r) for r in results]}
    if provenance is not None:
        out["provenance"] = dict(provenance)
    return out


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        err["field"] = field
    return {"error": err}


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


# ---- client side ------------------------------------------------------------------------------
def encode_score_request(variants: Sequence[Variant], *, distance: int | None = None,
                         mask: bool | None = None, model: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"variants": [v.to_dict() for v in variants]}
    if distance is not None:
        body["distance"] = distance
    if mask is not None:
        body["mask"] = bool(mask)
    if model is not None:
        body["model"] = model
    return body


def decode_result(obj: Any, where: str = "result") -> ScoreResult:
    if not isinstance(obj, Mapping) or "variant" not in obj:
        raise RequestError(f"{where}: expected an object with 'variant', got {_json_type(obj)}",
                           field=where)
    variant = parse_variant(obj["variant"], f"{where}.variant")
    if obj.get("error") is not None:
        err = obj["error"]
        if not isinstance(err, Mapping) or "code" not in err:
            raise RequestError(f"{where}.error: expected {{code, message}}", field=f"{where}.error")
        return ScoreResult(variant, (), ErrorInfo(str(err["code"]), str(err.get("message", ""))))
    scores = obj.get("scores")
    if not isinstance(scores, list):
        raise RequestError(f"{where}: neither 'scores' (a list) nor 'error'", field=where)
    return ScoreResult(variant, tuple(GeneScore.from_dict(s) for s in scores))


def decode_score_response(obj: Any, variants: Sequence[Variant] | None = None
                          ) -> list[ScoreResult]:
    """Results of a response, checked against the request's ``variants`` when given: same
    count, same variant at each index (the results then carry the caller's own objects)."""
    if not isinstance(obj, Mapping) or not isinstance(obj.get("results"), list):
        raise RequestError("response: expected an object with a 'results' list", field="results")
    results = [decode_result(r, f"results[{i}]") for i, r in enumerate(obj["results"])]
    if variants is None:
        return results
    if len(results) != len(variants):
        raise RequestError(f"response holds {len(results)} results for {len(variants)} "
                           "variants", field="results")
    out = []
    for i, (v, r) in enumerate(zip(variants, results)):
        if r.variant.key != (v.contig, v.pos, v.ref, v.alt):
            raise RequestError(f"results[{i}]: echoes {r.variant}, but variant {i} of the "
                               f"request was {v}", field=f"results[{i}].variant")
        out.append(ScoreResult(v, r.scores, r.error))
    return out


def _json_type(obj: Any) -> str:
    if obj is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(obj), type(obj).__name__)


# ---- JSON schemas (for the OpenAPI document) --------------------------------------------------
VARIANT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": list(_VARIANT_FIELDS),
    "properties": {
        "chrom": {"type": "string", "example": "17"},
        "pos": {"type": "integer", "minimum": 1, "description": "1-based, as in VCF",
                "example": 43045615},
        "ref": {"type": "string", "example": "G"},
        "alt": {"type": "string", "example": "A"},
    },
}
SCORE_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["variants"],
    "additionalProperties": False,
    "properties": {
        "variants": {"type": "array", "items": VARIANT_SCHEMA},
        "distance": {"type": "integer", "minimum": 0, "maximum": 4999,
                     "description": "SpliceAI -D; the server's --distance if absent"},
        "mask": {"oneOf": [{"type": "boolean"}, {"type": "integer", "enum": [0, 1]}],
                 "description": "SpliceAI -M; the server's default if absent"},
        "model": {"type": "string", "description": "must name the model the server serves"},
    },
}
GENE_SCORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "gene": {"type": "string"}, "strand": {"type": "string", "enum": ["+", "-"]},
        **{k: {"type": ["number", "null"]} for k in ("ds_ag", "ds_al", "ds_dg", "ds_dl")},
        **{k: {"type": ["integer", "null"]} for k in ("dp_ag", "dp_al", "dp_dg", "dp_dl")},
    },
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string", "example": "REF_MISMATCH"},
                   "message": {"type": "string"}, "field": {"type": "string"}},
}
SCORE_RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "results": {"type": "array", "items": {
            "type": "object", "required": ["variant"],
            "properties": {"variant": VARIANT_SCHEMA,
                           "scores": {"type": "array", "items": GENE_SCORE_SCHEMA},
                           "error": ERROR_SCHEMA}}},
        "provenance": {"type": "object"},
    },
}
ERROR_RESPONSE_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"error": ERROR_SCHEMA}}
