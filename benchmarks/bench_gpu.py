"""SpliceAI on the CUDA execution provider: windows and variants per second, latency per call,
GFLOP/s and % of the GPU's peak, for fp32 (TF32 off), tf32 and fp16 at batch sizes 32–512,
against the CPU figure.

Each call scores ``batch`` windows of ``--outputs + 10,000`` bp (``--outputs 101``: SpliceAI's
-D 50) with the whole 5-member graph.  Inputs are copied to the GPU once and bound with
onnxruntime's I/O binding, outputs stay on the GPU, so a call measures the model and not
host-device copies (``--compare-copy`` also times plain ``run()`` with host arrays).  FLOPs
come from ``benchmarks/flops.py`` (convolutions only); a variant scored by the window strategy
is a REF and an ALT window.  The peak is looked up by the GPU's name (``nvidia-smi``) in
``PEAKS`` or given with ``--peak-tflops`` (one number: used for all three precisions).

fp16 needs the copy ``seqscore export spliceai --fp16`` writes (else it is skipped, saying so).

    python benchmarks/bench_gpu.py [--model spliceai] [--batch-sizes 32,64,128,256,512]
                                   [--seconds 3] [--cpu-batch 4] [--peak-tflops T]

Exit codes: 0 measured; 69 no GPU (no ``nvidia-smi``, an onnxruntime without the CUDA
provider, or a CUDA provider that cannot be created: the message says which and how to fix
it); 66 the model is not exported.  ``--cpu-only`` measures just the CPU figure (any machine).
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from flops import CONTEXT, pass_flops  # noqa: E402
from hail_seqscore.errors import SeqScoreError  # noqa: E402
from hail_seqscore.models import session as sessions  # noqa: E402
from hail_seqscore.models.registry import model_path, precision_path  # noqa: E402

EXIT_NO_GPU = 69
#: dense peak TFLOP/s (no sparsity) by name: fp32 on CUDA cores, tf32 and fp16 on tensor cores
#: (fp16 with fp32 accumulation); None = no such mode (pre-Ampere GPUs have no TF32)
PEAKS = {
    "H100 PCIe": (51.2, 378.0, 756.0), "H100": (67.0, 494.7, 989.4),       # H100: SXM
    "A100": (19.5, 156.0, 312.0), "A10G": (None, None, None), "A10": (31.2, 62.5, 125.0),
    "L40S": (91.6, 183.0, 362.0), "L40": (None, None, None), "L4": (30.3, 60.0, 121.0),
    "T4": (8.1, None, 65.0), "V100": (15.7, None, 125.0),
}
PRECISIONS = ("fp32", "tf32", "fp16")


def gpu_name() -> str | None:
    if shutil.which("nvidia-smi") is None:
        return None
    r = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                       capture_output=True, text=True, timeout=30)
    return r.stdout.strip().splitlines()[0] if r.returncode == 0 and r.stdout.strip() else None


def peak_for(name: str, precision: str, given: float | None) -> float | None:
    if given:
        return given
    for key, peaks in PEAKS.items():           # the more specific names first
        if key.lower() in name.lower():
            return peaks[PRECISIONS.index(precision)]     # None: unknown here
    return None


def windows(batch: int, length: int, seed: int = 0) -> np.ndarray:
    """One-hot windows (random bases)."""
    idx = np.random.default_rng(seed).integers(0, 4, (batch, length))
    return np.eye(4, dtype=np.float32)[idx]


def time_calls(call, seconds: float, at_least: int = 3) -> list[float]:
    call()                                      # warm-up: cuDNN picks its kernels
    call()
    times: list[float] = []
    end = time.perf_counter() + seconds
    while len(times) < at_least or time.perf_counter() < end:
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return times


def bound_call(ms, x: np.ndarray):
    """``run_with_iobinding`` with ``x`` copied to the GPU once and the output kept there."""
    ort = sessions._ort()
    sess = ms._session
    x_gpu = ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0)
    io = sess.io_binding()
    io.bind_ortvalue_input(ms.spec.input_name, x_gpu)
    io.bind_output(ms.spec.output_name, "cuda", 0)

    def call():
        sess.run_with_iobinding(io)
    return call


def report(label: str, batch: int, times: list[float], gflop_window: float,
           peak: float | None) -> str:
    med = statistics.median(times)
    p90 = sorted(times)[math.ceil(0.9 * len(times)) - 1]
    gflops = batch * gflop_window / med
    of_peak = f"{gflops / (peak * 1000):6.1%}" if peak else "     ?"
    return (f"{label:<6}{batch:>6}{batch / med:>12.1f}{batch / med / 2:>12.1f}"
            f"{med * 1000:>11.1f}{p90 * 1000:>10.1f}{gflops:>11.0f}{of_peak:>9}")


HEADER = (f"{'prec':<6}{'batch':>6}{'windows/s':>12}{'variants/s':>12}{'ms/call':>11}"
          f"{'p90 ms':>10}{'GFLOP/s':>11}{'of peak':>9}")


def cpu_figure(path: Path, batch: int, length: int, seconds: float, gflop_window: float) -> float:
    ms = sessions.ModelSession(path, device="cpu")
    x = windows(batch, length)
    times = time_calls(lambda: ms._session.run([ms.spec.output_name], {ms.spec.input_name: x}),
                       seconds, at_least=2)
    print(HEADER)
    print(report("cpu", batch, times, gflop_window, None) + "   (CPUExecutionProvider)")
    return batch / statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="spliceai", help="name or .onnx path (SpliceAI-10k "
                    "architecture: the FLOP count is SpliceAI's)")
    ap.add_argument("--batch-sizes", default="32,64,128,256,512")
    ap.add_argument("--outputs", type=int, default=101,
                    help="kept positions per window (2 x distance + 1; default 101)")
    ap.add_argument("--seconds", type=float, default=3.0, help="timed seconds per point")
    ap.add_argument("--cpu-batch", type=int, default=4, help="windows per CPU call")
    ap.add_argument("--peak-tflops", type=float, default=None,
                    help="the GPU's peak TFLOP/s when its name is not in the table")
    ap.add_argument("--compare-copy", action="store_true",
                    help="also time run() with host arrays (copied in and out every call)")
    ap.add_argument("--cpu-only", action="store_true", help="only the CPU figure")
    a = ap.parse_args()
    batches = [int(b) for b in a.batch_sizes.split(",")]
    length = a.outputs + CONTEXT
    name = None if a.cpu_only else gpu_name()
    if name is None and not a.cpu_only:
        print("bench_gpu: no NVIDIA GPU here (nvidia-smi not found): nothing to measure; run "
              "it on a GPU machine with `pip install 'hail-seqscore[gpu]'`, or --cpu-only for "
              "the CPU figure (exit 69)", file=sys.stderr)
        return EXIT_NO_GPU
    try:
        path = model_path(a.model)
    except SeqScoreError as exc:
        print(f"bench_gpu: {exc.message}", file=sys.stderr)
        return 66
    if not path.is_file():
        print(f"bench_gpu: {path} not found; run `seqscore export {a.model}` first",
              file=sys.stderr)
        return 66
    members = int(sessions.ModelSession(path, device="cpu", threads=1).spec.members)
    gflop_window = members * pass_flops(a.outputs) / 1e9
    print(f"model {path.name}: {members} members, window {length} bp -> {a.outputs} outputs, "
          f"{gflop_window:.1f} GFLOP per window (benchmarks/flops.py), a variant = 2 windows")
    if a.cpu_only:
        cpu_figure(path, a.cpu_batch, length, a.seconds, gflop_window)
        return 0
    try:
        sessions.ModelSession(path, device="cuda", threads=1)
    except SeqScoreError as exc:
        print(f"bench_gpu: GPU {name}, but {exc.message} (exit 69)", file=sys.stderr)
        return EXIT_NO_GPU
    print(f"GPU: {name}")
    cpu_rate = cpu_figure(path, a.cpu_batch, length, a.seconds, gflop_window)
    for precision in PRECISIONS:
        p = precision_path(path, precision)
        if not p.is_file():
            print(f"{precision}: skipped ({p.name} not found: `seqscore export {a.model} --fp16`)")
            continue
        peak = peak_for(name, precision, a.peak_tflops)
        if peak is None and not a.peak_tflops:
            no_tf32 = precision == "tf32" and any(k in name for k in ("T4", "V100"))
            why = "this GPU has no TF32" if no_tf32 else "not in PEAKS: give --peak-tflops"
            print(f"{precision}: peak unknown ({why})")
        try:
            ms = sessions.ModelSession(p, device="cuda", precision=precision)
        except SeqScoreError as exc:
            print(f"{precision}: skipped ({exc.message})")
            continue
        print(f"\n{precision} on {', '.join(ms.providers)} (peak "
              f"{f'{peak:g} TFLOP/s' if peak else 'unknown'})")
        print(HEADER)
        for b in batches:
            x = windows(b, length, seed=b)
            try:
                times = time_calls(bound_call(ms, x), a.seconds)
            except Exception as exc:  # noqa: BLE001 - onnxruntime's own (e.g. out of memory)
                print(f"{precision:<6}{b:>6}  failed: {str(exc).splitlines()[0][:120]}")
                break
            med = statistics.median(times)
            print(report(precision, b, times, gflop_window, peak)
                  + f"   {b / med / cpu_rate:6.1f}x CPU")
            if a.compare_copy:
                feeds = {ms.spec.input_name: x}
                t = time_calls(lambda: ms._session.run([ms.spec.output_name], feeds), a.seconds)
                print(report("+copy", b, t, gflop_window, peak) + "   (run() with host arrays)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
