"""The baseline of ``pg_pool.py``: a bare Starlette app reading one service by id from the same table
through the same driver (SQLAlchemy's async engine on psycopg), pooled, nothing else.

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/bench uvicorn pg_baseline:app --app-dir benchmarks
"""

from __future__ import annotations

import os

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


async def service(request: Request) -> Response:
    async with ENGINE.connect() as connection:
        found = (await connection.execute(GET, {"id": request.path_params["id"]})).scalar_one_or_none()
    if found is None:
        return Response(status_code=404)
    return Response(found, media_type="application/json")


app = Starlette(routes=[Route("/service/{id}", service)])
