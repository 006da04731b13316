"""The fulfilment settings: whether the gateway fulfils orders, and how slow its network seems."""

from __future__ import annotations

from tmfgate.settings import Setting, amount, switch

FULFILMENT = Setting(
    "fulfilment",
    True,
    "decompose product orders into service orders and activate them; `off` leaves orders where clients put them",
    switch,
    choices=("on", "off"),
)
ACTIVATION_DELAY = Setting(
    "activation_delay",
    0.0,
    "seconds each activation step takes, to mimic a network that answers slowly",
    amount("seconds", zero=True),
    metavar="SECONDS",
)
