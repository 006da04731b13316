"""Bill documents (TMF678 ``billDocument``) over HTTP, on SQLite and PostgreSQL: every bill has its PDF,
made once and stored, served at the URL the bill gives with the size it gives, and its HTML on the same
URL for ``Accept: text/html``; both show the bill's lines, taxes, totals, customer, account, period and
due date.
"""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema_rs
import pypdf
import pytest
import requests

from tests.api.end_to_end import Doc, database_fixture
from tests.api.test_billing import BILLING, CUSTOMERS, Client, gateway
from tests.api.test_imported_prices import INVENTORY, imported
from tests.conftest import RunningGateway
from tests.security.support import api_key_file
from tests.shared import HOW, OFFICIAL_SPECS

database = database_fixture("tmfgate_bill_documents")
DOCUMENTS = "/tmfgate/billing/v1/billDocument"
# What a bill must carry: the attributes the TMF678 v4 kit checks on a customer bill (billDocument among
# them, as the issue reporting its absence quotes the kit), and the ones tmfgate always sets.
MANDATORY = {
    "id", "href", "billNo", "billDate", "billDocument", "billingAccount", "billingPeriod", "paymentDueDate",
    "amountDue", "remainingAmount", "taxExcludedAmount", "taxIncludedAmount", "taxItem", "category", "runType",
    "state", "relatedParty", "@type",
}  # fmt: skip


def billed(client: Client, account: str, customer: str) -> Doc:
    """A bill on demand for one imported product (10 EUR a month) of a TMF629 customer."""
    party = client.post(
        f"{CUSTOMERS}/customer", {"name": customer, "engagedParty": {"id": "p-1", "@referredType": "Individual"}}
    )
    product = imported(account)
    product["relatedParty"] = [{"id": party["id"], "role": "customer", "@referredType": "Customer"}]
    client.post(f"{INVENTORY}/product", product)
    task = client.post(f"{BILLING}/customerBillOnDemand", {"billingAccount": {"id": account}})
    assert task["state"] == "done", task
    return client.get(f"{BILLING}/customerBill/{task['customerBill']['id']}")  # type: ignore[no-any-return]


def download(url: str, accept: str | None = None) -> requests.Response:
    response = requests.get(url, headers={"accept": accept} if accept else {}, timeout=10)
    assert response.status_code == 200, response.text
    return response


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def shown(bill: Doc, rates: list[Doc]) -> list[str]:
    """What a bill's document must show, as the document writes it."""
    unit = bill["amountDue"]["unit"]
    return [
        bill["billNo"],
        f"Bill date {bill['billDate'][:10]}",
        f"Payment due {bill['paymentDueDate'][:10]}",
        f"{bill['billingPeriod']['startDateTime'][:10]} to ",
        bill["billingAccount"]["id"],
        f"Amount due {bill['amountDue']['value']:.2f} {unit}",
        f"Total excluding tax {bill['taxExcludedAmount']['value']:.2f} {unit}",
        *(f"VAT {item['taxRate'] * 100:.0f}% {item['taxAmount']['value']:.2f} {unit}" for item in bill["taxItem"]),
        *(f"{rate['taxIncludedAmount']['value']:.2f} {unit}" for rate in rates),
    ]


def test_every_bill_has_its_pdf_and_html_with_what_it_bills(database: str) -> None:
    with gateway(database, fulfilment=False, tax_rate="0.20") as client:
        bill = billed(client, "ba-doc", "Zoë Ōtani <Z&A>")
        rates = client.rates(**{"bill.id": bill["id"]})
        [document] = bill["billDocument"]
        assert document["url"] == f"{client.url}{DOCUMENTS}/{document['id']}" == document["href"]
        assert document["mimeType"] == "application/pdf" and document["name"] == f"{bill['billNo']}.pdf"

        pdf = download(document["url"])
        assert pdf.headers["content-type"] == "application/pdf"
        assert document["size"] == {"amount": len(pdf.content), "units": "bytes"}
        assert int(pdf.headers["content-length"]) == len(pdf.content)
        text = " ".join(pdf_text(pdf.content).split())
        for expected in shown(bill, rates):
            assert expected in text, f"{expected!r} is not in the PDF: {text}"
        assert "Customer Zoë Otani <Z&A>" in text  # beyond Latin-1, the PDF's font draws the bare letter

        page = download(document["url"], "text/html,application/xhtml+xml,*/*;q=0.8")
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        html = _plain(page.text)
        for expected in shown(bill, rates):
            assert expected in html, f"{expected!r} is not in the HTML: {html}"
        assert "Customer Zoë Ōtani &lt;Z&amp;A&gt;" in html  # escaped, never markup
        assert download(document["url"], "application/pdf, text/html;q=0.5").content == pdf.content


