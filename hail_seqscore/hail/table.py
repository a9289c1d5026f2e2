"""Score a Hail Table or MatrixTable inside Spark partitions, the way ``hl.vep`` annotates.

    import hail as hl, hail_seqscore
    mt = hl.import_vcf("in.vcf.bgz", reference_genome="GRCh38")
    mt = hail_seqscore.score_table(mt, model="spliceai", reference="gs://bucket/GRCh38.fa",
                                   annotation="grch38", distance=50, mask=False)
    mt.seqscore.max_ds  # new row field; provenance in mt.seqscore_provenance (a global)

Like ``hl.vep``: the table must be keyed by ``locus``/``alleles``; only the key is used;
distinct keys are scored once each and the scores are joined back **by key**.  Multi-allelic
rows are scored per ALT (each score entry names its ``allele``); ``hl.split_multi`` first is
not needed, but gives one ALT per row if you prefer that shape.

Hail is imported in :mod:`hail_seqscore.hail` only; ``import hail_seqscore`` stays free of
Hail and Spark (``score_table``/``ScoreCache``/``ScoreStats`` are resolved lazily).  Custom
reference genomes from a FASTA: :mod:`hail_seqscore.hail.reference`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass, replace
from typing import Any, Sequence

import hail as hl
import hailtop.fs as hfs

from ..engine import Engine, EngineConfig
from ..errors import ConfigError
from ..kinds import RESULT_RECORDS
from ..models.registry import model_path, precision_path
from ..models.session import get_session
from ..models.spec import ModelSpec
from .cache import ScoreCache
from .files import is_uri, plan_files, register
from .schema import require_variant_key, result_rows, result_type, row_table
from .spark import score_keys
from .worker import PathSet, WorkerCounts

log = logging.getLogger(__name__)

__all__ = ["score_table", "ScoreCache", "ScoreStats", "scoring_provenance", "check_model"]


@dataclass
class ScoreStats(WorkerCounts):
    """Filled by ``score_table(..., stats=ScoreStats())``: ``to_score`` distinct keys were
    sent to the workers (cache misses); ``scored`` counts key rows the workers scored in
    tasks that succeeded (a Spark accumulator: a task lost with its executor and run again
    counts once; greater than ``to_score`` only if a finished scoring task ran again);
    ``opened``: the (``model``/``reference``/``annotation``, path) pairs the workers' engines
    read — on a cluster, the copies shipped into each executor's work directory."""

    to_score: int = 0


