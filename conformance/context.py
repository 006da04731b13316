"""What every check receives: the API, the HTTP client, options, and helpers to make tagged test data."""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

from conformance.client import Client, ReadOnlyError, body_of, excerpt
from conformance.listener import Listener
from conformance.payloads import build_payload
from conformance.spec import Api, Resource


class Fail(Exception):
    """The server broke a rule; the message says what was expected and what came back."""


class Skip(Exception):
    """The check does not apply to this resource or API; the message says why."""


def expect(condition: object, message: str) -> None:
    """Fail the check with ``message`` unless ``condition`` holds."""
    if not condition:
        raise Fail(message)


@dataclass
class Options:
    """Settings of a run, from the command line."""

    listener_host: str = "127.0.0.1"
    event_timeout: float = 10.0
    payloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    read_only: bool = False
    keep: bool = False


@dataclass(frozen=True)
class Cleanup:
    """What the end of a run deleted, and what it left behind (with the reason)."""

    deleted: int
    left: list[str]
    reason: str = ""

    def line(self) -> str:
        shown = ", ".join(self.left[:3]) + (", ..." if len(self.left) > 3 else "")
        left = f"; left {len(self.left)} ({self.reason}): {shown}" if self.left else ""
        return f"cleanup: deleted {self.deleted} resource(s) this run created{left}"


@dataclass
class Context:
    """State shared by the checks of one run."""

    api: Api
    client: Client
    options: Options = field(default_factory=Options)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    created: list[str] = field(default_factory=list)
    listener: Listener | None = None
    _counter: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)

    @property
    def _linking(self) -> set[str]:
        """References being linked by this thread's check (checks run in parallel with ``--workers``)."""
        linking: set[str] | None = getattr(self._local, "linking", None)
        if linking is None:
            linking = self._local.linking = set()
        return linking

    def tag(self, label: str = "t") -> str:
        """A value no other run or check uses, to find exactly the data a check created."""
        with self._lock:
            self._counter += 1
            return f"cf{self.run_id}-{label}{self._counter}"

    def remember(self, path: str) -> None:
        """Note a resource this run created, to delete it at the end."""
        with self._lock:
            self.created.append(path)

    def payload(self, res: Resource) -> dict[str, Any]:
        """A fresh copy of the create body for ``res``: the ``--payload`` override or the built one.

        Each body gets a tag of its own in the last free-text attribute (checks tag the first ones),
        so no two creates send the same report twice: a TMF642 server rightly merges a re-raised
        alarm into the first."""
        if res.name in self.options.payloads:
            body = copy.deepcopy(self.options.payloads[res.name])
        else:
            body = build_payload(self.api.docs, res.create_schema, res.class_name)
            self._link_references(res, body)
        if len(res.string_attrs) > 2:
            body[res.string_attrs[-1]] = self.tag("p")
        return body

    def _link_references(self, res: Resource, body: dict[str, Any]) -> None:
        """Point references to resources of this API at real instances, created for the purpose.

        A task such as ``cancelProductOrder`` needs an existing ``productOrder``; an invented id would be
        refused, rightly.
        """
        for key, value in body.items():
            target = next((r for r in self.api.resources if r.name == key and r is not res), None)
            refs = value if isinstance(value, list) else [value]
            if target is None or key in self._linking or not all(isinstance(r, dict) for r in refs):
                continue
            self._linking.add(key)
            try:
                for ref in refs:
                    other = self.create(target)
                    ref["id"] = other["id"]
                    if isinstance(other.get("href"), str):
                        ref["href"] = other["href"]
            finally:
                self._linking.discard(key)

    def item_path(self, res: Resource, id: str) -> str:
        """The path of one instance: the spec's item path with ``id`` filled in."""
        if res.item_path is None:
            raise Skip(f"the spec defines no item path for {res.collection_path}")
        head = res.item_path.rsplit("/", 1)[0]
        return f"{head}/{id}"

    def create(self, res: Resource, **attributes: Any) -> dict[str, Any]:
        """POST a valid body with ``attributes`` set; fails the check unless the server answers 201."""
        return self.post_valid(res, {**self.payload(res), **attributes})

    def post_valid(self, res: Resource, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body``; fails the check unless the server answers 201 with an id."""
        if self.options.read_only:
            raise Skip("creates data; left out by --read-only")
        response = self.client.post(res.collection_path, body)
        created = body_of(response)
        expect(
            response.status_code == 201 and isinstance(created, dict) and isinstance(created.get("id"), str),
            f"POST {res.collection_path} with a valid body: expected 201 and a resource with an id, got "
            f"{excerpt(response)}",
        )
        self.remember(self.item_path(res, created["id"]))
        return dict(created)

    def create_many(self, res: Resource, variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create one resource per attribute set in ``variants``."""
        return [self.create(res, **variant) for variant in variants]

    def require_tag_attr(self, res: Resource, count: int = 1) -> tuple[str, ...]:
        """``count`` free-text attributes to tag test data with; skips the check when there are fewer."""
        if len(res.string_attrs) < count:
            raise Skip(f"the create schema of {res.name} has fewer than {count} free-text attribute(s) to tag with")
        return res.string_attrs[:count]

    def get_listener(self) -> Listener:
        """The local listener for hub callbacks, started on first use."""
        with self._lock:
            if self.listener is None:
                self.listener = Listener(self.options.listener_host)
            return self.listener

    def cleanup(self) -> Cleanup:
        """Delete what the run created (unless ``--keep``), newest first; says what is left and why."""
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        created, self.created = list(reversed(self.created)), []
        if self.options.keep:
            return Cleanup(0, created, "kept by --keep")
        deletable = {r.collection_path for r in self.api.resources if r.has("delete")}
        deleted, left = 0, []
        for path in created:
            if path.rsplit("/", 1)[0] not in deletable:
                left.append(path)
                continue
            try:
                response = self.client.delete(path)
            except (OSError, ReadOnlyError, requests.RequestException):
                left.append(path)
                continue
            if response.status_code in (200, 202, 204):
                deleted += 1
            elif response.status_code != 404:  # 404: a check deleted it already (lifecycle.delete)
                left.append(path)
        reason = "the spec defines no DELETE for them, or DELETE failed" if left else ""
        return Cleanup(deleted, left, reason)
