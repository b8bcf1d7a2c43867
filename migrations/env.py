"""Alembic environment: batch mode on (SQLite), the URL handed in by lti_tool.db.migrate."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from lti_tool.db import Base
from lti_tool.db.session import normalise_url

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    connectable = config.attributes.get("connection")
    if connectable is None:
        engine = create_engine(normalise_url(url), poolclass=pool.NullPool)
        with engine.connect() as connection:
            _run(connection)
        engine.dispose()
    else:
        _run(connectable)


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