def score_table(data, model: str = "spliceai", reference: str | None = None,
                annotation: str = "grch38", distance: int = 50, mask: bool | None = None, *,
                name: str = "seqscore", cache: ScoreCache | None = None,
                batch_size: int = 64, threads: int | None = None,
                providers: Sequence[str] | None = None, pad_edges: bool = False,
                score_complex: bool = False, n_partitions: int | None = None,
                ship_files: bool | None = None, stats: ScoreStats | None = None,
                precision: str = "fp32", max_allele_length: int | None = None,
                annotation_filter: str = "", reduction: str | None = None,
                radius: int | None = None, rc_average: bool = False,
                shifts: Sequence[int] = (), device: str = "auto"):
    """Return ``data`` (a Table or MatrixTable keyed by locus/alleles) with a new row field
    ``name``: ``struct{scores: array<struct{allele, …the model's per-gene record…}>, max_ds,
    reason_code, reason, skipped: array<struct{allele, code}>}`` and a global
    ``<name>_provenance``.  The per-gene record is the model's own (``kinds.RESULT_RECORDS``):
    SpliceAI, CI-SpliceAI and OpenSpliceAI ``{gene, strand, ds_ag, ds_al, ds_dg, ds_dl, dp_ag,
    dp_al, dp_dg, dp_dl}``; Pangolin ``{gene, strand, gain, gain_pos, loss, loss_pos,
    warnings}`` (``max_ds`` = the largest |gain| or |loss|).  A model whose kind or scorer has
    no Hail output is refused with :class:`ModelFormatError` before any Spark work.

    ``mask``: None = the tool's own default (off for SpliceAI/OpenSpliceAI, on for Pangolin).
    ``annotation_filter``: Pangolin's create_db.py ``--filter`` for a GTF annotation
    (``""`` = Ensembl_canonical, ``"None"`` = all transcripts).

    Track models (kind ``tracks``: Puffin, Enformer, …) give one record per ALT:
    ``{allele, effects: array<float32> (the model's track order), reduction, max_abs_effect,
    top_track}``, and a global ``<name>_tracks`` (the track table: name, description, assay,
    cell_type, strand).  ``reduction``, ``radius``, ``rc_average`` and ``shifts`` are the
    EngineConfig settings of track models.

    A row that could not be scored (REF mismatch, unknown contig, symbolic ALT, an allele
    longer than ``max_allele_length``, …) gets missing ``max_ds`` and the engine's error code
    and message in ``reason_code``/``reason`` (per ALT in ``skipped``); it never fails the
    job and is never dropped.  Empty ``scores`` with no reason: the variant lies in no gene.

    ``max_allele_length``: the longest REF or ALT scored (default: the model's context, 10,000
    bp for SpliceAI); longer alleles get ``ALLELE_TOO_LONG`` without any work.  A local
    ``reference`` without ``.fai`` is indexed once here, on the driver.

    ``reference``/``annotation``/``model`` may be local paths or Hadoop URIs (``gs://``,
    ``s3a://``, ``hdfs://``); on a cluster (or with ``ship_files=True``) they are fetched once
    per executor with ``SparkContext.addFile``.  ``threads`` defaults to
    ``spark.task.cpus``; ``providers`` to CUDA → CPU by availability.  ``precision``:
    ``"fp32"`` (default, exact), ``"tf32"`` or ``"fp16"`` (see ``EngineConfig``).
    ``device``: ``"auto"`` (CUDA where an executor's onnxruntime has it and it loads, else its
    CPU), ``"cpu"`` or ``"cuda"`` (an executor without a working CUDA provider fails the job
    with RUNTIME_UNAVAILABLE instead of scoring on its CPU); recorded in the provenance.
    """
    if reference is None:
        raise ConfigError("score_table needs reference= (a FASTA; a local one is indexed if "
                          "it has no .fai)")
    rows = row_table(data)
    locus_type = require_variant_key(rows)
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"name must be a Python identifier, got {name!r}")
    if name in rows.row or f"{name}_provenance" in rows.globals:
        raise ConfigError(f"the table already has a field {name!r} (or {name}_provenance); "
                          "pass another name=")
    if cache is not None and not isinstance(cache, ScoreCache):
        raise ConfigError(f"cache must be a ScoreCache, got {type(cache).__name__}")
    sc = hl.spark_context()
    if threads is None:
        threads = int(sc.getConf().get("spark.task.cpus", "1"))
    cfg = EngineConfig(model=str(model), reference=str(reference), annotation=str(annotation),
                       distance=distance, mask=mask, batch_size=batch_size,
                       threads=threads, providers=tuple(providers) if providers else None,
                       pad_edges=pad_edges, score_complex=score_complex, precision=precision,
                       max_allele_length=max_allele_length,
                       annotation_filter=annotation_filter, reduction=reduction, radius=radius,
                       rc_average=rc_average, shifts=tuple(shifts), device=device)
    prov, settings = worker_settings(sc, cfg, ship_files)

    keys = rows.select().select_globals().distinct()
    counter = sc.accumulator(0)
    opened = sc.accumulator(set(), PathSet())
    if cache is not None:
        cache.check(prov, locus_type)
    if cache is not None and cache.exists():
        cached = cache.table()
        misses = keys.filter(hl.is_missing(cached.index(keys.key)))
    else:
        misses = keys
    record = RESULT_RECORDS[(prov["kind"], prov["scorer"])]
    new, n = score_keys(misses, settings, n_partitions=n_partitions, counter=counter,
                        record=record, opened=opened)
    if stats is not None:
        stats.to_score, stats._acc, stats._opened = n, counter, opened
    if cache is not None:
        if n or not cache.exists():
            cache.add(new, prov)
        lookup = cache.table().select_globals()
    else:
        lookup = new
    lookup = result_rows(lookup)
    glob = {f"{name}_provenance": hl.struct(**prov)}
    if prov["kind"] == "tracks":
        glob[f"{name}_tracks"] = hl.literal(track_table(cfg.model), dtype=hl.tarray(TRACK))
    if isinstance(data, hl.MatrixTable):
        return data.annotate_rows(**{name: lookup[data.row_key]}).annotate_globals(**glob)
    return data.annotate(**{name: lookup[data.key]}).annotate_globals(**glob)


#: the EngineConfig fields the workers' engines are made with (files come from the plan)
WORKER_FIELDS = ("distance", "mask", "batch_size", "threads", "providers", "pad_edges",
                 "score_complex", "precision", "max_allele_length", "annotation_filter",
                 "reduction", "radius", "rc_average", "shifts", "device")


