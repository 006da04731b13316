"""Billing: installed products rated into applied customer billing rates (TMF678), by these rules.

- **Charges come from facts.** A completed product order item installed, modified or terminated a
  product (:mod:`handlers.fulfilment.products`); the prices it carries, copied from the catalog when it was
  installed (or given when it was imported), are what is charged, to its billing account.
  Cancelled orders and failed items install nothing, so they are never charged; a partial order
  charges its completed items.
- **One-time prices** become one rate when the product is installed; its ``periodCoverage`` starts
  and ends at the product's ``startDate``.
- **Recurring prices** are monthly, yearly or weekly (:mod:`handlers.billing.prices` checks every price
  billing reads), and the billing period is the calendar month in UTC. A month's charge is ``price ×
  active days / days in the month`` (a yearly price: a twelfth of that; a weekly price: ``price ×
  active days / 7``), where the active days run
  from the day of the product's ``startDate`` (counted) to the day of its ``terminationDate`` (not
  counted) or to the end of the month: installed on the 20th of a 30-day month, 11 days; installed
  and terminated the same day, none. Rating a month again after a change gives the same id, uuid5(product, price,
  month), so it is idempotent. The month's rate is made when the product is installed (its first
  month) and by every bill run of that month or a later one (each product active in the month billed
  is rated for every month from its first rated one to the month billed, so that no month is skipped
  when months are billed out of order); when a product is
  terminated, the months already rated are rated again: an unbilled rate takes the new amount (or
  goes, when nothing is due); a billed one stays, and an adjustment rate carries the difference
  (``appliedBillingCredit`` for money owed back) to the next bill.
- **Rounding**: every amount is computed in Decimal and rounded half-up to the cent once: a rate's
  charge, then its tax at the ``tax_rate`` setting. A bill adds up its rates, so its lines always
  sum to its totals; its ``taxItem`` gives the tax per tax rate.
- **Money is exact.** Amounts are in the catalog's currency and stored as JSON numbers written from
  the rounded Decimal; with 15 significant digits at most, the shortest text of that double is the
  decimal itself, and :func:`handlers.billing.prices.amount` reads it back as the same Decimal.

Rating applies these rules (:mod:`handlers.billing.rating`); bill runs gather the unbilled rates into
customer bills (:mod:`handlers.billing.bill_runs`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import TYPE_CHECKING

from handlers.billing import prices
from handlers.billing.prices import amount
from handlers.catalog import loading as catalogs
from handlers.usage import tariffs
from tmfgate import times
from tmfgate.errors import ConfigurationError
from tmfgate.settings import Setting, whole
from tmfgate.types import Document

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

RATE = "appliedCustomerBillingRate"
BILL = "customerBill"
TAX_CATEGORY = "VAT"
CENT = Decimal("0.01")
_PERIOD = re.compile(r"(\d{4})-(\d{2})")


def fraction(raw: str) -> str:
    """A decimal fraction from 0 to less than 1, kept as text so that it stays exact."""
    try:
        rate = Decimal(raw.strip())
    except InvalidOperation:
        rate = Decimal("NaN")
    if not rate.is_finite() or not 0 <= rate < 1:
        raise ValueError(f"must be a decimal fraction from 0 to less than 1, such as 0.20 for 20%, not {raw!r}")
    return raw.strip()


TAX_RATE = Setting(
    "tax_rate",
    "0.20",
    "the tax (VAT) rate of every charge billed, a decimal fraction: `0.20` for 20%, `0` for none "
    "(see [Billing](#billing))",
    fraction,
    metavar="RATE",
)
PAYMENT_TERMS = Setting(
    "payment_terms",
    30,
    "days from a bill's date to its `paymentDueDate`; `0` for due on receipt",
    whole(0),
    metavar="DAYS",
)


@dataclass(frozen=True, order=True)
class Period:
    """A billing period: one calendar month, in UTC."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2026-11``; ValueError with a whole sentence otherwise."""
        match = _PERIOD.fullmatch(text.strip())
        if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
            raise ValueError(f"{text!r} is not a billing period; write a month as YYYY-MM, e.g. 2026-11.")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, moment: dt.datetime) -> Period:
        moment = moment.astimezone(dt.UTC)
        return cls(moment.year, moment.month)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime(self.year, self.month, 1, tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        """The first instant after the period (the start of the next month)."""
        return self.next().start

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @classmethod
    def span(cls, periods: Iterable[Period]) -> list[Period]:
        """Every month from the first of ``periods`` to the last, in order; none when there are none."""
        given = sorted(periods)
        months = given[:1]
        while given and months[-1] < given[-1]:
            months.append(months[-1].next())
        return months

    def next(self) -> Period:
        return Period(self.year + 1, 1) if self.month == 12 else Period(self.year, self.month + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{calendar.month_name[self.month]} {self.year}"


def active_days(period: Period, start: dt.datetime, termination: dt.datetime | None) -> int:
    """Days of ``period`` a product is charged for: its start day counts, its termination day not."""
    first = max(start.astimezone(dt.UTC).date(), period.start.date())
    last = period.end.date() if termination is None else min(termination.astimezone(dt.UTC).date(), period.end.date())
    return max(0, (last - first).days)


def coverage(period: Period, start: dt.datetime, termination: dt.datetime | None) -> Document:
    """The days charged, as a TimePeriod from the first day's midnight to the midnight after the last."""
    first = max(start.astimezone(dt.UTC).date(), period.start.date())
    days = active_days(period, start, termination)
    begin = dt.datetime.combine(first, dt.time(), dt.UTC)
    return {"startDateTime": times.stamp(begin), "endDateTime": times.stamp(begin + dt.timedelta(days=days))}


def prorate(price: Decimal, days: int, period_days: int) -> Decimal:
    """``price × days / period_days``, rounded half-up to the cent."""
    with localcontext() as context:
        context.prec = 60  # exact enough that only the final rounding ever rounds
        return (price * days / period_days).quantize(CENT, rounding=ROUND_HALF_UP)


def tax(amount: Decimal, rate: Decimal) -> Decimal:
    """The tax on an amount, rounded half-up to the cent."""
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal, unit: str) -> Document:
    """A TMF Money of an amount rounded to the cent (see the module docstring on exactness)."""
    cents = value.quantize(CENT, rounding=ROUND_HALF_UP)
    if len(cents.as_tuple().digits) > 15:
        raise ValueError(f"{cents} {unit} is too large an amount to store exactly.")
    return {"unit": unit, "value": float(cents)}


def signed(rate: Document, attribute: str = "taxExcludedAmount") -> Decimal:
    """A rate's amount as it counts on a bill: a credit counts negative."""
    value = amount((rate.get(attribute) or {}).get("value", 0))
    return -value if rate.get("type") == "appliedBillingCredit" else value


def tax_rate(gateway: Gateway) -> Decimal:
    return Decimal(gateway.settings.get(TAX_RATE))


def check(gateway: Gateway) -> None:
    """Billing settings and catalog prices billing can use; ConfigurationError at start-up if not."""
    settings = gateway.settings
    TAX_RATE.from_text(str(settings.get(TAX_RATE)), "The tax rate")
    if settings.get(PAYMENT_TERMS) < 0:
        raise ConfigurationError("The payment terms must be 0 or more days.")
    catalog = catalogs.of(gateway)
    for price in catalog.entries["productOfferingPrice"].values():
        try:
            if tariffs.is_usage(price):
                tariffs.usage_price(price, catalog.currency)
            else:
                prices.catalog_charge(price, catalog.currency)
        except prices.PriceError as why:
            raise ConfigurationError(f"{catalog.source}: productOfferingPrice {price['id']}: {why}") from None
