"""The statements that read and write one document, built once per dialect with bind parameters.

Building a SQLAlchemy statement and its cache key costs more than SQLite takes to run one that
reads or writes a row by its key; built once, each is compiled from SQLAlchemy's cache. Their
parameters (named apart from the columns, as insert and update require): ``of_kind``, ``of_id``,
``json`` (the document's JSON text), ``stamp`` (now), ``owner`` (insert) and ``owners`` (the
owners a tenant's read may see, besides no owner when the statement is one that shares those).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Text, any_, bindparam, cast, func, or_, select, type_coerce
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.expression import ColumnElement

from .schema import documents


class DocumentStatements:
    """get (plain and for update), insert, replace and delete of one document, for one dialect."""

    def __init__(self, postgres: bool) -> None:
        # The stored JSON as text, so no driver ever parses it (the service sends it as it is):
        # doc::text on PostgreSQL (psycopg would decode JSONB); on SQLite it is text already.
        self.doc_text: ColumnElement[str] = (
            cast(documents.c.doc, Text) if postgres else type_coerce(documents.c.doc, Text)
        )
        key = (documents.c.kind == bindparam("of_kind"), documents.c.id == bindparam("of_id"))
        self.get = select(self.doc_text).where(*key)
        # Ids of a batch (``of_ids``): on PostgreSQL one array, not a parameter per id. Prepared (psycopg
        # prepares a statement run five times), IN ($2, ..., $1001) got a generic plan that read every
        # document of the kind and compared each with the 1,000 ids: 8.8 s among 89,000 usage records,
        # where the primary key finds them in 1.3 ms, as it does for ANY of an array of any length.
        self.of_ids: ColumnElement[bool] = (
            documents.c.id == any_(bindparam("of_ids", type_=postgresql.ARRAY(Text)))
            if postgres
            else documents.c.id.in_(bindparam("of_ids", expanding=True))
        )
        self.get_many = select(documents.c.id, self.doc_text).where(
            documents.c.kind == bindparam("of_kind"), self.of_ids
        )
        # Rows are locked as the sort hands them out (LockRows above Sort): in code point order, as
        # Python sorts ids, so a batch takes its locks in the order one-by-one lockers take theirs.
        in_order = documents.c.id.collate("C") if postgres else documents.c.id
        self.get_many_for_update = self.get_many.order_by(in_order).with_for_update()
        self.get_for_update = self.get.with_for_update()  # SQLite renders nothing: BEGIN IMMEDIATE serialises
        self.owner = select(documents.c.owner).where(*key)
        self.owner_many = select(documents.c.id, documents.c.owner).where(
            documents.c.kind == bindparam("of_kind"), self.of_ids
        )
        # By (for update, documents with no owner too): a tenant's read of one document.
        self.get_owned: dict[tuple[bool, bool], Select[Any]] = {}
        for shared in (False, True):
            owned: ColumnElement[bool] = documents.c.owner.in_(bindparam("owners", expanding=True))
            if shared:
                owned = or_(owned, documents.c.owner.is_(None))
            self.get_owned[(False, shared)] = self.get.where(owned)
            self.get_owned[(True, shared)] = self.get.where(owned).with_for_update()
        # A bound JSON text, bypassing the JSON type's own (re-)serialisation.
        text = bindparam("json", type_=Text)
        doc: ColumnElement[Any] = cast(text, postgresql.JSONB) if postgres else text
        now = bindparam("stamp", type_=documents.c.updated_at.type)
        self.replace = documents.update().where(*key).values(doc=doc, updated_at=now)
        self.delete = documents.delete().where(*key)
        values: dict[str, Any] = {
            "kind": bindparam("of_kind"),
            "id": bindparam("of_id"),
            "owner": bindparam("owner", None, type_=documents.c.owner.type, required=False),
            "doc": doc,
            "created_at": now,
            "updated_at": now,
        }
        insert: postgresql.Insert | sqlite.Insert
        if postgres:
            insert = postgresql.insert(documents)  # seq comes from the identity column
        else:
            # SQLite has no sequences; writers hold the database lock, so MAX+1 is never shared.
            values["seq"] = (
                select(func.coalesce(func.max(documents.c.seq), 0) + 1)
                .where(documents.c.kind == bindparam("of_kind"))
                .scalar_subquery()
            )
            insert = sqlite.insert(documents)
        # DO NOTHING rather than a unique violation keeps a PostgreSQL transaction usable afterwards;
        # RETURNING tells whether the row went in (drivers do not all report INSERT rowcounts).
        self.insert = (
            insert.values(values).on_conflict_do_nothing(index_elements=["kind", "id"]).returning(documents.c.seq)
        )
        # Several at once (create_many), executed with a list of values: a duplicate is a unique violation.
        self.insert_many = insert.values(values)


STATEMENTS = {"postgresql": DocumentStatements(postgres=True), "sqlite": DocumentStatements(postgres=False)}
