"""HTTP client of the scoring daemon (``seqscore serve``); standard library only.

    from hail_seqscore.client import Client
    with Client("http://127.0.0.1:8642") as c:
        results = c.score(variants, distance=50, mask=False)   # list[ScoreResult], input order
        results = c.score(variants, model="openspliceai")      # another model the daemon serves
        [m["name"] for m in c.models()]                          # what it serves, default first

* Keeps one connection alive per thread (safe to share a Client between threads).
* Retries 503 (queue full, model loading) with exponential backoff, honouring Retry-After, and
  reconnects once when a kept-alive connection was closed by the server.
* Splits long variant lists into requests of at most ``chunk_size`` variants and about
  ``max_request_bytes``; a request the server still finds too large (413: its
  ``--max-body-mb``, ``--max-variants`` or ``--max-queue`` is lower) is split in halves and
  sent again.
* Returns one result per variant, like ``Engine.score``: a variant the engine would refuse
  before scoring (not a :class:`~records.Variant`, wrong field types, ``pos`` < 1, non-base
  alleles) gets its ``INVALID_VARIANT`` error here without being sent, one too large to send
  at all ``ALLELE_TOO_LONG``, and the server's per-variant errors come back as they are.
* Raises clear errors for what concerns the whole run: :class:`~errors.NetworkUnavailableError`
  (daemon unreachable), :class:`~errors.ServiceBusyError` (still busy after the retries),
  :class:`~errors.UnauthorizedError` (token missing or wrong), :class:`~errors.ConfigError` (a
  bad token or token file, or a URL that is not a seqscore daemon: 404/405),
  :class:`~errors.RequestError` (the server names the field), or the class of the server's
  error code.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import threading
import time
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from .errors import (AlleleTooLongError, ConfigError, InvalidVariantError,
                     NetworkUnavailableError, PayloadTooLargeError, RequestError, SeqScoreError,
                     ServiceBusyError, error_from_code)
from .protocol import (DEFAULT_HOST, DEFAULT_PORT, HEALTH_PATH, METRICS_PATH, MODELS_PATH,
                       READY_PATH, SCORE_PATH, decode_score_response, encode_score_request)
from .records import ErrorInfo, ScoreResult, Variant
from .tokens import check_token, read_token_file
from .variants import as_variant, validate

DEFAULT_URL = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
TOKEN_ENV = "SEQSCORE_TOKEN"
_FIELD = re.compile(r"variants\[(\d+)\]")
_RECONNECT_ERRORS = (http.client.RemoteDisconnected, http.client.BadStatusLine,
                     ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class Client:
    def __init__(self, url: str = DEFAULT_URL, *, token: str | None = None,
                 token_file: str | os.PathLike | None = None, timeout: float = 600.0,
                 retries: int = 8, backoff: float = 0.25, max_backoff: float = 30.0,
                 chunk_size: int = 1000, max_request_bytes: int = 8 * 1024 * 1024):
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"server URL must look like http://HOST:PORT, got {url!r}")
        if chunk_size < 1 or retries < 0 or backoff < 0 or timeout <= 0 \
                or max_request_bytes < 1024:
            raise ConfigError("chunk_size and timeout must be > 0, retries and backoff >= 0, "
                              "max_request_bytes >= 1024")
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._base = parts.path.rstrip("/")
        if token is not None:
            token = check_token(token.strip(), "the token")
        elif token_file is not None:
            token = read_token_file(token_file)
        elif os.environ.get(TOKEN_ENV, "").strip():
            token = check_token(os.environ[TOKEN_ENV].strip(), f"${TOKEN_ENV}")
        self.token = token
        self.timeout, self.retries = timeout, retries
        self.backoff, self.max_backoff = backoff, max_backoff
        self.chunk_size = chunk_size
        self.max_request_bytes = max_request_bytes
        self._local = threading.local()

    # ---- public API --------------------------------------------------------------------------
    def score(self, variants: Sequence[Variant], *, distance: int | None = None,
              mask: bool | None = None, model: str | None = None) -> list[ScoreResult]:
        """One :class:`ScoreResult` per variant, in input order (same as ``Engine.score``).
        A variant is a :class:`Variant` or a mapping ``{"chrom", "pos", "ref", "alt"}``."""
        variants = [_mapped(v, i) for i, v in enumerate(variants)]
        out: list[ScoreResult | None] = [None] * len(variants)
        todo: list[int] = []
        for i, v in enumerate(variants):
            err = self._refused(v)
            if err is None:
                todo.append(i)
            else:
                out[i] = ScoreResult(v, (), err)
        for chunk in self._chunks(todo, variants):
            got = self._score_chunk([variants[i] for i in chunk], distance, mask, model)
            for i, r in zip(chunk, got):
                out[i] = r
        return out  # type: ignore[return-value]

    def _refused(self, v) -> ErrorInfo | None:
        if isinstance(v, Mapping):        # a mapping that is no valid variant
            try:
                as_variant(v)
            except InvalidVariantError as exc:
                return ErrorInfo(exc.code, exc.message)
        """The engine's verdict on a variant it would refuse before scoring, or None."""
        if not isinstance(v, Variant):
            return ErrorInfo(InvalidVariantError.code,
                             f"expected a Variant, got {type(v).__name__}")
        try:
            validate(v)
        except InvalidVariantError as exc:
            return ErrorInfo(exc.code, exc.message)
        if _wire_size(v) > self.max_request_bytes:
            return _too_large(v, f"its request would be larger than the client's "
                                 f"max_request_bytes ({self.max_request_bytes})")
        return None

    def _chunks(self, todo: list[int], variants: list[Variant]):
        """Runs of indices of at most ``chunk_size`` variants and about ``max_request_bytes``."""
        chunk: list[int] = []
        size = 0
        for i in todo:
            n = _wire_size(variants[i])
            if chunk and (len(chunk) == self.chunk_size or size + n > self.max_request_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append(i)
            size += n
        if chunk:
            yield chunk

    def _score_chunk(self, chunk: list[Variant], distance, mask, model) -> list[ScoreResult]:
        body = encode_score_request(chunk, distance=distance, mask=mask, model=model)
        try:
            _, data = self._call("POST", SCORE_PATH, body)
        except PayloadTooLargeError as exc:   # the server's limits are lower than ours
            if len(chunk) == 1:
                return [ScoreResult(chunk[0], (), _too_large(chunk[0], exc.message))]
            half = len(chunk) // 2
            return (self._score_chunk(chunk[:half], distance, mask, model)
                    + self._score_chunk(chunk[half:], distance, mask, model))
        except RequestError as exc:
            # an older daemon refuses a whole request for one bad variant (400 naming
            # ``variants[j]``): that variant gets the error, the others are sent again
            j = refused_index(exc, len(chunk))
            if j is None:
                raise
            code = InvalidVariantError.code if exc.code == RequestError.code else exc.code
            rest = chunk[:j] + chunk[j + 1:]
            got = self._score_chunk(rest, distance, mask, model) if rest else []
            return got[:j] + [ScoreResult(chunk[j], (), ErrorInfo(code, exc.message))] + got[j:]
        return decode_score_response(data, chunk)

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

    def models(self) -> list[dict]:
        """The served models, the default first: each ``{"name", "version", "sha256", "kind",
        "scorer", "licence", "execution_providers", "aliases", "default", "provenance",
        "output"}`` (``output``: the fields of its results)."""
        data = self._call("GET", MODELS_PATH)[1]
        models = data.get("models") if isinstance(data, dict) else None
        if not isinstance(models, list) or not all(isinstance(m, dict) for m in models):
            raise SeqScoreError(f"{self.url}{MODELS_PATH}: expected {{\"models\": [...]}} from "
                                "the daemon")
        return models

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
        if status in (404, 405):
            return ConfigError(f"{where} (HTTP {status}): {message}; is {self.url} the address "
                               "of `seqscore serve`?")
        exc = error_from_code(code, f"{where} (HTTP {status}): {message}")
        if isinstance(exc, RequestError):
            exc.field = err.get("field")
        return exc


def _wire_size(v: Variant) -> int:
    """About the bytes a variant takes in a request body (ASCII fields)."""
    return len(v.contig) + len(v.ref) + len(v.alt) + 64


def refused_index(exc: RequestError, n: int) -> int | None:
    """The index of the variant a whole-request error names (``variants[3].pos``), if any."""
    m = _FIELD.match(exc.field or "")
    if m is None:
        return None
    j = int(m.group(1))
    return j if j < n else None


def _too_large(v: Variant, why: str) -> ErrorInfo:
    return ErrorInfo(AlleleTooLongError.code, f"{v}: REF/ALT of {len(v.ref):,}/{len(v.alt):,} "
                                              f"bp too long to send to the daemon: {why}")


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


def _mapped(v, i: int):
    """A mapping as a Variant where it makes a valid one (else unchanged: refused later)."""
    try:
        return as_variant(v, where=f"variants[{i}]")
    except InvalidVariantError:
        return v
