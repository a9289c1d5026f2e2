"""`seqscore score --model M` against model M's own CLI, side by side in one run (issue #12).

For each model: whole command runs, start-up included, on a sparse real set (the shared chr21
dbSNP SNVs) and a dense one (every SNV of an exon-rich 1-kb stretch of MRPL39).  Where the
original is too slow to score a whole set (OpenSpliceAI's dense set; both of Pangolin's sets,
~7 s CPU per variant) it runs on ``--original-n`` SNVs spread over the set, plus once on a single
SNV for its start-up; its steady rate is ``(n - 1) / (t_n - t_1)``.  Outputs are compared where
both tools scored: OpenSpliceAI string by string; Pangolin value by value (gene, positions, and
the gain/loss values after ``round(x, 2)``: the CLI prints float32 values with their double
expansion under numpy 2, e.g. ``0.07000000029802322``).

The originals are not dependencies of this project: install each in a virtualenv of its own
and pass its executable.
- OpenSpliceAI: ``python3.11 -m venv osai && osai/bin/pip install torch==2.13.0
  openspliceai==0.0.7``, then ``--openspliceai osai/bin/openspliceai``.
- Pangolin (not on PyPI): ``python3.11 -m venv pg && pg/bin/pip install torch==2.13.0 pandas
  pyfastx gffutils "setuptools<81"`` (its CLI imports ``pkg_resources``), then a clone of
  tkzeng/Pangolin: ``pg/bin/pip install --no-deps ./Pangolin`` (its ``models/`` hold the
  weights; their sha256 equal ``../shared/weights/SHA256SUMS``), then ``--pangolin
  pg/bin/pangolin``.  The CLI runs in CSV mode (CHROM,POS,REF,ALT; this benchmark writes the
  CSV from each VCF): its VCF mode needs PyVCF, which does not install on Python >= 3.10.  Its
  ``pangolin.py`` still imports ``vcf`` at the top, so where that import fails the benchmark puts
  a stand-in ``vcf`` module (it only raises on use) on the CLI's PYTHONPATH; nothing of the CLI is
  changed.  Its annotation is a gffutils database built by the clone's ``scripts/create_db.py
  --filter None`` from ``custom_test.gtf.gz`` (as in reference_outputs/pangolin/README.md), and
  its FASTA index (pyfastx) is built once beforehand; both are timed apart, not in the ratios.
Weights for seqscore come from its exported models (``seqscore export NAME --from DIR``).

    nice -n 5 python benchmarks/bench_models.py [--openspliceai PATH] [--pangolin PATH]
        [--original-n 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
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
VCF_SHIM = '"""Stand-in for PyVCF: lets pangolin.py import; its CSV mode never uses it."""\n\n\n' \
           "def __getattr__(name):\n" \
           "    raise ImportError(f'vcf.{name}: PyVCF is not installed (stand-in module)')\n"


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

    name, key, suffix, sample_sparse = "openspliceai", "OpenSpliceAI", ".vcf", False

    def __init__(self, exe: str, plain_fasta: Path, genes: Path, weights: Path, threads: int):
        self.exe, self.fasta, self.genes, self.weights = exe, plain_fasta, genes, weights
        self.env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        self.ours = ["-A", str(genes), "-D", "50", "-M", "0"]

    def prepare(self, work: Path) -> str:
        return ""

    def run(self, vcf: Path, out: Path) -> float:
        return timed([self.exe, "variant", "-R", str(self.fasta), "-A", str(self.genes),
                      "-m", str(self.weights) + "/", "-f", "10000", "-t", "pytorch", "-D", "50",
                      "-M", "0", "-I", str(vcf), "-O", str(out)], env=self.env)

    def compare(self, ours: Path, theirs: Path, sampled: bool) -> str:
        rep = compare_vcfs(str(ours), str(theirs), key=self.key)
        if sampled:
            return f"{rep.equal} of the original's {rep.annotated_b} records identical"
        return f"{rep.equal}/{rep.strings} identical"


class Pangolin:
    """The Pangolin CLI (tkzeng/Pangolin 1.0.2) in CSV mode, its defaults (-d 50, -m True)."""

    name, key, suffix, sample_sparse = "pangolin", "Pangolin", ".csv", True

    def __init__(self, exe: str, plain_fasta: Path, gtf: Path, threads: int):
        self.exe, self.fasta, self.gtf = exe, plain_fasta, gtf
        self.python = Path(exe).parent / "python"
        self.env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        self.ours = ["-A", str(gtf), "--gtf-filter", "None"]
        self.db: Path | None = None

    def prepare(self, work: Path) -> str:
        script = Path(self.exe).parent / "create_db.py"
        if not script.is_file():
            sys.exit(f"{script} not found: install Pangolin's clone with pip (it installs "
                     "scripts/create_db.py beside the pangolin executable)")
        if subprocess.run([str(self.python), "-c", "import vcf"], capture_output=True).returncode:
            shim = work / "pangolin-shim"
            shim.mkdir()
            (shim / "vcf.py").write_text(VCF_SHIM)
            self.env["PYTHONPATH"] = str(shim)
        folder = work / "pangolin-db"
        folder.mkdir()
        gtf = folder / self.gtf.name
        shutil.copyfile(self.gtf, gtf)
        t_db = timed([str(self.python), str(script), str(gtf), "--filter", "None"], env=self.env)
        self.db = folder / (gtf.name.removesuffix(".gz").removesuffix(".gtf") + ".db")
        t_idx = timed([str(self.python), "-c", "import sys, pyfastx; pyfastx.Fasta(sys.argv[1])",
                       str(self.fasta)], env=self.env)
        return (f"pangolin: gffutils db (create_db.py {self.gtf.name} --filter None) {t_db:.1f} s,"
                f" pyfastx index of the FASTA {t_idx:.1f} s (both once, not in the ratios)")

    def run(self, vcf: Path, out: Path) -> float:
        rows = [(f[0], f[1], f[3], alt) for f in _records(vcf) for alt in f[4].split(",")]
        csv = out.with_suffix(".in.csv")
        csv.write_text("CHROM,POS,REF,ALT\n" + "".join(f"{','.join(r)}\n" for r in rows))
        t = timed([self.exe, str(csv), str(self.fasta), str(self.db), str(out.with_suffix(""))],
                  env=self.env)
        got = out.read_text().count("\n") - 1 if out.is_file() else -1
        if got != len(rows):
            sys.exit(f"{self.exe} wrote {got} of {len(rows)} rows to {out}; run it by hand: "
                     f"{self.exe} {csv} {self.fasta} {self.db} {out.with_suffix('')}")
        return t

    def compare(self, ours: Path, theirs: Path, sampled: bool) -> str:
        a, b = _pangolin_vcf(ours), _pangolin_csv(theirs)
        both = [k for k in b if a.get(k) and b[k]]
        same, diff, pos_diff = 0, 0.0, 0
        for k in both:
            ea, eb = a[k], b[k]
            same += ea == eb
            pos_diff += [e[:2] + e[3:4] + e[5:] for e in ea] != [e[:2] + e[3:4] + e[5:] for e in eb]
            for x, y in zip(ea, eb):
                if x[0] == y[0]:
                    diff = max(diff, abs(x[2] - y[2]), abs(x[4] - y[4]))
        only_a = sum(1 for k in b if a.get(k) and not b[k])
        only_b = sum(1 for k in b if b[k] and not a.get(k))
        return (f"{same}/{len(both)} scored records identical (max |diff| {diff:.2f}, "
                f"{pos_diff} with other gene/positions/warnings); scored only by seqscore "
                f"{only_a}, only by the original {only_b}")


def _records(vcf: Path) -> list[list[str]]:
    return [l.split("\t") for l in vcf.read_text().splitlines() if l and not l.startswith("#")]


def _pangolin_entries(text: str) -> list[tuple]:
    """``gene|gpos:gain|lpos:loss|Warnings:...`` per gene (comma-separated) as rounded tuples."""
    out = []
    for entry in filter(None, text.split(",")):
        gene, gain, loss, warn = entry.split("|", 3)
        (gp, gv), (lp, lv) = gain.split(":"), loss.split(":")
        out.append((gene, int(gp), round(float(gv), 2), int(lp), round(float(lv), 2), warn))
    return out


def _pangolin_vcf(path: Path) -> dict[tuple, list[tuple]]:
    out = {}
    for f in _records(path):
        info = dict(kv.split("=", 1) for kv in f[7].split(";") if "=" in kv)
        out[(f[0], f[1], f[3].upper(), f[4].upper())] = _pangolin_entries(info.get("Pangolin", ""))
    return out


def _pangolin_csv(path: Path) -> dict[tuple, list[tuple]]:
    out = {}
    for line in path.read_text().splitlines()[1:]:
        chrom, pos, ref, alt, scores = line.split(",", 4)
        out[(chrom, pos, ref.upper(), alt.upper())] = _pangolin_entries(scores)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--openspliceai", help="the original `openspliceai` executable")
    ap.add_argument("--pangolin", help="the original `pangolin` executable (CSV mode)")
    ap.add_argument("--pangolin-gtf", default=str(DATA / "custom_test.gtf.gz"),
                    help="GTF for both Pangolin runs (the original's db: create_db.py --filter None)")
    ap.add_argument("--weights", default=str(WEIGHTS))
    ap.add_argument("--original-n", type=int, default=30,
                    help="SNVs the original scores where it cannot score a whole set (spread "
                         "over the set)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads of the original (its reference runs used 1, faster "
                         "than 2 on this machine)")
    ap.add_argument("--seqscore", default=str(Path(sys.executable).parent / "seqscore"))
    ap.add_argument("--dense-every", type=int, default=1,
                    help="every N-th SNV of the dense stretch (1 = all 3,000; a shorter run)")
    ap.add_argument("--sets", default="sparse,dense", help="sparse, dense or both")
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
    if a.pangolin:
        tools.append(Pangolin(a.pangolin, plain, Path(a.pangolin_gtf), a.threads))
    if not tools:
        sys.exit("name at least one original: --openspliceai PATH, --pangolin PATH")
    dense = work / "dense.vcf"
    n_dense = dense_vcf(dense, fasta, every=a.dense_every)
    one = work / "one.vcf"
    spread(dense, one, 1)
    every = "" if a.dense_every == 1 else f" (every {a.dense_every})"
    sets = {"sparse: chr21 dbSNP SNVs": (DATA / "dbsnp_snvs.vcf", 132),
            f"dense: all SNVs of 21:{DENSE[1]:,}-{DENSE[2]:,}{every}": (dense, n_dense)}
    sets = {k: v for k, v in sets.items() if k.split(":")[0] in a.sets.split(",")}
    print("load average (1, 5, 15 min) at start: %.2f %.2f %.2f" % os.getloadavg())
    print(f"{'model / set':<48}{'n':>6}{'seqscore var/s':>16}{'original var/s':>16}{'ratio':>8}"
          "  outputs")
    for tool in tools:
        note = tool.prepare(work)
        if note:
            print(note, flush=True)
        t1 = None
        for label, (vcf, n) in sets.items():
            ours = work / f"{tool.name}.{vcf.stem}.seqscore.vcf"
            t_ours = timed([a.seqscore, "score", "-I", str(vcf), "-O", str(ours), "-R", str(fasta),
                            "--model", tool.name, *tool.ours, "-q", "--progress", "off"])
            rate_ours = n / t_ours
            theirs = work / f"{tool.name}.{vcf.stem}.original{tool.suffix}"
            sampled = vcf == dense or tool.sample_sparse
            if sampled:
                if t1 is None:
                    t1 = tool.run(one, work / f"{tool.name}.one.original{tool.suffix}")
                sample = work / f"{vcf.stem}.sample.vcf"
                n_sample = spread(vcf, sample, a.original_n)
                tn = tool.run(sample, theirs)
                rate_orig = (n_sample - 1) / max(tn - t1, 1e-9)
                how = f"steady rate on {n_sample} SNVs"
            else:
                rate_orig = n / tool.run(vcf, theirs)
                how = "whole command"
            shared = tool.compare(ours, theirs, sampled)
            print(f"{tool.name + ' / ' + label:<48}{n:>6}{rate_ours:>16.2f}{rate_orig:>16.3f}"
                  f"{rate_ours / rate_orig:>7.1f}x  {shared} (original: {how})", flush=True)
    print("load average (1, 5, 15 min) at end: %.2f %.2f %.2f" % os.getloadavg())
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
