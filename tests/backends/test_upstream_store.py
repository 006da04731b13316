"""The upstream store against a scripted upstream (httpx's MockTransport): what it sends, how it
reads answers, errors and faults, hrefs rewritten both ways, retries and the breaker."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest

from backends.errors import (
    BadGateway,
    DuplicateId,
    GatewayTimeout,
    NotStored,
    Refused,
    StorageUnavailable,
    Unsupported,
)
from backends.queries import Condition, Op, Query, SortKey, ValueType
from backends.upstream.store import UpstreamOptions, UpstreamStore, merge_patch

pytestmark = pytest.mark.anyio

OSS = "http://oss/tmf-api/resourceInventoryManagement/v4"
OURS = "http://gw/tmf-api/resourceInventoryManagement/v4"
OPTIONS = UpstreamOptions(
    url=OSS,
    retries=2,
    breaker_failures=3,
    outward=((OSS, OURS),),
    inward=((OURS, OSS),),
    owned={"resource": frozenset({"lastUpdate"})},
)
Script = Callable[[httpx.Request], httpx.Response]


def resource(id: str = "r1", **attributes: Any) -> dict[str, Any]:
    return {"id": id, "href": f"{OSS}/resource/{id}", "@type": "Resource", **attributes}


class Upstream:
    """A scripted upstream that records what it was sent; ``/hub`` answers the store's probe."""

    def __init__(self, answer: Script) -> None:
        self.answer = answer
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/hub"):
            return httpx.Response(200, json=[])
        self.calls.append(request)
        return self.answer(request)


@contextlib.asynccontextmanager
async def store_of(answer: Script, options: UpstreamOptions = OPTIONS) -> AsyncIterator[tuple[UpstreamStore, Upstream]]:
    upstream = Upstream(answer)
    store = UpstreamStore(options, transport=httpx.MockTransport(upstream))
    await store.open()
    try:
        yield store, upstream
    finally:
        await store.close()


def test_merge_patch_sends_only_the_change() -> None:
    old = {"id": "1", "name": "a", "note": "x", "place": {"id": "p", "name": "Paris"}, "tags": [1, 2]}
    new = {"id": "1", "name": "b", "place": {"id": "p", "name": "Lyon"}, "tags": [1, 2], "category": "olt"}
    assert merge_patch(old, new) == {"name": "b", "note": None, "place": {"name": "Lyon"}, "category": "olt"}
    assert merge_patch(old, old) == {}


async def test_answers_carry_the_gateway_s_hrefs_and_bodies_the_upstream_s() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, content=request.content.replace(b'"name"', b'"id":"r1","name"'))
        return httpx.Response(200, json=resource(place={"href": f"{OSS}/place/p"}))

    async with store_of(answer) as (store, upstream):
        got = orjson.loads(await store.get("resource", "r1") or b"")
        assert got["href"] == f"{OURS}/resource/r1" and got["place"]["href"] == f"{OURS}/place/p"
        body = {
            "id": "mine",
            "href": "x",
            "lastUpdate": "2025-01-01T00:00:00Z",
            "name": "a",
            "place": {"href": f"{OURS}/place/p"},
        }
        await store.create("resource", orjson.dumps(body))
        sent = orjson.loads(upstream.calls[-1].content)
        # the upstream chooses the id and sets what it owns; references point at it
        assert sent == {"name": "a", "place": {"href": f"{OSS}/place/p"}}


async def test_a_list_passes_its_query_and_keeps_the_upstream_s_total() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(206, json=[resource("a"), resource("b")], headers={"x-total-count": "7"})

    async with store_of(answer) as (store, upstream):
        page = await store.query("resource", Query(sort=(SortKey(("name",), descending=True),), offset=2, limit=2))
        assert page.total == 7 and [orjson.loads(i)["id"] for i in page.items] == ["a", "b"]
        assert dict(upstream.calls[0].url.params) == {"sort": "-name", "offset": "2", "limit": "2"}


async def test_a_missing_resource_is_none_false_or_not_stored() -> None:
    async with store_of(lambda _: httpx.Response(404, json={"code": "404", "reason": "Not found"})) as (store, _):
        assert await store.get("resource", "x") is None
        assert await store.delete("resource", "x") is False
        with pytest.raises(NotStored):
            await store.patch("resource", "x", {"name": "b"})


