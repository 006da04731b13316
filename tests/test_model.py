"""What the gateway learns from a spec: operations by verb, resources, owned and typed attributes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from backends.base import ValueType
from tmfgate import model, specs
from tmfgate.errors import ConfigurationError

API = model.build(specs.load(specs.specs_dir() / "tmf622_product_ordering.yaml"))


def test_each_operation_gets_the_verb_of_its_method_and_path() -> None:
    verbs = {op_id: op.verb for op_id, op in API.operations.items()}
    assert verbs["listProductOrder"] == "list" and verbs["retrieveProductOrder"] == "retrieve"
    assert verbs["createProductOrder"] == "create" and verbs["patchProductOrder"] == "patch"
    assert verbs["deleteProductOrder"] == "delete" and verbs["registerListener"] == "register"
    create = API.operations["createProductOrder"]
    assert create.body_required and "application/json" in create.bodies and create.resource.kind == "productOrder"
    assert API.name == "tmf622_product_ordering" and API.base_path == "/tmf-api/productOrderingManagement/v4"


def test_a_resource_knows_what_the_server_owns_and_the_type_of_its_attributes() -> None:
    order = API.resources["productOrder"]
    assert order.type_name == "ProductOrder"
    assert {"id", "href", "state", "orderDate"} <= order.server_owned
    assert order.attribute_kind(("orderDate",)) is ValueType.DATETIME
    assert order.attribute_kind(("id",)) is ValueType.STRING
    assert order.attribute_known(("productOrderItem", "quantity")) is True
    assert order.attribute_known(("nonsense",)) is False
    assert order.validator is not None  # patchable: a patched order is checked whole


def _spec(tmp_path: Path, paths: dict[str, object]) -> specs.ApiSpec:
    document = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "servers": [{"url": "/t"}], "paths": paths}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(document))
    return specs.load(path)


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ({"/a/{id}/b": {"get": {"operationId": "x"}}}, "is not /resource or /resource/{id}"),
        ({"/a": {"get": {}}}, "GET /a has no operationId"),
        ({"/a": {"put": {"operationId": "x"}}}, "PUT /a has no generic meaning"),
    ],
)
def test_a_spec_the_gateway_cannot_serve_is_refused_at_start_up(
    tmp_path: Path, paths: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("{", r"\{").replace("}", r"\}")):
        model.build(_spec(tmp_path, paths))


def test_every_partner_reads_the_kinds_no_api_writes_and_those_of_a_shared_api() -> None:
    catalog = model.build(specs.load(specs.specs_dir() / "tmf620_product_catalog.yaml"))
    services = model.build(specs.load(specs.specs_dir() / "tmf633_service_catalog.yaml"))
    assert catalog.spec.document["info"][model.SHARED] is True  # written by the back office, read by all
    shared = model.read_only_kinds([API, catalog, services])
    assert {"productOffering", "category", "serviceSpecification"} <= shared
    assert "productOrder" not in shared
