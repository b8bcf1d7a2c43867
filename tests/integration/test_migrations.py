"""Migrations run upgrade → downgrade → upgrade on SQLite and PostgreSQL, and match the models."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from lti_tool.db import Base
from lti_tool.db.migrate import downgrade, upgrade
from lti_tool.db.session import normalise_url
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, _postgres_reachable, fresh_postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
        return
    if not _postgres_reachable():
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL required but unreachable at {POSTGRES_URL}")
        pytest.skip("PostgreSQL not reachable")
    url, drop = fresh_postgres_database()
    yield url
    drop()


def tables(url: str) -> set[str]:
    engine = create_engine(normalise_url(url))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database):
    upgrade(empty_database)
    assert tables(empty_database) == set(Base.metadata.tables)
    downgrade(empty_database, "base")
    assert tables(empty_database) == set()
    upgrade(empty_database)
    assert tables(empty_database) == set(Base.metadata.tables)


def test_models_and_migrations_agree(empty_database):
    """A model change without a migration fails here (autogenerate finds nothing to do)."""
    upgrade(empty_database)
    engine = create_engine(normalise_url(empty_database))
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []
