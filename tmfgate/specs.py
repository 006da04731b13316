"""Loading the OpenAPI files in ``specs/`` and bundling the shared common types into each.

Every API spec refers to the types common to all TMF APIs as ``tmf_common.yaml#/components/...``.
Connexion and the validators want one self-contained document, so the loader copies each referenced
common definition (and whatever it refers to in turn) into the spec's own ``components`` and rewrites
the reference to a local one. The served ``openapi.json`` is that bundled document.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import orjson
import yaml

from tmfgate.errors import ConfigurationError

try:  # the C loader parses a large spec ~5x faster than the pure-Python one
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

COMMON_PREFIX = "tmf_common"
FACES_FILE = "faces.yaml"  # in a version's folder: how its documents map to the stored ones (tmfgate.faces)
# Folders of further versions of the APIs, beside the stored version's specs (tmfgate.faces).
FACE_FOLDERS = ("v5",)


@dataclass(frozen=True)
class ApiSpec:
    """One API as described by one spec file: its name (the file stem), base path and document."""

    name: str
    path: Path
    base_path: str
    document: dict[str, Any]
    # Further base paths the API also answers at (the later ``servers`` entries), e.g. the base
    # path of another official text of the same API; hrefs use ``base_path``.
    aliases: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return str(self.document.get("info", {}).get("title", self.name))

    @property
    def version(self) -> str:
        """The major version of the API (``4``, ``5``), from ``info.version``."""
        return str(self.document.get("info", {}).get("version", "4")).split(".", 1)[0]


def specs_dir() -> Path:
    """The folder of the shipped specs: ``tmfgate/_specs`` when installed, ``specs/`` in a checkout."""
    here = Path(__file__).resolve().parent
    installed = here / "_specs"
    return installed if installed.is_dir() else here.parent / "specs"


def load_all(folder: Path | None = None) -> list[ApiSpec]:
    """Every API spec in ``folder``, bundled, sorted by name."""
    folder = folder or specs_dir()
    files = sorted(p for p in folder.glob("*.yaml") if not p.stem.startswith(COMMON_PREFIX) and p.name != FACES_FILE)
    if not files:
        raise ConfigurationError(f"No OpenAPI spec files were found in {folder}.")
    return [load(p) for p in files]


def served(spec: ApiSpec) -> ApiSpec:
    """The spec as the gateway serves it: without the ``/listener/*`` paths, which clients host."""
    paths = spec.document.get("paths", {})
    if not any(path.startswith("/listener/") for path in paths):
        return spec
    kept = {path: item for path, item in paths.items() if not path.startswith("/listener/")}
    return replace(spec, document={**spec.document, "paths": kept})


def read_data(path: Path) -> dict[str, Any]:
    """A YAML data file of the specs folder (not a spec), parsed."""
    return _read(path)


def load(path: Path) -> ApiSpec:
    """Load one spec file and bundle its external references."""
    stat = path.stat() if path.is_file() else None
    document = orjson.loads(_bundled(path, stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0))
    servers = document.get("servers") or []
    if not servers or not str(servers[0].get("url", "")).startswith("/"):
        raise ConfigurationError(
            f"{path.name}: the first entry of 'servers' must be the API's base path, "
            "for example /tmf-api/productOrderingManagement/v4."
        )
    paths = [str(server.get("url", "")).rstrip("/") for server in servers]
    if not all(p.startswith("/") for p in paths):
        raise ConfigurationError(f"{path.name}: every 'servers' entry must be a base path starting with /.")
    return ApiSpec(name=path.stem, path=path, base_path=paths[0], document=document, aliases=tuple(paths[1:]))


@lru_cache(maxsize=256)
def _bundled(path: Path, mtime_ns: int, size: int) -> bytes:
    """The bundled document of a version of a spec file, as JSON: a process parses a file once (yaml
    takes ~0.3 s a spec), and each caller gets a copy of its own to change (orjson reads it in ~1 ms).
    Mapping keys become strings, as connexion makes them."""
    document = _read(path)
    _bundle(document, path.parent, path.name)
    return orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = yaml.load(handle, Loader=_Loader)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"Cannot read the spec {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} is not an OpenAPI document.")
    return data


@cache
def _common(path: Path) -> dict[str, Any]:
    return _read(path)


def _bundle(document: dict[str, Any], folder: Path, name: str) -> None:
    """Rewrite ``file.yaml#/components/<section>/<Name>`` refs to local ones, copying definitions."""
    pending: list[Any] = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            node["$ref"], imported = _import_definition(document, folder, name, ref)
            if imported is not None:
                pending.append(imported)
        pending.extend(node.values())


def _import_definition(
    document: dict[str, Any], folder: Path, name: str, ref: str
) -> tuple[str, dict[str, Any] | None]:
    """Copy one referenced definition into ``document``; returns the local ref and the new copy."""
    file_part, _, pointer = ref.partition("#")
    parts = [p for p in pointer.split("/") if p]
    if len(parts) != 3 or parts[0] != "components":
        raise ConfigurationError(f"{name}: unsupported reference {ref!r}; use file.yaml#/components/x/Name.")
    _, section, item = parts
    source = _common((folder / file_part).resolve())
    try:
        definition = source["components"][section][item]
    except KeyError:
        raise ConfigurationError(f"{name}: the reference {ref!r} points to nothing.") from None
    target = document.setdefault("components", {}).setdefault(section, {})
    local = f"#/components/{section}/{item}"
    if item in target:
        return local, None
    target[item] = copy.deepcopy(definition)
    # References inside the copied definition are local to the common file; they stay valid
    # here once their targets are copied too, so rewrite them as external ones and let the
    # bundling loop pick them up.
    _externalise(target[item], file_part)
    return local, target[item]


def _externalise(node: Any, file_part: str) -> None:
    if isinstance(node, list):
        for child in node:
            _externalise(child, file_part)
    elif isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            node["$ref"] = file_part + ref
        for value in node.values():
            _externalise(value, file_part)
