"""TMF640 Service Activation and Configuration: activations recorded as monitors.

Services are the inventory's (TMF638 serves the same ones); creating one here activates it: its
resources are reserved and the request is kept as a ``monitor`` (:mod:`handlers.service_lifecycle`).
"""

from __future__ import annotations

from handlers import service_lifecycle
from tmfgate.calls import Call, Reply
from tmfgate.extensions import Handlers

handlers = Handlers("tmf640_service_activation", api="tmf640_service_activation")


@handlers.operation
async def createService(call: Call) -> Reply:
    return await service_lifecycle.create_service(call, monitored=True)


handlers.serve("patchService", service_lifecycle.patch_service)
handlers.serve("deleteService", service_lifecycle.delete_service)
