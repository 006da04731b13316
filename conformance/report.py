"""Check outcomes: one printed line each, a summary line, and an optional JSON report."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TextIO


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


_LABELS = (("passed", Status.PASS), ("failed", Status.FAIL), ("skipped", Status.SKIP))


@dataclass(frozen=True)
class Result:
    """The outcome of one check on one resource (or on the whole API)."""

    name: str
    status: Status
    detail: str

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    def line(self) -> str:
        return f"{self.status.value} {self.name}: {self.detail}"


@dataclass
class Report:
    """Results in the order they ran; prints each as it arrives when given a stream."""

    stream: TextIO | None = None
    results: list[Result] = field(default_factory=list)

    def add(self, result: Result) -> None:
        self.results.append(result)
        if self.stream is not None:
            print(result.line(), file=self.stream, flush=True)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def ok(self) -> bool:
        return self.count(Status.FAIL) == 0

    def summary(self) -> str:
        return ", ".join(f"{self.count(s)} {label}" for label, s in _LABELS)

    def write_json(self, path: Path, **meta: str) -> None:
        """Write every result and the totals to ``path``."""
        document = {
            **meta,
            "summary": {label: self.count(s) for label, s in _LABELS},
            "results": [{**asdict(r), "status": r.status.value, "family": r.family} for r in self.results],
        }
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
