"""The handler contract: declaring an extension, and the registry of the installed ones."""

from __future__ import annotations

from typing import Any

import pytest

from tmfgate.calls import Call, Job, Reply
from tmfgate.errors import ConfigurationError
from tmfgate.extensions import Extension, Handlers, Registry
from tmfgate.runtime import installed
from tmfgate.settings import Setting, Settings, switch

ON = Setting("lights", True, "whether the lights are on", switch, choices=("on", "off"))


async def createThing(call: Call) -> Reply:
    return Reply(201)


async def react(job: Job) -> None:
    return None


def test_a_declaration_serves_its_operations_and_reactions() -> None:
    handlers = Handlers("things", api="tmf999_things", settings=[ON])
    handlers.operation(createThing)
    handlers.reaction("ThingCreateEvent")(react)
    handlers.reaction("ThingDeleteEvent", when=ON)(react)
    assert isinstance(handlers, Extension)
    assert handlers.function_for("createThing") is createThing and handlers.function_for("listThing") is None

    class Lit:
        settings = Settings()

    class Dark:
        settings = Settings(lights=False)

    lit: Any = Lit()
    dark: Any = Dark()
    assert set(handlers.reactions(lit)) == {"ThingCreateEvent", "ThingDeleteEvent"}
    assert set(handlers.reactions(dark)) == {"ThingCreateEvent"}


def test_an_operation_or_a_reaction_declared_twice_is_refused() -> None:
    handlers = Handlers("things")
    handlers.operation(createThing)
    with pytest.raises(ConfigurationError, match="serves createThing twice"):
        handlers.serve("createThing", createThing)
    handlers.reaction("ThingCreateEvent")(react)
    with pytest.raises(ConfigurationError, match="reacts to ThingCreateEvent twice"):
        handlers.reaction("ThingCreateEvent")(react)


def test_two_extensions_may_not_share_a_name_or_declare_one_setting() -> None:
    with pytest.raises(ConfigurationError, match="Two extensions are named things"):
        Registry([Handlers("things"), Handlers("things")])
    with pytest.raises(ConfigurationError, match="both declare the setting lights"):
        Registry([Handlers("one", settings=[ON]), Handlers("two", settings=[ON])])
    with pytest.raises(ConfigurationError, match="both declare the setting port"):
        Registry([Handlers("one", settings=[Settings.port])])


def test_the_installed_extensions_are_found_by_entry_point() -> None:
    registry = installed()
    names = {extension.name for extension in registry.extensions}
    assert {"tmfgate_admin", "catalog", "fulfilment", "tmf622_product_ordering", "tmf678_bill"} <= names
    assert registry.for_api("tmf622_product_ordering") is not None and registry.for_api("tmf_unknown") is None
    assert {"bill-run", "deliveries", "redeliver", "replay"} <= {command.name for command in registry.commands}
    only_ordering = registry.serving(["tmf622_product_ordering"])
    assert {extension.api for extension in only_ordering.extensions} == {None, "tmf622_product_ordering"}
