"""A pytest plugin that says which test is still running during a long stretch.

``pytest -q`` prints one dot per finished test, so a test that exports a model or runs a
real model over a real set can leave the terminal silent for minutes.  Each time the running
test passes another ``SEQSCORE_HEARTBEAT`` seconds (default 60; 0 turns it off) a line names
it and how long it has run, so ``make test`` never looks hung.
"""

from __future__ import annotations

import os
import threading
import time

import pytest


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get("SEQSCORE_HEARTBEAT", "60")))
    except ValueError:
        return 60.0


class Heartbeat:
    def __init__(self, config: pytest.Config, interval: float):
        self.config = config
        self.interval = interval
        self._stop = threading.Event()
        self._current: tuple[str, float, float] | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="pytest-heartbeat", daemon=True)
        self._thread.start()

    def _write(self, text: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        if capman is None:
            reporter.write_line(text)
            return
        # output capture redirects fds 1 and 2 while a test runs: lift it for one line,
        # as pytest-timeout does for its stack dumps
        with capman.global_and_fixture_disabled():
            reporter.write_line(text)

    def _run(self) -> None:
        # a line each time the running test passes another ``interval`` seconds: tests that
        # finish sooner print their dots as usual and no line
        while not self._stop.wait(min(5.0, self.interval)):
            with self._lock:
                current = self._current
                if current is None:
                    continue
                nodeid, started, mark = current
                elapsed = time.monotonic() - started
                if elapsed < mark:
                    continue
                self._current = (nodeid, started, mark + self.interval)
            self._write(f"  … still running {nodeid} ({elapsed / 60:.1f} min)")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        with self._lock:
            self._current = (item.nodeid, time.monotonic(), self.interval)
        yield
        with self._lock:
            self._current = None

    def stop(self) -> None:
        self._stop.set()


def pytest_configure(config: pytest.Config) -> None:
    interval = _interval()
    if interval > 0:
        config._seqscore_heartbeat = Heartbeat(config, interval)  # noqa: SLF001
        config.pluginmanager.register(config._seqscore_heartbeat, "seqscore-heartbeat")


def pytest_unconfigure(config: pytest.Config) -> None:
    beat = getattr(config, "_seqscore_heartbeat", None)
    if beat is not None:
        beat.stop()
