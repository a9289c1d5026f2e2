"""The scoring daemon's wire schema, shared by the server (``daemon/``) and :mod:`client`.

Plain Python: no HTTP framework, no onnxruntime.  The server parses requests with
:func:`parse_score_request` and writes responses with :func:`encode_score_response`; the client
does the reverse with :func:`encode_score_request` and :func:`decode_score_response`.  The JSON
schemas below are what the server's OpenAPI document (``/v1/openapi.json``) shows.

Request (``POST /v1/score``, ``Content-Type: application/json``)::

    {"variants": [{"chrom": "17", "pos": 43045615, "ref": "G", "alt": "A"}, ...],
     "distance": 50, "mask": 0, "model": "spliceai"}          # the last three optional

``model`` chooses among the models the server serves (``seqscore serve --model A --model B``;
its first is the default); one it does not serve is a 400 naming the field and listing them.

Response: ``{"results": [...], "provenance": {...}}`` with exactly one result per input variant,
in input order, and the chosen model's provenance; each result holds ``variant`` (echoed as
sent) and either the model's record (for the splice kind ``scores``: one entry per gene,
unrounded; see :data:`RESULT_SCHEMAS`, which ``GET /v1/models`` shows per model) or ``error``
(``{"code", "message"}``).  A failed request answers
``{"error": {"code", "message", "field"}}`` with the matching HTTP status; every answer of the
daemon that is not a 200, unknown routes included, has that shape.

What fails the whole request, and what fails one variant:

* 400 ``BAD_REQUEST`` naming the field: a body that is not JSON (or not UTF-8), JSON nested
  too deeply for the parser (a request is three levels deep), an integer of more than :data:`MAX_INT_DIGITS` digits,
  ``NaN``/``Infinity``, a missing field, a wrong JSON type (``"pos": "12"``, ``"pos": 12.0``,
  ``"distance": 50.5``), an unknown field.
* 415 ``UNSUPPORTED_MEDIA_TYPE``: a ``Content-Type`` other than ``application/json`` (or
  ``application/*+json``), a charset other than UTF-8, or no ``Content-Type`` at all (send
  ``-H 'Content-Type: application/json'`` with curl).
* 413 ``PAYLOAD_TOO_LARGE``: a body over the server's ``--max-body-mb``, more variants than
  ``--max-variants``.  408 ``REQUEST_TIMEOUT``: headers or body not received in time.
* Per variant, inside ``results`` (the other variants are scored), as in-process scoring
  gives them: a REF or ALT longer than the server's ``--max-allele-length`` (default: the
  model's context, 10,000 bp for SpliceAI) gets ``ALLELE_TOO_LONG``, refused while parsing,
  before any other work; a well-typed variant with a bad value gets ``INVALID_VARIANT``
  (``pos`` < 1, an empty chrom, an empty or non-base REF/ALT); the engine's own codes follow (``CONTIG_NOT_FOUND``, ``REF_MISMATCH``,
  ``NEAR_CONTIG_END``, …; ``INTERNAL`` if scoring that variant failed unexpectedly).
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import (AlleleTooLongError, InvalidVariantError, PayloadTooLargeError,
                     RequestError, UnsupportedMediaTypeError)
from .kinds import RESULT_RECORDS
from .kinds.splice import SPLICE_DELTAS
from .records import ErrorInfo, GeneScore, PangolinScore, ScoreResult, TrackEffects, Variant
from .variants import validate

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
MAX_INT_DIGITS = 20             # a JSON integer longer than this is refused before conversion
JSON_MEDIA_TYPE = "application/json"
_VARIANT_FIELDS = ("chrom", "pos", "ref", "alt")
_REQUEST_FIELDS = {"variants", "distance", "mask", "model"}


class ScoreRequest:
    """A parsed ``POST /v1/score`` body.  ``None`` means "the server's default".

    ``errors[i]`` is the per-variant error of ``variants[i]`` found while parsing (a bad value,
    an over-long allele), or ``None``: such a variant is answered without being scored."""

    __slots__ = ("variants", "distance", "mask", "model", "errors")

    def __init__(self, variants: Sequence[Variant], distance: int | None = None,
                 mask: bool | None = None, model: str | None = None,
                 errors: Sequence[ErrorInfo | None] | None = None):
        self.variants = tuple(variants)
        self.distance = distance
        self.mask = mask
        self.model = model
        self.errors = tuple(errors) if errors is not None else (None,) * len(self.variants)

    def __repr__(self) -> str:
        return (f"ScoreRequest({len(self.variants)} variants, distance={self.distance}, "
                f"mask={self.mask}, model={self.model!r})")


# ---- server side ------------------------------------------------------------------------------
def check_content_type(value: str | None) -> None:
    """``application/json`` (or ``application/*+json``), UTF-8 if a charset is given; anything
    else, a missing header included, raises :class:`UnsupportedMediaTypeError` (HTTP 415).

    Requiring the header also keeps browsers from posting to a local daemon from another web
    page without a CORS preflight (a "simple" cross-site request cannot send it)."""
    hint = "send the header 'Content-Type: application/json' (curl: -H 'Content-Type: " \
           "application/json')"
    if not value or not value.strip():
        raise UnsupportedMediaTypeError(f"the request has no Content-Type; {hint}",
                                        field="Content-Type")
    media, *params = (p.strip() for p in value.split(";"))
    media = media.lower()
    kind, _, sub = media.partition("/")
    if not (media == JSON_MEDIA_TYPE or (kind == "application" and sub.endswith("+json"))):
        raise UnsupportedMediaTypeError(f"Content-Type {_short(value, 100)} is not JSON; "
                                        f"{hint}", field="Content-Type")
    for param in params:
        name, _, val = param.partition("=")
        if name.strip().lower() == "charset" and \
                val.strip().strip('"').lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise UnsupportedMediaTypeError(
                f"Content-Type charset {_short(val.strip(), 40)}: the body must be UTF-8 JSON; "
                f"{hint}", field="Content-Type")


def loads_json(body: bytes) -> Any:
    """Decode a request body; a malformed one raises :class:`RequestError` naming the problem.

    Besides syntax errors: JSON nested too deeply for the parser, integers of more than
    :data:`MAX_INT_DIGITS` digits (refused before Python converts them, which is quadratic)
    and the non-standard ``NaN``, ``Infinity`` and ``-Infinity`` that :func:`json.loads`
    would otherwise accept."""
    if not body:
        raise RequestError("request body is empty; expected a JSON object", field="body")
    try:
        return json.loads(body, parse_int=_parse_int, parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise RequestError(f"request body is not UTF-8: {exc}", field="body") from None
    except json.JSONDecodeError as exc:
        raise RequestError(f"request body is not valid JSON: {exc.msg} at line {exc.lineno} "
                           f"column {exc.colno}", field="body") from None
    except RecursionError:
        raise RequestError("request body is JSON nested too deeply (a request is an object "
                           "holding a list of objects)", field="body") from None


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise RequestError(f"request body holds an integer of {digits} digits; at most "
                           f"{MAX_INT_DIGITS} are accepted", field="body")
    return int(text)


def _refuse_constant(name: str) -> Any:
    raise RequestError(f"request body holds {name}, which is not valid JSON (numbers must be "
                       "finite)", field="body")


def parse_variant(obj: Any, where: str) -> Variant:
    """Structural checks only (fields present, JSON types right): a wrong one raises
    :class:`RequestError` naming the field.  Values are checked by :func:`variant_problem`."""
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
    if not isinstance(chrom, str):
        raise RequestError(f"{where}.chrom: expected a string, got {_json_type(chrom)}",
                           field=f"{where}.chrom")
    if isinstance(pos, bool) or not isinstance(pos, int):
        raise RequestError(f"{where}.pos: expected an integer (1-based), got "
                           f"{_json_type(pos)}: {_short(pos)}", field=f"{where}.pos")
    for name, value in (("ref", ref), ("alt", alt)):
        if not isinstance(value, str):
            raise RequestError(f"{where}.{name}: expected a string, got {_json_type(value)}",
                               field=f"{where}.{name}")
    return Variant(chrom, pos, ref, alt)


def variant_problem(v: Variant, max_allele_length: int | None = None) -> ErrorInfo | None:
    """The per-variant error of a well-typed variant whose values cannot be scored, or None.

    The allele lengths are checked first, so an over-long allele is refused before anything
    else looks at its bases (``ALLELE_TOO_LONG``, as :class:`~engine.Engine` words it); then
    :func:`variants.validate` (``INVALID_VARIANT``: ``pos`` < 1, an empty chrom, an empty or
    non-base REF/ALT), with the engine's own messages."""
    longest = max(len(v.ref), len(v.alt))
    if max_allele_length is not None and longest > max_allele_length:
        which = "REF" if len(v.ref) >= len(v.alt) else "ALT"
        return ErrorInfo(AlleleTooLongError.code, (
            f"{v}: {which} is {longest:,} bp, longer than the cap of {max_allele_length:,} bp "
            "(the model's window; --max-allele-length raises it); not scored"))
    try:
        validate(v)
    except InvalidVariantError as exc:
        return ErrorInfo(exc.code, exc.message)
    return None


def parse_score_request(obj: Any, *, max_variants: int = DEFAULT_MAX_VARIANTS,
                        max_allele_length: int | None = None,
                        cap_for: Callable[[str | None], int | None] | None = None
                        ) -> ScoreRequest:
    """Validate a decoded ``POST /v1/score`` body; errors name the field (``variants[3].pos``).

    Structural problems raise :class:`RequestError` (400); bad values of one variant become
    that variant's entry in :attr:`ScoreRequest.errors`.  ``cap_for(model)`` (a server serving
    several models) gives the allele-length cap of the model the request names (``None``: its
    default model) in place of ``max_allele_length``, and raises :class:`RequestError` for a
    model it does not serve; it is called before the variants are looked at."""
    if not isinstance(obj, Mapping):
        raise RequestError(f"request body: expected a JSON object, got {_json_type(obj)}",
                           field="body")
    unknown = sorted(set(obj) - _REQUEST_FIELDS)
    if unknown:
        raise RequestError(f"unknown field(s) {', '.join(_short(u, 40) for u in unknown[:5])}; "
                           f"expected {', '.join(sorted(_REQUEST_FIELDS))}",
                           field=unknown[0][:40])
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
    model = obj.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        raise RequestError(f"model: expected a model name, got {_short(model)}", field="model")
    if cap_for is not None:
        max_allele_length = cap_for(model)
    variants = [parse_variant(v, f"variants[{i}]") for i, v in enumerate(raw)]
    errors = [variant_problem(v, max_allele_length) for v in variants]

    distance = obj.get("distance")
    if distance is not None and (isinstance(distance, bool) or not isinstance(distance, int)
                                 or distance < 0):
        raise RequestError(f"distance: expected a non-negative integer, got "
                           f"{_short(distance)}", field="distance")
    mask = obj.get("mask")
    if mask is not None:
        if isinstance(mask, bool):
            pass
        elif isinstance(mask, int) and mask in (0, 1):
            mask = bool(mask)
        else:
            raise RequestError(f"mask: expected 0, 1, true or false, got {_short(mask)}",
                               field="mask")
    return ScoreRequest(variants, distance, mask, model, errors)


def finite_or_error(result: ScoreResult) -> ScoreResult:
    """``result``, or an ``INTERNAL`` error for it if a score is NaN or infinite (JSON cannot
    carry one, and it is no score: e.g. a half-precision model that overflowed)."""
    for s in result.scores:
        if not s.finite():
            return ScoreResult(result.variant, (), ErrorInfo(
                "INTERNAL", f"{result.variant}: the model gave a non-finite score (NaN or "
                            f"infinity) for gene {s.gene}; not scored"))
    return result


def encode_result(result: ScoreResult) -> dict[str, Any]:
    return finite_or_error(result).to_dict()


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
    try:
        return ScoreResult(variant, tuple(_record(s) for s in scores))
    except (KeyError, TypeError, ValueError) as exc:
        raise RequestError(f"{where}.scores: malformed record ({exc})", field=where) from None


def _record(obj: Mapping[str, Any]) -> GeneScore | PangolinScore | TrackEffects:
    """One record: a track model's effects, Pangolin's gain/loss or SpliceAI's deltas."""
    if "effects" in obj:
        return TrackEffects.from_dict(dict(obj))
    if "gain" in obj:
        return PangolinScore.from_dict(dict(obj))
    return GeneScore.from_dict(dict(obj))


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


def _short(obj: Any, limit: int = 60) -> str:
    """``repr`` of a value from a request, cut to ``limit`` characters for messages."""
    text = repr(obj)
    return text if len(text) <= limit else f"{text[:limit]}...({len(text)} characters)"


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
        "model": {"type": "string", "description": "one of the models the server serves "
                                                    "(GET /v1/models); its default if absent"},
    },
}

# ---- what a result holds, per kind of model: data, shown by GET /v1/models --------------------
#: The result record of each (kind, scorer) the daemon serves (``ModelSpec.kind`` and
#: ``.scorer``): ``results[i][record["list"]]`` holds one object per ``record["per"]`` with the
#: record's ``fields``.  A model whose (kind, scorer) is not listed is refused when the daemon
#: starts; a new kind, or a scorer whose record differs, adds its own entry here.
RESULT_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = RESULT_RECORDS


def result_schema(kind: str, scorer: str) -> dict[str, Any] | None:
    """The result record of models of ``kind`` scored by ``scorer``, or None if not served."""
    return RESULT_SCHEMAS.get((kind, scorer))


def served_kinds() -> str:
    """``splice/spliceai, splice/openspliceai``: for messages."""
    return ", ".join(f"{k}/{s}" for k, s in RESULT_SCHEMAS)


def item_json_schema(record: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one object of a result record's list (for the OpenAPI document)."""
    props = {}
    for f in record["fields"]:
        prop: dict[str, Any] = {"type": [f["type"], "null"] if f["nullable"] else f["type"],
                                "description": f["description"]}
        if "enum" in f:
            prop["enum"] = f["enum"]
        props[f["name"]] = prop
    return {"type": "object", "properties": props}


GENE_SCORE_SCHEMA: dict[str, Any] = item_json_schema(SPLICE_DELTAS)
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
