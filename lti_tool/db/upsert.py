"""One-statement insert-or-update on SQLite and PostgreSQL (both speak ON CONFLICT … RETURNING)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable

from sqlalchemy import Connection, Table, bindparam, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def upsert(connection: Connection, table: Table, values: dict[str, Any], conflict: Iterable[str],
           keep_when_missing: Iterable[str] = ()) -> int:
    """Insert `values`, or update the row that has the same `conflict` columns; returns its id.

    Columns named in `keep_when_missing` keep their stored value when the new one is None
    (an LMS that withholds a name must not erase the one we know).
    """
    statement = _statement(connection.dialect.name, table, tuple(values), tuple(conflict), tuple(keep_when_missing))
    return connection.execute(statement, values).scalar_one()


@lru_cache(maxsize=64)
def _statement(dialect_name: str, table: Table, columns: tuple[str, ...], conflict: tuple[str, ...],
               keep: tuple[str, ...]) -> Insert:
    # Building an upsert costs more than running it on SQLite: build each shape once.
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table).values({name: bindparam(name, type_=table.c[name].type) for name in columns})
    updates = {name: (statement.excluded[name] if name not in keep
                      else func.coalesce(statement.excluded[name], table.c[name]))
               for name in columns if name not in conflict}
    return statement.on_conflict_do_update(index_elements=conflict, set_=updates).returning(table.c.id)
