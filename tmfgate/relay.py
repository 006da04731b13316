"""Events from upstream: subscribe to each upstream API's hub on the gateway's public URL, take its
notifications at a listener endpoint, and re-publish them through the outbox with hrefs rewritten."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from typing import Any

import httpx
import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from backends.base import Backend, DuplicateId, Event
from backends.routed import RoutedBackend
from backends.tls import client_context
from backends.upstream.store import UpstreamStore
from tmfgate import codec, times
from tmfgate.calls import Reply
from tmfgate.configuration import Upstream
from tmfgate.endpoints import send_reply
from tmfgate.errors import BadRequest, Forbidden, MethodNotAllowed, NotFound
from tmfgate.gateway import Gateway
from tmfgate.notifications.posts import signature
from tmfgate.polling import Poller
from tmfgate.upstreams import outward

log = logging.getLogger("tmfgate.upstream")

PREFIX = "/tmfgate/upstream/v1/"  # + {api}/{token}/listener
SEEN_KIND = "upstreamEvent"  # the eventIds taken, so an upstream's retries are re-published once
CHECK_EVERY = 30.0  # seconds between checks that an upstream still knows our subscription
NO_HUB = (404, 405, 501)  # what an upstream without a hub answers POST /hub with
MAX_AGE = 300  # seconds a signed notification stays acceptable (its signature carries the time)


class Relay:
    """The subscriptions of this gateway at its upstreams, and what it does with their notifications."""

    def __init__(self, gateway: Gateway, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.gateway = gateway
        self.upstreams: Mapping[str, Upstream] = gateway.routing.upstreams
        self.secret = secrets.token_hex(16)  # a new one each start: only our subscriptions sign with it
        self.subscriptions: dict[str, str] = {}  # api -> the upstream's subscription id
        self.hubless: set[str] = set()  # APIs whose upstream has no hub
        backend = gateway.backend
        routes = backend.routes if isinstance(backend, RoutedBackend) else {}
        self._kinds = {
            api.name: {kind: routes[kind] for kind in api.resources if kind in routes}
            for api in gateway.apis
            if api.name in self.upstreams
        }
        self._stores = {api: set(kinds.values()) for api, kinds in self._kinds.items()}
        self.pollers: dict[str, Poller] = {}  # api -> what polls its upstream, which has no hub
        self._hear(set(self._stores), heard=False)  # until each subscription stands
        self._rewrites = {
            api.name: [(a.encode(), b.encode()) for a, b in outward(self.upstreams[api.name], api, gateway.settings)]
            for api in gateway.apis
            if api.name in self.upstreams
        }
        self._transport = transport
        self._client = httpx.AsyncClient(verify=client_context())  # replaced on the serving loop by start()
        self._checking: asyncio.Task[None] | None = None

    def callback(self, api: str) -> str:
        """Ours alone: the token in its path, new each start, is known only to the upstream we gave it."""
        return f"{self.gateway.settings.base_url}{PREFIX}{api}/{self.secret}/listener"

    async def start(self) -> None:
        """Subscribe at every upstream hub; one that cannot be reached is tried again by the check loop."""
        self._client = httpx.AsyncClient(
            timeout=self.gateway.settings.upstream_timeout, transport=self._transport, verify=client_context()
        )
        for api in self.upstreams:
            await self.subscribe(api)
        self._checking = asyncio.create_task(self._check(), name="tmfgate-upstream-hubs")

    async def subscribe(self, api: str) -> None:
        upstream = self.upstreams[api]
        body = {"callback": self.callback(api), "secret": self.secret}
        try:
            response = await self._client.post(upstream.url + "/hub", json=body, headers=dict(upstream.headers))
            if response.status_code == 400:  # an upstream that keeps no secrets: the callback's token suffices
                del body["secret"]
                response = await self._client.post(upstream.url + "/hub", json=body, headers=dict(upstream.headers))
        except httpx.HTTPError as exc:
            # Unreachable: the upstream store said so in its one line at start; retried quietly.
            log.debug("cannot subscribe to the hub of %s (%s); retrying later", upstream.url, exc or type(exc))
            return
        if response.status_code in NO_HUB:
            self.hubless.add(api)
            self._hear({api}, heard=True)
            self._without_hub(api)
            return
        if response.status_code != 201:
            log.warning("the hub of %s refused our subscription with %s", upstream.url, response.status_code)
            self._hear({api}, heard=True)  # as an upstream without a hub would be: not waited for
            return
        self.subscriptions[api] = str(response.json().get("id"))
        self._hear({api}, heard=True)

    def _without_hub(self, api: str) -> None:
        """Poll an upstream without a hub for every change (the events are the poller's, as they would
        be its hub's); with polling off, the gateway raises the events of the changes made through it."""
        url = self.upstreams[api].url
        if self.gateway.settings.upstream_poll > 0:
            log.warning("%s has no hub: the gateway polls it for changes", url)
            poller = self.pollers[api] = Poller(
                self.gateway, local_backend(self.gateway.backend), api, self._kinds[api].items()
            )
            poller.start()
            return
        log.warning("%s has no hub: the gateway raises the events of changes made through it", url)
        for store in self._stores[api]:
            store.raises_events = False

    def _hear(self, apis: set[str], *, heard: bool) -> None:
        """Creates at an upstream wait while its hub does not notify us (see UpstreamStore.deaf)."""
        for api in apis:
            for store in self._stores.get(api, ()):
                if isinstance(store, UpstreamStore):
                    store.deaf = not heard

    async def stop(self) -> None:
        """Unsubscribe everywhere (a clean stop), then close the connections."""
        if self._checking is not None:
            self._checking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checking
        for poller in self.pollers.values():
            await poller.stop()
        for api, id in list(self.subscriptions.items()):
            upstream = self.upstreams[api]
            with contextlib.suppress(httpx.HTTPError):
                await self._client.delete(f"{upstream.url}/hub/{id}", headers=dict(upstream.headers))
            del self.subscriptions[api]
        await self._client.aclose()

    async def _check(self) -> None:
        """Check the subscriptions every CHECK_EVERY seconds, sooner while one is missing."""
        while True:
            missing = set(self.upstreams) - set(self.subscriptions) - self.hubless
            await asyncio.sleep(self.gateway.settings.upstream_breaker_reset if missing else CHECK_EVERY)
            await self.check()

    async def check(self) -> None:
        """Subscribe again where the upstream forgot us (a restart on an empty store) or refused before."""
        for api, upstream in self.upstreams.items():
            if api in self.hubless:
                continue
            id = self.subscriptions.get(api)
            if id is not None:
                try:
                    response = await self._client.get(f"{upstream.url}/hub/{id}", headers=dict(upstream.headers))
                except httpx.HTTPError:
                    continue  # down: the breaker says so to clients; the subscription may still stand
                if response.status_code != 404:
                    continue
                log.warning("the hub of %s forgot our subscription %s; subscribing again", upstream.url, id)
                del self.subscriptions[api]
                self._hear({api}, heard=False)
            await self.subscribe(api)

    async def receive(self, api: str, token: str, body: bytes, signed: str | None) -> Reply:
        """The answer to a notification: 2xx once it is in the outbox or was already."""
        if api not in self._rewrites:
            return Reply.error(NotFound(f"No API named {api} is answered upstream here."))
        if not hmac.compare_digest(token, self.secret) or (signed is not None and not self._authentic(signed, body)):
            return Reply.error(Forbidden("The notification is not one of this gateway's upstream subscriptions."))
        for upstream, ours in self._rewrites[api]:
            body = body.replace(upstream, ours)
        try:
            envelope: Any = orjson.loads(body)
            event_id, event_type, inner = envelope["eventId"], envelope["eventType"], envelope["event"]
            ((kind, doc),) = inner.items()
            resource_id = str(doc["id"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            return Reply.error(BadRequest("A notification is a TMF630 event: eventId, eventType, event.{resource}."))
        event = Event(str(event_id), api, kind, resource_id, str(event_type), times.instant()[0], body)
        async with local_backend(self.gateway.backend).transaction() as tx:
            try:
                await tx.create(SEEN_KIND, f"{api}:{event_id}", codec.dumps({"id": event_id, "api": api}))
            except DuplicateId:
                return Reply(200)  # an upstream retry of what we took already
            await tx.add_event(event)
        self.gateway.committed.set()
        return Reply(202)

    def _authentic(self, signed: str, body: bytes) -> bool:
        """Signed with our subscription's secret (``t=...,v1=...``), and recently: a replay is refused."""
        stamp = dict(part.split("=", 1) for part in signed.split(",") if "=" in part).get("t", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > MAX_AGE:
            return False
        return hmac.compare_digest(signed, signature(self.secret, body, int(stamp)))


def local_backend(backend: Backend) -> Backend:
    """Where re-published events go: the local store under a routed backend."""
    return backend.local if isinstance(backend, RoutedBackend) else backend


class ListenerMiddleware:
    """``POST /tmfgate/upstream/v1/{api}/listener``: upstream notifications in, everything else through."""

    def __init__(self, app: ASGIApp, relay: Relay) -> None:
        self.app = app
        self.relay = relay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PREFIX) or not path.endswith("/listener"):
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        signed = next((v.decode() for k, v in scope["headers"] if k == b"x-hub-signature-256"), None)
        if scope["method"] != "POST":
            reply = Reply.error(MethodNotAllowed("A listener takes POST only.", headers=((b"allow", b"POST"),)))
        else:
            api, _, token = path[len(PREFIX) : -len("/listener")].partition("/")
            reply = await self.relay.receive(api, token, body, signed)
        await send_reply(send, reply)
