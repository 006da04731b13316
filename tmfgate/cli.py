"""The ``tmfgate`` command: ``serve`` the gateway, ``dispatch`` its events, the commands extensions add
(operator commands, ``bill-run``, ...), ``settings``, and the ``conformance`` tool.

Every option comes from a declared setting (:mod:`tmfgate.settings`), so ``--help``, the
``TMFGATE_*`` variables and the README's configuration table say the same.
"""

from __future__ import annotations

import argparse
import asyncio
import logging.config
import os
import re
import signal
import sys
from collections.abc import Sequence
from typing import Any

from backends import redacted
from backends.base import StorageError
from tmfgate import __version__, configuration, database, logs, observability
from tmfgate.database import sqlite_file
from tmfgate.errors import ConfigurationError
from tmfgate.extensions import Command, Registry
from tmfgate.runtime import Runtime, installed
from tmfgate.server import workers
from tmfgate.settings import Setting, Settings, auth_configured, loopback_only, markdown_table

PROTOCOL = "tmfgate.server.guards:GuardedHttpToolsProtocol"


def build_parser(registry: Registry) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tmfgate",
        description="TM Forum Open API gateway. Every option can also be set with its TMFGATE_* environment "
        "variable (--database-url: TMFGATE_DATABASE_URL); an option given wins over its variable.",
    )
    parser.add_argument("--version", action="version", version=f"tmfgate {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    declared = registry.settings
    _command(
        commands, "serve", "serve every API over HTTP", [setting for setting in declared if not setting.dispatch_only]
    )
    _command(
        commands,
        "dispatch",
        "deliver the hub notifications and run the reactions of a shared store without serving HTTP "
        "(scale-out; gateways may then run with --dispatcher off)",
        [setting for setting in declared if not setting.serve_only],
    )
    database.arguments(
        commands.add_parser("db", help=database.HELP, description=database.HELP.capitalize() + "."),
        lambda action: _options(action, (Settings.database_url, Settings.config)),
    )
    for command in registry.commands:
        command.arguments(_command(commands, command.name, command.help, command.settings))
    show = _command(
        commands, "settings", "show every setting, its variable and the value it has here", (Settings.config,)
    )
    show.add_argument("--markdown", action="store_true", help="print the README's configuration table instead")
    commands.add_parser(
        "conformance",
        help="check a TMF server against the TM Forum rules (see 'tmfgate conformance -h')",
        description="check a TMF server against the TM Forum rules",
        add_help=False,
    ).add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help: str,
    settings: Sequence[Setting[Any]],
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".")
    _options(parser, settings)
    return parser


def _options(parser: argparse.ArgumentParser, settings: Sequence[Setting[Any]]) -> None:
    """An option for each setting."""
    for setting in settings:
        parser.add_argument(
            setting.option,
            dest=setting.name,
            metavar=None if setting.choices else setting.metavar,
            choices=setting.choices,
            nargs="?" if setting.const is not None else None,
            const=setting.const,
            type=_option(setting),
            help=f"{_plain(setting.help)} (default {setting.default_text}; {setting.variable})",
        )


def _option(setting: Setting[Any]) -> Any:
    """The argparse type of a setting's option: its own parser, its errors as argparse's."""
    if setting.choices:
        return str  # argparse checks the choices; the value is parsed with the others below

    def parse(raw: str) -> Any:
        try:
            return setting.parse(raw)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = setting.name
    return parse


def _plain(text: str) -> str:
    """A README help text as plain text for argparse: no code marks or links, ``%`` escaped."""
    return re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text).replace("`", "").replace("%", "%%")


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["conformance"]:
        # Everything after the word is the tool's own (argparse's REMAINDER would take -h itself).
        from conformance.cli import main as conformance_main  # noqa: PLC0415 - the one allowed import

        return conformance_main(given[1:])
    try:
        registry = installed()
        parser = build_parser(registry)
        args = parser.parse_args(given)
        if args.command is None:
            parser.print_help()
            return 2
        settings = _settings(args, registry)
        if args.command == "serve":
            return serve(settings, registry)
        if args.command == "dispatch":
            return dispatch(settings, registry)
        if args.command == "db":
            return database.run(args, settings)
        if args.command == "settings":
            return show_settings(settings, registry, markdown=args.markdown)
        command = next(command for command in registry.commands if command.name == args.command)
        return run_command(command, args, settings, registry)
    except ConfigurationError as exc:
        print(f"tmfgate: {exc}", file=sys.stderr)
        return 2


def _settings(args: argparse.Namespace, registry: Registry) -> Settings:
    """The configuration file's values, overridden by the variables, then by the options given (choices
    arrive as text)."""
    options = {}
    for setting in registry.settings:
        value = getattr(args, setting.name, None)
        if value is not None:
            options[setting.name] = setting.from_text(value, setting.option) if setting.choices else value
    return configuration.settings(registry.settings, options=options)


