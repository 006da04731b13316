"""The SQL store: documents and the outbox in SQLite or PostgreSQL tables, through SQLAlchemy Core."""

from __future__ import annotations

from .store import SqlBackend

__all__ = ["SqlBackend"]
