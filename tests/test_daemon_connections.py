"""Connections to a real ``seqscore serve`` on 127.0.0.1 (issue #11 item 5): stalled and
slow-loris clients are closed after the header / body deadlines, before authentication;
kept-alive idle connections are not; a client that goes away is one log line, no traceback.

The loops below are bounded (a few seconds at most) and only wait for the server's own
deadlines of 1 and 2 seconds."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from daemon_harness import Daemon, toy_variants, wait_until, write_toy_genome
from hail_seqscore.client import Client
from toy_models import build_toy_model

pytestmark = pytest.mark.timeout(300)
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HEADER_TIMEOUT, BODY_TIMEOUT = 1, 2
BOUND = 15.0     # seconds a loop waits at most for the server to act


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    d = tmp_path_factory.mktemp("connections")
    model = build_toy_model(d / "toy.onnx")
    fasta, genes, seq = write_toy_genome(d)
    token = d / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    return {"model": model, "fasta": fasta, "genes": genes, "seq": seq, "token": token}


@pytest.fixture(scope="module")
def daemon(toy):
    args = ["--model", str(toy["model"]), "-R", str(toy["fasta"]), "-A", str(toy["genes"]),
            "--token-file", str(toy["token"]), "--header-timeout", str(HEADER_TIMEOUT),
            "--body-timeout", str(BODY_TIMEOUT)]
    with Daemon(args, wait_ready=False) as d:
        assert wait_until(lambda: httpx.get(d.url + "/v1/ready", headers=AUTH)
                          .status_code == 200, 60)
        yield d
    assert "Traceback" not in "".join(d.stderr)


def connect(d: Daemon) -> socket.socket:
    host, port = d.url.split("//")[1].rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    s.settimeout(0.2)
    return s


def trickle_until_closed(s: socket.socket, data: bytes) -> tuple[bytes, float]:
    """Send ``data`` a byte every 0.2 s until the server closes the connection; returns what
    it sent back and the seconds that took (at most ``BOUND``)."""
    t0 = time.monotonic()
    got = b""
    i = 0
    while time.monotonic() - t0 < BOUND:
        try:
            if i < len(data):
                s.send(data[i:i + 1])
                i += 1
        except OSError:            # reset by the server: closed
            break
        try:
            chunk = s.recv(65536)
        except socket.timeout:    # the 0.2-s pace of the trickle
            continue
        except OSError:
            break
        if not chunk:
            break                 # end of file: closed
        got += chunk
    return got, time.monotonic() - t0


def lines(d: Daemon, text: str) -> list[str]:
    return [line for line in d.stderr if text in line]


def test_a_slow_loris_is_closed_after_the_header_timeout_before_auth(daemon):
    endless = b"POST /v1/score HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 10_000
    with connect(daemon) as s:
        got, seconds = trickle_until_closed(s, endless)
    assert seconds < BOUND, "the slow-loris connection was never closed"
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert json.loads(body)["error"]["code"] == "REQUEST_TIMEOUT"
    assert wait_until(lambda: lines(daemon, "request headers not complete within 1 s"), 5)
    assert httpx.get(daemon.url + "/v1/health").status_code == 200


def test_a_silent_connection_is_closed_after_the_header_timeout(daemon):
    with connect(daemon) as s:
        got, seconds = trickle_until_closed(s, b"")
    assert seconds < BOUND and got == b""
    assert wait_until(lambda: lines(daemon, "no request within 1 s"), 5)


def test_a_slow_body_gets_408_and_is_closed(daemon):
    head = (b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Length: 5000\r\n\r\n")
    with connect(daemon) as s:
        s.sendall(head)
        got, seconds = trickle_until_closed(s, b'{"variants": [' + b" " * 4000)
    assert seconds < BOUND
    status, _, body = got.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 408 ") and b"connection: close" in status.lower()
    err = json.loads(body)["error"]
    assert err["code"] == "REQUEST_TIMEOUT" and err["field"] == "body"
    assert "within 2 s" in err["message"]


def test_an_unread_body_after_a_401_is_not_waited_for(daemon):
    head = (b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n")                  # no token
    with connect(daemon) as s:
        s.sendall(head)
        got, seconds = trickle_until_closed(s, b" " * 100_000)
    assert seconds < BOUND, "a client trickling a body nobody reads was never closed"
    assert got.startswith(b"HTTP/1.1 401 ") and b'"code":"UNAUTHORIZED"' in got
    assert wait_until(lambda: lines(daemon, "rest of a request body not received"), 5)


def test_kept_alive_idle_connections_outlive_the_header_timeout(daemon, toy):
    c = Client(daemon.url, token=TOKEN)
    vs = toy_variants(toy["seq"], 2)
    c.score(vs)
    sock = c._local.conn.sock
    time.sleep(2 * HEADER_TIMEOUT)        # idle between requests: the keep-alive timeout rules
    assert [r.variant for r in c.score(vs)] == vs
    assert c._local.conn.sock is sock


def test_a_client_gone_mid_body_is_one_log_line(daemon):
    head = (b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Length: 5000\r\n\r\n")
    before = len(lines(daemon, "disconnected before sending its whole request"))
    with connect(daemon) as s:
        s.sendall(head + b'{"variants": [')
        time.sleep(0.3)
    assert wait_until(lambda: len(lines(daemon, "disconnected before sending its whole "
                                                "request")) == before + 1, 10)
    assert httpx.get(daemon.url + "/v1/health").status_code == 200


def test_timeouts_are_settings_in_the_help():
    import subprocess
    import sys

    from daemon_harness import ROOT

    out = subprocess.run([sys.executable, "-m", "hail_seqscore", "serve", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60).stdout
    for flag in ("--header-timeout", "--body-timeout", "--max-allele-length"):
        assert flag in out
    assert "415" in out and "ALLELE_TOO_LONG" in out
