"""Hail path vs in-process engine: variants/s of ``score_table`` against ``Engine.score``.

    .venv/bin/python benchmarks/bench_hail.py --model toy --n 100000 1000000
    .venv/bin/python benchmarks/bench_hail.py --model spliceai --n 2000

Variants: SNVs and 1-bp insertions at consecutive positions of the gene bodies of the shared
GRCh38 chr21 region, written as a VCF and imported into a Hail table beforehand (not timed).
Timed for Hail: ``score_table(...)`` and writing the scored table (so everything runs);
timed for the engine: ``Engine.score`` over the same variants in this process, in chunks.
Both get the same cores (``--master local[N]`` vs onnxruntime's default threads).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from hail_seqscore.engine import Engine, EngineConfig  # noqa: E402
from hail_seqscore.genome import Genome  # noqa: E402
from hail_seqscore.records import Variant  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "grch38_chr21"
# gene bodies (1-based, inclusive) inside the covered sequence (24,985,581–26,023,859):
# MRPL39, JAM2, ATP5J + GABPA, APP (part)
GENE_SPANS = [(25_585_700, 25_607_500), (25_639_300, 25_717_500), (25_724_500, 25_772_400),
              (25_880_600, 26_023_000)]


def make_variants(genome: Genome, n: int) -> list[Variant]:
    """SNVs (3 per position) and a 1-bp insertion per position, walking the gene bodies of
    the covered region (so every variant is scored against a gene)."""
    out = []
    for start, end in GENE_SPANS:
        seq = genome.fetch("21", start - 1, end)
        for i, ref in enumerate(seq):
            if ref not in "ACGT":
                continue
            pos = start + i
            for alt in [b for b in "ACGT" if b != ref] + [ref + "A"]:
                out.append(Variant("chr21", pos, ref, alt))
                if len(out) == n:
                    return out
    return out


def write_vcf(variants: list[Variant], path: Path) -> None:
    with open(path, "w") as f:
        f.write("##fileformat=VCFv4.2\n##contig=<ID=chr21,length=46709983>\n"
                "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for v in variants:
            f.write(f"{v.contig}\t{v.pos}\t.\t{v.ref}\t{v.alt}\t.\t.\t.\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="toy", help="toy (built here), spliceai or an .onnx path")
    ap.add_argument("--n", type=int, nargs="+", default=[100_000])
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--skip-engine", action="store_true")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_hail_"))
    model = a.model
    if model == "toy":
        from toy_models import build_toy_model

        model = str(build_toy_model(tmp / "toy.onnx"))
    cfg = dict(model=model, reference=str(DATA / "chr21.fa.gz"),
               annotation=str(DATA / "genes.grch38.spliceai.txt"), distance=50, mask=False)

    os.environ["PYSPARK_PYTHON"] = sys.executable
    import hail as hl

    from hail_seqscore import score_table

    hl.init(master=a.master, quiet=True, tmp_dir=str(tmp / "hail"), log=str(tmp / "hail.log"),
            spark_conf={"spark.ui.enabled": "false", "spark.driver.memory": "4g"})
    genome = Genome(cfg["reference"])
    for n in a.n:
        variants = make_variants(genome, n)
        vcf = tmp / f"v{n}.vcf"
        write_vcf(variants, vcf)
        ht = hl.import_vcf(str(vcf), reference_genome="GRCh38").rows().select()
        ht = ht.checkpoint(str(tmp / f"v{n}.ht"))
        # warm-up: JVM code generation, worker start, model load
        score_table(ht.head(100), **cfg).write(str(tmp / f"w{n}.ht"), overwrite=True)
        t = time.perf_counter()
        score_table(ht, **cfg).write(str(tmp / f"s{n}.ht"), overwrite=True)
        t_hail = time.perf_counter() - t
        t_engine = None
        if not a.skip_engine:
            eng = Engine(EngineConfig(**cfg))
            eng.score(variants[:100])
            t = time.perf_counter()
            for i in range(0, len(variants), 4096):
                eng.score(variants[i:i + 4096])
            t_engine = time.perf_counter() - t
        print(json.dumps({
            "model": a.model, "variants": len(variants), "master": a.master,
            "hail_s": round(t_hail, 2), "hail_variants_per_s": round(len(variants) / t_hail),
            "engine_s": t_engine and round(t_engine, 2),
            "engine_variants_per_s": t_engine and round(len(variants) / t_engine),
            "hail_overhead_pct": t_engine and round(100 * (t_hail / t_engine - 1), 1),
        }), flush=True)
    hl.stop()


if __name__ == "__main__":
    main()
