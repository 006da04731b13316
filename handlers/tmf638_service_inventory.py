"""TMF638 Service Inventory: services whose resources follow their lifecycle (:mod:`handlers.fulfilment.services`)."""

from __future__ import annotations

from handlers import apis
from handlers.fulfilment import services
from tmfgate.calls import Call, Reply
from tmfgate.extensions import Handlers

handlers = Handlers(apis.SERVICE_INVENTORY, api=apis.SERVICE_INVENTORY)


@handlers.operation
async def createService(call: Call) -> Reply:
    return await services.create(call, monitored=False)


handlers.serve("patchService", services.patch)
handlers.serve("deleteService", services.delete)
