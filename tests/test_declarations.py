"""How a setting is declared: its names, the parsers' verdicts, and errors that say where the text came from."""

from __future__ import annotations

import pytest

from tmfgate.declarations import (
    Setting,
    amount,
    auth_methods,
    auto_switch,
    base_url,
    networks,
    one_of,
    optional_whole,
    switch,
    text,
    whole,
)
from tmfgate.errors import ConfigurationError


def test_a_setting_names_its_option_and_variable_and_shows_its_default() -> None:
    setting = Setting("delivery_timeout", 10.0, "seconds", amount("seconds", zero=False))
    assert (setting.option, setting.variable, setting.default_text) == (
        "--delivery-timeout",
        "TMFGATE_DELIVERY_TIMEOUT",
        "10.0",
    )
    assert Setting("fulfilment", True, "", switch).default_text == "on"
    assert Setting("jwks", None, "", text).default_text == "none"
    assert Setting("pool", None, "", optional_whole(1), shown_default="32 / workers").default_text == "32 / workers"


def test_a_value_reads_back_from_its_text() -> None:
    for setting, value in [
        (Setting("on", True, "", switch), False),
        (Setting("n", 3, "", whole(1)), 7),
        (Setting("maybe", None, "", optional_whole(1)), None),
        (Setting("auto", None, "", auto_switch), True),
    ]:
        assert setting.parse(setting.to_text(value)) == value


@pytest.mark.parametrize(
    ("parse", "raw", "message"),
    [
        (whole(1, 65535), "0", "must be from 1 to 65535, not 0"),
        (whole(2), "x", "must be a whole number, not 'x'"),
        (amount("seconds", zero=False), "0", "must be more than 0 seconds"),
        (amount("seconds", zero=True), "-1", "cannot be negative"),
        (amount("days", zero=True), "inf", "must be a finite number of days"),
        (switch, "maybe", "must be on or off, not 'maybe'"),
        (auto_switch, "sometimes", "must be auto, on or off, not 'sometimes'"),
        (one_of("text", "json"), "xml", "must be one of text, json, not 'xml'"),
        (networks, "10.0.0.0/8,not-a-net", "holds 'not-a-net'"),
        (auth_methods, "jwt,basic", "must be jwt, apikey or jwt,apikey"),
        (base_url, "ftp://example.com", "must be a URL such as https://api.example.com"),
    ],
)
def test_a_parser_refuses_with_the_rest_of_a_sentence(parse: object, raw: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        parse(raw)  # type: ignore[operator]


def test_parsers_accept_what_they_document() -> None:
    assert (whole(1)("8"), optional_whole(1)("none"), amount("s", zero=True)("0")) == (8, None, 0.0)
    assert (switch("YES"), auto_switch("auto"), one_of("a", "b")(" B ")) == (True, None, "b")
    assert auth_methods("apikey, jwt, apikey") == "apikey,jwt"
    assert base_url("https://api.example.com/") == "https://api.example.com"
    assert networks("192.0.2.0/24, 10.0.0.5") == "192.0.2.0/24, 10.0.0.5"


def test_an_error_names_the_option_or_variable_it_came_from() -> None:
    setting = Setting("port", 8080, "", whole(1, 65535))
    with pytest.raises(ConfigurationError, match=r"^TMFGATE_PORT must be from 1 to 65535, not 70000\.$"):
        setting.from_text("70000", setting.variable)
