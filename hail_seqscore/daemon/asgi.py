"""ASGI plumbing of the daemon: reading a body within limits, and two middlewares.

* :func:`read_body`: at most ``limit`` bytes (413) within a deadline (408).
* :class:`Guard`: a client that disconnects is one log line; an unexpected exception is one log
  line and a 500 ``INTERNAL`` in the API's error shape (never uvicorn's traceback and plain
  text).
* :class:`CountRequests`: ``seqscore_requests_total{route, status}``.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from ..errors import PayloadTooLargeError, RequestError, RequestTimeoutError
from ..protocol import dumps, error_body
from .metrics import DaemonMetrics

log = logging.getLogger("hail_seqscore.daemon.app")
JSON = "application/json"


async def read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    """The whole body, at most ``limit`` bytes (else 413), within ``timeout_s`` seconds of the
    headers (else 408: a slow or stalled upload is not waited for)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            n = int(declared)
        except ValueError:
            raise RequestError(f"bad Content-Length {declared[:40]!r}", field="body") from None
        if n > limit:
            raise PayloadTooLargeError(f"request body is {n} bytes; the limit is {limit} "
                                       "(split the variants over several requests)", "body")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    chunks, size = [], 0
    while True:
        remaining = deadline - loop.time()
        try:
            if remaining <= 0:
                raise asyncio.TimeoutError
            message = await asyncio.wait_for(request.receive(), remaining)
        except asyncio.TimeoutError:
            raise RequestTimeoutError(
                f"request body not received within {timeout_s:g} s ({size} bytes arrived); "
                "the connection is closed", field="body") from None
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"request body exceeds the limit of {limit} bytes "
                                       "(split the variants over several requests)", "body")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def until_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def reply(obj, status: int = 200, headers: dict | None = None) -> Response:
    return Response(dumps(obj), status_code=status, media_type=JSON, headers=headers)


def where(scope) -> str:
    client = scope.get("client")
    who = f" from {client[0]}:{client[1]}" if client else ""
    return f"{scope.get('method', '?')} {scope.get('path', '?')[:200]}{who}"


class Guard:
    """ASGI middleware: a client that went away is one log line; an unexpected exception is
    one log line and a 500 in the API's shape (uvicorn would log a traceback and answer
    plain text)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            log.info("%s: the client disconnected before sending its whole request",
                     where(scope))
        except Exception as exc:  # noqa: BLE001 - the last resort: one line, an API answer
            log.error("%s: internal error: %s: %s", where(scope), type(exc).__name__, exc)
            if not started:
                body = dumps(error_body("INTERNAL", f"internal error: {type(exc).__name__}; "
                                        "see the server log"))
                await send({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", JSON.encode()), (b"content-length", b"%d" % len(body)),
                    (b"connection", b"close")]})
                await send({"type": "http.response.body", "body": body})


class CountRequests:
    """ASGI middleware: ``seqscore_requests_total{route, status}``."""

    def __init__(self, app, metrics: DaemonMetrics, routes: set[str]):
        self.app, self.metrics, self.routes = app, metrics, routes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        route = scope["path"] if scope["path"] in self.routes else "other"

        async def counting_send(message):
            if message["type"] == "http.response.start":
                self.metrics.requests.inc(1, route, str(message["status"]))
            await send(message)

        await self.app(scope, receive, counting_send)
