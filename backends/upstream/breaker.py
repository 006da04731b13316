"""A circuit breaker: after enough failures in a row a remote store is deemed down for a while,
then one trial call decides whether it is back."""

from __future__ import annotations

import time
from collections.abc import Callable


class CircuitBreaker:
    """Closed (calls go), open (calls refused until ``reset`` seconds pass), half-open (one trial)."""

    def __init__(self, failures: int, reset: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures, self.reset, self.clock = failures, reset, clock
        self._failed = 0
        self._opened_at: float | None = None
        self._trial = False

    def wait(self) -> float | None:
        """Seconds until a call may go, or None when it may go now (it may be the trial)."""
        if self._opened_at is None:
            return None
        left = self._opened_at + self.reset - self.clock()
        if left > 0 or self._trial:
            return max(left, 0.0) or self.reset
        self._trial = True  # this caller makes the trial; others wait for its outcome
        return None

    @property
    def open(self) -> bool:
        return self._opened_at is not None

    def succeeded(self) -> None:
        self._failed, self._opened_at, self._trial = 0, None, False

    def failed(self) -> None:
        self._failed += 1
        if self._trial or self._failed >= self.failures:
            self.trip()

    def trip(self) -> None:
        """Deem the remote store down now (a failed trial, or unreachable at start)."""
        self._opened_at, self._trial = self.clock(), False
