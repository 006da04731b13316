"""APIs answered by upstream TMF servers: their kinds' documents routed to an upstream store, with
hrefs mapped between the upstream's base and the gateway's, and answers checked against our spec."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any
from urllib.parse import urlsplit

import httpx

from backends.adapters import GROUP, AdapterContext, AdapterFactory
from backends.base import Backend
from backends.routed import RemoteStore, RoutedBackend
from backends.upstream import UpstreamOptions, UpstreamStore
from tmfgate.configuration import Routing, Upstream
from tmfgate.model import ApiModel
from tmfgate.schemas import compile_schema, describe
from tmfgate.settings import Settings

LOCAL_KINDS = frozenset({"hub"})  # the gateway's own subscribers stay with the gateway
# What names the order a create at the southbound OSS is for: a retried create finds the first by it.
SOUTHBOUND_GUARD = "externalId"


def routed(
    local: Backend,
    settings: Settings,
    apis: Iterable[ApiModel],
    routing: Routing,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Backend:
    """``local``, or, when some APIs are routed upstream or to adapters, a backend sending their kinds there."""
    if not routing.upstreams and not routing.adapters:
        return local
    served = {api.name: api for api in apis}
    routes: dict[str, RemoteStore] = {}
    for name, route in sorted(routing.adapters.items()):
        adapter = _factory(route.name)(
            AdapterContext(route.url, settings.base_url + served[name].base_path, route.options)
        )
        for kind in adapter.kinds:
            routes.setdefault(kind, adapter)
    inward = tuple((settings.base_url + served[n].base_path, u.url) for n, u in routing.upstreams.items())
    for name in sorted(routing.upstreams):
        api, upstream = served[name], routing.upstreams[name]
        options = UpstreamOptions(
            url=upstream.url,
            timeout=upstream.timeout or settings.upstream_timeout,
            retries=settings.upstream_retries,
            breaker_failures=settings.upstream_breaker,
            breaker_reset=settings.upstream_breaker_reset,
            headers=upstream.headers,
            outward=outward(upstream, api, settings),
            inward=inward,
            refuse_nonconforming=settings.upstream_answers == "refuse",
            check=SpecCheck(api),
            owned={kind: resource.server_owned for kind, resource in api.resources.items()},
            guard=SOUTHBOUND_GUARD
            if routing.southbound is not None and routing.southbound.url == upstream.url
            else None,
        )
        store = UpstreamStore(options, transport)
        for kind in api.resources:
            if kind not in LOCAL_KINDS:
                routes.setdefault(kind, store)  # a kind two upstream APIs serve goes to the first
    return RoutedBackend(local, routes)


def _factory(name: str) -> AdapterFactory:
    """The installed adapter of that name (the configuration checked it is installed)."""
    (point,) = entry_points(group=GROUP, name=name)
    factory: AdapterFactory = point.load()
    return factory


def outward(upstream: Upstream, api: ApiModel, settings: Settings) -> tuple[tuple[str, str], ...]:
    """The upstream's base, then its origin (hrefs of its other APIs), as the gateway's."""
    ours = settings.base_url
    parts = urlsplit(upstream.url)
    return ((upstream.url, ours + api.base_path), (f"{parts.scheme}://{parts.netloc}/", ours + "/"))


class SpecCheck:
    """What our spec finds wrong with a resource an upstream answered, or None."""

    def __init__(self, api: ApiModel) -> None:
        self.api = api
        self.validators: Mapping[str, Any] = {
            kind: compile_schema(resource.schema, api.spec.document)
            for kind, resource in api.resources.items()
            if resource.schema is not None
        }
        self._lists: dict[str, Any] = {}  # kind -> a validator of an array of them, made on first use

    def __call__(self, kind: str, document: Any) -> str | None:
        validator = self.validators.get(kind)
        if validator is None or validator.is_valid(document):
            return None
        return describe(list(validator.iter_errors(document)), f"upstream {kind}")

    def conforms(self, kind: str, documents: list[Any]) -> bool:
        """Whether every resource of a list conforms, in one call: a page of a hundred checked as
        one array costs a quarter of a hundred checks of one."""
        schema = self.api.resources[kind].schema if kind in self.validators else None
        if schema is None:
            return True
        validator = self._lists.get(kind)
        if validator is None:
            validator = self._lists[kind] = compile_schema({"type": "array", "items": schema}, self.api.spec.document)
        return bool(validator.is_valid(documents))
