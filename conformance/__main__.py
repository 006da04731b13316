"""``python -m conformance``: run the conformance checks (see :mod:`conformance.cli`)."""

from __future__ import annotations

from conformance.cli import main

raise SystemExit(main())
