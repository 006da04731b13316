"""TMF621 v5 trouble ticket specifications: a resource v5 adds (v4 has none), served by the generic
operations with the dates the server sets: ``creationDate`` once, ``lastUpdate`` on every change."""

from __future__ import annotations

from tmfgate import operations, times
from tmfgate.calls import Call, Reply
from tmfgate.types import Document


def _created(call: Call, doc: Document) -> None:
    doc["creationDate"] = doc["lastUpdate"] = times.now()


def _changed(call: Call, old: Document, new: Document) -> None:
    if new != old:
        new["lastUpdate"] = times.now()


async def create(call: Call) -> Reply:
    """Create a specification, dated now."""
    return await operations.create(call, prepare=_created)


async def patch(call: Call) -> Reply:
    """Change a specification; a change that changes something moves its ``lastUpdate``."""
    return await operations.patch(call, check=_changed)
