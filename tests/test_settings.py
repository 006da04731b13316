"""Settings from TMFGATE_* variables: each converted and checked, and carried to worker processes."""

from __future__ import annotations

import pytest

from tmfgate.errors import ConfigurationError
from tmfgate.settings import Settings


def test_defaults_need_nothing_configured() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.database_url, settings.catalog, settings.fulfilment) == ("sqlite:///tmfgate.db", "demo", True)
    assert settings.base_url == "http://127.0.0.1:8080"


def test_variables_are_converted_to_their_types() -> None:
    settings = Settings.from_env(
        {
            "TMFGATE_PORT": "9000",
            "TMFGATE_DISPATCHER": "off",
            "TMFGATE_FULFILMENT": "no",
            "TMFGATE_ACTIVATION_DELAY": "0",
            "TMFGATE_DELIVERY_TIMEOUT": "2.5",
            "TMFGATE_TAX_RATE": " 0.055 ",
            "TMFGATE_PAYMENT_TERMS": "0",
            "TMFGATE_PUBLIC_URL": "https://api.operator.example/",
            "TMFGATE_HOST": "",
        }
    )
    assert (settings.port, settings.dispatcher, settings.fulfilment) == (9000, False, False)
    assert (settings.activation_delay, settings.delivery_timeout) == (0.0, 2.5)
    assert (settings.tax_rate, settings.payment_terms) == ("0.055", 0)
    assert settings.base_url == "https://api.operator.example"
    assert settings.host == "127.0.0.1"  # an empty variable is no setting


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TMFGATE_PORT", "http", "TMFGATE_PORT must be a whole number, not 'http'"),
        ("TMFGATE_WORKERS", "0", "TMFGATE_WORKERS must be more than 0"),
        ("TMFGATE_DELIVERY_TIMEOUT", "0", "TMFGATE_DELIVERY_TIMEOUT must be more than 0"),
        ("TMFGATE_ACTIVATION_DELAY", "-1", "TMFGATE_ACTIVATION_DELAY cannot be negative"),
        ("TMFGATE_ACTIVATION_DELAY", "soon", "must be a number of seconds, not 'soon'"),
        ("TMFGATE_FULFILMENT", "maybe", "TMFGATE_FULFILMENT must be on or off"),
        ("TMFGATE_TAX_RATE", "20%", "TMFGATE_TAX_RATE must be a decimal fraction"),
        ("TMFGATE_TAX_RATE", "1.5", "TMFGATE_TAX_RATE must be a decimal fraction"),
        ("TMFGATE_PAYMENT_TERMS", "-3", "TMFGATE_PAYMENT_TERMS cannot be negative"),
        ("TMFGATE_ADMIN_HOSTS", "10.0.0.5,intranet", "'intranet', which is not an IP address"),
    ],
)
def test_a_wrong_value_is_refused_with_a_sentence(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({variable: value})


def test_workers_get_the_same_settings_through_the_environment() -> None:
    settings = Settings(
        port=9001,
        fulfilment=False,
        activation_delay=0.5,
        tax_rate="0.21",
        payment_terms=14,
        catalog="/etc/tmfgate/catalog.yaml",
        public_url="https://gw.example",
    )
    assert Settings.from_env(settings.to_env()) == settings


def test_overrides_leave_unset_options_alone() -> None:
    settings = Settings(port=9001).with_overrides(port=None, catalog="none")
    assert (settings.port, settings.catalog) == (9001, "none")