async def test_an_upstream_4xx_keeps_its_status_and_reason_and_a_501_is_unsupported() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(501, json={"code": "501", "reason": "No sort", "message": "sort is not offered"})
        if request.method == "POST" and request.url.path.endswith("/taken"):
            return httpx.Response(409, json={"code": "409", "reason": "Conflict", "message": "already there"})
        return httpx.Response(422, json={"code": "422", "reason": "Bad name", "message": "name is too long"})

    async with store_of(answer) as (store, _):
        with pytest.raises(Unsupported, match="sort is not offered"):
            await store.query("resource", Query())
        with pytest.raises(Refused, match="name is too long") as refused:
            await store.create("resource", b'{"name": "x"}')
        assert (refused.value.status, refused.value.reason) == (422, "Bad name")
        with pytest.raises(DuplicateId, match="already there"):
            await store.create("taken", b'{"name": "x"}')


async def test_a_sort_the_upstream_refuses_is_unsupported_and_other_refusals_stand() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(405, json={"code": "405", "reason": "Not allowed", "message": "no deletes here"})
        if "sort" in request.url.params or request.url.params.get("name") == "bad":
            return httpx.Response(400, json={"code": "400", "reason": "Bad query", "message": "cannot sort by that"})
        return httpx.Response(200, json=[resource()])

    async with store_of(answer) as (store, upstream):
        by_priority = Query(sort=(SortKey(("priority",), descending=True),), limit=5)
        with pytest.raises(Unsupported, match="cannot sort resource by -priority: cannot sort by that"):
            await store.query("resource", by_priority)
        # the probe asked the same list without its sort, one item long
        assert dict(upstream.calls[-1].url.params) == {"limit": "1"}
        bad = Condition(("name",), Op.EQ, ValueType.STRING, ("bad",))
        with pytest.raises(Refused, match="cannot sort by that") as refused:
            await store.query("resource", Query(conditions=(bad,), sort=by_priority.sort))
        assert refused.value.status == 400  # refused without its sort too: the request's fault
        with pytest.raises(Unsupported, match="no deletes here"):
            await store.delete("resource", "r1")


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (lambda _: httpx.Response(200, content=b"<html>"), BadGateway, "not JSON"),
        (lambda _: httpx.Response(200, json={"name": "no id"}), BadGateway, "has no id"),
        (lambda _: httpx.Response(302, headers={"location": "/elsewhere"}), BadGateway, "with 302"),
    ],
)
async def test_a_malformed_answer_is_a_bad_gateway(answer: Script, error: type[Exception], message: str) -> None:
    async with store_of(answer) as (store, _):
        with pytest.raises(error, match=message):
            await store.get("resource", "r1")


async def test_reads_are_retried_and_creates_never() -> None:
    failures = {"GET": 2, "POST": 1}

    def answer(request: httpx.Request) -> httpx.Response:
        if failures[request.method]:
            failures[request.method] -= 1
            return httpx.Response(503, json={"reason": "busy"})
        return httpx.Response(200 if request.method == "GET" else 201, json=resource())

    async with store_of(answer) as (store, upstream):
        assert await store.get("resource", "r1") is not None
        assert [c.method for c in upstream.calls] == ["GET"] * 3
        with pytest.raises(BadGateway, match="failed POST /resource with 503"):
            await store.create("resource", b'{"name": "a"}')
        assert [c.method for c in upstream.calls].count("POST") == 1


async def test_a_timeout_is_a_gateway_timeout_and_a_refused_connection_a_bad_gateway() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with store_of(slow, UpstreamOptions(url=OSS, retries=0)) as (store, _):
        with pytest.raises(GatewayTimeout, match="did not answer GET /resource/r1 within 10 s"):
            await store.get("resource", "r1")
    async with store_of(refused, UpstreamOptions(url=OSS, retries=0)) as (store, _):
        with pytest.raises(BadGateway, match="cannot be reached: connection refused"):
            await store.get("resource", "r1")


async def test_the_breaker_refuses_calls_while_the_upstream_is_down() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with store_of(down, UpstreamOptions(url=OSS, retries=0, breaker_failures=2, breaker_reset=30)) as (
        store,
        upstream,
    ):
        for _ in range(2):
            with pytest.raises(BadGateway):
                await store.get("resource", "r1")
        with pytest.raises(StorageUnavailable, match="is down") as refused:
            await store.get("resource", "r1")
        assert refused.value.retry_after is not None and 0 < refused.value.retry_after <= 30
        assert len(upstream.calls) == 2  # the third call never left


