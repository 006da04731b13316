"""The storage contract: every store implements both protocols, method for method, with the same parameters."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from backends import base
from backends.memory.store import MemoryBackend, MemoryTransaction
from backends.sql.store import SqlBackend, SqlTransaction


def members(protocol: type) -> dict[str, inspect.Signature]:
    """The methods a protocol declares, with their signatures (its own and those of the protocols it extends)."""
    found: dict[str, inspect.Signature] = {}
    for klass in reversed(protocol.__mro__):
        if klass is object or klass.__dict__.get("_is_protocol") is not True:
            continue
        for name, value in vars(klass).items():
            if callable(value) and not name.startswith("_"):
                found[name] = inspect.signature(value)
    return found


def parameters(signature: inspect.Signature) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize(
    ("protocol", "implementation"),
    [
        (base.Backend, MemoryBackend),
        (base.Backend, SqlBackend),
        (base.Transaction, MemoryTransaction),
        (base.Transaction, SqlTransaction),
    ],
)
def test_each_store_implements_every_method_of_the_contract(protocol: type, implementation: type) -> None:
    declared = members(protocol)
    assert {"get", "query"} <= declared.keys()
    for name, signature in declared.items():
        method = getattr(implementation, name, None)
        assert method is not None, f"{implementation.__name__} lacks {name} of {protocol.__name__}"
        assert parameters(inspect.signature(method)) == parameters(signature), f"{implementation.__name__}.{name}"
        is_async = inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(inspect.unwrap(method))
        declared_async = name in _async_names(protocol)
        assert is_async == declared_async or name == "transaction", f"{implementation.__name__}.{name}"


def _async_names(protocol: type) -> set[str]:
    return {
        name
        for klass in protocol.__mro__
        for name, value in vars(klass).items()
        if inspect.iscoroutinefunction(value) and not name.startswith("_")
    }


def test_the_contract_exports_its_value_types_and_errors() -> None:
    assert issubclass(base.DuplicateId, base.StorageError) and issubclass(base.StorageUnavailable, base.StorageError)
    condition = base.where("state", eq="x")
    assert isinstance(condition, base.Condition) and condition.path == ("state",)
    assert base.Query().conditions == () and base.Page(0, []).total == 0
