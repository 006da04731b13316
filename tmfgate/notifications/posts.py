"""Hub notifications over HTTP: one POST of a subscriber's payload to its callback (TMF630 Part 1 §10),
signed when the subscription has a secret, and what came of it."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import time
from dataclasses import dataclass

import httpx

from backends.base import Event
from backends.tls import client_context
from tmfgate import __version__
from tmfgate.notifications import secrets
from tmfgate.notifications.callbacks import CallbackRefused, Resolver, policy
from tmfgate.notifications.subscriptions import Subscription
from tmfgate.settings import Settings

MAX_ERROR_LENGTH = 500


@dataclass(frozen=True)
class Outcome:
    """What one POST to a listener (or one of the gateway's own reactions) gave."""

    delivered: bool
    error: str | None = None
    later: dt.datetime | None = None  # a reaction asked to run again then (never parked for it)


class Poster:
    """POSTs notifications to hub callbacks, checked against ``--callback-hosts`` at every delivery."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolve: Resolver | None = None,
    ) -> None:
        self.settings = settings
        self._callbacks = policy(settings, resolve)
        posts = settings.delivery_concurrency
        # One client keeps connections to listeners alive between deliveries. Redirects are not
        # followed: one could lead past the callback host check, so it counts as a failure.
        self._client = httpx.AsyncClient(
            transport=transport,
            verify=client_context(),
            timeout=settings.delivery_timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=posts, max_keepalive_connections=posts),
            headers={"User-Agent": f"tmfgate/{__version__}"},
        )

    async def post(self, subscription: Subscription, event: Event) -> Outcome:
        """Send ``event`` to ``subscription``'s callback; any 2xx is delivered (v4 answers 201, v5 204)."""
        try:
            body = subscription.payload(event)
            key = self.settings.hub_secret_key
            # One deadline for the whole exchange: httpx's timeout is per read, which a listener
            # trickling bytes would renew for ever.
            async with asyncio.timeout(self.settings.delivery_timeout):
                # The callback as given (TMF630 Part 1 §10), checked now and reached at the address checked.
                target = await self._callbacks.target(subscription.callback)
                response = await self._client.post(
                    target.url,
                    content=body,
                    headers={**headers(event, body, secrets.unseal(subscription.secret, key)), "Host": target.host},
                    extensions={"sni_hostname": target.server_name},
                )
        except CallbackRefused as exc:
            return Outcome(False, short(exc.message))
        except (httpx.TimeoutException, TimeoutError):
            return Outcome(False, f"The listener did not answer within {self.settings.delivery_timeout:g} s.")
        except httpx.HTTPError as exc:
            return Outcome(False, short(f"The listener could not be reached: {exc or type(exc).__name__}"))
        except Exception as exc:  # noqa: BLE001 - a payload or URL that cannot be used fails this delivery only
            return Outcome(False, short(f"The delivery failed: {exc!r}"))
        if 200 <= response.status_code < 300:
            return Outcome(True)
        return Outcome(False, f"The listener answered {response.status_code}.")

    async def close(self) -> None:
        await self._client.aclose()


def headers(event: Event, body: bytes, secret: str | None) -> dict[str, str]:
    """The headers of one notification: the event id to de-duplicate on, and the signature."""
    result = {"Content-Type": "application/json", "X-Event-Id": event.id}
    if secret:
        result["X-Hub-Signature-256"] = signature(secret, body, int(time.time()))
    return result


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """``t=<unix seconds>,v1=<hex>``: the HMAC-SHA256 under the subscription's secret of the timestamp,
    a dot and the body (as Stripe signs), so a listener can refuse a replayed notification by its age."""
    signed = str(timestamp).encode() + b"." + body
    return f"t={timestamp},v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def short(text: str) -> str:
    """``text`` cut to what a delivery's stored error keeps."""
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 3] + "..."


__all__ = ["Outcome", "Poster", "headers", "short", "signature"]
