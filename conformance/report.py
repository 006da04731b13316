"""Check outcomes: a result per check, a suite per API, and the whole run with its JSON form."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from conformance.rules import rule_for


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


LABELS = (("passed", Status.PASS), ("failed", Status.FAIL), ("skipped", Status.SKIP))


@dataclass(frozen=True)
class Result:
    """The outcome of one check on one resource (or on the whole API), with the exchange that failed."""

    name: str
    status: Status
    detail: str
    seconds: float = 0.0
    request: str = ""
    response: str = ""

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def check(self) -> str:
        """The check's name without the resource it ran on."""
        return self.name.split("[", 1)[0]

    def line(self) -> str:
        return f"{self.status.value} {self.name}: {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        rule = rule_for(self.name)
        return {
            "name": self.name,
            "family": self.family,
            "status": self.status.value,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
            "request": self.request,
            "response": self.response,
            "rule": None if rule is None else {"ref": rule.ref, "text": rule.text, "url": rule.url},
        }


def _counts(results: list[Result]) -> dict[str, int]:
    found = Counter(r.status for r in results)
    return {label: found[status] for label, status in LABELS}


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[label]} {label}" for label, _ in LABELS)


@dataclass
class Suite:
    """The results of one API: our checks, then the kit's assertions when ``--ctk`` ran one."""

    name: str
    title: str
    root: str
    spec: str
    results: list[Result] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return _counts(self.results)

    def summary(self) -> str:
        return _summary(self.counts())

    @property
    def ok(self) -> bool:
        return self.counts()["failed"] == 0

    def families(self) -> dict[str, list[Result]]:
        """The results grouped by family, in the order the families first ran."""
        grouped: dict[str, list[Result]] = {}
        for result in self.results:
            grouped.setdefault(result.family, []).append(result)
        return grouped

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "root": self.root,
            "spec": self.spec,
            "seconds": round(self.seconds, 3),
            "summary": self.counts(),
            "notes": self.notes,
            "results": [r.as_dict() for r in self.results],
        }


@dataclass
class Report:
    """A whole run: one suite per API checked."""

    suites: list[Suite] = field(default_factory=list)
    seconds: float = 0.0
    started: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    @property
    def results(self) -> list[Result]:
        return [r for suite in self.suites for r in suite.results]

    def counts(self) -> dict[str, int]:
        return _counts(self.results)

    def summary(self) -> str:
        return _summary(self.counts())

    @property
    def ok(self) -> bool:
        """True when no check failed: the exit status is 0 only then."""
        return self.counts()["failed"] == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "tool": "tmfgate conformance",
            "started": self.started,
            "seconds": round(self.seconds, 3),
            "summary": self.counts(),
            "apis": [suite.as_dict() for suite in self.suites],
        }

    def write_json(self, path: Path) -> None:
        """Write every suite, result and total to ``path``."""
        path.write_text(json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
