"""The circuit breaker of an upstream: closed, open for a while after failures in a row, one trial."""

from __future__ import annotations

from backends.upstream.breaker import CircuitBreaker


def clocked(failures: int = 2, reset: float = 10) -> tuple[CircuitBreaker, list[float]]:
    now = [0.0]
    return CircuitBreaker(failures=failures, reset=reset, clock=lambda: now[0]), now


def test_the_breaker_opens_after_failures_and_lets_one_trial_through() -> None:
    breaker, now = clocked()
    breaker.failed()
    assert breaker.wait() is None
    breaker.failed()
    assert breaker.wait() == 10 and breaker.open
    now[0] = 10.5
    assert breaker.wait() is None  # the trial
    assert breaker.wait() == 10  # others wait for its outcome
    breaker.failed()  # the trial failed: open again, for a whole reset
    assert breaker.wait() == 10
    now[0] = 21
    assert breaker.wait() is None
    breaker.succeeded()
    assert breaker.wait() is None and not breaker.open


def test_a_success_between_failures_starts_the_count_again() -> None:
    breaker, _ = clocked(failures=3)
    for _ in range(2):
        breaker.failed()
    breaker.succeeded()
    for _ in range(2):
        breaker.failed()
    assert not breaker.open and breaker.wait() is None
    breaker.failed()
    assert breaker.open


def test_the_wait_counts_down_to_the_trial() -> None:
    breaker, now = clocked(reset=10)
    breaker.trip()  # unreachable at start: open at once, whatever the count
    now[0] = 4
    assert breaker.wait() == 6
    now[0] = 10
    assert breaker.wait() is None
