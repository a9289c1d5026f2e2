"""`seqscore score --server URL` against a real daemon started here behaves like in-process
scoring: the same output, a variant the daemon refuses becomes that record's reason while the
others are scored, every record comes out; a missing or wrong token exits 77 saying how to pass
it."""

import os
import subprocess
import sys

import pytest

from daemon_harness import ROOT, Daemon, write_toy_genome
from hail_seqscore.cli import main
from hail_seqscore.engine import Engine, EngineConfig
from hail_seqscore.records import Variant
from toy_models import build_toy_model

pytestmark = pytest.mark.timeout(300)
HEADER = ("##fileformat=VCFv4.2\n##contig=<ID=1,length=6000>\n"
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")


def other(b):
    return "A" if b != "A" else "C"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    d = tmp_path_factory.mktemp("srv")
    model = build_toy_model(d / "toy.onnx")
    fasta, genes, seq = write_toy_genome(d)
    rows = [f"1\t{p}\tok{p}\t{seq[p - 1]}\t{other(seq[p - 1])}\t.\t.\t.\n"
            for p in range(1600, 1720, 6)]                          # 20 scorable SNVs
    rows[3:3] = ["1\t0\tpos0\tA\tC\t.\t.\t.\n",                     # POS 0
                 f"1\t1700\tbadref\tXY\t{seq[1699]}\t.\t.\t.\n",   # REF not bases
                 f"1\t1710\tsv\t{seq[1709]}\t<DEL>\t.\t.\t.\n",
                 f"1\t1720\tmismatch\t{other(seq[1719])}\tG\t.\t.\t.\n"]
    vcf = d / "in.vcf"
    vcf.write_text(HEADER + "".join(rows))
    return {"dir": d, "model": str(model), "fasta": str(fasta), "genes": str(genes),
            "seq": seq, "vcf": vcf, "n": len(rows)}


@pytest.fixture(scope="module")
def daemon(toy):
    # at most 5 variants per request: the CLI must split its requests down to that size
    with Daemon(["--model", toy["model"], "-R", toy["fasta"], "-A", toy["genes"],
                 "--max-variants", "5"]) as d:
        yield d


def body(path):
    return [l.split("\t") for l in path.read_text().splitlines() if not l.startswith("#")]


def local_args(toy, out, *extra):
    return ["score", "-I", str(toy["vcf"]), "-O", str(out), "--model", toy["model"],
            "--flag-skipped", *extra]


def test_server_output_equals_in_process_output(toy, daemon, tmp_path, capsys):
    here, there = tmp_path / "here.vcf", tmp_path / "there.vcf"
    assert main(local_args(toy, here, "-R", toy["fasta"], "-A", toy["genes"])) == 0
    in_process = capsys.readouterr().err
    assert main(local_args(toy, there, "--server", daemon.url, "--model", "toy")) == 0
    remote = capsys.readouterr().err
    assert here.read_text() == there.read_text()
    recs = body(there)
    assert len(recs) == toy["n"]                                   # records in = out
    info = {r[2]: r[7] for r in recs}
    assert info["pos0"] == "SeqScore_skip=C|INVALID_VARIANT"
    assert info["badref"].endswith("|INVALID_VARIANT")
    assert info["sv"] == "SeqScore_skip=<DEL>|UNSUPPORTED_VARIANT"
    assert info["mismatch"] == "SeqScore_skip=G|REF_MISMATCH"
    assert sum("SpliceAI=" in v for v in info.values()) == 20
    for line in ("INVALID_VARIANT: 2", "REF_MISMATCH: 1", "UNSUPPORTED_VARIANT: 1"):
        assert line in in_process and line in remote


def test_whole_request_refusal_marks_the_variant_and_scores_the_rest(toy, daemon):
    """Without the local check every variant reaches the daemon; one it refuses (POS 0, a POS
    that is not a JSON integer) becomes that variant's error, whether the daemon answers per
    variant or, as older daemons did, with a 400 for the whole request naming
    ``variants[i]``."""
    seq = toy["seq"]
    vs = [Variant("1", p, seq[p - 1], other(seq[p - 1])) for p in range(1600, 1630, 3)]
    vs[4] = Variant("1", 0, "A", "C")
    vs[7] = Variant("1", "1700", "A", "C")
    client = daemon.client(chunk_size=5)
    got = client.score(vs)
    want = Engine(EngineConfig(model=toy["model"], reference=toy["fasta"],
                               annotation=toy["genes"])).score(vs)
    assert len(got) == len(vs)
    assert [r.variant for r in got] == vs
    assert got[4].error.code == "INVALID_VARIANT" and got[7].error.code == "INVALID_VARIANT"
    assert [r for i, r in enumerate(got) if i not in (4, 7)] == \
        [r for i, r in enumerate(want) if i not in (4, 7)]


def test_a_whole_request_400_naming_a_variant_marks_it_and_scores_the_rest(toy, daemon):
    """The fallback for daemons that refuse a whole request for one variant: sent past the
    client's local check, a POS that is a JSON string gets a 400 naming ``variants[j].pos``
    from the real daemon; that variant gets the error and the others are scored."""
    seq = toy["seq"]
    vs = [Variant("1", p, seq[p - 1], other(seq[p - 1])) for p in range(1600, 1615, 3)]
    vs[2] = Variant("1", "1700", "A", "C")
    client = daemon.client()
    got = client._score_chunk(vs, None, None, None)
    assert [r.variant for r in got] == vs
    assert got[2].error.code == "INVALID_VARIANT"
    assert "HTTP 400" in got[2].error.message and "pos" in got[2].error.message
    assert all(r.ok and r.scores for i, r in enumerate(got) if i != 2)


@pytest.mark.parametrize("field,n,want", [
    ("variants[3].pos", 5, 3), ("variants[0]", 5, 0), ("variants[5].ref", 5, None),
    ("variants", 5, None), ("distance", 5, None), (None, 5, None),
])
def test_refused_index_reads_the_field_of_a_whole_request_error(field, n, want):
    from hail_seqscore.errors import RequestError
    from hail_seqscore.client import refused_index

    assert refused_index(RequestError("refused", field=field), n) == want


def test_token_missing_or_wrong_exits_77_and_says_how(toy, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    token.chmod(0o600)
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    env = {k: v for k, v in os.environ.items() if k != "SEQSCORE_TOKEN"}
    with Daemon(["--model", toy["model"], "-R", toy["fasta"], "-A", toy["genes"],
                 "--token-file", str(token)], wait_ready=False) as d:
        def score(*extra, extra_env=None):
            out = tmp_path / "out.vcf"
            proc = subprocess.run(
                [sys.executable, "-m", "hail_seqscore", *local_args(toy, out),
                 "--server", d.url, "--model", "toy", *extra], cwd=ROOT,
                env={**env, **(extra_env or {})}, capture_output=True, text=True, timeout=120)
            return proc, out

        for extra, extra_env in (((), None), (("--token-file", str(wrong)), None),
                                 ((), {"SEQSCORE_TOKEN": "nope"})):
            proc, out = score(*extra, extra_env=extra_env)
            assert proc.returncode == 77, proc.stderr
            assert "--token-file" in proc.stderr and "SEQSCORE_TOKEN" in proc.stderr
            assert "Traceback" not in proc.stderr and not out.exists()
        for extra, extra_env in ((("--token-file", str(token)), None),
                                 ((), {"SEQSCORE_TOKEN": "s3cret"})):
            proc, out = score(*extra, extra_env=extra_env)
            assert proc.returncode == 0, proc.stderr
            assert len(body(out)) == toy["n"]


def test_unreachable_server_is_69(toy, tmp_path, capsys):
    rc = main(local_args(toy, tmp_path / "o.vcf", "--server", "http://127.0.0.1:9"))
    err = capsys.readouterr().err
    assert rc == 69 and "Traceback" not in err and not (tmp_path / "o.vcf").exists()
