"""The configuration file (``--config``, ``TMFGATE_CONFIG``): settings by name, routing per API to a
local store or an upstream TMF server, and southbound fulfilment; validated before the gateway starts.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tmfgate.errors import ConfigurationError
from tmfgate.model import ApiModel
from tmfgate.settings import Setting, Settings

SECTIONS = ("settings", "apis", "fulfilment")
UPSTREAM_KEYS = ("url", "version", "auth", "timeout", "poll_attribute")
ADAPTER_GROUP = "tmfgate.adapters"
AUTH_KEYS = ("bearer", "username", "password", "headers")


@dataclass(frozen=True)
class Upstream:
    """A TMF server the gateway forwards to: its base URL, API version, headers and timeout."""

    url: str
    version: str | None = None
    timeout: float | None = None  # seconds; None: the ``upstream_timeout`` setting
    headers: tuple[tuple[str, str], ...] = ()
    # (kind, date-time attribute) by which a hubless upstream is polled; kind "*" for every other
    # kind; none given: the ``upstream_poll_attribute`` setting.
    poll_attributes: tuple[tuple[str, str], ...] = ()

    def poll_attribute(self, kind: str, default: str) -> str:
        """The attribute by which ``kind`` is polled at this upstream."""
        given = dict(self.poll_attributes)
        return given.get(kind) or given.get("*") or default


@dataclass(frozen=True)
class AdapterRoute:
    """An installed adapter (entry point of ``tmfgate.adapters``) with its system's URL and options."""

    name: str
    url: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConfigFile:
    """A configuration file as read: setting values by name, routes by the API name as written."""

    path: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    apis: Mapping[str, Upstream | AdapterRoute | None] = field(default_factory=dict)  # None: local
    southbound: Upstream | None = None


@dataclass(frozen=True)
class Routing:
    """Which served APIs answer from an upstream (by spec stem), and where fulfilment goes."""

    upstreams: Mapping[str, Upstream] = field(default_factory=dict)
    southbound: Upstream | None = None
    adapters: Mapping[str, AdapterRoute] = field(default_factory=dict)


