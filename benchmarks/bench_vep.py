"""VEP throughput with the SeqScore plugin: batched (one HTTP request per input buffer) against
per-variant requests (batch=1), and VEP without the plugin as the floor.

Starts its own `seqscore serve` on 127.0.0.1 (the toy model by default, so the figures measure
the plumbing rather than the network), runs real VEP in --gtf/--fasta mode on the shared chr21
data and reads the plugin's own summary line for the number of HTTP requests.

    VEP_DIR=/path/to/ensembl-vep .venv/bin/python benchmarks/bench_vep.py \
        [--synthetic 2000] [--model toy|spliceai|PATH] [--repeats 3] [--fork N] [--daemon-cache N]

VEP_DIR holds the `vep` script; the Ensembl API must be on PERL5LIB or in VEP_DIR/modules and
sibling ensembl*/modules folders.
"""

from __future__ import annotations

import argparse
import glob
import http.client
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHR21 = ROOT.parent / "shared" / "data" / "grch38_chr21"
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"seqscore serve exited early:\n{log.read_text()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v1/ready")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    proc.terminate()
    sys.exit(f"seqscore serve not ready after {timeout}s:\n{log.read_text()}")


def synthetic_snvs(n: int, out: Path, seed: int = 0) -> int:
    """n random SNVs within the genes of the chr21 table, REF from the FASTA."""
    import pyfaidx

    genes = [line.split("\t") for line in (CHR21 / "genes.grch38.spliceai.txt").read_text().splitlines()
             if not line.startswith("#")]
    fa = pyfaidx.Fasta(str(CHR21 / "chr21.fa.gz"))
    rng = random.Random(seed)
    recs = set()
    while len(recs) < n:
        g = rng.choice(genes)
        pos = rng.randint(int(g[3]) + 1, int(g[4]))
        ref = str(fa["21"][pos - 1]).upper()
        if ref not in "ACGT":
            continue
        recs.add((pos, ref, rng.choice([b for b in "ACGT" if b != ref])))
    with out.open("w") as fh:
        fh.write("##fileformat=VCFv4.2\n##contig=<ID=21>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for pos, ref, alt in sorted(recs):
            fh.write(f"21\t{pos}\tsyn{pos}{alt}\t{ref}\t{alt}\t.\t.\t.\n")
    return n


def merged_input(out: Path, synthetic: int) -> int:
    """The shared chr21 VCFs (dbSNP SNVs + indels), plus synthetic SNVs; returns the record count."""
    lines = []
    for name in ("dbsnp_snvs.vcf", "indels.vcf"):
        lines += [l for l in (CHR21 / name).read_text().splitlines() if l and not l.startswith("#")]
    if synthetic:
        syn = out.with_suffix(".syn.vcf")
        synthetic_snvs(synthetic, syn)
        lines += [l for l in syn.read_text().splitlines() if l and not l.startswith("#")]
    lines.sort(key=lambda l: int(l.split("\t")[1]))
    with out.open("w") as fh:
        fh.write("##fileformat=VCFv4.2\n##contig=<ID=21>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        fh.write("\n".join(lines) + "\n")
    return len(lines)


def run_vep(vep_dir: Path, vcf: Path, out: Path, plugin: str | None, fork: int) -> tuple[float, str]:
    cmd = ["perl", str(vep_dir / "vep"), "--gtf", str(CHR21 / "custom_test.gtf.gz"),
           "--fasta", str(CHR21 / "chr21.fa.gz"), "-i", str(vcf), "-o", str(out), "--symbol",
           "--no_stats", "--force_overwrite", "--safe", "--dir_plugins", str(ROOT / "vep_plugin")]
    if fork > 1:
        cmd += ["--fork", str(fork)]
    if plugin:
        cmd += ["--plugin", plugin]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"vep failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return took, p.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="toy", help="toy (tests/toy_models.py), a model name, or an .onnx path")
    ap.add_argument("--synthetic", type=int, default=2000, help="random genic SNVs added to the shared VCFs")
    ap.add_argument("--repeats", type=int, default=3, help="runs per setting; the best is reported")
    ap.add_argument("--daemon-cache", type=int, default=0,
                    help="the daemon's result cache (default 0 = off, so every run scores afresh)")
    ap.add_argument("--fork", type=int, default=0, help="VEP --fork N (the plugin's request count is then not printed)")
    a = ap.parse_args()

    vep_dir = Path(os.environ.get("VEP_DIR", ""))
    if not (vep_dir / "vep").is_file():
        sys.exit("set VEP_DIR to the folder holding the `vep` script")
    if not CHR21.is_dir():
        sys.exit(f"shared data not found at {CHR21}")
    libs = [str(vep_dir), str(vep_dir / "modules")] + sorted(glob.glob(str(vep_dir.parent / "ensembl*" / "modules")))
    os.environ["PERL5LIB"] = ":".join([l for l in libs if os.path.isdir(l)] + [os.environ.get("PERL5LIB", "")])

    tmp = Path(tempfile.mkdtemp(prefix="bench_vep_"))
    model = a.model
    if model == "toy":
        from tests.toy_models import build_toy_model
        model = str(build_toy_model(tmp / "toy.onnx"))
    vcf = tmp / "input.vcf"
    n = merged_input(vcf, a.synthetic)
    port = free_port()
    log = tmp / "daemon.log"
    seqscore = shutil.which("seqscore") or str(Path(sys.executable).parent / "seqscore")
    daemon = subprocess.Popen([seqscore, "serve", "--model", model, "-R", str(CHR21 / "chr21.fa.gz"),
                               "-A", str(CHR21 / "genes.grch38.spliceai.txt"), "--host", "127.0.0.1",
                               "--port", str(port), "--cache-size", str(a.daemon_cache)],
                              stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_ready(port, daemon, log)
        url = f"http://127.0.0.1:{port}"
        settings = [("VEP alone", None), ("plugin, batched (batch=500)", f"SeqScore,url={url}"),
                    ("plugin, per-variant (batch=1)", f"SeqScore,url={url},batch=1")]
        rows = []
        for label, plugin in settings:
            best, summary = None, ""
            for _ in range(a.repeats):
                took, err = run_vep(vep_dir, vcf, tmp / "out.txt", plugin, a.fork)
                if best is None or took < best:
                    best = took
                    m = re.search(r"SeqScore: (\d+) alleles scored in (\d+) HTTP requests", err)
                    summary = f"{m.group(2)} requests / {m.group(1)} alleles" if m else ("-" if not plugin else "n/a")
            rows.append((label, best, n / best, summary))
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:   # still draining a long request
            daemon.kill()
            daemon.wait()

    print(f"VEP {vep_dir.name} --gtf/--fasta on shared chr21 ({n} records: dbSNP SNVs + indels + "
          f"{a.synthetic} synthetic SNVs), model {a.model}, fork {a.fork or 'off'}, best of {a.repeats}")
    print("| setting | wall s | variants/s | HTTP requests |")
    print("|---|---:|---:|---|")
    for label, took, rate, summary in rows:
        print(f"| {label} | {took:.2f} | {rate:.0f} | {summary} |")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
