"""``tmfgate serve`` as a real process, for tests that kill, restart or signal it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.conftest import LOOPBACK_CALLBACKS, free_port

ANSWERS = "/tmf-api/productOrderingManagement/v4/productOrder?limit=1"


def log_of(folder: Path, url: str) -> Path:
    """Where :func:`served` writes the output of the gateway at ``url``."""
    return folder / f"gateway-{url.rsplit(':', 1)[1]}.out"


@contextmanager
def served(
    database_url: str, folder: Path, *options: str, env: Mapping[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``python -m tmfgate serve`` on a free port, run in ``folder`` with ``env`` over this
    process's environment; yields it and its URL once it answers, and stops it afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = log_of(folder, url)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tmfgate",
                "serve",
                "--port",
                str(port),
                "--database-url",
                database_url,
                "--log-level",
                "warning",
                *options,
            ],
            cwd=folder,
            env={**os.environ, "TMFGATE_RATE_LIMIT": "0", "TMFGATE_CALLBACK_HOSTS": LOOPBACK_CALLBACKS, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(url + ANSWERS, timeout=2).close()
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the gateway did not start:\n{log.read_text()}")
                time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
