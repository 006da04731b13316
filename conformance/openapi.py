"""Reading OpenAPI documents: loading files, following ``$ref`` across files, flattening schemas.

A spec may refer to schemas of another file (``tmf_common.yaml#/components/schemas/Error``). On load,
every ``$ref`` is rewritten to an absolute form, ``<absolute file path>#<json pointer>``, and each
referenced file is loaded once; :meth:`Documents.resolve` then follows a ref without needing to know
which file it was written in. Swagger 2.0 files (``#/definitions/X``) work the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

Schema = dict[str, Any]

try:  # the C loader parses a large spec several times faster
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


class SpecError(Exception):
    """The spec file cannot be read or refers to something that does not exist."""


class Documents:
    """The spec file and every file it refers to, with refs rewritten to absolute form."""

    def __init__(self, path: Path) -> None:
        self.root_path = path.resolve()
        self._files: dict[Path, Any] = {}
        self.root: dict[str, Any] = self._load(self.root_path)

    def _load(self, path: Path) -> Any:
        if path in self._files:
            return self._files[path]
        try:
            with path.open("rb") as handle:
                data = yaml.load(handle, Loader=_Loader)
        except (OSError, yaml.YAMLError) as exc:
            raise SpecError(f"Cannot read the spec {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise SpecError(f"{path} is not an OpenAPI document.")
        self._files[path] = data
        for referred in self._absolutise(data, path):
            self._load(referred)
        return data

    @staticmethod
    def _absolutise(data: Any, path: Path) -> set[Path]:
        """Rewrite the refs in ``data`` to ``<abs path>#<pointer>``; returns the files referred to."""
        referred: set[Path] = set()
        stack = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str):
                    file_part, _, pointer = ref.partition("#")
                    target = (path.parent / file_part).resolve() if file_part else path
                    node["$ref"] = f"{target}#{pointer}"
                    if target != path:
                        referred.add(target)
                stack.extend(v for k, v in node.items() if k != "$ref")
        return referred

    def resolve(self, node: Any) -> Any:
        """Follow ``$ref`` until a node without one; siblings of a ref are merged over the target."""
        seen: set[str] = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                raise SpecError(f"Circular reference {ref}.")
            seen.add(ref)
            target = self.lookup(ref)
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            # Swagger 2 TMF files put a description next to a $ref: keep the target's own keys.
            node = {**siblings, **target} if siblings and isinstance(target, dict) else target
        return node

    def lookup(self, ref: str) -> Any:
        """The node an absolute ref points to."""
        file_part, _, pointer = ref.partition("#")
        node = self._load(Path(file_part))
        for raw in (p for p in pointer.split("/") if p):
            key = raw.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(key)] if isinstance(node, list) else node[key]
            except (KeyError, IndexError, ValueError, TypeError):
                raise SpecError(f"The reference {ref} points to nothing.") from None
        return node


def ref_name(node: Any) -> str | None:
    """The schema name a ``$ref`` node points to (``X`` for ``...#/components/schemas/X``)."""
    if isinstance(node, dict) and isinstance(node.get("$ref"), str):
        return str(node["$ref"]).rsplit("/", 1)[-1]
    return None


# Name suffixes of a class's schema variants (v4 ``X_Create``/``X_Update``, v5 ``X_FVO``/``X_MVO``/``X_RES``).
VARIANT_SUFFIXES = ("_Create", "_Update", "_FVO", "_MVO", "_RES")


def class_of(name: str) -> str:
    """The class a schema name describes: ``ProductOrder`` for ``ProductOrder_Create``."""
    for suffix in VARIANT_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def flatten(docs: Documents, schema: Any, _depth: int = 0) -> Schema:
    """One schema with ``allOf`` merged in: union of properties and of required names."""
    node = docs.resolve(schema)
    if not isinstance(node, dict):
        return {}
    parts = node.get("allOf")
    if not parts or _depth > 20:
        return dict(node)
    merged: Schema = {k: v for k, v in node.items() if k != "allOf"}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for part in [*parts, {k: v for k, v in node.items() if k in ("properties", "required")}]:
        flat = flatten(docs, part, _depth + 1)
        for key, value in flat.items():
            if key not in ("properties", "required"):
                merged.setdefault(key, value)
        properties.update(flat.get("properties") or {})
        required.extend(r for r in flat.get("required") or [] if r not in required)
    merged["properties"] = properties
    merged["required"] = required
    return merged


def schema_type(docs: Documents, schema: Any) -> str | None:
    """The JSON type a schema describes, inferred from ``properties``/``items`` when ``type`` is absent."""
    flat = flatten(docs, schema)
    declared = flat.get("type")
    if isinstance(declared, str):
        return declared
    if "properties" in flat:
        return "object"
    if "items" in flat:
        return "array"
    return None


def json_media(content: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """The (media type, schema) pairs of an OAS 3 ``content`` map that carry JSON."""
    for media, body in content.items():
        if "json" in media and isinstance(body, dict) and "schema" in body:
            yield media, body["schema"]
