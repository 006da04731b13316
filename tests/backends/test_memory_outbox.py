"""The memory outbox's keeping of events: exact-size parts, plain tuples, and times in UTC."""

from __future__ import annotations

import datetime as dt
import gc

import orjson
import pytest

from backends.events import Event
from backends.memory.outbox import MemoryOutbox, compact, pending

EAST = dt.timezone(dt.timedelta(hours=2))


def event(n: int, *, at: dt.datetime | None = None, document: bytes | None = None) -> Event:
    head = orjson.dumps({"eventId": f"e{n}", "n": n})[:-1] + b',"event":{"x":'
    at = at or dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    tail = b"}}" if document is not None else b""
    return Event(f"e{n}", "api", "x", f"r{n}", "XCreateEvent", at, head, document, tail)


def test_the_parts_are_kept_and_the_time_in_utc() -> None:
    document = orjson.dumps({"id": "r1"})
    kept = pending(event(1, at=dt.datetime(2024, 5, 1, 14, tzinfo=EAST), document=document), document)
    assert kept[5] == dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC) and kept[5].tzinfo is dt.UTC
    assert kept[7] is document  # the store's own bytes, shared
    assert b"".join((kept[6], kept[7], kept[8])) == event(1, document=document).body
    with pytest.raises(ValueError, match="timezone-aware"):
        pending(event(1, at=dt.datetime(2024, 5, 1)), None)


def test_short_tails_are_kept_once_and_long_parts_are_copied_to_their_size() -> None:
    document = b'{"id":"r"}'
    tails = {id(pending(event(n, document=document), None)[8]) for n in range(5)}
    assert len(tails) == 1  # one object for every event's closing bytes
    head = orjson.dumps({"a": "x" * 100})
    copy = compact(head)
    assert copy == head and copy is not head


def test_kept_events_are_plain_tuples_the_collector_stops_tracking() -> None:
    outbox = MemoryOutbox()
    document = orjson.dumps({"id": "r1"})
    outbox.publish([pending(event(1, document=document), document), pending(event(2), None)])
    gc.collect()
    kept = [item for item in outbox._events if item is not None]
    assert [type(item) for item in kept] == [tuple, tuple]
    assert not any(gc.is_tracked(item) for item in kept)
    assert [item[9] for item in kept] == [1, 2]  # the seq, in commit order (the owner follows it)


def test_fanned_out_events_are_the_recorded_ones_with_their_seq() -> None:
    outbox = MemoryOutbox()
    document = orjson.dumps({"id": "r1"})
    recorded = [event(1, document=document), event(2)]
    outbox.publish(pending(e, None) for e in recorded)
    routed: list[Event] = []
    assert outbox.fan_out(lambda e: routed.append(e) or [], limit=10) == 2
    assert routed == [e._replace(seq=n) for n, e in enumerate(recorded, 1)]
    assert routed[0].document == document and routed[1].document is None
