"""TMF629 Customer Management: a customer with products that have started is not deleted."""

from __future__ import annotations

from backends.base import where
from handlers import apis
from handlers.fulfilment.products import STARTED
from tmfgate import documents, operations
from tmfgate.calls import Call, Reply
from tmfgate.errors import Conflict
from tmfgate.extensions import Handlers
from tmfgate.security.tenancy import visible

handlers = Handlers(apis.CUSTOMER, api=apis.CUSTOMER)


@handlers.operation
async def deleteCustomer(call: Call) -> Reply:
    """``DELETE /customer/{id}``: 409 while products of the customer are active (their refs would dangle)."""
    async with call.gateway.transaction() as tx:
        old = await operations.read_for_update(tx, call)
        owned = where("relatedParty.id", eq=str(old["id"]))
        started = where("status", eq=sorted(STARTED))
        products = await documents.find(tx, "product", owned, started, sort="id")
        if products:
            # Only the caller's own products are named (tenancy); the others are counted.
            own = await documents.find(tx, "product", owned, started, sort="id", owners=visible(call, "product"))
            listed = ", ".join(f"{p['id']} ({p.get('name', 'unnamed')}, {p['status']})" for p in own)
            if len(own) < len(products):
                listed = ", ".join(filter(None, (listed, f"{len(products) - len(own)} of another partner")))
            raise Conflict(
                f"Customer {old['id']} has products that have not ended: {listed}. Order their delete first; "
                "their bills and inventory refer to the customer."
            )
        await operations.write_deleted(tx, call, "customer", old)
    return Reply(204)
