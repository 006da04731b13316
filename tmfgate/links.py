"""Links: where the hrefs the home versions wrote lead in a face version, across every API that has one.

A stored document holds hrefs of the home versions (v4), its own and other APIs' (an order item's
``product.href`` is TMF637's). A v5 reply or event shows each href of an API that has a v5 face at that
face's path, its resource renamed as the face names it (TMF642 v4 ``ackAlarms`` is v5 ``ackAlarm``); an
href of an API without one stays as it is. One :class:`Links` serves all the faces of one version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """Where one home API's hrefs lead: the face's base path and the resources it names otherwise."""

    base_path: str
    kinds: Mapping[str, str]  # home resource -> face resource, for those that differ

    def shown(self, rest: str) -> str:
        """The part of an href after the home base path (``ackAlarms/t1``), after the face's base path."""
        kind, slash, tail = rest.partition("/")
        return f"{self.base_path}/{self.kinds.get(kind, kind)}{slash}{tail}"


class Links:
    """The home base paths of the APIs that have a face of one version, and where each leads."""

    def __init__(self) -> None:
        self._targets: dict[str, Target] = {}
        self._patterns: tuple[re.Pattern[bytes], re.Pattern[bytes]] | None = None

    def add(self, home_base_path: str, face_base_path: str, kinds: Mapping[str, str]) -> None:
        """An API with a face: its hrefs under ``home_base_path`` lead to ``face_base_path``."""
        self._targets[home_base_path + "/"] = Target(face_base_path, dict(kinds))
        self._patterns = None

    def href(self, href: str, likely: str | None = None) -> str:
        """One href as the face version shows it; unchanged when it names no API with a face. The home
        base path ``likely`` is looked for first (a face's own documents name its own API)."""
        if likely is not None:
            start = href.find(likely + "/")
            if start >= 0:
                return href[:start] + self._targets[likely + "/"].shown(href[start + len(likely) + 1 :])
        for home, target in self._targets.items():
            start = href.find(home)
            if start >= 0:
                return href[:start] + target.shown(href[start + len(home) :])
        return href

    def shown(self, body: bytes) -> bytes:
        """Every ``href`` in an encoded JSON ``body`` as the face version shows it."""
        if not self._targets:
            return body
        pattern, homes = self._patterns or self._compiled()
        # Most bodies name no home version (a v5 reply's own href is shown already): one scan says so.
        return pattern.sub(self._replaced, body) if homes.search(body) else body

    def _replaced(self, found: re.Match[bytes]) -> bytes:
        target = self._targets[found[2].decode()]
        return b'"href":"' + found[1] + target.shown(found[3].decode()).encode() + b'"'

    def _compiled(self) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
        """The pattern of an href naming a home version, and of a home version anywhere."""
        homes = b"|".join(re.escape(home.encode()) for home in sorted(self._targets, key=len, reverse=True))
        # An href holding an escaped character (a quote, a backslash) is left as it is.
        href = re.compile(rb'"href":"([^"\\]*?)(' + homes + rb')([^"\\]*)"')
        self._patterns = (href, re.compile(homes))
        return self._patterns


__all__ = ["Links", "Target"]
