"""The upstream store's parts: a parsed query written back as parameters, the breaker, merge patches."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import orjson
import pytest

from backends.errors import StorageUnavailable, Unsupported
from backends.queries import Query
from backends.upstream import CircuitBreaker
from backends.upstream.params import parameters
from backends.upstream.store import UpstreamOptions, UpstreamStore, merge_patch
from tmfgate.query import parse_query
from tmfgate.runtime import load_apis

RESOURCE = next(api for api in load_apis() if api.name == "tmf639_resource_inventory").resources["resource"]


def parsed(raw: str) -> Query:
    return parse_query(raw, attribute_kind=RESOURCE.attribute_kind, attribute_known=RESOURCE.attribute_known)


@pytest.mark.parametrize(
    "raw",
    [
        "name=olt-1",
        "category=olt,ont&resourceStatus.ne=reserved",
        'name="a,b"',
        "name.regex=^olt-[0-9]+$",
        "startOperatingDate.gte=2025-01-10T08:00:00Z&startOperatingDate.lt=2025-02-01",
        "startOperatingDate=2025-01-10",
        "relatedParty.id=p1&sort=-name,category&offset=20&limit=10",
        "fields=name,category",
        "fields=none",
    ],
)
def test_a_query_written_back_parses_to_the_same_query(raw: str) -> None:
    query = parsed(raw)
    again = parsed(urlencode(parameters(query)))
    assert again == query and again.fields == query.fields


def test_a_json_path_filter_is_not_passed_on() -> None:
    # An upstream need not evaluate JSON Path (TMF630 Part 6 makes it optional): refused, not dropped.
    with pytest.raises(Unsupported, match="JSON Path"):
        parameters(parsed("state=a&filter=note[?(@.author=='x')]"))


def test_the_breaker_opens_after_failures_and_lets_one_trial_through() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=2, reset=10, clock=lambda: now[0])
    breaker.failed()
    assert breaker.wait() is None
    breaker.failed()
    assert breaker.wait() == 10 and breaker.open
    now[0] = 10.5
    assert breaker.wait() is None  # the trial
    assert breaker.wait() == 10  # others wait for its outcome
    breaker.failed()  # the trial failed: open again, for a whole reset
    assert breaker.wait() == 10
    now[0] = 21
    assert breaker.wait() is None
    breaker.succeeded()
    assert breaker.wait() is None and not breaker.open


def test_merge_patch_sends_only_the_change() -> None:
    old = {"id": "1", "name": "a", "note": "x", "place": {"id": "p", "name": "Paris"}, "tags": [1, 2]}
    new = {"id": "1", "name": "b", "place": {"id": "p", "name": "Lyon"}, "tags": [1, 2], "category": "olt"}
    assert merge_patch(old, new) == {"name": "b", "note": None, "place": {"name": "Lyon"}, "category": "olt"}
    assert merge_patch(old, old) == {}


@pytest.mark.anyio
async def test_a_store_the_gateway_is_not_subscribed_at_refuses_creates_until_it_is() -> None:
    """What is created at an upstream whose hub does not notify us yet could change unheard (its events lost)."""
    created: list[bytes] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            created.append(request.content)
        return httpx.Response(201, json={"id": "r1", "href": "http://oss/resource/r1", "@type": "Resource"})

    store = UpstreamStore(UpstreamOptions(url="http://oss"), transport=httpx.MockTransport(upstream))
    await store.open()
    try:
        store.deaf = True
        with pytest.raises(StorageUnavailable, match="not yet subscribed") as refused:
            await store.create("resource", b'{"@type": "Resource"}')
        assert refused.value.retry_after is not None and created == []
        store.deaf = False
        assert orjson.loads(await store.create("resource", b'{"@type": "Resource"}'))["id"] == "r1"
        assert len(created) == 1
    finally:
        await store.close()
