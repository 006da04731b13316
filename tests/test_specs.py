"""Checks that each spec in specs/ (v4) and specs/v5/ covers its official TM Forum file.

Names, paths, operationIds, tags, parameters, schemas, properties, types, formats, enums and required
lists must match the official file (for v5, the property sets of the resolved allOf chains); descriptions
are ours. An API that serves part of its official file (``served``: the catalogs leave out import and
export jobs) covers every operation of the resources it serves and every definition they reach; a
read-only one (``read_only``) covers only their GET operations. tests/test_spec_examples.py checks the v5 texts
against the official examples.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import OpenAPIV30SpecValidator, validate

from tests.shared import HOW, OFFICIAL_SPECS
from tmfgate.specs import load

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
OFFICIAL_DIR = OFFICIAL_SPECS
COMMON_PREFIX = "tmf_common.yaml#/components/schemas/"
LOCAL_PREFIX = "#/components/schemas/"
BODY_METHODS = {"post", "patch"}
PATCH_MEDIA = {
    4: {"application/json", "application/merge-patch+json", "application/json-patch+json"},
    5: {
        "application/json",
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/json-patch-query+json",
    },
}

Schema = dict[str, Any]


@dataclass(frozen=True)
class Api:
    """One of our specs and the official file it must cover."""

    spec: str
    official: str
    title: str
    servers: tuple[str, ...]
    version: int = 4
    # Read-only APIs: the resources served (first path segment) and only their GET operations.
    read_only: frozenset[str] | None = None
    # Partly served APIs: the resources served (first path segment) with all their operations.
    served: frozenset[str] | None = None
    # Fixes of defects of the official file: values our enums add; names our required lists drop (or add:
    # "+name");
    # types we give instead ("Schema.property" -> our type).
    enum_fixes: dict[str, set[str]] = field(default_factory=dict)
    required_fixes: dict[str, set[str]] = field(default_factory=dict)
    type_fixes: dict[str, str | None] = field(default_factory=dict)
    # v5: official request examples that are wrong themselves, so our validator refuses them.
    bad_examples: frozenset[str] = frozenset()
    # Schemas of the official file that are wrong as a whole, with the definition our text gives instead.
    replaced: dict[str, Schema] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"v{self.version}-{self.spec.removesuffix('.yaml')}"

    @property
    def info_version(self) -> str:
        return self.official.split("-v", 1)[1].split("-")[0].removesuffix(".swagger.json").removesuffix(".oas.yaml")


# Fixes of the official v5 files, the same in all of them, each on the schema that states the rule (its
# subclasses inherit the fix). TMF630: a subscription's @type is optional (Extensible requires it, yet no
# official example sends it). An intent given by value in a create need not carry its dates and lifecycle
# (the official create examples leave them out). A patch carries only what it changes, yet TMF629's
# Customer_MVO inherits name and engagedParty as required from PartyRole_MVO.
V5_REQUIRED_FIXES = {
    "Hub_FVO": {"@type"},
    "Intent_FVO": {"creationDate", "lastUpdate", "lifecycleStatus"},
    "PartyRole_MVO": {"engagedParty", "name"},
}
# The official examples send JSON-LD intent expressions (TMF921's JsonLdExpression) as objects.
V5_TYPE_FIXES: dict[str, str | None] = {f"Expression{s}.expressionValue": None for s in ("", "_FVO", "_MVO")}


ITEM_STATE: Schema = {
    "type": "string",
    "description": "The state of an order item.",
    "enum": [
        "acknowledged",
        "rejected",
        "pending",
        "held",
        "inProgress",
        "cancelled",
        "completed",
        "failed",
        "assessingCancellation",
        "pendingCancellation",
        "partial",
    ],
}


def v5(spec: str, official: str, title: str, *servers: str, **fixes: Any) -> Api:
    """A v5 entry: the common fixes plus the API's own."""
    required = {**V5_REQUIRED_FIXES, **fixes.pop("required_fixes", {})}
    return Api(f"v5/{spec}", official, title, servers, 5, required_fixes=required, type_fixes=V5_TYPE_FIXES, **fixes)


