"""What a run checks: the APIs named on the command line, or every API a gateway lists, each with its spec.

``--api all`` reads the gateway's list of APIs (``GET /``: ``[{id, name, version, href}]``), then each
API's index (``GET {href}``: ``{"openapi": URL, ...}``) for its spec; a server without these indexes is
asked for ``{base}/openapi.json``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from conformance.openapi import SpecError
from conformance.sources import fetch, is_url, shipped
from conformance.spec import Api, load_api


@dataclass
class Target:
    """One API to check: its name, API root and spec, or the reason it cannot be checked."""

    name: str
    root: str
    spec: str
    api: Api | None = None
    skip: str = ""


def _major(version: object) -> int | None:
    match = re.match(r"\s*v?(\d+)", str(version or ""))
    return int(match.group(1)) if match else None


def _get_json(url: str, timeout: float) -> tuple[int, Any]:
    """The status and JSON body of GET ``url`` (body None when not JSON); redirects are not followed."""
    try:
        response = requests.get(url, timeout=timeout, headers={"Accept": "application/json"}, allow_redirects=False)
    except requests.RequestException as exc:
        raise SpecError(f"Cannot reach {url}: {exc}") from exc
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, None


def named(base_url: str, names: list[str], version: int, timeout: float) -> list[Target]:
    """Targets for APIs named by ``--api``, with the specs shipped in the tmfgate package."""
    targets = []
    for name in names:
        path = shipped(name, version)
        api = load_api(path)
        target = Target(path.stem, api.api_root(base_url), str(path), api)
        if version != 4:
            target.skip = _not_served(api, target.root, version, timeout)
        targets.append(target)
    return targets


def _not_served(api: Api, root: str, version: int, timeout: float) -> str:
    """Why ``root`` does not serve this API version (both the root and a collection answer 404), or ''."""
    if not api.resources:
        return ""
    collection = root + api.resources[0].collection_path
    if _get_json(root, timeout)[0] == 404 and _get_json(collection, timeout)[0] == 404:
        return f"the server serves no v{version} of {api.title}: GET {root} and GET {collection} answer 404"
    return ""


def from_spec(base_url: str, spec: str, folder: Path, timeout: float) -> Target:
    """The target of ``--spec FILE|URL``."""
    path = fetch(spec, folder / "spec", timeout) if is_url(spec) else Path(spec)
    api = load_api(path)
    return Target(path.stem if not is_url(spec) else _stem(api), api.api_root(base_url), spec, api)


def _stem(api: Api) -> str:
    return re.sub(r"[^a-z0-9]+", "_", api.title.lower()).strip("_") or "api"


def discover(base_url: str, version: int, folder: Path, timeout: float) -> list[Target]:
    """Every API of ``version`` the server at ``base_url`` lists, with the spec it serves for each."""
    base = base_url.rstrip("/")
    status, body = _get_json(base + "/", timeout)
    if isinstance(body, list) and all(isinstance(e, dict) and isinstance(e.get("href"), str) for e in body):
        entries = body
    elif isinstance(body, dict) and isinstance(body.get("openapi"), str):
        entries = [{"id": _id(body, base), "version": body.get("version"), "href": base}]
    else:
        spec_url = f"{base}/openapi.json"
        if _get_json(spec_url, timeout)[0] != 200:
            raise SpecError(
                f"Found no API at {base}: GET {base}/ answered {status} without a list of APIs, "
                f"and GET {spec_url} found no spec. Give an API root, or --api NAME or --spec FILE|URL."
            )
        return [from_spec(base, spec_url, folder, timeout)]
    wanted = [e for e in entries if _major(e.get("version")) in (version, None)]
    if not wanted:
        served = sorted({f"v{_major(e.get('version'))}" for e in entries})
        reason = f"the server at {base} serves no v{version} API (it lists {', '.join(served) or 'none'})"
        return [Target(f"v{version}", base, "", skip=reason)]
    return [_listed(entry, folder, timeout) for entry in wanted]


def _id(entry: dict[str, Any], href: str) -> str:
    raw = str(entry.get("id") or entry.get("name") or href.rstrip("/").rsplit("/", 2)[-2])
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", raw)


def _listed(entry: dict[str, Any], folder: Path, timeout: float) -> Target:
    """The target of one API the server lists: its root is the entry's href, its spec the one it serves."""
    href = str(entry["href"]).rstrip("/")
    name = _id(entry, href)
    _, index = _get_json(href, timeout)
    spec_url = index.get("openapi") if isinstance(index, dict) else None
    if not isinstance(spec_url, str):
        spec_url = f"{href}/openapi.json"
    path = fetch(spec_url, folder / name, timeout)
    return Target(name, href, spec_url, load_api(path))
