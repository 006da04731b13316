"""Why fulfilment cannot go on: the messages become notes on the orders, never HTTP errors.

Each failure carries a stable, machine-readable ``code`` besides its message; the orders' failure
notes (:func:`handlers.notes.failure`) carry both, with the id of the item that failed.
"""

from __future__ import annotations


class FulfilmentFailure(Exception):
    """A failure of one order item; the message says why, ``code`` names the kind."""

    default_code = "FULFILMENT_FAILED"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code or self.default_code


class Undecomposable(FulfilmentFailure):
    """A product order item that cannot become services."""

    default_code = "ITEM_NOT_DECOMPOSABLE"


class ActivationFailed(FulfilmentFailure):
    """An activation step cannot be done."""

    default_code = "ACTIVATION_FAILED"
