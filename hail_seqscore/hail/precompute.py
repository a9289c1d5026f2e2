"""Every SNV of a list of regions scored across Spark executors: a Hail table and, optionally,
bgzipped, tabix-indexed VCF shards in SpliceAI's precomputed format.

    ht = hail_seqscore.precompute_table(["17:43044295-43125483"], reference="GRCh38.fa",
                                        annotation="grch38", output="brca1.ht",
                                        vcf_dir="brca1_shards")

The driver merges the regions (each base once, as ``seqscore precompute`` does), splits them into
chunks of at most ``chunk_bp`` bases and deals runs of consecutive chunks to Spark partitions so
that each partition holds about the same number of bases.  A partition runs one
:class:`~hail_seqscore.engine.Engine` (one per Python worker, reused) over its chunks in order:
inside a chunk the SNVs share their REF tiles exactly as in ``seqscore precompute``, whose record
logic (:mod:`hail_seqscore.precompute`) is used unchanged.  Each partition writes its records as
one shard (``part-NNNNN.vcf.gz`` + ``.tbi``, the same header, one record per ALT and gene, bases
outside genes not written); the shards are sorted and do not overlap, so concatenating their
records in name order gives the whole file (contigs in the reference genome's order).  A rerun task (a lost executor) rewrites its shard
under a temporary name and renames it: the shard is whole or absent.  The scored rows are
staged as Parquet in Hail's tmp_dir (:func:`hail_seqscore.hail.spark.stage`: only a task's
successful attempt counts, and no executor lost later rescores), then written as the table.

The Hail table has one row per SNV, keyed by ``locus``/``alleles`` (``[REF, ALT]``), with the
fields of ``score_table``'s result and its provenance as the ``provenance`` global: it is a
:class:`~hail_seqscore.ScoreCache`, so ``score_table(mt, cache=ScoreCache(output))`` looks these
variants up instead of scoring them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Iterable, Sequence

import hail as hl

from ..annotation import load_annotation
from ..engine import Engine, EngineConfig
from ..errors import ConfigError, InputFormatError
from ..genome import contig_aliases
from ..kinds import RESULT_RECORDS, info_format
from ..precompute import (CHUNK, SNV_CONTENT, PrecomputeStats, Region, _record, _stretches,
                          count_variants, header_lines, merge_regions, parse_region, read_bed)
from .files import is_uri
from .schema import result_rows
from .spark import stage, unstage
from .table import worker_settings
from .worker import (PathSet, WorkerCounts, arrow_schema, engine_files, record_fields,
                     summarise, worker_engine)

log = logging.getLogger(__name__)

#: bases per chunk (the unit of work): 2,000 bases are 6,000 SNVs, about 10 min on one core
#: with SpliceAI in a dense stretch (10.5 variants/s on 2 cores, benchmarks/README.md)
CHUNK_BP = 2_000
#: default partitions per Spark core: runs of chunks small enough that the last tasks do not
#: leave cores idle for long, few enough that the shards stay large
PARTITIONS_PER_CORE = 8
#: exon flank of ``genes=`` (as the regions of Illumina's exome files: exons ± 50 bp)
FLANK = 50


@dataclass
class PrecomputeTableStats(WorkerCounts):
    """Filled by ``precompute_table(..., stats=...)``: ``variants`` planned on the driver,
    ``chunks`` and ``partitions`` made of them; ``scored`` (a Spark accumulator) counts the
    SNVs the workers scored — equal to ``variants`` when each was scored once; ``opened``
    the (``model``/``reference``/``annotation``, path) pairs the workers' engines read."""

    variants: int = 0
    chunks: int = 0
    partitions: int = 0
    shards: list | None = None


def gene_regions(annotation: str, genes: Iterable[str], flank: int = FLANK) -> list[Region]:
    """Every exon ± ``flank`` bases of the named genes of ``annotation`` (grch37, grch38, a
    SpliceAI table or a GTF/GFF3).  A name not in the table is refused, naming it."""
    table = load_annotation(annotation)
    wanted = list(dict.fromkeys(genes))
    by_name: dict[str, list] = {}
    for g in table.genes:
        if g.name in wanted:
            by_name.setdefault(g.name, []).append(g)
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise ConfigError(f"gene(s) not in the annotation {annotation}: "
                          f"{', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}")
    out = []
    for name in wanted:
        for g in by_name[name]:
            out += [Region(g.contig, max(0, s - flank), e + flank) for s, e in _exons(g)]
    return out


