"""The catalog file: offerings, prices and specifications, and the resource pools, read and checked once.

One YAML or JSON file (setting ``catalog``; ``demo`` is the shipped ``catalogs/demo.yaml``) holds
TM Forum v4 resources under the names of their kinds (``productOffering``, ``productOfferingPrice``,
``productSpecification``, ``serviceSpecification``) plus ``resourcePool``: the resources the
TMF639 inventory starts with. It is read once per process and checked whole: unique ids, every
reference resolvable, every service's resources backed by a pool (:mod:`handlers.catalog.seeding`
copies it into the store).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import yaml

from tmfgate.errors import ConfigurationError
from tmfgate.settings import Setting, text
from tmfgate.types import Document

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

KINDS = ("productOffering", "productOfferingPrice", "productSpecification", "serviceSpecification")
CATALOG = Setting(
    "catalog",
    "demo",
    "the catalog file (YAML or JSON, see [Catalog file](#catalog-file)); `demo` is the shipped "
    "[`catalogs/demo.yaml`](catalogs/demo.yaml), `none` an empty catalog",
    text,
    metavar="FILE",
)
_POOL_NAMESPACE = uuid.UUID("6f1c1f53-5c0e-4d35-9d0e-6a7d3f5b8a21")
# The catalog each gateway uses once the store holds it (handlers.catalog.snapshots), else the file's.
_CURRENT: WeakKeyDictionary[Gateway, Catalog] = WeakKeyDictionary()


@dataclass(frozen=True)
class Pool:
    """The resources of one resource specification that services reserve from."""

    specification: Document
    type: str
    category: str | None
    names: tuple[str, ...]

    def resources(self) -> Iterator[Document]:
        """The pool's resources as TMF639 stores them at first, each with a stable UUID."""
        spec_id = str(self.specification["id"])
        for name in self.names:
            doc: Document = {
                "id": str(uuid.uuid5(_POOL_NAMESPACE, f"{spec_id}/{name}")),
                "@type": self.type,
                "name": name,
                "resourceSpecification": {**self.specification, "@referredType": "ResourceSpecification"},
                "resourceStatus": "available",
                "administrativeState": "unlocked",
                "operationalState": "enable",
                "usageState": "idle",
            }
            if self.category:
                doc["category"] = self.category
            yield doc


@dataclass(frozen=True)
class Catalog:
    """A loaded catalog file; look-ups by id for decomposition and billing."""

    source: str
    currency: str
    entries: dict[str, dict[str, Document]] = field(default_factory=dict)
    pools: tuple[Pool, ...] = ()

    def get(self, kind: str, id: str) -> Document | None:
        return self.entries.get(kind, {}).get(id)

    def offering(self, id: str) -> Document | None:
        return self.get("productOffering", id)

    def parts(self, offering: Document) -> list[str]:
        """The ids of the offerings a bundle offering holds (TMF620 ``bundledProductOffering``); [] for others."""
        if not offering.get("isBundle"):
            return []
        return [str(part.get("id")) for part in offering.get("bundledProductOffering") or []]

    def service_specification(self, id: str) -> Document | None:
        return self.get("serviceSpecification", id)

    def pool(self, resource_specification: str) -> Pool | None:
        return next((p for p in self.pools if p.specification["id"] == resource_specification), None)


def demo_path() -> Path:
    """The shipped demo catalog: ``tmfgate/_catalogs`` when installed, ``catalogs/`` in a checkout."""
    import tmfgate  # noqa: PLC0415

    here = Path(tmfgate.__file__).resolve().parent
    installed = here / "_catalogs" / "demo.yaml"
    return installed if installed.is_file() else here.parent / "catalogs" / "demo.yaml"


def of(gateway: Gateway) -> Catalog:
    """The catalog the gateway uses: the store's, as last refreshed, else the file its settings name."""
    return _CURRENT.get(gateway) or load(gateway.settings.get(CATALOG))


def use(gateway: Gateway, entries: dict[str, dict[str, Document]]) -> None:
    """Make ``entries`` (the store's) the gateway's catalog; currency and pools stay the file's."""
    _CURRENT[gateway] = replace(load(gateway.settings.get(CATALOG)), source="the store", entries=entries)


