"""`seqscore score --model M` against model M's own CLI, side by side in one run (issue #12).

For each model: whole command runs, start-up included, on a sparse real set (the shared chr21
dbSNP SNVs) and a dense one (every SNV of an exon-rich 1-kb stretch of MRPL39).  The original
scores one variant at a time, so on the dense set it runs on ``--original-n`` SNVs spread over
the stretch, plus once on a single SNV for its start-up; its steady rate is
``(n - 1) / (t_n - t_1)``.  Outputs are compared string by string where both tools scored.

The originals are not dependencies of this project: install each in a virtualenv of its own
and pass its executable, e.g. ``python3.11 -m venv osai && osai/bin/pip install torch==2.13.0
openspliceai==0.0.7``, then ``--openspliceai osai/bin/openspliceai``.  Weights come from
``../shared/weights`` (or ``--weights DIR``).

    python benchmarks/bench_models.py --openspliceai PATH [--original-n 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench_score import timed
from realdata import DATA, ROOT

from hail_seqscore.compare import compare_vcfs  # noqa: E402

WEIGHTS = ROOT.parent / "shared" / "weights"
DENSE = ("21", 25_585_701, 25_586_700)     # 1 kb at MRPL39's 3' end: an exon and its flanks
HEADER = "##fileformat=VCFv4.2\n##contig=<ID=21,length=46709983>\n" \
         "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def dense_vcf(path: Path, fasta: Path, every: int = 1) -> int:
    """All SNVs of DENSE (3 per base; every ``every``-th of them) as a VCF; returns the count."""
    import pyfaidx

    contig, start, end = DENSE
    seq = pyfaidx.Fasta(str(fasta), as_raw=True, sequence_always_upper=True)[contig][start - 1:end]
    rows = [(start + i, b, a) for i, b in enumerate(seq) if b in "ACGT" for a in "ACGT" if a != b]
    rows = rows[::every]
    path.write_text(HEADER + "".join(f"{contig}\t{p}\t.\t{r}\t{a}\t.\t.\t.\n" for p, r, a in rows))
    return len(rows)


def spread(src: Path, dst: Path, n: int) -> int:
    lines = [l for l in src.read_text().splitlines(keepends=True) if not l.startswith("#")]
    picked = lines[::max(1, len(lines) // n)][:n]
    dst.write_text(HEADER + "".join(picked))
    return len(picked)


class OpenSpliceAI:
    """``openspliceai variant`` 0.0.7 (it needs ``-f 10000``: its default flank is 80)."""

    name, key = "openspliceai", "OpenSpliceAI"

    def __init__(self, exe: str, plain_fasta: Path, genes: Path, weights: Path, threads: int):
        self.exe, self.fasta, self.genes, self.weights = exe, plain_fasta, genes, weights
        self.env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))

    def run(self, vcf: Path, out: Path) -> float:
        return timed([self.exe, "variant", "-R", str(self.fasta), "-A", str(self.genes),
                      "-m", str(self.weights) + "/", "-f", "10000", "-t", "pytorch", "-D", "50",
                      "-M", "0", "-I", str(vcf), "-O", str(out)], env=self.env)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--openspliceai", help="the original `openspliceai` executable")
    ap.add_argument("--weights", default=str(WEIGHTS))
    ap.add_argument("--original-n", type=int, default=30,
                    help="dense SNVs the original scores (spread over the stretch)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads of the original (its reference runs used 1, faster "
                         "than 2 on this machine)")
    ap.add_argument("--seqscore", default=str(Path(sys.executable).parent / "seqscore"))
    a = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"shared data not found at {DATA}")
    work = Path(tempfile.mkdtemp(prefix="bench-models-"))
    fasta, genes = DATA / "chr21.fa.gz", DATA / "genes.grch38.spliceai.txt"
    plain = work / "chr21.fa"
    with gzip.open(fasta, "rb") as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    tools = []
    if a.openspliceai:
        tools.append(OpenSpliceAI(a.openspliceai, plain, genes,
                                  Path(a.weights) / "openspliceai-mane-10000nt", a.threads))
    if not tools:
        sys.exit("name at least one original: --openspliceai PATH")
    dense = work / "dense.vcf"
    n_dense = dense_vcf(dense, fasta)
    sample = work / "dense.sample.vcf"
    n_sample = spread(dense, sample, a.original_n)
    one = work / "one.vcf"
    spread(dense, one, 1)
    sets = {"sparse: chr21 dbSNP SNVs": (DATA / "dbsnp_snvs.vcf", 132),
            f"dense: all SNVs of 21:{DENSE[1]:,}-{DENSE[2]:,}": (dense, n_dense)}
    print(f"{'model / set':<48}{'n':>6}{'seqscore var/s':>16}{'original var/s':>16}{'ratio':>8}"
          "  outputs")
    for tool in tools:
        for label, (vcf, n) in sets.items():
            ours = work / f"{tool.name}.{vcf.stem}.seqscore.vcf"
            t_ours = timed([a.seqscore, "score", "-I", str(vcf), "-O", str(ours), "-R", str(fasta),
                            "-A", str(genes), "--model", tool.name, "-D", "50", "-M", "0", "-q",
                            "--progress", "off"])
            rate_ours = n / t_ours
            theirs = work / f"{tool.name}.{vcf.stem}.original.vcf"
            if vcf == dense:
                t1 = tool.run(one, work / "one.out.vcf")
                tn = tool.run(sample, theirs)
                rate_orig = (n_sample - 1) / max(tn - t1, 1e-9)
                how = f"steady rate on {n_sample} SNVs"
            else:
                rate_orig = n / tool.run(vcf, theirs)
                how = "whole command"
            rep = compare_vcfs(str(ours), str(theirs), key=tool.key)
            shared = f"{rep.equal}/{rep.strings} identical" if vcf != dense else \
                f"{rep.equal} of the original's {rep.annotated_b} records identical"
            print(f"{tool.name + ' / ' + label:<48}{n:>6}{rate_ours:>16.2f}{rate_orig:>16.3f}"
                  f"{rate_ours / rate_orig:>7.1f}x  {shared} (original: {how})", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
