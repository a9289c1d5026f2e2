"""Engine strategies on sparse and dense variant sets (issue #7), with the original as baseline.

* sparse: the real chr21 dbSNP SNVs and indels (``../shared/data/grch38_chr21``);
* dense: every SNV of a region (3 per base), as ``seqscore precompute`` scores them.

Each strategy scores the same variants in one process (start-up excluded, one warm-up call);
``--original`` also runs the spliceai 1.3.1 CLI on the first ``--original-n`` dense SNVs as a
whole command, for the ratio.  Scores of every strategy are checked against ``window``.

    python benchmarks/bench_strategies.py [--region 21:25585701-25586000] [--original PATH]
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hail_seqscore.engine import Engine, EngineConfig  # noqa: E402
from hail_seqscore.precompute import parse_region, region_snvs  # noqa: E402
from hail_seqscore.records import Variant  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "grch38_chr21"


def read_vcf(path: Path) -> list[Variant]:
    out = []
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            f = line.split("\t")
            out += [Variant(f[0], int(f[1]), f[3], a) for a in f[4].split(",")]
    return out


def run(engine: Engine, vs: list[Variant]) -> tuple[float, list]:
    engine.score(vs[:2])
    t = time.perf_counter()
    res = engine.score(vs)
    return time.perf_counter() - t, res


def max_diff(a: list, b: list) -> float:
    m = 0.0
    for x, y in zip(a, b):
        for s, t in zip(x.scores, y.scores):
            if s.scored:
                m = max(m, *(abs(p - q) for p, q in zip(
                    (s.ds_ag, s.ds_al, s.ds_dg, s.ds_dl), (t.ds_ag, t.ds_al, t.ds_dg, t.ds_dl))))
    return m


def original_rate(exe: str, vs: list[Variant], work: Path) -> float:
    vcf = work / "dense.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=21,length=46709983>\n"
                   "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   + "".join(f"{v.contig}\t{v.pos}\t.\t{v.ref}\t{v.alt}\t.\t.\t.\n" for v in vs))
    fa = work / "chr21.fa"
    if not fa.exists():
        with gzip.open(DATA / "chr21.fa.gz", "rb") as src, open(fa, "wb") as dst:
            shutil.copyfileobj(src, dst)
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    t = time.perf_counter()
    subprocess.run([exe, "-I", str(vcf), "-O", str(work / "out.vcf"), "-R", str(fa), "-A",
                    str(DATA / "genes.grch38.spliceai.txt")], check=True, env=env,
                   capture_output=True)
    return len(vs) / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="spliceai")
    ap.add_argument("--region", default="21:25585701-25586000",
                    help="dense set: all SNVs of this region (default: 300 bp of MRPL39)")
    ap.add_argument("--window-limit", type=int, default=150,
                    help="dense SNVs scored with the slow 'window' strategy (default 150)")
    ap.add_argument("--original", default=os.environ.get("SPLICEAI_BIN"))
    ap.add_argument("--original-n", type=int, default=40)
    a = ap.parse_args()
    cfg = dict(model=a.model, reference=str(DATA / "chr21.fa.gz"),
               annotation=str(DATA / "genes.grch38.spliceai.txt"))
    engines = {s: Engine(EngineConfig(**cfg, strategy=s)).warm_up()
               for s in ("window", "tiled", "incremental")}
    sparse = read_vcf(DATA / "dbsnp_snvs.vcf") + read_vcf(DATA / "indels.vcf")
    dense = list(region_snvs(engines["window"], parse_region(a.region)))
    sets = {"sparse (chr21 dbSNP + indels)": (sparse, None),
            f"dense (all SNVs of {a.region})": (dense, a.window_limit)}
    base_rate = None
    if a.original:
        with tempfile.TemporaryDirectory() as tmp:
            base_rate = original_rate(a.original, dense[:a.original_n], Path(tmp))
        print(f"original spliceai 1.3.1, whole run on {a.original_n} dense SNVs: "
              f"{base_rate:.2f} variants/s")
    print(f"{'set':<44}{'strategy':<13}{'variants':>9}{'seconds':>9}{'var/s':>8}"
          f"{'vs window':>10}{'max|dDS| vs window':>20}" + ("   vs original" if base_rate else ""))
    for name, (vs, limit) in sets.items():
        ref_t, ref_res = run(engines["window"], vs[:limit] if limit else vs)
        n_ref = len(ref_res)
        for s, eng in engines.items():
            if s == "window":
                t, res, n = ref_t, ref_res, n_ref
            else:
                t, res = run(eng, vs)
                n = len(vs)
            rate = n / t
            row = (f"{name:<44}{s:<13}{n:>9}{t:>9.1f}{rate:>8.2f}{rate / (n_ref / ref_t):>9.2f}x"
                   f"{max_diff(res[:n_ref], ref_res):>20.1e}")
            if base_rate:
                row += f"{rate / base_rate:>13.1f}x"
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
