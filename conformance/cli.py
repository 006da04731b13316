"""Command line: ``python -m conformance BASE_URL --spec SPEC.yaml [options]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from conformance.checks import FAMILIES
from conformance.client import Client
from conformance.context import Context, Options
from conformance.openapi import SpecError
from conformance.report import Report
from conformance.runner import run, selected
from conformance.spec import load_api


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m conformance",
        description="Check that a TM Forum Open API server follows the TMF630 design guidelines for one API.",
    )
    parser.add_argument(
        "base_url",
        metavar="BASE_URL",
        help="API root, e.g. http://host:8080/tmf-api/x/v4 (a URL without a path gets the spec's server path appended)",
    )
    parser.add_argument("--spec", required=True, type=Path, help="the API's OpenAPI file (YAML or JSON)")
    parser.add_argument("--family", default=",".join(FAMILIES), help=f"comma-separated families ({','.join(FAMILIES)})")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="leave out checks, groups or families, e.g. hub.notifications (repeatable)",
    )
    parser.add_argument(
        "--payload",
        action="append",
        default=[],
        metavar="RESOURCE=FILE.json",
        help="create body to use for a resource instead of the one built from the spec",
    )
    parser.add_argument("--json", type=Path, metavar="REPORT.json", help="also write the results as JSON")
    parser.add_argument(
        "--listener-host",
        default="127.0.0.1",
        help="address the event listener binds to and gives as callback (default 127.0.0.1)",
    )
    parser.add_argument("--event-timeout", type=float, default=10.0, help="seconds to wait for an event (default 10)")
    parser.add_argument("--http-timeout", type=float, default=10.0, help="seconds to wait for an answer (default 10)")
    return parser


def _payloads(values: list[str]) -> dict[str, dict[str, Any]]:
    payloads: dict[str, dict[str, Any]] = {}
    for value in values:
        name, sep, file = value.partition("=")
        if not sep or not name or not file:
            raise ValueError(f"--payload {value!r}: write it as RESOURCE=file.json.")
        try:
            payloads[name] = json.loads(Path(file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"--payload {value!r}: cannot read a JSON object from {file}: {exc}") from exc
        if not isinstance(payloads[name], dict):
            raise ValueError(f"--payload {value!r}: {file} must hold a JSON object.")
    return payloads


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    """Run the checks; 0 when every check passed, 1 when one failed, 2 on a usage or spec error."""
    args = _parser().parse_args(argv)
    try:
        api = load_api(args.spec)
        checks = selected(_split([args.family]))
        options = Options(args.listener_host, args.event_timeout, _payloads(args.payload))
        unknown = [p for p in options.payloads if p not in {r.name for r in api.resources}]
        if unknown:
            raise ValueError(
                f"--payload names unknown resource(s) {unknown}; the spec has {[r.name for r in api.resources]}."
            )
    except (SpecError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    root = api.api_root(args.base_url)
    print(
        f"Checking {root} against {args.spec} ({api.title}): "
        f"resources {', '.join(r.name for r in api.resources) or 'none'}",
        flush=True,
    )
    client = Client(root, timeout=args.http_timeout)
    try:
        report = run(Context(api, client, options), checks, _split(args.skip), Report(sys.stdout))
    finally:
        client.close()
    print(report.summary(), flush=True)
    if args.json:
        report.write_json(args.json, base_url=root, spec=str(args.spec))
    return 0 if report.ok else 1
