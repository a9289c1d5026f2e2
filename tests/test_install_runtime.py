"""The install routes, each in a fresh virtualenv from the package registry (as a user would
run them; skipped, saying so, when the registry cannot be reached):

* ``hail-seqscore[gpu]`` gives onnxruntime-gpu alone, whose module lists the
  CUDAExecutionProvider (no GPU needed for that); on a machine without a GPU, device cuda then
  fails with one clear line and exit 69 (onnxruntime's own silent fallback to the CPU caught),
  device auto runs on the CPU and says so; adding the CPU package on top is explained as a
  clash with its fix;
* the bare package has no runtime and says which extra to install; ``[gpu-cuda]`` resolves to
  onnxruntime-gpu with NVIDIA's CUDA and cuDNN wheels and without the CPU package (pip's
  resolver, nothing downloaded); ``[cpu]`` gives onnxruntime alone, CPU provider only.

The project is installed from a wheel built from a copy of its sources; the runtimes and other
dependencies come from the registry (pip's cache makes reruns quick).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic import VCF_HEADER, make_world, other_base

ROOT = Path(__file__).resolve().parents[1]
CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"
HAS_GPU = shutil.which("nvidia-smi") is not None

pytestmark = pytest.mark.timeout(1800)

#: run inside a venv: what is installed, what the module offers, what our check and sessions say
PROBE = r'''
import importlib.metadata as md, json, sys
out = {"dists": {}}
for name in ("onnxruntime", "onnxruntime-gpu"):
    try:
        out["dists"][name] = md.version(name)
    except md.PackageNotFoundError:
        pass
import hail_seqscore                      # importing the package needs no runtime
from hail_seqscore.errors import SeqScoreError
from hail_seqscore.models.session import ModelSession, available_providers
try:
    out["available"] = available_providers()
except SeqScoreError as e:
    out["check"] = {"code": e.code, "exit": e.exit_code, "message": e.message}
    print(json.dumps(out)); sys.exit(0)
import onnxruntime
out["module_providers"] = onnxruntime.get_available_providers()
for device in ("auto", "cpu", "cuda"):
    try:
        s = ModelSession(sys.argv[1], device=device, threads=1)
        out[device] = {"providers": s.providers, "fell_back": s.fell_back,
                       "describe": s.describe()}
    except SeqScoreError as e:
        out[device] = {"code": e.code, "exit": e.exit_code, "message": e.message}
print(json.dumps(out))
'''


def run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=1200,
                          **kw)


def pip(venv: Path, *args) -> None:
    r = run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", *args])
    if r.returncode != 0:
        tail = "\n".join(r.stderr.strip().splitlines()[-15:])
        pytest.fail(f"pip install {' '.join(args)} failed ({r.returncode}):\n{tail}")


def probe(env: dict, venv: Path) -> dict:
    r = run([venv / "bin" / "python", env["probe"], env["model"]], cwd=env["dir"])
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def fresh_venv(path: Path) -> Path:
    r = run([sys.executable, "-m", "venv", path])
    assert r.returncode == 0, r.stderr
    return path


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The project's wheel (built from a copy of its sources), a toy model, a small world."""
    reach = run([sys.executable, "-m", "pip", "index", "versions", "onnxruntime-gpu",
                 "--timeout", "20", "--retries", "1"])
    if reach.returncode != 0 or "onnxruntime-gpu (" not in reach.stdout:
        pytest.skip("the package registry cannot be reached (pip index versions "
                    "onnxruntime-gpu failed): the install routes were not tested")
    d = tmp_path_factory.mktemp("install")
    src = d / "src"
    src.mkdir()
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    for pkg in ("hail_seqscore", "export"):
        shutil.copytree(ROOT / pkg, src / pkg,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    r = run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", d / "wheel",
             src])
    assert r.returncode == 0, r.stderr
    (wheel,) = (d / "wheel").glob("hail_seqscore-*.whl")
    world = make_world(d)
    s = world["seq"]
    vcf = d / "in.vcf"
    vcf.write_text(VCF_HEADER + "".join(
        f"chr1\t{p}\t.\t{s[p - 1]}\t{other_base(s[p - 1])}\t.\t.\t.\n" for p in (900, 950)))
    (d / "probe.py").write_text(PROBE)
    return {"dir": d, "wheel": str(wheel), "model": world["model"], "probe": str(d / "probe.py"),
            "score": ["score", "-I", vcf, "-R", world["ref"], "-A", world["genes"],
                      "--model", world["model"], "-D", "20"]}


