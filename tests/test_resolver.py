"""Each operationId served by the extension's function, else by the generic operation of its verb."""

from __future__ import annotations

import pytest

from tmfgate import model, operations, specs
from tmfgate.calls import Call, Reply
from tmfgate.errors import ConfigurationError
from tmfgate.extensions import Handlers
from tmfgate.notifications import hub
from tmfgate.resolver import GENERIC, function_for

API = model.build(specs.load(specs.specs_dir() / "tmf629_customer.yaml"))


async def special(call: Call) -> Reply:
    return Reply.json(200, {})


def test_generic_operations_serve_each_verb() -> None:
    assert function_for(API, None, "listCustomer") is operations.list_resources
    assert function_for(API, None, "createCustomer") is operations.create
    assert function_for(API, None, "patchCustomer") is operations.patch
    assert function_for(API, None, "registerListener") is hub.register_listener
    assert set(GENERIC) == {"list", "retrieve", "create", "patch", "delete", "register", "unregister", "subscription"}


def test_the_extension_s_function_wins() -> None:
    handlers = Handlers("test_resolver", api=API.name)
    handlers.serve("createCustomer", special)
    assert function_for(API, handlers, "createCustomer") is special
    assert function_for(API, handlers, "listCustomer") is operations.list_resources


def test_an_operation_nothing_serves_stops_the_start_with_its_name() -> None:
    with pytest.raises(ConfigurationError, match="no function serves the operation 'doSomething'"):
        function_for(API, None, "doSomething")
