"""Score through a running daemon exactly as in process: one result per variant, always.

A variant the daemon would refuse (POS 0, bad bases, …) gets its own error result instead of
failing the whole request: it is checked here first with the engine's own rules, and a daemon
that still answers a whole-request 400 naming ``variants[i]`` gets that variant marked and the
rest sent again.  A 413 (too many variants for this daemon) halves the request size.  Errors
that concern every variant (token, unreachable daemon, unknown model) are raised.
"""

from __future__ import annotations

import re
from typing import Sequence

from .client import Client
from .errors import InvalidVariantError, PayloadTooLargeError, RequestError
from .records import ErrorInfo, ScoreResult, Variant
from .variants import validate

_FIELD = re.compile(r"variants\[(\d+)\]")


class ServerScorer:
    """``scorer(variants) -> list[ScoreResult]`` through ``client``, in input order.

    ``check_locally=False`` sends every variant as it is (the daemon then judges them all)."""

    def __init__(self, client: Client, *, distance: int | None = None,
                 mask: bool | None = None, model: str | None = None,
                 check_locally: bool = True):
        self.client = client
        self.params = {"distance": distance, "mask": mask, "model": model}
        self.check_locally = check_locally
        self.request_size = client.chunk_size

    def __call__(self, variants: Sequence[Variant]) -> list[ScoreResult]:
        variants = list(variants)
        results: list[ScoreResult | None] = [None] * len(variants)
        pending: list[int] = []
        for i, v in enumerate(variants):
            if self.check_locally:
                try:
                    validate(v)
                except InvalidVariantError as exc:
                    results[i] = ScoreResult(v, error=ErrorInfo(exc.code, exc.message))
                    continue
            pending.append(i)
        while pending:
            batch = pending[:self.request_size]
            try:
                got = self.client.score([variants[i] for i in batch], **self.params)
            except PayloadTooLargeError:
                if self.request_size == 1:
                    raise
                self.request_size = max(1, self.request_size // 2)
                continue
            except RequestError as exc:
                j = _refused_index(exc, len(batch))
                if j is None:
                    raise
                code = "INVALID_VARIANT" if exc.code == RequestError.code else exc.code
                i = pending.pop(j)
                results[i] = ScoreResult(variants[i], error=ErrorInfo(code, exc.message))
                continue
            for i, r in zip(batch, got):
                results[i] = r
            del pending[:len(batch)]
        return results   # type: ignore[return-value]   # every slot is filled above


def _refused_index(exc: RequestError, n: int) -> int | None:
    """The index of the variant a whole-request error names (``variants[3].pos``), if any."""
    m = _FIELD.match(exc.field or "")
    if m is None:
        return None
    j = int(m.group(1))
    return j if j < n else None