@cache
def load(setting: str) -> Catalog:
    """Read and check a catalog file (``demo``, ``none`` or a path); ConfigurationError when wrong."""
    if setting.strip().lower() == "none":
        return Catalog(source="none", currency="EUR", entries={kind: {} for kind in KINDS})
    path = demo_path() if setting.strip().lower() == "demo" else Path(setting).expanduser()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))  # YAML is a superset of JSON
    except OSError as exc:
        raise ConfigurationError(f"The catalog file {path} cannot be read: {exc.strerror}.") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"The catalog file {path} is not valid YAML or JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(f"The catalog file {path} must hold a mapping of lists (see README).")
    return _build(str(path), raw)


def _build(source: str, raw: Document) -> Catalog:
    unknown = sorted(set(raw) - {*KINDS, "resourcePool", "currency"})
    if unknown:
        raise ConfigurationError(
            f"{source}: unknown section {', '.join(unknown)}; the sections are "
            f"currency, {', '.join(KINDS)} and resourcePool."
        )
    entries: dict[str, dict[str, Document]] = {}
    for kind in KINDS:
        entries[kind] = {}
        for entry in raw.get(kind) or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                raise ConfigurationError(f"{source}: every {kind} needs a string id; {entry!r} has none.")
            if entry["id"] in entries[kind]:
                raise ConfigurationError(f"{source}: the {kind} id {entry['id']} is used twice.")
            entries[kind][entry["id"]] = entry
    catalog = Catalog(
        source=source,
        currency=str(raw.get("currency") or "EUR"),
        entries=entries,
        pools=tuple(_pool(source, entry) for entry in raw.get("resourcePool") or []),
    )
    _check_references(catalog)
    return catalog


def _pool(source: str, entry: Any) -> Pool:
    spec = entry.get("resourceSpecification") if isinstance(entry, dict) else None
    if not isinstance(spec, dict) or "id" not in spec:
        raise ConfigurationError(f"{source}: every resourcePool needs a resourceSpecification with an id.")
    names = [str(n) for n in entry.get("names") or []]
    span = entry.get("range")
    if span:
        try:
            width = int(span.get("width", 0))
            names += [
                str(span["pattern"]).replace("{n}", str(n).zfill(width))
                for n in range(int(span["from"]), int(span["to"]) + 1)
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"{source}: the range of pool {spec['id']} needs pattern, from and to (and an optional width): {exc!r}"
            ) from exc
    if len(set(names)) != len(names):
        raise ConfigurationError(f"{source}: pool {spec['id']} names a resource twice.")
    return Pool(
        specification={k: v for k, v in spec.items()},
        type=str(entry.get("@type", "Resource")),
        category=entry.get("category"),
        names=tuple(names),
    )


def _check_references(catalog: Catalog) -> None:
    """Every reference that decomposition or billing follows must lead somewhere."""
    problems = []

    def need(kind: str, ref: Any, where: str) -> None:
        id = ref.get("id") if isinstance(ref, dict) else ref
        if catalog.get(kind, str(id)) is None:
            problems.append(f"{where} refers to the {kind} {id}, which the catalog lacks")

    for id, offering in catalog.entries["productOffering"].items():
        if "productSpecification" in offering:
            need("productSpecification", offering["productSpecification"], f"productOffering {id}")
        for price in offering.get("productOfferingPrice") or []:
            need("productOfferingPrice", price, f"productOffering {id}")
        for part in offering.get("bundledProductOffering") or []:
            need("productOffering", part, f"the bundle productOffering {id}")
        if offering.get("isBundle") and not offering.get("bundledProductOffering"):
            problems.append(f"productOffering {id} is a bundle (isBundle) but names no bundledProductOffering")
    for id, spec in catalog.entries["productSpecification"].items():
        for ref in spec.get("serviceSpecification") or []:
            need("serviceSpecification", ref, f"productSpecification {id}")
    for id, spec in catalog.entries["serviceSpecification"].items():
        for relation in spec.get("serviceSpecRelationship") or []:
            need("serviceSpecification", relation, f"serviceSpecification {id}")
        for ref in spec.get("resourceSpecification") or []:
            if catalog.pool(str(ref.get("id"))) is None:
                problems.append(
                    f"serviceSpecification {id} needs resource {ref.get('id')}, which no resourcePool provides"
                )
    if problems:
        raise ConfigurationError(f"{catalog.source}: " + "; ".join(problems) + ".")
