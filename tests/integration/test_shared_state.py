"""The shared store (login state, used-state markers, launch sessions) behaves alike in the
database (SQLite, PostgreSQL) and in Redis, including two workers taking the same state at once."""
from __future__ import annotations

import os
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import redis
from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from lti_tool.db.session import make_engine
from lti_tool.db.shared_state import USED, DatabaseStore, RedisStore
from lti_tool.db.tenancy import SharedState
from lti_tool.lti.login import STATE_KEY, state_cookie_name
from lti_tool.services.launches import SESSION_KEY
from tests.support.lms import DemoLms
from tests.support.serve import served_app

REDIS_URL = os.environ.get("LTI_TOOL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
APP_REDIS_URL = "redis://127.0.0.1:6379/15"
REQUIRE_REDIS = os.environ.get("LTI_TOOL_TEST_REQUIRE_REDIS") == "1"
TAKERS = 8
KEY_PREFIX = "shared-state-test:"


def _redis_reachable(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def require_redis(url: str) -> None:
    if not _redis_reachable(url):
        if REQUIRE_REDIS:
            pytest.fail(f"Redis at {url} is required (LTI_TOOL_TEST_REQUIRE_REDIS=1) but unreachable")
        pytest.skip(f"Redis not reachable at {url}")


class FakeClock:
    def __init__(self):
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


def run_concurrently(count: int, work) -> list:
    """Run work(i) in `count` threads released at the same moment; returns results (or raises)."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


class StoreContract:
    """What every SharedStore must do; subclasses provide `store`, `expire` and `independent_taker`."""

    def key(self) -> str:
        return KEY_PREFIX + uuid.uuid4().hex

    def test_put_then_get(self, store):
        key = self.key()
        store.put(key, '{"nonce": "n-1"}', 60)
        assert store.get(key) == '{"nonce": "n-1"}'

    def test_get_of_an_unknown_key_is_none(self, store):
        assert store.get(self.key()) is None

    def test_put_again_replaces_the_value(self, store):
        key = self.key()
        store.put(key, "first", 60)
        store.put(key, "second", 60)
        assert store.get(key) == "second"

    def test_value_expires_after_its_ttl(self, store, expire):
        key, lasting = self.key(), self.key()
        store.put(key, "short-lived", 1)
        store.put(lasting, "long-lived", 600)
        expire(1.5)
        assert store.get(key) is None
        assert store.get(lasting) == "long-lived"

    def test_take_returns_the_value_once_then_used(self, store):
        key = self.key()
        store.put(key, "login-state", 60)
        assert store.take(key, 60) == "login-state"
        assert store.take(key, 60) == USED
        assert store.get(key) == USED

    def test_take_of_an_unknown_or_expired_key_is_none(self, store, expire):
        assert store.take(self.key(), 60) is None
        key = self.key()
        store.put(key, "short-lived", 1)
        expire(1.5)
        assert store.take(key, 60) is None
        assert store.get(key) is None  # a take must not resurrect an expired key as USED

    def test_used_marker_expires_after_keep_seconds(self, store, expire):
        key = self.key()
        store.put(key, "v", 600)
        assert store.take(key, 1) == "v"
        assert store.get(key) == USED
        expire(1.5)
        assert store.get(key) is None

    def test_concurrent_takers_exactly_one_wins(self, store, independent_taker):
        key = self.key()
        store.put(key, "the-login-state", 600)
        self.commit(store)
        results = run_concurrently(TAKERS, lambda _i: independent_taker(key))
        assert results.count("the-login-state") == 1, results
        assert results.count(USED) == TAKERS - 1, results

    def commit(self, store) -> None:
        pass


# --- the database ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


class TestDatabaseStore(StoreContract):
    @pytest.fixture
    def clock(self):
        return FakeClock()

    @pytest.fixture
    def session(self, engine):
        session = sessionmaker(bind=engine)()
        yield session
        session.rollback()
        session.execute(delete(SharedState).where(SharedState.key.startswith(KEY_PREFIX)))
        session.commit()
        session.close()

    @pytest.fixture
    def store(self, session, clock):
        return DatabaseStore(lambda: session, clock=clock)

    @pytest.fixture
    def expire(self, clock):
        def advance(seconds: float) -> None:
            clock.now += timedelta(seconds=seconds)
        return advance

    @pytest.fixture
    def independent_taker(self, engine, clock):
        """Each taker is a worker of its own: its own session, connection and transaction."""
        make_session = sessionmaker(bind=engine)

        def take(key: str):
            session = make_session()
            try:
                value = DatabaseStore(lambda: session, clock=clock).take(key, 60)
                session.commit()
                return value
            finally:
                session.close()
        return take

    def commit(self, store) -> None:
        store._session().commit()

    def test_values_are_rows_other_sessions_see_once_committed(self, store, session, engine):
        key = self.key()
        store.put(key, "shared", 60)
        session.commit()
        other = sessionmaker(bind=engine)()
        try:
            assert other.scalar(select(SharedState.value).where(SharedState.key == key)) == "shared"
        finally:
            other.close()


# --- Redis -----------------------------------------------------------------------------------
class TestRedisStore(StoreContract):
    @pytest.fixture
    def prefix(self):
        require_redis(REDIS_URL)
        prefix = f"lti_tool_test:{uuid.uuid4().hex}:"
        yield prefix
        client = redis.Redis.from_url(REDIS_URL)
        for name in client.scan_iter(match=prefix + "*"):
            client.delete(name)
        client.close()

    @pytest.fixture
    def store(self, prefix):
        return RedisStore(REDIS_URL, prefix=prefix)

    @pytest.fixture
    def expire(self):
        import time

        return time.sleep

    @pytest.fixture
    def independent_taker(self, prefix):
        def take(key: str):
            return RedisStore(REDIS_URL, prefix=prefix).take(key, 60)
        return take


# --- a launch with Redis as the shared store -------------------------------------------------
def test_launch_end_to_end_keeps_login_state_in_redis(database_url, tmp_path):
    require_redis(APP_REDIS_URL)
    client = redis.Redis.from_url(APP_REDIS_URL, decode_responses=True)
    created: list[str] = []
    with served_app({"DATABASE_URL": database_url, "KEYS_DIR": str(tmp_path / "keys"), "DEMO": True,
                     "REDIS_URL": APP_REDIS_URL}) as tool:
        assert isinstance(tool.app.extensions["lti_services"].store, RedisStore)
        lms = DemoLms(tool)
        try:
            browser = lms.browser()
            login = lms.login(browser)
            state_key = "lti_tool:" + STATE_KEY + login.state
            created.append(state_key)
            # The login state is in Redis, with an expiry, and not in the database.
            assert '"nonce": "%s"' % login.nonce in client.get(state_key)
            assert 0 < client.ttl(state_key) <= tool.app.config["LTI_SETTINGS"].LOGIN_STATE_TTL
            engine = tool.app.extensions["db_engine"]
            with engine.connect() as connection:
                assert connection.execute(select(SharedState.key).where(
                    SharedState.key == STATE_KEY + login.state)).first() is None
            assert any(c.name == state_cookie_name(login.state) for c in browser.cookies)

            response = lms.post_launch(browser, lms.sign(lms.claims(login.nonce)), login.state)
            assert response.status_code == 303, response.text[:1000]
            launch_id = response.headers["Location"].split("launch=", 1)[1]
            created.append("lti_tool:" + SESSION_KEY + launch_id)
            assert client.get(state_key) == USED
            assert client.exists("lti_tool:" + SESSION_KEY + launch_id)

            page = browser.get(tool.url(response.headers["Location"]))
            assert page.status_code == 200
            assert 'data-audience="learner"' in page.text

            replay = lms.post_launch(browser, lms.sign(lms.claims(login.nonce)), login.state)
            assert replay.status_code == 400
            assert "state_replayed" in replay.text
        finally:
            if created:
                client.delete(*created)
            client.close()
