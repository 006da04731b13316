"""The outbox contract: events commit with their change, fan out, are claimed in order, and are kept for operators."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter

import orjson
import pytest

from backends.base import Backend, DeliveryState, Event
from tests.backends.contract.support import (
    LEASE,
    claim_all,
    enveloping,
    event,
    fan_out_all,
    now,
    record,
    sent,
    to,
)

pytestmark = pytest.mark.anyio


# --- the outbox commits with the change ---------------------------------------------------------


async def test_a_committed_event_is_fanned_out_as_recorded(backend: Backend, kind: str) -> None:
    recorded = event(
        kind, "o1", at=dt.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    )
    await record(backend, recorded)
    routed: list[Event] = []

    def route(e: Event) -> list[str]:
        routed.append(e)
        return ["s1"]

    assert await backend.fan_out(route) == 1
    [seen] = routed
    assert seen.seq > 0 and seen == recorded._replace(seq=seen.seq)
    assert seen.time.utcoffset() == dt.timedelta(0)  # the same instant, given back in UTC
    [delivery] = await backend.deliveries()
    assert delivery.event == seen and delivery.subscription_id == "s1"
    assert delivery.state is DeliveryState.PENDING and delivery.attempts == 0 and delivery.last_error is None
    assert delivery.next_attempt <= now() and delivery.next_attempt.utcoffset() == dt.timedelta(0)


async def test_events_carrying_the_document_come_back_whole(backend: Backend, kind: str) -> None:
    # Created and changed in one transaction, then changed and deleted: each event's body holds
    # the document as it was at that moment (the memory store keeps it once, shared with the
    # store, and must give each event back byte for byte).
    first, second, third = (orjson.dumps({"id": "d1", "v": v}) for v in (1, 2, 3))
    recorded = [enveloping(kind, "d1", first, "CreateEvent"), enveloping(kind, "d1", second, "ChangeEvent")]
    async with backend.transaction() as tx:
        await tx.create(kind, "d1", first)
        await tx.add_event(recorded[0])
        await tx.replace(kind, "d1", second)
        await tx.add_event(recorded[1])
    recorded.append(enveloping(kind, "d1", third, "ChangeEvent"))
    recorded.append(enveloping(kind, "d1", third, "DeleteEvent"))
    async with backend.transaction() as tx:
        await tx.replace(kind, "d1", third)
        await tx.add_event(recorded[2])
        await tx.delete(kind, "d1")
        await tx.add_event(recorded[3])
    routed: list[Event] = []
    assert await fan_out_all(backend, lambda e: routed.append(e) or ["s1"]) == 4
    assert [e.body for e in routed] == [e.body for e in recorded]
    assert await backend.replay("s2", recorded[0].time, lambda e: True) == 4
    replayed = [d.event.body for d in await backend.deliveries(subscription_id="s2")]
    assert replayed == [e.body for e in recorded]


async def test_an_event_of_a_rolled_back_change_never_appears(backend: Backend, kind: str) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with backend.transaction() as tx:
            await tx.create(kind, "o1", orjson.dumps({"id": "o1"}))
            await tx.add_event(event(kind, "o1"))
            raise RuntimeError("boom")
    assert await backend.get(kind, "o1") is None
    assert await backend.fan_out(to("s1")) == 0
    assert await backend.replay("s1", now() - dt.timedelta(days=1), lambda _: True) == 0
    assert await backend.deliveries() == []


async def test_a_naive_time_is_refused(backend: Backend, kind: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        async with backend.transaction() as tx:
            await tx.add_event(event(kind, "o1", at=dt.datetime(2024, 5, 1)))
    with pytest.raises(ValueError, match="timezone-aware"):
        await backend.claim(limit=1, lease=LEASE, now=dt.datetime(2024, 5, 1))


async def test_times_compare_as_instants_whatever_their_offset(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1"))
    await fan_out_all(backend, to("s1"))
    t = now()
    east, west = dt.timezone(dt.timedelta(hours=5)), dt.timezone(dt.timedelta(hours=-5))
    # An earlier instant whose wall-clock reading is later: not yet due.
    assert await backend.claim(limit=1, lease=LEASE, now=(t - dt.timedelta(minutes=1)).astimezone(east)) == []
    [claimed] = await backend.claim(limit=1, lease=LEASE, now=t.astimezone(west))
    assert claimed.next_attempt <= t


# --- fan-out -----------------------------------------------------------------------------------


async def test_fan_out_routes_each_event_once_oldest_first(backend: Backend, kind: str) -> None:
    await record(backend, *(event(kind, f"o{n}", n) for n in range(5)))
    routes = {0: ["a", "b", "a"], 1: [], 2: ["b"], 3: ["a"], 4: ["a", "b"]}  # "a" twice: one delivery
    routed: list[int] = []

    def route(e: Event) -> list[str]:
        n = orjson.loads(e.body)["event"]["n"]
        routed.append(n)
        return routes[n]

    assert [await backend.fan_out(route, limit=2) for _ in range(4)] == [2, 2, 1, 0]
    assert routed == [0, 1, 2, 3, 4]
    fanned = sent(await backend.deliveries())
    assert [n for _, n in fanned] == [0, 0, 2, 3, 4, 4]  # oldest event first; any order within one
    assert sorted(fanned) == sorted([("a", 0), ("b", 0), ("b", 2), ("a", 3), ("a", 4), ("b", 4)])


async def test_a_failing_route_fans_out_nothing(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1", 1), event(kind, "o2", 2))

    def route(e: Event) -> list[str]:
        if orjson.loads(e.body)["event"]["n"] == 2:
            raise LookupError("subscriptions unavailable")
        return ["s1"]

    with pytest.raises(LookupError):
        await backend.fan_out(route)
    assert await backend.deliveries() == []
    assert await backend.fan_out(to("s1")) == 2
    assert sent(await backend.deliveries()) == [("s1", 1), ("s1", 2)]


async def test_two_fan_outs_at_once_take_each_event_once(backend: Backend, other: Backend, kind: str) -> None:
    await record(backend, *(event(kind, f"o{n % 7}", n) for n in range(40)))
    taken = await asyncio.gather(fan_out_all(backend, to("s1"), limit=3), fan_out_all(other, to("s1"), limit=3))
    assert sum(taken) == 40
    fanned = await backend.deliveries(limit=1000)
    assert sorted(n for _, n in sent(fanned)) == list(range(40))
    assert len({d.event.seq for d in fanned}) == 40


# --- claiming ----------------------------------------------------------------------------------


async def test_claim_waits_for_the_due_time_and_honours_leases(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1"))
    await fan_out_all(backend, to("s1"))
    t = now()
    assert await backend.claim(limit=10, lease=LEASE, now=t - dt.timedelta(hours=1)) == []
    [first] = await backend.claim(limit=10, lease=LEASE, now=t)
    # Leased: nobody else gets it, however often they ask, until the lease runs out.
    assert await backend.claim(limit=10, lease=LEASE, now=t) == []
    assert await backend.claim(limit=10, lease=LEASE, now=t + dt.timedelta(seconds=LEASE - 1)) == []
    # The claimer crashed without settling: after the lease the delivery goes out again.
    [again] = await backend.claim(limit=10, lease=LEASE, now=t + dt.timedelta(seconds=LEASE + 1))
    assert again.id == first.id and again.attempts == 0 and again.event.body == first.event.body
    await backend.settle(again.id, delivered=False, error="HTTP 503", retry_at=t + dt.timedelta(minutes=5))
    assert await backend.claim(limit=10, lease=LEASE, now=t + dt.timedelta(minutes=4)) == []
    [retried] = await backend.claim(limit=10, lease=LEASE, now=t + dt.timedelta(minutes=5))
    assert (retried.id, retried.attempts, retried.last_error) == (first.id, 1, "HTTP 503")
    assert retried.next_attempt == t + dt.timedelta(minutes=5)


async def test_a_renewed_lease_keeps_a_delivery_in_flight(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1"), event(kind, "o2", 1))
    await fan_out_all(backend, to("s1", "s2"))
    t = now()
    claimed = await backend.claim(limit=10, lease=LEASE, now=t)
    first = next(d for d in claimed if d.subscription_id == "s1")
    await backend.renew([first.id, "not-a-delivery-id"], until=t + dt.timedelta(seconds=LEASE * 3))
    later = t + dt.timedelta(seconds=LEASE + 1)
    # The renewed one stays leased; the others' leases ran out and they go out again.
    others = await backend.claim(limit=10, lease=LEASE, now=later)
    assert {d.id for d in others} == {d.id for d in claimed} - {first.id}
    for other in others:
        await backend.settle(other.id, delivered=True)
    [again] = await backend.claim(limit=10, lease=LEASE, now=t + dt.timedelta(seconds=LEASE * 3 + 1))
    assert again.id == first.id
    # A settled delivery is not leased again by a late renewal.
    await backend.settle(again.id, delivered=True)
    await backend.renew([again.id], until=t + dt.timedelta(hours=1))
    assert (await backend.delivery(again.id)).state.value == "delivered"  # type: ignore[union-attr]


async def test_claim_takes_the_oldest_events_first_up_to_the_limit(backend: Backend, kind: str) -> None:
    await record(backend, *(event(kind, f"o{n}", n) for n in range(5)))
    await fan_out_all(backend, to("s1"))
    t = now()
    assert sent(await backend.claim(limit=3, lease=LEASE, now=t)) == [("s1", 0), ("s1", 1), ("s1", 2)]
    assert sent(await backend.claim(limit=3, lease=LEASE, now=t)) == [("s1", 3), ("s1", 4)]
    assert await backend.claim(limit=0, lease=LEASE, now=t) == []


async def test_a_resource_s_events_go_out_one_at_a_time_in_order(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1", 1), event(kind, "o1", 2), event(kind, "o2", 3))
    await fan_out_all(backend, to("s1", "s2"))
    t = now()
    # e2 waits behind e1 for each subscription; o2 and the other subscription do not.
    claimed = await backend.claim(limit=10, lease=LEASE, now=t)
    assert sorted(sent(claimed)) == [("s1", 1), ("s1", 3), ("s2", 1), ("s2", 3)]
    assert await backend.claim(limit=10, lease=LEASE, now=t + dt.timedelta(seconds=LEASE / 2)) == []
    first_to_s1 = next(d for d in claimed if sent([d]) == [("s1", 1)])
    await backend.settle(first_to_s1.id, delivered=True)
    assert sent(await backend.claim(limit=10, lease=LEASE, now=t)) == [("s1", 2)]


async def test_a_retried_delivery_holds_back_the_resource_s_later_events(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1", 1), event(kind, "o1", 2))
    await fan_out_all(backend, to("s1"))
    t = now()
    [e1] = await backend.claim(limit=10, lease=LEASE, now=t)
    await backend.settle(e1.id, delivered=False, error="timeout", retry_at=t + dt.timedelta(minutes=1))
    # e1 is pending but not due; e2 must still wait for it.
    assert await backend.claim(limit=10, lease=LEASE, now=t) == []
    [again] = await backend.claim(limit=10, lease=LEASE, now=t + dt.timedelta(minutes=1))
    assert again.id == e1.id
    await backend.settle(e1.id, delivered=False, error="timeout")  # no retry_at: parked
    assert sent(await backend.claim(limit=10, lease=LEASE, now=t + dt.timedelta(minutes=1))) == [("s1", 2)]


async def test_a_failure_without_retry_parks_until_redelivered(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1", 1))
    await fan_out_all(backend, to("s1"))
    t = now()
    [claimed] = await backend.claim(limit=1, lease=LEASE, now=t)
    await backend.settle(claimed.id, delivered=False, error="HTTP 410 Gone")
    [parked] = await backend.deliveries(state=DeliveryState.PARKED)
    assert (parked.id, parked.attempts, parked.last_error) == (claimed.id, 1, "HTTP 410 Gone")
    assert await backend.delivery(claimed.id) == parked
    assert await backend.claim(limit=1, lease=LEASE, now=t + dt.timedelta(days=365)) == []
    later = t + dt.timedelta(hours=1)
    assert await backend.redeliver(claimed.id, now=later) is True
    assert await backend.redeliver(claimed.id, now=later) is False  # pending now, not parked
    [pending] = await backend.deliveries(state=DeliveryState.PENDING)
    assert (pending.id, pending.attempts, pending.next_attempt) == (claimed.id, 0, later)
    assert await backend.claim(limit=1, lease=LEASE, now=later - dt.timedelta(seconds=1)) == []
    [redelivered] = await backend.claim(limit=1, lease=LEASE, now=later)
    await backend.settle(redelivered.id, delivered=True)
    [done] = await backend.deliveries(state=DeliveryState.DELIVERED)
    assert (done.id, done.attempts) == (claimed.id, 1)


async def test_redeliver_of_an_unknown_delivery_is_false(backend: Backend) -> None:
    assert await backend.redeliver(str(uuid.uuid4()), now=now()) is False
    assert await backend.redeliver("not-a-delivery-id", now=now()) is False
    await backend.settle("not-a-delivery-id", delivered=True)  # nothing to settle; no error


async def test_a_late_failure_does_not_undo_a_delivery(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1", 1))
    await fan_out_all(backend, to("s1"))
    [claimed] = await backend.claim(limit=1, lease=LEASE, now=now())
    await backend.settle(claimed.id, delivered=True)
    await backend.settle(claimed.id, delivered=False, error="lease had expired", retry_at=now())
    [delivery] = await backend.deliveries()
    assert (delivery.state, delivery.attempts, delivery.last_error) == (DeliveryState.DELIVERED, 1, None)


# --- operators ---------------------------------------------------------------------------------


async def test_deliveries_are_listed_by_state_and_subscription(backend: Backend, kind: str) -> None:
    await record(backend, *(event(kind, f"o{n}", n) for n in range(4)))
    await fan_out_all(backend, to("s1", "s2"))
    t = now()
    for delivery in await backend.claim(limit=10, lease=LEASE, now=t):
        n = sent([delivery])[0][1]
        if delivery.subscription_id == "s1" and n < 2:
            await backend.settle(delivery.id, delivered=True)
        elif delivery.subscription_id == "s2" and n == 3:
            await backend.settle(delivery.id, delivered=False, error="refused")
    assert sent(await backend.deliveries(state=DeliveryState.DELIVERED)) == [("s1", 0), ("s1", 1)]
    assert sent(await backend.deliveries(state=DeliveryState.PARKED)) == [("s2", 3)]
    assert sent(await backend.deliveries(subscription_id="s2")) == [("s2", n) for n in range(4)]
    pending_s1 = await backend.deliveries(state=DeliveryState.PENDING, subscription_id="s1")
    assert sent(pending_s1) == [("s1", 2), ("s1", 3)]
    everything = await backend.deliveries()
    assert [d.event.seq for d in everything] == sorted(d.event.seq for d in everything)
    assert everything[2:5] == await backend.deliveries(offset=2, limit=3)
    assert await backend.deliveries(subscription_id="nobody") == []
    # Counted over every page, as the operator API's X-Total-Count needs.
    assert await backend.count_deliveries() == len(everything) == 8
    assert await backend.count_deliveries(state=DeliveryState.DELIVERED) == 2
    assert await backend.count_deliveries(state=DeliveryState.PARKED) == 1
    assert await backend.count_deliveries(subscription_id="s2") == 4
    assert await backend.count_deliveries(state=DeliveryState.PENDING, subscription_id="s1") == 2
    assert await backend.count_deliveries(subscription_id="nobody") == 0


async def test_one_delivery_is_found_by_its_id(backend: Backend, kind: str) -> None:
    await record(backend, event(kind, "o1", 1), event(kind, "o2", 2))
    await fan_out_all(backend, to("s1", "s2"))
    everything = await backend.deliveries()
    for listed in everything:
        assert await backend.delivery(listed.id) == listed
    [claimed, *_] = await backend.claim(limit=1, lease=LEASE, now=now())
    await backend.settle(claimed.id, delivered=False, error="refused")
    found = await backend.delivery(claimed.id)
    assert found is not None and (found.state, found.attempts, found.last_error) == (DeliveryState.PARKED, 1, "refused")
    assert found.event.body == claimed.event.body
    assert await backend.delivery(str(uuid.uuid4())) is None
    assert await backend.delivery("not-a-delivery-id") is None


async def test_replay_sends_a_subscription_the_events_since_a_time(backend: Backend, kind: str) -> None:
    t = now()
    await record(backend, *(event(kind, f"o{n}", n, at=t - dt.timedelta(hours=4 - n)) for n in range(4)))
    await fan_out_all(backend, to("s1"))
    for delivery in await backend.claim(limit=10, lease=LEASE, now=now()):
        await backend.settle(delivery.id, delivered=True)
    accepted = lambda e: e.kind == kind and orjson.loads(e.body)["event"]["n"] != 3  # noqa: E731
    # Events at t-4h .. t-1h; since t-3h takes n=1, 2 and 3, and the route turns 3 away.
    assert await backend.replay("s9", t - dt.timedelta(hours=3), accepted) == 2
    replayed = await backend.deliveries(subscription_id="s9")
    assert sent(replayed) == [("s9", 1), ("s9", 2)]
    assert all(d.state is DeliveryState.PENDING and d.attempts == 0 for d in replayed)
    assert sent(await backend.claim(limit=10, lease=LEASE, now=now())) == [("s9", 1), ("s9", 2)]
    assert await backend.replay("s9", t, accepted) == 0


async def test_drop_deliveries_keeps_only_what_was_delivered(backend: Backend, kind: str) -> None:
    await record(backend, *(event(kind, f"o{n}", n) for n in range(3)))
    await fan_out_all(backend, to("gone", "kept"))
    claimed = await backend.claim(limit=10, lease=LEASE, now=now())
    by_n = {sent([d])[0]: d for d in claimed}
    await backend.settle(by_n[("gone", 0)].id, delivered=True)
    await backend.settle(by_n[("gone", 1)].id, delivered=False, error="gone")  # parked; 2 stays leased
    assert await backend.drop_deliveries("gone") == 2
    assert sent(await backend.deliveries(subscription_id="gone")) == [("gone", 0)]
    assert len(await backend.deliveries(subscription_id="kept")) == 3
    # The dispatcher holding the dropped delivery settles it: nothing comes back.
    await backend.settle(by_n[("gone", 2)].id, delivered=False, error="late", retry_at=now())
    assert sent(await backend.deliveries(subscription_id="gone")) == [("gone", 0)]
    assert await backend.drop_deliveries("gone") == 0


async def test_prune_forgets_old_events_once_every_delivery_of_them_was_delivered(backend: Backend, kind: str) -> None:
    t = now()
    hours_ago = [5, 4, 3, 2, 0]  # n=0..4; with a cut-off at t-1h, n=0..3 are old enough
    await record(backend, *(event(kind, f"o{n}", n, at=t - dt.timedelta(hours=h)) for n, h in enumerate(hours_ago)))
    await fan_out_all(backend, lambda e: ["s1"] if orjson.loads(e.body)["event"]["n"] != 2 else [])
    await record(backend, event(kind, "late", 9, at=t - dt.timedelta(hours=6)))  # old, but not fanned out yet
    by_n = {sent([d])[0][1]: d for d in await backend.claim(limit=10, lease=LEASE, now=now())}
    await backend.settle(by_n[0].id, delivered=True)
    await backend.settle(by_n[1].id, delivered=False, error="down")  # parked: kept for an operator
    await backend.settle(by_n[3].id, delivered=False, error="slow", retry_at=now())  # still pending
    await backend.settle(by_n[4].id, delivered=True)  # delivered, but recent
    cut_off = t - dt.timedelta(hours=1)
    assert await backend.prune(cut_off, limit=1) == 1  # n=0 (oldest first); n=2 had no deliveries
    assert await backend.prune(cut_off) == 1  # n=2
    assert await backend.prune(cut_off) == 0
    left = await backend.deliveries()
    assert sorted(sent(left)) == [("s1", 1), ("s1", 3), ("s1", 4)]
    everything = lambda e: True  # noqa: E731
    replayed = await backend.replay("s2", t - dt.timedelta(days=1), everything)
    assert replayed == 4  # n=1, 3, 4 and the late one; the pruned events are gone
    # Once the parked one is redelivered and delivered, its event goes too; the pending ones stay.
    assert await backend.redeliver(by_n[1].id, now=now())
    for delivery in await backend.claim(limit=10, lease=LEASE, now=now()):
        if delivery.id == by_n[1].id:
            await backend.settle(delivery.id, delivered=True)
    assert await backend.prune(cut_off) == 0  # s2's replayed delivery of n=1 is pending
    await backend.drop_deliveries("s2")
    assert await backend.prune(cut_off) == 1
    assert await backend.fan_out(to("s1")) == 1  # the late event was kept and fans out as usual


# --- several dispatchers -----------------------------------------------------------------------


async def test_two_claimers_at_once_never_share_a_delivery(backend: Backend, other: Backend, kind: str) -> None:
    await record(backend, *(event(kind, f"o{n}", n) for n in range(60)))
    await fan_out_all(backend, to("s1"))
    first, second = await asyncio.gather(claim_all(backend), claim_all(other))
    # One claimer may stop early while the other holds rows locked; a last sweep takes what is left.
    leftovers = await claim_all(backend)
    claimed = Counter([*first, *second, *leftovers])
    assert claimed.most_common(1)[0][1] == 1, "a delivery was claimed twice"
    assert len(claimed) == 60


async def test_older_events_made_pending_again_are_claimed_first(backend: Backend, kind: str) -> None:
    """A replay or a redelivery brings back older events behind newer pending ones; still oldest first."""
    await record(backend, *(event(kind, f"o{n}", n) for n in range(4)))
    await backend.fan_out(to("s1"), limit=2)
    t = now()
    first, second = await backend.claim(limit=10, lease=LEASE, now=t)
    await backend.settle(first.id, delivered=True)
    await backend.settle(second.id, delivered=False, error="refused")  # parked
    await fan_out_all(backend, to("s1"))
    assert await backend.replay("s2", t - dt.timedelta(hours=1), lambda e: e.kind == kind) == 4
    assert await backend.redeliver(second.id, now=t) is True
    claimed = await backend.claim(limit=3, lease=LEASE, now=now())
    assert sorted(sent(claimed)) == [("s1", 1), ("s2", 0), ("s2", 1)]


async def test_events_recorded_together_fan_out_as_one_by_one_in_their_order(backend: Backend, kind: str) -> None:
    recorded = [event(kind, f"o{n}", n) for n in range(4)]
    async with backend.transaction() as tx:
        await tx.add_events(recorded[:3])
        await tx.add_events([])
        await tx.add_event(recorded[3])
    routed: list[Event] = []

    def route(e: Event) -> list[str]:
        routed.append(e)
        return ["s1"]

    assert await backend.fan_out(route) == 4
    assert [e._replace(seq=0) for e in routed] == [e._replace(seq=0) for e in recorded]
    assert [e.seq for e in routed] == sorted({e.seq for e in routed})
