"""TM Forum conformance kits (Postman collections) run with newman, their assertions read back as results.

A kit folder holds a collection, usually an environment, and a ``config.json`` with the headers and
create payloads to use. The kit's own driver copies those headers onto every request and puts the
payload in the first POST of the resource; this module does the same, then runs ``newman``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from conformance.report import Result, Status

_VARIABLE = re.compile(r"^\{\{([^}]+)\}\}")
KIT_TIMEOUT = 600.0  # seconds newman may take for one kit


class KitError(Exception):
    """The folder is not a kit this tool can run."""


def newman_command(explicit: str | None = None) -> list[str] | None:
    """How to run newman: ``--newman``/``NEWMAN``, then ``newman`` on PATH, then ``./node_modules/.bin``."""
    given = explicit or os.environ.get("NEWMAN")
    if given:
        return shlex.split(given)
    found = shutil.which("newman")
    if found:
        return [found]
    local = Path.cwd() / "node_modules" / ".bin" / "newman"
    return [str(local)] if local.exists() else None


def _json_files(folder: Path) -> list[tuple[Path, Any]]:
    found = []
    for path in sorted(folder.rglob("*.json")):
        if "node_modules" in path.parts:
            continue
        try:
            found.append((path, json.loads(path.read_text(encoding="utf-8-sig"))))
        except (OSError, ValueError):
            continue
    return found


def _is_collection(data: Any) -> bool:
    schema = str((data.get("info") or {}).get("schema", "")) if isinstance(data, dict) else ""
    return "collection" in schema and isinstance(data.get("item"), list)


def _requests(items: list[Any], folder: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every request item of a collection, with the name of the folder it sits in."""
    found: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        if isinstance(item.get("item"), list):
            found += _requests(item["item"], item.get("name", folder))
        elif isinstance(item.get("request"), dict):
            found.append((folder, item))
    return found


def _raw_url(request: dict[str, Any]) -> str:
    url = request.get("url")
    return str(url.get("raw", "") if isinstance(url, dict) else url or "")


def _base_variable(collection: dict[str, Any]) -> str:
    """The variable every request URL starts with (``{{Product_Ordering}}productOrder``)."""
    names = Counter(
        match.group(1)
        for _, item in _requests(collection["item"])
        if (match := _VARIABLE.match(_raw_url(item["request"]).strip()))
    )
    if not names:
        raise KitError("no request URL of the collection starts with a {{variable}} for the API root")
    return names.most_common(1)[0][0]


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _apply_config(collection: dict[str, Any], config: dict[str, Any], variable: str) -> None:
    """Headers of ``config.json`` on every request; its payloads in the first POST of each resource."""
    headers = [{"key": k, "value": v} for k, v in (config.get("headers") or {}).items()]
    requests = _requests(collection["item"])
    if headers:
        for _, item in requests:
            item["request"]["header"] = [dict(h) for h in headers]
    for resource, methods in (config.get("payloads") or {}).items():
        payload = ((methods or {}).get("POST") or {}).get("payload")
        if payload is None:
            continue
        path = _lower_camel(resource)
        for _, item in requests:
            request = item["request"]
            after = _raw_url(request).strip().removeprefix(f"{{{{{variable}}}}}").lstrip("/")
            if request.get("method") == "POST" and after.split("?")[0].split("/")[0] == path:
                request["body"] = {"mode": "raw", "raw": json.dumps(payload)}
                break


def prepare(kit: Path, root: str, out: Path) -> tuple[Path, Path, dict[str, str]]:
    """Write the ready collection and environment into ``out``; returns them and each item's folder."""
    if not kit.is_dir():
        raise KitError(f"{kit} is not a folder")
    files = _json_files(kit)
    collections = [(p, d) for p, d in files if _is_collection(d)]
    if not collections:
        raise KitError(f"{kit} holds no Postman collection")
    # Kits ship the same collection twice (pmtest.json): the file named as a collection or test kit wins.
    collections.sort(key=lambda pd: (not re.search(r"collection|testkit", pd[0].name, re.I), str(pd[0])))
    collection = collections[0][1]
    variable = _base_variable(collection)
    config = next((d for p, d in files if p.name == "config.json" and isinstance(d, dict)), None)
    if config is not None:
        _apply_config(collection, config, variable)
    environment: dict[str, Any] = {"name": "tmfgate conformance", "values": []}
    environment["values"] = [
        {"key": variable, "value": root.rstrip("/") + "/", "enabled": True},
    ]
    folders = {}
    for index, (folder, item) in enumerate(_requests(collection["item"])):
        item["id"] = item.get("id") or f"item-{index}"  # newman reports executions by item id
        folders[str(item["id"])] = folder
    out.mkdir(parents=True, exist_ok=True)
    (out / "collection.json").write_text(json.dumps(collection), encoding="utf-8")
    (out / "environment.json").write_text(json.dumps(environment), encoding="utf-8")
    return out / "collection.json", out / "environment.json", folders


