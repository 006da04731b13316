"""Every v4 API other than TMF622 against schemathesis, on the in-memory store with fulfilment on."""

from __future__ import annotations

import pytest

from tests.api.schemathesis_support import ORDERING, OTHER_EXAMPLES, check, fulfilling
from tests.conftest import RunningGateway
from tmfgate import specs

OTHERS = sorted((spec.name, spec.base_path) for spec in specs.load_all() if spec.base_path != ORDERING)

__all__ = ["fulfilling"]


@pytest.mark.parametrize(("name", "base"), OTHERS, ids=[name for name, _ in OTHERS])
def test_api_conforms(name: str, base: str, fulfilling: RunningGateway) -> None:
    check(fulfilling.url, base, OTHER_EXAMPLES)
