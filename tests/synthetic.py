"""A small synthetic genome for fast tests: one random 3 kb contig ``chr1`` with a plus-strand
and an overlapping minus-strand gene, a SpliceAI-format gene table and the toy model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toy_models import build_toy_model

CONTIG_LEN = 3000
#: the header of a VCF over the synthetic genome (tests append their records)
VCF_HEADER = ("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=3000>\n"
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
GENES = (
    "#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
    "PLUS\tchr1\t+\t500\t2500\t500,1000,2000,\t700,1200,2500,\n"
    "MINUS\tchr1\t-\t1200\t2900\t1200,2600,\t1500,2900,\n"
)


def make_world(d: Path, seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    seq = "".join(rng.choice(list("ACGT"), CONTIG_LEN))
    (d / "ref.fa").write_text(
        ">chr1\n" + "\n".join(seq[i:i + 60] for i in range(0, len(seq), 60)) + "\n")
    (d / "genes.txt").write_text(GENES)
    model = build_toy_model(d / "toy.onnx", context=100)
    return {"dir": d, "seq": seq, "model": str(model), "ref": str(d / "ref.fa"),
            "genes": str(d / "genes.txt")}


def other_base(b: str) -> str:
    return "A" if b != "A" else "C"
