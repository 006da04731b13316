"""Tenancy: what a partner creates is its own, and it sees only its own (README "Security").

A document's owner is stored beside it by the store; reads ask the store for the owners a call may
see, so another partner's resource is simply not found (404, never 403) and counts only count
one's own. Kinds no API lets a client write (the catalogs) are shared: everyone reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from backends.base import Owners

if TYPE_CHECKING:
    from tmfgate.calls import Call


def visible(call: Call, kind: str | None = None) -> Owners:
    """The owners whose documents of ``kind`` (the call's resource) the call may see; None: all."""
    principal = call.principal
    if principal is None or principal.sees_all:
        return None
    if (kind or call.resource.kind) in call.gateway.shared_kinds:
        return (principal.partner, None)
    return (principal.partner,)


__all__ = ["visible"]
