"""The two shapes of a check: one run per resource of the spec, or one run for the whole API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conformance.context import Context
from conformance.spec import Resource


@dataclass(frozen=True)
class ResourceCheck:
    """Runs once for every resource; returns the PASS detail, raises ``Fail`` or ``Skip``."""

    name: str
    run: Callable[[Context, Resource], str]
    reads_only: bool = False  # creates, changes and deletes nothing: runs under --read-only


@dataclass(frozen=True)
class ApiCheck:
    """Runs once for the API; returns the PASS detail, raises ``Fail`` or ``Skip``."""

    name: str
    run: Callable[[Context], str]
    reads_only: bool = False  # creates, changes and deletes nothing: runs under --read-only


Check = ResourceCheck | ApiCheck
