"""TMF638 Service Inventory: services whose resources follow their lifecycle (:mod:`handlers.service_lifecycle`)."""

from __future__ import annotations

from handlers import service_lifecycle
from tmfgate.dispatch import Call, Reply


async def createService(call: Call) -> Reply:
    return await service_lifecycle.create_service(call, monitored=False)


patchService = service_lifecycle.patch_service
deleteService = service_lifecycle.delete_service
