"""The adapter contract: a small class that keeps one or more TMF resource kinds in a system that does
not speak TMF (a legacy SQL schema, a CSV export, an element manager), installed as an entry point of
the group ``tmfgate.adapters`` and routed to with ``apis: {api: {adapter: {name: ..., url: ...}}}``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .routed import RemoteStore

GROUP = "tmfgate.adapters"


@dataclass(frozen=True)
class AdapterContext:
    """What an adapter is made with: its system's URL, where its resources' hrefs start, its options."""

    url: str
    base: str  # the API's base URL at the gateway: an href is ``{base}/{kind}/{id}``
    options: Mapping[str, Any] = field(default_factory=dict)


class Adapter(RemoteStore, Protocol):
    """A document store for ``kinds``: open, close, get, query and a transaction (``backends.base``).

    It answers TMF documents with the gateway's hrefs, runs filters, sorts and pages in its system
    (raising :class:`backends.errors.Unsupported` for what it cannot, which clients get as a 501),
    and refuses a document it cannot keep whole with :class:`backends.errors.UnstorableDocument`."""

    kinds: tuple[str, ...]


AdapterFactory = Callable[[AdapterContext], Adapter]  # what an entry point of the group names

__all__ = ["GROUP", "Adapter", "AdapterContext", "AdapterFactory"]
