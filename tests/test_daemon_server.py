"""A real ``seqscore serve`` process (toy model, tiny generated genome) on a free loopback port:
routes, concurrency, and each fault of issue #4 item 5 plus the security rules of item 6."""

from __future__ import annotations

import concurrent.futures as cf
import json
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from daemon_harness import ROOT, Daemon, toy_variants, toy_world, wait_until
from hail_seqscore.daemon.metrics import parse_exposition
from hail_seqscore.engine import Engine, EngineConfig
from hail_seqscore.errors import ServiceBusyError

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return toy_world(tmp_path_factory.mktemp("daemon"))


def serve_args(toy, *extra):
    return ["--model", str(toy["model"]), "-R", str(toy["fasta"]), "-A", str(toy["genes"]),
            *extra]


@pytest.fixture(scope="module")
def daemon(toy):
    with Daemon(serve_args(toy, "--max-batch", "64", "--max-delay-ms", "20")) as d:
        yield d


def body(variants, **kw):
    return {"variants": [v.to_dict() for v in variants], **kw}


def metric(url, name):
    return parse_exposition(httpx.get(url + "/metrics").text).get(name, 0.0)


# ---- routes ---------------------------------------------------------------------------------
def test_health_ready_models_openapi(daemon, toy):
    assert httpx.get(daemon.url + "/v1/health").json()["status"] == "ok"
    assert httpx.get(daemon.url + "/v1/ready").status_code == 200
    m = httpx.get(daemon.url + "/v1/models").json()["models"][0]
    assert m["name"] == "toy" and len(m["sha256"]) == 64
    assert m["execution_providers"] == ["CPUExecutionProvider"]
    spec = httpx.get(daemon.url + "/v1/openapi.json").json()
    assert {"/v1/score", "/v1/health", "/v1/ready", "/v1/models", "/metrics"} <= set(spec["paths"])
    schema = spec["paths"]["/v1/score"]["post"]["requestBody"]["content"]["application/json"]
    assert schema["schema"]["required"] == ["variants"]
    docs = httpx.get(daemon.url + "/v1/docs")          # self-contained: no CDN, no script
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert "POST /v1/score" in docs.text and "/v1/openapi.json" in docs.text
    assert "http" not in docs.text.replace(daemon.url, "").lower().split("<body>")[0]
    assert "<script" not in docs.text and "cdn" not in docs.text.lower()


def test_results_match_the_in_process_engine(daemon, toy):
    vs = toy_variants(toy["seq"], 40)
    vs[5] = vs[5].__class__("1", vs[5].pos, "ACGT"[("ACGT".index(vs[5].ref) + 2) % 4], "A")
    engine = Engine(EngineConfig(model=str(toy["model"]), reference=str(toy["fasta"]),
                                 annotation=str(toy["genes"])))
    for distance, mask in ((50, False), (20, True)):
        want = engine.score(vs, distance=distance, mask=mask)
        got = daemon.client().score(vs, distance=distance, mask=mask)
        assert got == want           # floats bit-identical through JSON
    assert want[5].error.code == "REF_MISMATCH"


def test_per_variant_errors_do_not_fail_the_request(daemon, toy):
    good = toy_variants(toy["seq"], 2)
    seq = toy["seq"]
    vs = [{"chrom": "1", "pos": good[0].pos, "ref": good[0].ref, "alt": good[0].alt},
          {"chrom": "22", "pos": 100, "ref": "A", "alt": "G"},                  # unknown contig
          {"chrom": "1", "pos": 2000, "ref": "ACGT".replace(seq[1999], "")[0], "alt": "G"},
          {"chrom": "1", "pos": 2000, "ref": "X", "alt": "G"},                  # not DNA
          {"chrom": "1", "pos": 99999, "ref": "A", "alt": "G"},                 # past the end
          {"chrom": "1", "pos": good[1].pos, "ref": good[1].ref, "alt": good[1].alt}]
    r = httpx.post(daemon.url + "/v1/score", json={"variants": vs})
    assert r.status_code == 200
    res = r.json()["results"]
    assert [x["variant"] for x in res] == vs
    codes = [x.get("error", {}).get("code") for x in res]
    assert codes == [None, "CONTIG_NOT_FOUND", "REF_MISMATCH", "INVALID_VARIANT",
                     "INVALID_VARIANT", None]
    assert res[0]["scores"][0]["gene"] == "TOY1" and "provenance" in r.json()


