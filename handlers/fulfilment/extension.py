"""The fulfilment extension: its settings, and the reactions that carry product and service orders out.

Each reaction runs in the delivery worker, never in the request (:mod:`tmfgate.notifications.reactions`):
a new product order is decomposed (:mod:`handlers.fulfilment.decomposition`); each change of a service
order is followed up to its product order (:mod:`handlers.fulfilment.product_orders`), checked for
cancellation (:mod:`handlers.ordering.cancellation`) and carried on (:mod:`handlers.fulfilment.service_orders`).
"""

from __future__ import annotations

from handlers.fulfilment import decomposition, parking, product_orders, service_orders
from handlers.fulfilment.settings import ACTIVATION_DELAY, FULFILMENT
from handlers.ordering import cancellation
from tmfgate.calls import Job
from tmfgate.extensions import Handlers

extension = Handlers("fulfilment", settings=[FULFILMENT, ACTIVATION_DELAY])
extension.reaction("ProductOrderCreateEvent", when=FULFILMENT)(decomposition.decompose)


@extension.reaction("CancelServiceOrderCreateEvent", when=FULFILMENT)
async def on_service_cancellation(job: Job) -> None:
    """Accept or refuse a cancelServiceOrder, unless an OSS downstream (southbound) does."""
    if not job.gateway.kept_elsewhere("cancelServiceOrder"):
        await cancellation.accept(job)


@extension.reaction(
    "ServiceOrderCreateEvent", "ServiceOrderStateChangeEvent", "ServiceOrderAttributeValueChangeEvent", when=FULFILMENT
)
async def on_service_order(job: Job) -> None:
    """A service order changed: bring its product order up to date, then take the next step."""
    await product_orders.follow_service_order(job, job.event.resource_id)
    await cancellation.follow(job, job.event.resource_id)
    if not job.gateway.kept_elsewhere(service_orders.ORDERS):
        await service_orders.advance(job, job.event.resource_id)
    else:  # southbound: the OSS activates it; one it stored for an order that does not want it is cancelled
        await parking.cancel_stray(job, job.event.resource_id)


@extension.reaction("CancelServiceOrderStateChangeEvent", when=FULFILMENT)
async def on_cancellation_outcome(job: Job) -> None:
    await cancellation.follow_refusal(job, job.document)
