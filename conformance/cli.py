"""Command line: ``tmfgate conformance URL (--api NAME|all | --spec FILE|URL) [options]``."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from conformance import junit, page
from conformance.checks import FAMILIES
from conformance.client import Client
from conformance.context import Context, Options
from conformance.kits import newman_command, run_kit
from conformance.openapi import SpecError
from conformance.progress import Progress
from conformance.report import Report, Result, Status, Suite
from conformance.runner import run, selected
from conformance.sources import VERSIONS
from conformance.targets import Target, discover, from_spec, named

PROG = "tmfgate conformance"
EXAMPLES = """examples:
  tmfgate conformance http://127.0.0.1:8080 --api tmf622
  tmfgate conformance http://127.0.0.1:8080 --api all --junit report.xml --html report.html
  tmfgate conformance https://partner.example/tmf-api/productOrderingManagement/v4 --api tmf622 --read-only
  tmfgate conformance http://127.0.0.1:8080 --api tmf622 --ctk ./TMF622-v4.0.0
  tmfgate conformance http://127.0.0.1:8080 --spec http://127.0.0.1:8080/tmf-api/x/v4/openapi.json

exit status: 0 when no check failed, 1 when one did, 2 on a usage or spec error."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Check that a TM Forum Open API server follows the TMF630 design guidelines and its specs.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "base_url",
        metavar="URL",
        help="the server (http://host:port) or an API root (http://host:port/tmf-api/x/v4); "
        "with --api all, the server's root, which lists its APIs",
    )
    _what(parser.add_argument_group("what to check (one of)"))
    _which(parser.add_argument_group("which checks"))
    _out(parser.add_argument_group("reports and running"))
    return parser


def _what(what: argparse._ArgumentGroup) -> None:
    what.add_argument(
        "--api",
        metavar="NAME[,NAME]|all",
        help="APIs by name (tmf622, tmf641...) with the specs shipped in tmfgate, or 'all' for every API "
        "the server lists (GET URL/), each with the spec it serves",
    )
    what.add_argument("--spec", metavar="FILE|URL", help="the OpenAPI spec (YAML or JSON) of the API to check")
    what.add_argument(
        "--version",
        type=int,
        choices=VERSIONS,
        default=4,
        help="the major version of the APIs to check (default 4)",
    )


def _which(checks: argparse._ArgumentGroup) -> None:
    checks.add_argument("--family", default=",".join(FAMILIES), help=f"comma-separated families ({','.join(FAMILIES)})")
    checks.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="leave out checks, groups or families, e.g. hub.notifications (repeatable)",
    )
    checks.add_argument(
        "--read-only",
        action="store_true",
        help="run only the checks that create, change and delete nothing (safe against production)",
    )
    checks.add_argument(
        "--keep", action="store_true", help="keep the resources the run created (all tagged cf<run>-...) for debugging"
    )
    checks.add_argument(
        "--payload",
        action="append",
        default=[],
        metavar="RESOURCE=FILE.json",
        help="create body to use for a resource instead of the one built from the spec (repeatable)",
    )
    checks.add_argument("--ctk", type=Path, metavar="KIT_DIR", help="also run a TM Forum conformance kit with newman")
    checks.add_argument("--newman", metavar="CMD", help="the newman command (default: NEWMAN, PATH, ./node_modules)")


def _out(out: argparse._ArgumentGroup) -> None:
    out.add_argument("--junit", type=Path, metavar="FILE", help="write a JUnit XML report (a testsuite per API)")
    out.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML report")
    out.add_argument("--json", type=Path, metavar="FILE", help="write the results as JSON")
    out.add_argument("--workers", type=int, default=4, metavar="N", help="checks run in parallel (default 4)")
    out.add_argument(
        "-v", "--verbose", action="store_true", help="on a terminal, print every result, not only failures"
    )
    out.add_argument(
        "--listener-host",
        default="127.0.0.1",
        help="address the event listener binds to and gives as callback (default 127.0.0.1)",
    )
    out.add_argument("--event-timeout", type=float, default=10.0, help="seconds to wait for an event (default 10)")
    out.add_argument("--http-timeout", type=float, default=10.0, help="seconds to wait for an answer (default 10)")


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


