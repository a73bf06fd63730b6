"""Alembic environment: always called by ``core.feedback.engine.migrate`` with an open connection.

The caller holds the database's write lock (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL advisory lock),
so two app processes starting on a fresh database never both create the tables.
"""

from alembic import context

from core.feedback.schema import Base

connection = context.config.attributes["connection"]
# render_as_batch: SQLite cannot ALTER most columns; batch mode copies the table instead.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
