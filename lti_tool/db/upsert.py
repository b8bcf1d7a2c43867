"""One-statement insert-or-update on SQLite and PostgreSQL (both speak ON CONFLICT … RETURNING)."""
from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import Connection, Table, func
from sqlalchemy.dialects import postgresql, sqlite


def upsert(connection: Connection, table: Table, values: dict[str, Any], conflict: Iterable[str],
           keep_when_missing: Iterable[str] = ()) -> int:
    """Insert `values`, or update the row that has the same `conflict` columns; returns its id.

    Columns named in `keep_when_missing` keep their stored value when the new one is None
    (an LMS that withholds a name must not erase the one we know).
    """
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values)
    conflict = tuple(conflict)
    keep = set(keep_when_missing)
    updates = {
        name: (statement.excluded[name] if name not in keep
               else func.coalesce(statement.excluded[name], table.c[name]))
        for name in values if name not in conflict
    }
    statement = statement.on_conflict_do_update(index_elements=conflict, set_=updates).returning(table.c.id)
    return connection.execute(statement).scalar_one()
