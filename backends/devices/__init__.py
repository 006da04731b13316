"""The example adapter: TMF639 resources kept in an existing ``devices`` table that is not ours."""

from __future__ import annotations

from .adapter import DevicesAdapter, devices

__all__ = ["DevicesAdapter", "devices"]
