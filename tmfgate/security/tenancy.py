"""Tenancy: what a partner creates is its own, and it sees only its own (README "Security").

A document's owner is stored beside it by the store; reads ask the store for the owners a call may
see, so another partner's resource is simply not found (404, never 403) and counts only count
one's own. Kinds no API lets a client write (the catalogs) are shared: everyone reads them.
"""

from __future__ import annotations

from backends.base import Owners
from tmfgate.calls import Actor, Call


def visible(call: Call, kind: str | None = None) -> Owners:
    """The owners whose documents of ``kind`` (the call's resource) the call may see; None: all."""
    principal = call.principal
    if principal is None or principal.sees_all:
        return None
    if (kind or call.resource.kind) in call.gateway.shared_kinds:
        return (principal.partner, None)
    return (principal.partner,)


def acting_for(actor: Actor, kind: str, *, operators: bool = False) -> Owners:
    """The owners whose documents of ``kind`` the gateway's work for ``actor`` may use: a call's, as
    :func:`visible`; a reaction's or a bill run's, its owner's (the partner whose document caused
    it). ``operators`` adds the documents of no owner, the operator's own (a resource pool that
    serves every partner). None (every document) for an actor of no owner, or one that sees all."""
    if isinstance(actor, Call):
        owners = visible(actor, kind)
        owner = None if owners is None else owners[0]
    else:
        owner = actor.owner
    if owner is None:
        return None
    shared = operators or kind in actor.gateway.shared_kinds
    return (owner, None) if shared else (owner,)


__all__ = ["acting_for", "visible"]
