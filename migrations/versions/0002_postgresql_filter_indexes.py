"""PostgreSQL's indexes for list filters (issue 14): containment of the documents (GIN, jsonb_path_ops)
and ``doc ->> 'state'`` and ``doc ->> 'status'`` by kind. Nothing on SQLite.

Built in the migration's transaction, so writes to the documents wait while they are built: on a
large store, run ``tmfgate db upgrade`` when the gateway is quiet. ``IF NOT EXISTS``: stores made
between those indexes and migrations have them already.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_tmf_document_doc": "USING gin (doc jsonb_path_ops) WITH (gin_pending_list_limit = 128)",
    "ix_tmf_document_state": "(kind, (doc ->> 'state'))",
    "ix_tmf_document_status": "(kind, (doc ->> 'status'))",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, definition in _INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON tmf_document {definition}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in _INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
