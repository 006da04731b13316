"""The container: a slim image run as a user of its own with a health check, and compose.yaml bringing up the
gateway on PostgreSQL after its migration. The image is built when a docker daemon answers."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from tmfgate.notifications.brokers import BusAddress

ROOT = Path(__file__).resolve().parents[1]


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions of its final stage, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    parsed = [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]
    last = max(index for index, (word, _) in enumerate(parsed) if word == "FROM")
    return parsed[last:]


def test_the_image_is_slim_runs_as_its_own_user_and_checks_readiness() -> None:
    final = instructions()
    assert final[0][0] == "FROM" and final[0][1].endswith("-slim")
    users = [argument for word, argument in final if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    checks = [argument for word, argument in final if word == "HEALTHCHECK"]
    assert len(checks) == 1 and "/health/ready" in checks[0]
    assert ("ENTRYPOINT", '["tmfgate"]') in final


def test_compose_migrates_then_serves_on_postgresql() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"db", "nats", "migrate", "gateway"} <= services.keys()
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["gateway"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("migrate", "gateway"):
        assert services[name]["environment"]["TMFGATE_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "--jetstream" in services["nats"]["command"]
    # The gateway publishes its events to that NATS, whose client the image has (the [bus] extra).
    assert BusAddress.parse(services["gateway"]["environment"]["TMFGATE_EVENT_BUS"]).kind == "nats"
    assert "'.[bus]'" in (ROOT / "Dockerfile").read_text()


def test_the_image_builds_and_its_command_runs() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker is not installed: the image is not built")
    if subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode != 0:
        pytest.skip("no docker daemon answers (docker info fails): the image is not built")
    tag = f"tmfgate-test:{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run([docker, "build", "-t", tag, str(ROOT)], check=True, capture_output=True, timeout=900)
        version = subprocess.run([docker, "run", "--rm", tag, "--version"], capture_output=True, text=True, timeout=60)
        assert version.stdout.startswith("tmfgate ")
        user = subprocess.run(
            [docker, "run", "--rm", "--entrypoint", "id", tag, "-u"], capture_output=True, text=True, timeout=60
        )
        assert user.stdout.strip() == "10001"
    finally:
        subprocess.run([docker, "rmi", "-f", tag], capture_output=True, timeout=120)
