"""A score cache: a Hail Table of scores keyed by locus/alleles, for one provenance.

The table at ``path`` is an ordinary Hail table (``hl.read_table(path)`` works) with the
fields of :data:`~hail_seqscore.hail.schema.RESULT` and a ``provenance`` global.  Scores are
reused only under the provenance that made them: same model file (sha256) — and so the same
kind and scorer, which decide the fields and the VCF key —, annotation (sha256),
reference (sha256 of its ``.fai``: contig names and lengths), distance, mask, precision, the
longest allele scored and the other scoring options.  The reference's path, the annotation's
name and the package version are recorded but may differ.
"""

from __future__ import annotations

import logging

import hail as hl
import hailtop.fs as hfs

from ..errors import CacheProvenanceError, InputFormatError
from ..models.spec import OPTIONAL
from .schema import RESULT, require_variant_key

log = logging.getLogger(__name__)

#: Provenance fields that must match for cached scores to be reused.
IDENTITY = ("model", "model_version", "model_sha256", "kind", "scorer", "annotation_sha256",
            "reference_index_sha256", "distance", "mask", "pad_edges", "score_complex",
            "precision", "max_allele_length")
#: what a provenance written before a field existed means (caches made before kind/scorer
#: were recorded hold SpliceAI-shaped scores)
DEFAULTS = dict(OPTIONAL)


class ScoreCache:
    """Scores already computed, looked up before scoring; misses are scored and added."""

    def __init__(self, path: str):
        self.path = str(path).rstrip("/")

    def __repr__(self) -> str:
        return f"ScoreCache({self.path!r})"

    def exists(self) -> bool:
        return hfs.exists(f"{self.path}/_SUCCESS")

    def table(self) -> "hl.Table":
        """The cached scores (keyed by locus/alleles)."""
        ht = hl.read_table(self.path)
        require_variant_key(ht, f"score cache {self.path}")
        missing = [f for f in RESULT if f not in ht.row_value]
        if missing == ["skipped"] and "provenance" in ht.globals:
            raise CacheProvenanceError(
                f"score cache {self.path} was written by an older hail-seqscore (its rows lack "
                "the per-ALT field 'skipped'); use a new cache path")
        if missing or "provenance" not in ht.globals:
            raise InputFormatError(f"{self.path} is not a seqscore score cache (it lacks "
                                   f"{', '.join(missing or ['the provenance global'])})")
        return ht

    def provenance(self) -> dict | None:
        if not self.exists():
            return None
        return dict(hl.eval(self.table().globals.provenance))

    def check(self, provenance: dict, locus_type=None) -> None:
        """Refuse (:class:`CacheProvenanceError`) a cache made under another provenance or
        keyed on another reference genome."""
        if not self.exists():
            return
        ht = self.table()
        cached = {**DEFAULTS, **dict(hl.eval(ht.globals.provenance))}
        run = {**DEFAULTS, **provenance}
        diffs = [f"{k}: cache has {cached.get(k)!r}, this run has {run.get(k)!r}"
                 for k in IDENTITY if cached.get(k) != run.get(k)]
        if diffs:
            raise CacheProvenanceError(
                f"score cache {self.path} was made with another provenance; its scores cannot "
                f"be reused ({'; '.join(diffs)}). Use another cache path.")
        if locus_type is not None and ht.locus.dtype != locus_type:
            raise CacheProvenanceError(
                f"score cache {self.path} is keyed by {ht.locus.dtype}, the table by "
                f"{locus_type}; use one cache per reference genome")

    def add(self, scores: "hl.Table", provenance: dict) -> None:
        """Merge ``scores`` (keyed by locus/alleles, fields of RESULT) into the cache.

        Written to a temporary table first, then to ``path``: Hail cannot overwrite a table
        that the same pipeline reads."""
        scores = scores.select(**{f: scores[f] for f in RESULT}).select_globals()
        if self.exists():
            self.check(provenance, scores.locus.dtype)
            old = self.table().select_globals()
            merged = old.union(scores).distinct()
            tmp = hl.utils.new_temp_file("seqscore_cache", "ht")
            merged.write(tmp)
            merged = hl.read_table(tmp)
        else:
            merged = scores
        merged = merged.annotate_globals(provenance=hl.struct(**provenance))
        merged.write(self.path, overwrite=True)
        log.info("score cache %s updated", self.path)
