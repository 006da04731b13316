"""Fulfilment and billing whatever version the client speaks, on SQLite and PostgreSQL: an order
placed on v5 completes like one placed on v4, what it installed reads on both, and it bills the same, to a
TMF666 account made on either version whose balance reads the same on both."""

from __future__ import annotations

from typing import Any

from tests.api.end_to_end import Doc, GatewayClient, database_fixture, wait
from tests.conftest import RunningGateway

ORDERING = {"4": "/tmf-api/productOrderingManagement/v4", "5": "/tmf-api/productOrderingManagement/v5"}
SERVICES = {"4": "/tmf-api/serviceInventory/v4", "5": "/tmf-api/serviceInventory/v5"}
RESOURCES = {"4": "/tmf-api/resourceInventoryManagement/v4", "5": "/tmf-api/resourceInventory/v5"}
INVENTORY = {"4": "/tmf-api/productInventory/v4", "5": "/tmf-api/productInventory/v5"}
BILLING = {"4": "/tmf-api/customerBillManagement/v4", "5": "/tmf-api/customerBillManagement/v5"}
ACCOUNTS = {"4": "/tmf-api/accountManagement/v4", "5": "/tmf-api/accountManagement/v5"}
ENDED = ("completed", "failed", "partial", "cancelled")
# What differs between two bills of the same charges: who, when, and which.
OWN = frozenset(
    {
        "id",
        "href",
        "billNo",
        "billDate",
        "paymentDueDate",
        "lastUpdate",
        "nextBillDate",
        "billingAccount",
        "relatedParty",
        "billDocument",  # each bill's own document
    }
)

database = database_fixture("tmfgate_versions")


def order_body(version: str, account: str, customer: str) -> Doc:
    """One fibre broadband item for the customer, billed to the account, in the version's terms."""
    if version == "4":
        return {
            "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "po-fibre-500"}}],
            "billingAccount": {"id": account},
            "relatedParty": [{"id": customer, "role": "customer", "@referredType": "Individual"}],
        }
    party = {"@type": "PartyRef", "id": customer, "@referredType": "Individual"}
    return {
        "@type": "ProductOrder",
        "productOrderItem": [
            {
                "@type": "ProductOrderItem",
                "id": "1",
                "action": "add",
                "productOffering": {"@type": "ProductOfferingRef", "id": "po-fibre-500"},
            }
        ],
        "billingAccount": {"@type": "BillingAccountRef", "id": account},
        "relatedParty": [{"@type": "RelatedPartyRefOrPartyRoleRef", "role": "customer", "partyOrPartyRole": party}],
    }


def account_body(version: str, customer: str) -> Doc:
    """A TMF666 billing account of the customer, in the version's terms."""
    if version == "4":
        party = {"id": customer, "name": customer, "role": "owner", "@referredType": "Individual"}
        return {"name": customer, "relatedParty": [party]}
    party = {"@type": "PartyRef", "id": customer, "name": customer, "@referredType": "Individual"}
    owner = {"@type": "RelatedPartyRefOrPartyRoleRef", "role": "owner", "partyOrPartyRole": party}
    return {"@type": "BillingAccount", "name": customer, "relatedParty": [owner]}


