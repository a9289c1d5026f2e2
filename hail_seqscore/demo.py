"""``python -m hail_seqscore.demo``: score a small demo VCF and print the top variants.

The demo reference is SYNTHETIC, generated here from a fixed seed: a 30 kb contig ``demo1``
of random sequence (40% GC) holding one plus-strand gene of five exons whose splice sites
follow the human consensus (donor ``CAG|GTAAGT``, acceptor: branch point, polypyrimidine tract,
``AG|G``).  The variants hit the canonical dinucleotides, nearby positions, exons and deep
introns, so a few score high (donor/acceptor loss, cryptic gains) and most score near zero.
Nothing here is real human sequence; it only shows the tool working end to end.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .engine import Engine, EngineConfig
from .vcf import annotate_vcf

CONTIG, LENGTH, SEED = "demo1", 30_000, 2024
# exon (start0, end) on the plus strand; the gene spans the first start to the last end
EXONS = ((10_000, 10_180), (11_200, 11_320), (12_500, 12_640), (13_900, 14_010), (15_300, 15_600))


def _random(rng, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), n, p=[0.3, 0.2, 0.2, 0.3]))


def build_reference(rng) -> str:
    seq = list(_random(rng, LENGTH))
    for i, (start, end) in enumerate(EXONS):
        if i > 0:      # acceptor: branch point ~25 bp upstream, pyrimidine tract, AG|
            acc = "CTAAC" + "".join(rng.choice(list("CT"), 14)) + "TTTTCCTTTTCAG"
            seq[start - len(acc):start] = acc
            seq[start] = "G"
        if i < len(EXONS) - 1:   # donor: CAG|GTAAGT
            seq[end - 3:end] = "CAG"
            seq[end:end + 6] = "GTAAGT"
    return "".join(seq)


def demo_variants(seq: str, rng) -> list[tuple[int, str, str, str]]:
    """(pos, ref, alt, label) with pos 1-based."""
    out = []

    def snv(pos0: int, label: str):
        ref = seq[pos0]
        alt = {"A": "G", "C": "T", "G": "A", "T": "C"}[ref]
        out.append((pos0 + 1, ref, alt, label))

    for i, (start, end) in enumerate(EXONS):
        if i < len(EXONS) - 1:
            snv(end, f"exon{i + 1}_donor+1")
            snv(end + 1, f"exon{i + 1}_donor+2")
            snv(end + 4, f"exon{i + 1}_donor+5")
            snv(end - 1, f"exon{i + 1}_last_base")
        if i > 0:
            snv(start - 1, f"exon{i + 1}_acceptor-1")
            snv(start - 2, f"exon{i + 1}_acceptor-2")
            snv(start - 8, f"intron{i}_ppt")
        snv((start + end) // 2, f"exon{i + 1}_middle")
    for k, p in enumerate(rng.integers(EXONS[0][1] + 300, EXONS[-1][0] - 300, 6)):
        snv(int(p), f"intron_random{k + 1}")
    s, e = EXONS[2]
    out.append((s - 4 + 1, seq[s - 4:s + 2], seq[s - 4], "exon3_acceptor_del5"))
    out.append((e + 1, seq[e], seq[e] + "GTAAGT", "exon3_donor_ins"))
    return sorted(out)


def write_inputs(d: Path) -> dict[str, Path]:
    rng = np.random.default_rng(SEED)
    seq = build_reference(rng)
    d.mkdir(parents=True, exist_ok=True)
    fa, genes, vcf = d / "demo.fa", d / "demo_genes.txt", d / "demo.vcf"
    fa.write_text(f">{CONTIG} synthetic demo sequence, not human\n"
                  + "\n".join(seq[i:i + 60] for i in range(0, LENGTH, 60)) + "\n")
    starts = "".join(f"{s}," for s, _ in EXONS)
    ends = "".join(f"{e}," for _, e in EXONS)
    genes.write_text("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
                     f"DEMO1\t{CONTIG}\t+\t{EXONS[0][0]}\t{EXONS[-1][1]}\t{starts}\t{ends}\n")
    lines = ["##fileformat=VCFv4.2", f"##contig=<ID={CONTIG},length={LENGTH}>",
             "##source=hail-seqscore demo (synthetic)",
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for pos, ref, alt, label in demo_variants(seq, rng):
        lines.append(f"{CONTIG}\t{pos}\t{label}\t{ref}\t{alt}\t.\t.\t.")
    vcf.write_text("\n".join(lines) + "\n")
    fai = d / "demo.fa.fai"
    fai.unlink(missing_ok=True)
    return {"fasta": fa, "genes": genes, "vcf": vcf}


def top_table(vcf: Path, n: int) -> list[str]:
    rows = []
    for line in vcf.read_text().splitlines():
        if line.startswith("#") or "SpliceAI=" not in line:
            continue
        f = line.split("\t")
        info = next(x for x in f[7].split(";") if x.startswith("SpliceAI="))[9:]
        for entry in info.split(","):
            p = entry.split("|")
            if p[2] == ".":
                continue
            ds = [float(x) for x in p[2:6]]
            rows.append((max(ds), f[1], f[2], f[3], f[4], p[1], ds, p[6:10]))
    rows.sort(key=lambda r: -r[0])
    out = [f"{'POS':>6} {'ID':<22}{'REF>ALT':<14}{'GENE':<7}{'DS_AG':>6}{'DS_AL':>6}"
           f"{'DS_DG':>6}{'DS_DL':>6}  DP(AG,AL,DG,DL)"]
    for _, pos, vid, ref, alt, gene, ds, dp in rows[:n]:
        change = f"{ref}>{alt}" if len(ref) + len(alt) < 12 else f"{ref[:4]}..>{alt[:4]}.."
        out.append(f"{pos:>6} {vid:<22}{change:<14}{gene:<7}"
                   + "".join(f"{x:>6.2f}" for x in ds) + "  " + ",".join(dp))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Score the synthetic demo VCF with an exported model.")
    ap.add_argument("--model", default="spliceai")
    ap.add_argument("--out", default="demo_out", help="folder for the demo files (default: demo_out)")
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args(argv)
    d = Path(args.out)
    files = write_inputs(d)
    engine = Engine(EngineConfig(model=args.model, reference=str(files["fasta"]),
                                 annotation=str(files["genes"]), distance=50))
    out = d / "demo.scored.vcf"
    summary = annotate_vcf(str(files["vcf"]), str(out), engine.score)
    print("hail-seqscore demo — SYNTHETIC reference (random sequence with consensus splice "
          "sites), not human data")
    print(f"model: {engine.session.spec.name} {engine.session.spec.version} "
          f"(sha256 {engine.session.sha256[:12]}…); inputs and output in {d}/")
    for line in summary.lines():
        print(line)
    print()
    print(f"The {args.top} variants with the largest delta score (the largest of DS_AG, DS_AL, "
          f"DS_DG, DS_DL over their genes), from {out}:")
    print("\n".join(top_table(out, args.top)))
    print()
    print("Your own VCF (GRCh38; -A grch37 for GRCh37):")
    print(f"  seqscore score --model {args.model} -I your.vcf.gz -O scored.vcf.gz "
          "-R GRCh38.fa -A grch38")
    return 0


if __name__ == "__main__":
    sys.exit(main())
