"""What runs inside a Spark Python worker: Arrow batches of keys in, Arrow batches of scores out.

No Hail import here (Spark's Python workers never start a JVM).  One :class:`Engine` — and so
one ONNX Runtime session, one FASTA handle and one gene table — per worker process and
configuration, made on first use and reused by every later task and batch that the (reused)
Python worker runs.

A key row is ``(contig, pos, alleles)`` as Hail holds it; every ALT allele of the row is
scored and the row's result is ``scores`` (one entry per ALT × gene, with ``allele``),
``max_ds`` and, where some ALT was not scored, ``reason_code``/``reason`` and, per ALT,
``skipped`` (``allele``, ``code``).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Iterable, Iterator

from ..engine import Engine, EngineConfig
from ..kinds.splice import SPLICE_DELTAS
from ..records import ScoreResult, Variant, abbreviate

SCORE_FIELDS = ("ds_ag", "ds_al", "ds_dg", "ds_dl")
POS_FIELDS = ("dp_ag", "dp_al", "dp_dg", "dp_dl")
NO_ALT = "NO_ALT"            # reason code of a row whose alleles hold no ALT
CHUNK = 4096                  # key rows handed to Engine.score at a time

_ENGINES: dict[tuple, Engine] = {}
_LOCK = threading.Lock()


def record_fields(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, type) of the fields of a result record (``kinds.RESULT_RECORDS``) that a table
    row carries: every scalar field, and arrays of numbers (a track model's ``effects``) as
    ``"array<number>"``; nested arrays such as Pangolin's ``cutoff_sites`` are CLI output
    forms and stay out."""
    out = []
    for f in record["fields"]:
        if f["type"] != "array":
            out.append((f["name"], f["type"]))
        elif f.get("items") == "number":
            out.append((f["name"], "array<number>"))
    return out


def arrow_schema(record: dict[str, Any] = SPLICE_DELTAS):
    """The Arrow schema of the scored rows (also what ``mapInArrow`` is told), for the model's
    per-gene ``record`` (default: SpliceAI's delta scores)."""
    import pyarrow as pa  # noqa: PLC0415

    types = {"string": pa.string(), "number": pa.float64(), "integer": pa.int32(),
             "array<number>": pa.list_(pa.float32())}
    gene = pa.struct([("allele", pa.string())]
                     + [(n, types[t]) for n, t in record_fields(record)])
    skipped = pa.struct([("allele", pa.string()), ("code", pa.string())])
    return pa.schema([("contig", pa.string()), ("pos", pa.int32()),
                      ("alleles", pa.list_(pa.string())), ("scores", pa.list_(gene)),
                      ("max_ds", pa.float64()), ("reason_code", pa.string()),
                      ("reason", pa.string()), ("skipped", pa.list_(skipped))])


def worker_engine(settings: dict[str, Any]) -> Engine:
    """This process's engine for ``settings`` (EngineConfig fields; shipped files resolved)."""
    key = (os.getpid(), tuple(sorted((k, repr(v)) for k, v in settings.items())))
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            cfg = dict(settings)
            for name in ("model", "reference", "annotation"):
                cfg[name] = resolve_shipped(cfg[name])
            engine = Engine(EngineConfig(**cfg))
            _ENGINES[key] = engine
        return engine


class PathSet:
    """A Spark ``AccumulatorParam`` of a set: ``(what, path)`` pairs of the files the workers'
    engines opened (``model``, ``reference``, ``annotation``), for :class:`ScoreStats`."""

    def zero(self, value):
        return set()

    def addInPlace(self, a, b):  # noqa: N802 (Spark's name)
        a |= b
        return a


class WorkerCounts:
    """What the workers report back through accumulators, read on the driver after the job:
    ``scored`` (rows scored in tasks that succeeded) and ``opened`` (:class:`PathSet`).
    Base of :class:`~hail_seqscore.hail.table.ScoreStats` and ``PrecomputeTableStats``."""

    _acc: Any = None
    _opened: Any = None

    @property
    def scored(self) -> int:
        return int(self._acc.value) if self._acc is not None else 0

    @property
    def opened(self) -> set[tuple[str, str]]:
        return set(self._opened.value) if self._opened is not None else set()


