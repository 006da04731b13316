"""``tmfgate COMMAND`` run in the test's own process, as the console script runs it (``tmfgate.cli.main``).

A command in a process of its own first imports the gateway, ~1.2 s of CPU and several seconds of wall
time on a loaded CI machine; in process it costs only its work. Tests keep a real process where the
process is what they test (runs at once, signals, ``serve``), and for ``dispatch``, which configures
logging process-wide.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from unittest import mock

from tmfgate.cli import main


@dataclass(frozen=True)
class Ran:
    """What a command did: its exit status and what it wrote."""

    returncode: int
    stdout: str
    stderr: str


def run_tmfgate(*argv: str, env: Mapping[str, str] | None = None) -> Ran:
    """``tmfgate ARGV`` with ``env`` over this process's environment for its run; its exit status is what
    ``main`` returns, or the code of the ``SystemExit`` argparse raises (``--help``, a bad option)."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, dict(env or {})), redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as stop:
            code = 0 if stop.code is None else stop.code if isinstance(stop.code, int) else 1
    return Ran(code, out.getvalue(), err.getvalue())
