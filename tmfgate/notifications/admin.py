"""tmfgate's operator API: deliveries of hub events, redelivery of parked ones, and replays.

Only loopback clients may use it, unless the ``admin_hosts`` setting lists more client addresses or
networks; every operation checks the client first and answers others 403.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
from typing import Any
from urllib.parse import parse_qsl

from backends.base import Delivery, DeliveryState
from tmfgate import codec, operations, times
from tmfgate.calls import Call, Function, Reply
from tmfgate.errors import BadRequest, ConfigurationError, Conflict, Forbidden, InvalidQuery, NotFound
from tmfgate.extensions import Handlers
from tmfgate.gateway import Gateway
from tmfgate.notifications import subscriptions
from tmfgate.notifications.commands import COMMANDS
from tmfgate.settings import Settings

API = "tmfgate_admin"
extension = Handlers(API, api=API, commands=COMMANDS)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 2**53
_LIST_PARAMETERS = ("state", "subscriptionId", "offset", "limit")


def operator(function: Function) -> Function:
    """An operation of this API: served only to the clients ``admin_hosts`` allows."""

    @functools.wraps(function)
    async def checked(call: Call) -> Reply:
        check_client(call)
        return await function(call)

    return extension.operation(checked)


@extension.configuration
def _check_admin_hosts(gateway: Gateway) -> None:
    allowed_networks(gateway.settings.admin_hosts)


@operator
async def listDelivery(call: Call) -> Reply:
    """``GET /delivery``: oldest event first, filtered by state and subscription, paged (TMF630)."""
    state, subscription_id, offset, limit = _list_query(call)
    backend = call.gateway.backend
    found = await backend.deliveries(state=state, subscription_id=subscription_id, limit=limit, offset=offset)
    if len(found) < limit and (found or offset == 0):
        total = offset + len(found)  # this page reaches the end
    else:
        total = await backend.count_deliveries(state=state, subscription_id=subscription_id)
    body = codec.dumps([delivery_document(call, delivery) for delivery in found])
    headers = [(b"x-total-count", str(total).encode()), (b"x-result-count", str(len(found)).encode())]
    return Reply(206 if len(found) < total else 200, body, headers)


@operator
async def retrieveDelivery(call: Call) -> Reply:
    """``GET /delivery/{id}``."""
    delivery = await call.gateway.backend.delivery(call.id)
    if delivery is None:
        raise NotFound(f"No delivery with id {call.id} exists.")
    return Reply.json(200, delivery_document(call, delivery))


@operator
async def patchDelivery(call: Call) -> Reply:
    """``PATCH /delivery/{id}`` with ``{"state": "pending"}``: redeliver a parked delivery, else 409."""
    backend = call.gateway.backend
    redelivered = await backend.redeliver(call.id, now=dt.datetime.now(dt.UTC))
    if redelivered:
        call.gateway.committed.set()  # wake the in-process delivery worker
    delivery = await backend.delivery(call.id)
    if delivery is None:
        if redelivered:  # delivered (and dropped with its subscription) in the meantime
            raise NotFound(f"The delivery {call.id} was redelivered and no longer exists.")
        raise NotFound(f"No delivery with id {call.id} exists.")
    if not redelivered:
        raise Conflict(f"The delivery {call.id} is {delivery.state.value}; only a parked delivery can be redelivered.")
    return Reply.json(200, delivery_document(call, delivery))


@operator
async def createReplay(call: Call) -> Reply:
    """``POST /replay``: new deliveries to one subscription of the events it accepts since a time."""
    body = call.body
    since = parse_instant(str(body["since"]), "since")
    subscription_id = str(body["subscriptionId"])
    backend = call.gateway.backend
    subscription = (await subscriptions.load_all(backend, call.gateway.apis)).get(subscription_id)
    if subscription is None:
        raise BadRequest(f"subscriptionId {subscription_id} refers to no hub subscription.")
    replay = operations.new_document(call, body)
    replay["count"] = await backend.replay(subscription.id, since, subscription.accepts)
    replay["creationDate"] = times.now()
    raw = codec.dumps(replay)
    async with call.gateway.transaction() as tx:  # on commit, also wakes the delivery worker
        await tx.create(_stored_kind(call), replay["id"], raw)
    return Reply.created(raw, replay["href"])


@operator
async def retrieveReplay(call: Call) -> Reply:
    """``GET /replay/{id}``."""
    raw = await call.gateway.backend.get(_stored_kind(call), call.id)
    if raw is None:
        raise NotFound(f"No replay with id {call.id} exists.")
    return Reply(200, raw)


def check_client(call: Call) -> None:
    """Loopback clients, and those ``admin_hosts`` lists; anyone else gets 403."""
    client = call.scope.get("client")
    host = str(client[0]) if client else ""
    if not admits(host, call.gateway.settings.admin_hosts):
        raise Forbidden(
            f"The administration API does not answer {host or 'this client'}; list the client "
            f"address in {Settings.admin_hosts.variable} on the gateway to allow it."
        )


def admits(host: str, admin_hosts: str) -> bool:
    """Whether the client at ``host`` is on loopback or in ``admin_hosts``."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d
    return any(address in network for network in allowed_networks(admin_hosts))


