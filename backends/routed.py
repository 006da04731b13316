"""A backend that keeps some kinds of document in other stores (remote TMF servers) and the rest,
with the outbox, in the local one: what the gateway uses when an API is routed upstream."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from .base import Backend, Delivery, DeliveryState, Event, Owners, Page, Query, Route, Transaction, Unsupported


class RemoteStore(Protocol):
    """What a store of some kinds offers: the document side of the contract, without events."""

    url: str
    raises_events: bool  # True when the store notifies changes itself (a remote hub); else the gateway does

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    def transaction(self) -> AbstractAsyncContextManager[RemoteTransaction]: ...
    async def get(self, kind: str, id: str) -> bytes | None: ...
    async def query(self, kind: str, query: Query) -> Page: ...


class RemoteTransaction(Protocol):
    async def get(self, kind: str, id: str, *, for_update: bool = False) -> bytes | None: ...
    async def create(self, kind: str, id: str, doc: bytes) -> bytes | None: ...
    async def replace(self, kind: str, id: str, doc: bytes) -> bytes | None: ...
    async def delete(self, kind: str, id: str) -> bool: ...
    async def query(self, kind: str, query: Query) -> Page: ...


class RoutedBackend:
    """The local backend, with the documents of ``routes`` kinds in their own stores."""

    def __init__(self, local: Backend, routes: Mapping[str, RemoteStore]) -> None:
        self.local = local
        self.routes = dict(routes)
        self.url = local.url

    def _stores(self) -> list[RemoteStore]:
        return list({id(store): store for store in self.routes.values()}.values())

    async def open(self) -> None:
        await self.local.open()
        for store in self._stores():
            await store.open()

    async def close(self) -> None:
        for store in self._stores():
            await store.close()
        await self.local.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self.local.transaction() as local:
            routed = RoutedTransaction(local, self.routes)
            async with routed.exits:
                yield routed

    async def get(self, kind: str, id: str, *, owners: Owners = None) -> bytes | None:
        store = self.routes.get(kind)
        if store is None:
            return await self.local.get(kind, id, owners=owners)
        return await _unowned(store, kind, owners).get(kind, id)

    async def query(self, kind: str, query: Query) -> Page:
        store = self.routes.get(kind)
        if store is None:
            return await self.local.query(kind, query)
        return await _unowned(store, kind, query.owners).query(kind, query)

    # The outbox stays local: events of every kind commit with the local store's transaction.

    async def fan_out(self, route: Route, *, limit: int = 200) -> int:
        return await self.local.fan_out(route, limit=limit)

    async def claim(self, *, limit: int, lease: float, now: dt.datetime) -> list[Delivery]:
        return await self.local.claim(limit=limit, lease=lease, now=now)

    async def renew(self, delivery_ids: Sequence[str], *, until: dt.datetime) -> None:
        await self.local.renew(delivery_ids, until=until)

    async def settle(
        self, delivery_id: str, *, delivered: bool, error: str | None = None, retry_at: dt.datetime | None = None
    ) -> None:
        await self.local.settle(delivery_id, delivered=delivered, error=error, retry_at=retry_at)

    async def deliveries(
        self,
        *,
        state: DeliveryState | None = None,
        subscription_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Delivery]:
        return await self.local.deliveries(state=state, subscription_id=subscription_id, limit=limit, offset=offset)

    async def delivery(self, delivery_id: str) -> Delivery | None:
        return await self.local.delivery(delivery_id)

    async def count_deliveries(self, *, state: DeliveryState | None = None, subscription_id: str | None = None) -> int:
        return await self.local.count_deliveries(state=state, subscription_id=subscription_id)

    async def redeliver(self, delivery_id: str, *, now: dt.datetime) -> bool:
        return await self.local.redeliver(delivery_id, now=now)

    async def replay(self, subscription_id: str, since: dt.datetime, route: Callable[[Event], bool]) -> int:
        return await self.local.replay(subscription_id, since, route)

    async def drop_deliveries(self, subscription_id: str) -> int:
        return await self.local.drop_deliveries(subscription_id)

    async def prune(self, before: dt.datetime, *, limit: int = 1000) -> int:
        return await self.local.prune(before, limit=limit)


def _unowned(store: RemoteStore, kind: str, owners: Owners) -> RemoteStore:
    """``store``, unless the read is limited to some partners' documents: another system keeps no
    owners, so a partner limited to its own documents cannot be served from it."""
    if owners is not None:
        raise Unsupported(
            f"{kind} documents are kept in {store.url}, which records no owner; a partner limited to its "
            "own documents cannot read them through the gateway."
        )
    return store


class RoutedTransaction:
    """The local transaction, with each routed kind's reads and writes sent to its store."""

    def __init__(self, local: Transaction, routes: Mapping[str, RemoteStore]) -> None:
        self.local = local
        self.routes = routes
        self._open: dict[int, RemoteTransaction] = {}
        self.exits = contextlib.AsyncExitStack()

    async def _remote(self, kind: str, owners: Owners = None) -> RemoteTransaction:
        store = _unowned(self.routes[kind], kind, owners)
        tx = self._open.get(id(store))
        if tx is None:
            tx = self._open[id(store)] = await self.exits.enter_async_context(store.transaction())
        return tx

    async def get(self, kind: str, id: str, *, for_update: bool = False, owners: Owners = None) -> bytes | None:
        if kind not in self.routes:
            return await self.local.get(kind, id, for_update=for_update, owners=owners)
        return await (await self._remote(kind, owners)).get(kind, id, for_update=for_update)

    async def create(self, kind: str, id: str, doc: bytes, *, owner: str | None = None) -> bytes | None:
        if kind not in self.routes:
            return await self.local.create(kind, id, doc, owner=owner)
        return await (await self._remote(kind)).create(kind, id, doc)

    async def get_many(self, kind: str, ids: Sequence[str], *, for_update: bool = False) -> dict[str, bytes]:
        if kind not in self.routes:
            return await self.local.get_many(kind, ids, for_update=for_update)
        remote = await self._remote(kind)
        found = {id: await remote.get(kind, id, for_update=for_update) for id in sorted(ids)}
        return {id: doc for id, doc in found.items() if doc is not None}

    async def create_many(
        self, kind: str, docs: Sequence[tuple[str, bytes]], *, owner: str | None = None
    ) -> list[bytes | None]:
        if kind not in self.routes:
            return await self.local.create_many(kind, docs, owner=owner)
        remote = await self._remote(kind)
        return [await remote.create(kind, id, doc) for id, doc in docs]

    async def replace(self, kind: str, id: str, doc: bytes) -> bytes | None:
        if kind not in self.routes:
            return await self.local.replace(kind, id, doc)
        return await (await self._remote(kind)).replace(kind, id, doc)

    async def replace_many(self, kind: str, docs: Sequence[tuple[str, bytes]]) -> None:
        if kind not in self.routes:
            return await self.local.replace_many(kind, docs)
        remote = await self._remote(kind)
        for id, doc in docs:
            await remote.replace(kind, id, doc)

    async def owner(self, kind: str, id: str) -> str | None:
        """Another system records no owner: its documents are the operator's."""
        return await self.local.owner(kind, id) if kind not in self.routes else None

    async def owner_many(self, kind: str, ids: Sequence[str]) -> dict[str, str | None]:
        if kind not in self.routes:
            return await self.local.owner_many(kind, ids)
        return dict.fromkeys(await self.get_many(kind, ids))  # another system's: the operator's

    async def delete(self, kind: str, id: str) -> bool:
        if kind not in self.routes:
            return await self.local.delete(kind, id)
        return await (await self._remote(kind)).delete(kind, id)

    async def query(self, kind: str, query: Query) -> Page:
        if kind not in self.routes:
            return await self.local.query(kind, query)
        return await (await self._remote(kind, query.owners)).query(kind, query)

    async def add_event(self, event: Event) -> None:
        # A kind stored where a hub announces changes raises its events there: the gateway
        # re-publishes what that hub notifies, so a change made through the gateway is not announced twice.
        store = self.routes.get(event.kind)
        if store is None or not store.raises_events:
            await self.local.add_event(event)

    async def add_events(self, events: Sequence[Event]) -> None:
        await self.local.add_events(
            [event for event in events if (store := self.routes.get(event.kind)) is None or not store.raises_events]
        )
