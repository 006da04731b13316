"""How a setting is declared: its name, default, meaning and parser, and the parsers settings share.

A :class:`Setting` names its option (``--name``) and its ``TMFGATE_*`` variable; as a class attribute
of :class:`tmfgate.settings.Settings` it reads as that setting's value. Each parser takes the text of
an option or a variable and raises ``ValueError("must be ...")``, which :meth:`Setting.from_text`
turns into a ConfigurationError naming where the text came from.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, overload
from urllib.parse import urlsplit

from tmfgate.errors import ConfigurationError

PREFIX = "TMFGATE_"
T = TypeVar("T")
Parse = Callable[[str], T]  # raises ValueError with the rest of a sentence ("must be ...")


class Values(Protocol):
    """What holds the values of settings (:class:`tmfgate.settings.Settings`)."""

    def get(self, setting: Setting[T]) -> T: ...


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One setting. As a class attribute of :class:`tmfgate.settings.Settings` it reads as that setting's value."""

    name: str
    default: T
    help: str
    parse: Parse[T]
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    shown_default: str | None = None  # how --help and the README show the default, when not str(default)
    serve_only: bool = False  # a setting of the HTTP server, which ``tmfgate dispatch`` does not take
    dispatch_only: bool = False  # a setting of ``tmfgate dispatch``, which ``tmfgate serve`` does not take
    const: str | None = None  # the value of the option given alone (``--insecure``)

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def variable(self) -> str:
        return PREFIX + self.name.upper()

    @property
    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        if isinstance(self.default, bool):
            return "on" if self.default else "off"
        return "none" if self.default is None else str(self.default)

    def from_text(self, raw: str, source: str) -> T:
        """The value of ``raw``; a ConfigurationError that names ``source`` (the option or variable)."""
        try:
            return self.parse(raw)
        except ValueError as exc:
            raise ConfigurationError(f"{source} {exc}.") from None

    def to_text(self, value: T) -> str:
        """``value`` as a variable's text, read back by :attr:`parse` to the same value."""
        if isinstance(value, bool):
            return "on" if value else "off"
        return "" if value is None else str(value)

    @overload
    def __get__(self, settings: None, owner: type[Any]) -> Setting[T]: ...
    @overload
    def __get__(self, settings: Values, owner: type[Any]) -> T: ...
    def __get__(self, settings: Values | None, owner: type[Any]) -> Setting[T] | T:
        return self if settings is None else settings.get(self)


# Parsers: each takes the text of an option or a variable and raises ValueError("must be ...").


def text(raw: str) -> str:
    return raw


def switch(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("on", "off", "true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"must be on or off, not {raw!r}")
    return value in ("on", "true", "1", "yes")


def auto_switch(raw: str) -> bool | None:
    """On, off, or ``auto`` (None): the code decides."""
    if raw.strip().lower() in ("", "auto"):
        return None
    try:
        return switch(raw)
    except ValueError:
        raise ValueError(f"must be auto, on or off, not {raw!r}") from None


def whole(minimum: int, maximum: int | None = None) -> Parse[int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"must be a whole number, not {raw!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            raise ValueError(f"must be {bounds}, not {value}")
        return value

    return parse


def listen_address(raw: str) -> str:
    """``PORT`` (on loopback) or ``HOST:PORT``, as ``host:port``; empty (or none) for none."""
    raw = raw.strip()
    if raw.lower() in ("", "none"):
        return ""
    host, _, port = raw.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        number = 0
    if not 1 <= number <= 65535 or any(c.isspace() or c == "/" for c in host):
        raise ValueError(f"must be a port from 1 to 65535 or host:port such as 0.0.0.0:9464, not {raw!r}")
    return f"{host}:{number}"


def optional_whole(minimum: int) -> Parse[int | None]:
    parse = whole(minimum)

    def optional(raw: str) -> int | None:
        return None if raw.strip().lower() in ("", "none") else parse(raw)

    return optional


def amount(what: str, *, zero: bool) -> Parse[float]:
    """A number of ``what`` (seconds, days): more than 0, or 0 too when ``zero`` means "none"."""

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"must be a number of {what}, not {raw!r}") from None
        if zero and not value >= 0:
            raise ValueError("cannot be negative")
        if not zero and not value > 0:
            raise ValueError(f"must be more than 0 {what}")
        if value == float("inf"):
            raise ValueError(f"must be a finite number of {what}")
        return value

    return parse


def one_of(*choices: str) -> Parse[str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, not {raw!r}")
        return value

    return parse


def networks(raw: str) -> str:
    for entry in (part.strip() for part in raw.split(",") if part.strip()):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(
                f"holds {entry!r}, which is not an IP address or network such as 10.0.0.5 or 192.0.2.0/24"
            ) from None
    return raw


def auth_methods(raw: str) -> str:
    methods = [part.strip().lower() for part in raw.split(",") if part.strip()]
    unknown = [method for method in methods if method not in ("jwt", "apikey")]
    if unknown:
        raise ValueError(f"must be jwt, apikey or jwt,apikey, not {raw!r}")
    return ",".join(dict.fromkeys(methods))


def base_url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"must be a URL such as https://api.example.com, not {raw!r}")
    return value


def bus_url(raw: str) -> str:
    """An ``--event-bus`` URL (:mod:`tmfgate.notifications.brokers`), or none."""
    from tmfgate.notifications.brokers import BusAddress  # noqa: PLC0415 - the core's settings come first

    value = raw.strip()
    if value:
        BusAddress.parse(value)
    return value


def secret_key(raw: str) -> str:
    """A Fernet key (:mod:`tmfgate.notifications.secrets`), or none."""
    from tmfgate.notifications.secrets import parse_key  # noqa: PLC0415 - cryptography only when one is given

    return parse_key(raw) if raw.strip() else ""
