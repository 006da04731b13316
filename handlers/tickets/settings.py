"""The trouble-to-resolve rules, declared as settings (options, variables, or ``settings:`` in the
configuration file): whether alarms open incidents, which severities do, the SLA, the quiet time, and
the outage credit."""

from __future__ import annotations

from tmfgate.settings import Setting, amount, switch

SEVERITIES = ("critical", "major", "minor", "warning", "indeterminate")  # X.733, as TMF642 lists them


def severities(raw: str) -> str:
    """Severities, comma-separated, in X.733 order; unknown ones refused."""
    chosen = {part.strip().lower() for part in raw.split(",") if part.strip()}
    unknown = sorted(chosen - set(SEVERITIES))
    if unknown:
        raise ValueError(f"must name severities among {', '.join(SEVERITIES)}, not {', '.join(unknown)}")
    return ",".join(severity for severity in SEVERITIES if severity in chosen)


INCIDENT_TICKETS = Setting(
    "incident_tickets",
    True,
    "open an incident trouble ticket (TMF621) for each customer a service-affecting alarm impacts, and "
    "resolve it when the alarms clear (see [Trouble to resolve](#trouble-to-resolve)); `off` leaves tickets "
    "to clients",
    switch,
    choices=("on", "off"),
)
INCIDENT_SEVERITIES = Setting(
    "incident_severities",
    "critical,major",
    "the alarm `perceivedSeverity` values that open an incident, comma-separated",
    severities,
    metavar="SEVERITIES",
)
INCIDENT_SLA = Setting(
    "incident_sla",
    14400.0,
    "seconds from an incident's opening to its `expectedResolutionDate`; an incident still open then is "
    "escalated (priority raised, note added)",
    amount("seconds", zero=False),
    metavar="SECONDS",
)
INCIDENT_QUIET_TIME = Setting(
    "incident_quiet_time",
    86400.0,
    "seconds an incident stays resolved, with no alarm back, before the gateway closes it",
    amount("seconds", zero=True),
    metavar="SECONDS",
)
OUTAGE_CREDIT = Setting(
    "outage_credit",
    True,
    "credit a customer, on the next bill, for the outage time of a resolved incident beyond its SLA: the "
    "product's recurring charges pro rata of the minutes past `expectedResolutionDate` (see "
    "[Trouble to resolve](#trouble-to-resolve)); `off` credits nothing",
    switch,
    choices=("on", "off"),
)
SETTINGS = (INCIDENT_TICKETS, INCIDENT_SEVERITIES, INCIDENT_SLA, INCIDENT_QUIET_TIME, OUTAGE_CREDIT)
