"""hail_seqscore.client.Client against a real daemon (toy model) and against no daemon."""

import socket
import threading

import pytest

from daemon_harness import Daemon, toy_variants, write_toy_genome
from hail_seqscore.client import Client
from hail_seqscore.errors import (ConfigError, InputUnreadableError, NetworkUnavailableError,
                                  RequestError)
from hail_seqscore.records import Variant
from toy_models import build_toy_model

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    d = tmp_path_factory.mktemp("client")
    model = build_toy_model(d / "toy.onnx")
    fasta, genes, seq = write_toy_genome(d)
    with Daemon(["--model", str(model), "-R", str(fasta), "-A", str(genes),
                 "--max-variants", "50"]) as daemon:
        yield daemon, seq


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("url", ["ftp://x:1", "http://", ""])
def test_bad_url(url):
    with pytest.raises(ConfigError, match="server URL"):
        Client(url)


def test_unreachable_daemon_is_a_clear_error():
    c = Client(f"http://127.0.0.1:{free_port()}", retries=0)
    with pytest.raises(NetworkUnavailableError, match="cannot reach the seqscore daemon"):
        c.score([Variant("1", 1, "A", "C")])
    assert c.ready() is False
    with pytest.raises(NetworkUnavailableError, match="not ready within"):
        c.wait_ready(timeout=0.3)


def test_chunks_long_lists_and_keeps_order(served):
    daemon, seq = served
    vs = toy_variants(seq, 120)            # more than the daemon's --max-variants 50
    got = Client(daemon.url, chunk_size=50).score(vs)
    assert [r.variant for r in got] == vs and all(r.ok for r in got)
    # a chunk over the server's --max-variants (413) is split and sent again
    got = Client(daemon.url, chunk_size=120).score(vs)
    assert [r.variant for r in got] == vs and all(r.ok for r in got)


def test_server_errors_become_exceptions_naming_the_field(served):
    daemon, seq = served
    c = daemon.client()
    with pytest.raises(RequestError, match="distance") as e:
        c.score(toy_variants(seq, 1), distance=99999)
    assert e.value.field == "distance" and "HTTP 400" in e.value.message
    with pytest.raises(RequestError, match="serves 'toy'"):
        c.score(toy_variants(seq, 1), model="spliceai")


def test_info_routes_and_url_forms(served):
    daemon, _ = served
    host_port = daemon.url.split("//")[1]
    for url in (daemon.url, daemon.url + "/", host_port):
        c = Client(url)
        assert c.health()["status"] == "ok" and c.ready()
        assert [m["name"] for m in c.models()] == ["toy"]
        assert "seqscore_requests_total" in c.metrics()


def test_one_client_shared_by_threads(served):
    daemon, seq = served
    c = daemon.client()
    vs = toy_variants(seq, 40)
    out = {}

    def work(k):
        out[k] = c.score(vs[10 * k: 10 * k + 10])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.variant for k in range(4) for r in out[k]] == vs


def test_reconnects_after_the_server_closed_an_idle_connection(served):
    daemon, seq = served
    c = daemon.client()
    vs = toy_variants(seq, 2)
    c.score(vs)
    c._local.conn.sock.shutdown(socket.SHUT_RDWR)   # as if the keep-alive timed out
    assert [r.variant for r in c.score(vs)] == vs


def test_bad_tokens_are_config_errors(tmp_path, monkeypatch):
    binary = tmp_path / "token.bin"
    binary.write_bytes(b"\x00\xff\xfe token")
    with pytest.raises(ConfigError, match="not text"):
        Client(token_file=binary)
    with pytest.raises(InputUnreadableError, match="cannot read token file"):
        Client(token_file=tmp_path / "absent")
    with pytest.raises(ConfigError, match="visible ASCII"):
        Client(token="caf\u00e9")
    monkeypatch.setenv("SEQSCORE_TOKEN", "two words")
    with pytest.raises(ConfigError, match="SEQSCORE_TOKEN"):
        Client()
    monkeypatch.setenv("SEQSCORE_TOKEN", "  ok-token\n")
    assert Client().token == "ok-token"


def test_variants_given_as_the_readmes_json_mappings(served):
    """``Client.score`` (and ``Engine.score``) take ``{"chrom", "pos", "ref", "alt"}`` as the
    README and the daemon show them; a malformed mapping gets its own error, the rest are
    scored."""
    from hail_seqscore.engine import Engine, EngineConfig

    daemon, seq = served
    vs = toy_variants(seq, 3)
    mixed = [v.to_dict() for v in vs] + [{"chrom": "1", "pos": "12", "ref": "A", "alt": "C"},
                                         vs[0]]
    got = Client(daemon.url).score(mixed)
    assert [r.variant for r in got[:3]] == vs and all(r.ok for r in got[:3])
    assert got[3].error.code == "INVALID_VARIANT" and "pos" in got[3].error.message
    assert got[4].variant is vs[0] and got[4].scores == got[0].scores
    engine_results = Engine(EngineConfig(model=daemon.args[daemon.args.index("--model") + 1],
                                         reference=daemon.args[daemon.args.index("-R") + 1],
                                         annotation=daemon.args[daemon.args.index("-A") + 1])
                            ).score(mixed)
    assert [r.scores for r in engine_results[:3]] == [r.scores for r in got[:3]]
    assert engine_results[3].error.code == "INVALID_VARIANT"


def test_public_names_show_in_dir():
    import hail_seqscore

    public = [n for n in dir(hail_seqscore) if not n.startswith("_")]
    for name in ("Engine", "EngineConfig", "Variant", "ScoreResult", "Client", "score_table",
                 "ScoreCache", "TrackEffects", "PangolinScore"):
        assert name in public and name in hail_seqscore.__all__
    assert hail_seqscore.Variant("1", 5, "A", "C").start == 4
