"""Short-lived state shared by every worker and instance: in the database, or in Redis."""
from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta, timezone
from typing import Callable, Protocol

from sqlalchemy import Connection, Integer, String, bindparam, cast, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .prepared import Prepared
from .tenancy import SharedState

# A marker that replaces a value taken once, so a second use can be told from an unknown key.
USED = "!used"  # never valid JSON, so it cannot collide with a stored value
PURGE_ONE_IN = 200


class SharedStore(Protocol):
    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        """Set a value, replacing any."""
        ...

    def add(self, key: str, value: str, ttl_seconds: int) -> None:
        """Set a value under a new, unguessable key (one cheap insert)."""
        ...

    def get(self, key: str) -> str | None: ...

    def incr(self, key: str, ttl_seconds: int) -> int:
        """Add one to a counter (created at 1, expiring after ttl_seconds); returns the new count."""
        ...

    def take(self, key: str, keep_marker_seconds: int, expected: str | None = None) -> str | None:
        """Atomically read a value and mark it used; returns USED to a second taker.

        With `expected` (a value just read by `get`) the read is skipped: the swap succeeds
        only if the value is still that one.
        """
        ...

    def note_single_use(self, key: str, value: str, ttl_seconds: int) -> None:
        """A single-use value was issued under `key`; it travels signed, so storing it is optional.

        Redis keeps it (one cheap SET, readable while it lives); the database writes nothing:
        `spend` inserts the marker. Either way the key's first `spend` wins.
        """
        ...

    def spend(self, key: str, keep_marker_seconds: int) -> bool | None:
        """Mark a single-use key used, atomically: True for the first spender, False afterwards
        (the marker lasts keep_marker_seconds); None when the store was told to keep the value
        and no longer has it (Redis: expired or evicted), which callers refuse like an unknown key.
        """
        ...


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


_TABLE = SharedState.__table__
_SELECT = Prepared(select(_TABLE.c.value).where(_TABLE.c.key == bindparam("k"), _TABLE.c.expires_at > bindparam("now")))
_SWAP = (update(_TABLE).where(_TABLE.c.key == bindparam("k"), _TABLE.c.value == bindparam("old"))
         .values(value=USED, expires_at=bindparam("until")))
_INSERT = Prepared(insert(_TABLE).values(key=bindparam("k"), value=bindparam("v"), expires_at=bindparam("until")))
_DELETE = delete(_TABLE).where(_TABLE.c.key == bindparam("k"))
_PURGE = delete(_TABLE).where(_TABLE.c.expires_at < bindparam("now"))
_KEY_LENGTH = _TABLE.c.key.type.length
# An insert that leaves an existing row alone: rowcount 1 for the first spender only.
_SPEND = Prepared({name: dialect.insert(_TABLE).values(key=bindparam("k"), value=USED, expires_at=bindparam("until"))
                   .on_conflict_do_nothing(index_elements=["key"])
                   for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))})


def _column_key(key: str) -> str:
    """A key that fits the column: a long one (a signed login state) becomes its readable head + its hash."""
    if len(key) <= _KEY_LENGTH:
        return key
    return key[:_KEY_LENGTH - 65] + "#" + hashlib.sha256(key.encode()).hexdigest()


class DatabaseStore:
    """Rows in `shared_state`, written in the request's transaction (committed with it).

    Statements are built once and run on the session's connection: this is on every launch
    (the hot ones prepared, see db/prepared.py).
    """

    def __init__(self, session: Callable[[], Session | Connection], clock: Callable[[], datetime] = _utcnow):
        self._session = session  # the request's session, or its connection (db.get_connection)
        self._clock = clock

    def _connection(self) -> Connection:
        unit = self._session()
        return unit if isinstance(unit, Connection) else unit.connection()

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        connection = self._connection()
        connection.execute(_DELETE, {"k": _column_key(key)})
        self._insert(connection, _INSERT, {"k": _column_key(key), "v": value}, ttl_seconds)

    def add(self, key: str, value: str, ttl_seconds: int) -> None:
        self._insert(self._connection(), _INSERT, {"k": _column_key(key), "v": value}, ttl_seconds)

    def _insert(self, connection: Connection, statement, values: dict, ttl_seconds: int):
        now = self._clock()
        if random.randrange(PURGE_ONE_IN) == 0:
            connection.execute(_PURGE, {"now": now})
        return statement.execute(connection, {**values, "until": now + timedelta(seconds=ttl_seconds)})

    def get(self, key: str) -> str | None:
        return _SELECT.execute(self._connection(), {"k": _column_key(key), "now": self._clock()}).scalar()

    def note_single_use(self, key: str, value: str, ttl_seconds: int) -> None:
        """Nothing: a row per login would cost a write (and a write lock) on every login."""

    def spend(self, key: str, keep_marker_seconds: int) -> bool | None:
        # Of two concurrent spenders the second waits for the first's row, then inserts nothing.
        return self._insert(self._connection(), _SPEND, {"k": _column_key(key)}, keep_marker_seconds).rowcount == 1

    def incr(self, key: str, ttl_seconds: int) -> int:
        connection = self._connection()
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(_TABLE).values(key=_column_key(key), value="1",
                                                  expires_at=self._clock() + timedelta(seconds=ttl_seconds))
        statement = statement.on_conflict_do_update(
            index_elements=["key"],
            set_={"value": cast(cast(_TABLE.c.value, Integer) + 1, String)}).returning(_TABLE.c.value)
        return int(connection.execute(statement).scalar_one())

    def take(self, key: str, keep_marker_seconds: int, expected: str | None = None) -> str | None:
        value = self.get(key) if expected is None else expected
        if value is None or value == USED:
            return value
        # Compare-and-swap: of two concurrent takers only one changes the row.
        result = self._connection().execute(_SWAP, {
            "k": _column_key(key), "old": value, "until": self._clock() + timedelta(seconds=keep_marker_seconds)})
        return value if result.rowcount == 1 else USED


