"""The configuration file: settings by name, routes per API, southbound fulfilment, refused with a sentence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handlers.fulfilment.settings import FULFILMENT
from tests.commands import run_tmfgate
from tmfgate import configuration
from tmfgate.cli import main
from tmfgate.errors import ConfigurationError
from tmfgate.runtime import installed, load_apis
from tmfgate.settings import Settings

DECLARED = installed().settings
APIS = load_apis()
OSS = "http://127.0.0.1:9001/tmf-api"


def write(folder: Path, text: str) -> str:
    path = folder / "tmfgate.yaml"
    path.write_text(text)
    return str(path)


def test_every_declared_setting_can_be_given_in_the_file(tmp_path: Path) -> None:
    lines = [f"  {s.name}: {s.to_text(s.default) or 'x'!r}" for s in DECLARED if s.name != "config" and s.default]
    lines += ["  max-limit: 50", "  fulfilment: false", "  admin_hosts: [10.0.0.5, 192.0.2.0/24]"]
    path = write(tmp_path, "settings:\n" + "\n".join(lines) + "\n")
    settings = configuration.settings(DECLARED, {"TMFGATE_CONFIG": path})
    assert settings.max_limit == 50 and settings.get(FULFILMENT) is False
    assert settings.admin_hosts == "10.0.0.5,192.0.2.0/24"
    for setting in DECLARED:
        if setting.name not in ("config", "max_limit", "fulfilment", "admin_hosts") and setting.default:
            assert settings.get(setting) == setting.default, setting.name


def test_variables_and_options_override_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "settings: {port: 9100, log_level: debug, upstream_retries: 3}\n")
    environ = {"TMFGATE_CONFIG": path, "TMFGATE_LOG_LEVEL": "warning"}
    settings = configuration.settings(DECLARED, environ, {"port": 9200})
    assert (settings.port, settings.log_level, settings.upstream_retries) == (9200, "warning", 3)
    other = write(tmp_path, "settings: {port: 9300}\n")
    assert configuration.settings(DECLARED, environ, {"config": other}).port == 9300


def test_the_routes_name_apis_by_stem_or_number(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
apis:
  tmf639: {{upstream: {{url: "{OSS}/resourceInventoryManagement/v4/", timeout: 2.5, auth: {{bearer: t0k}}}}}}
  tmf638_service_inventory: {{upstream: {{url: "{OSS}/serviceInventory/v4", version: 4, poll_attribute: changed}}}}
  tmf622: local
  tmf629: {{local: true}}
fulfilment:
  southbound: {{url: "{OSS}/serviceOrdering/v4"}}
""",
    )
    routing = configuration.routing(Settings(config=path), APIS)
    assert set(routing.upstreams) == {
        "tmf639_resource_inventory",
        "tmf638_service_inventory",
        "tmf641_service_ordering",
    }
    resources = routing.upstreams["tmf639_resource_inventory"]
    assert (resources.url, resources.timeout) == (f"{OSS}/resourceInventoryManagement/v4", 2.5)
    assert resources.headers == (("Authorization", "Bearer t0k"),)
    assert routing.upstreams["tmf638_service_inventory"].version == "v4"
    assert routing.upstreams["tmf638_service_inventory"].poll_attribute("service", "lastUpdate") == "changed"
    assert resources.poll_attribute("resource", "lastUpdate") == "lastUpdate"  # none given: the setting
    assert routing.southbound is not None and routing.southbound.url.endswith("/serviceOrdering/v4")
    assert routing.upstreams["tmf641_service_ordering"] == routing.southbound  # found by its base path


def test_a_southbound_url_of_no_api_served_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "fulfilment: {southbound: {url: 'http://oss.example/tmf-api/nothing/v4'}}\n")
    with pytest.raises(ConfigurationError, match="southbound.url .* ends with the base path of no API served here"):
        configuration.routing(Settings(config=path), APIS)


