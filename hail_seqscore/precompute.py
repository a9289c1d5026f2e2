"""Every SNV (and optionally every small indel) of a region, scored and written as SpliceAI's
precomputed files.

The output is what Illumina distributes as ``spliceai_scores.{raw,masked}.{snv,indel}.*.vcf.gz``
and VEP's SpliceAI plugin (``SpliceAI.pm``) reads: **one record per ALT and gene**
(``INFO SpliceAI=ALT|SYMBOL|DS…|DP…``, a gene that overlaps another gets a record of its own at the
same position and ALT), bgzipped and tabix-indexed.  SpliceAI.pm looks a variant up by tabix
position, keeps records whose POS, REF and ALT equal the variant's, splits each INFO at the first
two ``|`` into allele, gene and the rest, and keys them by gene: two genes joined in one record
would be read as one gene with a garbled value, so they are never joined here.

The indel file holds what Illumina's does: at every base of the region, the four 1-base insertions
after it (``A`` → ``AA``, ``AC``, ``AG``, ``AT``) and the deletions of the next 1–4 bases
(``ACGTA`` → ``A``), VCF style with the base before as anchor; bases that are not A/C/G/T are
skipped (as anchors and as deleted bases).  SNVs and indels of a stretch are scored in one engine
call, so they share the REF tiles, and each ALT is computed only inside its cone where the split
graphs exist (``--strategy auto``).

Each file and its ``.tbi`` are written under temporary names and renamed together when both are
complete (see :mod:`output`); an interrupted run leaves neither, nor a stale index.
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import os
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping

from . import __version__
from .engine import Engine
from .errors import ConfigError, InputFormatError, InputUnreadableError, OutputError
from .output import AtomicFile, check_not_input
from .records import ScoreResult, Variant
from .kinds import info_format

BASES = "ACGT"
#: longest deletion of the indel file (Illumina's: 1–4 bases)
MAX_DELETION = 4
#: variants per engine call: SNVs and indels of ``CHUNK // (3 or 8 or 11)`` bases.  Each call plans
#: one REF tile (about 45 GFLOP for SpliceAI's five members, 1% of 300 incremental ALTs) and
#: reports progress (every ~30 s at 10 variants/s)
CHUNK = 300


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


def position_alleles(seq: str, i: int, snvs: bool = True,
                     indels: bool = False) -> list[tuple[str, str]]:
    """(REF, ALT) of every variant anchored at ``seq[i]``: its three SNVs, then the four 1-base
    insertions after it, then the deletions of the next 1–4 bases (as far as ``seq`` holds A/C/G/T
    bases).  Nothing for a base that is not A/C/G/T."""
    ref = seq[i]
    if ref not in BASES:
        return []
    out = [(ref, alt) for alt in BASES if alt != ref] if snvs else []
    if indels:
        out += [(ref, ref + b) for b in BASES]
        for k in range(1, MAX_DELETION + 1):
            deleted = seq[i + 1:i + 1 + k]
            if len(deleted) < k or deleted[-1] not in BASES:
                break
            out.append((ref + deleted, ref))
    return out


def _sequences(engine: Engine, region: Region, step: int,
               indels: bool) -> Iterator[tuple[int, int, str]]:
    """(start, end, sequence) of the region's stretches of ``step`` bases (0-based, end
    exclusive); with ``indels`` the sequence runs on by up to MAX_DELETION bases."""
    genome = engine.genome
    contig = genome.resolve(region.contig)
    clen = genome.length(contig)
    end = min(region.end, clen)
    for a in range(region.start, end, step):
        b = min(a + step, end)
        yield a, b, genome.fetch(contig, a, min(b + MAX_DELETION, clen) if indels else b)


def _per_base(snvs: bool, indels: bool) -> int:
    return (3 if snvs else 0) + (8 if indels else 0)


def _stretches(engine: Engine, region: Region, chunk: int, snvs: bool,
               indels: bool) -> Iterator[list[Variant]]:
    """The region's variants, about ``chunk`` at a time, in position order."""
    step = max(1, chunk // _per_base(snvs, indels))
    for a, b, seq in _sequences(engine, region, step, indels):
        yield [Variant(region.contig, a + i + 1, ref, alt) for i in range(b - a)
               for ref, alt in position_alleles(seq, i, snvs, indels)]


def region_snvs(engine: Engine, region: Region) -> Iterator[Variant]:
    """Every SNV of the region: three ALTs per A/C/G/T base (other bases are skipped)."""
    for stretch in _stretches(engine, region, CHUNK, True, False):
        yield from stretch


def region_indels(engine: Engine, region: Region) -> Iterator[Variant]:
    """Every 1-base insertion and 1–4-base deletion anchored at a base of the region."""
    for stretch in _stretches(engine, region, CHUNK, False, True):
        yield from stretch


def count_variants(engine: Engine, regions: list[Region], snvs: bool = True,
                   indels: bool = False) -> int:
    """How many variants :func:`precompute` scores for ``regions`` (for progress and ETA)."""
    return sum(len(position_alleles(seq, i, snvs, indels))
               for r in merge_regions(regions)
               for a, b, seq in _sequences(engine, r, 100_000, indels) for i in range(b - a))


def check_output(out_path: str, reference: str, annotation: str,
                 inputs: Mapping[str, str | None] | None = None) -> None:
    """The output must be a ``.gz`` name and neither it nor its ``.tbi`` an input."""
    if not out_path.endswith(".gz"):
        raise ConfigError(f"output {out_path!r} must end in .gz (bgzipped, tabix-indexed)")
    check_not_input(out_path, {"reference": reference, "reference index": reference + ".fai",
                               "reference .gzi index": reference + ".gzi",
                               "gene table": annotation, **(inputs or {})},
                    suffixes=(".tbi",))


def check_outputs(snv_path: str | None, indel_path: str | None, reference: str,
                  annotation: str, inputs: Mapping[str, str | None] | None = None) -> None:
    """Both outputs checked as :func:`check_output`; they may not name the same file."""
    paths = [p for p in (snv_path, indel_path) if p]
    if not paths:
        raise ConfigError("nothing to write: give -O FILE for the SNVs and/or --indels FILE "
                          "for the insertions and deletions")
    for p in paths:
        check_output(p, reference, annotation, inputs)
    if len(paths) == 2 and os.path.realpath(paths[0]) == os.path.realpath(paths[1]):
        raise ConfigError(f"-O and --indels name the same file ({indel_path}); the SNVs and "
                          "the indels go to two files, as Illumina's do")


@dataclass
class PrecomputeStats:
    """What :func:`precompute` did."""

    snvs: int = 0             # SNVs scored (or tried)
    indels: int = 0           # insertions and deletions scored (or tried)
    in_genes: int = 0         # variants written: scored against at least one gene
    records: int = 0          # lines written: one per ALT and gene
    errors: Counter = field(default_factory=Counter)   # error code -> variants not scored

    @property
    def variants(self) -> int:
        return self.snvs + self.indels


def header_lines(engine: Engine, regions: list[Region], what: str) -> list[str]:
    """The VCF header of a precomputed file (Illumina's conventions, plus our provenance)."""
    prov = engine.provenance()
    fmt = info_format(engine.session.spec.scorer)
    contigs = list(dict.fromkeys(r.contig for r in regions))
    genome = engine.genome
    return ["##fileformat=VCFv4.2",
            f"##fileDate={datetime.date.today():%Y%m%d}",
            f"##reference=file://{os.path.abspath(engine.config.reference)}",
            *(f"##contig=<ID={c},length={genome.length(genome.resolve(c))}>" for c in contigs),
            fmt.header,
            f"##source=hail-seqscore {__version__} precompute ({what})",
            f"##hail_seqscore_model={prov['model']} {prov['model_version']} "
            f"sha256={prov['model_sha256']}",
            f"##hail_seqscore_annotation={prov['annotation']} sha256={prov['annotation_sha256']}",
            f"##hail_seqscore_parameters=distance={prov['distance']} mask={int(prov['mask'])}",
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]


SNV_CONTENT = "every SNV of the regions: 3 ALTs per base"
INDEL_CONTENT = (f"indels of the regions: at every base the 4 one-base insertions after it and "
                 f"the deletions of the next 1-{MAX_DELETION} bases")


def precompute(engine: Engine, regions: list[Region], out_path: str | None, *,
               indels_path: str | None = None, chunk: int = CHUNK,
               on_progress: Callable[[int], None] | None = None,
               inputs: Mapping[str, str | None] | None = None) -> PrecomputeStats:
    """Score every SNV of ``regions`` into ``out_path`` and, with ``indels_path``, every
    1-base insertion and 1–4-base deletion into that file; both bgzipped VCFs with a ``.tbi``,
    one record per ALT and gene (bases outside genes are not written).  Either path may be None
    (not written).  ``on_progress(n)`` is called after every ``chunk`` or so variants.

    Neither output (nor its ``.tbi``) may be the reference, the gene table or any of
    ``inputs`` (``{what: path}``), and the two may not be one file."""
    import pysam  # noqa: PLC0415

    check_outputs(out_path, indels_path, engine.config.reference, engine.config.annotation,
                  inputs)
    regions = merge_regions(regions)
    fmt = info_format(engine.session.spec.scorer)
    stats = PrecomputeStats()

    def indexer(final: str) -> Callable[[str], None]:
        def index(path: str) -> None:
            try:
                pysam.tabix_index(path, preset="vcf", force=True, index=path + ".tbi")
            except (OSError, ValueError) as exc:
                raise OutputError(f"cannot index {final}: {exc}") from None
        return index

    with contextlib.ExitStack() as stack:
        outs: dict[bool, AtomicFile] = {}     # is_indel -> file
        for is_indel, path, what in ((False, out_path, SNV_CONTENT),
                                     (True, indels_path, INDEL_CONTENT)):
            if path:
                f = stack.enter_context(AtomicFile(path, bgzip=True, companions=(".tbi",),
                                                   what="indel output" if is_indel else "output"))
                f.write(("\n".join(header_lines(engine, regions, what)) + "\n").encode())
                outs[is_indel] = f
        for region in regions:
            for stretch in _stretches(engine, region, chunk, snvs=bool(out_path),
                                      indels=bool(indels_path)):
                lines: dict[bool, list[str]] = {False: [], True: []}
                for r in engine.score(stretch):
                    _record(r, fmt, stats, lines)
                for is_indel, f in outs.items():
                    f.write("".join(lines[is_indel]).encode())
                if on_progress:
                    on_progress(len(stretch))
        for is_indel, path in ((False, out_path), (True, indels_path)):
            if path:
                outs[is_indel].commit(index=indexer(path))
    return stats


def _record(r: ScoreResult, fmt, stats: PrecomputeStats, lines: dict[bool, list[str]]) -> None:
    """Count one result and add its lines (one per gene) to ``lines[is_indel]``."""
    v = r.variant
    is_indel = len(v.ref) != len(v.alt)
    if is_indel:
        stats.indels += 1
    else:
        stats.snvs += 1
    if r.error is not None:
        stats.errors[r.error.code] += 1
        return
    entries = fmt.entries(v.alt, r)
    if not entries:
        return
    stats.in_genes += 1
    stats.records += len(entries)
    lines[is_indel] += [f"{v.contig}\t{v.pos}\t.\t{v.ref}\t{v.alt}\t.\t.\t{fmt.key}={e}\n"
                        for e in entries]