APIS = [
    # TMF622 lists "aborted " with a trailing space.
    Api(
        "tmf622_product_ordering.yaml",
        "TMF622-v4.0.0.swagger.json",
        "TMF622 Product Ordering Management",
        ("/tmf-api/productOrderingManagement/v4",),
        enum_fixes={"ProductStatusType": {"aborted"}},
    ),
    Api(
        "tmf641_service_ordering.yaml",
        "TMF641-v4.0.0.swagger.json",
        "TMF641 Service Ordering",
        ("/tmf-api/serviceOrdering/v4",),
    ),
    Api(
        "tmf638_service_inventory.yaml",
        "TMF638-v4.0.0.swagger.json",
        "TMF638 Service Inventory Management",
        ("/tmf-api/serviceInventory/v4",),
    ),
    Api(
        "tmf640_service_activation.yaml",
        "TMF640-v4.0.0.swagger.json",
        "TMF640 Service Activation and Configuration",
        ("/tmf-api/serviceActivationAndConfiguration/v4", "/tmf-api/ServiceActivationAndConfiguration/v4"),
    ),
    # TMF639 requires id and href in Resource_Create, which the server sets (no create could succeed).
    Api(
        "tmf639_resource_inventory.yaml",
        "TMF639-v4.0.0.swagger.json",
        "TMF639 Resource Inventory Management",
        ("/tmf-api/resourceInventoryManagement/v4",),
        required_fixes={"Resource_Create": {"href", "id"}},
    ),
    Api(
        "tmf620_product_catalog.yaml",
        "TMF620-v4.0.0.swagger.json",
        "TMF620 Product Catalog Management",
        ("/tmf-api/productCatalogManagement/v4",),
        served=frozenset(
            {"catalog", "category", "productOffering", "productOfferingPrice", "productSpecification", "hub"}
        ),
    ),
    Api(
        "tmf633_service_catalog.yaml",
        "TMF633-v4.0.0.swagger.json",
        "TMF633 Service Catalog Management",
        ("/tmf-api/serviceCatalogManagement/v4",),
        served=frozenset({"serviceCatalog", "serviceCategory", "serviceCandidate", "serviceSpecification", "hub"}),
    ),
    # TMF642 makes alarm ids integers, unlike every other TMF id (and TMF642 v5).
    Api(
        "tmf642_alarm.yaml",
        "TMF642-v4.0.0.swagger.json",
        "TMF642 Alarm Management",
        ("/tmf-api/alarmManagement/v4", "/tmf-api/alarm/v4"),
        type_fixes={"Alarm.id": "string", "AlarmRefOrValue.id": "string"},
    ),
    Api(
        "tmf629_customer.yaml",
        "TMF629-v4.0.0.swagger.json",
        "TMF629 Customer Management",
        ("/tmf-api/customerManagement/v4",),
    ),
    Api(
        "tmf678_bill.yaml",
        "TMF678-v4.0.0.swagger.json",
        "TMF678 Customer Bill Management",
        ("/tmf-api/customerBillManagement/v4",),
    ),
    Api(
        "tmf635_usage.yaml",
        "TMF635-v4.0.0.swagger.json",
        "TMF635 Usage Management",
        ("/tmf-api/usageManagement/v4",),
    ),
    # TMF676's own base path is /payment/v4; mounted under /tmf-api by its API name, as the others are.
    Api(
        "tmf676_payment.yaml",
        "TMF676-v4.0.0.swagger.json",
        "TMF676 Payment Management",
        ("/tmf-api/paymentManagement/v4",),
    ),
    # TMF666's _Update schemas require name and relatedParty; ours have no required list (TMF630). Its
    # RefOrValue schemas require isRef (default true) and name: a reference by id alone could not be given.
    Api(
        "tmf666_account_management.yaml",
        "TMF666-v4.0.0.swagger.json",
        "TMF666 Account Management",
        ("/tmf-api/accountManagement/v4",),
        required_fixes={
            f"{name}RefOrValue": {"isRef", "name"}
            for name in ("BillFormat", "BillPresentationMedia", "BillingCycleSpecification")
        },
    ),
    # TMF637 lists "aborted " with a trailing space, as TMF622 does.
    Api(
        "tmf637_product_inventory.yaml",
        "TMF637-v4.0.0.swagger.json",
        "TMF637 Product Inventory Management",
        ("/tmf-api/productInventory/v4",),
        enum_fixes={"ProductStatusType": {"aborted"}},
    ),
    Api(
        "tmf621_trouble_ticket.yaml",
        "TMF621-v4.0.0.swagger.json",
        "TMF621 Trouble Ticket",
        ("/tmf-api/troubleTicket/v4",),
    ),
    # TMF632 spells deceased "deceaded" (v5 spells it right).
    Api(
        "tmf632_party.yaml",
        "TMF632-v4.0.0.swagger.json",
        "TMF632 Party Management",
        ("/tmf-api/party/v4",),
        enum_fixes={"IndividualStateType": {"deceased"}},
    ),
    # v5. Base paths: the official file's API name under /tmf-api (some files give no path, or leave
    # out /tmf-api); where the v5 name differs from the v4 one, the v4 name is a second base path.
    # TMF622 and TMF637 v5 keep "aborted " with a trailing space.
    v5(
        "tmf622_product_ordering.yaml",
        "TMF622-v5.0.0.oas.yaml",
        "TMF622 Product Ordering Management",
        "/tmf-api/productOrderingManagement/v5",
        enum_fixes={"ProductStatusType": {"aborted"}},
    ),
    v5(
        "tmf637_product_inventory.yaml",
        "TMF637-v5.0.0.oas.yaml",
        "TMF637 Product Inventory Management",
        "/tmf-api/productInventory/v5",
        enum_fixes={"ProductStatusType": {"aborted"}},
    ),
    v5(
        "tmf638_service_inventory.yaml",
        "TMF638-v5.0.0.oas.yaml",
        "TMF638 Service Inventory Management",
        "/tmf-api/serviceInventory/v5",
    ),
    v5(
        "tmf639_resource_inventory.yaml",
        "TMF639-v5.0.0.oas.yaml",
        "TMF639 Resource Inventory Management",
        "/tmf-api/resourceInventory/v5",
        "/tmf-api/resourceInventoryManagement/v5",
    ),
    # TMF629 v5.0.1 leaves id out of EntityRef_FVO's required list (TMF632 v5 has it): a reference to
    # nothing was stored and then answered against EntityRef, which requires it (found by schemathesis).
    v5(
        "tmf629_customer.yaml",
        "TMF629-v5.0.1.oas.yaml",
        "TMF629 Customer Management",
        "/tmf-api/customer/v5",
        "/tmf-api/customerManagement/v5",
        required_fixes={"EntityRef_FVO": {"+id"}},
    ),
    # TMF620's offering example gives a price by reference under the @type of a price by value, and both
    # examples send the value of a NumberCharacteristicValueSpecification as a string ("8").
    v5(
        "tmf620_product_catalog.yaml",
        "TMF620-v5.0.0.oas.yaml",
        "TMF620 Product Catalog Management",
        "/tmf-api/productCatalogManagement/v5",
        bad_examples=frozenset({"Product_Offering_Create_example", "Product_Specification_Create_example"}),
    ),
    v5(
        "tmf632_party.yaml",
        "TMF632-v5.0.0.oas.yaml",
        "TMF632 Party Management",
        "/tmf-api/partyManagement/v5",
        "/tmf-api/party/v5",
    ),
    # The beta file's own base path is lower-case, as our v4 text chose.
    v5(
        "tmf640_service_activation.yaml",
        "TMF640-v5.0.0-beta.oas.yaml",
        "TMF640 Service Activation and Configuration",
        "/tmf-api/serviceActivationAndConfiguration/v5",
    ),
    # TMF641 (beta) requires a "ServiceOrder" that is no property in a cancellation, and a serviceDate
    # in a service given by value (its own create example has none); it types an item's state as an
    # Entity object, although it says it lists the possible values (an order's state is a string).
    v5(
        "tmf641_service_ordering.yaml",
        "TMF641-v5.0.0-beta.oas.yaml",
        "TMF641 Service Ordering",
        "/tmf-api/serviceOrdering/v5",
        required_fixes={"CancelServiceOrder_FVO": {"ServiceOrder"}, "Service_FVO": {"serviceDate"}},
        replaced={name: ITEM_STATE for name in ("ServiceOrderItemStateType", "ServiceOrderItemStateType_MVO")},
    ),
    # TMF642 v5.0.1 declares /alarmManagement/v4 as its base path.
    v5("tmf642_alarm.yaml", "TMF642-v5.0.1.oas.yaml", "TMF642 Alarm Management", "/tmf-api/alarmManagement/v5"),
    v5("tmf621_trouble_ticket.yaml", "TMF621-v5.0.1.oas.yaml", "TMF621 Trouble Ticket", "/tmf-api/troubleTicket/v5"),
    # TMF666's account create examples give each party by the @type of the union, PartyRefOrPartyRoleRef,
    # which its own discriminator does not map (PartyRef or PartyRoleRef); its JSON Patch (Query) examples
    # are one operation each, not the array of operations its schema says.
    v5(
        "tmf666_account_management.yaml",
        "TMF666-v5.0.0.oas.yaml",
        "TMF666 Account Management",
        "/tmf-api/accountManagement/v5",
        bad_examples=frozenset(
            {
                *(f"{kind}_Create_example" for kind in ("BillingAccount", "FinancialAccount", "SettlementAccount")),
                "PartyAccount_create_example",
                *(f"{kind}_update_example_JSON_Patch" for kind in ("BillFormat", "BillPresentationMedia")),
                *(f"{kind}_Update_example_JSON_Patch" for kind in ("BillingAccount", "SettlementAccount")),
                "BillingCycleSpecification_update_example_JSON_Patch",
                "BillingCycleSpecification_update_example_JSON_Patch_Query",
            }
        ),
    ),
    # TMF678's JSON-Patch-Query example is one operation, not the array of operations its schema says.
    v5(
        "tmf678_bill.yaml",
        "TMF678-v5.0.0.oas.yaml",
        "TMF678 Customer Bill Management",
        "/tmf-api/customerBillManagement/v5",
        bad_examples=frozenset({"Customer_Bill_Update_JSON_Patch_Query"}),
    ),
]

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=Loader)


