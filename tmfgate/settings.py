"""Gateway settings, from the command line or from ``TMFGATE_*`` environment variables.

- ``host`` (TMFGATE_HOST, default 127.0.0.1): the address to listen on.
- ``port`` (TMFGATE_PORT, default 8080): the TCP port.
- ``database_url`` (TMFGATE_DATABASE_URL, default sqlite:///tmfgate.db): the store, one of
  ``memory://``, ``sqlite:///relative/file.db``, ``sqlite:////absolute/file.db`` or
  ``postgresql+psycopg://user:password@host:5432/database``.
- ``workers`` (TMFGATE_WORKERS, default 1): the number of server processes (on Linux each with a
  listening socket of its own on the port, see :mod:`tmfgate.workers`).
- ``max_limit`` (TMFGATE_MAX_LIMIT, default none): the largest page a list returns; a longer match
  gives 206 Partial Content and the client pages on with ``offset``.
- ``log_level`` (TMFGATE_LOG_LEVEL, default info): critical, error, warning, info or debug; debug
  also logs every request.
- ``callback_hosts`` (TMFGATE_CALLBACK_HOSTS, default ``*``): the hosts a hub callback may point
  to, comma-separated, each a name or a pattern such as ``*.partner.example``; ``*`` allows any.
- ``admin_hosts`` (TMFGATE_ADMIN_HOSTS, default none): client addresses or networks, besides
  loopback, that may use the operator API at ``/tmfgate/admin/v1`` (e.g. ``10.0.0.5,192.0.2.0/24``).
- ``dispatcher`` (TMFGATE_DISPATCHER, default on): deliver events from inside the gateway process;
  ``off`` when separate ``tmfgate dispatch`` processes deliver them.
- ``delivery_attempts`` (TMFGATE_DELIVERY_ATTEMPTS, default 10): attempts before a delivery is
  parked for an operator.
- ``delivery_timeout`` (TMFGATE_DELIVERY_TIMEOUT, default 10): seconds a listener has to answer.
- ``retry_delay`` (TMFGATE_RETRY_DELAY, default 1): seconds before the first retry; each retry
  doubles it, with jitter, up to ``retry_delay_max`` (TMFGATE_RETRY_DELAY_MAX, default 300).
- ``event_retention`` (TMFGATE_EVENT_RETENTION, default 30): days an event is kept in the outbox
  once every delivery of it was made (events with a pending or parked delivery are kept); 0 keeps
  every event for good. It bounds how far back an operator can replay.
- ``public_url`` (TMFGATE_PUBLIC_URL, default ``http://<host>:<port>``): the scheme and host clients
  reach the gateway at, for the ``href`` of resources the gateway creates on its own (the service
  orders, services and bills of fulfilment); resources created by a request use the request's host.
- ``catalog`` (TMFGATE_CATALOG, default ``demo``): the catalog file (YAML or JSON) served read-only
  by TMF620 and TMF633 and used to decompose orders, with the resource pools it seeds into TMF639;
  ``demo`` is the shipped demo catalog, ``none`` serves an empty catalog.
- ``fulfilment`` (TMFGATE_FULFILMENT, default on): decompose product orders into service orders
  and activate them (``off`` leaves orders where clients put them).
- ``activation_delay`` (TMFGATE_ACTIVATION_DELAY, default 0): seconds each activation step takes,
  to mimic a network that answers slowly (demos, tests of cancellation during fulfilment).
- ``tax_rate`` (TMFGATE_TAX_RATE, default 0.20): the tax (VAT) rate of every charge billed, a decimal
  fraction written as text so that it stays exact: ``0.20`` for 20%, ``0`` for none.
- ``payment_terms`` (TMFGATE_PAYMENT_TERMS, default 30): days from a bill's date to its payment due
  date; 0 makes bills due on receipt.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from tmfgate.errors import ConfigurationError

PREFIX = "TMFGATE_"


@dataclass(frozen=True)
class Settings:
    """Everything that configures one gateway."""

    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "sqlite:///tmfgate.db"
    workers: int = 1
    max_limit: int | None = None
    log_level: str = "info"
    callback_hosts: str = "*"
    admin_hosts: str = ""
    dispatcher: bool = True
    delivery_attempts: int = 10
    delivery_timeout: float = 10.0
    retry_delay: float = 1.0
    retry_delay_max: float = 300.0
    event_retention: float = 30.0
    public_url: str = ""
    catalog: str = "demo"
    fulfilment: bool = True
    activation_delay: float = 0.0
    tax_rate: str = "0.20"
    payment_terms: int = 30

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Defaults overridden by the ``TMFGATE_*`` variables that are set."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = environ.get(PREFIX + item.name.upper())
            if raw is not None and raw != "":
                values[item.name] = _convert(item.name, raw)
        return cls(**values)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given (non-None) values replaced, e.g. from command-line options."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def base_url(self) -> str:
        """Scheme and host of the gateway for links made outside a request."""
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    def to_env(self) -> dict[str, str]:
        """The variables that reproduce these settings in a worker process."""
        return {
            PREFIX + f.name.upper(): str(getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) is not None
        }


def _convert(name: str, raw: str) -> Any:
    variable = PREFIX + name.upper()
    if name == "admin_hosts":
        for entry in (part.strip() for part in raw.split(",") if part.strip()):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ConfigurationError(
                    f"{variable} holds {entry!r}, which is not an IP address or network "
                    "such as 10.0.0.5 or 192.0.2.0/24."
                ) from None
        return raw
    if name in ("dispatcher", "fulfilment"):
        if raw.lower() not in ("on", "off", "true", "false", "1", "0", "yes", "no"):
            raise ConfigurationError(f"{variable} must be on or off, not {raw!r}.")
        return raw.lower() in ("on", "true", "1", "yes")
    if name in ("delivery_timeout", "retry_delay", "retry_delay_max", "activation_delay"):
        return _number(variable, raw, "a number of seconds", float, zero_allowed=name == "activation_delay")
    if name == "tax_rate":
        try:
            rate = Decimal(raw.strip())
        except InvalidOperation:
            rate = Decimal("NaN")
        if not rate.is_finite() or not 0 <= rate < 1:
            raise ConfigurationError(
                f"{variable} must be a decimal fraction from 0 to less than 1, such as 0.20 for 20%, not {raw!r}."
            )
        return raw.strip()
    if name == "event_retention":
        return _number(variable, raw, "a number of days", float, zero_allowed=True)
    if name == "payment_terms":
        return _number(variable, raw, "a whole number of days", int, zero_allowed=True)
    if name == "public_url":
        return raw.rstrip("/")
    if name in ("port", "workers", "max_limit", "delivery_attempts"):
        return _number(variable, raw, "a whole number", int, zero_allowed=False)
    return raw


def _number(variable: str, raw: str, what: str, kind: type[int] | type[float], *, zero_allowed: bool) -> Any:
    """A positive number (or zero, where that means "none"), refused with a sentence otherwise."""
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigurationError(f"{variable} must be {what}, not {raw!r}.") from None
    if zero_allowed and not value >= 0:
        raise ConfigurationError(f"{variable} cannot be negative.")
    if not zero_allowed and not value > 0:
        raise ConfigurationError(f"{variable} must be more than 0.")
    return value
