"""Getting the model, reference and annotation to every Spark executor.

On a local master with local paths nothing moves: workers read the driver's files.  Otherwise
(a cluster, or a path with a scheme such as ``gs://``, ``s3a://``, ``hdfs://``) each file is
registered once with ``SparkContext.addFile``: Spark fetches it through the Hadoop file system
(the GCS connector on Dataproc, EMRFS/S3A on EMR, HDFS) once per executor, into the executor's
local work directory, and the worker opens the local copy (``SparkFiles.get``).  A FASTA travels
with its ``.fai`` (and ``.gzi`` when bgzipped), so pyfaidx finds them side by side.

A local FASTA without an index is indexed once, on the driver, as ``seqscore score`` does it
(:class:`~hail_seqscore.genome.Genome`: beside the FASTA, or in ``$SEQSCORE_HOME/faidx`` when
its folder is read-only), before any worker starts; a FASTA given as a URI must come with its
index, and the error says how to make one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, ReferenceUnavailableError
from ..models.registry import ANNOTATION_FILES, model_path

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(path: str) -> bool:
    """``gs://…``, ``s3a://…``, ``hdfs://…``, ``file://…`` (not a plain local path)."""
    return bool(_SCHEME.match(str(path)))


def reference_companions(reference: str) -> list[str]:
    """The index files that must sit beside a FASTA: ``.fai``, plus ``.gzi`` for bgzip."""
    out = [reference + ".fai"]
    if reference.endswith((".gz", ".bgz")):
        out.append(reference + ".gzi")
    return out


def fasta_index(reference: str) -> list[str]:
    """The index files of ``reference`` (``.fai``, and ``.gzi`` for bgzip), made now if a local
    FASTA has none (the one-line errors of :mod:`hail_seqscore.genome` if it cannot be).  A URI
    must have them beside it: :class:`ReferenceUnavailableError` says how to make them."""
    if is_uri(reference):
        if not _exists(reference):
            raise ReferenceUnavailableError(f"reference FASTA {reference} does not exist")
        for comp in reference_companions(reference):
            if not _exists(comp):
                raise ReferenceUnavailableError(
                    f"reference FASTA {reference} has no index {comp}; index a local copy "
                    f"(`samtools faidx`, or any `seqscore score` run with it) and upload "
                    f"its .fai{' and .gzi' if comp.endswith('.gzi') else ''} beside it")
        return reference_companions(reference)
    from ..genome import Genome  # noqa: PLC0415

    genome = Genome(reference)
    _ = genome.contigs                                # opens: checks, indexes if needed
    fai, gzi = genome.index_paths
    return [fai] + ([gzi] if gzi else [])


@dataclass
class ShipPlan:
    """What the workers are told (``settings``) and what the driver registered (``uris``)."""

    settings: dict = field(default_factory=dict)
    uris: list[str] = field(default_factory=list)
    reference_index: str | None = None       # the driver's path or URI of the FASTA's .fai


def _exists(path: str) -> bool:
    if is_uri(path):
        import hailtop.fs as hfs  # noqa: PLC0415

        return hfs.exists(path)
    return os.path.exists(path)


def plan_files(model: str, reference: str, annotation: str, *, ship: bool) -> ShipPlan:
    """Decide, per file, whether workers read it in place or get a shipped copy.

    ``ship`` forces shipping of local files too (what a cluster needs); URIs are always
    shipped."""
    plan = ShipPlan()
    index = fasta_index(reference)
    plan.reference_index = index[0]
    if not is_uri(model):
        model = str(model_path(model))          # a known name → its exported file (driver)
    if annotation in ANNOTATION_FILES:
        if ship:
            from ..annotation import builtin_table_path  # noqa: PLC0415

            annotation = str(builtin_table_path(annotation))
    elif not _exists(annotation):
        raise ConfigError(f"annotation {annotation!r} is neither grch37/grch38 nor an "
                          "existing file")
    names: dict[str, str] = {}
    for key, path, extra in (("model", model, []),
                             ("reference", reference, index),
                             ("annotation", annotation, [])):
        if key == "annotation" and annotation in ANNOTATION_FILES:
            plan.settings[key] = annotation
            continue
        if not (ship or is_uri(path)):
            plan.settings[key] = os.path.abspath(path)
            continue
        for p in [path, *extra]:
            base = os.path.basename(p.rstrip("/"))
            if names.get(base, p) != p:
                raise ConfigError(f"cannot ship {p} and {names[base]} to executors: both are "
                                  f"named {base}; rename one")
            names[base] = p
            plan.uris.append(p if is_uri(p) else Path(p).resolve().as_uri())
        plan.settings[key] = ("shipped", os.path.basename(path.rstrip("/")))
    return plan


def register(sc, plan: ShipPlan) -> None:
    """``sc.addFile`` each file once (Spark refuses a second registration of a name)."""
    registered = set(getattr(sc, "_seqscore_shipped", set()))
    for uri in plan.uris:
        if uri not in registered:
            sc.addFile(uri)
            registered.add(uri)
    sc._seqscore_shipped = registered
