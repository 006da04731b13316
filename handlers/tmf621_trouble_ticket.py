"""TMF621 Trouble Ticket: tickets follow their lifecycle and link only to what exists.

The lifecycle and its history are in :mod:`handlers.tickets.lifecycle`, the links in
:mod:`handlers.tickets.links`. Listing and retrieving are the generic TMF630 operations. The
products a ticket relates show it while it is open (:mod:`handlers.tickets.products`). Alarms
open, join and resolve incidents (:mod:`handlers.tickets.incidents`), which escalate and close with
time (:mod:`handlers.tickets.follow_up`; the escalation is the extension ``escalation``), while the
``incident_tickets`` setting is on; an incident resolved past its SLA credits the customer's next
bill (:mod:`handlers.tickets.credits`). v5 adds trouble ticket specifications (:mod:`handlers.tickets.specifications`).
"""

from __future__ import annotations

from handlers import apis
from handlers.tickets import credits, follow_up, incidents, lifecycle, links, products, specifications
from handlers.tickets.lifecycle import TICKETS
from handlers.tickets.settings import INCIDENT_TICKETS, SETTINGS
from tmfgate import operations, times
from tmfgate.calls import Call, Reply
from tmfgate.extensions import Handlers

handlers = Handlers(apis.TROUBLE_TICKET, api=apis.TROUBLE_TICKET, settings=SETTINGS)
handlers.reaction("AlarmCreateEvent", "AlarmStateChangeEvent", "AlarmDeleteEvent", when=INCIDENT_TICKETS)(
    incidents.follow_alarm
)
handlers.reaction("TroubleTicketResolvedEvent", when=INCIDENT_TICKETS)(follow_up.close_when_quiet)
# The escalation waits for the SLA time on a subscription of its own (tmfgate.ticket_escalation): on
# the one above it would hold the ticket's later events, and so its closure, back until then.
escalation = Handlers("ticket_escalation")
escalation.reaction("TroubleTicketCreateEvent", when=INCIDENT_TICKETS)(follow_up.escalate)
# v5 only: its trouble ticket specifications (specs/v5/tmf621_trouble_ticket.yaml).
handlers.serve("createTroubleTicketSpecification", specifications.create)
handlers.serve("patchTroubleTicketSpecification", specifications.patch)


@handlers.operation
async def createTroubleTicket(call: Call) -> Reply:
    """Open a ticket, acknowledged, once its links resolve: 201 with the ticket and its ``Location``."""
    ticket = operations.new_document(call, call.body)
    lifecycle.opened(ticket, times.now())
    async with call.gateway.transaction() as tx:
        await links.check(tx, call, ticket)
        raw = await operations.write_new(tx, call, TICKETS, ticket)
        await products.show(tx, call, None, ticket)
    return Reply.created(raw, ticket["href"])


@handlers.operation
async def patchTroubleTicket(call: Call) -> Reply:
    """Change a ticket: a status change must be a legal move (409), new links must resolve (400)."""
    async with call.gateway.transaction() as tx:
        old = await operations.read_for_update(tx, call)
        new = operations.patched(call, old)
        lifecycle.moved(old, new, times.now())
        await links.check(tx, call, new, old)
        raw = await operations.write_changed(tx, call, TICKETS, old, new)
        await products.show(tx, call, old, new)
        await credits.grant(tx, call, old, new)
    return Reply(200, raw)


@handlers.operation
async def deleteTroubleTicket(call: Call) -> Reply:
    """Delete a ticket; the products it related stop showing it."""
    async with call.gateway.transaction() as tx:
        old = await operations.read_for_update(tx, call)
        await operations.write_deleted(tx, call, TICKETS, old)
        await products.show(tx, call, old, None)
    return Reply(204)
