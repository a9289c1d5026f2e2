"""`seqscore precompute` on real regions (issue #14): variants/s against the README's dense set.

Sets (the shared real data, ``../shared/data``):

* ``brca1``: every SNV of BRCA1's exons ± 50 bp (the exons of the ``spliceai`` 1.3.1 GRCh38 table,
  ``grch38_chr17_brca1/genes.grch38.spliceai.txt``; 24 exons, 24 stretches, 8,336 bases);
* ``chr21``: every SNV of a 20-kb stretch of chr21, ``21:25,725,001-25,745,000`` (the end of ATP5J,
  the 335 bases where ATP5J (-) and GABPA (+) overlap, and GABPA's start: every base in a gene);
* ``indels``: ``--indels`` alone on the first ``--indel-bases`` bases of the ``brca1`` set from its
  second stretch on (the first starts 50 bases before the gene), 8 per base: 4 one-base
  insertions, deletions of 1-4 bases.

Each set runs through :func:`hail_seqscore.precompute.precompute` (what the CLI runs: stretches of
SNVs per engine call, written per ALT and gene, bgzipped and indexed), after the engine is warmed
up, with a progress line and ETA on stderr.  The rate is compared with the README's dense-set
figure (10.49 variants/s: all SNVs of 2 kb of MRPL39, ``--strategy auto``, on a quiet machine) and,
because the machine may be busy, with the same dense set's first ``--dense-n`` SNVs scored by the
engine in this same run, before and after the sets (``dense now``, their mean).  CPU-s per variant
(the process's CPU time, all threads) is printed too: it moves much less with other jobs than the
wall time, so ``CPU vs now`` is the fairest comparison on a shared machine.

    python benchmarks/bench_precompute.py [--sets brca1,chr21,indels] [--limit-bases N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hail_seqscore.engine import Engine, EngineConfig  # noqa: E402
from hail_seqscore.precompute import (Region, count_variants, merge_regions,  # noqa: E402
                                      parse_region, precompute, region_snvs)
from hail_seqscore.progress import Progress  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CHR21 = DATA / "grch38_chr21"
CHR17 = DATA / "grch38_chr17_brca1"
README_DENSE = 10.49        # variants/s, benchmarks/README.md "Strategies on sparse and dense sets"
DENSE_REGION = "21:25585701-25587700"
CHR21_REGION = "21:25725001-25745000"


def exon_regions(table: Path, gene: str, flank: int) -> list[Region]:
    """The gene's exons ± ``flank`` bases from a SpliceAI-format table, merged."""
    for line in table.read_text().splitlines():
        f = line.split("\t")
        if f[0] == gene:
            starts = [int(x) for x in f[5].strip(",").split(",")]
            ends = [int(x) for x in f[6].strip(",").split(",")]
            return merge_regions([Region(f[1], max(0, s - flank), e + flank)
                                  for s, e in zip(starts, ends)])
    raise SystemExit(f"{gene} not in {table}")


def first_bases(regions: list[Region], n: int | None) -> list[Region]:
    """The first ``n`` bases of ``regions`` (all with None)."""
    if n is None:
        return regions
    out = []
    for r in regions:
        if n <= 0:
            break
        out.append(Region(r.contig, r.start, min(r.end, r.start + n)))
        n -= out[-1].end - out[-1].start
    return out


