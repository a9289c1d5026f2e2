"""Measure the onnxruntime CPU time of the exact graph forms of a 5-member export.

    python -m export.bench_variants [--model cispliceai] [--length 10101] [--repeats 7]

Exports the model in each form (same-padded + crop vs valid cone; Conv1d vs Conv2d on
``[N, C, 1, L]``) to a temporary directory, checks that the forms agree, and prints the median
wall time of one batch-1 pass per form (runs interleaved so that machine load hits all alike).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from .model import Variant
from .onnx_export import export_model

FORMS = [Variant("same", "1d"), Variant("same", "2d"), Variant("valid", "1d"),
         Variant("valid", "2d")]


def bench(model: str = "cispliceai", length: int = 10101, repeats: int = 7,
          source: str | None = None, threads: int | None = None) -> dict[str, float]:
    import onnxruntime as ort  # noqa: PLC0415 - a benchmark, not runtime code

    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (1, length))]
    sessions, outputs = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for v in FORMS:
            path = Path(tmp) / f"{v.padding}-{v.layout}.onnx"
            export_model(model, path, source=source, variant=v)
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            outputs[v] = sess.run(None, {"x": x})[0]  # warm-up
            sessions[v] = sess
    ref = outputs[FORMS[0]]
    times: dict[Variant, list[float]] = {v: [] for v in FORMS}
    for _ in range(repeats):
        for v, sess in sessions.items():
            t = time.perf_counter()
            sess.run(None, {"x": x})
            times[v].append(time.perf_counter() - t)
    result = {}
    for v in FORMS:
        med = statistics.median(times[v])
        diff = float(np.abs(outputs[v] - ref).max())
        result[f"{v.padding}-{v.layout}"] = med
        print(f"{v.padding:>5}-{v.layout}: {med * 1000:8.1f} ms  (max |diff| vs same-1d {diff:.2e})")
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="cispliceai")
    p.add_argument("--length", type=int, default=10101)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--from", dest="source", default=None)
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args()
    bench(a.model, a.length, a.repeats, a.source, a.threads)


if __name__ == "__main__":
    main()
