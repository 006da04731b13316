"""TMF640 monitors: each activation request kept as what was asked of the network and its answer."""

from __future__ import annotations

from backends.base import Transaction
from handlers import apis
from tmfgate import codec, operations
from tmfgate.calls import Actor, Job
from tmfgate.ids import new_id
from tmfgate.types import Document


async def record(
    tx: Transaction,
    actor: Actor,
    *,
    method: str,
    target: str,
    source: str,
    request: str,
    status: str,
    response: str,
    failed: bool,
) -> None:
    """A TMF640 monitor of one activation request: what was asked of the network, and its answer."""
    id = new_id()
    headers = [
        {"name": "Content-Type", "value": "application/json"},
        {"name": "X-Correlation-ID", "value": actor.correlation_id},
    ]
    await operations.write_new(
        tx,
        actor,
        "monitor",
        {
            "id": id,
            "href": actor.gateway.href(apis.SERVICE_ACTIVATION, "monitor", id),
            "@type": "Monitor",
            "sourceHref": source,
            "state": "InError" if failed else "Completed",
            "request": {"method": method, "to": target, "body": request, "header": headers},
            "response": {"statusCode": status, "body": response, "header": headers[:1]},
        },
    )


async def record_activation(tx: Transaction, job: Job, asked: Document, done: Document, failure: str | None) -> None:
    """Record an activation as TMF640 shows it: the request made of the network and its outcome."""
    action = asked.get("action")
    service = done.get("service") or asked.get("service") or {}
    method = {"add": "POST", "modify": "PATCH", "delete": "DELETE"}.get(str(action), "GET")
    target = (
        job.gateway.href(apis.SERVICE_ACTIVATION, "service", service["id"])
        if service.get("id")
        else f"{job.gateway.settings.base_url}{job.gateway.api(apis.SERVICE_ACTIVATION).base_path}/service"
    )
    if failure is None:
        raw = await tx.get("service", str(service.get("id")))
        status, body = ("201" if action == "add" else "200"), (raw or b"{}").decode()
    else:
        status, body = (
            "422",
            codec.dumps(
                {"code": "ACTIVATION_FAILED", "reason": "Activation failed", "message": failure, "status": "422"}
            ).decode(),
        )
    await record(
        tx,
        job,
        method=method,
        target=target,
        source=service.get("href") or target,
        request=codec.dumps(asked.get("service", {})).decode(),
        status=status,
        response=body,
        failed=failure is not None,
    )