def run_kit(kit: Path, root: str, newman: list[str] | None, timeout: float = 10.0) -> list[Result]:
    """Run the kit against ``root``; one result per assertion, named ``ctk.<folder>.<request>: <assertion>``."""
    if newman is None:
        reason = "newman is not installed: npm install newman (or give --newman CMD) to run the kit"
        return [Result(f"ctk.{kit.name}", Status.SKIP, reason)]
    with tempfile.TemporaryDirectory(prefix="tmfgate-ctk-") as scratch:
        out = Path(scratch)
        try:
            collection, environment, folders = prepare(kit, root, out)
        except KitError as exc:
            return [Result(f"ctk.{kit.name}", Status.FAIL, f"cannot run the kit: {exc}")]
        report = out / "newman.json"
        command = [
            *newman,
            "run",
            str(collection),
            "-e",
            str(environment),
            "--reporters",
            "json",
            "--reporter-json-export",
            str(report),
            "--timeout-request",
            str(int(timeout * 1000)),
            "--color",
            "off",
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=KIT_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return [Result(f"ctk.{kit.name}", Status.FAIL, f"newman did not run: {exc}")]
        if not report.exists():
            output = (done.stderr or done.stdout).strip()[-800:]
            return [Result(f"ctk.{kit.name}", Status.FAIL, f"newman exited {done.returncode}: {output}")]
        return results_of(json.loads(report.read_text(encoding="utf-8")), folders)


def _url_text(url: Any) -> str:
    if not isinstance(url, dict):
        return str(url)
    host = ".".join(url.get("host") or [])
    port = f":{url['port']}" if url.get("port") else ""
    path = "/".join(url.get("path") or [])
    query = "&".join(f"{q.get('key')}={q.get('value', '')}" for q in url.get("query") or [] if not q.get("disabled"))
    return f"{url.get('protocol', 'http')}://{host}{port}/{path}" + (f"?{query}" if query else "")


def _exchange(execution: dict[str, Any]) -> tuple[str, str]:
    request = execution.get("request") or {}
    sent = f"{request.get('method', '')} {_url_text(request.get('url'))}"
    body = (request.get("body") or {}).get("raw")
    if body:
        sent += f"\n\n{body}"
    response = execution.get("response") or {}
    stream = (response.get("stream") or {}).get("data") or []
    text = bytes(stream).decode("utf-8", "replace") if isinstance(stream, list) else str(stream)
    got = f"HTTP {response.get('code', '')} {response.get('status', '')}".rstrip()
    return sent, got + (f"\n\n{text[:2000]}" if text else "")


def results_of(report: dict[str, Any], folders: dict[str, str]) -> list[Result]:
    """One result per assertion of a newman JSON report (a request without assertions gives none)."""
    results: list[Result] = []
    for execution in (report.get("run") or {}).get("executions") or []:
        item = execution.get("item") or {}
        folder = folders.get(str(item.get("id") or item.get("name")), "")
        prefix = f"ctk.{folder}.{item.get('name', '')}" if folder else f"ctk.{item.get('name', '')}"
        seconds = float((execution.get("response") or {}).get("responseTime") or 0) / 1000
        if execution.get("requestError"):
            error = execution["requestError"].get("message", "request failed")
            results.append(Result(f"{prefix}: request", Status.FAIL, str(error), seconds))
            continue
        for assertion in execution.get("assertions") or []:
            name = f"{prefix}: {assertion.get('assertion', '')}"
            error = assertion.get("error")
            if error:
                request, response = _exchange(execution)
                message = str(error.get("message", "assertion failed"))
                results.append(Result(name, Status.FAIL, message, seconds, request, response))
            elif assertion.get("skipped"):
                results.append(Result(name, Status.SKIP, "skipped by the kit", seconds))
            else:
                results.append(Result(name, Status.PASS, "assertion held", seconds))
    return results