def test_cache_hits_are_counted_and_identical(daemon, toy):
    vs = toy_variants(toy["seq"], 5, start=4600)
    before = metric(daemon.url, "seqscore_cache_hits_total")
    first = daemon.client().score(vs)
    again = daemon.client().score(vs)
    assert first == again
    assert metric(daemon.url, "seqscore_cache_hits_total") - before == 5


def test_32_concurrent_clients_each_get_their_25_results_once(daemon, toy):
    pool = toy_variants(toy["seq"], 32 * 25, start=1501, step=3)
    count0 = metric(daemon.url, "seqscore_batch_size_count")
    sum0 = metric(daemon.url, "seqscore_batch_size_sum")
    barrier = threading.Barrier(32)

    def one(k):
        mine = pool[25 * k: 25 * (k + 1)]
        with daemon.client() as c:
            barrier.wait()
            return k, mine, c.score(mine, distance=40)

    with cf.ThreadPoolExecutor(32) as ex:
        outs = list(ex.map(one, range(32)))
    for k, mine, got in outs:
        assert [r.variant for r in got] == mine
        assert all(r.ok and r.scores for r in got)
    batches = metric(daemon.url, "seqscore_batch_size_count") - count0
    scored = metric(daemon.url, "seqscore_batch_size_sum") - sum0
    assert scored == 800                      # every variant scored exactly once
    assert batches < 800 / 2                  # so batches larger than one happened
    assert metric(daemon.url, 'seqscore_batch_size_bucket{le="+Inf"}') > \
        metric(daemon.url, 'seqscore_batch_size_bucket{le="32"}')   # some > 32


def test_keep_alive_reuses_one_connection(daemon, toy):
    c = daemon.client()
    vs = toy_variants(toy["seq"], 1)
    c.score(vs)
    sock = c._local.conn.sock
    for _ in range(20):
        c.score(vs)
        assert c._local.conn.sock is sock


def test_tcp_nodelay_and_keep_alive_on_accepted_connections():
    """uvicorn as configured by the daemon: accepted sockets have TCP_NODELAY."""
    import uvicorn

    from hail_seqscore.daemon.server import ListenSettings, bind_socket, uvicorn_config

    async def app(scope, receive, send):
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn_config(app, ListenSettings(port=0)))
    server.config.lifespan = "off"
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    assert wait_until(lambda: server.started)
    port = sock.getsockname()[1]
    with httpx.Client() as c:
        assert c.get(f"http://127.0.0.1:{port}/").text == "ok"
        conns = list(server.server_state.connections)
        assert len(conns) == 1
        s = conns[0].transport.get_extra_info("socket")
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert c.get(f"http://127.0.0.1:{port}/").text == "ok"
        assert list(server.server_state.connections) == conns    # kept alive
    server.should_exit = True
    t.join(10)


