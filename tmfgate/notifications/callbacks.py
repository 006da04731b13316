"""Where hub callbacks may point: never, by default, at the gateway's own network (security review
F-02, F-03, F-14).

A callback is parsed by httpx, the client that calls it, so no parser differential (``a\\@b``,
``user@host``) separates the host checked from the host reached. At registration and again at every
delivery its host name is resolved and **every** address must be global unicast: loopback, private
(RFC 1918, ULA), link-local (cloud metadata: 169.254.169.254, fd00:ec2::254), multicast, reserved
and unspecified addresses, and the gateway's own, are refused. The delivery then connects to the
address checked (with the callback's ``Host`` and TLS server name), so DNS rebinding cannot swap it.

``callback_hosts`` lists exceptions and restrictions, comma-separated: IP networks
(``127.0.0.1``, ``10.0.0.0/8``) whose addresses are allowed, and host name patterns
(``*.partner.example``; ``*`` for any) that, when any is given, are the only names allowed.
The gateway's own port on its own addresses is refused whatever the list says (its operator API).
"""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import functools
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from tmfgate.errors import BadRequest
from tmfgate.settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[Address]]]  # a host's addresses (the system's DNS by default)


class CallbackRefused(BadRequest):
    """A callback this gateway does not call; a 400 at registration, a failed attempt at delivery."""


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: the callback with its host replaced by the address checked."""

    url: httpx.URL
    host: str  # the Host header: the callback's own host (and port)
    server_name: str  # the name TLS checks the certificate against


@dataclass(frozen=True)
class CallbackPolicy:
    """The ``callback_hosts`` setting, parsed, with the gateway's own addresses."""

    names: tuple[str, ...]
    networks: tuple[Network, ...]
    own: frozenset[Address]
    own_port: int
    resolve: Resolver | None = None  # None: the system's resolver

    def check_url(self, callback: str) -> httpx.URL:
        """The callback parsed as httpx reads it; CallbackRefused when it is no allowed http(s) URL."""
        try:
            url = httpx.URL(callback)
        except (httpx.InvalidURL, TypeError, ValueError):
            raise CallbackRefused(f"The callback is not a URL: {callback!r}.") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise CallbackRefused(f"The callback must be an absolute http or https URL, not {callback!r}.")
        host = url.host.lower()
        literal = _address(host)
        listed = literal is not None and any(literal in network for network in self.networks)
        if not listed and not any(fnmatch.fnmatchcase(host, pattern) for pattern in self.names):
            raise CallbackRefused(f"Callbacks to {host} are not allowed by this gateway.")
        return url

    def check_address(self, address: Address, port: int, host: str) -> None:
        """CallbackRefused unless ``address`` is one a callback may reach."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if port == self.own_port and (address in self.own or address.is_loopback or address.is_unspecified):
            raise CallbackRefused(f"The callback {host} reaches this gateway itself ({address} port {port}).")
        if any(address in network for network in self.networks):
            return
        if not address.is_global or address.is_multicast:
            raise CallbackRefused(
                f"The callback {host} resolves to {address}, which is not a public address "
                "(loopback, private, link-local, multicast or reserved); the operator can allow it "
                "with --callback-hosts."
            )
        if address in self.own:
            raise CallbackRefused(f"The callback {host} resolves to {address}, an address of this gateway.")

    async def target(self, callback: str) -> Target:
        """Resolve and check a callback now; the target to connect to. CallbackRefused when refused."""
        url = self.check_url(callback)
        port = url.port or (443 if url.scheme == "https" else 80)
        literal = _address(url.host)
        addresses = [literal] if literal is not None else await (self.resolve or _resolve)(url.host, port)
        for address in addresses:
            self.check_address(address, port, url.host)
        pinned = url.copy_with(host=str(addresses[0]))
        host = url.netloc.decode("ascii").rpartition("@")[2]  # host[:port], never the userinfo
        return Target(pinned, host, url.host)


async def _resolve(host: str, port: int) -> list[Address]:
    """Every address of ``host``, in the system resolver's order."""
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise CallbackRefused(f"The callback host {host} cannot be resolved: {exc}.") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found))
    if not addresses:
        raise CallbackRefused(f"The callback host {host} has no address.")
    return addresses


def _address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@functools.lru_cache(maxsize=8)
def _own_addresses(host: str) -> frozenset[Address]:
    """The addresses this machine answers on, as far as its name and the listening address tell."""
    own: set[Address] = set()
    for name in {socket.gethostname(), socket.getfqdn(), host}:
        try:
            own.update(
                ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in socket.getaddrinfo(name, None)
            )
        except (OSError, UnicodeError, ValueError):
            continue
    return frozenset(own)


def policy(settings: Settings, resolve: Resolver | None = None) -> CallbackPolicy:
    """The callback policy of ``settings``, resolving with ``resolve`` (tests name their own hosts)."""
    found = _policy(settings.callback_hosts, settings.host, settings.port)
    return found if resolve is None else dataclasses.replace(found, resolve=resolve)


@functools.lru_cache(maxsize=8)
def _policy(callback_hosts: str, host: str, port: int) -> CallbackPolicy:
    names: list[str] = []
    networks: list[Network] = []
    for entry in (part.strip().lower() for part in callback_hosts.split(",") if part.strip()):
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.append(entry)
    return CallbackPolicy(tuple(names or ["*"]), tuple(networks), _own_addresses(host), port)


__all__ = ["CallbackPolicy", "CallbackRefused", "Resolver", "Target", "policy"]
