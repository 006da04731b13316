"""Settings: each declared once, read from TMFGATE_* variables, checked, and carried to worker processes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handlers.billing.rules import PAYMENT_TERMS, TAX_RATE
from handlers.catalog.loading import CATALOG
from handlers.fulfilment.settings import ACTIVATION_DELAY, FULFILMENT
from tmfgate.errors import ConfigurationError
from tmfgate.runtime import installed
from tmfgate.settings import CORE_SETTINGS, Settings, markdown_table

DECLARED = installed().settings
README = Path(__file__).resolve().parents[1] / "README.md"


def test_defaults_need_nothing_configured() -> None:
    settings = Settings.from_env(DECLARED, {})
    assert settings == Settings()
    assert (settings.database_url, settings.get(CATALOG), settings.get(FULFILMENT)) == (
        "sqlite:///tmfgate.db",
        "demo",
        True,
    )
    assert settings.base_url == "http://127.0.0.1:8080"


def test_variables_are_converted_to_their_types() -> None:
    settings = Settings.from_env(
        DECLARED,
        {
            "TMFGATE_PORT": "9000",
            "TMFGATE_DISPATCHER": "off",
            "TMFGATE_FULFILMENT": "no",
            "TMFGATE_ACTIVATION_DELAY": "0",
            "TMFGATE_DELIVERY_TIMEOUT": "2.5",
            "TMFGATE_TAX_RATE": " 0.055 ",
            "TMFGATE_PAYMENT_TERMS": "0",
            "TMFGATE_PUBLIC_URL": "https://api.operator.example/",
            "TMFGATE_MAX_LIMIT": "none",
            "TMFGATE_HOST": "",
        },
    )
    assert (settings.port, settings.dispatcher, settings.get(FULFILMENT)) == (9000, False, False)
    assert (settings.get(ACTIVATION_DELAY), settings.delivery_timeout) == (0.0, 2.5)
    assert (settings.get(TAX_RATE), settings.get(PAYMENT_TERMS)) == ("0.055", 0)
    assert settings.base_url == "https://api.operator.example"
    assert settings.max_limit is None
    assert settings.host == "127.0.0.1"  # an empty variable is no setting


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TMFGATE_PORT", "http", "TMFGATE_PORT must be a whole number, not 'http'"),
        ("TMFGATE_PORT", "99999", "TMFGATE_PORT must be from 1 to 65535, not 99999"),
        ("TMFGATE_PORT", "-1", "TMFGATE_PORT must be from 1 to 65535"),
        ("TMFGATE_WORKERS", "0", "TMFGATE_WORKERS must be at least 1"),
        ("TMFGATE_DELIVERY_TIMEOUT", "0", "TMFGATE_DELIVERY_TIMEOUT must be more than 0"),
        ("TMFGATE_ACTIVATION_DELAY", "-1", "TMFGATE_ACTIVATION_DELAY cannot be negative"),
        ("TMFGATE_ACTIVATION_DELAY", "soon", "must be a number of seconds, not 'soon'"),
        ("TMFGATE_FULFILMENT", "maybe", "TMFGATE_FULFILMENT must be on or off"),
        ("TMFGATE_LOG_LEVEL", "loud", "TMFGATE_LOG_LEVEL must be one of critical"),
        ("TMFGATE_TAX_RATE", "20%", "TMFGATE_TAX_RATE must be a decimal fraction"),
        ("TMFGATE_TAX_RATE", "1.5", "TMFGATE_TAX_RATE must be a decimal fraction"),
        ("TMFGATE_PAYMENT_TERMS", "-3", "TMFGATE_PAYMENT_TERMS must be at least 0"),
        ("TMFGATE_ADMIN_HOSTS", "10.0.0.5,intranet", "'intranet', which is not an IP address"),
        ("TMFGATE_PUBLIC_URL", "gateway.example", "TMFGATE_PUBLIC_URL must be a URL"),
    ],
)
def test_a_wrong_value_is_refused_with_a_sentence(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        Settings.from_env(DECLARED, {variable: value})


def test_workers_get_the_same_settings_through_the_environment() -> None:
    settings = Settings(
        port=9001,
        fulfilment=False,
        activation_delay=0.5,
        tax_rate="0.21",
        payment_terms=14,
        catalog="/etc/tmfgate/catalog.yaml",
        public_url="https://gw.example",
        max_limit=50,
    )
    assert Settings.from_env(DECLARED, settings.to_env(DECLARED)) == settings


def test_overrides_leave_unset_options_alone() -> None:
    settings = Settings(port=9001).with_overrides(port=None, catalog="none")
    assert (settings.port, settings.get(CATALOG)) == (9001, "none")


def test_a_setting_nothing_declares_is_refused() -> None:
    Settings(fulfilment=False).check(DECLARED)
    with pytest.raises(ConfigurationError, match="No setting is named fulfillment"):
        Settings(fulfillment=False).check(DECLARED)


def test_the_core_declares_only_its_own_settings() -> None:
    names = {setting.name for setting in CORE_SETTINGS}
    assert not names & {"catalog", "fulfilment", "activation_delay", "tax_rate", "payment_terms"}
    assert len({setting.variable for setting in DECLARED}) == len(DECLARED)


def test_the_readme_configuration_table_is_the_declared_settings() -> None:
    table = markdown_table(DECLARED)
    assert table in README.read_text(), (
        "README.md's configuration table differs from the declared settings; "
        "replace it with the output of 'tmfgate settings --markdown'."
    )


@pytest.mark.parametrize(
    ("given", "workers", "pool"),
    [({}, 1, 32), ({}, 2, 16), ({}, 3, 11), ({}, 8, 8), ({"db_pool_size": 5}, 4, 5), ({"db_pool_size": 40}, 1, 40)],
)
def test_each_worker_keeps_its_share_of_the_connections(given: dict[str, int], workers: int, pool: int) -> None:
    assert Settings(workers=workers, **given).pool_size == pool


def test_the_pool_size_reaches_a_worker_through_its_variable() -> None:
    settings = Settings.from_env(DECLARED, {"TMFGATE_DB_POOL_SIZE": "12", "TMFGATE_WORKERS": "4"})
    assert settings.pool_size == 12
    assert Settings.from_env(DECLARED, {"TMFGATE_DB_POOL_SIZE": "none", "TMFGATE_WORKERS": "4"}).pool_size == 8
