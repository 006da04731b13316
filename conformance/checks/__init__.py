"""Every check, by family, in the order they run: the one place where checks are registered."""

from __future__ import annotations

from conformance.checks import errors, filters, hub, lifecycle, notifications, patch, queries
from conformance.checks.base import ApiCheck, Check, ResourceCheck

FAMILIES: dict[str, list[Check]] = {
    "lifecycle": lifecycle.CHECKS,
    "queries": queries.CHECKS + filters.CHECKS,
    "patch": patch.CHECKS,
    "errors": errors.CHECKS,
    "hub": hub.CHECKS + notifications.CHECKS,
}

__all__ = ["FAMILIES", "ApiCheck", "Check", "ResourceCheck"]
