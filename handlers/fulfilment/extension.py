"""The fulfilment extension: its settings, and the reactions that carry product and service orders out.

Each reaction runs in the delivery worker, never in the request (:mod:`tmfgate.notifications.reactions`):
a new product order is decomposed (:mod:`handlers.fulfilment`), each change of a service order is
followed up to its product order, checked for cancellation (:mod:`handlers.cancellation`) and
carried on (:mod:`handlers.service_activation`).
"""

from __future__ import annotations

from handlers import cancellation, fulfilment, service_activation
from handlers.fulfilment import FULFILMENT
from tmfgate.calls import Job
from tmfgate.extensions import Handlers

extension = Handlers("fulfilment", settings=[FULFILMENT, service_activation.ACTIVATION_DELAY])
extension.reaction("ProductOrderCreateEvent", when=FULFILMENT)(fulfilment.decompose)
extension.reaction("CancelServiceOrderCreateEvent", when=FULFILMENT)(cancellation.accept)


@extension.reaction(
    "ServiceOrderCreateEvent", "ServiceOrderStateChangeEvent", "ServiceOrderAttributeValueChangeEvent", when=FULFILMENT
)
async def on_service_order(job: Job) -> None:
    """A service order changed: bring its product order up to date, then take the next step."""
    await fulfilment.follow_service_order(job, job.event.resource_id)
    await cancellation.follow(job, job.event.resource_id)
    await service_activation.advance(job, job.event.resource_id)


@extension.reaction("CancelServiceOrderStateChangeEvent", when=FULFILMENT)
async def on_cancellation_outcome(job: Job) -> None:
    await cancellation.follow_refusal(job, job.document)
