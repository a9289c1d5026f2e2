"""The Spark route: distinct keys → Arrow batches scored in Python workers → a Hail table.

    keys (Hail) ──to_spark──▶ DataFrame ──Parquet (Hail tmp_dir)──▶
      ──repartitionByRange + sortWithinPartitions──▶ mapInArrow(engine) ──Parquet (tmp_dir)──▶
      Table.from_spark ──key_by(locus, alleles)──▶ checkpoint (Hail tmp_dir) ──▶ joined by key

Why each step (measured with Hail 0.2.139 / PySpark 3.5, local[2] and a standalone cluster):
  * feeding ``to_spark()`` output straight into a Python consumer never finishes (the task
    loops, the Hail log grows by GBs), even from a checkpointed Hail table: the keys are
    written by the JVM first;
  * they are written as Parquet, not ``localCheckpoint``-ed: a local checkpoint lives in the
    executors' block managers, and when an executor dies the rerun of the range shuffle fails
    ("Checkpoint block rdd_11_0 not found");
  * the scoring stage writes Parquet (an action whose finished tasks are never rerun; a task
    lost with its executor runs again and only its successful attempt counts), so
    ``from_spark`` reads scores instead of running the scoring stage again (as it does without
    an action), and no executor loss after the stage rescores; the scores are then written as
    a Hail table so that later uses of the result never rescore;
  * range partitioning keeps neighbouring variants together, so the engine shares REF windows.
"""

from __future__ import annotations

import logging
from typing import Any

import hail as hl

from ..kinds.splice import SPLICE_DELTAS
from .schema import empty_scores, result_rows
from .worker import arrow_schema, make_batch_scorer

log = logging.getLogger(__name__)


def stage(df, name: str) -> tuple[Any, str]:
    """Write ``df`` as Parquet into Hail's tmp_dir and read it back: (the DataFrame read back,
    its path).  The copy is on the file system every executor sees (HDFS/GCS on a cluster),
    so losing an executor loses no input and no finished output; a task's files are kept only
    when the task succeeds (Spark's output committer)."""
    path = hl.utils.new_temp_file(f"seqscore_{name}", "parquet")
    df.write.parquet(path)
    return df.sparkSession.read.parquet(path), path


def unstage(path: str) -> None:
    """Remove a :func:`stage` copy; a failure is logged, never raised (the run's result
    stands; the copy is in Hail's tmp_dir)."""
    import hailtop.fs as hfs  # noqa: PLC0415

    try:
        hfs.rmtree(path)
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)


def materialise(df) -> tuple[Any, str]:
    """The keys, written by the JVM (see the module docstring): :func:`stage` ``(df, "keys")``."""
    return stage(df, "keys")


def score_keys(keys: "hl.Table", settings: dict[str, Any], *, n_partitions: int | None = None,
               counter=None, record: dict[str, Any] = SPLICE_DELTAS,
               opened=None) -> tuple["hl.Table", int]:
    """Score every row of ``keys`` (a table keyed by locus/alleles, distinct) in Spark.

    Returns (a Hail table keyed by locus/alleles with the fields of :data:`RESULT`, stored
    in Hail's tmp_dir; the number of keys sent to the workers)."""
    from pyspark.sql.pandas.types import from_arrow_schema  # noqa: PLC0415

    locus_type = keys.locus.dtype
    flat = keys.key_by()
    flat = flat.select(contig=flat.locus.contig, pos=flat.locus.position, alleles=flat.alleles)
    staged: list[str] = []
    try:
        df, path = materialise(flat.to_spark(flatten=False))
        staged.append(path)
        n = df.count()
        if n == 0:
            return empty_scores(locus_type, record), 0
        sc = df.sparkSession.sparkContext
        target = n_partitions or max(df.rdd.getNumPartitions(), sc.defaultParallelism)
        target = max(1, min(target, n))
        df = df.repartitionByRange(target, "contig", "pos").sortWithinPartitions("contig", "pos")
        scorer = make_batch_scorer(settings, counter=counter, record=record, opened=opened)
        scored = df.mapInArrow(scorer, from_arrow_schema(arrow_schema(record)))
        scored, path = stage(scored, "scores")          # the scoring stage: an action
        staged.append(path)
        ht = hl.Table.from_spark(scored)
        ht = ht.key_by(locus=hl.locus(ht.contig, ht.pos, reference_genome=locus_type.reference_genome),
                       alleles=ht.alleles)
        ht = result_rows(ht)
        ht = ht.checkpoint(hl.utils.new_temp_file("seqscore_scores", "ht"))
    finally:
        for path in staged:
            unstage(path)
    log.info("scored %d distinct variants in %d Spark partitions", n, target)
    return ht, n
