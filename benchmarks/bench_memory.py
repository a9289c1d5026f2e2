"""Peak memory (RSS) of `seqscore score` against the number of VCF records, and of one long
insertion at the allele-length cap (issue #11, item 4).

Each run is a whole `seqscore score` command in its own process; its peak resident set size is
read from the kernel when it exits (``os.wait4`` → ``ru_maxrss``), so nothing else in this
process is counted.  The VCFs are written here from the real chr21 sequence of
``../shared/data/grch38_chr21``: positions spread evenly over the covered (real) sequence, REF
read from the reference, ALT another base, one record in 20 an indel, with ID, QUAL, FILTER,
INFO and two genotype columns as a cohort VCF has.  The positions lie between the first and the
last gene of the region (MRPL39 … APP), so most records are scored by the model.

The model decides the time, not the memory pattern: ``--model toy`` (default) runs the 100-bp
toy model of the tests so that 100k records finish in minutes; ``--model spliceai`` runs the real
model (≈ 5 variants/s here: use it with ``--sizes 1000``).

    python benchmarks/bench_memory.py [--sizes 1000,10000,100000] [--model toy|spliceai]
                                      [--long-insertion 10000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from realdata import DATA, ROOT

sys.path.insert(0, str(ROOT / "tests"))


def covered(bed: Path) -> list[tuple[str, int, int]]:
    out = []
    for line in bed.read_text().splitlines():
        f = line.split("\t")
        out.append((f[0], int(f[1]), int(f[2])))
    return out


def write_vcf(path: Path, n: int, fasta: Path, gene_span: tuple[int, int] | None) -> None:
    """``n`` records over the real sequence (inside ``gene_span`` when given)."""
    import pyfaidx

    fa = pyfaidx.Fasta(str(fasta), as_raw=True, sequence_always_upper=True)
    spans = [(c, a, b) for c, a, b in covered(DATA / "chr21.covered.bed")]
    if gene_span is not None:
        lo, hi = gene_span
        spans = [(c, max(a, lo), min(b, hi)) for c, a, b in spans if b > lo and a < hi]
    total = sum(b - a for _, a, b in spans)
    step = max(1, total // n)
    other = {"A": "C", "C": "G", "G": "T", "T": "A"}
    with open(path, "w") as fh:
        fh.write("##fileformat=VCFv4.2\n##contig=<ID=21,length=46709983>\n"
                 '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">\n'
                 '##FILTER=<ID=LowQual,Description="Low quality">\n'
                 '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
                 "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n")
        written = 0
        for contig, a, b in spans:
            seq = fa[contig][a:b]
            for off in range(0, b - a - 20, step):
                if written == n:
                    return
                ref = seq[off]
                if ref not in other:
                    continue
                pos = a + off + 1
                if written % 20 == 7:
                    ref_, alt = seq[off:off + 3], ref                 # 2-bp deletion
                elif written % 20 == 13:
                    ref_, alt = ref, ref + "AG"                       # 2-bp insertion
                else:
                    ref_, alt = ref, other[ref]
                filt = "LowQual" if written % 7 == 0 else "PASS"
                fh.write(f"21\t{pos}\tv{written}\t{ref_}\t{alt}\t{30 + written % 50}\t{filt}\t"
                         f"AC={1 + written % 3}\tGT\t0/1\t0/0\n")
                written += 1
    if written < n:
        sys.exit(f"only {written} positions available for {n} records")


def gene_span(genes: Path) -> tuple[int, int]:
    """From the first gene's start to the last gene's end (0-based, end exclusive)."""
    rows = [line.split("\t") for line in genes.read_text().splitlines()[1:] if line.strip()]
    return min(int(r[3]) for r in rows), max(int(r[4]) for r in rows)


def peak_rss(cmd: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, exit code) of one command in its own process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    dt = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"command failed ({code}): {' '.join(cmd)}\n{err[-2000:]}")
    return dt, usage.ru_maxrss / 1024, code


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--model", default="toy", help="toy (the tests' 100-bp model) or a model "
                    "name/path such as spliceai")
    ap.add_argument("--long-insertion", type=int, default=0,
                    help="also score one insertion of this many bases (e.g. 10000, the cap)")
    ap.add_argument("--seqscore", default=str(Path(sys.executable).parent / "seqscore"))
    args = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"shared data not found at {DATA}")
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    fasta = DATA / "chr21.fa.gz"
    genes = DATA / "genes.grch38.spliceai.txt"
    model = args.model
    if model == "toy":
        from toy_models import build_toy_model

        model = str(build_toy_model(work / "toy.onnx", context=100))
    base = [args.seqscore, "score", "-R", str(fasta), "-A", str(genes), "--model", model,
            "--progress", "off", "-q"]
    print(f"model {args.model}; reference {fasta.name}; genes {genes.name}")
    print(f"{'records':>9}{'seconds':>10}{'records/s':>11}{'peak RSS MiB':>14}")
    for n in (int(x) for x in args.sizes.split(",")):
        vcf = work / f"in.{n}.vcf"
        write_vcf(vcf, n, fasta, gene_span(genes))
        dt, rss, _ = peak_rss(base + ["-I", str(vcf), "-O", str(work / f"out.{n}.vcf")])
        print(f"{n:>9}{dt:>10.1f}{n / dt:>11.0f}{rss:>14.0f}", flush=True)
        vcf.unlink()
    if args.long_insertion:
        vcf = work / "long.vcf"
        # APP's body, well inside the real sequence
        pos = 25_900_000
        import pyfaidx

        ref = pyfaidx.Fasta(str(fasta), as_raw=True, sequence_always_upper=True)["21"][pos - 1]
        alt = (ref + ("ACGT" * args.long_insertion))[:args.long_insertion]
        vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=21,length=46709983>\n"
                       "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                       f"21\t{pos}\tlong\t{ref}\t{alt}\t.\t.\t.\n")
        for cap in (None, args.long_insertion):
            extra = [] if cap is None else ["--max-allele-length", str(cap)]
            dt, rss, _ = peak_rss(base + ["-I", str(vcf), "-O", str(work / "long.out.vcf")]
                                  + extra)
            out = (work / "long.out.vcf").read_text().splitlines()[-1].split("\t")[7]
            state = "scored" if "SpliceAI=" in out else "not scored (cap)"
            print(f"one {len(alt):,}-bp ALT, cap {cap or 'default'}: {dt:.1f} s, peak RSS "
                  f"{rss:.0f} MiB, {state}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