def engine_for(data: Path, model: str, strategy: str) -> Engine:
    ref = next(data.glob("*.fa.gz"))
    return Engine(EngineConfig(model=model, reference=str(ref), strategy=strategy,
                               annotation=str(data / "genes.grch38.spliceai.txt"))).warm_up()


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="spliceai")
    ap.add_argument("--strategy", default="auto")
    ap.add_argument("--sets", default="brca1,chr21,indels")
    ap.add_argument("--limit-bases", type=int, default=None,
                    help="only the first N bases of each SNV set (default: all)")
    ap.add_argument("--indel-bases", type=int, default=100)
    ap.add_argument("--dense-n", type=int, default=600,
                    help="SNVs of the README's dense set scored now, for a same-load reference "
                         "(0: skip)")
    ap.add_argument("--keep", help="write the files into this folder (default: a temporary one)")
    a = ap.parse_args()
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs; model {a.model}, strategy "
          f"{a.strategy}", flush=True)
    dense: list[tuple[float, float]] = []     # (variants/s, CPU-s/variant), before and after

    def measure_dense(when: str) -> None:
        eng = engine_for(CHR21, a.model, a.strategy)
        vs = list(region_snvs(eng, parse_region(DENSE_REGION)))[:a.dense_n]
        eng.score(vs[:2])
        _, w, c = timed(lambda: eng.score(vs))
        dense.append((len(vs) / w, c / len(vs)))
        print(f"dense now ({when}): first {len(vs)} SNVs of {DENSE_REGION} (engine.score): "
              f"{w:.1f} s, {len(vs) / w:.2f} variants/s, {c / len(vs):.3f} CPU-s/variant "
              f"(README: {README_DENSE} variants/s on a quiet machine); load "
              f"{os.getloadavg()[0]:.1f}", flush=True)

    if a.dense_n:
        measure_dense("before")
    brca1 = exon_regions(CHR17 / "genes.grch38.spliceai.txt", "BRCA1", 50)
    sets = {
        "brca1": (CHR17, first_bases(brca1, a.limit_bases), True, False),
        "chr21": (CHR21, first_bases([parse_region(CHR21_REGION)], a.limit_bases), True, False),
        "indels": (CHR17, first_bases(brca1[1:], a.indel_bases), False, True),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(a.keep or tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in a.sets.split(","):
            data, regions, snvs, indels = sets[name]
            eng = engine_for(data, a.model, a.strategy)
            bases = sum(r.end - r.start for r in regions)
            total = count_variants(eng, regions, snvs, indels)
            print(f"{name}: {len(regions)} stretches, {bases:,} bases, {total:,} variants "
                  f"(split graphs: {'yes' if eng.split_model else 'no'})", flush=True)
            progress = Progress(total, unit="variants", enabled=True, min_interval=30)
            snv_out = str(out_dir / f"{name}.snv.vcf.gz") if snvs else None
            indel_out = str(out_dir / f"{name}.indel.vcf.gz") if indels else None
            stats, w, c = timed(lambda: precompute(eng, regions, snv_out, indels_path=indel_out,
                                                   on_progress=progress.update))
            progress.close()
            rate = stats.variants / w
            rows.append((name, bases, stats.variants, stats.records, w, rate,
                         c / stats.variants, sum(stats.errors.values()), os.getloadavg()[0]))
            print(f"{name}: {stats.variants:,} variants, {stats.records:,} records in {w:.1f} s: "
                  f"{rate:.2f} variants/s, {c / stats.variants:.3f} CPU-s/variant, "
                  f"{rate / README_DENSE:.2f}x the README's dense set; {rows[-1][7]} not "
                  f"scored; load {rows[-1][8]:.1f}", flush=True)
    if a.dense_n:
        measure_dense("after")
    d_rate = sum(d[0] for d in dense) / len(dense) if dense else float("nan")
    d_cpu = sum(d[1] for d in dense) / len(dense) if dense else float("nan")
    # vs README: wall rate / 10.49; vs now: wall rate / the dense set's in this run (mean of
    # before and after); CPU vs now: the dense set's CPU-s per variant / this set's
    print(f"\n{'set':<8}{'bases':>8}{'variants':>10}{'records':>9}{'s':>9}{'var/s':>8}"
          f"{'CPU-s/var':>11}{'vs README':>11}{'vs now':>8}{'CPU vs now':>12}{'errors':>8}")
    for r in rows:
        print(f"{r[0]:<8}{r[1]:>8,}{r[2]:>10,}{r[3]:>9,}{r[4]:>9.1f}{r[5]:>8.2f}{r[6]:>11.3f}"
              f"{r[5] / README_DENSE:>10.2f}x{r[5] / d_rate:>7.2f}x{d_cpu / r[6]:>11.2f}x"
              f"{r[7]:>8}")
    print(f"load average now {os.getloadavg()[0]:.1f} (at start {load:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
