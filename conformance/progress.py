"""What a run shows while it goes: a bar per API on a terminal, a line per result elsewhere (a CI log)."""

from __future__ import annotations

import threading
from typing import TextIO

from conformance.report import Result, Status, Suite

WIDTH = 30


class Progress:
    """Reports each finished check; on a terminal, failures print above a redrawn bar."""

    def __init__(self, stream: TextIO, bar: bool | None = None, verbose: bool = False) -> None:
        self.stream = stream
        self.bar = stream.isatty() if bar is None else bar
        self.verbose = verbose
        self._lock = threading.Lock()
        self._name = ""
        self._done = 0
        self._total = 0
        self._failed = 0

    def start(self, name: str, total: int) -> None:
        """A new API begins with ``total`` checks to run."""
        with self._lock:
            self._name, self._done, self._total, self._failed = name, 0, total, 0
            if self.bar:
                self._draw("")
            else:
                print(f"{name}: {total} checks", file=self.stream, flush=True)

    def advance(self, result: Result) -> None:
        """One check finished (called from any worker thread)."""
        with self._lock:
            self._done += 1
            self._failed += result.status is Status.FAIL
            if not self.bar:
                print(result.line(), file=self.stream, flush=True)
                return
            if result.status is Status.FAIL or self.verbose:
                self.stream.write("\r\033[K" + result.line() + "\n")
            self._draw(result.name)

    def finish(self, suite: Suite) -> None:
        """The API is done: its totals and time, and the notes (cleanup) of the run."""
        with self._lock:
            if self.bar:
                self.stream.write("\r\033[K")
            for note in suite.notes:
                print(f"  {note}", file=self.stream)
            print(f"{suite.name}: {suite.summary()} in {suite.seconds:.1f}s", file=self.stream, flush=True)

    def _draw(self, current: str) -> None:
        filled = WIDTH * self._done // max(self._total, 1)
        failed = f", {self._failed} failed" if self._failed else ""
        line = f"{self._name} [{'#' * filled}{'.' * (WIDTH - filled)}] {self._done}/{self._total}{failed} {current}"
        self.stream.write("\r\033[K" + line[:160])
        self.stream.flush()
