"""A partial index on the ``usageDate`` of usage records (issue 18): the usage of a month (rating checks,
the assurance, ``usageDate.gte=...&usageDate.lt=...``) was found by reading every usage record. The
index holds the member's text, ``json_extract`` on SQLite, ``doc ->> 'usageDate'`` in code point
order on PostgreSQL (backends.sql.ranges), for documents of kind ``usage`` only.

Built in the migration's transaction, reading the usage records once.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Written out, not imported: later revisions may change the code's list, not this one.
_NAME = "ix_tmf_document_usage_usageDate"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        expression = "json_extract(doc, '$.usageDate')"
    else:
        expression = "(doc ->> 'usageDate') COLLATE \"C\""
    op.execute(f"CREATE INDEX IF NOT EXISTS \"{_NAME}\" ON tmf_document ({expression}) WHERE kind = 'usage'")


def downgrade() -> None:
    op.execute(f'DROP INDEX IF EXISTS "{_NAME}"')
