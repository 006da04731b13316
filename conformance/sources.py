"""Where spec texts come from: the specs shipped in the installed tmfgate distribution, or a URL.

The shipped specs are read as data files, found through the distribution's metadata and the import
system's finders without importing any tmfgate module (the tool stands apart from the server).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from conformance.openapi import SpecError

VERSIONS = (4, 5)
_REF_FILE = re.compile(r"""["']?\$ref["']?\s*:\s*["']([^"'#]+)#""")


def _specs_root() -> Path:
    """``tmfgate/_specs`` of the installed distribution, or ``specs/`` beside an editable checkout."""
    try:
        located = Path(str(importlib.metadata.distribution("tmfgate").locate_file("tmfgate/_specs")))
        if located.is_dir():
            return located
    except importlib.metadata.PackageNotFoundError:
        pass
    # A top-level name is found without being imported; an editable install keeps its specs in the checkout.
    found = importlib.util.find_spec("tmfgate")
    if found is not None and found.origin:
        package = Path(found.origin).parent
        for folder in (package / "_specs", package.parent / "specs"):
            if folder.is_dir():
                return folder
    raise SpecError("The specs shipped with tmfgate were not found; install tmfgate or give --spec FILE|URL.")


def shipped_dir(version: int) -> Path:
    """The folder of the shipped specs of one major version."""
    root = _specs_root()
    return root if version == 4 else root / f"v{version}"


def shipped_names(version: int) -> list[str]:
    """The stems of the shipped specs of ``version`` (``tmf622_product_ordering``, ...)."""
    return sorted(p.stem for p in shipped_dir(version).glob("tmf[0-9]*.yaml"))


def shipped(name: str, version: int) -> Path:
    """The shipped spec of API ``name`` (``tmf622`` or ``tmf622_product_ordering``) in ``version``."""
    wanted = name.lower().replace("-", "_")
    names = shipped_names(version)
    found = [n for n in names if n == wanted or n.startswith(f"{wanted}_")]
    if len(found) != 1:
        raise SpecError(
            f"No shipped v{version} spec is called {name!r}; use one of "
            f"{', '.join(n.split('_')[0] for n in names)}, or give --spec FILE|URL."
        )
    return shipped_dir(version) / f"{found[0]}.yaml"


def is_url(text: str) -> bool:
    return urlsplit(text).scheme in ("http", "https")


def fetch(url: str, folder: Path, timeout: float = 10.0) -> Path:
    """Download the spec at ``url`` into ``folder``, with the files it refers to by relative path."""
    folder.mkdir(parents=True, exist_ok=True)
    name = Path(urlsplit(url).path).name or "openapi.json"
    todo, done = [(url, folder / name)], set[str]()
    while todo:
        address, target = todo.pop()
        if address in done:
            continue
        done.add(address)
        try:
            response = requests.get(address, timeout=timeout, headers={"Accept": "application/json, application/yaml"})
        except requests.RequestException as exc:
            raise SpecError(f"Cannot download the spec {address}: {exc}") from exc
        if response.status_code != 200:
            raise SpecError(f"Cannot download the spec {address}: the server answered {response.status_code}.")
        target.write_bytes(response.content)
        for relative in _external_files(response.text):
            local = (target.parent / relative).resolve()
            if not local.is_relative_to(folder.resolve()):
                raise SpecError(f"{address} refers to {relative}, outside the spec's folder.")
            local.parent.mkdir(parents=True, exist_ok=True)
            todo.append((urljoin(address, relative), local))
    return folder / name


def _external_files(text: str) -> set[str]:
    """The relative file names a spec text's ``$ref`` values point into."""
    return {ref for ref in _REF_FILE.findall(text) if ref and not is_url(ref)}
