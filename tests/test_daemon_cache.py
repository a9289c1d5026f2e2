"""The daemon's result cache (bounded LRU) and its Prometheus metrics text."""

import pytest

from hail_seqscore.daemon.cache import ResultCache
from hail_seqscore.daemon.metrics import DaemonMetrics, parse_exposition
from hail_seqscore.errors import ConfigError
from hail_seqscore.records import ErrorInfo, ScoreResult, Variant


def res(pos, code=None):
    v = Variant("1", pos, "A", "C")
    return ScoreResult(v, (), ErrorInfo(code, "x") if code else None)


def test_lru_evicts_the_least_recently_used():
    c = ResultCache(2, ("sha", "ref", "ann"))
    c.put((50, False), res(1))
    c.put((50, False), res(2))
    assert c.get((50, False), res(1).variant) == res(1)     # 1 is now the most recent
    c.put((50, False), res(3))
    assert c.get((50, False), res(2).variant) is None
    assert c.get((50, False), res(3).variant) == res(3)
    assert len(c) == 2 and (c.hits, c.misses) == (2, 1)


def test_key_holds_parameters_and_namespace():
    c = ResultCache(10, ("sha1", "ref", "ann"))
    c.put((50, False), res(1))
    assert c.get((50, True), res(1).variant) is None
    assert c.get((500, False), res(1).variant) is None
    c.set_namespace("sha2", "ref", "ann")                    # another model file
    assert c.get((50, False), res(1).variant) is None and len(c) == 0


def test_internal_errors_are_not_cached_but_variant_errors_are():
    c = ResultCache(10)
    c.put((50, False), res(1, "INTERNAL"))
    c.put((50, False), res(2, "REF_MISMATCH"))
    assert c.get((50, False), res(1).variant) is None
    assert c.get((50, False), res(2).variant).error.code == "REF_MISMATCH"


def test_size_zero_disables_and_negative_is_refused():
    c = ResultCache(0)
    c.put((50, False), res(1))
    assert c.get((50, False), res(1).variant) is None and len(c) == 0
    with pytest.raises(ConfigError, match="cache-size"):
        ResultCache(-1)


def test_metrics_exposition():
    m = DaemonMetrics(queue_depth=lambda: 7)
    m.requests.inc(1, "/v1/score", "200")
    m.requests.inc(1, "/v1/score", "200")
    for size in (1, 3, 64):
        m.observe_batch(size, 0.01)
    m.latency.observe(0.2, "toy")
    text = m.render()
    assert "# TYPE seqscore_batch_size histogram" in text
    got = parse_exposition(text)
    assert got['seqscore_requests_total{route="/v1/score",status="200"}'] == 2
    assert got['seqscore_batch_size_bucket{le="1"}'] == 1
    assert got['seqscore_batch_size_bucket{le="4"}'] == 2
    assert got['seqscore_batch_size_bucket{le="+Inf"}'] == 3
    assert got["seqscore_batch_size_sum"] == 68 and got["seqscore_batch_size_count"] == 3
    assert got["seqscore_queue_depth"] == 7
    assert got['seqscore_request_latency_seconds_bucket{model="toy",le="0.1"}'] == 0
    assert got['seqscore_request_latency_seconds_bucket{model="toy",le="0.25"}'] == 1
    assert got['seqscore_request_latency_seconds_count{model="toy"}'] == 1


def test_contig_aliases_and_allele_case_share_one_entry_echoing_the_caller():
    c = ResultCache(10, ("sha", "ref", "ann"))
    first = ScoreResult(Variant("chr21", 5, "A", "C"), (),
                        ErrorInfo("REF_MISMATCH", "chr21:5:A>C: REF A does not match"))
    c.put((50, False), first)
    for contig in ("21", "chr21"):
        for ref, alt in (("A", "C"), ("a", "c")):
            v = Variant(contig, 5, ref, alt)
            hit = c.get((50, False), v)
            assert hit.variant == v and hit.error.code == "REF_MISMATCH"
            assert hit.error.message.startswith(f"{contig}:5:{ref}>{alt}:")
    assert len(c) == 1
    c.put((50, False), res(9))                       # contig "1"
    for mito in ("chrM", "MT", "M", "chrMT"):
        c.put((50, False), ScoreResult(Variant(mito, 7, "A", "C"), ()))
    assert len(c) == 3                               # the four spellings of chrM: one entry
    assert c.get((50, False), Variant("chr1", 9, "A", "C")) is not None
    assert c.get((50, False), Variant("chr2", 9, "A", "C")) is None
    assert c.get((50, False), Variant("21", 6, "A", "C")) is None
