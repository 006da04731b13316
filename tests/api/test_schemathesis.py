"""TMF622 against schemathesis on every store (the stores are proven by TMF622; tests.api.schemathesis_support)."""

from __future__ import annotations

from typing import Any

from tests.api.schemathesis_support import ORDERING, check

EXAMPLES = 40


def test_tmf622_conforms(gateway: Any) -> None:
    check(gateway.url, ORDERING, EXAMPLES)
