"""The memory store: documents and the outbox held in this process (``memory://``)."""

from __future__ import annotations

from .store import MemoryBackend

__all__ = ["MemoryBackend"]
