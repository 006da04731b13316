"""Every check, by family, in the order they run: the one place where checks are registered."""

from __future__ import annotations

from conformance.checks import (
    errors,
    etag,
    filters,
    hub,
    lifecycle,
    links,
    methods,
    notifications,
    paging,
    patch,
    polymorphism,
    queries,
    refusals,
    root,
)
from conformance.checks.base import ApiCheck, Check, ResourceCheck

# Checks that wait (events, grace periods) come last within their family; --workers runs them side by side.
FAMILIES: dict[str, list[Check]] = {
    "root": root.CHECKS,
    "lifecycle": lifecycle.CHECKS,
    "queries": queries.CHECKS + filters.CHECKS + refusals.CHECKS,
    "paging": paging.CHECKS,
    "patch": patch.CHECKS,
    "errors": errors.CHECKS,
    "methods": methods.CHECKS,
    "etag": etag.CHECKS,
    "links": links.CHECKS,
    "polymorphism": polymorphism.CHECKS,
    "hub": hub.CHECKS + notifications.CHECKS,
}

__all__ = ["FAMILIES", "ApiCheck", "Check", "ResourceCheck"]
