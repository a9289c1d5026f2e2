"""A score cache: Hail tables of scores keyed by locus/alleles, for one provenance, appended to.

Layout of ``path``:

* ``path/parts/<UTC time>-<id>.ht``: one part per run that scored something, holding only that
  run's new scores.  Each part is an ordinary Hail table (``hl.read_table(part)`` works) with
  the fields of :data:`~hail_seqscore.hail.schema.RESULT` and a ``provenance`` global.  A part
  counts once Hail has written its ``_SUCCESS``, which it writes last: a run killed while
  writing loses its own new scores and nothing else, and no run rewrites what is cached.
* ``path`` itself may also be a Hail table of that shape, read as the first part: what
  :func:`~hail_seqscore.hail.precompute.precompute_table` writes, or a cache of an earlier
  hail-seqscore (which rewrote one table).  It is never written to.

So a run costs time in proportion to what it scores, not to the cache's size.  When more than
``max_parts`` parts have been appended, :meth:`ScoreCache.compact` merges them into one (new
part written first, old ones removed after: a compaction killed midway leaves duplicates, which
lookups tolerate, never a gap); that rewrite every ``max_parts`` runs keeps the work per run
bounded on average.  Two runs may append at once (each writes its own part); a compaction
removes parts another run may be reading, so where runs overlap, give them a large
``max_parts`` and call :meth:`ScoreCache.compact` between runs.

Scores are reused only under the provenance that made them: same model file (sha256) — and so
the same kind and scorer, which decide the fields and the VCF key —, annotation (sha256),
reference (sha256 of its ``.fai``: contig names and lengths), distance, mask, precision, the
longest allele scored and the other scoring options.  The reference's path, the annotation's
name and the package version are recorded but may differ.
"""

from __future__ import annotations

import logging
import os
import time
import uuid

import hail as hl
import hailtop.fs as hfs

from ..errors import CacheProvenanceError, ConfigError, InputFormatError
from ..models.spec import OPTIONAL
from .files import is_uri
from .schema import RESULT, require_variant_key, result_rows

log = logging.getLogger(__name__)

#: Provenance fields that must match for cached scores to be reused.
IDENTITY = ("model", "model_version", "model_sha256", "kind", "scorer", "annotation_sha256",
            "reference_index_sha256", "distance", "mask", "pad_edges", "score_complex",
            "precision", "max_allele_length")
#: what a provenance written before a field existed means (caches made before kind/scorer
#: were recorded hold SpliceAI-shaped scores)
DEFAULTS = dict(OPTIONAL)
PARTS = "parts"
#: appended parts allowed before they are compacted into one
MAX_PARTS = 16


