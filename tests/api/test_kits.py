"""The TM Forum conformance kits (Postman collections), run with newman against a fresh gateway.

The kits live outside the project (``../shared/ctk``, or ``$TMFGATE_TEST_SHARED/ctk``); the test skips,
saying why, when they or newman are absent. CI installs newman (``npm install newman``) so the kits always run there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.shared import HOW, KITS

ROOT = Path(__file__).resolve().parents[2]
# kit -> the base path of the API it tests
SERVED = {
    "TMF622-v4.0.0": "/tmf-api/productOrderingManagement/v4/",
    "TMF639-v4.0.0": "/tmf-api/resourceInventoryManagement/v4/",
}


def newman() -> str | None:
    local = ROOT / "node_modules" / ".bin" / "newman"
    return os.environ.get("NEWMAN") or (str(local) if local.exists() else shutil.which("newman"))


@pytest.fixture
def fresh_gateway(tmp_path: Path) -> Iterator[str]:
    """``tmfgate serve`` as a user starts it, on an empty embedded store."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tmfgate", "serve", "--port", str(port), "--log-level", "warning"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(url + "/", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    pytest.fail(f"the gateway did not start:\n{output}")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout:
            process.stdout.close()


@pytest.mark.parametrize("kit", sorted(SERVED))
def test_conformance_kit(kit: str, fresh_gateway: str, tmp_path: Path) -> None:
    if not (KITS / kit).is_dir():
        pytest.skip(f"the TM Forum kit {kit} is not at {KITS} ({HOW})")
    command = newman()
    if command is None:
        pytest.skip("newman is not installed: run 'npm install newman' in the project folder")
    report = tmp_path / "report.json"
    result = subprocess.run(
        ["bash", str(KITS / "run_ctk.sh"), kit, fresh_gateway + SERVED[kit]],
        env={**os.environ, "NEWMAN": command, "REPORT": str(report)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.exists(), result.stdout + result.stderr
    stats = json.loads(report.read_text())["run"]["stats"]
    assert stats["assertions"]["total"] > 0
    assert stats["assertions"]["failed"] == 0, result.stdout[-6000:]
    assert stats["requests"]["failed"] == 0, result.stdout[-6000:]
    assert result.returncode == 0, result.stdout[-6000:]
