"""Alembic environment for the monitor's SQLite database.

There is no ``alembic.ini``: ``monitor.store.migrations.alembic_config`` builds the configuration in
code and passes an open connection, already inside ``BEGIN IMMEDIATE``, as
``config.attributes["connection"]``. ``monitor db upgrade`` and every writer go through
``monitor.store.migrate``; see ``migrations/README.md`` for writing a new revision.
"""

from __future__ import annotations

from alembic import context

from monitor.store.models.base import Base

config = context.config
connection = config.attributes.get("connection")
if context.is_offline_mode() or connection is None:
    raise SystemExit(
        "run migrations through monitor.store.migrate (`monitor db upgrade`); "
        "see migrations/README.md"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters most things by rebuilding the table
    transactional_ddl=True,  # SQLite DDL is transactional; the caller commits
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
