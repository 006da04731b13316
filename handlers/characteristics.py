"""Characteristics by name: a change replaces the one of the same name and keeps the others."""

from __future__ import annotations

from collections.abc import Iterable

from tmfgate.types import Document


def merged(kept: Iterable[Document], given: Iterable[Document]) -> list[Document]:
    """``kept`` with ``given`` laid over it by name: replaced ones stay in place, new ones come last."""
    values = {str(characteristic.get("name")): characteristic for characteristic in kept}
    values.update((str(characteristic.get("name")), characteristic) for characteristic in given)
    return list(values.values())
