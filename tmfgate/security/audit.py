"""The audit log: one JSON line per write and per refused access, never with a credential in it."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import IO

import orjson

from tmfgate import times
from tmfgate.errors import ConfigurationError


class AuditLog:
    """Appends audit records to a file, or to standard output for ``-``."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._lock = threading.Lock()  # several worker threads of one process may write at once
        self._file: IO[bytes] | None = None
        if target != "-":
            try:
                self._file = Path(target).open("ab", buffering=0)  # noqa: SIM115 - kept open while serving
            except OSError as exc:
                raise ConfigurationError(f"--audit-log {target} cannot be opened for appending: {exc}") from None

    def record(
        self,
        *,
        partner: str | None,
        api: str,
        operation: str,
        resource_id: str | None,
        status: int,
        correlation_id: str | None,
    ) -> None:
        """Write one record: what was done or refused, by whom, and how it was answered."""
        line = orjson.dumps(
            {
                "time": times.now(),
                "partner": partner,
                "api": api,
                "operation": operation,
                "resourceId": resource_id,
                "status": status,
                "correlationId": correlation_id,
            }
        )
        with self._lock:
            if self._file is not None:
                self._file.write(line + b"\n")
            else:
                sys.stdout.buffer.write(line + b"\n")
                sys.stdout.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


__all__ = ["AuditLog"]
