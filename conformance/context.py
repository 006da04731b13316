"""What every check receives: the API, the HTTP client, options, and helpers to make tagged test data."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any

from conformance.client import Client, body_of, excerpt
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
    _linking: set[str] = field(default_factory=set)

    def tag(self, label: str = "t") -> str:
        """A value no other run or check uses, to find exactly the data a check created."""
        self._counter += 1
        return f"cf{self.run_id}-{label}{self._counter}"

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
        response = self.client.post(res.collection_path, body)
        created = body_of(response)
        expect(
            response.status_code == 201 and isinstance(created, dict) and isinstance(created.get("id"), str),
            f"POST {res.collection_path} with a valid body: expected 201 and a resource with an id, got "
            f"{excerpt(response)}",
        )
        self.created.append(self.item_path(res, created["id"]))
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
        if self.listener is None:
            self.listener = Listener(self.options.listener_host)
        return self.listener

    def cleanup(self) -> None:
        """Delete what the run created, when the spec lets us; errors are ignored."""
        deletable = {r.collection_path for r in self.api.resources if r.has("delete")}
        for path in self.created:
            if path.rsplit("/", 1)[0] in deletable:
                try:
                    self.client.delete(path)
                except Exception:  # noqa: BLE001 - best effort, the server may be gone
                    break
        self.created.clear()
        if self.listener is not None:
            self.listener.close()
            self.listener = None
