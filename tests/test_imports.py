"""Importing tmfgate changes nothing process-wide: no warning filters, logging, signals or environment."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_importing_every_module_leaves_the_process_as_it_was() -> None:
    script = textwrap.dedent(
        """
        import importlib, logging, os, pkgutil, signal, sys, warnings

        def snapshot():
            return (
                list(warnings.filters),
                [(h, h.level) for h in logging.root.handlers],
                logging.root.level,
                logging.getLogger("tmfgate").level,
                {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)},
                dict(os.environ),
                list(sys.path),
                sys.getrecursionlimit(),
            )

        warnings.simplefilter("ignore")  # connexion's own import warns; that is connexion's doing
        # Libraries set their own filters on import (urllib3, requests): they are imported first.
        for library in ("connexion", "requests", "httpx", "uvicorn", "starlette", "sqlalchemy", "yaml", "orjson"):
            importlib.import_module(library)
        before = snapshot()
        for package in ("tmfgate", "backends", "handlers"):
            module = importlib.import_module(package)
            for info in pkgutil.walk_packages(module.__path__, package + "."):
                if not info.name.endswith("__main__"):  # that one runs the command
                    importlib.import_module(info.name)
        after = snapshot()
        names = ("warnings", "handlers", "root level", "tmfgate level", "signals", "environ", "path", "recursion")
        for name, a, b in zip(names, before, after):
            if a != b:
                print(f"importing changed {name}")
                sys.exit(1)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