def _exons(gene) -> list[tuple[int, int]]:
    """(start 0-based, end exclusive) of a gene's exons: a GTF gene keeps them; a SpliceAI
    table's gene has its boundaries (exon start + 1, exon end, sorted, merged), paired up —
    when they cannot be paired (a 1-base exon merges two), the whole transcript."""
    if getattr(gene, "exons", ()):
        return list(gene.exons)
    b = [int(x) for x in gene.boundaries]
    if len(b) % 2 == 0 and all(b[i] <= b[i + 1] for i in range(0, len(b), 2)):
        return [(b[i] - 1, b[i + 1]) for i in range(0, len(b), 2)]
    return [(gene.tx_start, gene.tx_end)]


def as_regions(regions: Sequence[Region | str] | str) -> list[Region]:
    """Regions as given: :class:`Region` objects, ``CHROM:START-END`` strings, or the path of a
    BED file (plain or gzip)."""
    if isinstance(regions, (str, os.PathLike)) and not _looks_like_region(str(regions)):
        return read_bed(regions)
    if isinstance(regions, (str, Region)):
        regions = [regions]
    return [r if isinstance(r, Region) else parse_region(str(r)) for r in regions]


def _looks_like_region(text: str) -> bool:
    try:
        parse_region(text)
    except InputFormatError:
        return False
    return not os.path.exists(text)


def plan_chunks(regions: list[Region], chunk_bp: int = CHUNK_BP) -> list[Region]:
    """The merged regions cut into pieces of at most ``chunk_bp`` bases, in order."""
    if chunk_bp < 1:
        raise ConfigError(f"chunk_bp must be >= 1, got {chunk_bp}")
    return [Region(r.contig, a, min(a + chunk_bp, r.end))
            for r in merge_regions(regions) for a in range(r.start, r.end, chunk_bp)]


