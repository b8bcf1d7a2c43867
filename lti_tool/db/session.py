"""Engine and the per-request session: one commit at the request boundary, rollback on error."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """Plain postgresql:// URLs use psycopg 3, the driver we install."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    # No ping on every checkout (two round trips a request): SQLAlchemy invalidates the whole pool on
    # the first disconnect error, and recycling keeps connections younger than server timeouts.
    return create_engine(url, pool_pre_ping=False, pool_recycle=600, pool_size=5, max_overflow=5)


def _tune_sqlite(dbapi_connection, _record) -> None:
    # WAL lets gunicorn's workers read while one writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["LTI_SETTINGS"].DATABASE_URL)
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)

    @app.after_request
    def commit_session(response):
        # The session, if the request opened one, controls the request's connection and transaction.
        session: Session | None = g.pop("db_session", None)
        connection: Connection | None = g.pop("db_connection", None)
        unit = session if session is not None else connection
        if unit is not None:
            try:
                # A handled 4xx (a rejected launch) still commits its log entry and spent state.
                if g.pop("db_failed", False):
                    unit.rollback()
                else:
                    unit.commit()
            finally:
                if session is not None:
                    session.close()
                if connection is not None:
                    connection.close()
        return response

    @app.teardown_appcontext
    def close_session(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        connection: Connection | None = g.pop("db_connection", None)
        if session is not None:
            session.rollback()
            session.close()
        if connection is not None:
            connection.rollback()
            connection.close()


def get_session() -> Session:
    """The request's session; lower layers flush, the request boundary commits.

    When the request already works on its connection (get_connection), the session takes it
    over, transaction included: one connection, one transaction per request either way.
    """
    if "db_session" not in g:
        connection = g.get("db_connection")
        make = current_app.extensions["db_sessionmaker"]
        if connection is None:
            g.db_session = make()
        else:
            g.db_session = make(bind=connection, join_transaction_mode="control_fully")
            g.db_session.connection()  # joined now: its commit() and rollback() are the transaction's
    return g.db_session


def get_connection() -> Connection:
    """The request's connection, in the request's transaction, without an ORM session.

    For the statements of the hot paths (the shared store, the launch): a unit of work costs
    more than they do. Committed (or rolled back) at the request boundary like the session.
    """
    session = g.get("db_session")
    if session is not None:
        return session.connection()
    connection = g.get("db_connection")
    if connection is None:
        connection = g.db_connection = current_app.extensions["db_engine"].connect()
        connection.begin()
    return connection


def get_engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions["db_engine"]
