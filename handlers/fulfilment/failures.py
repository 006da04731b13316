"""Why fulfilment cannot go on: the messages become notes on the orders, never HTTP errors."""

from __future__ import annotations


class Undecomposable(Exception):
    """A product order item that cannot become services; the message says why."""


class ActivationFailed(Exception):
    """An activation step cannot be done; the message says why, for the order's notes."""