def deal(chunks: list[Region], n_partitions: int) -> list[list[Region]]:
    """Runs of consecutive chunks, about the same number of bases each (never empty)."""
    if n_partitions >= len(chunks):
        return [[c] for c in chunks]
    total = sum(c.end - c.start for c in chunks)
    n = max(1, n_partitions)
    groups: list[list[Region]] = [[] for _ in range(n)]
    done = 0
    for c in chunks:
        groups[min(n - 1, done * n // total)].append(c)
        done += c.end - c.start
    return [g for g in groups if g]


def precompute_table(regions: Sequence[Region | str] | str | None = None, *,
                     reference: str, annotation: str = "grch38", model: str = "spliceai",
                     genes: Iterable[str] | None = None, flank: int = FLANK,
                     distance: int = 50, mask: bool | None = None,
                     output: str | None = None, vcf_dir: str | None = None,
                     reference_genome: str = "GRCh38", chunk_bp: int = CHUNK_BP,
                     n_partitions: int | None = None, batch_size: int = 64,
                     threads: int | None = None, precision: str = "fp32",
                     ship_files: bool | None = None, overwrite: bool = False,
                     stats: PrecomputeTableStats | None = None,
                     device: str = "auto") -> "hl.Table":
    """Score every SNV (three ALTs per A/C/G/T base) of ``regions`` — :class:`Region`\\ s,
    ``CHROM:START-END`` strings or a BED path — and/or of the exons ± ``flank`` of ``genes``
    across Spark executors.  Returns the Hail table (written to ``output``, or Hail's tmp_dir);
    with ``vcf_dir`` also writes one precomputed-format shard per partition there (a local or
    shared path, or a ``gs://``/``s3://`` URI copied with ``hailtop.fs``).  ``device`` as for
    :func:`~hail_seqscore.hail.table.score_table` (``cuda``: an executor without a working CUDA
    provider fails the job)."""
    regions = as_regions(regions) if regions is not None else []
    if genes:
        regions += gene_regions(annotation, genes, flank)
    if not regions:
        raise ConfigError("no regions given (regions= or genes=)")
    if output is not None and hl.hadoop_exists(output) and not overwrite:
        raise ConfigError(f"output {output} exists; pass overwrite=True to replace it")
    if vcf_dir is not None:
        _prepare_vcf_dir(vcf_dir, overwrite)
    rg = hl.get_reference(reference_genome) if isinstance(reference_genome, str) \
        else reference_genome
    sc = hl.spark_context()
    threads = threads or int(sc.getConf().get("spark.task.cpus", "1"))
    cfg = EngineConfig(model=str(model), reference=str(reference), annotation=str(annotation),
                       distance=distance, mask=mask, batch_size=batch_size, threads=threads,
                       precision=precision, device=device)
    prov, settings = worker_settings(sc, cfg, ship_files)

    driver = Engine(EngineConfig(model=plan_model(cfg.model), reference=cfg.reference,
                                 annotation=cfg.annotation, distance=distance, mask=mask))
    regions = merge_regions(regions)
    names = {r.contig: _rg_contig(r.contig, rg) for r in regions}
    header = "\n".join(header_lines(driver, regions, SNV_CONTENT)) + "\n"
    order = {c: i for i, c in enumerate(rg.contigs)}     # the table's key order: no sort
    chunks = sorted(plan_chunks(regions, chunk_bp),
                    key=lambda c: (order[names[c.contig]], c.start))
    groups = deal(chunks, n_partitions or PARTITIONS_PER_CORE * sc.defaultParallelism)
    record = RESULT_RECORDS[(prov["kind"], prov["scorer"])]
    counter, opened = sc.accumulator(0), sc.accumulator(set(), PathSet())
    if stats is not None:
        stats.variants = count_variants(driver, regions)
        stats.chunks, stats.partitions = len(chunks), len(groups)
        stats._acc, stats._opened = counter, opened
    job = _PartitionJob(settings, record, header, names, vcf_dir, counter, opened)
    spark = hl.utils.java.Env.spark_session()
    rdd = sc.parallelize(groups, len(groups)).flatMap(
        lambda g: [(c.contig, c.start, c.end) for c in g])
    df = spark.createDataFrame(rdd, "contig string, start long, end long")
    from pyspark.sql.pandas.types import from_arrow_schema  # noqa: PLC0415

    scored = df.mapInArrow(job, from_arrow_schema(arrow_schema(record)))
    scored, staged = stage(scored, "precompute")   # the scoring stage: an action, never rerun
    try:
        ht = hl.Table.from_spark(scored)
        ht = ht.key_by(locus=hl.locus(ht.contig, ht.pos, reference_genome=rg),
                       alleles=ht.alleles)
        ht = result_rows(ht)
        ht = ht.annotate_globals(provenance=hl.struct(**prov))
        path = output or hl.utils.new_temp_file("seqscore_precompute", "ht")
        ht.write(path, overwrite=overwrite)
    finally:
        unstage(staged)
    if stats is not None and vcf_dir is not None:
        stats.shards = [_shard_path(vcf_dir, i) for i in range(len(groups))]
    log.info("precomputed %d chunks in %d partitions", len(chunks), len(groups))
    return hl.read_table(path)


def plan_model(model: str) -> str:
    """The driver's copy of the model (a name, a path, or a URI fetched once)."""
    from .table import _local_copy  # noqa: PLC0415

    return _local_copy(model)


def _rg_contig(contig: str, rg) -> str:
    """``contig`` as the reference genome names it (``21`` → ``chr21`` for GRCh38)."""
    found = next((a for a in contig_aliases(contig) if a in rg.contigs), None)
    if found is None:
        raise ConfigError(f"contig {contig!r} is not in the reference genome {rg.name} (nor "
                          f"any alias of it); pass reference_genome= that has it")
    return found


def _prepare_vcf_dir(vcf_dir: str, overwrite: bool) -> None:
    """``vcf_dir`` made if needed; shards of an earlier run there are refused, or removed with
    ``overwrite`` (a stale ``part-`` file would read as part of this run)."""
    import hailtop.fs as hfs  # noqa: PLC0415

    if not is_uri(vcf_dir):
        os.makedirs(vcf_dir, exist_ok=True)
        names = os.listdir(vcf_dir)
    else:
        try:
            names = [os.path.basename(e.path.rstrip("/")) for e in hfs.ls(vcf_dir)]
        except FileNotFoundError:      # an empty or new prefix
            names = []
    old = [f"{vcf_dir.rstrip('/')}/{n}" for n in names if n.startswith("part-")]
    if old and not overwrite:
        raise ConfigError(f"{vcf_dir} holds shards of an earlier run ({len(old)} part- files); "
                          "pass overwrite=True (--overwrite) to replace them, or choose "
                          "another folder")
    for path in old:
        hfs.remove(path)


def _shard_path(vcf_dir: str, index: int) -> str:
    return f"{vcf_dir.rstrip('/')}/part-{index:05d}.vcf.gz"


class _PartitionJob:
    """What ``mapInArrow`` runs per partition: its chunks in order, one engine, one shard."""

    def __init__(self, settings, record, header, names, vcf_dir, counter, opened):
        self.settings, self.record, self.header = settings, record, header
        self.names, self.vcf_dir = names, vcf_dir
        self.counter, self.opened = counter, opened

    def __call__(self, batches):
        import contextlib  # noqa: PLC0415

        import pyarrow as pa  # noqa: PLC0415
        from pyspark import TaskContext  # noqa: PLC0415

        schema = arrow_schema(self.record)
        keep = {"allele"} | {n for n, _ in record_fields(self.record)}
        engine = worker_engine(self.settings)
        self.opened.add(engine_files(engine))
        fmt = info_format(engine.session.spec.scorer)
        stats = PrecomputeStats()
        with contextlib.ExitStack() as stack:
            shard = None
            if self.vcf_dir is not None:
                shard = stack.enter_context(Shard(
                    _shard_path(self.vcf_dir, TaskContext.get().partitionId()), self.header))
            for batch in batches:
                for contig, start, end in zip(*(batch.column(k).to_pylist()
                                                for k in ("contig", "start", "end"))):
                    for stretch in _stretches(engine, Region(contig, start, end), CHUNK,
                                              True, False):
                        results = engine.score(stretch)
                        lines: dict[bool, list[str]] = {False: [], True: []}
                        for r in results:
                            _record(r, fmt, stats, lines)
                        if shard is not None:
                            shard.write(lines[False])
                        if self.counter is not None:
                            self.counter.add(len(results))
                        yield pa.RecordBatch.from_pydict(
                            _columns(results, self.names[contig], keep), schema=schema)
            if shard is not None:
                shard.commit()


def _columns(results, contig: str, keep: set[str]) -> dict[str, list]:
    """One row per SNV result: the columns of :func:`worker.arrow_schema`."""
    cols: dict[str, list] = {k: [] for k in ("contig", "pos", "alleles", "scores", "max_ds",
                                             "reason_code", "reason", "skipped")}
    for r in results:
        scores, max_ds, code, reason, skipped = summarise([r])
        cols["contig"].append(contig)
        cols["pos"].append(r.variant.pos)
        cols["alleles"].append([r.variant.ref, r.variant.alt])
        cols["scores"].append([{k: v for k, v in d.items() if k in keep} for d in scores])
        cols["max_ds"].append(max_ds)
        cols["reason_code"].append(code)
        cols["reason"].append(reason)
        cols["skipped"].append(skipped)
    return cols


class Shard:
    """One precomputed-format VCF shard, bgzipped and tabix-indexed, renamed into place whole
    on :meth:`commit` (discarded if the task fails first).  A URI is written locally, then
    copied with its index (``hailtop.fs``)."""

    def __init__(self, path: str, header: str):
        from ..output import AtomicFile  # noqa: PLC0415

        self.path, self.local = path, path
        if is_uri(path):
            import tempfile  # noqa: PLC0415

            self.local = os.path.join(tempfile.mkdtemp(prefix="seqscore-shard-"),
                                      os.path.basename(path))
        else:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.file = AtomicFile(self.local, bgzip=True, companions=(".tbi",), what="VCF shard")
        self.header = header

    def __enter__(self) -> "Shard":
        self.file.__enter__()
        self.file.write(self.header.encode())
        return self

    def __exit__(self, *exc) -> None:
        self.file.__exit__(*exc)

    def write(self, lines: list[str]) -> None:
        if lines:
            self.file.write("".join(lines).encode())

    def commit(self) -> None:
        import pysam  # noqa: PLC0415

        def index(p: str) -> None:
            pysam.tabix_index(p, preset="vcf", force=True, index=p + ".tbi")

        self.file.commit(index=index)
        if self.local != self.path:
            import hailtop.fs as hfs  # noqa: PLC0415

            for suffix in ("", ".tbi"):
                hfs.copy(self.local + suffix, self.path + suffix)