def serve(settings: Settings, registry: Registry) -> int:
    """Run uvicorn with the gateway; several workers each build their own app from the environment,
    and on Linux each listens on a socket of its own (:mod:`tmfgate.server.workers`)."""
    import uvicorn  # noqa: PLC0415 - only the serve command needs the server

    exposure = _exposure(settings)
    workers.quiet_connexion_import()
    from tmfgate.app import create_app  # noqa: PLC0415 - nor the whole request path

    app = create_app(settings, registry=registry)  # fails here, before any worker starts, when misconfigured
    problem = asyncio.run(_store_problem(app.runtime))
    if problem is not None:
        print(f"tmfgate: cannot use the store at {redacted(settings.database_url)}: {problem}", file=sys.stderr)
        return 1
    os.environ.update(settings.to_env(registry.settings))
    if settings.workers > 1 and settings.database_url.startswith("memory:"):
        print(
            "tmfgate: warning: with memory:// each worker keeps its own store, so a resource created "
            "through one worker is unknown to the others; use SQLite or PostgreSQL to share data.",
            file=sys.stderr,
        )
    print(f"tmfgate: store {redacted(settings.database_url)}", flush=True)
    if exposure:
        print(f"tmfgate: {exposure}", flush=True)
    for api in app.gateway.apis:
        url = f"http://{settings.host}:{settings.port}{api.base_path}/"
        also = "".join(f", also at http://{settings.host}:{settings.port}{alias}/" for alias in api.spec.aliases)
        print(f"tmfgate: {api.spec.title} at {url} (docs {url}ui/{also})", flush=True)
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": settings.log_level == "debug",
        "lifespan": "on",
        "http": PROTOCOL,
        "limit_concurrency": settings.max_connections,  # past it uvicorn answers 503
        "server_header": False,  # no banner naming the server (F-21)
    }
    if settings.log_format == "json":  # uvicorn's own lines too, and no access log beside the request lines
        options.update(log_config=logs.config(settings.log_format, settings.log_level), access_log=False)
    if settings.workers > 1 and workers.supported():
        return workers.serve(settings.workers, options)  # a listening socket per worker
    if settings.workers > 1:
        uvicorn.run("tmfgate.app:create_app", factory=True, workers=settings.workers, **options)
    else:
        uvicorn.run(app, **options)
    return 0


def _exposure(settings: Settings) -> str | None:
    """What the operator must know of who can reach the APIs; a ConfigurationError for an address other
    than loopback without authentication, unless ``--insecure`` (security review F-01)."""
    if auth_configured(settings):
        return None
    if loopback_only(settings.host):
        return f"no authentication (--auth): listening on loopback only, {settings.host}, so only this machine can call"
    if not settings.insecure:
        raise ConfigurationError(
            f"Listening on {settings.host or 'every address'} without authentication would let anyone who "
            'reaches it read and change every partner\'s data: configure --auth (README "Security"), or give '
            "--insecure when a proxy in front authenticates partners."
        )
    return f"warning: no authentication (--auth) on {settings.host or 'every address'}: --insecure serves anyone"


async def _store_problem(runtime: Runtime) -> str | None:
    """Why the store cannot be opened, in a sentence, or None: checked before serving, so that an
    unreachable database is one line rather than a failed start-up's traceback."""
    backend = runtime.gateway.backend
    try:
        await backend.open()
    except StorageError as exc:
        return " ".join(str(exc).split())  # drivers write several lines
    finally:
        await backend.close()
    return None


def dispatch(settings: Settings, registry: Registry) -> int:
    """Deliver events from the configured store until Ctrl-C or SIGTERM; the API is served elsewhere."""
    if settings.database_url.startswith("memory:"):
        raise ConfigurationError(
            "tmfgate dispatch needs the gateway's store: memory:// lives inside one gateway "
            "process, so use SQLite or PostgreSQL (--database-url), or let the gateway "
            "dispatch its own events (TMFGATE_DISPATCHER=on)."
        )
    logging.config.dictConfig(logs.config(settings.log_format, settings.log_level))
    runtime = Runtime(settings, registry=registry)
    try:
        asyncio.run(_dispatch(runtime))
    except StorageError as exc:
        return _cannot_use(settings.database_url, exc)
    return 0


async def _dispatch(runtime: Runtime) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    try:
        await runtime.start(deliver=True)
        apis = runtime.gateway.apis
        names = ", ".join(api.spec.title for api in apis if "hub" in api.resources) or "no API with a hub"
        print(f"tmfgate: dispatching the events of {names} (Ctrl-C stops)", flush=True)
        address = runtime.gateway.settings.metrics_port
        if address:
            print(f"tmfgate: /metrics at http://{address}/metrics", flush=True)
            await observability.serve_metrics(runtime.gateway, address, stop)
        await stop.wait()
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)
        await runtime.stop()


def run_command(command: Command, args: argparse.Namespace, settings: Settings, registry: Registry) -> int:
    """Run an extension's command on the configured store, without HTTP and without delivering events:
    what it writes waits in the outbox for the serving gateway (or ``tmfgate dispatch``) to deliver."""
    url = settings.database_url
    if url.startswith("memory:"):
        raise ConfigurationError(
            f"tmfgate {command.name} needs the gateway's store: memory:// lives inside one gateway process, "
            "so give the gateway's SQLite or PostgreSQL store (--database-url), or use the gateway's API."
        )
    database = sqlite_file(url)
    if database is not None and not database.exists():
        # Opening would create an empty database; the operator most likely meant another file.
        raise ConfigurationError(f"There is no database at {database}; give the gateway's --database-url.")
    runtime = Runtime(settings, registry=registry, prepare=command.prepare)

    async def run() -> int:
        await runtime.start(deliver=False)
        try:
            return await command.run(args, runtime.gateway)
        finally:
            await runtime.stop()

    try:
        return asyncio.run(run())
    except StorageError as exc:
        return _cannot_use(url, exc)


def _cannot_use(url: str, problem: StorageError) -> int:
    """Say in one line, its password hidden, why the store cannot be used (drivers write several)."""
    print(f"tmfgate: cannot use the store at {redacted(url)}: {' '.join(str(problem).split())}", file=sys.stderr)
    return 1


def show_settings(settings: Settings, registry: Registry, *, markdown: bool) -> int:
    if markdown:
        print(markdown_table(registry.settings))
        return 0
    given = settings.given
    for setting in registry.settings:
        note = "" if setting.name in given else "  # the default"
        print(f"{setting.variable}={setting.to_text(settings.get(setting))}{note}")
    return 0
