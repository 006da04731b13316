"""The one characteristic merge: replaced by name in place, new ones last, the inputs untouched."""

from __future__ import annotations

from handlers.characteristics import merged
from tmfgate.types import Document


def test_given_characteristics_replace_those_of_the_same_name_in_place() -> None:
    kept: list[Document] = [{"name": "speed", "value": "100"}, {"name": "colour", "value": "red"}]
    given: list[Document] = [{"name": "speed", "value": "500"}, {"name": "ipv6", "value": True}]
    assert merged(kept, given) == [
        {"name": "speed", "value": "500"},
        {"name": "colour", "value": "red"},
        {"name": "ipv6", "value": True},
    ]
    assert kept[0]["value"] == "100" and len(kept) == 2


def test_nothing_given_keeps_everything_and_nothing_kept_takes_what_is_given() -> None:
    kept = [{"name": "a", "value": 1}]
    assert merged(kept, []) == kept
    assert merged([], kept) == kept
    assert merged([{"name": "a", "value": 1}, {"name": "a", "value": 2}], []) == [{"name": "a", "value": 2}]