# ---- faults (issue #4 item 5) ---------------------------------------------------------------
@pytest.mark.parametrize("raw, status, field", [
    (b'{"variants": [', 400, "body"),
    (b"", 400, "body"),
    (b'[1, 2]', 400, "body"),
    (b'{"variants": [{"chrom": "1", "pos": "12", "ref": "A", "alt": "G"}]}', 400,
     "variants[0].pos"),
    (b'{"variants": [{"chrom": "1", "pos": 12, "ref": "A"}]}', 400, "variants[0].alt"),
    (b'{"variants": [], "distance": 5000}', 400, "distance"),
    (b'{"variants": [], "mask": "yes"}', 400, "mask"),
    (b'{"variants": [], "model": "other"}', 400, "model"),
    (b'{"variants": [], "colour": 1}', 400, "colour"),
])
def test_malformed_requests_are_400_naming_the_field(daemon, raw, status, field):
    r = httpx.post(daemon.url + "/v1/score", content=raw,
                   headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["field"] == field and err["code"] == "BAD_REQUEST" and err["message"]


def test_body_size_limit_is_413(toy):
    vs = toy_variants(toy["seq"], 3000)
    with Daemon(serve_args(toy, "--max-body-mb", "0.01")) as d:
        r = httpx.post(d.url + "/v1/score", json=body(vs))
        assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        # without a Content-Length (chunked upload) too
        r = httpx.post(d.url + "/v1/score", content=iter([json.dumps(body(vs)).encode()]),
                       headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert len(d.client().score(vs[:10])) == 10     # small requests still served
        assert httpx.get(d.url + "/v1/health").status_code == 200


def test_full_queue_is_503_with_retry_after_and_the_client_retries(toy):
    vs = toy_variants(toy["seq"], 30 * 40, start=1501, step=1)
    args = serve_args(toy, "--max-batch", "1", "--max-delay-ms", "0", "--max-queue", "40",
                      "--cache-size", "0")
    with Daemon(args) as d:
        def raw(k):
            return httpx.post(d.url + "/v1/score", json=body(vs[30 * k: 30 * (k + 1)]),
                              timeout=60)

        with cf.ThreadPoolExecutor(16) as ex:
            answers = list(ex.map(raw, range(16)))
        busy = [a for a in answers if a.status_code == 503]
        assert busy, "expected some requests refused while the queue was full"
        assert all(a.headers["retry-after"] == "1" for a in busy)
        assert all(a.json()["error"]["code"] == "BUSY" for a in busy)
        assert all(len(a.json()["results"]) == 30 for a in answers if a.status_code == 200)

        # a request larger than the whole queue can never fit: 413, not an endless 503
        r = httpx.post(d.url + "/v1/score", json=body(vs[:41]))
        assert r.status_code == 413

        # the client backs off and retries until everyone is served
        def polite(k):
            with d.client(backoff=0.05, max_backoff=0.2, retries=400) as c:
                return c.score(vs[30 * k: 30 * (k + 1)])

        with cf.ThreadPoolExecutor(16) as ex:
            outs = list(ex.map(polite, range(16)))
        assert [len(o) for o in outs] == [30] * 16 and all(r.ok for o in outs for r in o)
        assert metric(d.url, 'seqscore_rejected_total{reason="busy"}') >= len(busy)

        with d.client(backoff=0.01, retries=0) as c:
            # no retries allowed: a busy server is a clear ServiceBusyError
            with cf.ThreadPoolExecutor(8) as ex:
                futs = [ex.submit(c.score, vs[30 * k: 30 * (k + 1)]) for k in range(8)]
                errors = [f.exception() for f in futs]
            assert any(isinstance(e, ServiceBusyError) for e in errors)


def test_client_disconnect_mid_request_disturbs_no_one(toy):
    vs = toy_variants(toy["seq"], 3000, start=1501, step=1)
    args = serve_args(toy, "--max-batch", "1", "--max-delay-ms", "0", "--cache-size", "0")
    with Daemon(args) as d:
        host, port = d.url.split("//")[1].rsplit(":", 1)
        payload = json.dumps(body(vs)).encode()
        s = socket.create_connection((host, int(port)))
        s.sendall(b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
        assert wait_until(lambda: metric(d.url, "seqscore_queue_depth") > 0, 10)
        s.close()                                         # gone before the answer
        t0 = time.perf_counter()
        other = d.client().score(vs[:3])                   # someone else is served
        assert [r.variant for r in other] == vs[:3] and all(r.ok for r in other)
        assert wait_until(lambda: metric(d.url, "seqscore_client_disconnects_total") == 1, 10)
        # the abandoned variants left the queue without reaching the model
        assert wait_until(lambda: metric(d.url, "seqscore_queue_depth") == 0, 10)
        assert metric(d.url, "seqscore_batch_size_sum") < 3000
        assert time.perf_counter() - t0 < 10
        assert httpx.get(d.url + "/v1/ready").status_code == 200
        # one log line, no traceback
        assert wait_until(lambda: sum("disconnected before its 3000 variants were scored"
                                      in line for line in d.stderr) == 1, 10)
    assert "Traceback" not in "".join(d.stderr)


def test_sigterm_drains_in_flight_requests_then_exits(toy):
    vs = toy_variants(toy["seq"], 600, start=1501, step=1)
    args = serve_args(toy, "--max-batch", "1", "--max-delay-ms", "0", "--cache-size", "0")
    d = Daemon(args).start()
    try:
        with cf.ThreadPoolExecutor(1) as ex:
            fut = ex.submit(d.client().score, vs)
            assert wait_until(lambda: metric(d.url, "seqscore_queue_depth") > 0, 10)
            d.signal(signal.SIGTERM)
            results = fut.result(60)
        assert len(results) == 600 and all(r.ok for r in results)
        assert d.wait_exit(30) == 0
        assert any("stopped" in line for line in d.stderr)
        with pytest.raises(httpx.ConnectError):
            httpx.get(d.url + "/v1/health")
    finally:
        d.stop()


# ---- security (issue #4 item 6) -------------------------------------------------------------
def run_serve(toy, *extra):
    return subprocess.run([sys.executable, "-m", "hail_seqscore", "serve", *serve_args(toy),
                           *extra], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_non_loopback_bind_without_token_refuses_to_start(toy):
    r = run_serve(toy, "--host", "0.0.0.0", "--port", "0")
    assert r.returncode == 64
    assert "refusing to listen on '0.0.0.0' without a bearer token" in r.stderr


@pytest.mark.parametrize("extra, code, text", [
    (["--max-batch", "0"], 64, "max-batch must be an integer from 1"),
    (["--max-delay-ms", "-3"], 64, "max-delay-ms must be a number from 0"),
    (["--token-file", "/nonexistent/token"], 66, "cannot read token file /nonexistent/token"),
    (["--header-timeout", "0"], 64, "header-timeout must be a number of seconds > 0"),
    (["--header-timeout", "inf"], 64, "header-timeout must be a number of seconds"),
    (["--body-timeout", "nan"], 64, "body-timeout must be a number of seconds"),
    (["--body-timeout", "-1"], 64, "body-timeout must be a number of seconds"),
    (["--max-body-mb", "nan"], 64, "--max-body-mb must be a number > 0"),
    (["--max-allele-length", "0"], 64, "max_allele_length must be an integer >= 1"),
    (["--keep-alive", "0"], 64, "keep-alive must be an integer number of seconds"),
    (["--drain-timeout", "-1"], 64, "drain-timeout must be a number of seconds >= 0"),
])
def test_bad_settings_refuse_to_start(toy, extra, code, text):
    r = run_serve(toy, "--port", "0", *extra)
    assert r.returncode == code and text in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("data, text", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "is not text (not UTF-8)"),
    ("t\u00f6ken".encode(), "visible ASCII"),
    (b"two words\n", "visible ASCII"),
    (b"\n", "is empty"),
])
def test_a_token_file_that_is_not_one_ascii_token_refuses_to_start(toy, tmp_path, data, text):
    token_file = tmp_path / "token"
    token_file.write_bytes(data)
    r = run_serve(toy, "--port", "0", "--token-file", str(token_file))
    assert r.returncode == 64 and text in r.stderr and str(token_file) in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_missing_model_refuses_to_start(toy, tmp_path):
    r = subprocess.run([sys.executable, "-m", "hail_seqscore", "serve", "--model",
                        str(tmp_path / "none.onnx"), "-R", str(toy["fasta"]), "--port", "0"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 69 and "does not exist" in r.stderr


def test_bearer_token(toy, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    token_file.chmod(0o600)
    vs = toy_variants(toy["seq"], 2)
    with Daemon(serve_args(toy, "--token-file", str(token_file)), wait_ready=False) as d:
        good = {"Authorization": "Bearer s3cret-token"}
        assert wait_until(lambda: httpx.get(d.url + "/v1/ready", headers=good)
                          .status_code == 200, 60)
        assert httpx.get(d.url + "/v1/health").status_code == 200      # liveness stays open
        for headers in ({}, {"Authorization": "Bearer s3cret-tokeN"},
                        {"Authorization": "Basic s3cret-token"}):
            r = httpx.post(d.url + "/v1/score", json=body(vs), headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"
            assert httpx.get(d.url + "/metrics", headers=headers).status_code == 401
        assert len(d.client(token_file=token_file).score(vs)) == 2
        from hail_seqscore.errors import UnauthorizedError
        with pytest.raises(UnauthorizedError, match="bearer token"):
            d.client(token="wrong").score(vs)


def test_no_endpoint_takes_a_path(daemon):
    spec = httpx.get(daemon.url + "/v1/openapi.json").json()
    params = [p for item in spec["paths"].values() for op in item.values()
              for p in op.get("parameters", [])]
    assert params == []
    props = spec["paths"]["/v1/score"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["properties"]
    assert set(props) == {"variants", "distance", "mask", "model"}


def test_readiness_waits_for_the_model(toy):
    with Daemon(serve_args(toy), wait_ready=False) as d:
        seen = set()
        assert wait_until(lambda: seen.add(httpx.get(d.url + "/v1/ready").status_code)
                          or 200 in seen, 60)
        assert seen <= {200, 503}
        assert metric(d.url, "seqscore_ready") == 1
