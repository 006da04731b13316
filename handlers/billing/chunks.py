"""What a bill run reads of a chunk of billing accounts: a few filtered queries for all of them at once.

A bill run reads each account's products active in the month, the rates of those products, the price
changes that apply to them and, once they are rated, the account's unbilled rates. Asked one account at
a time that is a dozen filtered queries an account, and on a store that has no index on the paths
(SQLite: ``billingAccount.id`` is nested) each walks every product or rate stored, so a run's cost
grew with the square of its accounts. A :class:`Chunk` asks the same for up to :data:`SIZE` accounts
in one query each, in the transaction that holds their locks, so what it reads is what it bills.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from backends.base import Owners, Transaction, where
from handlers.billing import repricing
from handlers.billing.rules import RATE, Period
from tmfgate import documents, times
from tmfgate.types import Document

SIZE = 100  # accounts billed in one transaction: their locks are held until all are billed


@dataclass
class Chunk:
    """The products and rates of some billing accounts for one month, each with its owner."""

    period: Period
    products: dict[str, list[tuple[Document, str | None]]] = field(default_factory=dict)  # by account id
    rates: dict[str, list[Document]] = field(default_factory=dict)  # every rate of a product, by product id
    changes: dict[str, list[Document]] = field(default_factory=dict)  # catalog price changes, by price id
    unbilled: dict[str, list[tuple[Document, str | None]]] = field(default_factory=dict)  # by account id

    @classmethod
    async def read(cls, tx: Transaction, ids: list[str], period: Period, owners: Owners) -> Chunk:
        """The accounts' products active at some time in the month (still active, or terminated in it)
        and their rates, and the accounts' unbilled rates; of ``owners`` only, when given."""
        chunk = cls(period)
        account = where("billingAccount.id", eq=ids)
        started = where("startDate", lt=period.end)
        found: dict[str, Document] = {}
        for still in (where("status", eq="active"), where("terminationDate", gte=period.start)):
            products = await documents.find(tx, "product", account, started, still, sort="startDate", owners=owners)
            for product in products:
                found.setdefault(str(product["id"]), product)
        for id, product in sorted(found.items(), key=lambda entry: str(entry[1]["startDate"])):
            owner = await tx.owner("product", id)
            chunk.products.setdefault(str(product["billingAccount"]["id"]), []).append((product, owner))
        if found:
            chunk.rates = _by(await documents.find(tx, RATE, where("product.id", eq=list(found))), "product")
            prices = sorted({price_id(price) for p in found.values() for price in p.get("productPrice", [])})
            changes = await documents.find(tx, repricing.KIND, where("price", eq=prices), sort="at") if prices else []
            for change in changes:
                chunk.changes.setdefault(str(change["price"]), []).append(change)
        await chunk.read_unbilled(tx, ids, owners)
        return chunk

    async def read_unbilled(self, tx: Transaction, ids: list[str], owners: Owners) -> None:
        """Read the accounts' unbilled rates whose coverage starts before the month's end, again: after
        rating, so that those it made are billed too."""
        self.unbilled = defaultdict(list)
        for rate in await documents.find(
            tx,
            RATE,
            where("billingAccount.id", eq=ids),
            where("isBilled", eq=False),
            where("periodCoverage.startDateTime", lt=self.period.end),
            sort=("periodCoverage.startDateTime", "name"),
            owners=owners,
        ):
            owner = await tx.owner(RATE, str(rate["id"]))
            self.unbilled[str(rate["billingAccount"]["id"])].append((rate, owner))

    def owners(self, account_id: str) -> list[str | None]:
        """The owners of the account's products and unbilled rates (None: stored before authentication),
        the owner-less first."""
        found = {owner for _, owner in [*self.products.get(account_id, []), *self.unbilled.get(account_id, [])]}
        return sorted(found, key=lambda owner: (owner is not None, owner or ""))

    def price_changes(self, product: Document, price_id: str) -> list[Document]:
        """The changes of the price made after the product was ordered, oldest first
        (:func:`handlers.billing.repricing.since`, from what was read)."""
        ordered = product.get("orderDate") or product.get("startDate")
        changes = self.changes.get(price_id, [])
        if not ordered:
            return changes
        after = times.parse(str(ordered))
        return [change for change in changes if times.parse(str(change["at"])) > after]


def of(pairs: list[tuple[Document, str | None]], owners: Owners) -> list[Document]:
    """The documents of ``owners`` among (document, owner) pairs; all of them when None."""
    return [doc for doc, owner in pairs if owners is None or owner in owners]


def _by(rates: list[Document], path: str) -> dict[str, list[Document]]:
    grouped: dict[str, list[Document]] = {}
    for rate in rates:
        grouped.setdefault(str((rate.get(path) or {}).get("id")), []).append(rate)
    return grouped


def price_id(price: Document) -> str:
    """The id a product's price is known by in its rates: its catalog price's, else its name."""
    return str((price.get("productOfferingPrice") or {}).get("id", price.get("name", "")))


def first_ids(pages: list[list[str]], size: int) -> list[str]:
    """The ids of a keyset step over several sources, each page its ids in order after the same last id:
    all of them, but none past the last id of a page of ``size`` (its source may have more before it)."""
    bound = min((page[-1] for page in pages if len(page) >= size), default=None)
    return sorted({id for page in pages for id in page if bound is None or id <= bound})
