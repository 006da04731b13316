"""The SQL schema: stored documents, and the outbox of events and their deliveries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import literal_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on both databases.

    PostgreSQL keeps a ``timestamptz``. SQLite has no time type: SQLAlchemy writes fixed-width
    ``YYYY-MM-DD HH:MM:SS.ffffff`` text and drops the offset, so values are converted to UTC first
    and then compare correctly as text.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        # Callers check for naive values; assuming UTC here keeps a stray one from comparing as local time.
        value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# An identity on PostgreSQL; SQLite's INTEGER PRIMARY KEY AUTOINCREMENT (a BIGINT key would not be one).
SeqInteger = BigInteger().with_variant(Integer, "sqlite")

metadata = MetaData()

documents = Table(
    "tmf_document",
    metadata,
    Column("kind", String(64), primary_key=True),
    Column("id", String(128), primary_key=True),
    # Insertion order, the default sort: an identity on PostgreSQL, MAX+1 under SQLite's write lock.
    Column("seq", BigInteger, Identity(), nullable=False),
    Column("doc", JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The partner owning the document (tenancy); NULL for the operator's own. Added to older stores
    # at start-up (SqlBackend.open), so it is nullable and last.
    Column("owner", String(128), nullable=True),
    Index("ix_tmf_document_kind_seq", "kind", "seq"),
    Index("ix_tmf_document_kind_owner_seq", "kind", "owner", "seq"),
)

# Containment of the documents (``doc @> '{...}'``, backends.sql.containment): equality filters on
# any attribute path, also inside arrays, and the exact count of their matches. jsonb_path_ops
# keeps one hash per path to a value, smaller and faster for @> than the default operator class.
Index(
    "ix_tmf_document_doc",
    documents.c.doc,
    postgresql_using="gin",
    postgresql_ops={"doc": "jsonb_path_ops"},
    # New entries wait in a pending list that every search reads through until it is merged (by
    # VACUUM, or when full): at the default 4 MB, some 10,000 new documents made a filter on 10,000
    # take 143 ms instead of 13. A small list keeps that read short; inserts still merge in batches.
    postgresql_with={"gin_pending_list_limit": 128},
).ddl_if(dialect="postgresql")

# The top-level attributes clients filter on most that hold few distinct values (a state), so that
# containment's index serves them poorly: ``doc ->> name`` kept in a generated column (STORED on
# PostgreSQL, VIRTUAL on SQLite, which does not use it) indexed per kind. Its statistics tell the
# planner how many documents a value has, and a count of them reads the index alone (an index on
# the expression itself cannot: PostgreSQL sees that it needs ``doc``) (backends.sql.containment).
INDEXED = ("state", "status")
_CODE_POINTS = Text().with_variant(Text(collation="C"), "postgresql")


def indexed_column(name: str) -> str:
    """The generated column holding ``doc ->> name`` for a name of INDEXED."""
    return f"doc_{name}"


for _name in INDEXED:
    documents.append_column(
        # Compared in code point order ("C"), as the rules ask and as the range of arrays ('[') needs.
        Column(indexed_column(_name), _CODE_POINTS, Computed(f"doc ->> '{_name}'", persisted=True), nullable=True)
    )
    Index(f"ix_tmf_document_{indexed_column(_name)}", documents.c.kind, documents.c[indexed_column(_name)]).ddl_if(
        dialect="postgresql"
    )

# SQLite's counterpart (issue 14): ``json_extract(doc, '$.name')`` by kind, for the top-level
# attributes handlers and partners compare most, many-valued (a state) or nearly unique (ids). The
# filters ask that very expression (backends.sql.query), the only form SQLite matches to an
# index; a count reads the index alone. Each costs a parse of the document per write.
SQLITE_INDEXED = ("state", "status", "resourceStatus", "externalId", "id")


def json_member(name: str) -> str:
    """The JSON path of a top-level member in SQLITE_INDEXED, as the index spells it (a literal, not a parameter)."""
    assert name in SQLITE_INDEXED, name
    return f"'$.{name}'"


for _name in SQLITE_INDEXED:
    Index(
        f"ix_tmf_document_json_{_name}",
        documents.c.kind,
        func.json_extract(documents.c.doc, literal_column(json_member(_name))),
    ).ddl_if(dialect="sqlite")

# Date ranges on a member of one kind (backends.sql.ranges): the usage of a month, read by rating
# checks, the assurance and ``usageDate.gte=...&usageDate.lt=...``. Partial indexes on the member's
# text (code point order), written only for that kind's documents.
# The kind's handler keeps the member a date-time string (backends.sql.ranges says why it must).
RANGE_INDEXED = (("usage", "usageDate"),)


def range_index(kind: str, name: str) -> str:
    """The name of the partial index of a member of RANGE_INDEXED."""
    return f"ix_tmf_document_{kind}_{name}"


for _kind, _name in RANGE_INDEXED:
    _only = documents.c.kind == literal_column(f"'{_kind}'")
    Index(
        range_index(_kind, _name),
        func.json_extract(documents.c.doc, literal_column(f"'$.{_name}'")),
        sqlite_where=_only,
    ).ddl_if(dialect="sqlite")
    Index(
        range_index(_kind, _name),
        documents.c.doc.op("->>", return_type=Text)(literal_column(f"'{_name}'")).collate("C"),
        postgresql_where=_only,
    ).ddl_if(dialect="postgresql")

events = Table(
    "tmf_event",
    metadata,
    # Assigned on insert: a resource's events are inserted under its row lock, so in commit order.
    Column("seq", SeqInteger, Identity(), primary_key=True),
    Column("id", String(128), nullable=False, unique=True),
    Column("api", String(128), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("resource_id", String(128), nullable=False),
    Column("type", String(128), nullable=False),
    Column("time", UtcDateTime(), nullable=False),
    Column("body", Text, nullable=False),  # the notification's JSON text, sent as it is
    Column("fanned_out", Boolean, nullable=False, default=False),
    Column("owner", String(128), nullable=True),  # the resource's owner, which subscriptions are kept to
    Index("ix_tmf_event_time", "time"),
    sqlite_autoincrement=True,  # seq never reused, even after the newest event is deleted
)
# Only the events still to fan out, oldest first: what fan_out reads, and it stays small.
Index(
    "ix_tmf_event_unrouted",
    events.c.seq,
    postgresql_where=~events.c.fanned_out,
    sqlite_where=~events.c.fanned_out,
)

deliveries = Table(
    "tmf_delivery",
    metadata,
    Column("id", Uuid(as_uuid=True), primary_key=True),
    Column("subscription_id", String(128), nullable=False),
    Column("event_seq", SeqInteger, ForeignKey("tmf_event.seq"), nullable=False),
    # Copied from the event so one index answers "is an older delivery of this resource pending?".
    Column("kind", String(64), nullable=False),
    Column("resource_id", String(128), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt", UtcDateTime(), nullable=False),
    Column("lease_until", UtcDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_tmf_delivery_due", "state", "next_attempt"),
    Index("ix_tmf_delivery_order", "subscription_id", "kind", "resource_id", "event_seq"),
    Index("ix_tmf_delivery_event", "event_seq"),  # an event's deliveries, for pruning
)

__all__ = [
    "INDEXED",
    "RANGE_INDEXED",
    "range_index",
    "SQLITE_INDEXED",
    "indexed_column",
    "json_member",
    "UtcDateTime",
    "deliveries",
    "documents",
    "events",
    "metadata",
]
