"""TMF640 Service Activation and Configuration: activations recorded as monitors.

Services are the inventory's (TMF638 serves the same ones); creating one here activates it: its
resources are reserved and the request is kept as a ``monitor`` (:mod:`handlers.fulfilment.services`).
"""

from __future__ import annotations

from handlers import apis
from handlers.fulfilment import services
from tmfgate.calls import Call, Reply
from tmfgate.extensions import Handlers

handlers = Handlers(apis.SERVICE_ACTIVATION, api=apis.SERVICE_ACTIVATION)


@handlers.operation
async def createService(call: Call) -> Reply:
    return await services.create(call, monitored=True)


handlers.serve("patchService", services.patch)
handlers.serve("deleteService", services.delete)
