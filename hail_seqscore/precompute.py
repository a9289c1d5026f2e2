"""All possible SNVs of a region, scored and written as SpliceAI's precomputed VCF.

The output is what Illumina distributes as ``spliceai_scores.{raw,masked}.snv.*.vcf.gz`` and
VEP's SpliceAI plugin reads: one record per ALT, ``INFO SpliceAI=ALT|SYMBOL|DS…|DP…``, bgzipped
and tabix-indexed.  Dense SNVs share their REF tiles, so the tiled engine strategy is used.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .engine import Engine
from .errors import InputFormatError
from .records import Variant
from .vcf import SPLICEAI_HEADER, format_info


@dataclass(frozen=True)
class Region:
    contig: str
    start: int    # 0-based
    end: int      # exclusive

    def __str__(self) -> str:
        return f"{self.contig}:{self.start + 1}-{self.end}"


def parse_region(text: str) -> Region:
    """``chr:start-end`` (1-based, inclusive, commas allowed) → :class:`Region`."""
    m = re.fullmatch(r"\s*([^:\s]+):([\d,]+)-([\d,]+)\s*", text)
    if not m:
        raise InputFormatError(f"region {text!r}: expected CHROM:START-END (1-based, inclusive)")
    start, end = int(m.group(2).replace(",", "")), int(m.group(3).replace(",", ""))
    if start < 1 or end < start:
        raise InputFormatError(f"region {text!r}: START must be >= 1 and <= END")
    return Region(m.group(1), start - 1, end)


def read_bed(path: str | os.PathLike) -> list[Region]:
    out = []
    with open(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            f = line.split("\t")
            if len(f) < 3:
                raise InputFormatError(f"{path}: line {lineno}: a BED line needs 3 columns")
            try:
                start, end = int(f[1]), int(f[2])
            except ValueError:
                raise InputFormatError(f"{path}: line {lineno}: start/end are not integers") \
                    from None
            if start < 0 or end <= start:
                raise InputFormatError(f"{path}: line {lineno}: need 0 <= start < end")
            out.append(Region(f[0], start, end))
    return out


def region_snvs(engine: Engine, region: Region) -> Iterator[Variant]:
    """Every SNV of the region: three ALTs per A/C/G/T base (N bases are skipped)."""
    genome = engine.genome
    contig = genome.resolve(region.contig)
    end = min(region.end, genome.length(contig))
    seq = genome.fetch(contig, region.start, end)
    for i, ref in enumerate(seq):
        if ref not in "ACGT":
            continue
        for alt in "ACGT":
            if alt != ref:
                yield Variant(region.contig, region.start + i + 1, ref, alt)


def precompute(engine: Engine, regions: list[Region], out_path: str, *,
               chunk: int = 3000, on_progress: Callable[[int], None] | None = None) -> dict:
    """Score every SNV of ``regions`` and write a bgzipped, tabix-indexed VCF to ``out_path``."""
    import pysam  # noqa: PLC0415

    if not out_path.endswith(".gz"):
        raise InputFormatError(f"output {out_path!r} must end in .gz (bgzipped, tabix-indexed)")
    regions = sorted(regions, key=lambda r: (r.contig, r.start))
    prov = engine.provenance()
    contigs = []
    for r in regions:
        if r.contig not in contigs:
            contigs.append(r.contig)
    header = ["##fileformat=VCFv4.2",
              *(f"##contig=<ID={c},length={engine.genome.length(engine.genome.resolve(c))}>"
                for c in contigs),
              SPLICEAI_HEADER,
              f"##hail_seqscore_model={prov['model']} {prov['model_version']} "
              f"sha256={prov['model_sha256']}",
              f"##hail_seqscore_annotation={prov['annotation']} sha256={prov['annotation_sha256']}",
              f"##hail_seqscore_parameters=distance={prov['distance']} mask={int(prov['mask'])}",
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    tmp = Path(out_path + ".part")
    stats = {"snvs": 0, "written": 0, "errors": 0}
    with pysam.BGZFile(str(tmp), "wb") as out:
        out.write(("\n".join(header) + "\n").encode())
        for region in regions:
            batch: list[Variant] = []
            for v in region_snvs(engine, region):
                batch.append(v)
                if len(batch) >= chunk:
                    _write(engine, batch, out, stats, on_progress)
                    batch = []
            if batch:
                _write(engine, batch, out, stats, on_progress)
    os.replace(tmp, out_path)
    pysam.tabix_index(out_path, preset="vcf", force=True)
    return stats


def _write(engine: Engine, batch: list[Variant], out, stats: dict, on_progress) -> None:
    lines = []
    for r in engine.score(batch):
        stats["snvs"] += 1
        if r.error is not None:
            stats["errors"] += 1
            continue
        if not r.scores:
            continue
        v = r.variant
        lines.append(f"{v.contig}\t{v.pos}\t.\t{v.ref}\t{v.alt}\t.\t.\t"
                     f"SpliceAI={','.join(format_info(v.alt, r))}\n")
        stats["written"] += 1
    out.write("".join(lines).encode())
    if on_progress:
        on_progress(len(batch))