def test_gpu_extra_gives_the_cuda_provider_and_no_cpu_package(env):
    venv = fresh_venv(env["dir"] / "gpu")
    pip(venv, f"{env['wheel']}[gpu]")
    got = probe(env, venv)
    assert list(got["dists"]) == ["onnxruntime-gpu"]           # the CPU package is not there
    assert CUDA in got["module_providers"] and CUDA in got["available"]
    print(f"\n[gpu] onnxruntime-gpu {got['dists']['onnxruntime-gpu']}: "
          f"{got['module_providers']}")
    assert got["cpu"]["providers"] == [CPU]
    if HAS_GPU:
        assert got["cuda"]["providers"][0] == CUDA
        return
    # no GPU here: onnxruntime falls back to the CPU by itself; we do not
    assert got["cuda"]["code"] == "RUNTIME_UNAVAILABLE" and got["cuda"]["exit"] == 69
    assert "the CUDAExecutionProvider could not be created, so onnxruntime fell back to " \
           "CPUExecutionProvider" in got["cuda"]["message"]
    assert got["auto"]["providers"] == [CPU] and got["auto"]["fell_back"] == [CUDA]
    seqscore = venv / "bin" / "seqscore"
    r = run([seqscore, *env["score"], "--device", "cuda", "-O", env["dir"] / "cuda.vcf"])
    ours = [x for x in r.stderr.splitlines() if x.startswith("seqscore")]
    assert r.returncode == 69 and len(ours) == 1, r.stderr
    assert ours[0].startswith("seqscore score: error: toy.onnx: the CUDAExecutionProvider "
                              "could not be created")
    assert not (env["dir"] / "cuda.vcf").exists()
    r = run([seqscore, *env["score"], "-O", env["dir"] / "auto.vcf"])
    assert r.returncode == 0, r.stderr
    assert ("seqscore score: toy runs on CPUExecutionProvider (device auto; "
            "CUDAExecutionProvider could not be created)") in r.stderr
    # the CPU package installed on top: both write one module, which is explained
    pip(venv, "onnxruntime>=1.17")
    got = probe(env, venv)
    assert set(got["dists"]) == {"onnxruntime", "onnxruntime-gpu"}
    assert got["check"]["exit"] == 69 and "are both installed" in got["check"]["message"]
    assert ("pip uninstall -y onnxruntime onnxruntime-gpu; pip install onnxruntime-gpu"
            in got["check"]["message"])


def test_bare_install_names_the_extras_and_cpu_extra_gives_the_cpu_runtime(env):
    venv = fresh_venv(env["dir"] / "cpu")
    pip(venv, env["wheel"])
    got = probe(env, venv)
    assert got["dists"] == {}
    assert got["check"] == {"code": "RUNTIME_UNAVAILABLE", "exit": 69, "message":
                            "ONNX Runtime is not installed: pip install 'hail-seqscore[cpu]' "
                            "(or [gpu] on an NVIDIA machine)"}
    # [gpu-cuda]: onnxruntime-gpu with CUDA and cuDNN as wheels, never the CPU package
    report = env["dir"] / "gpu-cuda.json"
    pip(venv, "--dry-run", "--report", report, f"{env['wheel']}[gpu-cuda]")
    names = {i["metadata"]["name"].lower()
             for i in json.loads(report.read_text())["install"]}
    assert "onnxruntime-gpu" in names and "onnxruntime" not in names
    assert any(n.startswith("nvidia-cudnn") for n in names)
    assert any(n.startswith("nvidia-cuda-runtime") for n in names)
    pip(venv, f"{env['wheel']}[cpu]")
    got = probe(env, venv)
    assert list(got["dists"]) == ["onnxruntime"]
    assert CPU in got["module_providers"] and CUDA not in got["module_providers"]
    print(f"\n[cpu] onnxruntime {got['dists']['onnxruntime']}: {got['module_providers']}")
    assert got["auto"]["providers"] == [CPU] and got["auto"]["fell_back"] == []
    assert got["cpu"]["providers"] == [CPU]
    assert got["cuda"]["exit"] == 69 and got["cuda"]["message"].startswith(
        "device cuda needs the CUDAExecutionProvider, which this onnxruntime (onnxruntime ")
