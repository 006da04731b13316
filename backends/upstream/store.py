"""The upstream store: documents of a remote TMF server, read and written through its API.

Pooled connections and a timeout per upstream (httpx), bounded retries of GET and DELETE only,
a circuit breaker, hrefs rewritten between the upstream's base and the gateway's. It keeps no
transaction: each write is one call, made when the transaction makes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import orjson

from backends.errors import (
    BadGateway,
    DuplicateId,
    GatewayTimeout,
    NotStored,
    Refused,
    StorageUnavailable,
    Unsupported,
)
from backends.queries import Condition, Op, Page, Query, ValueType
from backends.tls import client_context

from .breaker import CircuitBreaker
from .connections import Http11Transport
from .params import parameters

log = logging.getLogger("tmfgate.upstream")


class Check(Protocol):
    """What our spec finds wrong with the resources an upstream answered."""

    def __call__(self, kind: str, document: Any) -> str | None:
        """What is wrong with one resource, or None."""

    def conforms(self, kind: str, documents: list[Any]) -> bool:
        """Whether every resource of a list is right, in one pass (a list is checked item by item
        only when it is not, to say which)."""


IDEMPOTENT = ("GET", "DELETE")
MERGE_PATCH = "application/merge-patch+json"
IDENTITY = frozenset({"id", "href", "@type"})


@dataclass(frozen=True)
class UpstreamOptions:
    """How one upstream is called and how its hrefs map to the gateway's."""

    url: str  # the API's base URL at the upstream
    timeout: float = 10.0
    retries: int = 2
    breaker_failures: int = 5
    breaker_reset: float = 10.0
    headers: tuple[tuple[str, str], ...] = ()
    outward: tuple[tuple[str, str], ...] = ()  # (upstream prefix, gateway prefix) for answers
    inward: tuple[tuple[str, str], ...] = ()  # (gateway prefix, upstream prefix) for request bodies
    refuse_nonconforming: bool = False
    check: Check | None = None
    owned: Mapping[str, frozenset[str]] = field(default_factory=dict)  # kind -> attributes the upstream sets
    # An attribute that names what a create is for (the southbound OSS: ``externalId``, the product
    # order): a create carrying it is looked up by it first, so a create retried after its answer was
    # lost returns what the first attempt stored instead of storing it twice.
    guard: str | None = None


