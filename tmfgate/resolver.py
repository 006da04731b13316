"""Maps each operationId of a spec to the function that serves it.

A function named like the operationId in ``handlers/<spec stem>.py`` wins; otherwise the generic
operation for the verb (list, retrieve, create, patch, delete, hub) serves it. Connexion calls the
resolver once per operation at start-up, so an operation nothing can serve stops the gateway there,
with a message that names the spec and the operation.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from connexion.operations import AbstractOperation
from connexion.resolver import Resolution, Resolver

from tmfgate import operations, subscriptions
from tmfgate.errors import ConfigurationError
from tmfgate.model import ApiModel

GENERIC = {
    "list": operations.list_resources,
    "retrieve": operations.retrieve,
    "create": operations.create,
    "patch": operations.patch,
    "delete": operations.delete,
    "register": subscriptions.register_listener,
    "unregister": subscriptions.unregister_listener,
    "subscription": subscriptions.retrieve_listener,
}


def handler_module(api: str) -> ModuleType | None:
    """The domain module of an API (``handlers.tmf622_product_ordering``), if there is one."""
    try:
        return importlib.import_module(f"handlers.{api}")
    except ModuleNotFoundError as exc:
        if exc.name != f"handlers.{api}":
            raise
        return None


class OperationResolver(Resolver):
    """Resolves the operations of one API: its handler module first, then the generic verbs."""

    def __init__(self, model: ApiModel) -> None:
        super().__init__()
        self.model = model
        self.module = handler_module(model.name)

    def resolve(self, operation: AbstractOperation) -> Resolution:
        operation_id = operation.operation_id
        return Resolution(self.function_for(operation_id), operation_id)

    def function_for(self, operation_id: str) -> Any:
        function = getattr(self.module, operation_id, None) if self.module else None
        if function is not None:
            return function
        op = self.model.operations.get(operation_id)
        if op is None or op.verb not in GENERIC:
            raise ConfigurationError(
                f"{self.model.name}: no function serves the operation {operation_id!r}; "
                f"define {operation_id}() in handlers/{self.model.name}.py."
            )
        return GENERIC[op.verb]
