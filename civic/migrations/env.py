"""The Alembic environment every app's migrations run in; the caller passes the connection and the app's schema
(see ``civic.migrations``), so there is no alembic.ini and no URL here."""

from __future__ import annotations

from alembic import context

from civic.migrations import Schema, include_object

schema = context.config.attributes["schema"]
connection = context.config.attributes.get("connection")
assert isinstance(schema, Schema)
if connection is None:
    raise RuntimeError("run migrations through `civic db`, which passes the connection")

context.configure(
    connection=connection,
    target_metadata=schema.metadata(),
    include_object=include_object,
    compare_type=True,
    # SQLite cannot alter most of a table in place: Alembic's batch mode copies it instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
