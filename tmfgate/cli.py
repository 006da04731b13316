"""The ``tmfgate`` command: ``serve`` the gateway, ``dispatch`` its events, operate deliveries
(``deliveries``, ``redeliver``, ``replay``), run the billing cycle (``bill-run``), or run the
``conformance`` tool."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tmfgate import admin_cli, workers
from tmfgate.errors import ConfigurationError
from tmfgate.settings import Settings

if TYPE_CHECKING:
    from backends.base import Backend
    from tmfgate.model import ApiModel


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tmfgate",
        description="TM Forum Open API gateway. Every option can also be set with a TMFGATE_* "
        "environment variable (TMFGATE_HOST, TMFGATE_PORT, TMFGATE_DATABASE_URL, ...).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve every API in specs/ over HTTP")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (default 8080)")
    serve.add_argument(
        "--database-url",
        help="memory://, sqlite:///file.db (default sqlite:///tmfgate.db) or postgresql+psycopg://user@host/db",
    )
    serve.add_argument(
        "--workers",
        type=int,
        help="server processes (default 1); on Linux each listens on its "
        "own socket on the port and one that dies is replaced",
    )
    serve.add_argument("--max-limit", type=int, help="largest page a list returns (default: no limit)")
    serve.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug"])
    serve.add_argument(
        "--admin-hosts",
        help="client addresses or networks, besides loopback, that may use "
        "the operator API, comma-separated (default: loopback only)",
    )
    serve.add_argument(
        "--callback-hosts",
        help="hosts a hub callback may point to, comma-separated, "
        "patterns such as *.partner.example allowed (default *: any)",
    )
    serve.add_argument(
        "--dispatcher",
        choices=["on", "off"],
        help="deliver events from this process (default on; off when 'tmfgate dispatch' runs)",
    )
    _add_delivery_options(serve)
    _add_fulfilment_options(serve)
    _add_billing_options(serve)
    dispatch = commands.add_parser(
        "dispatch",
        help="deliver the hub notifications of a shared store without serving HTTP "
        "(scale-out; gateways may then run with --dispatcher off)",
    )
    dispatch.add_argument(
        "--database-url", help="sqlite:///file.db (default sqlite:///tmfgate.db) or postgresql+psycopg://user@host/db"
    )
    dispatch.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug"])
    _add_delivery_options(dispatch)
    _add_fulfilment_options(dispatch)
    _add_billing_options(dispatch)
    bill_run = commands.add_parser(
        "bill-run", help="bill every billing account for one calendar month (the billing cycle), on the store directly"
    )
    bill_run.add_argument(
        "--period",
        required=True,
        type=_period,
        metavar="YYYY-MM",
        help="the month to bill, e.g. 2026-11; running a month again bills nothing twice",
    )
    bill_run.add_argument(
        "--database-url",
        help="the gateway's store: sqlite:///file.db (default "
        "sqlite:///tmfgate.db) or postgresql+psycopg://user@host/db",
    )
    bill_run.add_argument("--catalog", metavar="FILE", help="the gateway's catalog file (default: the demo catalog)")
    _add_billing_options(bill_run)
    conformance = commands.add_parser(
        "conformance",
        help="check a TMF server against the TM Forum rules (see 'tmfgate conformance -h')",
        add_help=False,
    )
    conformance.add_argument("args", nargs=argparse.REMAINDER)
    admin_cli.add_commands(commands)
    return parser


def _add_delivery_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--delivery-attempts",
        type=_count,
        metavar="N",
        help="attempts before a delivery is parked for an operator (default 10)",
    )
    parser.add_argument(
        "--delivery-timeout", type=_seconds, metavar="SECONDS", help="seconds a listener has to answer (default 10)"
    )
    parser.add_argument(
        "--retry-delay",
        type=_seconds,
        metavar="SECONDS",
        help="seconds before the first retry, doubled at each retry, with jitter (default 1)",
    )
    parser.add_argument(
        "--retry-delay-max",
        type=_seconds,
        metavar="SECONDS",
        help="longest wait between two retries, before jitter (default 300)",
    )
    parser.add_argument(
        "--event-retention",
        type=_retention,
        metavar="DAYS",
        help="days an event is kept once every delivery of it was made; 0 keeps them all (default 30)",
    )


def _add_fulfilment_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalog",
        metavar="FILE",
        help="catalog file (YAML or JSON) served by TMF620/633 and used to fulfil orders; "
        "'demo' (default) is the shipped demo catalog, 'none' an empty one",
    )
    parser.add_argument(
        "--fulfilment",
        choices=["on", "off"],
        help="decompose product orders into service orders and activate them (default on)",
    )
    parser.add_argument(
        "--activation-delay",
        type=_delay,
        metavar="SECONDS",
        help="seconds each activation step takes, to mimic a slow network (default 0)",
    )
    parser.add_argument(
        "--public-url",
        metavar="URL",
        help="scheme and host clients reach the gateway at, for the hrefs of resources the "
        "gateway creates itself (default http://HOST:PORT)",
    )


def _add_billing_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tax-rate",
        type=_tax_rate,
        metavar="RATE",
        help="tax (VAT) rate of every charge billed, a decimal fraction: 0.20 for 20%% (default 0.20)",
    )
    parser.add_argument(
        "--payment-terms",
        type=_days,
        metavar="DAYS",
        help="days from a bill's date to its payment due date (default 30)",
    )


def _tax_rate(raw: str) -> str:
    try:
        return str(Settings.from_env({"TMFGATE_TAX_RATE": raw}).tax_rate)
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _days(raw: str) -> int:
    try:
        return Settings.from_env({"TMFGATE_PAYMENT_TERMS": raw}).payment_terms
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _delay(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {raw!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("cannot be negative")
    return value


def _retention(raw: str) -> float:
    try:
        return Settings.from_env({"TMFGATE_EVENT_RETENTION": raw}).event_retention
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {raw!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def _period(raw: str) -> str:
    if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", raw.strip()) is None:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a month; write it as YYYY-MM, e.g. 2026-11")
    return raw.strip()


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["conformance"]:
        # Everything after the word is the tool's own (argparse's REMAINDER would take -h itself).
        from conformance.cli import main as conformance_main  # noqa: PLC0415 - the one allowed import

        return conformance_main(given[1:])
    args = build_parser().parse_args(given)
    if args.command in admin_cli.COMMANDS:
        return admin_cli.run(args)
    if args.command == "bill-run":
        try:
            settings = Settings.from_env().with_overrides(
                database_url=args.database_url,
                catalog=args.catalog,
                tax_rate=args.tax_rate,
                payment_terms=args.payment_terms,
            )
            return bill_run(settings, args.period)
        except ConfigurationError as exc:
            print(f"tmfgate: {exc}", file=sys.stderr)
            return 2
    try:
        settings = Settings.from_env().with_overrides(
            database_url=args.database_url,
            log_level=args.log_level,
            delivery_attempts=args.delivery_attempts,
            delivery_timeout=args.delivery_timeout,
            retry_delay=args.retry_delay,
            retry_delay_max=args.retry_delay_max,
            event_retention=args.event_retention,
            catalog=args.catalog,
            activation_delay=args.activation_delay,
            public_url=args.public_url and args.public_url.rstrip("/"),
            tax_rate=args.tax_rate,
            payment_terms=args.payment_terms,
            fulfilment=None if args.fulfilment is None else args.fulfilment == "on",
        )
        if args.command == "dispatch":
            return dispatch(settings)
        settings = settings.with_overrides(
            host=args.host,
            port=args.port,
            workers=args.workers,
            max_limit=args.max_limit,
            callback_hosts=args.callback_hosts,
            admin_hosts=args.admin_hosts,
            dispatcher=None if args.dispatcher is None else args.dispatcher == "on",
        )
        return serve(settings)
    except ConfigurationError as exc:
        print(f"tmfgate: {exc}", file=sys.stderr)
        return 2


def serve(settings: Settings) -> int:
    """Run uvicorn with the gateway; several workers each build their own app from the environment,
    and on Linux each listens on a socket of its own (:mod:`tmfgate.workers`)."""
    import uvicorn  # noqa: PLC0415 - only the serve command needs the server

    from tmfgate.app import create_app  # noqa: PLC0415

    app = create_app(settings)  # fails here, before any worker starts, when misconfigured
    os.environ.update(settings.to_env())
    if settings.workers > 1 and settings.database_url.startswith("memory:"):
        print(
            "tmfgate: warning: with memory:// each worker keeps its own store, so a resource created "
            "through one worker is unknown to the others; use SQLite or PostgreSQL to share data.",
            file=sys.stderr,
        )
    for api in app.gateway.apis:  # type: ignore[attr-defined]
        url = f"http://{settings.host}:{settings.port}{api.base_path}/"
        also = "".join(f", also at http://{settings.host}:{settings.port}{alias}/" for alias in api.spec.aliases)
        print(f"tmfgate: {api.spec.title} at {url} (docs {url}ui/{also})", flush=True)
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": settings.log_level == "debug",
        "lifespan": "on",
        "http": "tmfgate.onewrite:OneWriteHttpToolsProtocol",
    }
    if settings.workers > 1 and workers.supported():
        return workers.serve(settings.workers, options)  # a listening socket per worker
    if settings.workers > 1:
        uvicorn.run("tmfgate.app:create_app", factory=True, workers=settings.workers, **options)
    else:
        uvicorn.run(app, **options)
    return 0


def dispatch(settings: Settings) -> int:
    """Deliver events from the configured store until Ctrl-C or SIGTERM; the API is served elsewhere."""
    from backends import open_backend  # noqa: PLC0415 - only this command opens a store itself
    from backends.base import BackendConfigurationError, StorageError  # noqa: PLC0415
    from tmfgate import model, specs  # noqa: PLC0415

    if settings.database_url.startswith("memory:"):
        raise ConfigurationError(
            "tmfgate dispatch needs the gateway's store: memory:// lives inside one gateway "
            "process, so use SQLite or PostgreSQL (--database-url), or let the gateway "
            "dispatch its own events (TMFGATE_DISPATCHER=on)."
        )
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    apis = [model.build(spec) for spec in specs.load_all()]
    try:
        backend = open_backend(settings.database_url)
    except BackendConfigurationError as exc:
        raise ConfigurationError(str(exc)) from exc
    try:
        asyncio.run(_dispatch(settings, backend, apis))
    except StorageError as exc:
        print(f"tmfgate: {exc}", file=sys.stderr)
        return 1
    return 0


def bill_run(settings: Settings, period: str) -> int:
    """Run the billing cycle of one month on the configured store, then print what it billed.

    The rating and billing rules belong to the TMF678 handlers; the command finds ``bill_run`` there
    by name, as the resolver finds operations, so the core imports no handler."""
    from backends import open_backend  # noqa: PLC0415 - only this command and dispatch open a store themselves
    from backends.base import BackendConfigurationError, StorageError  # noqa: PLC0415
    from tmfgate import model, specs  # noqa: PLC0415
    from tmfgate.resolver import handler_module  # noqa: PLC0415

    if settings.database_url.startswith("memory:"):
        raise ConfigurationError(
            "tmfgate bill-run needs the gateway's store: memory:// lives inside one gateway "
            "process, so use SQLite or PostgreSQL (--database-url); a memory gateway bills "
            "through POST /customerBillOnDemand."
        )
    module = handler_module("tmf678_bill")
    run = getattr(module, "bill_run", None) if module is not None else None
    if run is None:
        raise ConfigurationError("Billing is not installed: handlers/tmf678_bill.py has no bill_run.")
    apis = [model.build(spec) for spec in specs.load_all()]
    try:
        backend = open_backend(settings.database_url)
    except BackendConfigurationError as exc:
        raise ConfigurationError(str(exc)) from exc

    async def billed() -> str:
        from tmfgate.gateway import Gateway  # noqa: PLC0415

        # The gateway without HTTP and without a dispatcher: the bills' events wait in the outbox for
        # the serving gateway (or a ``tmfgate dispatch``) to deliver.
        gateway = Gateway(settings.with_overrides(dispatcher=False), apis, backend)
        await gateway.start()
        try:
            return str(await run(gateway, period))
        finally:
            await gateway.stop()

    try:
        print(asyncio.run(billed()), flush=True)
    except StorageError as exc:
        print(f"tmfgate: the store cannot be used: {exc}", file=sys.stderr)
        return 1
    return 0


async def _dispatch(settings: Settings, backend: Backend, apis: list[ApiModel]) -> None:
    from tmfgate.gateway import Gateway  # noqa: PLC0415

    # The whole gateway but its HTTP side: the same store, catalog, events and reactions.
    gateway = Gateway(settings.with_overrides(dispatcher=True), apis, backend)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    try:
        await gateway.start()
        names = ", ".join(api.spec.title for api in apis if "hub" in api.resources) or "no API with a hub"
        print(f"tmfgate: dispatching the events of {names} (Ctrl-C stops)", flush=True)
        await stop.wait()
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)
        await gateway.stop()