async def test_an_upstream_unreachable_at_start_is_deemed_down_at_once() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    store = UpstreamStore(UpstreamOptions(url=OSS), transport=httpx.MockTransport(down))
    await store.open()
    try:
        assert store.breaker.open
        with pytest.raises(StorageUnavailable, match="is down"):
            await store.get("resource", "r1")
    finally:
        await store.close()


class NameCheck:
    """A spec check that wants a string name, and counts how it was asked."""

    def __init__(self) -> None:
        self.one, self.lists = 0, 0

    def __call__(self, kind: str, document: Any) -> str | None:
        self.one += 1
        return None if isinstance(document.get("name"), str) else "name must be a string"

    def conforms(self, kind: str, documents: list[Any]) -> bool:
        self.lists += 1
        return all(isinstance(document.get("name"), str) for document in documents)


async def test_a_non_conforming_answer_is_returned_or_refused_as_set(caplog: pytest.LogCaptureFixture) -> None:
    check = NameCheck()
    answer: Script = lambda _: httpx.Response(200, json=resource(name=7))  # noqa: E731
    async with store_of(answer, UpstreamOptions(url=OSS, check=check)) as (store, _):
        assert await store.get("resource", "r1") is not None
    assert "name must be a string" in caplog.text
    async with store_of(answer, UpstreamOptions(url=OSS, check=check, refuse_nonconforming=True)) as (store, _):
        with pytest.raises(BadGateway, match="our spec refuses"):
            await store.get("resource", "r1")


async def test_a_page_is_checked_at_once_and_item_by_item_only_to_say_which_is_wrong(
    caplog: pytest.LogCaptureFixture,
) -> None:
    page = [resource("r1", name="a"), resource("r2", name="b")]
    check = NameCheck()
    async with store_of(lambda _: httpx.Response(200, json=page), UpstreamOptions(url=OSS, check=check)) as (store, _):
        assert len((await store.query("resource", Query())).items) == 2
    assert (check.lists, check.one) == (1, 0)
    page[1]["name"] = 7
    async with store_of(lambda _: httpx.Response(200, json=page), UpstreamOptions(url=OSS, check=check)) as (store, _):
        assert len((await store.query("resource", Query())).items) == 2  # logged, and returned
    assert (check.lists, check.one) == (2, 2)
    assert "name must be a string" in caplog.text
    refusing = UpstreamOptions(url=OSS, check=check, refuse_nonconforming=True)
    async with store_of(lambda _: httpx.Response(200, json=page), refusing) as (store, _):
        with pytest.raises(BadGateway, match="our spec refuses"):
            await store.query("resource", Query())


async def test_a_replace_sends_only_the_change_as_a_merge_patch() -> None:
    stored = resource(name="a", description="old")

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            stored.update({k: v for k, v in orjson.loads(request.content).items() if v is not None})
            stored.update({k: None for k, v in orjson.loads(request.content).items() if v is None})
        return httpx.Response(200, json={k: v for k, v in stored.items() if v is not None})

    async with store_of(answer) as (store, upstream), store.transaction() as tx:
        before = orjson.loads(await tx.get("resource", "r1") or b"")
        await tx.replace("resource", "r1", orjson.dumps({**before, "name": "b"}))
        patch = upstream.calls[-1]
        assert patch.method == "PATCH" and patch.headers["content-type"] == "application/merge-patch+json"
        assert orjson.loads(patch.content) == {"name": "b"}
        calls = len(upstream.calls)
        await tx.replace("resource", "r1", orjson.dumps({**before, "name": "b"}))
        assert len(upstream.calls) == calls  # nothing changed: nothing sent


async def test_a_replace_of_what_the_upstream_does_not_hold_is_not_stored() -> None:
    async with (
        store_of(lambda _: httpx.Response(404, json={"reason": "gone"})) as (store, _),
        store.transaction() as tx,
    ):
        with pytest.raises(NotStored):
            await tx.replace("resource", "r9", orjson.dumps(resource("r9")))


async def test_a_closed_store_is_unavailable() -> None:
    store = UpstreamStore(UpstreamOptions(url=OSS))
    with pytest.raises(StorageUnavailable, match="not open"):
        await store.get("resource", "r1")