def bundle(spec: Any, common: Schema) -> Any:
    """Return `spec` with the schemas of tmf_common.yaml copied in and the refs to them made local."""

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(COMMON_PREFIX):
                return {**node, "$ref": LOCAL_PREFIX + ref[len(COMMON_PREFIX) :]}
            return {key: rewrite(value) for key, value in node.items()}
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    bundled = rewrite(spec)
    schemas = bundled.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in common["components"]["schemas"].items():
        schemas.setdefault(name, schema)  # a spec's own definition wins over the common one
    return bundled


@pytest.fixture(scope="module", params=APIS, ids=str)
def api(request: pytest.FixtureRequest) -> Api:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def common(api: Api) -> Any:
    return load_yaml((SPECS / api.spec).parent / "tmf_common.yaml")


@pytest.fixture(scope="module")
def ours(api: Api, common: Schema) -> Any:
    if api.version == 4:
        return bundle(load_yaml(SPECS / api.spec), common)
    return load(SPECS / api.spec).document  # the gateway's own loader and bundler


@pytest.fixture(scope="module")
def text(api: Api, common: Schema, ours: Schema) -> Any:
    """Our whole text of the API: the bundled spec plus the common schemas no operation refers to."""
    if api.version == 4:
        return ours
    return bundle(ours, common)


