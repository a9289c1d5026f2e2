"""The dynamic batcher, driven by a plain Python scoring function (no model, no HTTP)."""

import asyncio
import threading
import time

import pytest

from hail_seqscore.daemon.batcher import Batcher, BatchSettings
from hail_seqscore.errors import ConfigError, ServiceBusyError
from hail_seqscore.records import ErrorInfo, GeneScore, ScoreResult, Variant


class Recorder:
    """Scores a variant as ``pos / 1000``; records each call's group, size and thread."""

    def __init__(self, delay: float = 0.0, fail_pos: int | None = None):
        self.calls: list[tuple] = []
        self.delay = delay
        self.fail_pos = fail_pos

    def __call__(self, group, variants):
        self.calls.append((group, len(variants), threading.current_thread().name))
        if self.delay:
            time.sleep(self.delay)
        if self.fail_pos is not None and any(v.pos == self.fail_pos for v in variants):
            raise RuntimeError("boom")
        return [ScoreResult(v, (GeneScore("G", "+", v.pos / 1000 + group, 0, 0, 0, 0, 0, 0, 0),))
                for v in variants]


def variants(n, start=1):
    return [Variant("1", start + i, "A", "C") for i in range(n)]


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize("kwargs, text", [
    ({"max_batch": 0}, "max-batch"), ({"max_batch": 1.5}, "max-batch"),
    ({"max_batch": True}, "max-batch"), ({"max_delay_ms": -1}, "max-delay-ms"),
    ({"max_delay_ms": float("nan")}, "max-delay-ms"), ({"max_delay_ms": "5"}, "max-delay-ms"),
    ({"max_batch": 64, "max_queue": 10}, "max-queue"),
])
def test_settings_are_validated(kwargs, text):
    with pytest.raises(ConfigError, match=text):
        BatchSettings(**kwargs)


def test_results_in_order_from_one_worker_thread():
    rec = Recorder()

    async def main():
        b = Batcher(rec, BatchSettings(max_batch=8, max_delay_ms=1))
        await b.start()
        out = await b.score(0, variants(30))
        await b.stop()
        return out

    out = run(main())
    assert [r.variant.pos for r in out] == list(range(1, 31))
    assert [r.scores[0].ds_ag for r in out] == [p / 1000 for p in range(1, 31)]
    assert max(size for _, size, _ in rec.calls) <= 8
    assert {t for _, _, t in rec.calls} == {"seqscore-model_0"}


def test_concurrent_requests_share_batches_and_each_gets_its_own():
    rec = Recorder(delay=0.005)
    sizes = []

    async def main():
        b = Batcher(rec, BatchSettings(max_batch=16, max_delay_ms=20),
                    on_batch=lambda n, s, g: sizes.append(n))
        await b.start()
        outs = await asyncio.gather(*(b.score(0, variants(3, start=100 * k))
                                      for k in range(20)))
        await b.stop()
        return outs

    outs = run(main())
    for k, out in enumerate(outs):
        assert [r.variant.pos for r in out] == [100 * k, 100 * k + 1, 100 * k + 2]
    assert sum(sizes) == 60 and max(sizes) > 3 and max(sizes) <= 16


def test_max_delay_bounds_the_wait_of_a_lone_variant():
    async def main():
        b = Batcher(Recorder(), BatchSettings(max_batch=1000, max_delay_ms=30))
        await b.start()
        t0 = time.perf_counter()
        await b.score(0, variants(1))
        dt = time.perf_counter() - t0
        await b.stop()
        return dt

    dt = run(main())
    assert 0.025 <= dt < 0.5


def test_full_batch_goes_without_waiting_for_the_delay():
    async def main():
        b = Batcher(Recorder(), BatchSettings(max_batch=4, max_delay_ms=5000))
        await b.start()
        t0 = time.perf_counter()
        await b.score(0, variants(4))
        dt = time.perf_counter() - t0
        await b.stop()
        return dt

    assert run(main()) < 1.0


def test_groups_are_scored_separately():
    rec = Recorder()

    async def main():
        b = Batcher(rec, BatchSettings(max_batch=64, max_delay_ms=20))
        await b.start()
        a, c = await asyncio.gather(b.score(0, variants(3)), b.score(5, variants(2)))
        await b.stop()
        return a, c

    a, c = run(main())
    assert [r.scores[0].ds_ag for r in a] == [0.001, 0.002, 0.003]
    assert [r.scores[0].ds_ag for r in c] == [5.001, 5.002]
    assert sorted((g, n) for g, n, _ in rec.calls) == [(0, 3), (5, 2)]


def test_one_failing_variant_never_fails_its_batch():
    rec = Recorder(fail_pos=3)

    async def main():
        b = Batcher(rec, BatchSettings(max_batch=64, max_delay_ms=10))
        await b.start()
        out = await asyncio.gather(b.score(0, variants(5)), b.score(0, variants(2, start=50)))
        await b.stop()
        return out

    first, second = run(main())
    assert [r.error.code if r.error else None for r in first] == [None, None, "INTERNAL",
                                                                  None, None]
    assert "boom" in first[2].error.message and "1:3:A>C" in first[2].error.message
    assert all(r.ok for r in second)


