"""The daemon's HTTP routes (FastAPI), each a thin layer over the batcher, cache and engine.

Routes: ``POST /v1/score``, ``GET /v1/health``, ``GET /v1/ready``, ``GET /v1/models``,
``GET /metrics``; the OpenAPI document is at ``/v1/openapi.json`` (browsable at ``/v1/docs``).
Every failure answers ``{"error": {"code", "message", "field"}}``: a request-level one with the
status of its error class (400 malformed, 401 token, 408 too slow, 413 too large, 415 not JSON,
503 + Retry-After busy), an unknown route 404 ``NOT_FOUND``, a wrong method 405
``METHOD_NOT_ALLOWED``, an unexpected failure 500 ``INTERNAL`` (one log line, no traceback);
per-variant failures travel inside ``results``.  A client that disconnects is one log line.
No route reads a path a client gives.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Callable, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from .. import __version__
from ..engine import Engine, check_distance
from ..errors import (ConfigError, PayloadTooLargeError, RequestError, RequestTimeoutError,
                      SeqScoreError, ServiceBusyError, UnauthorizedError)
from .asgi import (JSON, CountRequests, Guard, reply, read_body, until_disconnect,
                   where)
from ..protocol import (DOCS_PATH, ERROR_RESPONSE_SCHEMA, HEALTH_PATH, METRICS_PATH,
                        MODELS_PATH, OPENAPI_PATH, READY_PATH, SCORE_PATH,
                        SCORE_REQUEST_SCHEMA, SCORE_RESPONSE_SCHEMA, DEFAULT_MAX_VARIANTS,
                        check_content_type, encode_score_response, error_body,
                        finite_or_error, loads_json, parse_score_request)
from ..records import ScoreResult
from .batcher import Batcher, BatchSettings
from .cache import ResultCache
from .metrics import CONTENT_TYPE, DaemonMetrics
from .models import ModelSet, ServedModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeSettings:
    batch: BatchSettings = field(default_factory=BatchSettings)
    max_body_bytes: int = 16 * 1024 * 1024
    max_variants: int = DEFAULT_MAX_VARIANTS
    cache_size: int = 100_000
    token: str | None = None
    retry_after_s: int = 1
    #: seconds a client has to send a request's headers (from its first byte, or from the
    #: connection being opened) and then its whole body; slower ones are closed (408)
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0

    def __post_init__(self):
        for name in ("max_body_bytes", "max_variants", "retry_after_s"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be an integer >= 1, got {v!r}")
        for name in ("header_timeout_s", "body_timeout_s"):
            check_seconds(name[:-2].replace("_", "-"), getattr(self, name), MAX_TIMEOUT_S)
        if self.token is not None and not self.token:
            raise ConfigError("the bearer token is empty")


MAX_TIMEOUT_S = 3600.0


def check_seconds(name: str, value: object, most: float, least: float = 0.0,
                  zero_ok: bool = False) -> float:
    """A duration setting: a finite number of seconds in (least, most] (or [0, most])."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and math.isfinite(value) and value <= most
          and (value >= least if zero_ok else value > least))
    if not ok:
        low = f">= {least:g}" if zero_ok else f"> {least:g}"
        raise ConfigError(f"{name} must be a number of seconds {low} and <= {most:g}, "
                          f"got {value!r}")
    return float(value)  # type: ignore[arg-type]


class ScoringService:
    """The state behind the routes: the served models, batcher, cache, metrics, readiness."""

    def __init__(self, engines: Sequence[Engine], settings: ServeSettings,
                 on_fatal: Callable[[str], None] | None = None):
        self.models = ModelSet(engines)
        self.settings = settings
        self.on_fatal = on_fatal
        self.cache = ResultCache(settings.cache_size)
        self.batcher = Batcher(self._score, settings.batch)
        self.metrics = DaemonMetrics(queue_depth=lambda: self.batcher.depth,
                                     cache_entries=lambda: len(self.cache))
        self.batcher.on_batch = lambda size, seconds, group: self.metrics.observe_batch(
            size, seconds, group[0])
        self.load_error: str | None = None

    @property
    def ready(self) -> bool:
        return self.models.ready

    def _score(self, group, variants) -> list[ScoreResult]:
        """In the worker thread: one batch, all of one model (the batcher's group)."""
        name, distance, mask = group
        return self.models.choose(name).engine.score(variants, distance=distance, mask=mask)

    async def warm_up(self) -> None:
        t0 = time.perf_counter()
        try:
            await self.batcher.run_in_worker(self.models.load)
        except Exception as exc:  # noqa: BLE001 - reported on /v1/ready and at exit
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            if self.models.loading is not None:
                message = f"model {self.models.loading!r}: {message}"
            self.load_error = message
            if self.on_fatal is not None:
                self.on_fatal(message)        # the one line the process ends with
            else:
                log.error("cannot load the models: %s", message)
            return
        self.metrics.ready.set(1)
        for m in self.models.models:
            e = m.entry
            log.info("model %s %s (%s/%s) loaded: %s", e["name"], e["version"],
                     e["kind"], e["scorer"], e["runs_on"])
        log.info("%d model(s) loaded in %.1f s; the default is %s", len(self.models.models),
                 time.perf_counter() - t0, self.models.default.name)

    def authorize(self, request: Request) -> None:
        token = self.settings.token
        if token is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        ok = hmac.compare_digest(value.strip().encode(), token.encode())
        if scheme.lower() != "bearer" or not ok:
            raise UnauthorizedError("missing or wrong bearer token (send the header "
                                    "'Authorization: Bearer <token>')")

    def params(self, model: ServedModel, distance: int | None,
               mask: bool | None) -> tuple[int, bool]:
        cfg = model.engine.config
        if distance is None:
            distance = cfg.distance
        else:
            try:
                check_distance(distance)
            except ConfigError as exc:
                raise RequestError(exc.message, field="distance") from None
        return distance, bool(model.engine.default_mask if mask is None else mask)