def test_a_document_is_made_once_and_never_changes(database: str) -> None:
    with gateway(database, fulfilment=False) as client:
        bill = billed(client, "ba-once", "Grace Hopper")
        url = bill["billDocument"][0]["url"]
        first = download(url).content
        client.patch(f"{BILLING}/customerBill/{bill['id']}", {"state": "onHold"})
        assert download(url).content == first
        assert client.get(f"{BILLING}/customerBill/{bill['id']}")["billDocument"] == bill["billDocument"]
        other = billed(client, "ba-twice", "Alan Turing")
        assert other["billDocument"][0]["id"] != bill["billDocument"][0]["id"]
        assert "Alan Turing" in pdf_text(download(other["billDocument"][0]["url"]).content)


def test_an_unknown_document_or_a_media_type_it_has_not_is_a_tmf_error(database: str) -> None:
    with gateway(database, fulfilment=False) as client:
        url = billed(client, "ba-err", "Ada")["billDocument"][0]["url"]
        refused = requests.get(url, headers={"accept": "application/json"}, timeout=10)
        assert refused.status_code == 406 and refused.json()["status"] == "406"
        assert "application/pdf or text/html" in refused.json()["message"]
        missing = requests.get(f"{client.url}{DOCUMENTS}/no-such-document", timeout=10)
        assert missing.status_code == 404 and missing.json()["@type"] == "Error"
        assert requests.delete(url, timeout=10).status_code == 405


def test_a_bill_carries_the_mandatory_attributes_and_the_official_schema_holds(database: str) -> None:
    with gateway(database, fulfilment=False) as client:
        bill = billed(client, "ba-kit", "Ada")
        assert set(bill) >= MANDATORY, sorted(MANDATORY - set(bill))
        listed = client.get(f"{BILLING}/customerBill")
        assert all(set(each) >= MANDATORY for each in listed)
        official = OFFICIAL_SPECS / "TMF678-v4.0.0.swagger.json"
        if not official.exists():
            pytest.skip(f"the official TMF678 file is not at {official} ({HOW})")
        definitions = json.loads(official.read_text())["definitions"]
        validator = jsonschema_rs.validator_for({"$ref": "#/definitions/CustomerBill", "definitions": definitions})
        errors = [error.message for error in validator.iter_errors(_floats(bill))]
        assert errors == []


def _plain(html: str) -> str:
    """The HTML's text, each tag read as a space."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _floats(value: Any) -> Any:
    """JSON as a schema validator reads it: Decimal amounts as numbers."""
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return float(value) if isinstance(value, Decimal) else value


def test_with_authentication_a_partner_reads_its_own_bill_documents_with_tmf678_read(tmp_path: Path) -> None:
    keys = {
        "k-billed-0123456789abcdef": ("partner-b", "tmf637:write tmf678:read tmf678:write"),
        "k-other-0123456789abcdef0": ("partner-o", "tmf678:read"),
        "k-noread-0123456789abcdef": ("partner-b", "tmf637:read"),
    }
    settings = {"auth": "apikey", "api_keys": str(api_key_file(tmp_path, keys))}
    with RunningGateway(f"sqlite:///{tmp_path / 'tmfgate.db'}", fulfilment=False, **settings) as running:
        own = {"X-API-Key": "k-billed-0123456789abcdef"}
        http = requests.Session()
        assert http.post(running.url + INVENTORY + "/product", json=imported("ba-p"), headers=own).status_code == 201
        task = http.post(
            f"{running.url}{BILLING}/customerBillOnDemand", json={"billingAccount": {"id": "ba-p"}}, headers=own
        )
        assert task.json()["state"] == "done", task.text
        bill = http.get(task.json()["customerBill"]["href"], headers=own).json()
        url = bill["billDocument"][0]["url"]
        assert "Amount due" in pdf_text(http.get(url, headers=own).content)
        assert http.get(url, headers={"X-API-Key": "k-other-0123456789abcdef0"}).status_code == 404
        assert http.get(url, headers={"X-API-Key": "k-noread-0123456789abcdef"}).status_code == 403
        assert http.get(url).status_code == 401
