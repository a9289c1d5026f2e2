"""The shared real chr21 data the benchmarks read (``../shared/data/grch38_chr21``)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hail_seqscore.records import Variant  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "grch38_chr21"


def read_vcf(path: Path) -> list[Variant]:
    """Every ALT allele of a plain-text VCF as a Variant."""
    out = []
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            f = line.split("\t")
            out += [Variant(f[0], int(f[1]), f[3], a) for a in f[4].split(",")]
    return out
