"""What a handler works with: a :class:`Call` or a :class:`Job` in, a :class:`Reply` out.

A call is one API request; a job is one event the gateway reacts to. Both are actors: the changes
they make carry their correlation id, so a subscriber can follow one order through everything it
touches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from starlette.types import Scope

from backends.base import Event
from tmfgate import codec
from tmfgate.errors import ApiError
from tmfgate.ids import new_id
from tmfgate.model import ApiModel, OperationModel, ResourceModel
from tmfgate.security.principals import PRINCIPAL, Principal
from tmfgate.types import Document, Headers

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway
    from tmfgate.security.keys import Pending

BODY = "tmfgate.body"  # the scope key of the parsed request body, set by validation
MEDIA_TYPE = "tmfgate.media_type"


class Actor(Protocol):
    """Who makes a change: an API call, or the gateway's own work (fulfilment, billing)."""

    @property
    def gateway(self) -> Gateway: ...

    @property
    def correlation_id(self) -> str: ...

    @property
    def owner(self) -> str | None:
        """The partner what this actor creates belongs to; None for the operator's own."""


@dataclass(slots=True)
class Reply:
    """What an operation answers: a status, a body already encoded (JSON unless ``media_type`` says
    otherwise), and extra headers."""

    status: int
    body: bytes | None = None
    headers: Headers = field(default_factory=list)
    media_type: bytes = b"application/json"
    # The document ``body`` encodes, when the function holds it and nothing else will use it: a face
    # (tmfgate.versions) maps it in place rather than decoding the body again.
    document: Document | None = None

    @classmethod
    def json(cls, status: int, value: Any, headers: Headers | None = None) -> Reply:
        return cls(status, orjson.dumps(value), headers or [])

    @classmethod
    def content(cls, body: bytes, media_type: str, headers: Headers | None = None) -> Reply:
        """200 with a body of another media type than JSON (a document, a page)."""
        return cls(200, body, headers or [], media_type.encode("latin-1"))

    @classmethod
    def created(cls, body: bytes, href: str, document: Document | None = None) -> Reply:
        """201 with the new resource and ``Location`` equal to its ``href`` (TMF630 create); ``document``
        is the resource ``body`` encodes, when the caller hands it over."""
        return cls(201, body, [(b"location", href.encode())], document=document)

    @classmethod
    def error(cls, error: ApiError) -> Reply:
        return cls(error.status, orjson.dumps(error.body()), list(error.headers))


class Call:
    """One API call: the operation, the request's parts, and the gateway serving it."""

    __slots__ = (
        "_correlation",
        "_host",
        "api",
        "body",
        "face",
        "gateway",
        "idempotency",
        "media_type",
        "operation",
        "scope",
    )

    def __init__(self, gateway: Gateway, api: ApiModel, operation: OperationModel, scope: Scope) -> None:
        self.gateway = gateway
        self.api = api
        self.operation = operation
        self.scope = scope
        self.body: Any = scope.get(BODY)
        self.media_type: str | None = scope.get(MEDIA_TYPE)
        self._host: str | None = None
        self._correlation: str | None = None
        self.face: Any = None  # the tmfgate.versions.Face the client called through, if not the home version
        self.idempotency: Pending | None = None  # set while a POST with an Idempotency-Key runs

    @property
    def resource(self) -> ResourceModel:
        return self.operation.resource

    @property
    def id(self) -> str:
        return str(self.scope["path_params"]["id"])  # path params are strings in every spec

    @property
    def correlation_id(self) -> str:
        """The client's ``X-Correlation-ID`` (or ``X-Request-ID``), else one id for this call's events."""
        return self._correlation or self._read_headers()[1]

    @property
    def principal(self) -> Principal | None:
        """Who makes the call, when the gateway authenticates (:mod:`tmfgate.security`)."""
        return self.scope.get(PRINCIPAL)

    @property
    def owner(self) -> str | None:
        principal: Principal | None = self.scope.get(PRINCIPAL)
        return None if principal is None else principal.partner

    @property
    def query_string(self) -> str:
        raw: bytes = self.scope.get("query_string", b"")
        return raw.decode("latin-1")

    def base_url(self) -> str:
        """Scheme, host and base path of this API as the client reached it (for absolute hrefs); with
        ``public_url`` set, as it says, so that no client's ``Host`` header is ever stored (F-13)."""
        scope = self.scope
        public = self.gateway.settings.public_url
        if public:
            return f"{public}{self.api.base_path}"
        host = self._host or self._read_headers()[0]
        return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{self.api.base_path}"

    def href(self, kind: str, id: str) -> str:
        return f"{self.base_url()}/{kind}/{id}"

    def _read_headers(self) -> tuple[str, str]:
        """Host and correlation id in one pass over the headers: a call that needs one (a create, a
        change) needs the other too, or is a read that needs neither."""
        host = correlation = None
        for key, value in self.scope["headers"]:
            if key == b"host":
                if host is None:
                    host = value.decode("latin-1")
            elif key in (b"x-correlation-id", b"x-request-id") and correlation is None:
                correlation = value.decode("latin-1")[:200]
        if host is None:
            server = self.scope.get("server") or ("localhost", 80)
            host = f"{server[0]}:{server[1]}"
        self._host, self._correlation = host, new_id() if correlation is None else correlation
        return self._host, self._correlation


@dataclass(frozen=True)
class Job:
    """One event being reacted to; the actor of the changes the reaction makes.

    The changes carry the event's correlation id, so a subscriber can follow one order from its
    creation through every service order, service and resource it touches."""

    gateway: Gateway
    event: Event
    envelope: Document
    # The last attempt before the outbox parks the delivery for an operator: a reaction failing
    # now may say so on what waits for it (an order's items).
    final: bool = False

    @classmethod
    def of(cls, gateway: Gateway, event: Event, *, final: bool = False) -> Job:
        return cls(gateway, event, codec.loads(event.body), final)

    @property
    def correlation_id(self) -> str:
        return str(self.envelope.get("correlationId") or self.event.id)

    @property
    def owner(self) -> str | None:
        """The owner of the resource the event is about: what a reaction makes for a partner's order
        (service orders, products, services, bills) belongs to that partner too."""
        return self.event.owner

    @property
    def document(self) -> Document:
        """The resource as the event carries it."""
        return self.envelope.get("event", {}).get(self.event.kind, {})  # type: ignore[no-any-return]


class Later(Exception):
    """Raised by a reaction that must not act before ``at`` (an order held until its start date).

    The delivery stays pending in the outbox until then, so a restart keeps it; the hold counts as
    an attempt but never parks the delivery. The reaction runs again at ``at`` and checks the stored
    state anew."""

    def __init__(self, at: dt.datetime, why: str) -> None:
        super().__init__(why)
        self.at = at


Function = Callable[[Call], Awaitable[Reply]]  # serves one operation
Reaction = Callable[[Job], Awaitable[None]]  # reacts to one event type

__all__ = ["BODY", "MEDIA_TYPE", "Actor", "Call", "Function", "Job", "Later", "Reaction", "Reply"]
