"""Prometheus metrics of the daemon, in the text exposition format (version 0.0.4).

A few small counter / gauge / histogram classes rather than a dependency; updated from the
event loop (and read by ``GET /metrics``), so they need no lock.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def _fmt(v: float) -> str:
    if v == math.inf:
        return "+Inf"
    if float(v).is_integer():
        return str(int(v))
    return repr(float(v))


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Metric:
    kind = ""

    def __init__(self, name: str, help_: str, labelnames: Sequence[str] = ()):
        self.name, self.help, self.labelnames = name, help_, tuple(labelnames)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def _key(self, labels: Sequence[str]) -> tuple[str, ...]:
        if len(labels) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {labels}")
        return tuple(str(x) for x in labels)


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name, help_, labelnames=()):
        super().__init__(name, help_, labelnames)
        self.values: dict[tuple[str, ...], float] = {} if labelnames else {(): 0.0}

    def inc(self, amount: float = 1.0, *labels: str) -> None:
        k = self._key(labels)
        self.values[k] = self.values.get(k, 0.0) + amount

    def get(self, *labels: str) -> float:
        return self.values.get(self._key(labels), 0.0)

    def render(self) -> list[str]:
        return self.header() + [f"{self.name}{_labels(self.labelnames, k)} {_fmt(v)}"
                                for k, v in sorted(self.values.items())]


class Gauge(_Metric):
    """A value read when scraped (``fn``) or set."""

    kind = "gauge"

    def __init__(self, name, help_, fn: Callable[[], float] | None = None):
        super().__init__(name, help_)
        self.fn, self.value = fn, 0.0

    def set(self, value: float) -> None:
        self.value = value

    def render(self) -> list[str]:
        v = self.fn() if self.fn is not None else self.value
        return self.header() + [f"{self.name} {_fmt(v)}"]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name, help_, buckets: Iterable[float], labelnames: Sequence[str] = ()):
        super().__init__(name, help_, labelnames)
        self.buckets = tuple(sorted(buckets)) + (math.inf,)
        #: per label values: [counts per bucket, sum, count]
        self.series: dict[tuple[str, ...], list] = {} if labelnames else {(): self._new()}

    def _new(self) -> list:
        return [[0] * len(self.buckets), 0.0, 0]

    def observe(self, value: float, *labels: str) -> None:
        k = self._key(labels)
        series = self.series.get(k)
        if series is None:
            series = self.series[k] = self._new()
        series[1] += value
        series[2] += 1
        for i, b in enumerate(self.buckets):
            if value <= b:
                series[0][i] += 1
                break

    def count(self, *labels: str) -> int:
        series = self.series.get(self._key(labels))
        return series[2] if series else 0

    def render(self) -> list[str]:
        lines = self.header()
        for k, (counts, total, n) in sorted(self.series.items()):
            running = 0
            for b, c in zip(self.buckets, counts):
                running += c
                le = 'le="' + _fmt(b) + '"'
                lines.append(f"{self.name}_bucket{_labels(self.labelnames, k, le)} {running}")
            labels = _labels(self.labelnames, k)
            lines += [f"{self.name}_sum{labels} {_fmt(total)}",
                      f"{self.name}_count{labels} {n}"]
        return lines


class DaemonMetrics:
    """Everything ``GET /metrics`` shows."""

    def __init__(self, queue_depth: Callable[[], float] = lambda: 0.0,
                 cache_entries: Callable[[], float] = lambda: 0.0):
        p = "seqscore"
        self.requests = Counter(f"{p}_requests_total", "HTTP requests by route and status",
                                ("route", "status"))
        self.variants = Counter(f"{p}_variants_total",
                                "variants answered, by model and outcome (scored, error, "
                                "cached)", ("model", "outcome"))
        self.cache_hits = Counter(f"{p}_cache_hits_total", "variants answered from the cache")
        self.cache_misses = Counter(f"{p}_cache_misses_total", "variants not in the cache")
        self.disconnects = Counter(f"{p}_client_disconnects_total",
                                   "requests whose client went away before the answer")
        self.rejected = Counter(f"{p}_rejected_total", "requests refused, by reason",
                                ("reason",))
        self.batch_size = Histogram(f"{p}_batch_size",
                                    "variants per model batch (one model per batch)",
                                    BATCH_BUCKETS)
        self.batches = Counter(f"{p}_batches_total", "model batches, by model", ("model",))
        self.batch_seconds = Histogram(f"{p}_batch_seconds", "time to score one batch",
                                       LATENCY_BUCKETS)
        self.latency = Histogram(f"{p}_request_latency_seconds",
                                 "POST /v1/score latency, body read to response, by model",
                                 LATENCY_BUCKETS, ("model",))
        self.queue_depth = Gauge(f"{p}_queue_depth", "variants waiting for a batch", queue_depth)
        self.cache_entries = Gauge(f"{p}_cache_entries", "results held in the cache",
                                   cache_entries)
        self.ready = Gauge(f"{p}_ready", "1 once every model is loaded")

    def observe_batch(self, size: int, seconds: float, model: str | None = None) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)
        if model is not None:
            self.batches.inc(1, model)

    def render(self) -> str:
        lines: list[str] = []
        for m in (self.requests, self.variants, self.cache_hits, self.cache_misses,
                  self.disconnects, self.rejected, self.batch_size, self.batches,
                  self.batch_seconds, self.latency, self.queue_depth, self.cache_entries,
                  self.ready):
            lines += m.render()
        return "\n".join(lines) + "\n"


def parse_exposition(text: str) -> dict[str, float]:
    """``{"name{labels}": value}`` of an exposition text (tests, benchmarks)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out
