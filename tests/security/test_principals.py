"""Scopes: ``tmfNNN:read|write`` from the spec's stem, ``tmfgate:admin`` for the operator API."""

from __future__ import annotations

from tmfgate.runtime import load_apis
from tmfgate.security.principals import ADMIN, ALL, Principal, required_scope


def test_each_operation_needs_read_or_write_of_its_api_by_number() -> None:
    scopes = {
        (api.name, op.operation_id): required_scope(api, op) for api in load_apis() for op in api.operations.values()
    }
    assert scopes[("tmf622_product_ordering", "listProductOrder")] == "tmf622:read"
    assert scopes[("tmf622_product_ordering", "retrieveProductOrder")] == "tmf622:read"
    assert scopes[("tmf622_product_ordering", "createProductOrder")] == "tmf622:write"
    assert scopes[("tmf622_product_ordering", "patchProductOrder")] == "tmf622:write"
    assert scopes[("tmf629_customer", "registerListener")] == "tmf629:write"
    assert scopes[("tmf629_customer", "unregisterListener")] == "tmf629:write"
    assert {scope for (api, _), scope in scopes.items() if api == "tmfgate_admin"} == {ADMIN}
    tmf = {(api, scope) for (api, _), scope in scopes.items() if api.startswith("tmf6")}
    assert all(scope.startswith(api.split("_")[0] + ":") for api, scope in tmf)
    # An API of tmfgate's own serving a TMF API's resources names its prefix (x-scope-prefix).
    assert {scope for (api, _), scope in scopes.items() if api == "tmfgate_billing"} == {"tmf678:read"}


def test_a_principal_has_the_scopes_granted_and_all_only_with_its_scope() -> None:
    partner = Principal("acme", frozenset({"tmf622:read"}))
    assert partner.allows("tmf622:read") and not partner.allows("tmf622:write") and not partner.sees_all
    assert Principal("ops", frozenset({ALL})).sees_all
