"""The trouble-to-resolve rules in process: the lifecycle's moves, the settings' parsing, the outage credit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from handlers.billing.rules import Period
from handlers.tickets import credits, lifecycle
from handlers.tickets.settings import INCIDENT_SEVERITIES, severities
from tmfgate.errors import BadRequest, ConfigurationError, Conflict


def test_every_status_of_the_spec_is_in_the_lifecycle_and_only_closed_cancelled_rejected_are_final() -> None:
    machine = lifecycle.LIFECYCLE
    assert machine.states == lifecycle.OPEN | lifecycle.ENDED | {"resolved"}
    assert {state for state in machine.states if machine.is_final(state)} == lifecycle.ENDED
    assert machine.allows("resolved", "inProgress") and not machine.allows("acknowledged", "resolved")


def test_a_move_keeps_its_history_and_reopening_drops_the_resolution_date() -> None:
    old = {"id": "t", "status": "inProgress", "statusChange": [{"status": "inProgress", "changeDate": "a"}]}
    resolved = {**old, "status": "resolved", "statusChangeReason": "fixed"}
    lifecycle.moved(old, resolved, "b")
    assert resolved["statusChange"][-1] == {"status": "resolved", "changeDate": "b", "changeReason": "fixed"}
    assert resolved["resolutionDate"] == resolved["statusChangeDate"] == resolved["lastUpdate"] == "b"
    reopened = {**resolved, "status": "inProgress"}
    lifecycle.moved(resolved, reopened, "c")
    assert "resolutionDate" not in reopened and reopened["statusChange"][-1] == {
        "status": "inProgress",
        "changeDate": "c",
    }
    with pytest.raises(Conflict):
        lifecycle.moved(reopened, {**reopened, "status": "acknowledged"}, "d")
    with pytest.raises(BadRequest):
        lifecycle.moved(reopened, {k: v for k, v in reopened.items() if k != "status"}, "d")


def test_severities_are_read_in_x733_order_and_unknown_ones_refused() -> None:
    assert severities(" Major, critical ") == "critical,major"
    assert INCIDENT_SEVERITIES.default == severities(INCIDENT_SEVERITIES.default)
    with pytest.raises(ConfigurationError, match="severe"):
        INCIDENT_SEVERITIES.from_text("critical,severe", "--incident-severities")


def test_the_outage_credit_is_each_recurring_price_pro_rata_of_the_minutes_rounded_to_the_cent() -> None:
    def price(kind: str, value: str, period: str | None = None) -> dict[str, object]:
        entry = {"priceType": kind, "price": {"dutyFreeAmount": {"unit": "EUR", "value": float(value)}}}
        return {**entry, "recurringChargePeriod": period} if period else entry

    product = {
        "productPrice": [
            price("recurring", "29.99", "month"),
            price("recurring", "120", "year"),
            price("oneTime", "49"),  # an installation fee is not credited
            {"priceType": "usage"},  # nor a price billing does not charge
        ]
    }
    april = Period.parse("2027-04")  # 30 days: 43,200 minutes
    expected = Decimal("0.42") + Decimal("0.14")  # 29.99 × 600 / 43200 = 0.4165; 120 × 600 / 518400 = 0.1389
    assert credits.credit(product, "EUR", 600, april) == expected
    assert credits.credit(product, "EUR", 0, april) == 0
