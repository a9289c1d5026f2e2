"""Dynamic batching: variants from concurrent requests → model batches in one worker thread.

Requests put variants on a bounded queue (:meth:`Batcher.submit`) and await one future per
variant.  A single asyncio task forms a batch as soon as ``max_batch`` variants wait, or when
the oldest waiting variant has waited ``max_delay_ms``; it hands the batch to ONE dedicated
worker thread (the model releases the GIL, so the event loop keeps serving) and resolves each
future with its own result.  Each variant carries a group (its request's model and engine
settings, e.g. ``(model, distance, mask)``) and a batch holds one group only: the oldest
waiting variant's, with the next variants of that group in queue order (the others keep their
place), so one batch is one call of the scoring function and never mixes models.

One bad variant never fails its batch or its request: if the scoring function raises for a
group, the worker retries that group's variants one at a time and gives only the failing ones
an ``INTERNAL`` error.  A cancelled future (its client went away) is skipped, never scored.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Hashable, Sequence

from ..errors import ConfigError, ServiceBusyError
from ..records import ErrorInfo, ScoreResult, Variant

log = logging.getLogger(__name__)

ScoreFn = Callable[[Hashable, Sequence[Variant]], Sequence[ScoreResult]]
INTERNAL = "INTERNAL"

MAX_BATCH_LIMIT = 65_536
MAX_DELAY_MS_LIMIT = 60_000.0


@dataclass(frozen=True)
class BatchSettings:
    """``max_batch``: most variants per model batch; ``max_delay_ms``: longest a variant waits
    for others to join its batch; ``max_queue``: most variants waiting before requests are
    refused (HTTP 503)."""

    max_batch: int = 64
    max_delay_ms: float = 5.0
    max_queue: int = 20_000

    def __post_init__(self):
        mb, md, mq = self.max_batch, self.max_delay_ms, self.max_queue
        if isinstance(mb, bool) or not isinstance(mb, int) or not 1 <= mb <= MAX_BATCH_LIMIT:
            raise ConfigError(f"max-batch must be an integer from 1 to {MAX_BATCH_LIMIT}, "
                              f"got {mb!r}")
        if isinstance(md, bool) or not isinstance(md, (int, float)) or md != md \
                or not 0 <= md <= MAX_DELAY_MS_LIMIT:
            raise ConfigError(f"max-delay-ms must be a number from 0 to {MAX_DELAY_MS_LIMIT:g}, "
                              f"got {md!r}")
        if isinstance(mq, bool) or not isinstance(mq, int) or mq < mb:
            raise ConfigError(f"max-queue must be an integer >= max-batch ({mb}), got {mq!r}")


class _Item:
    __slots__ = ("group", "variant", "future", "t_enqueued")

    def __init__(self, group: Hashable, variant: Variant, future: asyncio.Future, t: float):
        self.group, self.variant, self.future, self.t_enqueued = group, variant, future, t


class Batcher:
    """Collects variants into batches for ``score_fn(group, variants) -> results``.

    ``on_batch(size, seconds, group)`` (optional) is called in the event loop after each
    batch."""

    def __init__(self, score_fn: ScoreFn, settings: BatchSettings | None = None, *,
                 on_batch: Callable[[int, float, Hashable], None] | None = None):
        self.score_fn = score_fn
        self.settings = settings or BatchSettings()
        self.on_batch = on_batch
        self._pending: collections.deque[_Item] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._closing = False
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seqscore-model")
        self.batches = 0

    # ---- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._wakeup = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="batcher")

    async def stop(self) -> None:
        """Score what is already queued, then stop the task and the worker thread."""
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None
        self.executor.shutdown(wait=True)

    async def run_in_worker(self, fn: Callable, *args):
        """Run ``fn`` in the model's worker thread (warm-up, provenance)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    @property
    def depth(self) -> int:
        """Variants waiting for a batch."""
        return len(self._pending)

    # ---- requests ------------------------------------------------------------------------
    def submit(self, group: Hashable, variants: Sequence[Variant]) -> list[asyncio.Future]:
        """Queue ``variants``; all or none.  Raises :class:`ServiceBusyError` when they do not
        fit in the queue, or when the batcher is stopping."""
        if self._closing or self._task is None:
            raise ServiceBusyError("the server is shutting down" if self._closing
                                   else "the batcher is not running")
        if len(self._pending) + len(variants) > self.settings.max_queue:
            raise ServiceBusyError(
                f"queue full: {len(self._pending)} variants waiting, {len(variants)} more "
                f"would exceed max-queue {self.settings.max_queue}; retry later")
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        futures = []
        for v in variants:
            fut = loop.create_future()
            self._pending.append(_Item(group, v, fut, now))
            futures.append(fut)
        if futures:
            self._wakeup.set()  # type: ignore[union-attr]
        return futures

    async def score(self, group: Hashable, variants: Sequence[Variant]) -> list[ScoreResult]:
        """Submit and await; cancelling this cancels the variants still waiting."""
        futures = self.submit(group, variants)
        try:
            return list(await asyncio.gather(*futures))
        except asyncio.CancelledError:
            for f in futures:
                f.cancel()
            raise

    # ---- the batching task ---------------------------------------------------------------
    async def _run(self) -> None:
        wakeup = self._wakeup
        assert wakeup is not None
        max_batch = self.settings.max_batch
        max_delay = self.settings.max_delay_ms / 1000.0
        while True:
            while not self._pending:
                if self._closing:
                    return
                wakeup.clear()
                await wakeup.wait()
            deadline = self._pending[0].t_enqueued + max_delay
            while len(self._pending) < max_batch and not self._closing:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    break
                wakeup.clear()
                try:
                    await asyncio.wait_for(wakeup.wait(), timeout)
                except asyncio.TimeoutError:
                    break
            batch = self._take(max_batch)
            if batch:
                await self._dispatch(batch)

    def _take(self, max_batch: int) -> list[_Item]:
        """The next batch: up to ``max_batch`` waiting variants of the oldest one's group, in
        queue order; variants of other groups keep their places.  Cancelled ones are dropped."""
        batch: list[_Item] = []
        others: list[_Item] = []
        pending = self._pending
        while pending and len(batch) < max_batch:
            item = pending.popleft()
            if item.future.done():            # cancelled: its client went away
                continue
            if not batch or item.group == batch[0].group:
                batch.append(item)
            else:
                others.append(item)
        pending.extendleft(reversed(others))
        return batch

    async def _dispatch(self, batch: list[_Item]) -> None:
        t0 = time.perf_counter()
        group = batch[0].group
        variants = [item.variant for item in batch]
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self.executor, self._score_group, group,
                                                 variants)
        except BaseException as exc:  # noqa: BLE001 - the worker itself failed; answer everyone
            log.error("batch of %d variants failed: %s: %s", len(batch), type(exc).__name__,
                      exc)
            for item in batch:
                if not item.future.done():
                    item.future.set_result(_internal(item.variant, exc))
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for item, result in zip(batch, results):
            if not item.future.done():
                item.future.set_result(result)
        self.batches += 1
        if self.on_batch is not None:
            self.on_batch(len(batch), time.perf_counter() - t0, group)

    def _score_group(self, group: Hashable, variants: list[Variant]) -> list[ScoreResult]:
        """In the worker thread: one scoring call for the batch, isolating failures."""
        try:
            results = list(self.score_fn(group, variants))
            if len(results) != len(variants):
                raise RuntimeError(f"scoring returned {len(results)} results for "
                                   f"{len(variants)} variants")
        except Exception as exc:  # noqa: BLE001 - isolate the variant that breaks it
            log.warning("batch of %d failed (%s: %s); scoring its variants one by one",
                        len(variants), type(exc).__name__, exc)
            results = [self._score_one(group, v) for v in variants]
        return results

    def _score_one(self, group: Hashable, v: Variant) -> ScoreResult:
        try:
            (result,) = self.score_fn(group, [v])
            return result
        except Exception as exc:  # noqa: BLE001
            log.error("variant %s failed: %s: %s", v, type(exc).__name__, exc)
            return _internal(v, exc)


def _internal(v: Variant, exc: BaseException) -> ScoreResult:
    return ScoreResult(v, (), ErrorInfo(INTERNAL, f"{v}: internal error while scoring: "
                                                  f"{type(exc).__name__}: {exc}"))
