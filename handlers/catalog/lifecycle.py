"""The lifecycle of catalog entries (TMF620, TMF633 ``lifecycleStatus``) and their versions.

An entry is designed (inStudy, inDesign), tested (inTest), put on sale (active, or launched for an
offering), retired from sale, then obsolete; a move that skips or reverses a step is a 409. Values
are compared case-insensitively (the demo file writes ``Active``). An entry on sale is not edited in
place: a change to anything but its status makes its next ``version`` (TMF620 §lifecycle).
"""

from __future__ import annotations

import re

from tmfgate.errors import BadRequest
from tmfgate.states import StateMachine
from tmfgate.types import Document

ON_SALE = frozenset({"active", "launched"})
_NAMES = ("inStudy", "inDesign", "inTest", "active", "launched", "retired", "obsolete", "rejected")
CANONICAL = {name.lower(): name for name in _NAMES}
ENTRIES = StateMachine(
    "catalog entry",
    {
        "inStudy": frozenset({"inDesign", "rejected"}),
        "inDesign": frozenset({"inTest", "rejected"}),
        "inTest": frozenset({"inDesign", "active", "launched", "rejected"}),
        "active": frozenset({"launched", "retired"}),
        "launched": frozenset({"active", "retired"}),
        "retired": frozenset({"launched", "obsolete"}),
        "obsolete": frozenset(),
        "rejected": frozenset(),
    },
)
FIRST = "inDesign"
# What may change on an entry on sale without making a new version: its status and bookkeeping.
_VERSIONLESS = frozenset({"lifecycleStatus", "lastUpdate", "version", "validFor"})
_NUMBERS = re.compile(r"^(\d+)(.*)$")


def status(entry: Document) -> str:
    """The entry's status in its canonical spelling; 400 for a value outside the lifecycle."""
    given = entry.get("lifecycleStatus")
    if given is None:
        return FIRST
    found = CANONICAL.get(str(given).lower())
    if found is None:
        raise BadRequest(f"lifecycleStatus {given!r} is not one of {', '.join(_NAMES)}.")
    return found


def on_sale(entry: Document) -> bool:
    return status(entry).lower() in ON_SALE


def check_move(old: Document, new: Document, kind: str) -> None:
    """409 unless ``old`` may move to ``new``'s status."""
    ENTRIES.check(status(old), status(new), f"{kind} {old.get('id')}")


def next_version(version: object) -> str:
    """The version after ``version``: its leading number plus one (``1.0`` -> ``2.0``), else ``2``."""
    match = _NUMBERS.match(str(version or "1"))
    if match is None:
        return f"{version}.2"
    return f"{int(match.group(1)) + 1}{'.0' if match.group(2) in ('', '.0') else match.group(2)}"


def revised(old: Document, new: Document) -> bool:
    """Whether the change to an entry on sale touches more than its status (so makes a new version)."""
    names = (set(old) | set(new)) - _VERSIONLESS
    return any(old.get(name) != new.get(name) for name in names)
