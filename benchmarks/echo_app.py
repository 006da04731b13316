"""The baseline: a bare Starlette app that answers ``POST /echo`` with the body it received."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def echo(request: Request) -> Response:
    """Send the body back unparsed, with the 201 of a create: the ceiling of the Python stack."""
    return Response(await request.body(), status_code=201, media_type="application/json")


app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
