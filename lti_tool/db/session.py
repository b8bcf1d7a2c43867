"""Engine and the per-request session: one commit at the request boundary, rollback on error."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
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
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            try:
                # A handled 4xx (a rejected launch) still commits its log entry and spent state.
                if g.pop("db_failed", False):
                    session.rollback()
                else:
                    session.commit()
            finally:
                session.close()
        return response

    @app.teardown_appcontext
    def close_session(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()


def get_session() -> Session:
    """The request's session; lower layers flush, the request boundary commits."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
    return g.db_session


def get_engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions["db_engine"]
