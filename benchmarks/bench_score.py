"""Benchmark `seqscore score` against the original spliceai 1.3.1 CLI on the real chr21 sets.

Both tools run as whole commands (start-up included) on the same inputs, one after the other,
and the outputs are compared string by string.  The original runs only where it is installed:
pass --original PATH (or set SPLICEAI_BIN); see ../shared/data/README.md for how to install it.

    python benchmarks/bench_score.py [--original /path/to/tfvenv/bin/spliceai] [--sets dbsnp_snvs:0,indels:0]
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

from hail_seqscore.compare import compare_vcfs  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "grch38_chr21"


def alleles(vcf: Path) -> int:
    n = 0
    for line in vcf.read_text().splitlines():
        if line and not line.startswith("#"):
            n += len(line.split("\t")[4].split(","))
    return n


def timed(cmd: list[str], env=None) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--original", default=os.environ.get("SPLICEAI_BIN"),
                    help="path of the original `spliceai` executable (optional)")
    ap.add_argument("--sets", default="dbsnp_snvs:0,indels:0,indels:1",
                    help="comma-separated NAME:MASK pairs from the chr21 data")
    ap.add_argument("--annotation", default="grch38")
    ap.add_argument("--seqscore", default=str(Path(sys.executable).parent / "seqscore"))
    ap.add_argument("--extra", default="", help="extra flags for seqscore score")
    args = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"shared data not found at {DATA}")
    work = Path(tempfile.mkdtemp(prefix="bench-score-"))
    fasta = DATA / "chr21.fa.gz"
    if args.original:
        plain = work / "chr21.fa"
        with gzip.open(fasta, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst)
    print(f"{'set':<16}{'alleles':>8}{'seqscore s':>12}{'var/s':>8}"
          + (f"{'spliceai s':>12}{'var/s':>8}{'ratio':>8}  identical" if args.original else ""))
    for item in args.sets.split(","):
        name, mask = item.split(":")
        vcf = DATA / f"{name}.vcf"
        n = alleles(vcf)
        ours = work / f"{name}.M{mask}.seqscore.vcf"
        t_ours = timed([args.seqscore, "score", "-I", str(vcf), "-O", str(ours), "-R", str(fasta),
                        "-A", args.annotation, "-D", "50", "-M", mask, "-q", *args.extra.split()])
        row = f"{name + ' -M' + mask:<16}{n:>8}{t_ours:>12.1f}{n / t_ours:>8.2f}"
        if args.original:
            theirs = work / f"{name}.M{mask}.spliceai.vcf"
            env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
            t_orig = timed([args.original, "-I", str(vcf), "-O", str(theirs), "-R", str(plain),
                            "-A", args.annotation, "-D", "50", "-M", mask], env=env)
            rep = compare_vcfs(str(ours), str(theirs))
            row += (f"{t_orig:>12.1f}{n / t_orig:>8.2f}{t_orig / t_ours:>7.2f}x  "
                    f"{rep.equal}/{rep.strings} (max |dDS| {rep.max_ds_diff:.2f})")
        else:
            ref = DATA / f"{name}.spliceai-1.3.1.D50.M{mask}.vcf"
            rep = compare_vcfs(str(ours), str(ref))
            row += f"   vs stored original output: {rep.equal}/{rep.strings} identical"
        print(row, flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