async def test_a_store_the_gateway_is_not_subscribed_at_refuses_creates_until_it_is() -> None:
    """What is created at an upstream whose hub does not notify us yet could change unheard (its events lost)."""
    async with store_of(lambda _: httpx.Response(201, json=resource())) as (store, upstream):
        store.deaf = True
        with pytest.raises(StorageUnavailable, match="not yet subscribed") as refused:
            await store.create("resource", b'{"@type": "Resource"}')
        assert refused.value.retry_after is not None and upstream.calls == []
        store.deaf = False
        assert orjson.loads(await store.create("resource", b'{"@type": "Resource"}'))["id"] == "r1"
        assert len(upstream.calls) == 1


class Oss:
    """An upstream that stores what it is sent and may lose its answer (the caller times out)."""

    def __init__(self, lookups: int = 200) -> None:
        self.stored: list[dict[str, Any]] = []
        self.lose_answer = False
        self.lookups = lookups  # what a GET with a filter answers when it is not 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            made = resource(f"so-{len(self.stored) + 1}", **orjson.loads(request.content))
            self.stored.append(made)
            if self.lose_answer:
                self.lose_answer = False
                raise httpx.ReadTimeout("the answer was lost", request=request)
            return httpx.Response(201, json=made)
        if self.lookups != 200:
            return httpx.Response(self.lookups, json={"reason": "no filters here"})
        wanted = dict(request.url.params)
        wanted.pop("limit", None)
        found = [r for r in self.stored if all(r.get(k) == v for k, v in wanted.items())]
        return httpx.Response(200, json=found[:1], headers={"x-total-count": str(len(found))})


GUARDED = UpstreamOptions(url=OSS, retries=0, guard="externalId")


async def test_a_create_retried_after_its_answer_was_lost_is_not_stored_twice() -> None:
    oss = Oss()
    async with store_of(oss, GUARDED) as (store, upstream):
        oss.lose_answer = True
        with pytest.raises(GatewayTimeout):
            await store.create("serviceOrder", b'{"externalId": "po-1", "note": [{"text": "a, b"}]}')
        again = orjson.loads(await store.create("serviceOrder", b'{"externalId": "po-1"}'))
        assert again["id"] == "so-1" and len(oss.stored) == 1
        assert dict(upstream.calls[-1].url.params) == {"externalId": "po-1", "limit": "1"}
        other = orjson.loads(await store.create("serviceOrder", b'{"externalId": "po-2"}'))
        assert other["id"] == "so-2" and len(oss.stored) == 2


async def test_an_unguarded_create_is_sent_as_it_is() -> None:
    oss = Oss()
    async with store_of(oss, UpstreamOptions(url=OSS, retries=0)) as (store, upstream):
        for _ in range(2):
            await store.create("serviceOrder", b'{"externalId": "po-1"}')
        assert len(oss.stored) == 2 and [c.method for c in upstream.calls] == ["POST", "POST"]


async def test_a_create_without_the_guard_attribute_is_not_looked_up() -> None:
    oss = Oss()
    async with store_of(oss, GUARDED) as (store, upstream):
        await store.create("serviceOrder", b'{"description": "by hand"}')
        assert [c.method for c in upstream.calls] == ["POST"]


async def test_an_upstream_that_cannot_look_up_gets_the_create_all_the_same(caplog: pytest.LogCaptureFixture) -> None:
    oss = Oss(lookups=400)
    async with store_of(oss, GUARDED) as (store, _):
        assert orjson.loads(await store.create("serviceOrder", b'{"externalId": "po-1"}'))["id"] == "so-1"
    assert "cannot find a serviceOrder by externalId" in caplog.text


async def test_a_replace_leaves_what_the_upstream_sets_alone() -> None:
    """A document handed back without href or @type does not ask the upstream to remove them."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=resource(name="a"))

    options = UpstreamOptions(url=OSS, owned={"resource": frozenset({"resourceStatus", "lastUpdate"})})
    async with store_of(answer, options) as (store, upstream), store.transaction() as tx:
        await tx.replace("resource", "r1", orjson.dumps({"id": "r1", "name": "b"}))
        assert orjson.loads(upstream.calls[-1].content) == {"name": "b"}
        # an attribute the upstream sets may still be changed (a state), only not removed
        await tx.replace("resource", "r1", orjson.dumps({"id": "r1", "name": "a", "resourceStatus": "reserved"}))
        assert orjson.loads(upstream.calls[-1].content) == {"resourceStatus": "reserved"}