class UpstreamStore:
    """A :class:`~backends.base.DocumentStore` whose documents live at a remote TMF server."""

    raises_events = True  # its hub notifies every change, the gateway's included
    # Set while the gateway is not subscribed at the upstream's hub (tmfgate/relay.py): what it would
    # create there could then change unheard, so creates wait until the subscription stands.
    deaf = False

    def __init__(self, options: UpstreamOptions, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = options.url
        self.options = options
        self.breaker = CircuitBreaker(options.breaker_failures, options.breaker_reset)
        self._transport = transport
        self._client: httpx.AsyncBaseTransport | None = None
        self._headers = [("accept", "application/json"), *options.headers]
        self._timeouts = {"timeout": dict.fromkeys(("connect", "read", "write", "pool"), options.timeout)}
        self._outward = [(a.encode(), b.encode()) for a, b in options.outward]
        self._inward = [(a.encode(), b.encode()) for a, b in options.inward]

    async def open(self) -> None:
        """Make the connection pool and try the upstream once: unreachable, it is deemed down (503)
        until a trial call succeeds, and the gateway starts all the same."""
        self._client = self._transport or Http11Transport(
            client_context() if self.url.startswith("https:") else None, limit=100, keepalive=50
        )
        try:
            response = await self._send("GET", "/hub", [("limit", "1")], None, None)
        except httpx.ReadTimeout:
            return  # it answers, slowly: each call says so with a 504
        except httpx.HTTPError as exc:
            log.warning("upstream %s is unreachable (%s); its API answers 503 until it is back", self.url, _why(exc))
            self.breaker.trip()
        else:
            await response.aclose()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _send(
        self, method: str, path: str, params: Sequence[tuple[str, str]], content: bytes | None, media_type: str | None
    ) -> httpx.Response:
        """One request straight to the transport, its answer read: no client between (redirects, cookies,
        auth flows, hooks), as the gateway needs none of them towards an upstream."""
        if self._client is None:
            raise StorageUnavailable(f"The upstream at {self.url} is not open.")
        headers = self._headers if media_type is None else [*self._headers, ("content-type", media_type)]
        request = httpx.Request(
            method,
            self.url + path,
            params=list(params) or None,
            content=content,
            headers=headers,
            extensions=self._timeouts,
        )
        response = await self._client.handle_async_request(request)
        await response.aread()
        return response

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[UpstreamTransaction]:
        yield UpstreamTransaction(self)

    async def get(self, kind: str, id: str) -> bytes | None:
        path = f"/{kind}/{id}"
        response = await self.call("GET", path)
        if response.status_code == 404:
            return None
        raw = self._body(response, "GET", path)
        # The answer's own bytes, hrefs rewritten, once checked: parsed once, never encoded again.
        return self._document(kind, _parsed(raw, self.url, "GET", path), path, raw=raw)

    async def query(self, kind: str, query: Query) -> Page:
        """One upstream call with the query's filters, sort, fields and page; its count headers kept."""
        response = await self.call("GET", f"/{kind}", params=parameters(query))
        if response.status_code == 400 and query.sort:
            await self._sort_refused(kind, query, response)
        items = self._answer(response, "GET", f"/{kind}")
        if not isinstance(items, list):
            raise BadGateway(f"The upstream at {self.url} answered GET /{kind} with what is not a list.", told=True)
        check = self.options.check
        if check is not None and check.conforms(kind, items):  # one call for the page, not one per item
            page = [orjson.dumps(self._identified(kind, item, f"/{kind}")) for item in items]
        else:
            page = [self._document(kind, item, f"/{kind}") for item in items]
        total = response.headers.get("x-total-count", "")
        return Page(int(total) if total.isdigit() else query.offset + len(page), page)

    async def _sort_refused(self, kind: str, query: Query, refusal: httpx.Response) -> None:
        """Unsupported (501) when the upstream refused a list only for its sort: TMF630 lets a server
        sort by what it chooses, so a sort it cannot do is a capability it lacks, not a bad request.
        The same list without the sort, one item long, tells; otherwise the refusal stands."""
        probe = Query(conditions=query.conditions, fields=query.fields, limit=1)
        response = await self.call("GET", f"/{kind}", params=parameters(probe))
        await response.aclose()
        if response.status_code < 400:
            keys = ",".join(("-" if key.descending else "") + ".".join(key.path) for key in query.sort)
            raise Unsupported(f"The upstream at {self.url} cannot sort {kind} by {keys}: {self._message(refusal)}")

    async def create(self, kind: str, doc: bytes) -> bytes:
        if self.deaf:
            raise StorageUnavailable(
                f"The gateway is not yet subscribed to the hub of {self.url}; try again shortly.",
                told=True,
                retry_after=1.0,
            )
        owned = self.options.owned.get(kind, frozenset()) | {"id", "href"}
        body = {k: v for k, v in orjson.loads(doc).items() if k not in owned}
        earlier = await self._created_before(kind, body)
        if earlier is not None:
            return earlier
        response = await self.call("POST", f"/{kind}", content=self._inwards(orjson.dumps(body)))
        if response.status_code == 409:
            raise DuplicateId(self._message(response))
        return self._document(kind, self._answer(response, "POST", f"/{kind}"), f"/{kind}")

    async def _created_before(self, kind: str, body: dict[str, Any]) -> bytes | None:
        """What an earlier attempt of this create stored at the upstream, found by the guard attribute;
        None when the create is not guarded, nothing was stored, or the upstream cannot look it up."""
        key = self.options.guard
        value = body.get(key) if key is not None else None
        if key is None or not isinstance(value, str) or not value:
            return None
        lookup = Query(conditions=(Condition((key,), Op.EQ, ValueType.STRING, (value,)),), limit=1)
        response = await self.call("GET", f"/{kind}", params=parameters(lookup))
        if response.status_code >= 400:
            log.warning(
                "upstream %s cannot find a %s by %s (%s): a create retried after a lost answer may be stored twice",
                self.url,
                kind,
                key,
                response.status_code,
            )
            return None
        found = self._answer(response, "GET", f"/{kind}")
        if not isinstance(found, list) or not found:
            return None
        log.info("upstream %s already holds the %s with %s %s: not created again", self.url, kind, key, value)
        return self._document(kind, found[0], f"/{kind}")

    async def patch(self, kind: str, id: str, change: dict[str, Any]) -> bytes:
        path = f"/{kind}/{id}"
        content = self._inwards(orjson.dumps(change))
        response = await self.call("PATCH", path, content=content, media_type=MERGE_PATCH)
        if response.status_code == 404:
            raise NotStored(f"No {kind} with id {id!r} is stored at {self.url}.")
        return self._document(kind, self._answer(response, "PATCH", path), path)

    async def delete(self, kind: str, id: str) -> bool:
        response = await self.call("DELETE", f"/{kind}/{id}")
        if response.status_code == 404:
            return False
        self._answer(response, "DELETE", f"/{kind}/{id}", body=False)
        return True

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] = (),
        content: bytes | None = None,
        media_type: str = "application/json",
    ) -> httpx.Response:
        """One call, retried when idempotent and the upstream failed; a StorageUnavailable when it is down."""
        attempts = 1 + (self.options.retries if method in IDEMPOTENT else 0)
        error: StorageUnavailable = StorageUnavailable("no attempt was made")
        for attempt in range(attempts):
            wait = self.breaker.wait()
            if wait is not None:
                raise StorageUnavailable(
                    f"The upstream at {self.url} is down ({error if attempt else 'it failed repeatedly'}); "
                    "try again later.",
                    told=True,
                    retry_after=wait,
                )
            try:
                response = await self._send(method, path, params, content, media_type if content is not None else None)
            except httpx.TimeoutException:
                error = GatewayTimeout(
                    f"The upstream at {self.url} did not answer {method} {path} within {self.options.timeout:g} s.",
                    told=True,
                )
            except httpx.HTTPError as exc:
                error = BadGateway(f"The upstream at {self.url} cannot be reached: {_why(exc)}.", told=True)
            else:
                if response.status_code < 500 or response.status_code == 501:
                    self.breaker.succeeded()
                    return response
                error = BadGateway(
                    f"The upstream at {self.url} failed {method} {path} with {response.status_code}: "
                    f"{self._message(response)}",
                    told=True,
                )
            self.breaker.failed()
            if attempt + 1 < attempts:
                await asyncio.sleep(0.05 * 2**attempt)
        raise error

    def _answer(self, response: httpx.Response, method: str, path: str, *, body: bool = True) -> Any:
        """The JSON of a 2xx answer; a 4xx kept with the upstream's message, a 501 as such."""
        raw = self._body(response, method, path)
        return _parsed(raw, self.url, method, path) if body else None

    def _body(self, response: httpx.Response, method: str, path: str) -> bytes:
        """The bytes of a 2xx answer with the gateway's hrefs; a 4xx kept with the upstream's message."""
        status = response.status_code
        if status in (405, 501):  # an operation the upstream does not offer, e.g. no DELETE
            raise Unsupported(f"The upstream at {self.url} cannot do {method} {path}: {self._message(response)}")
        if status >= 400:
            raise Refused(self._message(response), status=status, reason=self._reason(response))
        if status >= 300:
            raise BadGateway(f"The upstream at {self.url} answered {method} {path} with {status}.", told=True)
        return self._outwards(response.content)

    def _document(self, kind: str, value: Any, path: str, raw: bytes | None = None) -> bytes:
        """One resource of an answer, checked to be a resource and, when asked, against our spec."""
        self._identified(kind, value, path)
        problem = self.options.check(kind, value) if self.options.check is not None else None
        if problem is not None:
            log.warning("upstream %s answered %s with a %s our spec refuses: %s", self.url, path, kind, problem)
            if self.options.refuse_nonconforming:
                raise BadGateway(
                    f"The upstream at {self.url} answered {path} with a {kind} our spec refuses.", told=True
                )
        return orjson.dumps(value) if raw is None else raw

    def _identified(self, kind: str, value: Any, path: str) -> dict[str, Any]:
        """``value`` when it is a resource (an object with an id), else a BadGateway."""
        if not isinstance(value, dict) or not isinstance(value.get("id"), str):
            raise BadGateway(f"The upstream at {self.url} answered {path} with a {kind} that has no id.", told=True)
        return value

    def _outwards(self, raw: bytes) -> bytes:
        for upstream, ours in self._outward:
            raw = raw.replace(upstream, ours)
        return raw

    def _inwards(self, raw: bytes) -> bytes:
        for ours, upstream in self._inward:
            raw = raw.replace(ours, upstream)
        return raw

    @staticmethod
    def _message(response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return response.text[:200] or response.reason_phrase
        return str(body.get("message") or body.get("reason") or body) if isinstance(body, dict) else str(body)[:200]

    @staticmethod
    def _reason(response: httpx.Response) -> str | None:
        with contextlib.suppress(ValueError):
            body = response.json()
            if isinstance(body, dict) and body.get("reason"):
                return str(body["reason"])
        return None


class UpstreamTransaction:
    """Writes made one call at a time (an upstream has no transactions); reads remembered so that a
    replace sends only what changed, as a merge patch."""

    def __init__(self, store: UpstreamStore) -> None:
        self.store = store
        self._read: dict[tuple[str, str], Any] = {}

    async def get(self, kind: str, id: str, *, for_update: bool = False) -> bytes | None:
        raw = await self.store.get(kind, id)
        if raw is not None:
            self._read[(kind, id)] = orjson.loads(raw)
        return raw

    async def create(self, kind: str, id: str, doc: bytes) -> bytes:
        return await self.store.create(kind, doc)

    async def replace(self, kind: str, id: str, doc: bytes) -> bytes:
        old = self._read.get((kind, id))
        if old is None:
            raw = await self.store.get(kind, id)
            if raw is None:
                raise NotStored(f"No {kind} with id {id!r} is stored at {self.store.url}.")
            old = orjson.loads(raw)
        new = orjson.loads(doc)
        # A document handed back without what the upstream sets does not ask it to remove them; its
        # identity (id, href, @type) is never changed. Other attributes it sets (a state) may change.
        owned = self.store.options.owned.get(kind, frozenset())
        change = {
            name: value
            for name, value in merge_patch(old, new).items()
            if name not in IDENTITY and not (value is None and name in owned)
        }
        if not change:
            return orjson.dumps(old)
        stored = await self.store.patch(kind, id, change)
        self._read[(kind, id)] = orjson.loads(stored)
        return stored

    async def delete(self, kind: str, id: str) -> bool:
        return await self.store.delete(kind, id)

    async def query(self, kind: str, query: Query) -> Page:
        return await self.store.query(kind, query)


def merge_patch(old: Any, new: Any) -> dict[str, Any]:
    """The RFC 7386 merge patch that turns ``old`` into ``new`` (objects recursively, the rest whole)."""
    change: dict[str, Any] = {name: None for name in old if name not in new}
    for name, value in new.items():
        before = old.get(name)
        if isinstance(value, dict) and isinstance(before, dict):
            inner = merge_patch(before, value)
            if inner:
                change[name] = inner
        elif name not in old or before != value:
            change[name] = value
    return change


def _parsed(raw: bytes, url: str, method: str, path: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadGateway(f"The upstream at {url} answered {method} {path} with what is not JSON.", told=True) from None


def _why(exc: httpx.HTTPError) -> str:
    return str(exc) or type(exc).__name__
