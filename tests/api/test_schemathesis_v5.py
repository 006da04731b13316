"""The v5 text of every API (tmfgate.versions) against schemathesis, served over the same store as v4."""

from __future__ import annotations

import pytest

from tests.api.schemathesis_support import OTHER_EXAMPLES, check, fulfilling
from tests.conftest import RunningGateway
from tmfgate import specs

V5 = sorted((spec.name, spec.base_path) for spec in specs.load_all(specs.specs_dir() / "v5"))

__all__ = ["fulfilling"]


@pytest.mark.parametrize(("name", "base"), V5, ids=[f"v5-{name}" for name, _ in V5])
def test_v5_api_conforms(name: str, base: str, fulfilling: RunningGateway) -> None:
    check(fulfilling.url, base, OTHER_EXAMPLES)
