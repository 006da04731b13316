"""A bill run reads its accounts a chunk at a time, on SQLite and PostgreSQL: every account is billed once,
to the cent, whatever the chunks' bounds (an account with more products than a chunk has accounts, a
product terminated in the month); and a TMF666 account's credit limit holds to what its bills still owe,
less the credit payments left it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from backends.base import where
from handlers.billing import accounts, bill_runs, chunks
from handlers.billing.rules import BILL, RATE, Period
from tests.api.end_to_end import database_fixture
from tests.conftest import TEST_SETTINGS
from tmfgate import documents, model, specs
from tmfgate.errors import Conflict
from tmfgate.runtime import Runtime
from tmfgate.settings import Settings
from tmfgate.types import Document

database = database_fixture("tmfgate_chunks")
SERVED = ("tmf637_product_inventory", "tmf666_account_management", "tmf678_bill", "tmfgate_billing")
PERIOD = Period(2026, 10)


def product(n: int, account: int, fee: int, **more: Any) -> Document:
    return {
        "id": f"prod-{n:03d}",
        "name": "Fibre",
        "status": "active",
        "startDate": "2026-09-01T00:00:00Z",
        "billingAccount": {"id": f"ba-{account:02d}"},
        "productPrice": [
            {
                "name": f"Fee {n}",
                "priceType": "recurring",
                "recurringChargePeriod": "month",
                "price": {"dutyFreeAmount": {"unit": "EUR", "value": fee}},
            }
        ],
        **more,
    }


def on_store(url: str, work: Callable[[Runtime], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        apis = [model.build(specs.load(specs.specs_dir() / f"{name}.yaml")) for name in SERVED]
        runtime = Runtime(Settings(database_url=url, **TEST_SETTINGS), apis=apis)  # type: ignore[arg-type]
        await runtime.start(deliver=False)
        try:
            return await work(runtime)
        finally:
            await runtime.stop()

    return asyncio.run(run())


def test_a_keyset_step_stops_at_the_last_id_of_a_full_page() -> None:
    assert chunks.first_ids([["a", "c"], ["b"]], 3) == ["a", "b", "c"]
    assert chunks.first_ids([["a", "c", "e"], ["b", "d", "f", "g"]], 3) == ["a", "b", "c", "d", "e"]
    assert chunks.first_ids([["a", "a", "a"], ["b"]], 3) == ["a"]  # one account's products fill the page
    assert chunks.first_ids([[], []], 3) == []


def test_price_changes_are_those_made_after_the_product_was_ordered() -> None:
    old, new = {"price": "p", "at": "2026-08-01T00:00:00Z"}, {"price": "p", "at": "2026-10-02T00:00:00Z"}
    chunk = chunks.Chunk(PERIOD, changes={"p": [old, new]})
    assert chunk.price_changes({"orderDate": "2026-09-01T00:00:00Z"}, "p") == [new]
    assert chunk.price_changes({"startDate": "2026-07-01T00:00:00Z"}, "p") == [old, new]
    assert chunk.price_changes({}, "p") == [old, new] and chunk.price_changes({}, "q") == []


def test_every_account_is_billed_once_to_the_cent_across_chunks(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunks, "SIZE", 3)
    seeded = [product(n, n, 10 + n) for n in range(7)]  # ba-00 to ba-06, a product each
    seeded += [product(100 + n, 7, 1) for n in range(5)]  # ba-07: more products than a chunk has accounts
    # ba-08: 20 EUR for the 15 days of October before its termination; nothing from a product ended before.
    seeded.append(product(200, 8, 31, status="terminated", terminationDate="2026-10-16T00:00:00Z"))
    seeded.append(product(201, 8, 99, status="terminated", terminationDate="2026-09-20T00:00:00Z"))
    expected = {f"ba-{n:02d}": Decimal(10 + n) for n in range(7)} | {"ba-07": Decimal(5), "ba-08": Decimal(15)}

    async def work(runtime: Runtime) -> tuple[list[Any], list[Any], list[Document]]:
        async with runtime.gateway.transaction() as tx:
            for doc in seeded:
                await documents.create(tx, "product", doc)
        first = await bill_runs.run_cycle(runtime.gateway, PERIOD)
        again = await bill_runs.run_cycle(runtime.gateway, PERIOD)
        return first, again, await documents.find(runtime.gateway.backend, RATE, where("isBilled", eq=False), sort="id")

    first, again, unbilled = on_store(database, work)
    billed = {id: Decimal(str(bill["taxExcludedAmount"]["value"])) for id, bill in first if bill is not None}
    assert [id for id, _ in first] == sorted(expected) and billed == expected
    assert len({bill["billNo"] for _, bill in first}) == len(expected)  # one bill each, numbered apart
    assert again == [(id, None) for id in sorted(expected)] and unbilled == []  # nothing billed twice


def bill(id: str, account: str, state: str, remaining: float, total: float = 100) -> Document:
    return {
        "id": id,
        "state": state,
        "billingAccount": {"id": account},
        "amountDue": {"unit": "EUR", "value": total},
        "remainingAmount": {"unit": "EUR", "value": remaining},
    }


def test_an_account_owes_only_what_its_unsettled_bills_have_left_to_pay(database: str) -> None:
    stored = [
        bill("paid", "ba-1", "settled", 0),
        bill("stale", "ba-1", "settled", 100),  # settled: whatever its remainingAmount says, nothing is owed
        bill("half", "ba-1", "partiallyPaid", 30),  # only what payments left of it
        bill("open", "ba-1", "new", 50),
        bill("sent", "ba-1", "sent", 0.01),
        bill("credit", "ba-1", "new", -20, total=-20),  # a credit note owes nothing
        bill("other", "ba-2", "new", 70),
    ]

    async def work(runtime: Runtime) -> tuple[dict[str, Decimal], Decimal, list[str]]:
        async with runtime.gateway.transaction() as tx:
            for doc in stored:
                await documents.create(tx, BILL, doc)
        store = runtime.gateway.backend
        refused = []
        for limit in (80.01, 80, 1000):
            try:
                await accounts.check_credit(
                    store, {"id": "ba-1", "creditLimit": {"unit": "EUR", "value": limit}}, "EUR"
                )
            except Conflict as error:
                refused.append(str(error))
        await accounts.check_credit(store, {"id": "ba-1"}, "EUR")  # no limit: never refused
        credit = {"balanceType": "credit", "amount": {"unit": "EUR", "value": 0.02}}
        owing = {"id": "ba-1", "creditLimit": {"unit": "EUR", "value": 80}, "accountBalance": [credit]}
        await accounts.check_credit(store, owing, "EUR")  # 80.01 owed less 0.02 of credit: under the limit
        try:
            await accounts.check_credit(store, {**owing, "creditLimit": {"unit": "EUR", "value": 79.98}}, "EUR")
        except Conflict as error:
            refused.append(str(error))
        return await accounts.owed_by(store, ["ba-1", "ba-2", "ba-3"]), await accounts.owed(store, "ba-1"), refused

    by_account, owed, refused = on_store(database, work)
    assert by_account == {"ba-1": Decimal("80.01"), "ba-2": Decimal(70)} and owed == Decimal("80.01")
    [without, less] = refused
    assert "owes 80.01 EUR on its bills, over its credit limit of 80.00 EUR" in without
    assert "owes 80.01 EUR on its bills, less 0.02 EUR of credit, over its credit limit of 79.98 EUR" in less
