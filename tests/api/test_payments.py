"""Payments and refunds (TMF676) against billing accounts and their bills (TMF678), on SQLite and PostgreSQL.

Two bills of one account are paid in part, then in full with an overpayment; the bills' remainingAmount
and state follow, the overpayment stays as the account's credit, and a refund pays it out.
"""

from __future__ import annotations

from decimal import Decimal

from tests.api.end_to_end import Doc, database_fixture
from tests.api.test_billing import BILLING, Client, gateway
from tests.api.test_usage import USAGE, mobile, usage

PAYMENTS = "/tmf-api/paymentManagement/v4"
database = database_fixture("tmfgate_payments")


def euros(value: str) -> Doc:
    return {"unit": "EUR", "value": Decimal(value)}


def pay(client: Client, account: str, value: str, expect: int = 201, **more: object) -> Doc:
    sent = {"unit": "EUR", "value": float(value)}  # two decimals at most: the double's shortest text is exact
    body = {"account": {"id": account}, "paymentMethod": {"id": "pm-card"}, "totalAmount": sent, **more}
    return client.post(f"{PAYMENTS}/payment", body, expect)


def billed(client: Client, account: str, product: str, gigabytes: str) -> Doc:
    """A bill of the account for usage beyond the allowance, sent to the customer."""
    client.post(f"{USAGE}/usage", usage(product, gigabytes))
    task = client.post(f"{BILLING}/customerBillOnDemand", {"billingAccount": {"id": account}})
    path = f"{BILLING}/customerBill/{task['customerBill']['id']}"
    for state in ("validated", "sent"):
        client.patch(path, {"state": state})
    return client.get(path)  # type: ignore[no-any-return]


def test_payments_settle_bills_oldest_first_and_an_overpayment_stays_as_credit(database: str) -> None:
    with gateway(database) as client:
        product = mobile(client, "ba-pay")["id"]
        first = billed(client, "ba-pay", product, "15")  # 5 GB over: 10.00 + 2.00 tax
        second = billed(client, "ba-pay", product, "1")  # 1 GB more: 2.00 + 0.40
        assert (first["amountDue"]["value"], second["amountDue"]["value"]) == (Decimal("12.00"), Decimal("2.40"))

        part = pay(client, "ba-pay", "5.00")
        assert part["status"] == "done" and part["accountBalance"] == euros("0")
        assert [(i["item"]["id"], i["amount"]["value"]) for i in part["paymentItem"]] == [(first["id"], Decimal(5))]
        now = client.get(f"{BILLING}/customerBill/{first['id']}")
        assert now["state"] == "partiallyPaid" and now["remainingAmount"] == euros("7.00")
        assert now["appliedPayment"] == [
            {
                "appliedAmount": euros("5.00"),
                "payment": {"id": part["id"], "href": part["href"], "@referredType": "Payment"},
            }
        ]

        rest = pay(client, "ba-pay", "10.00")  # 7.00 + 2.40 owed: 0.60 over
        assert [i["amount"]["value"] for i in rest["paymentItem"]] == [Decimal("7.00"), Decimal("2.40")]
        assert rest["accountBalance"] == euros("0.60")
        for bill in (first, second):
            now = client.get(f"{BILLING}/customerBill/{bill['id']}")
            assert now["state"] == "settled" and now["remainingAmount"]["value"] == 0
        assert len(client.get(f"{PAYMENTS}/payment", **{"account.id": "ba-pay"})) == 2

        too_much = {"account": {"id": "ba-pay"}, "paymentMethod": {"id": "pm-card"}, "totalAmount": {"value": 1.0}}
        refused = client.post(f"{PAYMENTS}/refund", too_much, 409)
        assert "has 0.60 EUR of credit" in refused["message"]
        refund = client.post(f"{PAYMENTS}/refund", {**too_much, "totalAmount": {"unit": "EUR", "value": 0.6}})
        assert refund["status"] == "done" and refund["accountBalance"] == euros("0")


def test_a_payment_names_its_bill_and_bad_payments_are_refused(database: str) -> None:
    with gateway(database) as client:
        product = mobile(client, "ba-named")["id"]
        first = billed(client, "ba-named", product, "11")  # 2.40
        second = billed(client, "ba-named", product, "1")  # 2.40
        named = pay(client, "ba-named", "2.40", paymentItem=[{"item": {"id": second["id"]}}])
        assert [i["item"]["id"] for i in named["paymentItem"]] == [second["id"]]
        assert client.get(f"{BILLING}/customerBill/{first['id']}")["state"] == "sent"
        assert client.get(f"{BILLING}/customerBill/{second['id']}")["state"] == "settled"
        path = f"{BILLING}/customerBill/{first['id']}"
        assert "has no payment applied" in client.patch(path, {"state": "partiallyPaid"}, 409)["message"]

        for value, more, says in [
            ("0", {}, "must be more than 0"),
            ("1.001", {}, "in cents at most"),
            ("1e190", {}, "less than 1,000,000,000"),
            ("1", {"paymentItem": [{"item": {"id": "no-such-bill"}}]}, "names no customer bill"),
            ("1", {"status": "done"}, "status set by the server"),
        ]:
            error = pay(client, "ba-named", value, 400, **more)
            assert says in error["message"], error
        wrong = {
            "account": {"id": "ba-named"},
            "paymentMethod": {"id": "p"},
            "totalAmount": {"unit": "USD", "value": 1},
        }
        assert "accounts are kept in EUR" in client.post(f"{PAYMENTS}/payment", wrong, 400)["message"]
        assert len(client.get(f"{PAYMENTS}/payment")) == 1  # nothing stored of the refused ones
