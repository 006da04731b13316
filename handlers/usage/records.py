"""Usage records as clients send them (TMF635 ``Usage``): what rating needs, checked, with whole-sentence reasons.

A record names its product in ``ratedProductUsage[0].productRef.id`` (sent without amounts), the
quantity used in the ``usageCharacteristic`` named ``quantity`` (a number, or numeric text), the
unit in the one named ``unit`` (optional when the product has a single usage price), and when in
``usageDate``. Its ``id`` is the sender's (a mediation system's record id), or one the gateway gives;
the same id twice is one record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from handlers.billing.prices import amount
from tmfgate import times
from tmfgate.ids import new_id
from tmfgate.types import Document

KIND = "usage"
QUANTITY = "quantity"
UNIT = "unit"
# Set by the gateway: a record is received, then rated or rejected (TMF635 UsageStatusType).
SERVER_SET = ("href", "status", "rejectionReason")
LARGEST = Decimal(10) ** 12  # units in one record; more is a mediation error


class RecordError(ValueError):
    """A usage record that cannot be stored; the message says what is wrong."""


@dataclass(frozen=True)
class Reading:
    """What a record says was used, as rating reads it."""

    product_id: str
    quantity: Decimal
    unit: str | None
    date: dt.datetime


def reading(doc: Document) -> Reading:
    """The reading of a usage record; RecordError when a part rating needs is missing or wrong."""
    rated = doc.get("ratedProductUsage")
    ref = rated[0].get("productRef") if isinstance(rated, list) and rated and isinstance(rated[0], dict) else None
    product_id = str(ref.get("id") or "") if isinstance(ref, dict) else ""
    if not product_id:
        raise RecordError(
            "ratedProductUsage[0].productRef.id is missing: it names the product the usage is charged to."
        )
    if isinstance(rated, list) and len(rated) > 1:
        raise RecordError("ratedProductUsage names more than one product; send one record per product.")
    if not isinstance(doc.get("usageDate"), str):
        raise RecordError("usageDate is missing: it says in which month the usage is charged.")
    try:
        date = times.parse(doc["usageDate"])
    except ValueError:
        raise RecordError(f"usageDate {doc['usageDate']!r} is not a date-time such as 2026-11-03T10:15:00Z.") from None
    values = {str(c.get("name")): c.get("value") for c in doc.get("usageCharacteristic") or [] if isinstance(c, dict)}
    if QUANTITY not in values:
        raise RecordError("usageCharacteristic 'quantity' is missing: it gives how much was used.")
    quantity = _quantity(values[QUANTITY])
    unit = values.get(UNIT)
    return Reading(product_id, quantity, None if unit is None else str(unit), date)


def _quantity(raw: Any) -> Decimal:
    try:
        value = amount(raw)
    except ValueError:
        value = Decimal(-1)
    if not 0 <= value < LARGEST:
        raise RecordError(
            f"usageCharacteristic 'quantity' must be a number from 0 to under {LARGEST:,}; it is {raw!r}."
        )
    return value


def received(body: Document, href: Callable[[str], str]) -> Document:
    """A stored record from a create body: its id (the sender's, or a new one), href, @type, status."""
    given = [name for name in SERVER_SET if name in body]
    if given:
        verb, pronoun = ("is", "it") if len(given) == 1 else ("are", "them")
        raise RecordError(f"{', '.join(given)} {verb} set by the server; leave {pronoun} out of the request.")
    id = str(body.get("id") or new_id())
    if len(id) > 200:
        raise RecordError("id is longer than 200 characters.")
    doc: Document = {**body, "id": id, "href": href(id)}
    doc.setdefault("@type", "Usage")
    doc["status"] = "received"
    return doc
