"""Engine strategies on sparse and dense variant sets (issue #7), with the original as baseline.

* sparse: the real chr21 dbSNP SNVs and the indels (``../shared/data/grch38_chr21``), each a set;
* dense: every SNV of a 2-kb region (3 per base), as ``seqscore precompute`` scores them.

Each strategy scores the variants in one process (start-up excluded, one warm-up call).  The
fast default (``incremental``, what ``auto`` picks) scores the whole dense set; the slower
``tiled`` and ``window`` score its first ``--tiled-n`` / ``--window-n`` SNVs (contiguous, so
tiles are shared as in the whole set).  Scores of every strategy are checked against
``window`` on the variants both scored.

``--original`` runs the spliceai 1.3.1 CLI, as whole commands in this same run, on each sparse
set, on ``--original-n`` dense SNVs spread evenly over the region, and on one SNV (its start-up).
Its per-variant cost does not depend on its neighbours, so the rate on a sample is its rate on
the set.  Ratios use its steady rate, ``n / (t - t_start-up)``, like ours (start-up excluded);
the whole-command rate is printed too.

    python benchmarks/bench_strategies.py [--region 21:25585701-25587700] [--original PATH]
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
from realdata import DATA, read_vcf  # noqa: E402

STRATEGIES = ("incremental", "tiled", "window")




def run(engine: Engine, vs: list[Variant], mask: bool) -> tuple[float, list]:
    engine.score(vs[:2], mask=mask)
    t = time.perf_counter()
    res = engine.score(vs, mask=mask)
    return time.perf_counter() - t, res


def max_diff(a: list, b: list) -> float:
    m = 0.0
    for x, y in zip(a, b):
        for s, t in zip(x.scores, y.scores):
            if s.scored:
                m = max(m, *(abs(p - q) for p, q in zip(
                    (s.ds_ag, s.ds_al, s.ds_dg, s.ds_dl), (t.ds_ag, t.ds_al, t.ds_dg, t.ds_dl))))
    return m


class Original:
    """The spliceai 1.3.1 CLI run as a whole command on a list of variants."""

    def __init__(self, exe: str, work: Path, probe: Variant):
        self.exe, self.work = exe, work
        self.fa = work / "chr21.fa"
        with gzip.open(DATA / "chr21.fa.gz", "rb") as src, open(self.fa, "wb") as dst:
            shutil.copyfileobj(src, dst)
        self.startup = self.seconds([probe])

    def seconds(self, vs: list[Variant]) -> float:
        vcf = self.work / "in.vcf"
        vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=21,length=46709983>\n"
                       "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                       + "".join(f"{v.contig}\t{v.pos}\t.\t{v.ref}\t{v.alt}\t.\t.\t.\n"
                                 for v in vs))
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
        t = time.perf_counter()
        subprocess.run([self.exe, "-I", str(vcf), "-O", str(self.work / "out.vcf"), "-R",
                        str(self.fa), "-A", str(DATA / "genes.grch38.spliceai.txt")],
                       check=True, env=env, capture_output=True)
        return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="spliceai")
    ap.add_argument("--region", default="21:25585701-25587700",
                    help="dense set: all SNVs of this region (default: 2 kb of MRPL39)")
    ap.add_argument("--tiled-n", type=int, default=900, help="dense SNVs scored with 'tiled'")
    ap.add_argument("--window-n", type=int, default=150, help="dense SNVs scored with 'window'")
    ap.add_argument("--sparse-n", type=int, default=None, help="first N of each sparse set "
                    "(default: all; for a quick check)")
    ap.add_argument("--sets", default="sparse,dense",
                    help="which sets to run: sparse, dense or both (default)")
    ap.add_argument("--mask", type=int, choices=(0, 1), default=0,
                    help="score masked (1) or raw (0, default) deltas; the original runs raw")
    ap.add_argument("--original", default=os.environ.get("SPLICEAI_BIN"))
    ap.add_argument("--original-n", type=int, default=120,
                    help="dense SNVs (spread over the region) scored by the original")
    a = ap.parse_args()
    cfg = dict(model=a.model, reference=str(DATA / "chr21.fa.gz"),
               annotation=str(DATA / "genes.grch38.spliceai.txt"))
    engines = {s: Engine(EngineConfig(**cfg, strategy=s)).warm_up() for s in STRATEGIES}
    dense = list(region_snvs(engines["window"], parse_region(a.region)))
    sets = {  # name: (variants, {strategy: how many of them it scores}, original's sample)
        "sparse: chr21 dbSNP SNVs": (read_vcf(DATA / "dbsnp_snvs.vcf")[:a.sparse_n], {}, None),
        "sparse: chr21 indels": (read_vcf(DATA / "indels.vcf")[:a.sparse_n], {}, None),
        f"dense: all SNVs of {a.region}": (
            dense, {"tiled": a.tiled_n, "window": a.window_n},
            dense[::max(1, len(dense) // a.original_n)][:a.original_n]),
    }
    wanted = set(a.sets.split(","))
    sets = {k: v for k, v in sets.items() if k.split(":")[0] in wanted}
    base: dict[str, tuple[float, float, int]] = {}
    if a.original:
        with tempfile.TemporaryDirectory() as tmp:
            orig = Original(a.original, Path(tmp), dense[0])
            print(f"original spliceai 1.3.1: start-up (one SNV, whole command) "
                  f"{orig.startup:.1f} s", flush=True)
            for name, (vs, _, sample) in sets.items():
                sample = vs if sample is None else sample
                t = orig.seconds(sample)
                steady = len(sample) / (t - orig.startup)
                base[name] = (steady, len(sample) / t, len(sample))
                print(f"original on {name}: {len(sample)} variants in {t:.1f} s = "
                      f"{len(sample) / t:.2f} variants/s whole command, {steady:.2f} steady",
                      flush=True)
    print(f"{'set':<44}{'strategy':<13}{'variants':>9}{'seconds':>9}{'var/s':>8}"
          f"{'max|dDS| vs window':>20}" + ("  vs original (steady / whole)" if base else ""))
    for name, (vs, limits, _) in sets.items():
        results = {}
        for s in reversed(STRATEGIES):       # window first: the reference for the check
            sub = vs[:limits.get(s, len(vs))]
            t, res = run(engines[s], sub, bool(a.mask))
            results[s] = res
            n = len(sub)
            rate = n / t
            row = (f"{name:<44}{s:<13}{n:>9}{t:>9.1f}{rate:>8.2f}"
                   f"{max_diff(res, results['window']):>20.1e}")
            if name in base:
                steady, whole, _ = base[name]
                row += f"{rate / steady:>14.1f}x / {rate / whole:.1f}x"
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
