"""Running the selected checks against a server and collecting their results."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Iterator

import requests

from conformance.checks import FAMILIES, ApiCheck, Check
from conformance.context import Context, Fail, Skip
from conformance.report import Report, Result, Status


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


def _instances(ctx: Context, check: Check) -> Iterator[tuple[str, Callable[[], str]]]:
    if isinstance(check, ApiCheck):
        yield check.name, lambda: check.run(ctx)
        return
    for res in ctx.api.resources:
        yield f"{check.name}[{res.name}]", lambda res=res: check.run(ctx, res)  # type: ignore[misc]


def run_one(name: str, run: Callable[[], str]) -> Result:
    """Run one check; any exception becomes a FAIL, so one broken answer never stops the run."""
    try:
        return Result(name, Status.PASS, run())
    except Fail as exc:
        return Result(name, Status.FAIL, str(exc))
    except Skip as exc:
        return Result(name, Status.SKIP, str(exc))
    except requests.RequestException as exc:
        return Result(name, Status.FAIL, f"the request failed: {exc}")
    except Exception as exc:  # noqa: BLE001 - an unexpected answer shape is a failure, not a crash
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return Result(name, Status.FAIL, f"unexpected {type(exc).__name__}: {exc} (at {where.name}:{where.lineno})")


def run(ctx: Context, checks: list[Check], skips: Iterable[str], report: Report) -> Report:
    """Run ``checks`` for every resource of the API; ``skips`` are reported as SKIP without running."""
    skips = list(skips)
    try:
        for check in checks:
            for name, call in _instances(ctx, check):
                if excluded(name, skips):
                    report.add(Result(name, Status.SKIP, "excluded by --skip"))
                else:
                    report.add(run_one(name, call))
    finally:
        ctx.cleanup()
    return report
