"""Short-lived state shared by every worker and instance: in the database, or in Redis."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Callable, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from .tenancy import SharedState

# A marker that replaces a value taken once, so a second use can be told from an unknown key.
USED = "!used"  # never valid JSON, so it cannot collide with a stored value
PURGE_ONE_IN = 200


class SharedStore(Protocol):
    def put(self, key: str, value: str, ttl_seconds: int) -> None: ...

    def get(self, key: str) -> str | None: ...

    def take(self, key: str, keep_marker_seconds: int) -> str | None:
        """Atomically read a value and mark it used; returns USED to a second taker."""
        ...


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class DatabaseStore:
    """Rows in `shared_state`, written through the request's session (committed with it)."""

    def __init__(self, session: Callable[[], Session], clock: Callable[[], datetime] = _utcnow):
        self._session = session
        self._clock = clock

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        session = self._session()
        now = self._clock()
        if random.randrange(PURGE_ONE_IN) == 0:
            session.execute(delete(SharedState).where(SharedState.expires_at < now))
        session.execute(delete(SharedState).where(SharedState.key == key))
        session.add(SharedState(key=key, value=value, expires_at=now + timedelta(seconds=ttl_seconds)))
        session.flush()

    def get(self, key: str) -> str | None:
        row = self._session().execute(
            select(SharedState.value).where(SharedState.key == key,
                                            SharedState.expires_at > self._clock())
        ).first()
        return None if row is None else row[0]

    def take(self, key: str, keep_marker_seconds: int) -> str | None:
        value = self.get(key)
        if value is None or value == USED:
            return value
        # Compare-and-swap: of two concurrent takers only one changes the row.
        result = self._session().execute(
            update(SharedState)
            .where(SharedState.key == key, SharedState.value == value)
            .values(value=USED, expires_at=self._clock() + timedelta(seconds=keep_marker_seconds))
        )
        return value if result.rowcount == 1 else USED


class RedisStore:
    """Keys in Redis with their own expiry; `take` is one atomic SET … GET."""

    def __init__(self, url: str, prefix: str = "lti_tool:"):
        import redis

        self._redis = redis.Redis.from_url(url, decode_responses=True)
        self._prefix = prefix

    def put(self, key: str, value: str, ttl_seconds: int) -> None:
        self._redis.set(self._prefix + key, value, ex=ttl_seconds)

    def get(self, key: str) -> str | None:
        return self._redis.get(self._prefix + key)

    def take(self, key: str, keep_marker_seconds: int) -> str | None:
        return self._redis.set(self._prefix + key, USED, ex=keep_marker_seconds, xx=True, get=True)
