"""Where models run (``--device auto|cpu|cuda``), tested on this CPU-only machine: cpu runs,
cuda fails at start-up with one clear line and exit 69 (library, score, precompute, the
daemon), auto reports CPUExecutionProvider (stderr, /v1/models, provenance); a missing or
mixed ONNX Runtime install is explained with its fix (the install routes themselves are
tested in fresh virtualenvs by test_install_runtime.py)."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from daemon_harness import ROOT, Daemon, toy_variants, write_toy_genome
from hail_seqscore.cli import main
from hail_seqscore.engine import Engine, EngineConfig
from hail_seqscore.errors import ConfigError, RuntimeUnavailableError
from hail_seqscore.models import device as dev
from hail_seqscore.models.session import ModelSession, available_providers, get_session
from synthetic import VCF_HEADER, make_world, other_base
from toy_models import build_toy_model

CPU, CUDA = dev.CPU, dev.CUDA
needs_cpu_build = pytest.mark.skipif(
    CUDA in available_providers(), reason="this onnxruntime has CUDA: device cuda may load here")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = make_world(tmp_path_factory.mktemp("device"))
    s = w["seq"]
    lines = [f"chr1\t{p}\tr{p}\t{s[p - 1]}\t{other_base(s[p - 1])}\t.\t.\t.\n"
             for p in range(800, 1000, 20)]                    # 10 records
    w["vcf"] = w["dir"] / "in.vcf"
    w["vcf"].write_text(VCF_HEADER + "".join(lines))
    w["n"] = len(lines)
    return w


def records(path) -> int:
    return sum(1 for line in open(path) if not line.startswith("#"))


# ---- the install check ------------------------------------------------------------------------
def test_neither_runtime_names_the_two_extras():
    msg = dev.missing_runtime_message({}, ImportError("No module named 'onnxruntime'"))
    assert msg == ("ONNX Runtime is not installed: pip install 'hail-seqscore[cpu]' (or [gpu] "
                   "on an NVIDIA machine)")


def test_both_runtimes_are_a_clash_with_the_fix():
    both = {"onnxruntime": "1.32.0", "onnxruntime-gpu": "1.31.1"}
    msg = dev.runtime_problem(both, ["AzureExecutionProvider", CPU])
    assert "onnxruntime 1.32.0 and onnxruntime-gpu 1.31.1 are both installed" in msg
    assert "overwrite each other" in msg and dev.GPU_FIX in msg and "\n" not in msg
    assert dev.missing_runtime_message(both, ImportError("x")) == dev.clash_message(both, None)


def test_gpu_package_without_cuda_provider_is_explained():
    msg = dev.runtime_problem({"onnxruntime-gpu": "1.31.1"}, [CPU])
    assert "offers only CPUExecutionProvider (no CUDAExecutionProvider)" in msg
    assert dev.GPU_FIX in msg


def test_single_runtimes_are_fine_and_this_one_is_the_cpu_build():
    assert dev.runtime_problem({"onnxruntime": "1.32.0"}, [CPU]) is None
    assert dev.runtime_problem({"onnxruntime-gpu": "1.31.1"},
                               ["TensorrtExecutionProvider", CUDA, CPU]) is None
    # the test environment (make setup: '.[cpu,...]') holds exactly the CPU runtime
    assert list(dev.installed_runtimes()) == ["onnxruntime"]
    assert CPU in available_providers()


# ---- device → providers -----------------------------------------------------------------------
def test_devices_map_to_providers_and_bad_ones_are_refused(world):
    assert dev.device_providers("auto") is None
    assert dev.device_providers("cpu") == (CPU,) and dev.device_providers("cuda") == (CUDA,)
    assert dev.merge_device("auto", [CUDA]) == (CUDA,)
    with pytest.raises(ConfigError, match="device 'cpu' and providers CUDAExecutionProvider "
                                          "disagree"):
        dev.merge_device("cpu", [CUDA])
    with pytest.raises(ConfigError, match="device must be one of auto, cpu, cuda, got 'gpu'") \
            as info:
        EngineConfig(model=world["model"], reference=world["ref"], device="gpu")
    assert info.value.exit_code == 64
    assert EngineConfig(model=world["model"], reference=world["ref"],
                        device="cpu").providers == (CPU,)


def test_tf32_on_the_cpu_is_a_bad_setting(world):
    with pytest.raises(ConfigError, match="tf32 needs the CUDA execution provider") as info:
        ModelSession(world["model"], device="cpu", precision="tf32")
    assert info.value.exit_code == 64


def test_fallback_from_a_named_gpu_provider_is_an_error_auto_is_reported():
    msg = dev.fallback_problem((CUDA,), [CPU])
    assert msg.startswith("the CUDAExecutionProvider could not be created, so onnxruntime fell "
                          "back to CPUExecutionProvider")
    assert dev.fallback_problem(None, [CPU]) is None            # auto: allowed, but reported
    assert dev.fallback_problem((CPU,), [CPU]) is None
    assert dev.describe([CPU], "auto", [CUDA, CPU]) == (
        "runs on CPUExecutionProvider (device auto; CUDAExecutionProvider could not be created)")


# ---- sessions on this machine ----------------------------------------------------------------
def test_cpu_and_auto_sessions_run_on_the_cpu_and_say_so(world):
    import numpy as np

    for device in ("cpu", "auto"):
        s = get_session(world["model"], device=device, threads=1)
        assert s.providers == [CPU] and s.fell_back == []
        assert s.describe() == f"runs on CPUExecutionProvider (device {device})"
        prov = s.provenance()
        assert prov["execution_provider"] == CPU and prov["device"] == "cpu"
        assert s.predict(np.zeros((2, 150, 4), np.float32)).shape == (2, 50, 3)
    assert get_session(world["model"], device="cpu") is not get_session(world["model"])


@needs_cpu_build
def test_cuda_session_fails_with_the_install_fix(world):
    with pytest.raises(RuntimeUnavailableError) as info:
        get_session(world["model"], device="cuda")
    e = info.value
    assert e.exit_code == 69 and e.code == "RUNTIME_UNAVAILABLE"
    assert e.message.startswith("device cuda needs the CUDAExecutionProvider, which this "
                                "onnxruntime (onnxruntime ")
    assert "pip uninstall -y onnxruntime; pip install 'hail-seqscore[gpu]'" in e.message
    with pytest.raises(RuntimeUnavailableError):
        Engine(EngineConfig(model=world["model"], reference=world["ref"],
                            annotation=world["genes"], device="cuda")).warm_up()


# ---- the CLI ----------------------------------------------------------------------------------
def score_args(w, out, *extra):
    return ["score", "-I", str(w["vcf"]), "-O", str(out), "-R", w["ref"], "-A", w["genes"],
            "--model", w["model"], "-D", "20", *extra]


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_score_on_the_cpu_names_the_provider(world, tmp_path, capsys, device):
    out = tmp_path / "out.vcf"
    assert main(score_args(world, out, "--device", device)) == 0
    err = capsys.readouterr().err
    assert records(out) == world["n"]
    assert f"seqscore score: toy runs on CPUExecutionProvider (device {device})\n" in err


@needs_cpu_build
def test_score_device_cuda_is_one_line_exit_69_and_no_output(world, tmp_path):
    out = tmp_path / "out.vcf"
    proc = subprocess.run([sys.executable, "-m", "hail_seqscore",
                           *score_args(world, out, "--device", "cuda")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 69, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "seqscore score: error: device cuda needs the CUDAExecutionProvider"), proc.stderr
    assert not out.exists()


def test_score_device_with_server_is_a_bad_setting(world, tmp_path, capsys):
    rc = main(score_args(world, tmp_path / "o.vcf", "--device", "cuda", "--server",
                         "http://127.0.0.1:9"))
    assert rc == 64 and "--device applies in process" in capsys.readouterr().err


@needs_cpu_build
def test_precompute_device_cuda_exit_69_auto_names_the_provider(world, tmp_path, capsys):
    base = ["precompute", "-R", world["ref"], "-A", world["genes"], "--model", world["model"],
            "--region", "chr1:900-909"]
    out = tmp_path / "snv.vcf.gz"
    assert main([*base, "-O", str(out), "--device", "cuda"]) == 69
    err = capsys.readouterr().err
    assert err.startswith("seqscore precompute: error: device cuda needs the "
                          "CUDAExecutionProvider") and not out.exists()
    assert main([*base, "-O", str(out)]) == 0
    err = capsys.readouterr().err
    assert "seqscore precompute: toy runs on CPUExecutionProvider (device auto)" in err
    assert out.exists()


# ---- the daemon -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def toy_daemon_world(tmp_path_factory):
    d = tmp_path_factory.mktemp("devdaemon")
    fasta, genes, seq = write_toy_genome(d)
    model = build_toy_model(d / "toy.onnx")
    return {"args": ["--model", str(model), "-R", str(fasta), "-A", str(genes)], "seq": seq}


@needs_cpu_build
def test_serve_device_cuda_refuses_to_start_exit_69(toy_daemon_world):
    proc = subprocess.run([sys.executable, "-m", "hail_seqscore", "serve", "--port", "0",
                           *toy_daemon_world["args"], "--device", "cuda"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    lines = [x for x in proc.stderr.splitlines() if "listening on" not in x]
    assert proc.returncode == 69, proc.stderr
    assert len(lines) == 1 and "device cuda needs the CUDAExecutionProvider" in lines[0]
    assert lines[0].startswith("seqscore serve: error: model ")


def test_serve_auto_reports_the_provider_when_ready(toy_daemon_world):
    with Daemon(toy_daemon_world["args"]) as d:
        assert httpx.get(d.url + "/v1/ready").status_code == 200
        entry = d.client().models()[0]
        assert entry["execution_provider"] == CPU and entry["execution_providers"] == [CPU]
        assert entry["device"] == "cpu"
        assert entry["runs_on"] == "runs on CPUExecutionProvider (device auto)"
        vs = toy_variants(toy_daemon_world["seq"], 3)
        r = httpx.post(d.url + "/v1/score", json={"variants": [v.to_dict() for v in vs]})
        prov = r.json()["provenance"]
        assert r.status_code == 200 and len(r.json()["results"]) == 3
        assert prov["execution_provider"] == CPU and prov["device"] == "cpu"
    assert any("loaded: runs on CPUExecutionProvider (device auto)" in x for x in d.stderr)


# ---- Hail: the device reaches the executors -------------------------------------------------
def hail_rows(world):
    hl = pytest.importorskip("hail", reason="needs the hail extra: pip install '.[hail]'")
    s = world["seq"]
    return hl.Table.parallelize(
        [{"locus": hl.Locus("chr1", p, "GRCh38"), "alleles": [s[p - 1], other_base(s[p - 1])]}
         for p in (800, 900, 950)],
        hl.tstruct(locus=hl.tlocus("GRCh38"), alleles=hl.tarray(hl.tstr)),
        key=["locus", "alleles"])


def test_score_table_on_the_cpu_records_the_device(hail_session, world):
    import hail as hl
    from hail_seqscore import score_table

    out = score_table(hail_rows(world), model=world["model"], reference=world["ref"],
                      annotation=world["genes"], device="cpu")
    rows = out.collect()
    assert len(rows) == 3 and all(r.seqscore.reason_code is None for r in rows)
    assert hl.eval(out.seqscore_provenance.device) == "cpu"


@needs_cpu_build
def test_score_table_cuda_fails_in_the_executors_and_the_cli_says_why(hail_session, world,
                                                                      tmp_path, capsys):
    from hail_seqscore import score_table
    from hail_seqscore.cli.hail import _hail_error

    with pytest.raises(Exception) as info:       # Hail's own error around the worker's
        score_table(hail_rows(world), model=world["model"], reference=world["ref"],
                    annotation=world["genes"], device="cuda").collect()
    assert "RuntimeUnavailableError: device cuda needs the CUDAExecutionProvider" \
        in str(info.value)
    err = _hail_error(info.value, None)           # what `seqscore hail` makes of it
    assert isinstance(err, RuntimeUnavailableError) and err.exit_code == 69
    assert err.message.startswith("device cuda needs the CUDAExecutionProvider")
    # on a local master the CLI refuses before Spark works
    out = tmp_path / "out.ht"
    assert main(["hail", "-I", str(world["vcf"]), "-O", str(out), "-R", world["ref"],
                 "-A", world["genes"], "--model", world["model"],
                 "--reference-genome", "GRCh38", "--device", "cuda"]) == 69
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("seqscore hail: error: device cuda needs the "
                                "CUDAExecutionProvider") and not out.exists()


@needs_cpu_build
def test_hail_precompute_device_cuda_refused_before_spark(world, tmp_path, capsys):
    pytest.importorskip("hail", reason="needs the hail extra: pip install '.[hail]'")
    out = tmp_path / "pre.ht"
    assert main(["hail", "precompute", "--region", "chr1:900-909", "-O", str(out),
                 "-R", world["ref"], "-A", world["genes"], "--model", world["model"],
                 "--device", "cuda"]) == 69
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("seqscore hail: error: device cuda needs the "
                                "CUDAExecutionProvider") and not out.exists()
