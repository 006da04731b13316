"""``state`` and ``status`` of each document in generated columns, indexed by kind (issue 14): a count
of ``state=active`` then reads the index alone, where an index on ``doc ->> 'state'`` made PostgreSQL
visit every matching row. STORED on PostgreSQL, with the "C" collation of the filters; VIRTUAL on
SQLite (which cannot add a stored one, and filters through revision 0003's indexes).

On PostgreSQL adding the columns rewrites the documents' table under an exclusive lock, and the
indexes are built in the migration's transaction: on a large store run ``tmfgate db upgrade``
when the gateway is quiet.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_NAMES = ("state", "status")  # written out: later revisions may change the code's list, not this one


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    # Only what is missing: a store whose version table was lost is adopted by 0001 and comes through here.
    present = {column["name"] for column in sa.inspect(bind).get_columns("tmf_document")}
    for name in _NAMES:
        if postgres:
            if f"doc_{name}" not in present:
                op.execute(
                    f'ALTER TABLE tmf_document ADD COLUMN doc_{name} text COLLATE "C" '
                    f"GENERATED ALWAYS AS (doc ->> '{name}') STORED"
                )
            op.execute(f"CREATE INDEX IF NOT EXISTS ix_tmf_document_doc_{name} ON tmf_document (kind, doc_{name})")
            op.execute(f"DROP INDEX IF EXISTS ix_tmf_document_{name}")  # revision 0002's, on the expression
        elif f"doc_{name}" not in present:
            generated = f"GENERATED ALWAYS AS (doc ->> '{name}') VIRTUAL"
            op.execute(f"ALTER TABLE tmf_document ADD COLUMN doc_{name} TEXT {generated}")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in _NAMES:
        if postgres:
            op.execute(f"CREATE INDEX IF NOT EXISTS ix_tmf_document_{name} ON tmf_document (kind, (doc ->> '{name}'))")
            op.execute(f"DROP INDEX IF EXISTS ix_tmf_document_doc_{name}")
        op.execute(f"ALTER TABLE tmf_document DROP COLUMN doc_{name}")
