"""The baseline echo served the way ``tmfgate serve --workers N`` serves the gateway on Linux.

Each worker listens on a socket of its own (:mod:`tmfgate.server.workers`), so the two targets of
post_order.py share out wrk's connections alike; uvicorn's own ``--workers`` would sometimes give
one worker all of them. Usage: ``python benchmarks/echo_workers.py HOST PORT WORKERS``.
"""

from __future__ import annotations

import sys

from tmfgate.server import workers

if __name__ == "__main__":
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    # The workers import echo_app from this folder: spawned processes get this process's sys.path.
    sys.exit(
        workers.serve(
            count, {"app": "echo_app:app", "host": host, "port": port, "log_level": "warning", "access_log": False}
        )
    )
