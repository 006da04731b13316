"""The gateway's own listeners: one internal subscription per reacting extension, each type from one API."""

from __future__ import annotations

import datetime as dt

import pytest

from backends.base import Event
from tmfgate import codec, model, specs
from tmfgate.calls import Job
from tmfgate.extensions import Handlers, Registry
from tmfgate.gateway import Gateway
from tmfgate.notifications.reactions import INTERNAL_PREFIX, internal_subscriptions, sources
from tmfgate.settings import Settings

ORDERING = model.build(specs.load(specs.specs_dir() / "tmf622_product_ordering.yaml"))
INVENTORY = model.build(specs.load(specs.specs_dir() / "tmf637_product_inventory.yaml"))
GATEWAY = Gateway(Settings(database_url="memory://"), [ORDERING, INVENTORY])


def test_each_event_type_is_taken_from_the_first_api_by_name_that_raises_it() -> None:
    pairs = sources([INVENTORY, ORDERING], frozenset({"ProductOrderCreateEvent", "ProductCreateEvent", "Nothing"}))
    assert pairs == {
        ("tmf622_product_ordering", "ProductOrderCreateEvent"),
        ("tmf637_product_inventory", "ProductCreateEvent"),
    }


@pytest.mark.anyio
async def test_a_reacting_extension_gets_a_subscription_that_runs_its_reaction() -> None:
    seen: list[Job] = []
    reacting, silent = Handlers("orders"), Handlers("quiet")

    @reacting.reaction("ProductOrderCreateEvent")
    async def created(job: Job) -> None:
        seen.append(job)

    [subscription] = internal_subscriptions(GATEWAY, Registry((reacting, silent)))
    assert subscription.id == f"{INTERNAL_PREFIX}orders" and subscription.api is None
    assert subscription.event_types == {"ProductOrderCreateEvent"}
    body = {"event": {"productOrder": {"id": "o1"}}}
    event = Event(
        id="e1",
        api=ORDERING.name,
        kind="productOrder",
        resource_id="o1",
        type="ProductOrderCreateEvent",
        time=dt.datetime.now(dt.UTC),
        head=codec.dumps(body),
    )
    assert subscription.accepts(event)
    assert not subscription.accepts(event._replace(api=INVENTORY.name))
    assert subscription.reaction is not None
    await subscription.reaction(event, False)
    await subscription.reaction(event, True)  # the last attempt before parking: the job says so
    assert [job.document for job in seen] == [{"id": "o1"}, {"id": "o1"}]
    assert [job.final for job in seen] == [False, True]
    # A delivery of a type the extension no longer reacts to, and no other does, is settled as done,
    # not failed and retried (one moved to another extension is handed over: tests/api/test_incidents.py).
    moved = event._replace(type="ProductOrderStateChangeEvent")
    await subscription.reaction(moved, False)
    assert len(seen) == 2
