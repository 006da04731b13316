"""SQLite's indexes for list filters and their counts (issue 14): ``json_extract(doc, '$.name')`` by
kind for the top-level attributes compared most (backends.sql.schema.SQLITE_INDEXED). Nothing on
PostgreSQL, whose indexes are revision 0002's.

Built in the migration's transaction, reading every document once.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Written out, not imported: later revisions may change the code's list, not this one.
_NAMES = ("state", "status", "resourceStatus", "externalId", "id")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _NAMES:
        expression = f"json_extract(doc, '$.{name}')"
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_tmf_document_json_{name} ON tmf_document (kind, {expression})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _NAMES:
        op.execute(f"DROP INDEX IF EXISTS ix_tmf_document_json_{name}")
