"""Several server processes on one port, each listening on a socket of its own (Linux SO_REUSEPORT).

uvicorn's ``--workers`` shares one listening socket among its processes, and whichever wakes first
accepts whatever is waiting: a client that opens its connections together (a partner's pool, a
load generator) often finds them all on one process while the others idle, which halves what two
workers serve (seen in benchmarks/post_order.py: 16 connections on one worker and none on the
other). Here each worker binds the port itself with ``SO_REUSEPORT``, and the kernel spreads new
connections over the workers' sockets by their addresses.

The parent only supervises: it checks the port is free (so a second gateway on the same port
fails at once rather than silently sharing it), starts the workers, starts another when one dies,
and on SIGINT or SIGTERM asks each to finish its requests (SIGTERM, as uvicorn's supervisor does)
and waits. A worker that fails while starting up (its store unreachable, say) stops the whole
server, as it would fail the same way again.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
import warnings
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("tmfgate")

STOP_TIMEOUT = 30.0  # seconds a worker has to finish its requests before it is killed
CHECK_INTERVAL = 0.5  # seconds between looks at the workers


def supported() -> bool:
    """Whether the kernel balances connections over sockets sharing a port (Linux does; macOS and
    the BSDs let SO_REUSEPORT bind but hand every connection to one socket)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int, *, share: bool) -> socket.socket:
    """A TCP socket bound to ``host:port``; with ``share``, one of several on that port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if share:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


GATEWAY = {"app": "tmfgate.app:create_app", "factory": True}


def serve(count: int, options: dict[str, Any]) -> int:
    """Run ``count`` workers until SIGINT or SIGTERM; ``options`` are uvicorn.Config's, ``host`` and
    ``port`` included, and name the app (``app``, ``factory``) unless it is the gateway's."""
    options = options if "app" in options else {**GATEWAY, **options}
    host, port = options["host"], options["port"]
    if port == 0:  # each worker would get a port of its own
        print("tmfgate: several workers need a port to share; give --port a number other than 0.", file=sys.stderr)
        return 2
    try:
        listening_socket(host, port, share=False).close()  # in use: fail now, whoever holds it
    except OSError as exc:
        print(f"tmfgate: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each: no inherited event loop
    workers = [_start(context, options) for _ in range(count)]
    status = 0
    try:
        while not stop.wait(CHECK_INTERVAL):
            for index, worker in enumerate(workers):
                if worker.is_alive():
                    continue
                if worker.exitcode == _startup_failure():
                    print(f"tmfgate: worker {worker.pid} failed to start; stopping.", file=sys.stderr)
                    stop.set()
                    status = 1
                    break
                print(
                    f"tmfgate: worker {worker.pid} exited ({worker.exitcode}); starting another.",
                    file=sys.stderr,
                    flush=True,
                )
                workers[index] = _start(context, options)
    finally:
        _stop_all(workers)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _start(context: Any, options: dict[str, Any]) -> BaseProcess:
    worker: BaseProcess = context.Process(target=_run_worker, args=(options,), name="tmfgate-worker")
    worker.start()
    print(f"tmfgate: worker {worker.pid} started", file=sys.stderr, flush=True)
    return worker


def _stop_all(workers: list[BaseProcess]) -> None:
    for worker in workers:
        if worker.is_alive():
            worker.terminate()  # SIGTERM: uvicorn finishes the requests in flight, then exits
    for worker in workers:
        worker.join(STOP_TIMEOUT)
        if worker.is_alive():
            worker.kill()
            worker.join()


def _startup_failure() -> int:
    from uvicorn.config import STARTUP_FAILURE  # noqa: PLC0415 - uvicorn is imported by serve only

    return int(STARTUP_FAILURE)


def _run_worker(options: dict[str, Any]) -> None:
    """One worker: its own socket on the shared port, and the app (the gateway builds itself from
    the environment)."""
    import uvicorn  # noqa: PLC0415 - in the worker process

    quiet_connexion_import()
    sock = listening_socket(options["host"], options["port"], share=True)
    config = uvicorn.Config(**options)
    uvicorn.Server(config).run(sockets=[sock])


def quiet_connexion_import() -> None:
    """Connexion imports Starlette's test client, which warns that httpx is deprecated for it: a
    warning about connexion's imports, not about anything the gateway does, so the program hides it."""
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")


__all__ = ["listening_socket", "quiet_connexion_import", "serve", "supported"]
