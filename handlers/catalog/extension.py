"""The catalog extension: the ``catalog`` setting, which the catalog APIs and fulfilment read."""

from __future__ import annotations

from handlers.catalog.loading import CATALOG
from tmfgate.extensions import Handlers

extension = Handlers("catalog", settings=[CATALOG])