class ScoreCache:
    """Scores already computed, looked up before scoring; misses are scored and appended."""

    def __init__(self, path: str, max_parts: int = MAX_PARTS):
        if isinstance(max_parts, bool) or not isinstance(max_parts, int) or max_parts < 1:
            raise ConfigError(f"max_parts must be a whole number ≥ 1, got {max_parts!r}")
        path = str(path).rstrip("/")
        # a local path made absolute: hailtop's ls does not take relative ones
        self.path = path if is_uri(path) else os.path.abspath(path)
        self.max_parts = max_parts

    def __repr__(self) -> str:
        return f"ScoreCache({self.path!r})"

    # --- what is there ---------------------------------------------------------------------

    def base(self) -> str | None:
        """``path`` when it is itself a complete Hail table (a precompute output)."""
        return self.path if hfs.exists(f"{self.path}/_SUCCESS") else None

    def appended(self, complete: bool = True) -> list[str]:
        """The appended parts, oldest first: the complete ones, or (``complete=False``) those
        without ``_SUCCESS`` (being written now, or left by a run that was killed)."""
        try:
            entries = hfs.ls(f"{self.path}/{PARTS}")
        except FileNotFoundError:
            return []
        names = sorted(e.path.rstrip("/") for e in entries
                       if e.is_dir() and e.path.rstrip("/").endswith(".ht"))
        return [p for p in names if hfs.exists(f"{p}/_SUCCESS") == complete]

    def parts(self) -> list[str]:
        """Every complete table of the cache: the base (if any), then the appended parts."""
        base = self.base()
        return ([base] if base else []) + self.appended()

    def exists(self) -> bool:
        return bool(self.parts())

    def _read(self, part: str) -> "hl.Table":
        ht = hl.read_table(part)
        require_variant_key(ht, f"score cache {part}")
        missing = [f for f in RESULT if f not in ht.row_value]
        if missing == ["skipped"] and "provenance" in ht.globals:
            raise CacheProvenanceError(
                f"score cache {part} was written by an older hail-seqscore (its rows lack "
                "the per-ALT field 'skipped'); use a new cache path")
        if missing or "provenance" not in ht.globals:
            raise InputFormatError(f"{part} is not a seqscore score cache (it lacks "
                                   f"{', '.join(missing or ['the provenance global'])})")
        return ht

    def table(self) -> "hl.Table":
        """The cached scores of every part (keyed by locus/alleles; a key scored by two runs
        that appended at once may appear twice, with the same scores), with the first part's
        ``provenance`` global."""
        tables = [self._read(p) for p in self.parts()]
        if not tables:
            raise InputFormatError(f"score cache {self.path} holds no scores yet")
        return _union(tables)

    def provenance(self) -> dict | None:
        parts = self.parts()
        if not parts:
            return None
        return dict(hl.eval(self._read(parts[0]).index_globals().provenance))

    # --- checking and writing --------------------------------------------------------------

    def check(self, provenance: dict, locus_type=None) -> None:
        """Refuse (:class:`CacheProvenanceError`) a cache any part of which was made under
        another provenance or is keyed on another reference genome."""
        parts = self.parts()
        if not parts:
            return
        tables = [self._read(p) for p in parts]
        found = hl.eval(hl.tuple([t.index_globals().provenance for t in tables]))
        run = {**DEFAULTS, **provenance}
        for part, ht, prov in zip(parts, tables, found):
            cached = {**DEFAULTS, **dict(prov)}
            diffs = [f"{k}: cache has {cached.get(k)!r}, this run has {run.get(k)!r}"
                     for k in IDENTITY if cached.get(k) != run.get(k)]
            where = self.path if part == self.path else f"{self.path} (part {part})"
            if diffs:
                raise CacheProvenanceError(
                    f"score cache {where} was made with another provenance; its scores cannot "
                    f"be reused ({'; '.join(diffs)}). Use another cache path.")
            if locus_type is not None and ht.locus.dtype != locus_type:
                raise CacheProvenanceError(
                    f"score cache {where} is keyed by {ht.locus.dtype}, the table by "
                    f"{locus_type}; use one cache per reference genome")

    def add(self, scores: "hl.Table", provenance: dict) -> str:
        """Append ``scores`` (keyed by locus/alleles, fields of RESULT) as a new part; returns
        its path.  Compacts the parts when there are more than ``max_parts``."""
        scores = result_rows(scores).select_globals()
        self.check(provenance, scores.locus.dtype)
        part = self._new_part()
        scores.annotate_globals(provenance=hl.struct(**provenance)).write(part)
        log.info("score cache %s: appended %s", self.path, part)
        if len(self.appended()) > self.max_parts:
            self.compact()
        return part

    def compact(self) -> str | None:
        """Merge the appended parts into one (the base is left as it is); returns the new
        part, or None when there was at most one.  Parts still without ``_SUCCESS`` are left
        alone (a run may be writing them) and named in the log."""
        parts = self.appended()
        if len(parts) < 2:
            return None
        part = self._new_part()
        _union([self._read(p) for p in parts]).distinct().write(part)
        for p in parts:                     # only once the merged part is complete
            hfs.rmtree(p)
        left = self.appended(complete=False)
        log.info("score cache %s: %d parts compacted into %s%s", self.path, len(parts), part,
                 f"; incomplete parts left as they are: {', '.join(left)}" if left else "")
        return part

    def _new_part(self) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        return f"{self.path}/{PARTS}/{stamp}-{uuid.uuid4().hex[:12]}.ht"


def _union(tables: list["hl.Table"]) -> "hl.Table":
    """The result rows of ``tables`` (cache parts), in one table with the first one's
    ``provenance`` global."""
    rows = [result_rows(t).select_globals() for t in tables]
    union = rows[0].union(*rows[1:]) if len(rows) > 1 else rows[0]
    return union.annotate_globals(provenance=tables[0].index_globals().provenance)
