"""Limits against abuse that the request path applies: each partner's request rate (429 with
``Retry-After``) and the size and depth of a resource a JSON Patch leaves; the body limits are
the validator's (:mod:`tmfgate.validation`), the connection limits the server's."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from typing import Any

from connexion.middleware.abstract import SpecMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from tmfgate import codec
from tmfgate.errors import BadRequest, PayloadTooLarge, TooManyRequests
from tmfgate.gateway import Gateway
from tmfgate.settings import Settings

# The ASGI scope key under which authentication (tmfgate.security) leaves the principal a request
# acts for, with its ``partner``; without one the partner is the client address.
PRINCIPAL = "tmfgate.principal"
MAX_PARTNERS = 100_000  # buckets kept; the least recently seen go first (a full bucket loses nothing)


def check_document(document: Any, settings: Settings) -> None:
    """Refuse a resource nested deeper than ``max_json_depth`` (400) or larger than ``max_document_size`` (413)."""
    try:
        codec.check_depth(document, settings.max_json_depth)
    except ValueError as exc:
        raise BadRequest(f"The patched resource's {exc}.") from None
    size = len(codec.dumps(document))
    if size > settings.max_document_size:
        raise PayloadTooLarge(
            f"The patched resource would be {size} bytes; this gateway keeps at most {settings.max_document_size}."
        )


def partner_of(scope: Scope) -> str:
    """Who a request counts against: the authenticated partner, else the client address."""
    principal = scope.get(PRINCIPAL)
    partner = principal.partner if principal is not None else None
    if partner:
        return f"partner:{partner}"
    client = scope.get("client")
    return f"address:{client[0]}" if client else "address:unknown"


class RateBuckets:
    """A token bucket per partner: ``rate`` tokens a second, up to ``burst`` saved."""

    def __init__(self, rate: float, burst: int, clock: Any = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """0 when ``key`` may go on (a token is spent), else the seconds until it may."""
        now = self.clock()
        tokens, then = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self._buckets[key] = (tokens - 1 if wait == 0 else tokens, now)
        if len(self._buckets) > MAX_PARTNERS:
            self._buckets.popitem(last=False)
        return wait


class RateLimitMiddleware(SpecMiddleware):
    """Answers 429 with ``Retry-After`` to a partner past its ``rate_limit``; a connexion middleware,
    so it learns the gateway's settings as each API is added."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.buckets: RateBuckets | None = None

    def add_api(self, specification: Any, **kwargs: Any) -> None:
        gateway = kwargs.get("gateway")
        if isinstance(gateway, Gateway) and self.buckets is None and gateway.settings.rate_limit > 0:
            self.buckets = RateBuckets(gateway.settings.rate_limit, gateway.settings.rate_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.buckets is not None and scope["type"] == "http":
            wait = self.buckets.take(partner_of(scope))
            if wait > 0:
                seconds = str(max(1, math.ceil(wait))).encode()
                raise TooManyRequests(
                    "This partner is past its request rate; try again after the Retry-After seconds.",
                    headers=((b"retry-after", seconds),),
                )
        await self.app(scope, receive, send)
