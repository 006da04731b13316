"""The revenue assurance rules' own arithmetic and settings, without a store (the rules over a store and
``tmfgate assure`` are tested end to end in tests/api/test_assurance.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from handlers.assurance import checks, settings
from handlers.assurance.checks import _Customer, _identity, _spike
from handlers.assurance.findings import finding_id
from handlers.billing.rules import Period
from tmfgate.errors import ConfigurationError
from tmfgate.settings import Setting

NOVEMBER = Period.parse("2026-11")
CUSTOMER = {"id": "cust-1", "role": "customer", "@referredType": "Individual"}


def customer(**used: str) -> _Customer:
    """A customer's usage by ``UNIT_YYYY_MM`` (GB_2026_11="3"), with product p-1 used in November."""
    found = _Customer(CUSTOMER, products={"p-1"})
    for name, quantity in used.items():
        unit, year, month = name.split("_")
        found.used[(unit, Period.parse(f"{year}-{month}"))] = Decimal(quantity)
    return found


def test_a_spike_is_more_than_the_factor_times_the_trailing_average() -> None:
    # 3 GB over a 3-month window is 1 GB a month: 5 GB is not above 5 times that, 5.001 GB is.
    assert _spike(customer(GB_2026_08="3", GB_2026_11="5"), NOVEMBER, Decimal(5), 3) is None
    found = _spike(customer(GB_2026_08="3", GB_2026_11="5.001"), NOVEMBER, Decimal(5), 3)
    assert found is not None and found.rule == "usage-spike" and found.products == ("p-1",)
    assert found.subject == {"id": "cust-1", "@referredType": "Individual"} and found.customer == CUSTOMER
    assert "used 5.001 GB in 2026-11" in found.evidence and "average over the 3 months before is 1 GB" in found.evidence
    assert found.key == "cust-1/GB/2026-11"


def test_no_history_means_no_average_and_each_unit_is_compared_with_itself() -> None:
    assert _spike(customer(GB_2026_11="1000"), NOVEMBER, Decimal(5), 3) is None
    # Minutes were used before, gigabytes not: a month of gigabytes is no spike of minutes.
    assert (
        _spike(customer(minute_2026_10="60", GB_2026_11="1000", minute_2026_11="60"), NOVEMBER, Decimal(5), 3) is None
    )
    found = _spike(customer(minute_2026_10="60", minute_2026_11="200"), NOVEMBER, Decimal(2), 1)
    assert found is not None and found.key == "cust-1/minute/2026-11"


def test_records_alike_have_one_identity_whatever_the_order_of_their_characteristics() -> None:
    def record(id: str, *characteristics: tuple[str, object], date: str = "2026-11-03T10:00:00Z") -> dict[str, object]:
        return {
            "id": id,
            "usageDate": date,
            "ratedProductUsage": [{"productRef": {"id": "p-1"}}],
            "usageCharacteristic": [{"name": name, "value": value} for name, value in characteristics],
        }

    one = record("a", ("quantity", "1"), ("unit", "GB"))
    assert _identity(one) == _identity(record("b", ("unit", "GB"), ("quantity", "1")))
    assert _identity(one) != _identity(record("c", ("quantity", "2"), ("unit", "GB")))
    assert _identity(one) != _identity(record("d", ("quantity", "1"), ("unit", "GB"), date="2026-11-03T10:00:01Z"))
    [found] = checks._duplicates({_identity(one): [record("b"), one]})
    assert found.key == "a/b" and found.products == ("p-1",)
    assert finding_id(found) != finding_id(checks.Finding("bill-mismatch", "a/b", {}, "", ""))


@pytest.mark.parametrize(
    ("setting", "raw", "value"),
    [
        (settings.ASSURE_RULES, " Usage-Spike , bill-mismatch", "usage-spike,bill-mismatch"),
        (settings.ASSURE_RULES, "none", ""),
        (settings.ASSURE_SUSPEND, "duplicate-usage,usage-spike", "usage-spike,duplicate-usage"),
        (settings.ASSURE_SPIKE_FACTOR, "2.50", "2.5"),
        (settings.ASSURE_SPIKE_WINDOW, "12", 12),
    ],
)
def test_settings_read_their_text(setting: Setting[object], raw: str, value: object) -> None:
    assert setting.from_text(raw, setting.variable) == value


@pytest.mark.parametrize(
    ("setting", "raw", "says"),
    [
        (settings.ASSURE_RULES, "spikes", "must name rules among inactive-usage"),
        (settings.ASSURE_SUSPEND, "bill-mismatch", "must name rules among usage-spike"),
        (settings.ASSURE_SPIKE_FACTOR, "1", "must be a number above 1"),
        (settings.ASSURE_SPIKE_FACTOR, "NaN", "must be a number above 1"),
        (settings.ASSURE_SPIKE_FACTOR, "lots", "must be a number such as 5"),
        (settings.ASSURE_SEVERITY, "cleared", "must be one of critical"),
    ],
)
def test_settings_refuse_what_they_cannot_use(setting: Setting[object], raw: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        setting.from_text(raw, setting.option)
