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

import json
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
    id = _reference_id(entry)
    if id is not None:
        yield (f"{where}.{_WRAPPED}" if isinstance(entry.get(_WRAPPED), dict) else where), id


def _reference_id(entry: Any) -> str | None:
    """The party id of one reference, inside v5's ``partyOrPartyRole`` wrapping or not."""
    if not isinstance(entry, dict):
        return None
    wrapped = entry.get(_WRAPPED)
    id = (wrapped if isinstance(wrapped, dict) else entry).get("id")
    return id if isinstance(id, str) and id else None


def _party_ids(value: Any, found: set[str]) -> None:
    """The ids of :func:`party_references`, without their paths."""
    found.update(id for _, id in party_references(value))


# A holder as a key in the compact JSON codec.dumps writes: in JSON text a quote inside a string is
# escaped, so an unescaped quote right after "{" or "," opens a key, never a string's content.
_HOLDER_KEYS = tuple(f'"{name}":' for name in sorted(HOLDERS))
_VALUE = json.JSONDecoder()


def _party_ids_in(raw: bytes) -> set[str]:
    """The ids of :func:`party_references` in a document's compact JSON, quickly: every create and
    change of a partner is checked, and finding the holders' keys in the text and parsing only their
    values costs a fraction of walking the whole decoded document in Python."""
    found: set[str] = set()
    text = raw.decode()
    for key in _HOLDER_KEYS:
        at = text.find(key)
        while at != -1:
            if at and text[at - 1] in "{,":
                value, _ = _VALUE.raw_decode(text, at + len(key))
                for entry in value if isinstance(value, list) else (value,):
                    id = _reference_id(entry)
                    if id is not None:
                        found.add(id)
            at = text.find(key, at + len(key))
    return found


async def check_parties(tx: Transaction, call: Call, new: Any, raw: bytes, old: Any = None) -> None:
    """Refuse (400) a party reference in ``new`` (whose JSON by ``codec.dumps`` is ``raw``; not
    already in ``old``, which a PATCH keeps) to a party the store keeps that the calling partner may
    not read; nothing for a caller that sees all."""
    if visible(call, PARTY_KINDS[0]) is None:
        return  # no authentication, or the back office: no tenancy to keep
    ids = _party_ids_in(raw)
    if old is not None and ids:
        kept: set[str] = set()
        _party_ids(old, kept)
        ids -= kept
    foreign = await _foreign(tx, call, ids)
    if foreign:
        id = min(foreign)
        where = next(at for at, named in party_references(new) if named == id)
        raise BadRequest(
            f"{where} refers to party {id}, which is not one of yours: refer to a customer or party "
            "your organisation created here, or to one this gateway does not keep."
        )


async def _foreign(tx: Transaction, call: Call, ids: set[str]) -> set[str]:
    """Those of ``ids`` that are parties the store keeps (of any party kind) which the caller may not
    read: one batch read per kind, and an owned read only of the ids the store has."""
    foreign: set[str] = set()
    if not ids:
        return foreign
    wanted = sorted(ids)
    for kind in PARTY_KINDS:
        if call.gateway.kept_elsewhere(kind):
            continue  # another system keeps no owners: its own rules apply
        owners = visible(call, kind)
        for id in await tx.get_many(kind, wanted):
            if id not in foreign and await tx.get(kind, id, owners=owners) is None:
                foreign.add(id)
    return foreign


__all__ = ["HOLDERS", "PARTY_KINDS", "check_parties", "party_references"]
