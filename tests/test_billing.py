"""The billing rules on plain values (periods, active days, proration, tax, exact money, which months a bill
run may bill, the media type of a bill document) and settings."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pypdf
import pytest
import yaml

from handlers.billing.bill_runs import refusal
from handlers.billing.documents import HTML, PDF, content, preferred, render_html, render_pdf
from handlers.billing.prices import amount
from handlers.billing.rules import TAX_RATE, Period, active_days, check, coverage, money, prorate, signed, tax
from tmfgate.errors import ConfigurationError
from tmfgate.runtime import installed
from tmfgate.settings import Settings
from tmfgate.times import parse as instant

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return instant(text)


def test_a_period_is_a_calendar_month_in_utc() -> None:
    november = Period.parse("2026-11")
    assert november.start == dt.datetime(2026, 11, 1, tzinfo=UTC)
    assert november.end == dt.datetime(2026, 12, 1, tzinfo=UTC)
    assert (str(november), november.label, november.days) == ("2026-11", "November 2026", 30)
    assert Period.parse("2026-12").next() == Period(2027, 1)
    assert (Period(2028, 2).days, Period(2026, 2).days, Period(2026, 1).days) == (29, 28, 31)
    assert Period.of(at("2026-11-30T23:30:00-02:00")) == Period(2026, 12)  # 01:30 UTC on 1 December


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "26-11", "2026-1", "2026/11", "november", ""])
def test_a_period_that_is_not_a_month_is_refused_with_the_format(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        Period.parse(text)


@pytest.mark.parametrize(
    ("start", "termination", "days"),
    [
        ("2026-10-15T10:00:00Z", None, 30),  # active all month
        ("2026-11-01T00:00:00Z", None, 30),
        ("2026-11-20T18:40:00.123Z", None, 11),  # the start day counts: 20..30
        ("2026-11-30T23:59:59Z", None, 1),
        ("2026-10-15T10:00:00Z", "2026-11-10T08:00:00Z", 9),  # the termination day does not: 1..9
        ("2026-11-20T08:00:00Z", "2026-11-25T17:00:00Z", 5),
        ("2026-11-20T08:00:00Z", "2026-11-20T17:00:00Z", 0),  # installed and terminated the same day
        ("2026-10-01T00:00:00Z", "2026-10-31T12:00:00Z", 0),  # ended before the month
        ("2026-12-01T00:00:00Z", None, 0),  # starts after it
        ("2026-10-15T10:00:00Z", "2026-12-03T00:00:00Z", 30),
        ("2026-11-30T23:30:00-02:00", None, 0),  # 1 December in UTC
    ],
)
def test_active_days_count_the_start_day_and_not_the_termination_day(
    start: str, termination: str | None, days: int
) -> None:
    november = Period(2026, 11)
    assert active_days(november, at(start), at(termination) if termination else None) == days


def test_coverage_spans_the_days_charged() -> None:
    november = Period(2026, 11)
    assert coverage(november, at("2026-11-20T18:40:00Z"), None) == {
        "startDateTime": "2026-11-20T00:00:00.000Z",
        "endDateTime": "2026-12-01T00:00:00.000Z",
    }
    assert coverage(november, at("2026-09-02T08:00:00Z"), at("2026-11-10T08:00:00Z")) == {
        "startDateTime": "2026-11-01T00:00:00.000Z",
        "endDateTime": "2026-11-10T00:00:00.000Z",
    }


def test_proration_rounds_once_half_up_to_the_cent() -> None:
    assert prorate(Decimal("39.99"), 11, 30) == Decimal("14.66")  # 14.663
    assert prorate(Decimal("39.99"), 6, 30) == Decimal("8.00")  # 7.998
    assert prorate(Decimal("10.01"), 15, 30) == Decimal("5.01")  # 5.005: half-up, where banker's gives 5.00
    assert prorate(Decimal("9.99"), 31, 31) == Decimal("9.99")
    assert prorate(Decimal("15.00"), 0, 28) == Decimal("0.00")
    assert prorate(Decimal("29.99"), 1, 31) == Decimal("0.97")  # 0.967419...
    assert prorate(Decimal("0.30"), 5, 20) == Decimal("0.08")  # 0.075 exactly


def test_tax_rounds_half_up_where_a_float_would_round_down() -> None:
    assert tax(Decimal("26.75"), Decimal("0.10")) == Decimal("2.68")  # 2.675 exactly; round(2.675, 2) == 2.67
    assert tax(Decimal("49.00"), Decimal("0.20")) == Decimal("9.80")
    assert tax(Decimal("14.66"), Decimal("0.21")) == Decimal("3.08")  # 3.0786
    assert tax(Decimal("10.00"), Decimal("0")) == Decimal("0.00")


def test_money_is_written_so_that_it_reads_back_as_the_same_decimal() -> None:
    for text in ("0.10", "0.20", "0.30", "26.66", "1234567890.12", "-14.66", "49.00", "0.01"):
        written = orjson.dumps(money(Decimal(text), "EUR"))
        assert json.loads(written, parse_float=Decimal)["value"] == Decimal(text)
        assert amount(orjson.loads(written)["value"]) == Decimal(text)
    assert money(Decimal("0.1") + Decimal("0.2"), "EUR") == {"unit": "EUR", "value": 0.3}
    assert money(Decimal("2.675"), "EUR")["value"] == 2.68  # rounded half-up, not the double's 2.67499...
    with pytest.raises(ValueError, match="too large"):
        money(Decimal("12345678901234.56"), "EUR")


def test_amounts_are_read_exactly_and_refused_when_not_numbers() -> None:
    assert amount(29.99) == Decimal("29.99")  # a YAML or JSON float, by its shortest text
    assert amount(49) == Decimal(49) and amount("5.00") == Decimal("5.00")
    for bad in (True, None, "abc", "NaN", "Infinity", [1], {"value": 1}):
        with pytest.raises(ValueError, match="not an amount"):
            amount(bad)


def test_a_credit_counts_negative() -> None:
    charge = {"type": "appliedBillingCharge", "taxExcludedAmount": {"unit": "EUR", "value": 14.66}}
    credit = {"type": "appliedBillingCredit", "taxExcludedAmount": {"unit": "EUR", "value": 14.66}}
    assert signed(charge) + signed(credit) == 0 and signed(credit) == Decimal("-14.66")


def test_billing_settings_are_checked_when_read() -> None:
    declared = installed().settings
    given = Settings.from_env(declared, {"TMFGATE_TAX_RATE": " 0.055 ", "TMFGATE_PAYMENT_TERMS": "0"})
    assert given.get(TAX_RATE) == "0.055"
    for variable, raw in (
        ("TMFGATE_TAX_RATE", "20%"),
        ("TMFGATE_TAX_RATE", "1"),
        ("TMFGATE_TAX_RATE", "-0.1"),
        ("TMFGATE_TAX_RATE", "nan"),
        ("TMFGATE_PAYMENT_TERMS", "-1"),
        ("TMFGATE_PAYMENT_TERMS", "30 days"),
    ):
        with pytest.raises(ConfigurationError, match=variable):
            Settings.from_env(declared, {variable: raw})


def test_a_catalog_or_settings_billing_cannot_use_stop_the_start(tmp_path: Path) -> None:
    class Gateway:  # what the check reads of one: its settings; weakly referable, as the catalog keys it so
        def __init__(self, settings: Settings) -> None:
            self.settings = settings

    def gateway(**settings: Any) -> Any:
        return Gateway(Settings(**settings))

    check(gateway())  # the demo catalog and the defaults
    with pytest.raises(ConfigurationError, match="tax rate must be a decimal fraction .* not '0,2'"):
        check(gateway(tax_rate="0,2"))
    with pytest.raises(ConfigurationError, match="payment terms"):
        check(gateway(payment_terms=-3))
    for number, (price, words) in enumerate(
        (
            ({"priceType": "oneTime", "price": {"unit": "USD", "value": 5}}, "is in USD; billing charges in EUR"),
            ({"priceType": "oneTime", "price": {"unit": "EUR", "value": -5}}, "0 or more"),
            ({"priceType": "oneTime", "price": {"unit": "EUR"}}, "needs a value"),
            ({"priceType": "usage", "price": {"unit": "EUR", "value": 1}}, "a usage price needs unitOfMeasure"),
            ({"priceType": "usageCharge", "price": {"unit": "EUR", "value": 1}}, "a usage price needs unitOfMeasure"),
            (
                {"priceType": "discount", "price": {"unit": "EUR", "value": 1}},
                "priceType 'discount' is not one billing",
            ),
            (
                {"priceType": "recurring", "recurringChargePeriodType": "day", "price": {"unit": "EUR", "value": 1}},
                "the recurring period 'day' is not one billing charges",
            ),
            (
                {
                    "priceType": "recurring",
                    "recurringChargePeriodType": "month",
                    "recurringChargePeriodLength": 3,
                    "price": {"unit": "EUR", "value": 1},
                },
                "recurringChargePeriodLength must be 1",
            ),
        )
    ):
        path = tmp_path / f"catalog-{number}.yaml"
        path.write_text(yaml.safe_dump({"currency": "EUR", "productOfferingPrice": [{"id": "pop-1", **price}]}))
        with pytest.raises(ConfigurationError, match=f"productOfferingPrice pop-1: .*{words}"):
            check(gateway(catalog=str(path)))
    # Yearly and weekly prices, and TMF678's names, are ones billing charges: the start goes on.
    path = tmp_path / "yearly.yaml"
    yearly = {"priceType": "recurring", "recurringChargePeriodType": "year", "price": {"unit": "EUR", "value": 100}}
    weekly = {**yearly, "priceType": "recurringCharge", "recurringChargePeriodType": "weekly"}
    data = {"priceType": "usageCharge", "unitOfMeasure": {"units": "GB"}, "price": {"unit": "EUR", "value": 2}}
    entries = [{"id": "pop-1", **yearly}, {"id": "pop-2", **weekly}, {"id": "pop-3", **data}]
    path.write_text(yaml.safe_dump({"productOfferingPrice": entries}))
    check(gateway(catalog=str(path)))


def test_months_span_from_the_first_to_the_last_given() -> None:
    assert Period.span({Period(2026, 11), Period(2027, 2)}) == [
        Period(2026, 11),
        Period(2026, 12),
        Period(2027, 1),
        Period(2027, 2),
    ]
    assert Period.span({Period(2026, 5)}) == [Period(2026, 5)] and Period.span(set()) == []


@pytest.mark.parametrize(
    ("period", "in_advance", "refused"),
    [
        ("2026-11", False, None),
        ("2020-01", False, None),
        ("2026-12", False, "2026-12 (December 2026) has not ended yet: bill it once it has, or give --in-advance"),
        ("2026-12", True, None),
        ("2027-01", True, None),
        ("2027-02", True, "2027-02 (February 2027) is too far ahead: --in-advance bills the current month or"),
        ("2031-05", False, "2031-05 (May 2031) has not ended yet"),
    ],
)
def test_a_bill_run_bills_a_month_once_it_has_ended_or_in_advance_up_to_the_next(
    period: str, in_advance: bool, refused: str | None
) -> None:
    why = refusal(Period.parse(period), at("2026-12-03T10:00:00Z"), in_advance=in_advance)
    assert why == refused if refused is None else why is not None and why.startswith(refused)


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("", PDF),
        ("*/*", PDF),
        ("application/pdf", PDF),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", HTML),
        ("application/pdf;q=0.5, text/html", HTML),
        ("text/*;q=0.9, application/*;q=0.8", HTML),
        ("application/json", None),
        ("text/html;q=0, application/pdf;q=0", None),
        ("text/html;q=oops, application/pdf", PDF),
    ],
)
def test_a_bill_document_is_served_as_the_client_prefers(accept: str, chosen: str | None) -> None:
    assert preferred(accept, (PDF, HTML)) == chosen


def test_a_credit_note_document_shows_its_lines_as_money_owed_back() -> None:
    euros = {"unit": "EUR"}
    credit = {
        "type": "appliedBillingCredit",
        "description": "Adjustment of Fibre 100 monthly fee, 3 of 30 days of November 2026",
        "periodCoverage": {"startDateTime": "2026-11-20T00:00:00.000Z", "endDateTime": "2026-11-23T00:00:00.000Z"},
        "taxExcludedAmount": {**euros, "value": 2.99},
        "appliedTax": [{"taxCategory": "VAT", "taxRate": 0.2, "taxAmount": {**euros, "value": 0.6}}],
        "taxIncludedAmount": {**euros, "value": 3.59},
    }
    bill = {
        "billNo": "INV-000007",
        "billDate": "2026-12-01T08:00:00.000Z",
        "paymentDueDate": "2026-12-31T08:00:00.000Z",
        "category": "creditNote",
        "billingPeriod": {"startDateTime": "2026-11-01T00:00:00.000Z", "endDateTime": "2026-12-01T00:00:00.000Z"},
        "billingAccount": {"id": "ba-9", "name": "Home"},
        "relatedParty": [{"id": "c-1", "name": "Łucja", "role": "customer"}],
        "taxItem": [{"taxCategory": "VAT", "taxRate": 0.2, "taxAmount": {**euros, "value": -0.6}}],
        "taxExcludedAmount": {**euros, "value": -2.99},
        "taxIncludedAmount": {**euros, "value": -3.59},
        "amountDue": {**euros, "value": -3.59},
    }
    sheet = content(bill, [credit])
    assert sheet["lines"] == [
        (credit["description"], "2026-11-20 to 2026-11-22", "-2.99 EUR", "20%", "-0.60 EUR", "-3.59 EUR")
    ]
    pdf = render_pdf(sheet)
    text = " ".join(pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    for shown in (
        "Credit note INV-000007",
        "Billing period 2026-11-01 to 2026-11-30",
        "Payment due 2026-12-31",
        "Billing account Home (ba-9)",
        "Customer ?ucja (c-1)",
        "VAT 20% -0.60 EUR",
        "Amount due -3.59 EUR",
    ):
        assert shown in text, f"{shown!r} is not in {text}"
    assert render_pdf(sheet) == pdf  # drawn from the bill alone: the same bill, the same bytes
    html = render_html(sheet)
    assert "<h1>Credit note INV-000007</h1>" in html and "Łucja (c-1)" in html and "-3.59 EUR" in html
