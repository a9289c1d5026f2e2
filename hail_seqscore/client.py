"""HTTP client of the scoring daemon (``seqscore serve``); standard library only.

    from hail_seqscore.client import Client
    with Client("http://127.0.0.1:8642") as c:
        results = c.score(variants, distance=50, mask=False)   # list[ScoreResult], input order

* Keeps one connection alive per thread (safe to share a Client between threads).
* Retries 503 (queue full, model loading) with exponential backoff, honouring Retry-After, and
  reconnects once when a kept-alive connection was closed by the server.
* Splits long variant lists into requests of ``chunk_size`` variants.
* Raises clear errors: :class:`~errors.NetworkUnavailableError` (daemon unreachable),
  :class:`~errors.ServiceBusyError` (still busy after the retries),
  :class:`~errors.UnauthorizedError`, :class:`~errors.RequestError` /
  :class:`~errors.PayloadTooLargeError` (the server names the field), or the class of the
  server's error code.  Per-variant failures are *not* raised: they are in each result's
  ``error``, as with the in-process engine.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from typing import Any, Sequence
from urllib.parse import urlsplit

from .errors import (ConfigError, NetworkUnavailableError, RequestError, SeqScoreError,
                     ServiceBusyError, error_from_code)
from .protocol import (DEFAULT_HOST, DEFAULT_PORT, HEALTH_PATH, METRICS_PATH, MODELS_PATH,
                       READY_PATH, SCORE_PATH, decode_score_response, encode_score_request)
from .records import ScoreResult, Variant

DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
TOKEN_ENV = "SEQSCORE_TOKEN"
_RECONNECT_ERRORS = (http.client.RemoteDisconnected, http.client.BadStatusLine,
                     ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class Client:
    def __init__(self, url: str = DEFAULT_URL, *, token: str | None = None,
                 token_file: str | os.PathLike | None = None, timeout: float = 600.0,
                 retries: int = 8, backoff: float = 0.25, max_backoff: float = 30.0,
                 chunk_size: int = 1000):
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"server URL must look like http://HOST:PORT, got {url!r}")
        if chunk_size < 1 or retries < 0 or backoff < 0 or timeout <= 0:
            raise ConfigError("chunk_size and timeout must be > 0, retries and backoff >= 0")
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._base = parts.path.rstrip("/")
        if token is None and token_file is not None:
            try:
                token = open(token_file).read().strip()
            except OSError as exc:
                raise ConfigError(f"cannot read token file {token_file}: {exc}") from None
        self.token = token if token is not None else os.environ.get(TOKEN_ENV) or None
        self.timeout, self.retries = timeout, retries
        self.backoff, self.max_backoff = backoff, max_backoff
        self.chunk_size = chunk_size
        self._local = threading.local()

    # ---- public API --------------------------------------------------------------------------
    def score(self, variants: Sequence[Variant], *, distance: int | None = None,
              mask: bool | None = None, model: str | None = None) -> list[ScoreResult]:
        """One :class:`ScoreResult` per variant, in input order (same as ``Engine.score``)."""
        variants = list(variants)
        out: list[ScoreResult] = []
        for i in range(0, len(variants), self.chunk_size):
            chunk = variants[i:i + self.chunk_size]
            body = encode_score_request(chunk, distance=distance, mask=mask, model=model)
            _, data = self._call("POST", SCORE_PATH, body)
            out += decode_score_response(data, chunk)
        return out

    def health(self) -> dict:
        return self._call("GET", HEALTH_PATH)[1]

    def ready(self) -> bool:
        """True once the daemon has loaded its model (no retries, no exception when not)."""
        try:
            status, _ = self._request("GET", READY_PATH, None)
        except NetworkUnavailableError:
            return False
        return status == 200

    def wait_ready(self, timeout: float = 120.0, interval: float = 0.2) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() > deadline:
                raise NetworkUnavailableError(
                    f"the seqscore daemon at {self.url} was not ready within {timeout:g} s")
            time.sleep(interval)

    def models(self) -> dict:
        return self._call("GET", MODELS_PATH)[1]

    def metrics(self) -> str:
        return self._call("GET", METRICS_PATH, raw=True)[1]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- plumbing ----------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None, *, raw: bool = False):
        """A request with 503 retries; returns (status, decoded body) or raises."""
        payload = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        delay = self.backoff
        for attempt in range(self.retries + 1):
            status, data = self._request(method, path, payload)
            if status != 503:
                break
            if attempt == self.retries:
                break
            retry_after = self._retry_after
            time.sleep(min(self.max_backoff, max(delay, retry_after or 0.0)))
            delay = min(self.max_backoff, delay * 2 if delay else 0.1)
        if 200 <= status < 300:
            if raw:
                return status, data.decode()
            return status, _decode(data, self.url + path)
        raise self._error(status, data, method, path)

    def _request(self, method: str, path: str, payload: bytes | None) -> tuple[int, bytes]:
        headers = {"Connection": "keep-alive", "Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in (0, 1):
            conn, fresh = self._connection()
            try:
                conn.request(method, self._base + path, body=payload, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self._retry_after = _parse_retry_after(resp.getheader("Retry-After"))
                if resp.will_close:
                    self.close()
                return resp.status, data
            except _RECONNECT_ERRORS as exc:
                self.close()
                if fresh or attempt:   # a new connection failed: the daemon is gone
                    raise NetworkUnavailableError(
                        f"the seqscore daemon at {self.url} closed the connection: {exc}"
                    ) from None
            except OSError as exc:     # refused, unreachable, timed out
                self.close()
                raise NetworkUnavailableError(
                    f"cannot reach the seqscore daemon at {self.url}: "
                    f"{getattr(exc, 'strerror', None) or exc} (is `seqscore serve` running?)"
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, False
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.timeout)
        self._local.conn = conn
        return conn, True

    @property
    def _retry_after(self) -> float | None:
        return getattr(self._local, "retry_after", None)

    @_retry_after.setter
    def _retry_after(self, value: float | None) -> None:
        self._local.retry_after = value

    def _error(self, status: int, data: bytes, method: str, path: str) -> SeqScoreError:
        where = f"{method} {self.url}{path}"
        try:
            err = json.loads(data)["error"]
            code, message = str(err["code"]), str(err["message"])
        except (ValueError, KeyError, TypeError):
            text = data.decode(errors="replace").strip()[:300]
            code, message = {503: "BUSY", 413: "PAYLOAD_TOO_LARGE", 401: "UNAUTHORIZED"}.get(
                status, "SEQSCORE_ERROR"), text or f"HTTP {status}"
            err = {}
        if status == 503:
            return ServiceBusyError(f"{where}: still busy after {self.retries} retries: "
                                    f"{message}")
        exc = error_from_code(code, f"{where} (HTTP {status}): {message}")
        if isinstance(exc, RequestError):
            exc.field = err.get("field")
        return exc


def _decode(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise SeqScoreError(f"{where}: the daemon answered malformed JSON: {exc}") from None


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
