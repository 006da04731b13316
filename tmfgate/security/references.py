"""Party references a partner writes must name its own parties (README "Security", tenancy).

An order's ``relatedParty``, a customer's ``engagedParty``, a bill request's ``relatedParty``... are
read later by the gateway's own work (rating names the order's customer on the bill, with the name
TMF629 holds), which reads the store without tenancy. So when a partner creates or changes a
resource, every party it refers to by id must be one it may read: its own, or one the store does
not keep (a party another system manages). A party the store keeps for another partner, or for no
partner (stored before authentication), is refused with 400 and nothing is stored: a body naming
what the partner cannot read is a bad request (TMF630), and the id is not echoed with anything
of the party's. References are found by their holder's name at any depth, the TMF v5
``partyOrPartyRole`` wrapping included.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from backends.base import Transaction
from tmfgate.errors import BadRequest
from tmfgate.security.tenancy import visible

if TYPE_CHECKING:
    from tmfgate.calls import Call

# The kinds of parties and party roles a store keeps (TMF629 customers, TMF632 parties).
PARTY_KINDS = ("customer", "individual", "organization")
# The attributes holding references to parties, in TMF APIs (one reference, or a list of them).
HOLDERS = frozenset({"relatedParty", "engagedParty", "party", "customer", "relatedPartyRef"})
_WRAPPED = "partyOrPartyRole"  # TMF v5: {"role": ..., "partyOrPartyRole": {"id": ...}}


def party_references(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, id) of every party reference in ``value``: ``relatedParty[0]``, ``customer``..."""
    if isinstance(value, dict):
        for name, inner in value.items():
            at = f"{path}.{name}" if path else name
            if name in HOLDERS:
                entries = inner if isinstance(inner, list) else [inner]
                for index, entry in enumerate(entries):
                    where = f"{at}[{index}]" if isinstance(inner, list) else at
                    yield from _reference(entry, where)
            yield from party_references(inner, at)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from party_references(inner, f"{path}[{index}]")


def _reference(entry: Any, where: str) -> Iterator[tuple[str, str]]:
    if not isinstance(entry, dict):
        return
    if isinstance(entry.get(_WRAPPED), dict):
        entry, where = entry[_WRAPPED], f"{where}.{_WRAPPED}"
    if isinstance(entry.get("id"), str) and entry["id"]:
        yield where, entry["id"]


async def check_parties(tx: Transaction, call: Call, new: Any, old: Any = None) -> None:
    """Refuse (400) a party reference in ``new`` (not already in ``old``, which a PATCH keeps) to a
    party the store keeps that the calling partner may not read; nothing for a caller that sees all."""
    if visible(call, PARTY_KINDS[0]) is None:
        return  # no authentication, or the back office: no tenancy to keep
    kept = {id for _, id in party_references(old)} if old is not None else set()
    checked: set[str] = set()
    for where, id in party_references(new):
        if id in kept or id in checked:
            continue
        checked.add(id)
        if await _foreign(tx, call, id):
            raise BadRequest(
                f"{where} refers to party {id}, which is not one of yours: refer to a customer or party "
                "your organisation created here, or to one this gateway does not keep."
            )


async def _foreign(tx: Transaction, call: Call, id: str) -> bool:
    """Whether ``id`` is a party the store keeps that the caller may not read (of any party kind)."""
    for kind in PARTY_KINDS:
        if call.gateway.kept_elsewhere(kind):
            continue  # another system keeps no owners: its own rules apply
        if await tx.get(kind, id) is not None and await tx.get(kind, id, owners=visible(call, kind)) is None:
            return True
    return False


__all__ = ["HOLDERS", "PARTY_KINDS", "check_parties", "party_references"]
