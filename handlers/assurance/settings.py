"""The revenue assurance rules, declared as settings: which rules run, the spike rule's factor and
window, which rules suspend the product, and the severity of the alarms they raise."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from tmfgate.settings import Parse, Setting, one_of, whole

# The rules, in the order a report lists them (see handlers.assurance.checks).
RULES = ("inactive-usage", "usage-spike", "duplicate-usage", "unbilled-product", "bill-mismatch")
SUSPENDING = ("usage-spike", "duplicate-usage", "unbilled-product")  # the rules whose finding names products


def rule_list(allowed: tuple[str, ...]) -> Parse[str]:
    """A parser of rule names, comma-separated, among ``allowed``; ``none`` or nothing for none."""

    def parse(raw: str) -> str:
        chosen = {part.strip().lower() for part in raw.split(",") if part.strip()} - {"none"}
        unknown = sorted(chosen - set(allowed))
        if unknown:
            raise ValueError(f"must name rules among {', '.join(allowed)}, not {', '.join(unknown)}")
        return ",".join(rule for rule in allowed if rule in chosen)

    return parse


def factor(raw: str) -> str:
    """A decimal number above 1, kept as text so that it stays exact."""
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ValueError(f"must be a number such as 5 or 2.5, not {raw!r}") from None
    if not value.is_finite() or value <= 1:
        raise ValueError(f"must be a number above 1, not {raw!r}")
    return f"{value.normalize():f}"


ASSURE_RULES: Setting[str] = Setting(
    "assure_rules",
    ",".join(RULES),
    "the revenue assurance rules `tmfgate assure` runs, comma-separated, among "
    + ", ".join(f"`{rule}`" for rule in RULES)
    + " (see [Revenue assurance](#revenue-assurance)); `none` runs none",
    rule_list(RULES),
    metavar="RULES",
)
ASSURE_SPIKE_FACTOR: Setting[str] = Setting(
    "assure_spike_factor",
    "5",
    "the `usage-spike` rule finds a customer whose usage of one unit in the month is more than this many "
    "times its monthly average over the trailing window",
    factor,
    metavar="N",
)
ASSURE_SPIKE_WINDOW = Setting(
    "assure_spike_window",
    3,
    "the months before the checked one whose average usage the `usage-spike` rule compares with; a "
    "customer with no usage in them has no average and is not checked",
    whole(1, 24),
    metavar="MONTHS",
)
ASSURE_SUSPEND: Setting[str] = Setting(
    "assure_suspend",
    "",
    "the rules whose findings also suspend the products they name, through a TMF622 modify order "
    "(`product.status` suspended), comma-separated, among " + ", ".join(f"`{rule}`" for rule in SUSPENDING),
    rule_list(SUSPENDING),
    metavar="RULES",
    shown_default="none",
)
ASSURE_SEVERITY = Setting(
    "assure_severity",
    "major",
    "the `perceivedSeverity` of the TMF642 alarms revenue assurance raises",
    one_of("critical", "major", "minor", "warning"),
    choices=("critical", "major", "minor", "warning"),
)
SETTINGS = (ASSURE_RULES, ASSURE_SPIKE_FACTOR, ASSURE_SPIKE_WINDOW, ASSURE_SUSPEND, ASSURE_SEVERITY)
