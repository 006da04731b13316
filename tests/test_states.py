"""State machines: legal changes pass, illegal ones are a 409 naming the legal ones."""

from __future__ import annotations

import pytest

from tmfgate.errors import Conflict
from tmfgate.states import StateMachine

ORDER = StateMachine(
    "product order",
    {
        "acknowledged": frozenset({"inProgress", "rejected"}),
        "inProgress": frozenset({"completed", "failed"}),
        "completed": frozenset(),
        "failed": frozenset(),
        "rejected": frozenset(),
    },
)


def test_legal_changes_and_staying_put_are_allowed() -> None:
    assert ORDER.allows("acknowledged", "inProgress") and ORDER.allows("completed", "completed")
    assert not ORDER.allows("acknowledged", "completed") and not ORDER.allows(None, "completed")
    ORDER.check("inProgress", "failed")


def test_states_and_final_states() -> None:
    assert ORDER.states == {"acknowledged", "inProgress", "completed", "failed", "rejected"}
    assert ORDER.is_final("completed") and not ORDER.is_final("inProgress") and ORDER.is_final("unknown")


def test_an_illegal_change_is_a_409_that_names_the_legal_ones() -> None:
    with pytest.raises(Conflict) as raised:
        ORDER.check("acknowledged", "completed", where="item 2")
    error = raised.value
    assert error.status == 409 and error.reason == "Illegal state change"
    assert error.message == (
        "The product order item 2 cannot change from acknowledged to completed: "
        "from acknowledged it can go to inProgress, rejected."
    )


def test_leaving_a_final_state_says_it_is_final() -> None:
    with pytest.raises(Conflict, match="completed is a final state"):
        ORDER.check("completed", "inProgress")
