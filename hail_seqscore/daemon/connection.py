"""The daemon's HTTP/1.1 connections: uvicorn's h11 protocol with header and body deadlines.

uvicorn closes a kept-alive connection that stays idle between requests, but it has no timeout
for a request being received: a client that opens a connection and sends nothing, or sends its
headers a byte at a time (slow loris), holds the connection for ever.  The protocol class made
by :func:`protocol_class` (given to uvicorn as ``http=``):

* arms a header deadline when a connection is made and when the first byte of each further
  request arrives; if the request line and headers are not complete by then the connection is
  closed, with a 408 in the API's error shape if part of a request had arrived.  This happens
  before the app runs, so before the bearer token is checked;
* when a response has been sent while the client is still sending a body the app did not read
  (a 401, 413 or 415 answered before the body), gives the rest of that body the body deadline,
  then closes the connection (the app's own body read has the same deadline:
  :func:`.asgi.read_body`);
* answers a malformed request (bad request line, headers over h11's 16 KiB limit) with a 400 in
  the API's error shape instead of uvicorn's plain text.

An error written here is followed by a lingering close: the write side is shut (the client
sees the whole answer, then end of file) and whatever the client still sends is read and
dropped for up to :data:`LINGER_S` seconds, so the answer is not lost to a TCP reset.  Each
closed connection is one line in the log.
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..protocol import dumps, error_body

log = logging.getLogger(__name__)

LINGER_S = 2.0
_MALFORMED = ("malformed HTTP request: a bad request line or header, or more than 16 KiB of "
              "request line and headers")


class DeadlineH11Protocol(H11Protocol):
    """``H11Protocol`` with a header deadline and a deadline for unread bodies (seconds)."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: str | None = None      # "headers" or "body"
        self._draining = False                    # answered and closing: drop what comes

    # ---- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm("headers", self.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._draining:
            return
        super().data_received(data)
        self._update()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._update()

    def send_400_response(self, msg: str) -> None:
        body = dumps(error_body("BAD_REQUEST", _MALFORMED))
        self._disarm()
        self._write_and_close(400, b"Bad Request", body)

    # ---- deadlines --------------------------------------------------------------------------
    def _update(self) -> None:
        """Arm or disarm the deadline for the state h11 is in after new data or a response."""
        if self._draining:
            return
        if self.transport is None or self.transport.is_closing():
            self._disarm()
            return
        theirs = self.conn.their_state
        if theirs is h11.IDLE:
            if self._waiting_for != "headers" and self.conn.trailing_data[0]:
                self._arm("headers", self.header_timeout_s)   # part of the next request
        elif theirs is h11.SEND_BODY and self.cycle is not None and self.cycle.response_complete:
            if self._waiting_for != "body":
                self._arm("body", self.body_timeout_s)         # a body no one will read
        elif self._waiting_for is not None:
            self._disarm()      # headers complete (the app reads the body), or request done

    def _arm(self, what: str, seconds: float) -> None:
        self._disarm()
        self._waiting_for = what
        self._deadline = self.loop.call_later(seconds, self._expired, what, seconds)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline, self._waiting_for = None, None

    def _expired(self, what: str, seconds: float) -> None:
        self._deadline, self._waiting_for = None, None
        if self.transport.is_closing():
            return
        client = "%s:%d" % self.client if self.client else "a client"
        if what == "headers":
            started = bool(self.conn.trailing_data[0]) or self.conn.their_state is not h11.IDLE
            log.info("closed the connection from %s: %s within %g s", client,
                     "request headers not complete" if started else "no request", seconds)
            if started and self.conn.our_state is h11.IDLE:
                body = dumps(error_body("REQUEST_TIMEOUT", f"request line and headers not "
                                        f"received within {seconds:g} s"))
                self._write_and_close(408, b"Request Timeout", body)
                return
        else:
            log.info("closed the connection from %s: the rest of a request body not received "
                     "within %g s", client, seconds)
        self.transport.close()

    def _write_and_close(self, status: int, reason: bytes, body: bytes) -> None:
        head = (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n" % (status, reason, len(body)))
        self._disarm()
        self._draining = True
        self.transport.write(head + body)
        try:
            self.transport.write_eof()
        except (NotImplementedError, RuntimeError, OSError):
            self.transport.close()
            return
        self.flow.resume_reading()
        self._deadline = self.loop.call_later(LINGER_S, self.transport.close)


def protocol_class(header_timeout_s: float, body_timeout_s: float) -> type[DeadlineH11Protocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` with these deadlines."""
    return type("SeqScoreH11Protocol", (DeadlineH11Protocol,),
                {"header_timeout_s": float(header_timeout_s),
                 "body_timeout_s": float(body_timeout_s)})