def _retrieve(future: asyncio.Future) -> None:
    """Mark a cancelled gather's outcome as seen (asyncio logs it otherwise)."""
    if not future.cancelled():
        future.exception()


def create_app(engines: Engine | Sequence[Engine], settings: ServeSettings | None = None, *,
               on_fatal: Callable[[str], None] | None = None) -> FastAPI:
    """The daemon's app serving ``engines`` (one per model; the first is the default)."""
    settings = settings or ServeSettings()
    svc = ScoringService([engines] if isinstance(engines, Engine) else list(engines),
                         settings, on_fatal)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await svc.batcher.start()
        loading = asyncio.get_running_loop().create_task(svc.warm_up())
        try:
            yield
        finally:
            if not loading.done():
                loading.cancel()
            await svc.batcher.stop()      # in-flight requests have been answered by now

    app = FastAPI(title="seqscore", version=__version__, lifespan=lifespan,
                  openapi_url=OPENAPI_PATH, docs_url=None, redoc_url=None,
                  description="Local scoring daemon of hail-seqscore: variant scores of one or "
                              "more sequence models (GET /v1/models lists them with the "
                              "fields of their results), one result per input variant.")
    app.state.service = svc

    @app.get(DOCS_PATH, include_in_schema=False)
    async def _docs():
        """The API reference, self-contained (no CDN: works offline)."""
        from .docs_page import render  # noqa: PLC0415

        return Response(render(app.openapi()), media_type="text/html")

    @app.exception_handler(SeqScoreError)
    async def _seqscore_error(request: Request, exc: SeqScoreError):
        headers = None
        if exc.http_status == 503:
            headers = {"Retry-After": str(settings.retry_after_s)}
            svc.metrics.rejected.inc(1, "busy")
        elif exc.http_status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        elif isinstance(exc, RequestTimeoutError):
            headers = {"Connection": "close"}     # the rest of the body is not waited for
            log.info("%s: %s", where(request.scope), exc.message)
        status = exc.http_status if exc.http_status >= 400 else 400
        return reply(error_body(exc.code, exc.message, getattr(exc, "field", None)), status,
                     headers)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        """Starlette's own 404 / 405 (and any other HTTPException) in the API's shape."""
        method, path = request.method, request.url.path[:200]
        if exc.status_code == 404:
            code, message = "NOT_FOUND", (f"no route {path!r}; the routes are POST {SCORE_PATH}, "
                                          f"GET {HEALTH_PATH}, {READY_PATH}, {MODELS_PATH}, "
                                          f"{METRICS_PATH}, {OPENAPI_PATH}")
        elif exc.status_code == 405:
            allow = (exc.headers or {}).get("Allow", "")
            code, message = "METHOD_NOT_ALLOWED", f"{path} does not take {method}; use {allow}"
        else:
            code, message = f"HTTP_{exc.status_code}", str(exc.detail)
        return reply(error_body(code, message), exc.status_code, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        first = (exc.errors() or [{}])[0]
        loc = ".".join(str(x) for x in first.get("loc", ())) or "request"
        return reply(error_body("BAD_REQUEST", f"{loc}: {first.get('msg', 'invalid')}", loc),
                     400)

    error_responses = {str(s): {"description": d, "content": {JSON: {
        "schema": ERROR_RESPONSE_SCHEMA}}} for s, d in (
        (400, "malformed JSON or field (the error names it)"), (401, "missing or wrong token"),
        (408, "headers or body not received in time"), (413, "body too large"),
        (415, "Content-Type is not application/json"),
        (503, "queue full or model loading; see Retry-After"))}

    @app.post(SCORE_PATH, response_class=Response, summary="Score variants",
              openapi_extra={
                  "requestBody": {"required": True,
                                  "content": {JSON: {"schema": SCORE_REQUEST_SCHEMA}}},
                  "responses": {"200": {"description": "one result per input variant, in "
                                        "input order", "content": {JSON: {
                                            "schema": SCORE_RESPONSE_SCHEMA}}},
                                **error_responses}})
    async def score(request: Request) -> Response:
        svc.authorize(request)
        check_content_type(request.headers.get("content-type"))
        body = await read_body(request, settings.max_body_bytes, settings.body_timeout_s)
        t0 = time.perf_counter()
        req = parse_score_request(loads_json(body), max_variants=settings.max_variants,
                                  cap_for=svc.models.cap_for)
        if not svc.ready:
            raise ServiceBusyError(svc.load_error or "the models are still loading; retry "
                                   "shortly")
        model = svc.models.choose(req.model)
        distance, mask = svc.params(model, req.distance, req.mask)
        group = (model.name, distance, mask)             # the batcher never mixes groups
        params = (model.identity, distance, mask)        # a cached result is this model's
        results: list[ScoreResult | None] = [
            ScoreResult(v, (), err) if err is not None else svc.cache.get(params, v)
            for v, err in zip(req.variants, req.errors)]
        refused = sum(1 for err in req.errors if err is not None)
        missing = [i for i, r in enumerate(results) if r is None]
        hits = len(results) - len(missing) - refused
        if len(missing) > settings.batch.max_queue:
            raise PayloadTooLargeError(
                f"variants: {len(missing)} variants to score exceed the server's max-queue "
                f"({settings.batch.max_queue}); split the request", field="variants")
        if missing:
            futures = svc.batcher.submit(group, [req.variants[i] for i in missing])
            gathered = asyncio.ensure_future(asyncio.gather(*futures))
            watcher = asyncio.ensure_future(until_disconnect(request))
            gone = False
            try:
                await asyncio.wait({gathered, watcher}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not gathered.done():      # the client went away (or we were cancelled)
                    gone = True
                    gathered.cancel()        # it ends cancelled a little later: no result
                    gathered.add_done_callback(_retrieve)
                    svc.metrics.disconnects.inc()
                watcher.cancel()
            if gone:
                log.info("%s: the client disconnected before its %d variants were scored; "
                         "they were dropped", where(request.scope), len(missing))
                return Response(status_code=499)
            for i, r in zip(missing, gathered.result()):
                results[i] = r = finite_or_error(r)
                svc.cache.put(params, r)
        m = svc.metrics
        m.cache_hits.inc(hits)
        m.cache_misses.inc(len(missing))
        n_err = sum(1 for r in results if r.error is not None)  # type: ignore[union-attr]
        m.variants.inc(hits, model.name, "cached")
        m.variants.inc(len(missing) - sum(1 for i in missing if results[i].error),
                       model.name, "scored")
        m.variants.inc(n_err, model.name, "error")
        out = reply(encode_score_response(results, model.provenance))  # type: ignore[arg-type]
        m.latency.observe(time.perf_counter() - t0, model.name)
        return out

    @app.get(HEALTH_PATH, summary="Alive (200 as long as the process serves)")
    async def health() -> Response:
        return reply({"status": "ok", "version": __version__})

    @app.get(READY_PATH, summary="Ready (200 only once every model's session exists, on the "
                                 "execution provider GET /v1/models reports)")
    async def ready(request: Request) -> Response:
        svc.authorize(request)
        ms = svc.models
        if svc.ready:     # every model's session exists, on the provider /v1/models reports
            return reply({"status": "ready", "models": ms.names()})
        status = "failed" if svc.load_error else "loading"
        return reply({"status": status, "error": svc.load_error, "loaded": len(ms.models),
                      "of": len(ms.engines)}, 503, {"Retry-After": str(settings.retry_after_s)})

    @app.get(MODELS_PATH, summary="The served models: name, version, sha256, kind, scorer, "
                                  "licence, execution providers, provenance, result fields")
    async def models(request: Request) -> Response:
        svc.authorize(request)
        if not svc.ready:
            raise ServiceBusyError(svc.load_error or "the models are still loading")
        ms = svc.models
        return reply({"models": [m.entry for m in ms.models], "default": ms.default.name,
                      "provenance": ms.default.provenance})

    @app.get(METRICS_PATH, summary="Prometheus metrics")
    async def metrics(request: Request) -> Response:
        svc.authorize(request)
        return Response(svc.metrics.render(), media_type=CONTENT_TYPE)

    routes = {SCORE_PATH, HEALTH_PATH, READY_PATH, MODELS_PATH, METRICS_PATH}
    app.add_middleware(Guard)
    app.add_middleware(CountRequests, metrics=svc.metrics, routes=routes)
    return app
