"""``python -m conformance``, the same as ``tmfgate conformance`` (see :mod:`conformance.cli`)."""

from __future__ import annotations

from conformance.cli import main

raise SystemExit(main())