def _targets(args: argparse.Namespace, folder: Path) -> list[Target]:
    if bool(args.api) == bool(args.spec):
        raise ValueError("give either --api NAME (e.g. tmf622), --api all, or --spec FILE|URL.")
    if args.spec:
        return [from_spec(args.base_url, args.spec, folder, args.http_timeout)]
    names = _split([args.api])
    if names == ["all"]:
        return discover(args.base_url, args.version, folder, args.http_timeout)
    return named(args.base_url, names, args.version, args.http_timeout)


def _kit_target(targets: list[Target], kit: Path) -> Target:
    """The API a kit belongs to: the only one checked, or the one its folder name starts with (TMF622-...)."""
    if len(targets) == 1:
        return targets[0]
    prefix = kit.name.lower().split("-")[0].split("_")[0]
    found = [t for t in targets if t.name.lower().startswith(prefix)]
    if len(found) != 1:
        raise ValueError(f"--ctk {kit}: cannot tell which of the {len(targets)} APIs the kit is for.")
    return found[0]


def _check(target: Target, args: argparse.Namespace, options: Options, progress: Progress) -> Suite:
    """Run our checks, then the kit when given, on one target."""
    api = target.api
    suite = Suite(target.name, api.title if api else target.name, target.root, target.spec)
    if api is None or target.skip:
        suite.results.append(Result("api.served", Status.SKIP, target.skip))
        progress.start(suite.name, 1)
        progress.advance(suite.results[0])
        progress.finish(suite)
        return suite
    print(f"Checking {target.root} ({api.title}), resources {', '.join(r.name for r in api.resources) or 'none'}")
    client = Client(target.root, timeout=args.http_timeout, read_only=args.read_only)
    try:
        ctx = Context(api, client, options)
        run(ctx, selected(_split([args.family])), _split(args.skip), suite, progress, args.workers)
    finally:
        client.close()
    return suite


def _write(report: Report, args: argparse.Namespace) -> None:
    if args.json is not None:
        report.write_json(args.json)
    if args.junit is not None:
        junit.write(report, args.junit)
    if args.html is not None:
        page.write(report, args.html)
    for path in (args.json, args.junit, args.html):
        if path is not None:
            print(f"wrote {path}")


def _run_kit(suite: Suite, kit: Path, args: argparse.Namespace, progress: Progress) -> None:
    """Run a TM Forum kit on the suite's API and add its assertions to the suite."""
    started = time.monotonic()
    results = run_kit(kit, suite.root, newman_command(args.newman), args.http_timeout)
    for result in results:
        if result.status is not Status.PASS or not progress.bar:
            print(result.line())
    suite.results += results
    suite.seconds += time.monotonic() - started
    counts = Suite(suite.name, "", "", "", results).summary()
    suite.notes.append(f"kit {kit.name}: {counts}")
    print(f"{suite.name} kit {kit.name}: {counts}")


def main(argv: list[str] | None = None) -> int:
    """Run the checks; 0 when no check failed, 1 when one failed, 2 on a usage or spec error."""
    args = _parser().parse_args(argv)
    started = time.monotonic()
    try:
        selected(_split([args.family]))
        if args.workers < 1:
            raise ValueError("--workers must be 1 or more.")
        options = Options(args.listener_host, args.event_timeout, _payloads(args.payload), args.read_only, args.keep)
        with tempfile.TemporaryDirectory(prefix="tmfgate-conformance-") as folder:
            targets = _targets(args, Path(folder))
        known = {r.name for t in targets if t.api for r in t.api.resources}
        unknown = [p for p in options.payloads if p not in known]
        if unknown:
            raise ValueError(f"--payload names unknown resource(s) {unknown}; the specs have {sorted(known)}.")
        kit_target = _kit_target(targets, args.ctk) if args.ctk else None
    except (SpecError, ValueError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    progress = Progress(sys.stdout, verbose=args.verbose)
    report = Report()
    for target in targets:
        suite = _check(target, args, options, progress)
        if target is kit_target and not target.skip:
            _run_kit(suite, args.ctk, args, progress)
        report.suites.append(suite)
    report.seconds = time.monotonic() - started
    print(f"Total: {report.summary()} in {report.seconds:.1f}s")
    _write(report, args)
    return 0 if report.ok else 1
