"""Run the daemon: bind checks, bearer token, uvicorn, signals.

* Binds 127.0.0.1 by default; any other address requires a token file and refuses to start
  without one.  The token is compared in constant time (see ``app.ScoringService.authorize``).
* The listening socket is bound here, before uvicorn starts, so ``--port 0`` works and the
  actual address is announced on stderr (``seqscore serve: listening on http://HOST:PORT``).
* SIGTERM / SIGINT: uvicorn stops accepting, lets in-flight requests finish (up to
  ``drain_timeout`` seconds), then the lifespan stops the batcher and the process exits 0.
* Connections stay alive between requests (``keep_alive_s``); asyncio and uvloop set
  TCP_NODELAY on every accepted TCP connection (checked by tests/test_daemon_server.py).
* HTTP/1.1 through uvicorn's h11 protocol with header and body deadlines
  (:mod:`.connection`): a stalled or slow-loris connection is closed after
  ``ServeSettings.header_timeout_s`` / ``body_timeout_s`` seconds, before authentication.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import socket
import stat
import sys
from dataclasses import dataclass
from typing import Sequence

from ..engine import Engine
from ..errors import ConfigError
from ..tokens import read_token_file as _read_token
from .app import MAX_TIMEOUT_S, ServeSettings, check_seconds, create_app
from .connection import protocol_class

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListenSettings:
    host: str = "127.0.0.1"
    port: int = 8642
    keep_alive_s: int = 75
    drain_timeout_s: float = 30.0
    log_level: str = "warning"

    def __post_init__(self):
        k = self.keep_alive_s
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_TIMEOUT_S:
            raise ConfigError(f"keep-alive must be an integer number of seconds from 1 to "
                              f"{MAX_TIMEOUT_S:g}, got {k!r}")
        check_seconds("drain-timeout", self.drain_timeout_s, MAX_TIMEOUT_S, zero_ok=True)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False   # a host name: assume it may be reachable from elsewhere


def read_token_file(path: str | os.PathLike) -> str:
    """The server's token (see :func:`tokens.read_token_file`); warns when others may read
    the file."""
    token = _read_token(path)
    try:
        if os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("token file %s is readable by other users; chmod 600 it", path)
    except OSError:
        pass
    return token


def check_bind(host: str, token: str | None) -> None:
    if not is_loopback(host) and token is None:
        raise ConfigError(
            f"refusing to listen on {host!r} without a bearer token: a non-loopback address "
            "needs --token-file (or keep the default --host 127.0.0.1)")


def bind_socket(host: str, port: int) -> socket.socket:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"port must be an integer from 0 to 65535, got {port!r}")
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app, listen: ListenSettings, settings: ServeSettings | None = None):
    import uvicorn

    settings = settings or ServeSettings()
    return uvicorn.Config(
        app, host=listen.host, port=listen.port, lifespan="on", log_level=listen.log_level,
        access_log=False, server_header=False, timeout_keep_alive=listen.keep_alive_s,
        timeout_graceful_shutdown=listen.drain_timeout_s, log_config=None,
        http=protocol_class(settings.header_timeout_s, settings.body_timeout_s),
    )


def serve(engines: Engine | Sequence[Engine], settings: ServeSettings,
          listen: ListenSettings) -> int:
    """Serve ``engines`` (one per model, the first the default) until SIGTERM/SIGINT; returns
    the exit code (69 when a model cannot be loaded or served)."""
    import uvicorn

    check_bind(listen.host, settings.token)
    sock = bind_socket(listen.host, listen.port)
    server: uvicorn.Server | None = None
    failure: list[str] = []

    def on_fatal(message: str) -> None:
        failure.append(message)
        if server is not None:
            server.should_exit = True

    class _Server(uvicorn.Server):
        """uvicorn re-raises a caught SIGTERM once it has drained, so the process would die
        by the signal; having drained, we exit 0 instead."""

        stop_signal: int | None = None

        def handle_exit(self, sig, frame):
            super().handle_exit(sig, frame)
            captured = getattr(self, "_captured_signals", None)
            if captured:
                self.stop_signal = captured.pop()

    app = create_app(engines, settings, on_fatal=on_fatal)
    server = _Server(uvicorn_config(app, listen, settings))
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"seqscore serve: listening on http://{shown}:{port} (models loading; "
          f"GET /v1/ready says when)", file=sys.stderr, flush=True)
    server.run(sockets=[sock])
    if failure:
        print(f"seqscore serve: error: {failure[0]}", file=sys.stderr, flush=True)
        return 69
    if not server.started:
        return 1
    how = f" on {signal.Signals(server.stop_signal).name}" if server.stop_signal else ""
    print(f"seqscore serve: stopped{how}", file=sys.stderr, flush=True)
    return 0
