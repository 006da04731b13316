"""The schema of the releases before migrations: documents, and the outbox of events and deliveries.

Stores made by those releases have these tables without Alembic's version table, some of them
without the ``owner`` columns and the newer indexes (which those releases added at start-up). So
this revision creates only what is missing, and an old store comes out of it exactly as a new one.
The tables are written out here, not imported: later revisions change the code's schema, not this one.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_TIME = sa.DateTime(timezone=True)


def _tables() -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "tmf_document",
        metadata,
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("doc", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Index("ix_tmf_document_kind_seq", "kind", "seq"),
        sa.Index("ix_tmf_document_kind_owner_seq", "kind", "owner", "seq"),
    )
    events = sa.Table(
        "tmf_event",
        metadata,
        sa.Column("seq", _SEQ, sa.Identity(), primary_key=True),
        sa.Column("id", sa.String(128), nullable=False, unique=True),
        sa.Column("api", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(128), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("time", _TIME, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("fanned_out", sa.Boolean, nullable=False),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Index("ix_tmf_event_time", "time"),
        sqlite_autoincrement=True,
    )
    sa.Index(
        "ix_tmf_event_unrouted",
        events.c.seq,
        postgresql_where=~events.c.fanned_out,
        sqlite_where=~events.c.fanned_out,
    )
    sa.Table(
        "tmf_delivery",
        metadata,
        sa.Column("id", sa.Uuid(as_uuid=True), primary_key=True),
        sa.Column("subscription_id", sa.String(128), nullable=False),
        sa.Column("event_seq", _SEQ, sa.ForeignKey("tmf_event.seq"), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt", _TIME, nullable=False),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Index("ix_tmf_delivery_due", "state", "next_attempt"),
        sa.Index("ix_tmf_delivery_order", "subscription_id", "kind", "resource_id", "event_seq"),
        sa.Index("ix_tmf_delivery_event", "event_seq"),
    )
    return metadata


def upgrade() -> None:
    bind = op.get_bind()
    metadata = _tables()
    metadata.create_all(bind, checkfirst=True)
    inspector = sa.inspect(bind)
    with warnings.catch_warnings():
        # Looking for an index lists the table's: SQLite's expression indexes (revision 0003, on a store
        # whose version table was lost) are named but not reflected, which is all this needs.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index", sa.exc.SAWarning)
        for table in metadata.sorted_tables:
            present = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present:  # only the nullable owner columns came later
                    op.add_column(table.name, sa.Column(column.name, column.type, nullable=True))
            for index in table.indexes:
                index.create(bind, checkfirst=True)


def downgrade() -> None:
    _tables().drop_all(op.get_bind())
