"""A bounded LRU of scored variants, keyed by everything that decides a score.

The key is (namespace, params, variant); the daemon's params are (the model's identity —
its sha256, reference, gene table and its sha256 —, distance, mask), so a cached result is only
reused for the same model file, reference, gene table and settings, and a daemon serving
several models never answers one model's request with another's score.  The
variant part is normalised as the engine resolves it: a contig and its aliases (``chr21`` /
``21``, ``chrM`` / ``MT`` / ``M``, see :func:`genome.contig_aliases`) are one contig, and REF/ALT
are compared upper-cased; a hit is answered with the variant as this request spelled it.
Results with an ``INTERNAL`` error are never cached (they may not recur).  Used from the event
loop only, so it needs no lock.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Hashable

from ..errors import ConfigError
from ..genome import contig_aliases
from ..records import ErrorInfo, ScoreResult, Variant

_NOT_CACHED = frozenset({"INTERNAL"})


class ResultCache:
    def __init__(self, max_entries: int, namespace: tuple = ()):
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 0:
            raise ConfigError(f"cache-size must be an integer >= 0, got {max_entries!r}")
        self.max_entries = max_entries
        self.namespace = tuple(namespace)
        self._data: OrderedDict[tuple, ScoreResult] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def set_namespace(self, *parts: Hashable) -> None:
        """Model sha256, reference and annotation identity; a change empties the cache."""
        if tuple(parts) != self.namespace:
            self.namespace = tuple(parts)
            self._data.clear()

    def key(self, params: Hashable, v: Variant) -> tuple:
        return (self.namespace, params, canonical_contig(v.contig), v.pos, v.ref.upper(),
                v.alt.upper())

    def get(self, params: Hashable, v: Variant) -> ScoreResult | None:
        if not self.max_entries:
            return None
        k = self.key(params, v)
        hit = self._data.get(k)
        if hit is None:
            self.misses += 1
            return None
        self._data.move_to_end(k)
        self.hits += 1
        if hit.variant == v:
            return hit
        error = hit.error
        if error is not None:     # its message names the variant as first spelled
            error = ErrorInfo(error.code, error.message.replace(str(hit.variant), str(v)))
        return ScoreResult(v, hit.scores, error)

    def put(self, params: Hashable, result: ScoreResult) -> None:
        if not self.max_entries or (result.error is not None
                                    and result.error.code in _NOT_CACHED):
            return
        k = self.key(params, result.variant)
        self._data[k] = result
        self._data.move_to_end(k)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()


def canonical_contig(name: str) -> str:
    """One name for a contig and all its aliases (the smallest of them)."""
    return min(contig_aliases(name))