class Client(GatewayClient):
    def post(self, path: str, body: Any) -> Doc:
        response = self.http.post(self.url + path, json=body, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def ended(self, version: str, id: str) -> Doc:
        path = f"{ORDERING[version]}/productOrder/{id}"
        return wait(lambda: self.get(path), lambda o: o["state"] in ENDED, 30, f"order {id} to end")  # type: ignore[no-any-return]

    def bill(self, version: str, account: str) -> Doc:
        body: Doc = {"billingAccount": {"id": account}}
        if version == "5":
            body = {"@type": "CustomerBillOnDemand", "billingAccount": {"@type": "BillingAccountRef", "id": account}}
        task = self.post(f"{BILLING[version]}/customerBillOnDemand", body)
        assert task["state"] == "done", task
        return self.get(f"{BILLING[version]}/customerBill/{task['customerBill']['id']}")  # type: ignore[no-any-return]


def test_an_order_placed_on_v5_is_fulfilled_read_on_both_versions_and_billed_as_on_v4(database: str) -> None:
    with RunningGateway(database, retry_delay=0.1, retry_delay_max=0.5) as running:
        client = Client(running.url)
        accounts = {v: client.post(f"{ACCOUNTS[v]}/billingAccount", account_body(v, f"cust-v{v}"))["id"] for v in "45"}
        placed = {v: client.post(f"{ORDERING[v]}/productOrder", order_body(v, accounts[v], f"cust-v{v}")) for v in "45"}
        ended = {v: client.ended(v, placed[v]["id"]) for v in "45"}
        assert ended["5"]["state"] == ended["4"]["state"] == "completed"
        assert ended["5"]["creationDate"] and ended["5"]["completionDate"]
        assert client.get(f"{ORDERING['4']}/productOrder/{placed['5']['id']}")["state"] == "completed"
        product = ended["5"]["productOrderItem"][0]["product"]
        for version in "45":
            installed = client.get(f"{INVENTORY[version]}/product/{product['id']}")
            assert installed["status"] == "active"
            for ref in product["realizingService"]:
                service = client.get(f"{SERVICES[version]}/service/{ref['id']}")
                assert service["state"] == "active"
                assert service["href"].startswith(f"{running.url}{SERVICES[version]}/service/")
            for ref in product["realizingResource"]:
                assert client.get(f"{RESOURCES[version]}/resource/{ref['id']}")["id"] == ref["id"]
        # The v5 face shows the customer the v5 way wherever the gateway copied it.
        service5 = client.get(f"{SERVICES['5']}/service/{product['realizingService'][0]['id']}")
        assert service5["relatedParty"][0]["partyOrPartyRole"]["id"] == "cust-v5"
        # A v5 reply links to the v5 face of each API it names; a v4 reply of the same order to v4.
        assert product["href"] == f"{running.url}{INVENTORY['5']}/product/{product['id']}"
        assert {ref["href"].rsplit("/", 1)[0] for ref in product["realizingService"]} == {
            f"{running.url}{SERVICES['5']}/service"
        }
        v4_item = client.get(f"{ORDERING['4']}/productOrder/{placed['5']['id']}")["productOrderItem"][0]
        assert v4_item["product"]["href"] == f"{running.url}{INVENTORY['4']}/product/{product['id']}"
        supporting = service5["supportingResource"]
        assert supporting
        assert all(ref["href"].startswith(f"{running.url}{RESOURCES['5']}/resource/") for ref in supporting)
        bills = {v: client.bill(v, accounts[v]) for v in "45"}
        same = {v: {k: value for k, value in bills[v].items() if k not in OWN} for v in "45"}
        # v5 names the @type of every nested object (Extensible requires it), v4 leaves it out.
        assert untyped(same["5"]) == same["4"] and same["5"]["amountDue"]["value"] > 0
        assert [len(bills[v]["billDocument"]) for v in "45"] == [1, 1]
        assert {bills[v]["billDocument"][0]["mimeType"] for v in "45"} == {"application/pdf"}
        assert client.get(f"{BILLING['4']}/customerBill/{bills['5']['id']}")["amountDue"] == bills["5"]["amountDue"]
        # Each account's balance follows its bill, whichever version made the account and reads it.
        for made in "45":
            for read in "45":
                account = client.get(f"{ACCOUNTS[read]}/billingAccount/{accounts[made]}")
                (due,) = [b for b in account["accountBalance"] if b["balanceType"] == "due"]
                assert due["amount"]["value"] == bills[made]["amountDue"]["value"], (made, read)
                assert due.get("@type") == ("AccountBalance" if read == "5" else None)


def untyped(doc: dict[str, Any]) -> dict[str, Any]:
    """A document without the @type of the objects it holds (its own is kept)."""
    return {key: _without_type(value) for key, value in doc.items()}


def _without_type(value: Any) -> Any:
    if isinstance(value, list):
        return [_without_type(item) for item in value]
    if isinstance(value, dict):
        return {key: _without_type(item) for key, item in value.items() if key != "@type"}
    return value
