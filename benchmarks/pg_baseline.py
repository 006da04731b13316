"""The baseline of ``pg_pool.py`` and ``pg_create.py``: a bare Starlette app reading one service by id
from the same table, or creating one in it (id, href, the same INSERT), through the same driver
(SQLAlchemy's async engine on psycopg), pooled, nothing else.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/bench uvicorn pg_baseline:app --app-dir benchmarks
"""

from __future__ import annotations

import datetime as dt
import os
import uuid

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ENGINE = create_async_engine(
    os.environ["DATABASE_URL"], pool_size=int(os.environ.get("POOL_SIZE", "16")), max_overflow=0
)
GET = text("SELECT doc::text FROM tmf_document WHERE kind = 'service' AND id = :id")
INSERT = text(
    "INSERT INTO tmf_document (kind, id, doc, created_at, updated_at) "
    "VALUES ('service', :id, CAST(:doc AS jsonb), :now, :now) ON CONFLICT (kind, id) DO NOTHING RETURNING seq"
)


async def service(request: Request) -> Response:
    async with ENGINE.connect() as connection:
        found = (await connection.execute(GET, {"id": request.path_params["id"]})).scalar_one_or_none()
    if found is None:
        return Response(status_code=404)
    return Response(found, media_type="application/json")


async def create(request: Request) -> Response:
    """Parse the body, give it an id and href, store it: a create without checks, events or dates."""
    doc = orjson.loads(await request.body())
    identifier = str(uuid.uuid4())
    doc = {"id": identifier, "href": f"{request.base_url}service/{identifier}", **doc}
    body = orjson.dumps(doc)
    async with ENGINE.begin() as connection:
        await connection.execute(INSERT, {"id": identifier, "doc": body.decode(), "now": dt.datetime.now(dt.UTC)})
    return Response(body, status_code=201, media_type="application/json")


app = Starlette(routes=[Route("/service/{id}", service), Route("/service", create, methods=["POST"])])