@functools.lru_cache(maxsize=8)
def allowed_networks(raw: str) -> tuple[Network, ...]:
    """Loopback, plus the addresses and networks of an ``admin_hosts`` value (checked at start-up)."""
    extra: list[Network] = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        try:
            extra.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ConfigurationError(
                f"{Settings.admin_hosts.variable} holds {entry!r}, which is not an IP address or network "
                "such as 10.0.0.5 or 192.0.2.0/24."
            ) from None
    return LOOPBACK + tuple(extra)


def delivery_document(call: Call, delivery: Delivery) -> dict[str, Any]:
    """A delivery as the spec's ``Delivery`` resource."""
    event = delivery.event
    doc: dict[str, Any] = {
        "id": delivery.id,
        "href": call.href("delivery", delivery.id),
        "subscriptionId": delivery.subscription_id,
        "state": delivery.state.value,
        "attempts": delivery.attempts,
        "nextAttempt": times.stamp(delivery.next_attempt),
        "event": {
            "eventId": event.id,
            "eventType": event.type,
            "eventTime": times.stamp(event.time),
            "api": event.api,
            "resourceKind": event.kind,
            "resourceId": event.resource_id,
        },
        "@type": "Delivery",
    }
    if delivery.last_error is not None:
        doc["lastError"] = delivery.last_error
    return doc


def parse_instant(text: str, name: str) -> dt.datetime:
    """An ISO 8601 date-time with a time zone, e.g. ``2026-11-25T00:00:00Z``; BadRequest otherwise."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name} must be a date-time such as 2026-11-25T00:00:00Z, not {text!r}.") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadRequest(f"{name} needs a time zone, such as 2026-11-25T00:00:00Z or +01:00.")
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before the first representable instant
        raise BadRequest(f"{name} is out of the range of date-times, {text!r}.") from None


def _list_query(call: Call) -> tuple[DeliveryState | None, str | None, int, int]:
    values: dict[str, str] = {}
    for key, value in parse_qsl(call.query_string, keep_blank_values=True):
        if key not in _LIST_PARAMETERS:
            raise InvalidQuery(f"Deliveries cannot be selected by {key!r}; use {', '.join(_LIST_PARAMETERS)}.")
        values[key] = value
    state = None
    if "state" in values:
        try:
            state = DeliveryState(values["state"])
        except ValueError:
            names = ", ".join(s.value for s in DeliveryState)
            raise InvalidQuery(f"state must be one of {names}, not {values['state']!r}.") from None
    ceiling = min(MAX_LIMIT, call.gateway.settings.max_limit or MAX_LIMIT)
    limit = min(int(values.get("limit", DEFAULT_LIMIT)), ceiling)  # integers checked by the validator
    offset = int(values.get("offset", 0))
    if offset > MAX_OFFSET:  # past any outbox, and past what a SQL integer holds
        raise InvalidQuery(f"offset must be at most {MAX_OFFSET}.")
    return state, values.get("subscriptionId") or None, offset, limit


def _stored_kind(call: Call) -> str:
    """Replays are kept as documents of their own kind, like hub subscriptions."""
    return f"{call.api.name}:{call.resource.kind}"
