"""Daemon latency and throughput at concurrency 1, 8 and 64, against the in-process engine.

    python benchmarks/bench_daemon.py --model toy                 # the server's own overhead
    python benchmarks/bench_daemon.py --model spliceai --variants 64 --per-request 1

Each client thread sends requests of ``--per-request`` variants (distinct variants, cache off)
with its own keep-alive connection; latency is per request.  The baseline scores the same
variants in this process with ``Engine.score`` in chunks of ``--max-batch``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from daemon_harness import SHARED, Daemon, toy_variants, write_toy_genome  # noqa: E402
from hail_seqscore.engine import Engine, EngineConfig  # noqa: E402
from hail_seqscore.records import Variant  # noqa: E402


def real_variants(n: int) -> list[Variant]:
    out = []
    d = SHARED / "grch38_chr21"
    for name in ("dbsnp_snvs.vcf", "indels.vcf"):
        for line in open(d / name):
            if not line.startswith("#"):
                c, p, _, r, alts = line.split("\t")[:5]
                out += [Variant(c, int(p), r, a) for a in alts.split(",")]
    return out[:n]


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def run_level(url: str, variants: list[Variant], per_request: int, concurrency: int):
    from hail_seqscore.client import Client

    chunks = [variants[i:i + per_request] for i in range(0, len(variants), per_request)]
    clients = [Client(url) for _ in range(concurrency)]
    lat: list[float] = []

    def send(i):
        c = clients[i % concurrency]
        t = time.perf_counter()
        res = c.score(chunks[i])
        lat.append(time.perf_counter() - t)
        return len(res)

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(concurrency) as ex:
        n = sum(ex.map(send, range(len(chunks))))
    dt = time.perf_counter() - t0
    assert n == len(variants)
    return statistics.median(lat), pct(lat, 99), n / dt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="toy", help="toy, spliceai (exported) or an .onnx path")
    ap.add_argument("--variants", type=int, default=2000)
    ap.add_argument("--per-request", type=int, default=4)
    ap.add_argument("--concurrency", default="1,8,64")
    ap.add_argument("--max-batch", type=int, default=32)
    ap.add_argument("--max-delay-ms", type=float, default=5.0)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench_daemon_"))
    if args.model == "toy":
        from toy_models import build_toy_model

        model = str(build_toy_model(tmp / "toy.onnx"))
        fasta, genes, seq = write_toy_genome(tmp)
        reference, annotation = str(fasta), str(genes)
        variants = toy_variants(seq, args.variants, start=1501, step=1)
    else:
        model = args.model
        reference = str(SHARED / "grch38_chr21" / "chr21.fa.gz")
        annotation = str(SHARED / "grch38_chr21" / "genes.grch38.spliceai.txt")
        variants = real_variants(args.variants)
    engine = Engine(EngineConfig(model=model, reference=reference, annotation=annotation))
    engine.warm_up()
    engine.score(variants[:2])
    t0 = time.perf_counter()
    for i in range(0, len(variants), args.max_batch):
        engine.score(variants[i:i + args.max_batch])
    base = len(variants) / (time.perf_counter() - t0)
    print(f"model {args.model}: {len(variants)} variants, {args.per_request} per request, "
          f"max-batch {args.max_batch}, max-delay {args.max_delay_ms} ms")
    print(f"in-process engine: {base:.1f} variants/s")
    print("| concurrency | p50 ms | p99 ms | variants/s | vs in-process |")
    print("|---:|---:|---:|---:|---:|")
    with Daemon(["--model", model, "-R", reference, "-A", annotation, "--cache-size", "0",
                 "--max-batch", str(args.max_batch), "--max-delay-ms",
                 str(args.max_delay_ms)]) as d:
        d.client().score(variants[:2])
        for c in (int(x) for x in args.concurrency.split(",")):
            p50, p99, vps = run_level(d.url, variants, args.per_request, c)
            print(f"| {c} | {p50 * 1e3:.1f} | {p99 * 1e3:.1f} | {vps:.1f} | "
                  f"{(vps / base - 1) * 100:+.0f}% |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
