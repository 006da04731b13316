"""Usage records taken in: checked one by one, then stored and rated together (:mod:`handlers.usage.rating`).

The same path serves a single ``POST /usage``, the batch endpoint and ``tmfgate usage import``. A record
that is not well formed is refused with its reason and nothing of it is stored; the others are stored in
one transaction per batch, rated or parked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from backends.base import Transaction
from handlers import apis
from handlers.catalog import snapshots
from handlers.usage import rating, records
from handlers.usage.records import RecordError
from tmfgate.calls import Actor
from tmfgate.types import Document

LARGEST = 1000  # records in one batch: one transaction, one query per lookup


@dataclass
class Report:
    """What a batch did, record by record: the ids stored (rated, parked), already stored, and refused."""

    rated: list[Document] = field(default_factory=list)
    parked: list[Document] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (position in the batch, reason)

    def summary(self) -> Document:
        """The batch's answer: counts, then each parked, duplicate and refused record with its reason."""
        return {
            "rated": len(self.rated),
            "parked": [{"id": d["id"], "reason": d["rejectionReason"]} for d in self.parked],
            "duplicate": self.duplicates,
            "refused": [{"index": n, "reason": why} for n, why in self.refused],
        }

    def add(self, other: Report, offset: int) -> None:
        self.rated += other.rated
        self.parked += other.parked
        self.duplicates += other.duplicates
        self.refused += [(n + offset, why) for n, why in other.refused]


async def take(tx: Transaction, actor: Actor, bodies: Iterable[Any]) -> Report:
    """Check, store and rate a batch of usage bodies in ``tx``."""
    await snapshots.refresh(actor.gateway)  # the usage prices in force
    report = Report()
    docs = []
    for n, body in enumerate(bodies):
        try:
            if not isinstance(body, dict):
                raise RecordError("a usage record must be a JSON object.")
            doc = records.received(body, lambda id: actor.gateway.href(apis.USAGE, records.KIND, id))
            docs.append((doc, records.reading(doc)))
        except RecordError as why:
            report.refused.append((n, str(why)))
    outcome = await rating.rate(tx, actor, docs)
    report.rated, report.parked, report.duplicates = outcome.rated, outcome.parked, outcome.duplicates
    return report
