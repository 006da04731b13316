"""Type aliases shared by the core and the handlers."""

from __future__ import annotations

from typing import Any, TypeAlias

Document: TypeAlias = dict[str, Any]  # a resource as JSON: attribute name -> value
Headers: TypeAlias = list[tuple[bytes, bytes]]  # ASGI response headers, lower-case names

__all__ = ["Document", "Headers"]
