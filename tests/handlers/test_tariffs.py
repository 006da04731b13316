"""Usage prices read from the catalog and what a month's quantity costs under them (handlers.usage.tariffs)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from handlers.billing.prices import PriceError
from handlers.usage.tariffs import usage_price

CALLS = {
    "id": "calls",
    "name": "Calls",
    "priceType": "usage",
    "unitOfMeasure": {"amount": 1, "units": "minute"},
    "price": {"unit": "EUR", "value": 0.02},
    "usageTier": [{"upTo": 60, "price": {"unit": "EUR", "value": 0}}, {"upTo": 500, "price": {"value": 0.05}}],
}


@pytest.mark.parametrize(
    ("minutes", "cost"),
    [("0", "0"), ("60", "0"), ("61", "0.05"), ("500", "22.00"), ("501", "22.02"), ("560.5", "23.21")],
)
def test_tiers_are_graduated_and_a_free_tier_is_an_allowance(minutes: str, cost: str) -> None:
    assert usage_price(CALLS, "EUR").cost(Decimal(minutes)) == Decimal(cost)


def test_a_price_per_block_of_units_divides_by_the_block() -> None:
    data = {"id": "d", "priceType": "usage", "unitOfMeasure": {"amount": 1024, "units": "MB"}, "price": {"value": 2}}
    assert usage_price(data, "EUR").cost(Decimal(512)) == Decimal(1)


@pytest.mark.parametrize(
    ("before", "after", "tag"),
    [("0", "60", "included usage"), ("50", "70", "non included usage"), ("600", "601", "non included usage")],
)
def test_rating_tags_say_whether_usage_was_within_the_allowance(before: str, after: str, tag: str) -> None:
    assert usage_price(CALLS, "EUR").tag(Decimal(before), Decimal(after)) == tag
    flat = {**CALLS, "usageTier": []}
    assert usage_price(flat, "EUR").tag(Decimal(before), Decimal(after)) == "usage"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"unitOfMeasure": None}, "needs unitOfMeasure.units"),
        ({"unitOfMeasure": {"amount": 0, "units": "minute"}}, "unitOfMeasure.amount must be a number more than 0"),
        ({"price": {"unit": "USD", "value": 1}}, "price is in USD"),
        ({"price": {"value": -1}}, "must be 0 or more"),
        ({"price": {}}, "price needs a value"),
        ({"usageTier": [{"upTo": 60, "price": {"value": 0}}, {"upTo": 30, "price": {"value": 1}}]}, "more than the"),
        ({"usageTier": ["sixty"]}, "usageTier[0] must be an object"),
    ],
)
def test_a_usage_price_rating_cannot_use_is_refused_with_the_reason(change: dict[str, Any], says: str) -> None:
    with pytest.raises(PriceError, match=None) as refused:
        usage_price({**CALLS, **change}, "EUR")
    assert says in str(refused.value)
