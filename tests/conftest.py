"""Fixtures: every database-backed test runs on SQLite and, when reachable, on PostgreSQL."""
from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from lti_tool import create_app
from lti_tool.db import Base
from lti_tool.db.migrate import upgrade
from lti_tool.db.session import normalise_url

POSTGRES_URL = os.environ.get("LTI_TOOL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("LTI_TOOL_TEST_REQUIRE_POSTGRES") == "1"


def _postgres_reachable() -> bool:
    try:
        engine = create_engine(normalise_url(POSTGRES_URL))
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def fresh_postgres_database() -> tuple[str, callable]:
    """A database of its own for this test run, dropped afterwards."""
    name = f"lti_tool_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    """An empty database migrated to head by Alembic (never create_all)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        upgrade(url)
        yield url
        return
    if not _postgres_reachable():
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required (LTI_TOOL_TEST_REQUIRE_POSTGRES=1) but unreachable")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")
    url, drop = fresh_postgres_database()
    upgrade(url)
    yield url
    drop()


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("keys")


def empty_tables(app) -> None:
    engine = app.extensions["db_engine"]
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveTool:
    """The tool (with its demo platform) served over real HTTP in a background thread."""

    def __init__(self, app, base_url: str):
        self.app = app
        self.base_url = base_url

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture(scope="session")
def live_tool_session(database_url, keys_dir):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    # ALLOW_PRIVATE_PLATFORMS: the test LMSes (registration_platforms) listen on 127.0.0.1.
    app = create_app({"DATABASE_URL": database_url, "KEYS_DIR": str(keys_dir), "DEMO": True,
                      "ALLOW_PRIVATE_PLATFORMS": True,
                      "BASE_URL": base_url, "SECRET_KEY": "test-secret-" + "x" * 32})
    app.extensions["lti_services"].tool_keys.ensure_key(datetime.now(timezone.utc))
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveTool(app, base_url)
    server.shutdown()
    app.extensions["db_engine"].dispose()


@pytest.fixture
def live_tool(live_tool_session):
    empty_tables(live_tool_session.app)
    yield live_tool_session
    jobs = live_tool_session.app.extensions.get("sync_jobs")
    if jobs is not None:  # a sync a page started (a learner's launch) ends with its test
        jobs.wait(60)


@pytest.fixture
def app(live_tool):
    return live_tool.app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
