"""Catalog entries' lifecycle: legal moves, an operator's own statuses, and the next version."""

from __future__ import annotations

import pytest

from handlers.catalog import lifecycle
from tmfgate.errors import BadRequest, Conflict


def test_the_lifecycle_goes_step_by_step_and_ignores_case() -> None:
    lifecycle.check_move({"lifecycleStatus": "Active"}, {"lifecycleStatus": "retired"}, "productOffering")
    lifecycle.check_move({}, {"lifecycleStatus": "inTest"}, "productOffering")  # none given: inDesign
    with pytest.raises(Conflict, match="cannot change from inDesign to launched: from inDesign it can go to"):
        lifecycle.check_move({"id": "po-1"}, {"lifecycleStatus": "launched"}, "productOffering")
    with pytest.raises(Conflict, match="obsolete is a final state"):
        lifecycle.check_move({"lifecycleStatus": "obsolete"}, {"lifecycleStatus": "retired"}, "category")


def test_an_operators_own_status_comes_before_design_and_never_goes_on_sale() -> None:
    lifecycle.check_move({"lifecycleStatus": "draft"}, {"lifecycleStatus": "review"}, "catalog")
    lifecycle.check_move({"lifecycleStatus": "draft"}, {"lifecycleStatus": "inDesign"}, "catalog")
    with pytest.raises(Conflict, match="entered at inDesign, inStudy, rejected"):
        lifecycle.check_move({"lifecycleStatus": "draft"}, {"lifecycleStatus": "Launched"}, "catalog")
    with pytest.raises(Conflict):
        lifecycle.check_move({"lifecycleStatus": "inTest"}, {"lifecycleStatus": "draft"}, "catalog")
    with pytest.raises(BadRequest):
        lifecycle.status({"lifecycleStatus": 3})
    assert not lifecycle.on_sale({"lifecycleStatus": "draft"}) and lifecycle.on_sale({"lifecycleStatus": "LAUNCHED"})


def test_a_change_beyond_the_status_of_an_entry_on_sale_makes_its_next_version() -> None:
    old = {"id": "po-1", "name": "Fibre", "lifecycleStatus": "launched", "version": "1.0"}
    assert not lifecycle.revised(old, {**old, "lifecycleStatus": "retired", "lastUpdate": "2030-01-01T00:00:00Z"})
    assert lifecycle.revised(old, {**old, "name": "Fibre 2G"})
    assert [lifecycle.next_version(v) for v in ("1.0", "2", "3.1", None, "beta")] == [
        "2.0",
        "3.0",
        "4.1",
        "2.0",
        "beta.2",
    ]
