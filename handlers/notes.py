"""Notes the gateway leaves on what it changes, saying what it did and why."""

from __future__ import annotations

from tmfgate import times
from tmfgate.ids import new_id
from tmfgate.types import Document

AUTHOR = "tmfgate"


def note(text: str, *, identified: bool = False) -> Document:
    """A note of the gateway's, with an id when ``identified`` (TMF641 v4 requires one on service orders)."""
    if identified:
        return {"id": new_id(), "author": AUTHOR, "date": times.now(), "text": text}
    return {"author": AUTHOR, "date": times.now(), "text": text}
