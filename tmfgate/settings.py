"""Settings, each declared once: its option, its ``TMFGATE_*`` variable, its default and its meaning.

The core declares its own settings here; handler extensions declare theirs (:mod:`tmfgate.extensions`)
with :class:`~tmfgate.declarations.Setting` and its parsers, which this module passes on.
The command line, ``--help``, the environment and the README's configuration table all come from
these declarations.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from tmfgate.declarations import (
    PREFIX,
    Parse,
    Setting,
    amount,
    auth_methods,
    auto_switch,
    base_url,
    bus_url,
    listen_address,
    networks,
    one_of,
    optional_whole,
    secret_key,
    switch,
    text,
    whole,
)
from tmfgate.errors import ConfigurationError

T = TypeVar("T")

# The connections to PostgreSQL that the workers of one gateway share out by default: enough for
# 64 concurrent clients to keep both cores of this machine kind busy without opening new ones.
DB_CONNECTIONS = 32
MIN_DB_POOL = 8

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class Settings:
    """The value of every setting: its default, else a ``TMFGATE_*`` variable, else an option.

    ``Settings(database_url="memory://", fulfilment=False)`` sets any declared setting by name,
    the core's and the extensions'; :meth:`check` refuses names nothing declares.
    """

    host = Setting("host", "127.0.0.1", "address to listen on", text, metavar="ADDRESS", serve_only=True)
    port = Setting("port", 8080, "TCP port to listen on, 1 to 65535", whole(1, 65535), metavar="PORT", serve_only=True)
    database_url: Setting[str] = Setting(
        "database_url",
        "sqlite:///tmfgate.db",
        "the store: `memory://`, `sqlite:///relative.db`, `sqlite:////absolute.db`, or "
        "`postgresql+psycopg://user:password@host:5432/db`",
        text,
        metavar="URL",
    )
    migrate: Setting[bool | None] = Setting(
        "migrate",
        None,
        "at start, migrate a store whose schema is older than this release's (`on`, `--migrate`), or refuse "
        "to start and ask for `tmfgate db upgrade` (`off`); `auto` is on for SQLite and off for PostgreSQL, "
        "whose store several processes share: run `tmfgate db upgrade` once per release there. An empty "
        "store gets the schema either way",
        auto_switch,
        choices=("auto", "on", "off"),
        shown_default="auto",
        const="on",
    )
    insecure = Setting(
        "insecure",
        False,
        "listen on an address other than loopback although partners need not authenticate (no `--auth`); "
        "only behind a proxy that authenticates them",
        switch,
        choices=("on", "off"),
        serve_only=True,
        const="on",
    )
    workers = Setting(
        "workers",
        1,
        "server processes; on Linux each listens on a socket of its own on the port (`SO_REUSEPORT`), so "
        "the kernel shares new connections out among them, and a worker that dies is replaced",
        whole(1),
        metavar="N",
        serve_only=True,
    )
    db_pool_size: Setting[int | None] = Setting(
        "db_pool_size",
        None,
        "PostgreSQL connections each worker keeps open and reuses; a request past them waits for one "
        f"rather than open another; none shares {DB_CONNECTIONS} among the `--workers`, at least "
        f"{MIN_DB_POOL} each",
        optional_whole(1),
        metavar="N",
        shown_default=f"{DB_CONNECTIONS} / workers",
    )
    max_limit: Setting[int | None] = Setting(
        "max_limit",
        1000,
        "largest page a list returns; a longer match answers 206 and the client pages on with `offset`; "
        "`none` for no limit",
        optional_whole(1),
        metavar="N",
        serve_only=True,
    )
    # Limits against abuse (README "Limits and safe defaults"); each answers a TMF Error.
    max_body_size = Setting(
        "max_body_size", 1_048_576, "largest request body in bytes; a longer one answers 413", whole(1), metavar="BYTES"
    )
    max_document_size = Setting(
        "max_document_size",
        1_048_576,
        "largest resource a JSON Patch may leave, in bytes of JSON; a larger one answers 413",
        whole(1),
        metavar="BYTES",
    )
    max_json_depth = Setting(
        "max_json_depth", 64, "deepest nesting of arrays and objects in a body; deeper answers 400", whole(2, 255)
    )
    max_header_size = Setting(
        "max_header_size",
        65_536,
        "largest request line and headers in bytes; a longer head answers 431",
        whole(1024),
        metavar="BYTES",
        serve_only=True,
    )
    read_timeout = Setting(
        "read_timeout",
        15.0,
        "seconds a client has to send a request's line and headers, and at most between two parts of its body; "
        "a slower one answers 408",
        amount("seconds", zero=False),
        metavar="SECONDS",
        serve_only=True,
    )
    max_connections = Setting(
        "max_connections",
        1000,
        "open connections and requests a server process takes at once; past it new ones answer 503",
        whole(1),
        metavar="N",
        serve_only=True,
    )
    rate_limit = Setting(
        "rate_limit",
        200.0,
        "requests per second each partner may make on average (the API key's or token's partner, or the "
        "client address without authentication); past it answers 429 with `Retry-After`; `0` for no limit",
        amount("requests per second", zero=True),
        metavar="N",
        serve_only=True,
    )
    rate_burst = Setting(
        "rate_burst",
        400,
        "requests a partner may make at once beyond its rate, after a quiet spell",
        whole(1),
        metavar="N",
        serve_only=True,
    )
    log_level = Setting(
        "log_level",
        "info",
        "`critical`, `error`, `warning`, `info` or `debug` (debug also logs each request)",
        one_of(*LOG_LEVELS),
        choices=LOG_LEVELS,
    )
    log_format = Setting(
        "log_format",
        "text",
        "`text` lines, or `json`: one object a line, and one line a request with its `correlation_id`, "
        "`api`, `operation`, `status` and `duration_ms`",
        one_of("text", "json"),
        choices=("text", "json"),
    )
    metrics = Setting(
        "metrics",
        True,
        "serve `/metrics` in Prometheus's format (requests by API, operation and status, their latency, the "
        "outbox's deliveries by state and its oldest pending one, the store's connections) to the clients "
        "`--admin-hosts` allows",
        switch,
        choices=("on", "off"),
        serve_only=True,
    )
    metrics_port = Setting(
        "metrics_port",
        "",
        "where `tmfgate dispatch` serves `/metrics` (its deliveries by outcome, reactions, the outbox's "
        "deliveries by state and its oldest pending one, the store's connections) to the clients "
        "`--admin-hosts` allows: a port on loopback (`9464`) or `host:port` (`0.0.0.0:9464`); none serves "
        "none (`tmfgate serve` has `/metrics` on its own port)",
        listen_address,
        metavar="[HOST:]PORT",
        shown_default="none",
        dispatch_only=True,
    )
    health = Setting(
        "health",
        True,
        "serve `/health/live` (200 while the process answers) and `/health/ready` (200 while the store "
        "answers and has this release's schema, else 503) to anyone, for load balancers",
        switch,
        choices=("on", "off"),
        serve_only=True,
    )
    otlp_endpoint = Setting(
        "otlp_endpoint",
        "",
        "where to send OpenTelemetry traces of the requests, by OTLP over HTTP (e.g. "
        "`http://collector:4318/v1/traces`); none makes no spans",
        base_url,
        metavar="URL",
        shown_default="none",
        serve_only=True,
    )
    admin_hosts = Setting(
        "admin_hosts",
        "",
        "client addresses or networks, besides loopback, that may use the operator API at "
        "`/tmfgate/admin/v1` (e.g. `10.0.0.5,192.0.2.0/24`)",
        networks,
        metavar="HOSTS",
        shown_default="none",
        serve_only=True,
    )
    callback_hosts = Setting(
        "callback_hosts",
        "*",
        "where hub callbacks may point, comma-separated: host name patterns such as `*.partner.example` "
        "(`*` any name), and IP networks such as `10.0.0.0/8` allowed although not public; callbacks to "
        "loopback, private, link-local, multicast and the gateway's own addresses are refused otherwise, "
        "checked at every delivery",
        text,
        metavar="HOSTS",
        serve_only=True,
    )
    hub_secret_key = Setting(
        "hub_secret_key",
        "",
        "the Fernet key that encrypts hub subscription secrets at rest; without one, a subscription cannot "
        "have a secret (400). Make one with `python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())'`",
        secret_key,
        metavar="KEY",
        shown_default="none",
    )
    dispatcher = Setting(
        "dispatcher",
        True,
        "deliver events from the gateway process; `off` when separate `tmfgate dispatch` processes deliver them",
        switch,
        choices=("on", "off"),
        serve_only=True,
    )
    event_bus = Setting(
        "event_bus",
        "",
        "a broker that gets every event hub subscribers get, from the outbox, at least once and in order "
        "per resource: `nats://host:4222` (JetStream), `amqp://user:password@host:5672/vhost` (RabbitMQ) or "
        "`kafka://host:9092`; subject, routing key or topic `tmfgate.<api>.<eventType>` (see [Event bus]"
        "(#event-bus)); give every process that dispatches the same one",
        bus_url,
        metavar="URL",
        shown_default="none",
    )
    delivery_attempts = Setting(
        "delivery_attempts", 10, "attempts before a delivery is parked for an operator", whole(1), metavar="N"
    )
    delivery_concurrency = Setting(
        "delivery_concurrency",
        32,
        "hub callbacks a delivery worker POSTs to at once; the gateway's own reactions run apart",
        whole(1),
        metavar="N",
    )
    delivery_per_subscriber = Setting(
        "delivery_per_subscriber",
        8,
        "hub callbacks a delivery worker POSTs to one subscription at once, so a slow one waits alone",
        whole(1),
        metavar="N",
    )
    delivery_timeout = Setting(
        "delivery_timeout",
        10.0,
        "seconds a listener has to take a notification and answer, in all",
        amount("seconds", zero=False),
        metavar="SECONDS",
    )
    retry_delay = Setting(
        "retry_delay",
        1.0,
        "seconds before the first retry; each retry doubles it, with jitter (×0.5 to ×1.5)",
        amount("seconds", zero=False),
        metavar="SECONDS",
    )
    retry_delay_max = Setting(
        "retry_delay_max",
        300.0,
        "longest wait between two retries, before jitter",
        amount("seconds", zero=False),
        metavar="SECONDS",
    )
    event_retention = Setting(
        "event_retention",
        30.0,
        "days an event stays in the outbox once every delivery of it was made (events with a pending or "
        "parked delivery stay whatever their age); `0` keeps every event; it bounds how far back "
        "`tmfgate replay` reaches",
        amount("days", zero=True),
        metavar="DAYS",
    )
    public_url = Setting(
        "public_url",
        "",
        "scheme and host clients reach the gateway at, for every `href` and `Location` (the request's `Host` "
        "header is then never used) and those of what the gateway creates on its own (service orders, "
        "services, catalog entries, billing rates and bills)",
        base_url,
        metavar="URL",
        shown_default="http://HOST:PORT",
    )

    config = Setting(
        "config",
        "",
        "a YAML file of settings (by name, under `settings:`), of APIs answered by an upstream TMF server "
        "(`apis:`) and of southbound fulfilment (see [Gateway mode](#gateway-mode)); variables and options "
        "override its settings",
        text,
        metavar="FILE",
        shown_default="none",
    )
    upstream_timeout = Setting(
        "upstream_timeout",
        10.0,
        "seconds an upstream TMF server has to answer, unless its `timeout:` in the configuration file says otherwise",
        amount("seconds", zero=False),
        metavar="SECONDS",
    )
    upstream_retries = Setting(
        "upstream_retries",
        2,
        "retries of a GET or DELETE an upstream failed to answer (never of a create or a PATCH)",
        whole(0, 10),
        metavar="N",
    )
    upstream_breaker = Setting(
        "upstream_breaker",
        5,
        "failed calls in a row after which an upstream is deemed down: its API answers 503 with "
        "`Retry-After` until a trial call succeeds",
        whole(1),
        metavar="N",
    )
    upstream_breaker_reset = Setting(
        "upstream_breaker_reset",
        10.0,
        "seconds an upstream deemed down rests before a trial call",
        amount("seconds", zero=False),
        metavar="SECONDS",
    )
    upstream_answers = Setting(
        "upstream_answers",
        "log",
        "an upstream answer that does not match our spec is `log`ged with its path and returned, or "
        "`refuse`d with a 502",
        one_of("log", "refuse"),
        choices=("log", "refuse"),
    )
    upstream_poll = Setting(
        "upstream_poll",
        0.0,
        "seconds between polls of an upstream that has no hub, for the changes made there and through the "
        "gateway alike; `0` polls none, and the gateway raises the events of the changes made through it",
        amount("seconds", zero=True),
        metavar="SECONDS",
    )
    upstream_poll_deletions = Setting(
        "upstream_poll_deletions",
        60.0,
        "seconds between looks for deletions at a polled upstream: the resources seen there are asked for "
        "by id, a hundred a call, and one it no longer holds is announced deleted; `0` looks for none",
        amount("seconds", zero=True),
        metavar="SECONDS",
    )
    upstream_poll_attribute = Setting(
        "upstream_poll_attribute",
        "lastUpdate",
        "the date-time attribute every change at an upstream moves forward, by which it is polled (a "
        "watermark of its last value seen is stored)",
        text,
        metavar="NAME",
    )

    # Security (README "Security"): who may call, and what they may do.
    auth = Setting(
        "auth",
        "",
        "how partners authenticate: `jwt` (OAuth 2.0 bearer tokens), `apikey` (`X-API-Key`), or "
        "`jwt,apikey` for both; none leaves every API open",
        auth_methods,
        metavar="METHODS",
        shown_default="none",
        serve_only=True,
    )
    jwks = Setting(
        "jwks",
        "",
        "the JSON Web Key Set that signs bearer tokens: a file or an http(s) URL; kept in memory and "
        "read again when a token names an unknown `kid` (at most every 30 seconds)",
        text,
        metavar="FILE|URL",
        shown_default="none",
        serve_only=True,
    )
    issuer = Setting(
        "issuer",
        "",
        "the `iss` every bearer token must carry",
        text,
        metavar="ISS",
        shown_default="none",
        serve_only=True,
    )
    audience = Setting(
        "audience",
        "",
        "the `aud` every bearer token must carry (one of its values)",
        text,
        metavar="AUD",
        shown_default="none",
        serve_only=True,
    )
    api_keys = Setting(
        "api_keys",
        "",
        "the API key file (JSON): each entry the SHA-256 of a key (hex) with its `partner` and `scopes`",
        text,
        metavar="FILE",
        shown_default="none",
        serve_only=True,
    )
    partner_claim = Setting(
        "partner_claim",
        "",
        "the token claim naming the partner; none takes `azp`, else `client_id`, else `sub`",
        text,
        metavar="CLAIM",
        shown_default="azp|client_id|sub",
        serve_only=True,
    )
    require_if_match = Setting(
        "require_if_match",
        False,
        "refuse a PATCH or DELETE without `If-Match` (428), so no client overwrites a change it has not seen",
        switch,
        choices=("on", "off"),
        serve_only=True,
    )
    audit_log = Setting(
        "audit_log",
        "",
        "where the audit log goes, one JSON line per write and per refused access: a file, `-` for "
        "standard output, none for no audit log",
        text,
        metavar="FILE",
        shown_default="none",
        serve_only=True,
    )

    def __init__(self, **values: Any) -> None:
        self._values: dict[str, Any] = values

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._values)))

    def __repr__(self) -> str:
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"

    def get(self, setting: Setting[T]) -> T:
        """The value of ``setting``: as given, else its default."""
        return self._values.get(setting.name, setting.default)  # type: ignore[no-any-return]

    @property
    def given(self) -> Mapping[str, Any]:
        """The values set explicitly, by name."""
        return dict(self._values)

    @property
    def migrates(self) -> bool:
        """Whether opening the store migrates an older schema (``migrate``, ``auto`` by the store's kind)."""
        chosen = self.migrate
        return self.database_url.startswith("sqlite") if chosen is None else chosen

    @property
    def base_url(self) -> str:
        """Scheme and host of the gateway for links made outside a request."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def pool_size(self) -> int:
        """The connections each worker keeps to a PostgreSQL store: ``db_pool_size``, else its share."""
        given = self.db_pool_size
        if given is not None:
            return given
        return max(MIN_DB_POOL, -(-DB_CONNECTIONS // self.workers))

    @classmethod
    def from_env(cls, declared: Iterable[Setting[Any]], environ: Mapping[str, str] | None = None) -> Settings:
        """The defaults overridden by the ``TMFGATE_*`` variables of ``declared`` that are set."""
        environ = os.environ if environ is None else environ
        values = {}
        for setting in declared:
            raw = environ.get(setting.variable)
            if raw is not None and raw != "":
                values[setting.name] = setting.from_text(raw, setting.variable)
        return cls(**values)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given (non-None) values replaced, e.g. from command-line options."""
        return type(self)(**{**self._values, **{k: v for k, v in changes.items() if v is not None}})

    def to_env(self, declared: Iterable[Setting[Any]]) -> dict[str, str]:
        """The variables that give a worker process these settings."""
        return {s.variable: s.to_text(self.get(s)) for s in declared if s.name in self._values}

    def check(self, declared: Iterable[Setting[Any]]) -> None:
        """Refuse a value given for a setting nothing declares (a typo, or an extension not installed)."""
        names = {setting.name for setting in declared}
        unknown = sorted(set(self._values) - names)
        if unknown:
            raise ConfigurationError(
                f"No setting is named {', '.join(unknown)}; the settings are {', '.join(sorted(names))}."
            )


# The settings of which any, once set, makes partners authenticate (README "Security").
AUTH_SETTINGS = ("auth", "jwks", "api_keys")


def auth_configured(settings: Settings) -> bool:
    """Whether partners must authenticate: any of :data:`AUTH_SETTINGS` is set."""
    return any(settings.given.get(name) for name in AUTH_SETTINGS)


def loopback_only(host: str) -> bool:
    """Whether listening on ``host`` serves this machine alone."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


CORE_SETTINGS: tuple[Setting[Any], ...] = tuple(
    value for value in vars(Settings).values() if isinstance(value, Setting)
)


def markdown_table(declared: Iterable[Setting[Any]]) -> str:
    """The README's configuration table."""
    rows = ["| option | variable | default | meaning |", "|---|---|---|---|"]
    rows += [f"| `{s.option}` | `{s.variable}` | `{s.default_text}` | {s.help} |" for s in declared]
    return "\n".join(rows)


__all__ = [
    "CORE_SETTINGS",
    "PREFIX",
    "Parse",
    "Setting",
    "Settings",
    "amount",
    "auth_configured",
    "loopback_only",
    "markdown_table",
    "one_of",
    "switch",
    "text",
    "whole",
]