def engine_files(engine: Engine) -> set[tuple[str, str]]:
    """What ``engine`` reads: (``model``/``reference``/``annotation``, its path)."""
    c = engine.config
    return {("model", str(c.model)), ("reference", str(c.reference)),
            ("annotation", str(c.annotation))}


def resolve_shipped(value):
    """``("shipped", basename)`` → the local copy Spark fetched for this executor
    (``SparkContext.addFile``); anything else is returned unchanged."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and value[0] == "shipped":
        from pyspark import SparkFiles  # noqa: PLC0415

        return SparkFiles.get(value[1])
    return value


def score_rows(engine: Engine, contigs: list[str], positions: list[int],
               alleles: list[list[str] | None]) -> dict[str, list]:
    """Score the key rows; returns the columns of :func:`arrow_schema`."""
    variants: list[Variant] = []
    for contig, pos, al in zip(contigs, positions, alleles):
        if al and len(al) >= 2 and contig is not None and pos is not None:
            variants.extend(Variant(contig, int(pos), al[0], alt) for alt in al[1:])
    results = iter(engine.score(variants)) if variants else iter(())
    out: dict[str, list] = {k: [] for k in ("contig", "pos", "alleles", "scores", "max_ds",
                                            "reason_code", "reason", "skipped")}
    for contig, pos, al in zip(contigs, positions, alleles):
        out["contig"].append(contig)
        out["pos"].append(pos)
        out["alleles"].append(al)
        if not al or len(al) < 2 or contig is None or pos is None:
            shown = None if al is None else [abbreviate(a) for a in al]
            _append(out, [], None, NO_ALT,
                    f"{contig}:{pos} alleles {shown!r}: need a REF and at least one ALT", [])
            continue
        row_results = [next(results) for _ in al[1:]]
        _append(out, *summarise(row_results))
    return out


def summarise(results: list[ScoreResult]) -> tuple[list[dict], float | None, str | None,
                                                    str | None, list[dict]]:
    """One key row's ALT results → (scores, max_ds, reason_code, reason, skipped)."""
    scores, codes, messages, skipped = [], [], [], []
    for r in results:
        if r.error is not None:
            codes.append(r.error.code)
            msg, name = r.error.message, str(r.variant)
            messages.append(msg if name in msg else f"{name}: {msg}")   # name the variant
            skipped.append({"allele": r.variant.alt, "code": r.error.code})
            continue
        for s in r.scores:
            d = s.to_dict()
            d["allele"] = r.variant.alt
            scores.append(d)
    vals = [r.max_ds for r in results if r.error is None and r.max_ds is not None]
    max_ds = float(max(vals)) if vals else None
    return (scores, max_ds, codes[0] if codes else None,
            "; ".join(messages) if messages else None, skipped)


def _append(out: dict[str, list], scores, max_ds, code, reason, skipped) -> None:
    out["scores"].append(scores)
    out["max_ds"].append(max_ds)
    out["reason_code"].append(code)
    out["reason"].append(reason)
    out["skipped"].append(skipped)


def make_batch_scorer(settings: dict[str, Any], chunk: int = CHUNK, counter=None,
                      record: dict[str, Any] = SPLICE_DELTAS,
                      opened=None) -> Callable[[Iterable], Iterator]:
    """The function given to ``DataFrame.mapInArrow``.  ``counter`` (a Spark accumulator)
    is incremented by the number of key rows scored — how tests prove each is scored once;
    ``opened`` (a :class:`PathSet` accumulator) gets the files the engine reads."""

    def score_batches(batches):
        import pyarrow as pa  # noqa: PLC0415

        schema = arrow_schema(record)
        names = {"allele"} | {n for n, _ in record_fields(record)}
        engine = worker_engine(settings)
        if opened is not None:
            opened.add(engine_files(engine))
        for batch in batches:
            contigs = batch.column("contig").to_pylist()
            positions = batch.column("pos").to_pylist()
            alleles = batch.column("alleles").to_pylist()
            for i in range(0, len(contigs), chunk):
                cols = score_rows(engine, contigs[i:i + chunk], positions[i:i + chunk],
                                  alleles[i:i + chunk])
                cols["scores"] = [[{k: v for k, v in d.items() if k in names} for d in row]
                                  for row in cols["scores"]]
                if counter is not None:
                    counter.add(len(cols["contig"]))
                yield pa.RecordBatch.from_pydict(cols, schema=schema)

    return score_batches
