"""JSON log lines: one object a line with the record's fields; the request line; the logging configuration."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from tmfgate.logs import REQUESTS, JsonFormatter, RequestLines, config


def test_a_record_is_one_json_object_with_its_extra_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "tmfgate", "levelname": "WARNING", "msg": "slow %s", "args": ("store",), "created": 0.0, "api": "x"}
    )
    line = json.loads(JsonFormatter().format(record))
    assert line == {"time": "1970-01-01T00:00:00.000+00:00", "level": "warning", "logger": "tmfgate",
                    "message": "slow store", "api": "x"}  # fmt: skip
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert "ValueError: boom" in json.loads(JsonFormatter().format(record))["exception"]


def test_a_request_line_is_one_write_of_a_json_object_with_its_fields(tmp_path: Path) -> None:
    path = tmp_path / "requests.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    lines = RequestLines(fd)
    lines.write(correlation_id="c-1", api="tmf622", operation="createProductOrder", status=201, seconds=0.0123)
    lines.write(correlation_id="c-2", api="none", operation="none", status=404, seconds=0.001)
    os.close(fd)
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert first.pop("time").endswith("+00:00")
    assert first == {
        "level": "info", "logger": REQUESTS, "message": "tmf622 createProductOrder 201 in 12.3 ms",
        "correlation_id": "c-1", "api": "tmf622", "operation": "createProductOrder", "status": 201,
        "duration_ms": 12.3,
    }  # fmt: skip
    assert (second["correlation_id"], second["status"]) == ("c-2", 404)


def test_the_configuration_formats_as_asked() -> None:
    json_config, text_config = config("json", "info"), config("text", "debug")
    assert json_config["formatters"]["default"] == {"()": "tmfgate.logs.JsonFormatter"}
    assert "format" in text_config["formatters"]["default"]
    assert text_config["loggers"]["uvicorn.error"]["level"] == "DEBUG" and text_config["root"]["level"] == "DEBUG"
