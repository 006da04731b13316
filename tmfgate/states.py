"""State machines: which state changes are legal, refused with a 409 that says why (TMF630 Part 4)."""

from __future__ import annotations

from collections.abc import Mapping

from tmfgate.errors import Conflict


class StateMachine:
    """The legal transitions of one lifecycle; staying in the same state is always allowed."""

    def __init__(self, subject: str, transitions: Mapping[str, frozenset[str]]) -> None:
        self.subject = subject
        self.transitions = transitions

    @property
    def states(self) -> frozenset[str]:
        return frozenset(self.transitions)

    def is_final(self, state: str) -> bool:
        return not self.transitions.get(state)

    def allows(self, old: str | None, new: str | None) -> bool:
        return old == new or new in self.transitions.get(old or "", frozenset())

    def check(self, old: str | None, new: str | None, where: str = "") -> None:
        """Raise :class:`Conflict` unless ``old -> new`` is legal."""
        if self.allows(old, new):
            return
        subject = f"{self.subject} {where}".strip()
        allowed = sorted(self.transitions.get(old or "", frozenset()))
        hint = f"from {old} it can go to {', '.join(allowed)}" if allowed else f"{old} is a final state"
        raise Conflict(f"The {subject} cannot change from {old} to {new}: {hint}.", reason="Illegal state change")
