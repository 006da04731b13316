"""The lifecycle of catalog entries (TMF620, TMF633 ``lifecycleStatus``) and their versions.

An entry is designed (inStudy, inDesign), tested (inTest), put on sale (active, or launched for an
offering), retired from sale, then obsolete; a move that skips or reverses a step is a 409. Values
are compared case-insensitively (the demo file writes ``Active``). TMF620 leaves the attribute a free
string, so a status of an operator's own is kept as given and counts as a step before design: from
it an entry moves to another such status or into the lifecycle at inStudy or inDesign, never straight
on sale. An entry on sale is not edited in place: a change to anything but its status makes its next
``version``.
"""

from __future__ import annotations

import re

from tmfgate.errors import BadRequest, Conflict
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
_ENTRY_POINTS = frozenset({"inStudy", "inDesign", "rejected"})
# What may change on an entry on sale without making a new version: its status and bookkeeping.
_VERSIONLESS = frozenset({"lifecycleStatus", "lastUpdate", "version", "validFor"})
_NUMBERS = re.compile(r"^(\d+)(.*)$")


def status(entry: Document) -> str:
    """The entry's status in its canonical spelling (one of the operator's own as given)."""
    given = entry.get("lifecycleStatus")
    if given is None:
        return FIRST
    if not isinstance(given, str) or not given:
        raise BadRequest(f"lifecycleStatus must be a text such as {FIRST}; it is {given!r}.")
    return CANONICAL.get(given.lower(), given)


def on_sale(entry: Document) -> bool:
    return status(entry).lower() in ON_SALE


def check_move(old: Document, new: Document, kind: str) -> None:
    """409 unless ``old`` may move to ``new``'s status."""
    before, after = status(old), status(new)
    if before not in ENTRIES.states and (after not in ENTRIES.states or after in _ENTRY_POINTS):
        return  # an operator's own step before design, or the lifecycle's first steps
    if before not in ENTRIES.states or after not in ENTRIES.states:
        hint = ", ".join(sorted(_ENTRY_POINTS)) if before not in ENTRIES.states else ", ".join(_NAMES)
        raise Conflict(
            f"The {kind} {old.get('id')} cannot change from {before} to {after}: the lifecycle is "
            f"{', '.join(_NAMES)}, entered at {hint}.",
            reason="Illegal state change",
        )
    ENTRIES.check(before, after, f"{kind} {old.get('id')}")


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