def read(path: str, declared: Iterable[Setting[Any]] | None = None) -> ConfigFile:
    """The file at ``path``, checked key by key; a ConfigurationError names the bad key. Without
    ``declared`` the settings section is left unread (the routes alone are wanted)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"The configuration file {path} cannot be read: {exc.strerror}.") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        where = f" at line {exc.problem_mark.line + 1}" if exc.problem_mark is not None else ""
        raise ConfigurationError(f"The configuration file {path} is not valid YAML{where}.") from None
    except yaml.YAMLError:
        where = ""
        raise ConfigurationError(f"The configuration file {path} is not valid YAML{where}.") from None
    data = {} if data is None else _mapping(data, path, "the file")
    _known(data, SECTIONS, path, "")
    fulfilment = _mapping(data.get("fulfilment") or {}, path, "fulfilment")
    _known(fulfilment, ("southbound",), path, "fulfilment.")
    southbound = fulfilment.get("southbound")
    return ConfigFile(
        path=path,
        settings={}
        if declared is None
        else _settings(_mapping(data.get("settings") or {}, path, "settings"), declared, path),
        apis={str(name): _route(route, path, f"apis.{name}") for name, route in _apis(data, path).items()},
        southbound=None if southbound is None else _upstream(southbound, path, "fulfilment.southbound"),
    )


def settings(
    declared: Iterable[Setting[Any]], environ: Mapping[str, str] | None = None, options: Mapping[str, Any] | None = None
) -> Settings:
    """The settings in force: defaults, then the configuration file, then the variables, then ``options``."""
    declared = tuple(declared)
    environ = os.environ if environ is None else environ
    from_env = Settings.from_env(declared, environ)
    path = (options or {}).get(Settings.config.name) or from_env.config
    values = read(path, declared).settings if path else {}
    return Settings(**values).with_overrides(**from_env.given).with_overrides(**(options or {}))


def routing(settings: Settings, apis: Iterable[Any]) -> Routing:
    """The routes of ``settings.config`` resolved against the served APIs (objects with ``name`` and
    ``base_path``); refuses an unknown API and an upstream that is the gateway itself."""
    if not settings.config:
        return Routing()
    file = read(settings.config)
    served = {api.name: api for api in apis}
    upstreams: dict[str, Upstream] = {}
    adapters: dict[str, AdapterRoute] = {}
    for written, route in file.apis.items():
        name = _api_name(written, served, file.path)
        if isinstance(route, Upstream):
            _not_self(route, settings, file.path, f"apis.{written}")
            _polled_kinds(route, served[name], file.path, f"apis.{written}")
            upstreams[name] = route
        elif isinstance(route, AdapterRoute):
            adapters[name] = route
    if file.southbound is not None:
        _not_self(file.southbound, settings, file.path, "fulfilment.southbound")
        upstreams.setdefault(_api_at(file.southbound.url, served, file.path), file.southbound)
    return Routing(upstreams, file.southbound, adapters)


def _polled_kinds(route: Upstream, api: ApiModel, path: str, where: str) -> None:
    """Each kind ``poll_attribute`` names must be a resource of the API."""
    kinds = set(api.resources)
    for kind, _ in route.poll_attributes:
        if kind != "*" and kinds and kind not in kinds:
            raise ConfigurationError(
                f"{path}: {where}.upstream.poll_attribute names {kind!r}, no resource of {api.name}; "
                f"its resources are {', '.join(sorted(kinds))}."
            )


def _api_at(url: str, served: Mapping[str, Any], path: str) -> str:
    """The served API whose base path a southbound URL ends with (the OSS serves the same API)."""
    tail = urlsplit(url).path.rstrip("/")
    for name, api in served.items():
        if tail.endswith(api.base_path):
            return str(name)
    raise ConfigurationError(
        f"{path}: fulfilment.southbound.url {url} ends with the base path of no API served here "
        "(such as /tmf-api/serviceOrdering/v4)."
    )


def _mapping(value: Any, path: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigurationError(f"{path}: {where} must be a mapping of keys to values, not {value!r}.")
    return value


def _known(data: Mapping[str, Any], keys: tuple[str, ...], path: str, prefix: str) -> None:
    for key in data:
        if key not in keys:
            raise ConfigurationError(
                f"{path}: the key {prefix}{key} is not known; the keys here are {', '.join(keys)}."
            )


def _settings(data: Mapping[str, Any], declared: Iterable[Setting[Any]], path: str) -> dict[str, Any]:
    """Each value parsed by its setting's own parser, as an option's text would be."""
    by_name = {setting.name: setting for setting in declared}
    values: dict[str, Any] = {}
    for key, raw in data.items():
        setting = by_name.get(str(key).replace("-", "_"))
        if setting is None:
            raise ConfigurationError(
                f"{path}: settings.{key} is no setting; `tmfgate settings` lists them ({', '.join(sorted(by_name))})."
            )
        if setting.name == Settings.config.name:
            raise ConfigurationError(f"{path}: settings.{key} cannot name another configuration file.")
        values[setting.name] = setting.from_text(_text(raw), f"{path}: settings.{key}")
    return values


def _text(raw: Any) -> str:
    if isinstance(raw, bool):
        return "on" if raw else "off"
    if isinstance(raw, list):
        return ",".join(str(item) for item in raw)
    return "" if raw is None else str(raw)


def _apis(data: Mapping[str, Any], path: str) -> dict[str, Any]:
    return _mapping(data.get("apis") or {}, path, "apis")


def _route(route: Any, path: str, where: str) -> Upstream | AdapterRoute | None:
    if route == "local" or route is None:
        return None
    route = _mapping(route, path, where)
    _known(route, ("local", "upstream", "adapter"), path, where + ".")
    if "adapter" in route:
        return _adapter(route["adapter"], path, where + ".adapter")
    if "upstream" not in route:
        return None
    return _upstream(route["upstream"], path, where + ".upstream")


def _adapter(value: Any, path: str, where: str) -> AdapterRoute:
    """``{name: devices, url: ..., <its options>}``; the name must be an installed adapter."""
    data = dict(_mapping(value, path, where))
    name, url = str(data.pop("name", "")), str(data.pop("url", ""))
    installed = sorted(point.name for point in entry_points(group=ADAPTER_GROUP))
    if name not in installed:
        raise ConfigurationError(
            f"{path}: {where}.name {name!r} is no installed adapter; the adapters are {', '.join(installed) or 'none'}."
        )
    if "://" not in url:
        raise ConfigurationError(f"{path}: {where}.url must be the URL of the adapter's system, not {url!r}.")
    return AdapterRoute(name, url, data)


def _upstream(value: Any, path: str, where: str) -> Upstream:
    data = _mapping(value, path, where)
    _known(data, UPSTREAM_KEYS, path, where + ".")
    url = str(data.get("url") or "").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(
            f"{path}: {where}.url must be a TMF API's base URL such as "
            f"http://oss.example:8080/tmf-api/serviceInventory/v4, not {data.get('url')!r}."
        )
    version = data.get("version")
    if version is not None and not str(version).lstrip("v").isdigit():
        raise ConfigurationError(f"{path}: {where}.version must be a major version such as v4, not {version!r}.")
    timeout = data.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
        raise ConfigurationError(f"{path}: {where}.timeout must be a number of seconds above 0, not {timeout!r}.")
    return Upstream(
        url=url,
        version=None if version is None else "v" + str(version).lstrip("v"),
        timeout=None if timeout is None else float(timeout),
        headers=_auth(data.get("auth"), path, where + ".auth"),
        poll_attributes=_poll_attributes(data.get("poll_attribute"), path, where + ".poll_attribute"),
    )


def _poll_attributes(value: Any, path: str, where: str) -> tuple[tuple[str, str], ...]:
    """``poll_attribute: lastUpdate`` for every kind, or ``{serviceOrder: completionDate, ...}`` by kind."""
    if value is None:
        return ()
    pairs = _mapping(value, path, where).items() if isinstance(value, dict) else [("*", value)]
    for kind, name in pairs:
        if not isinstance(name, str) or not name.strip() or not str(kind).strip():
            raise ConfigurationError(
                f"{path}: {where} must name a date-time attribute, or map each kind to one, not {value!r}."
            )
    return tuple((str(kind), name.strip()) for kind, name in pairs)


def _auth(value: Any, path: str, where: str) -> tuple[tuple[str, str], ...]:
    """Headers sent upstream: ``bearer: TOKEN``, ``username`` and ``password`` (basic), or ``headers``."""
    if value is None:
        return ()
    data = _mapping(value, path, where)
    _known(data, AUTH_KEYS, path, where + ".")
    headers = [(str(k), str(v)) for k, v in _mapping(data.get("headers") or {}, path, where + ".headers").items()]
    if "bearer" in data:
        headers.append(("Authorization", f"Bearer {data['bearer']}"))
    if "username" in data:
        import base64  # noqa: PLC0415 - only basic credentials need it

        pair = f"{data['username']}:{data.get('password', '')}".encode()
        headers.append(("Authorization", "Basic " + base64.b64encode(pair).decode()))
    return tuple(headers)


def _api_name(written: str, served: Mapping[str, Any], path: str) -> str:
    """The spec stem an API is named by: the stem itself or its leading word (``tmf639``)."""
    key = str(written).lower()
    matches = [name for name in served if name == key or name.split("_", 1)[0] == key]
    if len(matches) != 1:
        raise ConfigurationError(
            f"{path}: apis.{written} names no API served here; name one by its spec stem or number "
            f"({', '.join(sorted({n.split('_', 1)[0] for n in served}))})."
        )
    return matches[0]


LOOPBACK = {"localhost", "0.0.0.0", "::"}


def _not_self(upstream: Upstream, settings: Settings, path: str, where: str) -> None:
    """Refuse an upstream that is this gateway: its public URL, or its own port on a local address."""
    parts = urlsplit(upstream.url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    ours = urlsplit(settings.base_url)
    same_public = (parts.hostname, port) == (ours.hostname, ours.port or (443 if ours.scheme == "https" else 80))
    if same_public or (port == settings.port and _local(parts.hostname) and _local(settings.host)):
        raise ConfigurationError(
            f"{path}: {where}.url {upstream.url} is this gateway itself, which would forward to itself forever."
        )


def _local(host: str | None) -> bool:
    if host is None or host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


__all__ = ["AdapterRoute", "ConfigFile", "Routing", "Upstream", "read", "routing", "settings"]