def test_no_file_routes_everything_locally() -> None:
    assert configuration.routing(Settings(), APIS) == configuration.Routing()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("setings: {port: 1}\n", "the key setings is not known; the keys here are settings, apis, fulfilment"),
        ("settings: {prot: 1}\n", "settings.prot is no setting"),
        ("settings: {port: 0}\n", "settings.port must be from 1 to 65535, not 0"),
        ("settings: {dispatcher: maybe}\n", "settings.dispatcher must be on or off"),
        ("settings: {config: other.yaml}\n", "settings.config cannot name another configuration file"),
        ("apis: {tmf639: {upstream: {url: oss.example}}}\n", "apis.tmf639.upstream.url must be a TMF API's base URL"),
        ("apis: {tmf639: {upstream: {url: 'ftp://x/y'}}}\n", "apis.tmf639.upstream.url must be"),
        ("apis: {tmf639: {upstream: {url: 'http://x/y', timeout: 0}}}\n", "apis.tmf639.upstream.timeout must be"),
        ("apis: {tmf639: {upstream: {url: 'http://x/y', version: four}}}\n", "upstream.version must be a major"),
        ("apis: {tmf639: {upstream: {url: 'http://x/y', tls: on}}}\n", "the key apis.tmf639.upstream.tls is not"),
        ("apis: {tmf639: {remote: {url: 'http://x/y'}}}\n", "the key apis.tmf639.remote is not known"),
        ("fulfilment: {northbound: {url: 'http://x/y'}}\n", "the key fulfilment.northbound is not known"),
        ("fulfilment: {southbound: {url: nowhere}}\n", "fulfilment.southbound.url must be"),
        ("apis: [tmf639]\n", "apis must be a mapping"),
        ("apis: {tmf639: {upstream: {url: 'http://x/y', poll_attribute: 3}}}\n", "poll_attribute must name a"),
        ("apis: {tmf639: {upstream: {url: 'http://x/y', poll_attribute: {resource: ''}}}}\n", "must name a date"),
        (
            "apis: {tmf639: {upstream: {url: 'http://x/y', poll_attribute: {order: lastUpdate}}}}\n",
            "apis.tmf639.upstream.poll_attribute names 'order', no resource of tmf639_resource_inventory",
        ),
        ("apis: {tmf639: {upstream: {url: 'http://x/y'}}\n", "is not valid YAML at line"),
    ],
)
def test_a_bad_file_is_refused_with_a_sentence_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        configuration.settings(DECLARED, {"TMFGATE_CONFIG": path})
        configuration.routing(Settings(config=path), APIS)


def test_an_unknown_api_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "apis: {tmf999: {upstream: {url: 'http://oss.example/x'}}}\n")
    with pytest.raises(ConfigurationError, match=r"apis\.tmf999 names no API served here; .*tmf639"):
        configuration.routing(Settings(config=path), APIS)


@pytest.mark.parametrize(
    ("url", "settings"),
    [
        ("http://127.0.0.1:8080/tmf-api/resourceInventoryManagement/v4", {}),
        ("http://localhost:9000/tmf-api/resourceInventoryManagement/v4", {"port": 9000, "host": "0.0.0.0"}),
        ("https://gw.example/tmf-api/resourceInventoryManagement/v4", {"public_url": "https://gw.example"}),
    ],
)
def test_an_upstream_that_is_the_gateway_itself_is_refused(
    tmp_path: Path, url: str, settings: dict[str, object]
) -> None:
    path = write(tmp_path, f"apis: {{tmf639: {{upstream: {{url: '{url}'}}}}}}\n")
    with pytest.raises(ConfigurationError, match="is this gateway itself"):
        configuration.routing(Settings(config=path, **settings), APIS)  # type: ignore[arg-type]


def test_another_port_on_loopback_is_no_loop(tmp_path: Path) -> None:
    path = write(tmp_path, "apis: {tmf639: {upstream: {url: 'http://127.0.0.1:8081/x'}}}\n")
    assert configuration.routing(Settings(config=path), APIS).upstreams


def test_a_missing_file_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", "--config", str(tmp_path / "absent.yaml")]) == 2
    assert "The configuration file" in capsys.readouterr().err


def test_tmfgate_settings_shows_the_file_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "settings: {payment_terms: 14}\n")
    assert main(["settings", "--config", path]) == 0
    out = capsys.readouterr().out
    assert "TMFGATE_PAYMENT_TERMS=14\n" in out and "TMFGATE_PORT=8080  # the default\n" in out


def test_serve_refuses_a_loop_before_listening(tmp_path: Path) -> None:
    path = write(tmp_path, "apis: {tmf639: {upstream: {url: 'http://127.0.0.1:9123/x'}}}\n")
    done = run_tmfgate("serve", "--config", path, "--port", "9123", "--database-url", "memory://")
    assert done.returncode == 2
    lines = [line for line in done.stderr.strip().splitlines() if line.startswith("tmfgate:")]
    assert len(lines) == 1 and "apis.tmf639.url http://127.0.0.1:9123/x is this gateway itself" in lines[0]
