"""All possible SNVs of a region, scored and written as SpliceAI's precomputed VCF.

The output is what Illumina distributes as ``spliceai_scores.{raw,masked}.snv.*.vcf.gz`` and
VEP's SpliceAI plugin reads: one record per ALT, ``INFO SpliceAI=ALT|SYMBOL|DS…|DP…``, bgzipped
and tabix-indexed.  Dense SNVs share their REF tiles, so the tiled engine strategy is used.

The file and its ``.tbi`` are written under a temporary name and renamed together when both
are complete (see :mod:`output`); an interrupted run leaves neither, nor a stale index.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

from .engine import Engine
from .errors import ConfigError, InputFormatError, InputUnreadableError, OutputError
from .output import AtomicFile, check_not_input
from .records import Variant
from .kinds import info_format
from .kinds.splice import InfoFormat


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


def merge_regions(regions: list[Region]) -> list[Region]:
    """Overlapping or adjacent regions of a contig merged, sorted by (contig, start): each SNV
    is written once and in order (tabix needs sorted records)."""
    out: list[Region] = []
    for r in sorted(regions, key=lambda r: (r.contig, r.start, r.end)):
        last = out[-1] if out else None
        if last is not None and last.contig == r.contig and r.start <= last.end:
            out[-1] = Region(r.contig, last.start, max(last.end, r.end))
        else:
            out.append(r)
    return out


def read_bed(path: str | os.PathLike) -> list[Region]:
    """Regions of a BED file, plain or gzip/bgzip (told by content)."""
    try:
        with open(path, "rb") as raw:
            fh = gzip.GzipFile(fileobj=raw) if raw.peek(2)[:2] == b"\x1f\x8b" else raw
            return _read_bed(path, fh)
    except UnicodeDecodeError as exc:
        raise InputFormatError(f"{path}: not a text BED file ({exc.reason}); a BED file is "
                               "plain text, or text compressed with gzip/bgzip") from None
    except EOFError:
        raise InputFormatError(f"{path}: the compressed data ends early: the file is "
                               "truncated (re-create it)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise InputFormatError(f"{path}: corrupt gzip data ({exc}); re-create the file") \
            from None
    except IsADirectoryError:
        raise InputUnreadableError(f"BED file {path} is a directory") from None
    except FileNotFoundError:
        raise InputUnreadableError(f"BED file {path} does not exist") from None
    except OSError as exc:
        raise InputUnreadableError(f"cannot read the BED file {path}: "
                                   f"{exc.strerror or exc}") from None


def _read_bed(path: str | os.PathLike, fh) -> list[Region]:
    out = []
    for lineno, raw in enumerate(fh, start=1):
        line = raw.decode().rstrip("\r\n")
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        f = line.split("\t")
        if len(f) < 3:
            raise InputFormatError(f"{path}: line {lineno}: a BED line needs 3 tab-separated "
                                   f"columns (chrom, start, end), found {len(f)}")
        try:
            start, end = int(f[1]), int(f[2])
        except ValueError:
            raise InputFormatError(f"{path}: line {lineno}: start/end are not integers "
                                   f"({f[1][:20]!r}, {f[2][:20]!r})") from None
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


def check_output(out_path: str, reference: str, annotation: str,
                 inputs: Mapping[str, str | None] | None = None) -> None:
    """The output must be a ``.gz`` name and neither it nor its ``.tbi`` an input."""
    if not out_path.endswith(".gz"):
        raise ConfigError(f"output {out_path!r} must end in .gz (bgzipped, tabix-indexed)")
    check_not_input(out_path, {"reference": reference, "reference index": reference + ".fai",
                               "reference .gzi index": reference + ".gzi",
                               "gene table": annotation, **(inputs or {})},
                    suffixes=(".tbi",))


def precompute(engine: Engine, regions: list[Region], out_path: str, *,
               chunk: int = 3000, on_progress: Callable[[int], None] | None = None,
               inputs: Mapping[str, str | None] | None = None) -> dict:
    """Score every SNV of ``regions`` and write a bgzipped, tabix-indexed VCF to ``out_path``.

    ``out_path`` (and its ``.tbi``) may not be the reference, the gene table or any of
    ``inputs`` (``{what: path}``)."""
    import pysam  # noqa: PLC0415

    check_output(out_path, engine.config.reference, engine.config.annotation, inputs)
    regions = merge_regions(regions)
    prov = engine.provenance()
    fmt = info_format(engine.session.spec.scorer)
    contigs = []
    for r in regions:
        if r.contig not in contigs:
            contigs.append(r.contig)
    header = ["##fileformat=VCFv4.2",
              *(f"##contig=<ID={c},length={engine.genome.length(engine.genome.resolve(c))}>"
                for c in contigs),
              fmt.header,
              f"##hail_seqscore_model={prov['model']} {prov['model_version']} "
              f"sha256={prov['model_sha256']}",
              f"##hail_seqscore_annotation={prov['annotation']} sha256={prov['annotation_sha256']}",
              f"##hail_seqscore_parameters=distance={prov['distance']} mask={int(prov['mask'])}",
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    stats = {"snvs": 0, "written": 0, "errors": 0}

    def index(path: str) -> None:
        try:
            pysam.tabix_index(path, preset="vcf", force=True, index=path + ".tbi")
        except (OSError, ValueError) as exc:
            raise OutputError(f"cannot index {out_path}: {exc}") from None

    with AtomicFile(out_path, bgzip=True, companions=(".tbi",), what="output") as out:
        out.write(("\n".join(header) + "\n").encode())
        for region in regions:
            batch: list[Variant] = []
            for v in region_snvs(engine, region):
                batch.append(v)
                if len(batch) >= chunk:
                    _write(engine, batch, out, stats, on_progress, fmt)
                    batch = []
            if batch:
                _write(engine, batch, out, stats, on_progress, fmt)
        out.commit(index=index)
    return stats


def _write(engine: Engine, batch: list[Variant], out, stats: dict, on_progress,
           fmt: InfoFormat) -> None:
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
                     f"{fmt.key}={','.join(fmt.entries(v.alt, r))}\n")
        stats["written"] += 1
    out.write("".join(lines).encode())
    if on_progress:
        on_progress(len(batch))
