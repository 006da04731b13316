"""Running the selected checks of one API against a server, in parallel when asked, and collecting results."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import requests

from conformance.checks import FAMILIES, ApiCheck, Check
from conformance.client import ReadOnlyError
from conformance.context import Context, Fail, Skip
from conformance.progress import Progress
from conformance.report import Result, Status, Suite


@dataclass(frozen=True)
class Instance:
    """One check bound to its resource (or to the API): what runs and how its result is named."""

    name: str
    call: Callable[[], str]
    reads_only: bool


def selected(families: Iterable[str] | None) -> list[Check]:
    """The checks of ``families`` (all when None), in registry order; unknown names raise ``ValueError``."""
    names = list(FAMILIES) if families is None else list(families)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise ValueError(f"Unknown check family {', '.join(unknown)}; choose from {', '.join(FAMILIES)}.")
    return [check for name in FAMILIES if name in names for check in FAMILIES[name]]


def excluded(name: str, skips: Iterable[str]) -> bool:
    """Whether ``--skip`` selectors cover the check ``name`` (a selector names a check, group or family)."""
    return any(name == s or name.startswith((f"{s}.", f"{s}[")) for s in skips)


def instances(ctx: Context, checks: list[Check]) -> list[Instance]:
    """Every check for every resource of the API, in registry order."""
    found: list[Instance] = []
    for check in checks:
        if isinstance(check, ApiCheck):
            found.append(Instance(check.name, partial(check.run, ctx), check.reads_only))
            continue
        for res in ctx.api.resources:
            found.append(Instance(f"{check.name}[{res.name}]", partial(check.run, ctx, res), check.reads_only))
    return found


def run_one(name: str, run: Callable[[], str], ctx: Context | None = None) -> Result:
    """Run one check; any exception becomes a FAIL, so one broken answer never stops the run."""
    if ctx is not None:
        ctx.client.forget()
    started = time.monotonic()
    try:
        status, detail = Status.PASS, run()
    except Fail as exc:
        status, detail = Status.FAIL, str(exc)
    except (Skip, ReadOnlyError) as exc:
        status, detail = Status.SKIP, str(exc)
    except requests.RequestException as exc:
        status, detail = Status.FAIL, f"the request failed: {exc}"
    except Exception as exc:  # noqa: BLE001 - an unexpected answer shape is a failure, not a crash
        where = traceback.extract_tb(exc.__traceback__)[-1]
        status, detail = Status.FAIL, f"unexpected {type(exc).__name__}: {exc} (at {where.name}:{where.lineno})"
    seconds = time.monotonic() - started
    last = ctx.client.last if ctx is not None and status is Status.FAIL else None
    if last is None:
        return Result(name, status, detail, seconds)
    return Result(name, status, detail, seconds, last.request, last.response)


def _planned(ctx: Context, instance: Instance, skips: list[str]) -> Result | None:
    """The SKIP result of an instance that must not run, or None when it runs."""
    if excluded(instance.name, skips):
        return Result(instance.name, Status.SKIP, "excluded by --skip")
    if ctx.options.read_only and not instance.reads_only:
        return Result(instance.name, Status.SKIP, "creates or changes data; left out by --read-only")
    return None


def run(
    ctx: Context, checks: list[Check], skips: Iterable[str], suite: Suite, progress: Progress, workers: int = 1
) -> Suite:
    """Run ``checks`` for every resource into ``suite``, ``workers`` at a time; then clean up."""
    skips = list(skips)
    todo = instances(ctx, checks)
    progress.start(suite.name, len(todo))
    started = time.monotonic()

    def execute(instance: Instance) -> Result:
        result = _planned(ctx, instance, skips) or run_one(instance.name, instance.call, ctx)
        progress.advance(result)
        return result

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="check") as pool:
            # map keeps the registry order in the report, whatever order the checks finish in.
            suite.results.extend(pool.map(execute, todo))
    finally:
        suite.notes.append(ctx.cleanup().line())
    suite.seconds = time.monotonic() - started
    progress.finish(suite)
    return suite