@pytest.fixture(scope="module")
def official(api: Api) -> Any:
    path = OFFICIAL_DIR / api.official
    if not path.is_file():
        pytest.skip(f"official TM Forum specs not found at {OFFICIAL_DIR} ({HOW})")
    return load_yaml(path)


def definitions(spec: Schema) -> dict[str, Schema]:
    return spec["definitions"] if "definitions" in spec else spec["components"]["schemas"]  # type: ignore[no-any-return]


def served_paths(api: Api, official: Schema) -> dict[str, Schema]:
    """The official operations we serve, by path (v4: all but the client-hosted /listener callbacks)."""
    served: dict[str, Schema] = {}
    for path, operations in official["paths"].items():
        if path.startswith("/listener/") and api.version == 4:
            continue
        if api.read_only is not None:
            if path.strip("/").split("/")[0] not in api.read_only:
                continue
            operations = {m: o for m, o in operations.items() if m == "get"}
        elif api.served is not None and path.strip("/").split("/")[0] not in api.served:
            continue
        served[path] = {m: o for m, o in operations.items() if m != "parameters"}
    return served


def served_definitions(api: Api, official: Schema) -> dict[str, Schema]:
    """Every official definition, or for a read-only API those its served operations reach."""
    every = definitions(official)
    if api.read_only is None and api.served is None:
        return every
    reached: set[str] = set()
    pending = [served_paths(api, official)]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/definitions/"):
                name = ref.rsplit("/", 1)[-1]
                if name not in reached:
                    reached.add(name)
                    pending.append(every[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return {name: every[name] for name in sorted(reached)}


def ref_name(schema: Schema) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def resolve(spec: Any, node: Schema) -> Schema:
    """Follow a local `#/...` ref (schemas, parameters, responses, examples) to its target."""
    while "$ref" in node:
        target = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def flatten(
    spec: Any, schema: Schema, fixes: dict[str, set[str]] | None = None, owner: str | None = None
) -> tuple[dict[str, Schema], set[str]]:
    """The properties and required names of a schema with its allOf chain resolved.

    `fixes` drops names from the required list of a schema (by name) and so of its subclasses; a name
    written ``+name`` is added instead.
    """
    owner = ref_name(schema) or owner
    schema = resolve(spec, schema)
    properties: dict[str, Schema] = {}
    required: set[str] = set()
    for part in schema.get("allOf", []):
        more, needed = flatten(spec, part, fixes, owner)
        properties.update(more)
        required |= needed
    properties.update(schema.get("properties", {}))
    fixed = (fixes or {}).get(owner or "", set())
    added = {name[1:] for name in fixed if name.startswith("+")}
    return properties, (required | set(schema.get("required", [])) | added) - fixed


def branches(schema: Schema) -> set[str | None]:
    """The schemas a discriminated oneOf chooses from (ours wraps each in an allOf with its @type values).

    A oneOf without discriminator is our own dispatch of a base schema on the shapes its subclasses add.
    """
    if "discriminator" not in schema:
        return set()
    return {ref_name(b["allOf"][0] if "allOf" in b else b) for b in schema.get("oneOf", [])}


def compare(where: str, official: Schema, ours: Schema, enum_extra: set[str]) -> list[str]:
    """List how `ours` differs from `official` in ref target, type, format, enum or array items."""
    if ref_name(official) or ref_name(ours):
        same = ref_name(official) == ref_name(ours)
        return [] if same else [f"{where}: ref {ref_name(ours)!r}, official {ref_name(official)!r}"]
    problems = [
        f"{where}: {key} {ours.get(key)!r}, official {official.get(key)!r}"
        for key in ("type", "format")
        if official.get(key) != ours.get(key)
    ]
    if "enum" in official:
        extra = set(ours.get("enum", [])) - set(official["enum"])
        if not set(official["enum"]) <= set(ours.get("enum", [])) or not extra <= enum_extra:
            problems.append(f"{where}: enum {ours.get('enum')!r}, official {official['enum']!r}")
    if "items" in official:
        problems += compare(f"{where}[]", official["items"], ours.get("items", {}), set())
    if branches(official) != branches(ours):
        problems.append(
            f"{where}: oneOf {sorted(map(str, branches(ours)))}, official {sorted(map(str, branches(official)))}"
        )
    return problems


class UniqueKeyLoader(Loader):  # type: ignore[misc,valid-type]
    """A YAML loader that refuses a key given twice in one mapping (the usual loaders keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        twice = sorted({str(key) for key in keys if keys.count(key) > 1})
        if twice:
            raise yaml.constructor.ConstructorError(None, None, f"{twice} given twice", node.start_mark)
        return super().construct_mapping(node, deep=deep)


def test_spec_text_gives_each_key_once(api: Api) -> None:
    """A path or schema written twice in a spec is dropped silently: YAML loaders keep its last copy alone."""
    with (SPECS / api.spec).open(encoding="utf-8") as stream:
        yaml.load(stream, Loader=UniqueKeyLoader)


def test_every_served_api_with_an_official_v5_file_is_served_in_v5() -> None:
    """Issue 15: v5 of every API served on v4 whose official v5 file is in ../shared, and any added there."""
    if not OFFICIAL_DIR.is_dir():
        pytest.skip(f"official TM Forum specs not found at {OFFICIAL_DIR} ({HOW})")
    served = {api.official.split("-")[0] for api in APIS if api.version == 4}
    published = {path.name.split("-")[0] for path in OFFICIAL_DIR.glob("TMF*-v5*.oas.yaml")}
    faced = {api.official.split("-")[0] for api in APIS if api.version == 5}
    assert faced == served & published, f"no v5 text of {sorted(served & published - faced)}"
    assert {api.spec for api in APIS if api.version == 5} == {f"v5/{p.name}" for p in (SPECS / "v5").glob("tmf[0-9]*")}


def test_bundled_spec_is_valid_openapi_30(api: Api, common: Schema, ours: Schema) -> None:
    validate(common, cls=OpenAPIV30SpecValidator)
    assert "tmf_common.yaml" not in json.dumps(ours), "a ref into tmf_common.yaml is not a schema ref"
    validate(ours, cls=OpenAPIV30SpecValidator)
    assert ours["openapi"] == "3.0.3"
    assert ours["info"]["title"] == api.title
    assert ours["info"]["version"] == api.info_version
    assert ours["servers"] == [{"url": url} for url in api.servers]


def test_spec_text_follows_project_rules(api: Api, ours: Schema) -> None:
    text = json.dumps(ours)
    assert '"additionalProperties": false' not in text, "TMF allows extension attributes"
    assert "charset" not in text, "connexion answers 415 to media types with parameters"
    for name, schema in ours["components"]["schemas"].items():
        if name.endswith("_Update"):
            assert "required" not in schema, f"{name}: TMF630 does not enforce _Update required lists"
    for path, item in ours["paths"].items():
        assert set(item) <= {"parameters", "get", "post", "patch", "delete"}, path
        if "patch" not in item:
            continue
        patch = item["patch"]["requestBody"]
        if api.version == 5:  # a merge patch carries only what it changes, and @type (TMF630)
            _, required = flatten(ours, patch["content"]["application/merge-patch+json"]["schema"])
            assert required <= {"@type"}, f"{path}: a patch requires {sorted(required)}"
        assert patch["required"] is True
        assert set(patch["content"]) == PATCH_MEDIA[api.version], path
        for media in PATCH_MEDIA[api.version] - {"application/json", "application/merge-patch+json"}:
            assert patch["content"][media]["schema"] == {"$ref": LOCAL_PREFIX + "JsonPatchOperations"}, path


def body_schemas(spec: Any, operation: Schema) -> dict[str, str | None]:
    """Media type -> schema name of an operation's body (Swagger 2 `in: body` or OpenAPI 3)."""
    if "requestBody" in operation:
        content = resolve(spec, operation["requestBody"])["content"]
        return {media: ref_name(body["schema"]) for media, body in content.items()}
    bodies = [p for p in operation.get("parameters", []) if p.get("in") == "body"]
    return {"application/json": ref_name(bodies[0]["schema"])} if bodies else {}


def test_operations_cover_official(api: Api, official: Schema, ours: Schema) -> None:
    served = served_paths(api, official)
    methods = {(path, method) for path, item in ours["paths"].items() for method in item if method != "parameters"}
    assert methods == {(path, method) for path, item in served.items() for method in item}
    for path, operations in served.items():
        ours_item = ours["paths"][path]
        for method, operation in operations.items():
            mine = ours_item[method]
            where = f"{method.upper()} {path}"
            assert mine["operationId"] == operation["operationId"], where
            assert mine["tags"] == operation["tags"], where
            params = [resolve(ours, p) for p in ours_item.get("parameters", []) + mine.get("parameters", [])]
            names = {(p["name"], p["in"]) for p in params}
            for param in operation.get("parameters", []):
                param = resolve(official, param)
                if param["in"] != "body":
                    assert (param["name"], param["in"]) in names, f"{where}: parameter {param['name']}"
            official_bodies = body_schemas(official, operation)
            if official_bodies:
                assert mine["requestBody"]["required"] is True, where
                if api.version == 5:
                    assert body_schemas(ours, mine) == official_bodies, where
                else:
                    assert set(mine["requestBody"]["content"]) >= {"application/json"}, where
            gateway = {"503"} | ({"415"} if method in BODY_METHODS else set())
            expected = set(operation["responses"]) | (set() if path.startswith("/listener/") else gateway)
            assert expected <= set(mine["responses"]), f"{where}: {sorted(expected - set(mine['responses']))}"
            for code, response in mine["responses"].items():
                body = resolve(ours, response).get("content", {})
                assert set(body) <= {"application/json"}, f"{where} {code}"
                if code.startswith(("4", "5")) or code == "default":
                    assert body["application/json"]["schema"] == {"$ref": LOCAL_PREFIX + "Error"}, where


def test_definitions_cover_official(api: Api, official: Schema, text: Schema) -> None:
    schemas = text["components"]["schemas"]
    problems: list[str] = []
    for name, definition in served_definitions(api, official).items():
        if name not in schemas:
            problems.append(f"{name}: missing")
            continue
        mine = schemas[name]
        if name in api.replaced:
            problems += [] if mine == api.replaced[name] else [f"{name}: {mine!r}, declared {api.replaced[name]!r}"]
            continue
        top_level = {key: value for key, value in definition.items() if key not in ("properties", "allOf")}
        problems += compare(name, top_level, mine, api.enum_fixes.get(name, set()))
        official_properties, official_required = flatten(official, definition, api.required_fixes, name)
        properties, required = flatten(text, mine)
        for prop, prop_schema in official_properties.items():
            if prop not in properties:
                problems.append(f"{name}.{prop}: missing")
            else:
                fixed = f"{name}.{prop}" in api.type_fixes
                expected = {**prop_schema, "type": api.type_fixes[f"{name}.{prop}"]} if fixed else prop_schema
                problems += compare(f"{name}.{prop}", expected, properties[prop], set())
        if api.version == 5 and set(properties) != set(official_properties):
            problems.append(f"{name}: extra properties {sorted(set(properties) - set(official_properties))}")
        if not name.endswith("_Update") and required != official_required:
            problems.append(f"{name}: required {sorted(required)!r}, official {sorted(official_required)!r}")
    assert not problems, "\n".join(problems)
