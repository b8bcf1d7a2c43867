"""Statements compiled once per dialect and run straight on the DBAPI cursor of a SQLAlchemy connection.

For the few statements every login and launch runs. On that path SQLAlchemy's execution machinery
costs more than the statements themselves (about 4x a SQLite query, 2x a PostgreSQL round trip),
so a `Prepared` statement keeps only what matters: the SQL text, and the bind and result
processing of its column types, all of them SQLAlchemy's own, compiled from a Core statement. The
values are therefore written and read exactly as Core would.

It runs inside the connection's transaction (the request's, committed at the request boundary),
but bypasses the engine: no `before_cursor_execute`/`after_cursor_execute` events and no echo
for these statements. Only plain statements: no expanding (IN) or post-compile parameters.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # bind names, in order for a positional paramstyle
    keys: tuple[str, ...]  # the names the DBAPI sees (escaped), for a named paramstyle
    bind: tuple[Callable[[Any], Any] | None, ...]
    constants: Mapping[str, Any]  # values bound in the statement itself
    positional: bool
    result: tuple[Callable[[Any], Any] | None, ...]


class Prepared:
    """A Core statement (or one per dialect name) compiled on first use for each dialect."""

    def __init__(self, statement: ClauseElement | Mapping[str, ClauseElement]):
        self._statements = statement
        self._compiled: dict[str, _Compiled] = {}

    def execute(self, connection: Connection, params: Mapping[str, Any]) -> "PreparedResult":
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name) or self._compile(dialect)
        values = [params[name] if name in params else compiled.constants.get(name) for name in compiled.names]
        values = [value if process is None or value is None else process(value)
                  for value, process in zip(values, compiled.bind)]
        parameters = values if compiled.positional else dict(zip(compiled.keys, values))
        cursor = None
        try:
            cursor = connection.connection.dbapi_connection.cursor()
            cursor.execute(compiled.sql, parameters)
        except Exception as exc:  # wrapped (and a lost connection invalidated) as Core does
            connection._handle_dbapi_exception(exc, compiled.sql, parameters, cursor, None)
        return PreparedResult(cursor, compiled.result)

    def _compile(self, dialect: Dialect) -> _Compiled:
        statement = self._statements
        if isinstance(statement, Mapping):
            statement = statement[dialect.name]
        compiled = statement.compile(dialect=dialect)
        positional = bool(compiled.positional)
        names = tuple(compiled.positiontup) if positional else tuple(compiled.bind_names.values())
        escaped = compiled.escaped_bind_names or {}
        processors = compiled._bind_processors
        result = tuple(column_type._cached_result_processor(dialect, None)
                       for *_, column_type in compiled._result_columns)
        prepared = _Compiled(
            sql=compiled.string, names=names, keys=tuple(escaped.get(name, name) for name in names),
            bind=tuple(processors.get(name) for name in names),
            constants={name: value for name, value in compiled.params.items() if value is not None},
            positional=positional, result=result)
        self._compiled[dialect.name] = prepared
        return prepared


class PreparedResult:
    def __init__(self, cursor, processors: Sequence[Callable[[Any], Any] | None]):
        self._cursor = cursor
        self._processors = processors

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def first(self) -> tuple | None:
        row = self._cursor.fetchone()
        self._cursor.close()
        if row is None or not any(self._processors):
            return row
        return tuple(value if process is None or value is None else process(value)
                     for value, process in zip(row, self._processors))

    def scalar(self) -> Any:
        row = self.first()
        return None if row is None else row[0]

    def all(self) -> list[tuple]:
        rows = self._cursor.fetchall()
        self._cursor.close()
        if not any(self._processors):
            return rows
        return [tuple(value if process is None or value is None else process(value)
                      for value, process in zip(row, self._processors)) for row in rows]


def read_outside_transaction(engine: Engine, statement: Prepared, params: Mapping[str, Any]) -> list[tuple]:
    """Rows of a read on a pooled connection of its own, in no transaction (PostgreSQL: autocommit).

    For a request that only reads (the OIDC login): no BEGIN and COMMIT around it, no ORM session.
    """
    connection = engine.connect()
    try:
        if engine.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        return statement.execute(connection, params).all()
    finally:
        connection.close()
