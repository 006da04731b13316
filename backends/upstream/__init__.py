"""A remote TMF server of the same API as a document store: every operation forwarded over HTTP (httpx)."""

from __future__ import annotations

from .breaker import CircuitBreaker
from .store import UpstreamOptions, UpstreamStore

__all__ = ["CircuitBreaker", "UpstreamOptions", "UpstreamStore"]
