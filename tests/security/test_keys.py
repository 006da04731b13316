"""Idempotency keys: one record per partner, operation and key; a body's fingerprint ignores key order."""

from __future__ import annotations

from tmfgate.security.keys import Pending


def test_a_key_is_each_partners_and_each_operations_own() -> None:
    first = Pending.of("acme", "tmf622_product_ordering", "createProductOrder", b"k1", {"a": 1})
    assert Pending.of("acme", "tmf622_product_ordering", "createProductOrder", b"k1", {"a": 1}) == first
    others = [
        Pending.of("other", "tmf622_product_ordering", "createProductOrder", b"k1", {"a": 1}),
        Pending.of(None, "tmf622_product_ordering", "createProductOrder", b"k1", {"a": 1}),
        Pending.of("acme", "tmf622_product_ordering", "createCancelProductOrder", b"k1", {"a": 1}),
        Pending.of("acme", "tmf622_product_ordering", "createProductOrder", b"k2", {"a": 1}),
    ]
    assert all(other.record_id != first.record_id for other in others)
    assert not first.recorded and first.body == b""


def test_the_fingerprint_is_of_the_body_whatever_its_key_order() -> None:
    one = Pending.of("acme", "api", "op", b"k", {"a": 1, "b": [1, 2]})
    assert Pending.of("acme", "api", "op", b"k", {"b": [1, 2], "a": 1}).fingerprint == one.fingerprint
    assert Pending.of("acme", "api", "op", b"k", {"a": 1, "b": [2, 1]}).fingerprint != one.fingerprint
