"""The statements built once per dialect: one document read, written and deleted by its key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from backends.sql.schema import metadata
from backends.sql.statements import STATEMENTS
from tests.backends.conftest import SQL_STORES

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


@pytest.fixture(params=SQL_STORES)
def connection(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Connection]:
    """A connection in a transaction on an empty schema, rolled back afterwards."""
    url = f"sqlite:///{tmp_path}/s.db" if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))
    engine = sa.create_engine(url)
    metadata.create_all(engine)
    with engine.connect() as connection, connection.begin() as transaction:
        yield connection
        transaction.rollback()
    engine.dispose()


def keyed(kind: str, id: str, **values: object) -> dict[str, object]:
    return {"of_kind": kind, "of_id": id, **values}


def test_insert_tells_whether_the_row_went_in_and_numbers_each_kind(connection: sa.Connection) -> None:
    statements = STATEMENTS[connection.dialect.name]
    first = connection.execute(statements.insert, keyed("k", "1", json='{"id":"1"}', stamp=NOW)).first()
    second = connection.execute(statements.insert, keyed("k", "2", json='{"id":"2"}', stamp=NOW)).first()
    taken = connection.execute(statements.insert, keyed("k", "1", json='{"id":"x"}', stamp=NOW)).first()
    assert first is not None and second is not None and second.seq > first.seq
    assert taken is None  # DO NOTHING on a taken key: the transaction stays usable
    assert orjson.loads(connection.execute(statements.get, keyed("k", "1")).scalar_one()) == {"id": "1"}


def test_get_replace_and_delete_by_key(connection: sa.Connection) -> None:
    statements = STATEMENTS[connection.dialect.name]
    connection.execute(statements.insert, keyed("k", "1", json='{"id":"1","v":1}', stamp=NOW))
    replaced = connection.execute(statements.replace, keyed("k", "1", json='{"id":"1","v":2}', stamp=NOW))
    assert replaced.rowcount == 1
    text = connection.execute(statements.get_for_update, keyed("k", "1")).scalar_one()
    assert isinstance(text, str) and orjson.loads(text) == {"id": "1", "v": 2}  # text: no driver parses it
    assert connection.execute(statements.replace, keyed("k", "2", json="{}", stamp=NOW)).rowcount == 0
    assert connection.execute(statements.delete, keyed("k", "1")).rowcount == 1
    assert connection.execute(statements.get, keyed("k", "1")).scalar_one_or_none() is None
    assert connection.execute(statements.delete, keyed("k", "1")).rowcount == 0