class RedisStore:
    """Keys in Redis with their own expiry; `take` is one atomic SET … GET."""

    def __init__(self, url: str, prefix: str = "lti_tool:"):
        import redis

        self._redis = redis.Redis.from_url(url, decode_responses=True)
        self._prefix = prefix

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        self._redis.set(self._prefix + key, value, ex=ttl_seconds)

    def add(self, key: str, value: str, ttl_seconds: int) -> None:
        self.put(key, value, ttl_seconds)

    def get(self, key: str) -> str | None:
        return self._redis.get(self._prefix + key)

    def incr(self, key: str, ttl_seconds: int) -> int:
        pipe = self._redis.pipeline()
        pipe.incr(self._prefix + key)
        pipe.expire(self._prefix + key, ttl_seconds, nx=True)
        return int(pipe.execute()[0])

    def take(self, key: str, keep_marker_seconds: int, expected: str | None = None) -> str | None:
        return self._redis.set(self._prefix + key, USED, ex=keep_marker_seconds, xx=True, get=True)

    def note_single_use(self, key: str, value: str, ttl_seconds: int) -> None:
        self.put(key, value, ttl_seconds)

    def spend(self, key: str, keep_marker_seconds: int) -> bool | None:
        # Only a noted key can be spent: one that expired or was evicted is refused, never accepted again.
        previous = self.take(key, keep_marker_seconds)
        return None if previous is None else previous != USED


class OwnTransactionStore:
    """The database store outside any request: every call in a short transaction of its own.

    For work that runs long beside the request cycle (a course sync caching its access tokens):
    a token written into the sync's own transaction would hold SQLite's write lock until the
    sync ends, and no other worker could read it.
    """

    def __init__(self, sessionmaker: Callable[[], Session], clock: Callable[[], datetime] = _utcnow):
        self._sessionmaker = sessionmaker
        self._clock = clock

    def _run(self, method: str, *args):
        with self._sessionmaker() as session:
            value = getattr(DatabaseStore(lambda: session, self._clock), method)(*args)
            session.commit()
            return value

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        self._run("put", key, value, ttl_seconds)

    def add(self, key: str, value: str, ttl_seconds: int) -> None:
        self._run("add", key, value, ttl_seconds)

    def get(self, key: str) -> str | None:
        return self._run("get", key)

    def incr(self, key: str, ttl_seconds: int) -> int:
        return self._run("incr", key, ttl_seconds)

    def take(self, key: str, keep_marker_seconds: int, expected: str | None = None) -> str | None:
        return self._run("take", key, keep_marker_seconds, expected)

    def note_single_use(self, key: str, value: str, ttl_seconds: int) -> None:
        pass  # as DatabaseStore: nothing to write

    def spend(self, key: str, keep_marker_seconds: int) -> bool | None:
        return self._run("spend", key, keep_marker_seconds)


class RememberingStore:
    """The shared store with one run's reads remembered: the access token is looked up once, not per page."""

    def __init__(self, store):
        self._store = store
        self._read: dict[str, str | None] = {}

    def get(self, key: str) -> str | None:
        if key not in self._read:
            self._read[key] = self._store.get(key)
        return self._read[key]

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        self._store.put(key, value, ttl_seconds)
        self._read[key] = value
