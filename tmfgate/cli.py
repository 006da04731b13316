"""The ``tmfgate`` command: ``serve`` the gateway, or run the ``conformance`` tool against a server."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from tmfgate.errors import ConfigurationError
from tmfgate.settings import Settings


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
    serve.add_argument("--database-url", help="memory://, sqlite:///file.db (default sqlite:///tmfgate.db) "
                                              "or postgresql+psycopg://user@host/db")
    serve.add_argument("--workers", type=int, help="server processes (default 1)")
    serve.add_argument("--max-limit", type=int, help="largest page a list returns (default: no limit)")
    serve.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug"])
    conformance = commands.add_parser(
        "conformance", help="check a TMF server against the TM Forum rules (see 'tmfgate conformance -h')",
        add_help=False)
    conformance.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "conformance":
        from conformance.cli import main as conformance_main  # noqa: PLC0415 - the one allowed import

        return conformance_main(list(args.args))
    try:
        settings = Settings.from_env().with_overrides(
            host=args.host, port=args.port, database_url=args.database_url, workers=args.workers,
            max_limit=args.max_limit, log_level=args.log_level)
        return serve(settings)
    except ConfigurationError as exc:
        print(f"tmfgate: {exc}", file=sys.stderr)
        return 2


def serve(settings: Settings) -> int:
    """Run uvicorn with the gateway; several workers each build their own app from the environment."""
    import uvicorn  # noqa: PLC0415 - only the serve command needs the server

    from tmfgate.app import create_app  # noqa: PLC0415

    app = create_app(settings)  # fails here, before any worker starts, when misconfigured
    os.environ.update(settings.to_env())
    if settings.workers > 1 and settings.database_url.startswith("memory:"):
        print("tmfgate: warning: with memory:// each worker keeps its own store, so a resource created "
              "through one worker is unknown to the others; use SQLite or PostgreSQL to share data.",
              file=sys.stderr)
    for api in app.gateway.apis:  # type: ignore[attr-defined]
        url = f"http://{settings.host}:{settings.port}{api.base_path}/"
        print(f"tmfgate: {api.spec.title} at {url} (docs {url}ui/)", flush=True)
    options: dict[str, Any] = {"host": settings.host, "port": settings.port, "log_level": settings.log_level,
               "access_log": settings.log_level == "debug", "lifespan": "on"}
    if settings.workers > 1:
        uvicorn.run("tmfgate.app:create_app", factory=True, workers=settings.workers, **options)
    else:
        uvicorn.run(app, **options)
    return 0
