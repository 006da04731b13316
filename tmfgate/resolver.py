"""Maps each operationId of a spec to the function that serves it.

The function the API's extension declares for the operationId wins; otherwise the generic
operation for the verb (list, retrieve, create, patch, delete, hub) serves it. Operations are
resolved once, at start-up, so an operation nothing can serve stops the gateway there, with a
message that names the spec and the operation.
"""

from __future__ import annotations

from tmfgate import operations
from tmfgate.calls import Function
from tmfgate.errors import ConfigurationError
from tmfgate.extensions import Extension
from tmfgate.model import ApiModel
from tmfgate.notifications import hub

GENERIC: dict[str, Function] = {
    "list": operations.list_resources,
    "retrieve": operations.retrieve,
    "create": operations.create,
    "patch": operations.patch,
    "delete": operations.delete,
    "register": hub.register_listener,
    "unregister": hub.unregister_listener,
    "subscription": hub.retrieve_listener,
}


def function_for(api: ApiModel, extension: Extension | None, operation_id: str) -> Function:
    """The function serving ``operation_id`` of ``api``; ConfigurationError when there is none."""
    function = extension.function_for(operation_id) if extension is not None else None
    if function is not None:
        return function
    op = api.operations.get(operation_id)
    if op is None or op.verb not in GENERIC:
        raise ConfigurationError(
            f"{api.name}: no function serves the operation {operation_id!r}; declare one with the "
            f"operation decorator of the extension serving {api.name} (tmfgate.extensions.Handlers)."
        )
    return GENERIC[op.verb]
