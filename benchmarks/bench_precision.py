"""Reduced precision against fp32 on the shared real data (issue #7): the largest score deviation.

Scores the chr21 dbSNP SNVs, the indels and all SNVs of a dense region with ``--precision fp32``
and with each reduced precision this machine can run (``fp16`` runs anywhere, from the copies
``seqscore export spliceai --fp16`` writes; ``tf32`` needs a CUDA GPU and is reported as not
measured otherwise).  Prints the largest |ΔDS| before rounding, how many two-decimal INFO values
and DP positions change (all, and where the DS is at least 0.01: where it rounds to 0.00 the DP
is the argmax of near-zero noise), and the speed of each.

    python benchmarks/bench_precision.py [--region 21:25585701-25586000] [--strategy auto]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hail_seqscore.engine import Engine, EngineConfig  # noqa: E402
from hail_seqscore.errors import SeqScoreError  # noqa: E402
from hail_seqscore.precompute import parse_region, region_snvs  # noqa: E402
from realdata import DATA, read_vcf  # noqa: E402





def compare(base: list, other: list) -> tuple[float, int, int, int, int]:
    """(max |ΔDS|, rounded DS values that differ, DP values that differ, DP values that differ
    where the fp32 DS is at least 0.01, scored gene rows)."""
    m, rounded, dp, dp_hit, n = 0.0, 0, 0, 0, 0
    for x, y in zip(base, other):
        for s, t in zip(x.scores, y.scores):
            if not s.scored:
                continue
            n += 1
            a = (s.ds_ag, s.ds_al, s.ds_dg, s.ds_dl)
            b = (t.ds_ag, t.ds_al, t.ds_dg, t.ds_dl)
            m = max(m, *(abs(p - q) for p, q in zip(a, b)))
            rounded += sum(f"{p:.2f}" != f"{q:.2f}" for p, q in zip(a, b))
            for ds, p, q in zip(a, (s.dp_ag, s.dp_al, s.dp_dg, s.dp_dl),
                                (t.dp_ag, t.dp_al, t.dp_dg, t.dp_dl)):
                dp += p != q
                dp_hit += p != q and round(ds, 2) >= 0.01
    return m, rounded, dp, dp_hit, n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="spliceai")
    ap.add_argument("--region", default="21:25585701-25586000",
                    help="dense set: all SNVs of this region (default: 300 bp of MRPL39)")
    ap.add_argument("--strategy", default="auto")
    a = ap.parse_args()
    cfg = dict(model=a.model, reference=str(DATA / "chr21.fa.gz"),
               annotation=str(DATA / "genes.grch38.spliceai.txt"), strategy=a.strategy)
    base = Engine(EngineConfig(**cfg)).warm_up()
    sets = {"chr21 dbSNP SNVs": read_vcf(DATA / "dbsnp_snvs.vcf"),
            "chr21 indels": read_vcf(DATA / "indels.vcf"),
            f"all SNVs of {a.region}": list(region_snvs(base, parse_region(a.region)))}
    engines = {"fp32": base}
    for prec in ("fp16", "tf32"):
        try:
            engines[prec] = Engine(EngineConfig(**cfg, precision=prec)).warm_up()
        except SeqScoreError as exc:
            print(f"{prec}: not measured here: {exc.message}")
    print(f"{'set':<36}{'precision':<11}{'variants':>9}{'var/s':>8}{'max|dDS|':>11}"
          f"{'DS (2 dp) changed':>19}{'DP changed':>12}{'(DS>=0.01)':>12}{'gene rows':>11}")
    for name, vs in sets.items():
        results = {}
        for prec, eng in engines.items():
            eng.score(vs[:2])
            t = time.perf_counter()
            results[prec] = eng.score(vs)
            rate = len(vs) / (time.perf_counter() - t)
            m, rounded, dp, dp_hit, n = compare(results["fp32"], results[prec])
            print(f"{name:<36}{prec:<11}{len(vs):>9}{rate:>8.2f}{m:>11.2e}{rounded:>19}"
                  f"{dp:>12}{dp_hit:>12}{n:>11}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
