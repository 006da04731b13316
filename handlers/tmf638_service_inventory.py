"""TMF638 Service Inventory: services whose resources follow their lifecycle (:mod:`handlers.service_lifecycle`)."""

from __future__ import annotations

from handlers import service_lifecycle
from tmfgate.calls import Call, Reply
from tmfgate.extensions import Handlers

handlers = Handlers("tmf638_service_inventory", api="tmf638_service_inventory")


@handlers.operation
async def createService(call: Call) -> Reply:
    return await service_lifecycle.create_service(call, monitored=False)


handlers.serve("patchService", service_lifecycle.patch_service)
handlers.serve("deleteService", service_lifecycle.delete_service)
