"""A small progress line on stderr: records done, variants/s and ETA.  Silent when stderr is
not a terminal unless forced, so logs of batch jobs stay clean."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int | None, *, enabled: bool | None = None, stream=None,
                 unit: str = "records", min_interval: float = 0.5):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = total
        self.unit = unit
        self.done = 0
        self.t0 = time.monotonic()
        self._last = 0.0
        self.min_interval = min_interval
        self._closed = False

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self._last >= self.min_interval
                             or (self.total is not None and self.done >= self.total)):
            self._last = now
            self.stream.write("\r" + self.line(now) + " " * 4)
            self.stream.flush()

    @property
    def rate(self) -> float:
        dt = time.monotonic() - self.t0
        return self.done / dt if dt > 0 else 0.0

    def line(self, now: float | None = None) -> str:
        dt = (now or time.monotonic()) - self.t0
        rate = self.done / dt if dt > 0 else 0.0
        if self.total:
            pct = 100.0 * self.done / self.total
            eta = (self.total - self.done) / rate if rate > 0 else float("nan")
            return (f"{self.done}/{self.total} {self.unit} ({pct:.0f}%), {rate:.1f}/s, "
                    f"ETA {_fmt(eta)}")
        return f"{self.done} {self.unit}, {rate:.1f}/s, {_fmt(dt)} elapsed"

    def close(self) -> None:
        """End the progress line (once; later calls do nothing)."""
        if self.enabled and not self._closed:
            self._closed = True
            self.stream.write("\n")
            self.stream.flush()


def _fmt(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "?"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
