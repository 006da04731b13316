"""Usage prices (TMF620 ``priceType: usage`` or ``usageCharge``) and what a quantity used in a month costs under them.

A usage price charges ``price.value`` per ``unitOfMeasure.amount`` of ``unitOfMeasure.units`` (1 GB, 60
seconds...). Its optional ``usageTier`` list (a tmfgate extension attribute, TMF630 §extensions) prices
the first units of each month in bands, each ``{"upTo": quantity, "price": Money}`` up to the quantity
given, counted from the start of the month; ``price`` charges what lies beyond the last band. A band
priced 0 is an allowance included in the plan. Tiers are graduated: each band charges its own units only.
Costs are exact Decimals; rounding to the cent is the caller's, once per month (see
:mod:`handlers.usage.rating`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from handlers.billing.prices import USAGE, PriceError, amount, checked_amount, price_type
from tmfgate.types import Document


@dataclass(frozen=True)
class Tier:
    """Units up to ``up_to`` in a month (from the previous tier's end) at ``rate`` per unit of measure."""

    up_to: Decimal
    rate: Decimal


@dataclass(frozen=True)
class UsagePrice:
    """A usage price as rating charges it."""

    id: str
    name: str
    units: str
    per: Decimal  # the quantity of units one rate is for (unitOfMeasure.amount)
    rate: Decimal  # beyond the last tier
    currency: str
    tiers: tuple[Tier, ...] = ()

    @property
    def has_allowance(self) -> bool:
        return any(tier.rate == 0 for tier in self.tiers)

    def cost(self, quantity: Decimal) -> Decimal:
        """What ``quantity`` units used from the start of a month cost in all, exactly."""
        with localcontext() as context:
            context.prec = 60  # exact for any quantity a month holds: only the caller rounds
            total, floor = Decimal(0), Decimal(0)
            for tier in self.tiers:
                if quantity <= floor:
                    return total
                total += (min(quantity, tier.up_to) - floor) * tier.rate / self.per
                floor = tier.up_to
            if quantity > floor:
                total += (quantity - floor) * self.rate / self.per
            return total

    def tag(self, before: Decimal, after: Decimal) -> str:
        """TMF635 ``usageRatingTag`` of the units from ``before`` to ``after`` in the month: ``usage``
        for a price without allowance, ``included usage`` when all of them fall in an allowance (a band
        priced 0), ``non included usage`` otherwise."""
        if not self.has_allowance:
            return "usage"
        floor = Decimal(0)
        for tier in self.tiers:
            if tier.rate != 0 and before < tier.up_to and after > floor:
                return "non included usage"
            floor = tier.up_to
        return "non included usage" if self.rate != 0 and after > floor else "included usage"


def is_usage(price: Document) -> bool:
    """Whether a catalog price is a usage price (``usage``, or TMF678's ``usageCharge``)."""
    return price_type(price.get("priceType")) == USAGE


def usage_price(price: Document, currency: str) -> UsagePrice:
    """The usage price of a catalog ProductOfferingPrice; PriceError saying what is wrong."""
    measure = price.get("unitOfMeasure")
    if not isinstance(measure, dict) or not str(measure.get("units") or "").strip():
        raise PriceError("a usage price needs unitOfMeasure.units, the unit its quantities are in (GB, minute...).")
    per = _positive(measure.get("amount", 1), "unitOfMeasure.amount")
    rate = _rate(price.get("price"), currency, "price")
    tiers, floor = [], Decimal(0)
    for n, raw in enumerate(price.get("usageTier") or []):
        if not isinstance(raw, dict):
            raise PriceError(f"usageTier[{n}] must be an object with upTo and price.")
        up_to = _positive(raw.get("upTo"), f"usageTier[{n}].upTo")
        if up_to <= floor:
            raise PriceError(f"usageTier[{n}].upTo must be more than the tier before it ({floor}); it is {up_to}.")
        tiers.append(Tier(up_to, _rate(raw.get("price"), currency, f"usageTier[{n}].price")))
        floor = up_to
    return UsagePrice(
        str(price["id"]), str(price.get("name", "")), str(measure["units"]).strip(), per, rate, currency, tuple(tiers)
    )


def _positive(raw: Any, what: str) -> Decimal:
    try:
        value = amount(raw)
    except ValueError:
        raise PriceError(f"{what} must be a number more than 0; it is {raw!r}.") from None
    if value <= 0:
        raise PriceError(f"{what} must be a number more than 0; it is {raw!r}.")
    return value


def _rate(money: Any, currency: str, what: str) -> Decimal:
    return checked_amount(money, currency, what, " per unit of measure")