def worker_settings(sc, cfg: EngineConfig,
                    ship_files: bool | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(provenance, the workers' engine settings) for ``cfg``: its files planned (shipped to
    the executors by default off a local master) and registered with Spark.  The provenance
    comes first, so a model without a Hail output is refused before anything is shipped.
    With ``precision="fp16"`` the model's half-precision copy is what is planned, recorded and
    shipped.  On a local master, the workers must run this interpreter."""
    _check_python_workers(sc)
    if cfg.precision == "fp16" and not is_uri(cfg.model):
        cfg = replace(cfg, model=str(precision_path(model_path(cfg.model), "fp16")))
    if ship_files is None:
        ship_files = not sc.master.startswith("local")
    plan = plan_files(cfg.model, cfg.reference, cfg.annotation, ship=ship_files)
    prov = scoring_provenance(cfg, index=plan.reference_index)
    register(sc, plan)
    settings = {f: getattr(cfg, f) for f in WORKER_FIELDS}
    settings.update(plan.settings)
    return prov, settings


TRACK = hl.tstruct(name=hl.tstr, description=hl.tstr, assay=hl.tstr, cell_type=hl.tstr,
                   strand=hl.tstr)


def track_table(model: str) -> list[dict]:
    """A track model's tracks, in output order, as :data:`TRACK` structs."""
    spec = get_session(_local_copy(str(model))).spec
    rows = spec.tracks or [{"name": n} for n in spec.output_channels]
    return [{k: (str(t[k]) if t.get(k) is not None else None) for k in TRACK} for t in rows]


def check_model(model: str) -> ModelSpec:
    """The spec of ``model`` (a name, an .onnx path or a URI), read on the driver; refused
    (:class:`ModelFormatError`) when its kind or scorer has no Hail output yet, and
    :class:`ModelNotInstalledError` when it is not exported."""
    spec = get_session(_local_copy(str(model))).spec
    result_type(spec, str(model))
    return spec


def scoring_provenance(cfg: EngineConfig, index: str | None = None) -> dict[str, Any]:
    """What made the scores: the engine's provenance with the model's kind and scorer (which
    decide the result's fields and VCF key), the reference as given (a path or URI), the
    sha256 of its ``.fai`` (``index``, default: beside it; contig names and lengths), the
    longest allele scored, and the scoring options.  Refuses a model without a Hail output."""
    local_model = _local_copy(cfg.model)
    local_ann = _local_copy(cfg.annotation) if is_uri(cfg.annotation) else cfg.annotation
    eng = Engine(EngineConfig(model=local_model, reference=cfg.reference, annotation=local_ann,
                              distance=cfg.distance, mask=cfg.mask,
                              max_allele_length=cfg.max_allele_length,
                              annotation_filter=cfg.annotation_filter, reduction=cfg.reduction,
                              radius=cfg.radius, rc_average=cfg.rc_average, shifts=cfg.shifts,
                              # an fp16 copy loads only as fp16; tf32 needs CUDA, which the
                              # driver may lack (its graph is the fp32 one)
                              precision="fp16" if cfg.precision == "fp16" else "fp32"))
    spec = eng.session.spec
    result_type(spec, cfg.model)
    prov = dict(eng.provenance())
    prov["kind"], prov["scorer"] = spec.kind, spec.scorer
    prov["reference"] = cfg.reference if is_uri(cfg.reference) else os.path.abspath(cfg.reference)
    prov["annotation"] = cfg.annotation
    with hfs.open(index or cfg.reference + ".fai", "rb") as f:
        prov["reference_index_sha256"] = hashlib.sha256(f.read()).hexdigest()
    prov["max_allele_length"] = eng.max_allele_length()
    prov["precision"] = cfg.precision
    prov["device"] = cfg.device           # asked for; each executor's session enforces it
    prov["pad_edges"] = bool(cfg.pad_edges)
    prov["score_complex"] = bool(cfg.score_complex)
    return {k: (v if isinstance(v, (bool, int, float)) else str(v)) for k, v in prov.items()}


def _local_copy(path: str) -> str:
    """A driver-local copy of a URI (small files: the model, a gene table); paths unchanged."""
    if not is_uri(path):
        return path
    local = os.path.join(tempfile.mkdtemp(prefix="seqscore-"), os.path.basename(path))
    hfs.copy(path, "file://" + local)
    return local


def _check_python_workers(sc, executable: str | None = None) -> None:
    """On a local master, workers must run this interpreter (with pyarrow and the package):
    the same path, or another name for it in the same folder (a venv's ``python`` and
    ``python3.11`` are links to one binary; another venv's are not in the same folder)."""
    if not sc.master.startswith("local"):
        return
    import shutil  # noqa: PLC0415
    import sys  # noqa: PLC0415

    exe = os.path.abspath(shutil.which(sc.pythonExec) or sc.pythonExec)
    me = os.path.abspath(executable or sys.executable)
    same = exe == me or (os.path.dirname(exe) == os.path.dirname(me)
                         and os.path.realpath(exe) == os.path.realpath(me))
    if not same:
        raise ConfigError(
            f"Spark's Python workers run {sc.pythonExec!r}, not this interpreter "
            f"({me}), so they cannot import hail_seqscore/pyarrow. Set "
            f"os.environ['PYSPARK_PYTHON'] = sys.executable before hl.init()")