def test_queue_full_refuses_all_or_nothing():
    async def main():
        b = Batcher(Recorder(delay=0.2), BatchSettings(max_batch=4, max_delay_ms=0,
                                                      max_queue=10))
        await b.start()
        first = asyncio.ensure_future(b.score(0, variants(4)))
        await asyncio.sleep(0.05)               # the worker is busy with those 4
        held = b.submit(0, variants(8))
        assert b.depth == 8
        with pytest.raises(ServiceBusyError, match="queue full"):
            b.submit(0, variants(3))
        assert b.depth == 8                      # nothing of the refused request queued
        await first
        await asyncio.gather(*held)
        await b.stop()

    run(main())


def test_cancelled_variants_are_not_scored():
    rec = Recorder(delay=0.1)

    async def main():
        b = Batcher(rec, BatchSettings(max_batch=2, max_delay_ms=0))
        await b.start()
        busy = asyncio.ensure_future(b.score(0, variants(2)))
        await asyncio.sleep(0.02)
        gone = asyncio.ensure_future(b.score(0, variants(6, start=100)))
        await asyncio.sleep(0.01)
        gone.cancel()                            # its client went away
        other = await b.score(0, variants(1, start=500))
        await busy
        await b.stop()
        return other

    other = run(main())
    assert other[0].variant.pos == 500
    assert sum(n for _, n, _ in rec.calls) == 3   # the 6 cancelled never reached the model


def test_event_loop_keeps_running_while_the_model_works():
    async def main():
        b = Batcher(Recorder(delay=0.3), BatchSettings(max_batch=1, max_delay_ms=0))
        await b.start()
        ticks = 0
        job = asyncio.ensure_future(b.score(0, variants(1)))
        while not job.done():
            await asyncio.sleep(0.01)
            ticks += 1
        await b.stop()
        return ticks

    assert run(main()) >= 10


def test_stop_drains_what_is_queued_then_refuses():
    async def main():
        b = Batcher(Recorder(delay=0.01), BatchSettings(max_batch=2, max_delay_ms=0))
        await b.start()
        futs = b.submit(0, variants(7))
        await b.stop()
        assert all(f.done() and f.result().ok for f in futs)
        with pytest.raises(ServiceBusyError, match="shutting down"):
            b.submit(0, variants(1))

    run(main())


def test_wrong_result_count_falls_back_to_one_by_one():
    def short(group, vs):
        return [ScoreResult(v, ()) for v in vs][: max(1, len(vs) - 1)]

    async def main():
        b = Batcher(short, BatchSettings(max_batch=8, max_delay_ms=0))
        await b.start()
        out = await b.score(0, variants(3))
        await b.stop()
        return out

    out = run(main())
    assert [r.variant.pos for r in out] == [1, 2, 3] and all(r.ok for r in out)


def test_errors_from_the_engine_pass_through():
    def score(group, vs):
        return [ScoreResult(v, (), ErrorInfo("REF_MISMATCH", "no")) for v in vs]

    async def main():
        b = Batcher(score, BatchSettings())
        await b.start()
        out = await b.score(0, variants(2))
        await b.stop()
        return out

    assert [r.error.code for r in run(main())] == ["REF_MISMATCH"] * 2


def test_a_batch_holds_one_group_and_the_others_keep_their_order():
    rec = Recorder()
    seen = []

    async def main():
        b = Batcher(rec, BatchSettings(max_batch=64, max_delay_ms=50),
                    on_batch=lambda n, s, g: seen.append((g, n)))
        await b.start()
        # interleaved requests of two groups (two models), all waiting in one batching delay
        futs = [b.submit(g, variants(2, start=10 * k)) for k, g in enumerate((0, 7, 0, 7, 0))]
        out = [await asyncio.gather(*f) for f in futs]
        await b.stop()
        return out

    out = run(main())
    assert [(g, n) for g, n, _ in rec.calls] == [(0, 6), (7, 4)]
    assert seen == [(0, 6), (7, 4)]
    for k, (g, res) in enumerate(zip((0, 7, 0, 7, 0), out)):
        assert [r.scores[0].ds_ag for r in res] == [g + (10 * k + i) / 1000 for i in (0, 1)]


def test_a_full_batch_of_one_group_leaves_the_rest_queued_in_order():
    rec = Recorder()

    async def main():
        b = Batcher(rec, BatchSettings(max_batch=3, max_delay_ms=50))
        await b.start()
        futs = (b.submit(1, variants(2)) + b.submit(2, variants(2, 10))
                + b.submit(1, variants(2, 20)))
        await asyncio.gather(*futs)
        await b.stop()

    run(main())
    # the oldest group first; then the next oldest waiting variant's group
    assert [(g, n) for g, n, _ in rec.calls] == [(1, 3), (2, 2), (1, 1)]
