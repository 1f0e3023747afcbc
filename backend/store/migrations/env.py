"""Alembic's entry point: runs the migrations on the connection the runner passes in.

Offline (`--sql`), it writes them as SQL for `config.attributes["dialect"]` instead.
"""
from __future__ import annotations

from alembic import context

from backend.store.models import Base


def run_migrations() -> None:
    config = context.config
    # render_as_batch: SQLite cannot ALTER most things in place; batch mode copies the table instead.
    if context.is_offline_mode():
        context.configure(dialect_name=config.attributes["dialect"], target_metadata=Base.metadata,
                          literal_binds=True, render_as_batch=True)
    else:
        context.configure(connection=config.attributes["connection"], target_metadata=Base.metadata,
                          render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
