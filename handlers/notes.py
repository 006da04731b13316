"""Notes the gateway leaves on what it changes, saying what it did and why (failures with a code)."""

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


def failure(item_id: str, code: str, text: str, *, identified: bool = False) -> Document:
    """A note saying an order item failed, machine-readable too: TMF622 v4 has no ``errorMessage``, so
    the note is extended the TMF way (``@type``/``@baseType``) with the item's id and a stable code."""
    found = note(text, identified=identified)
    found.update({"@type": "OrderItemFailureNote", "@baseType": "Note", "orderItemId": item_id, "code": code})
    return found
