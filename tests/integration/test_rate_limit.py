"""Rate limits are shared by every worker: counted in the database or Redis, not in memory."""
from __future__ import annotations

import pytest
from flask import Blueprint
from werkzeug.exceptions import TooManyRequests

from lti_tool import create_app
from lti_tool.db.session import get_session
from lti_tool.web.rate_limit import check_rate, rate_limited


def test_the_limit_allows_then_refuses_with_retry_after(app):
    clock = iter([100.0, 101.0, 102.0, 103.0, 161.0]).__next__
    with app.test_request_context():
        for _ in range(3):
            check_rate("login", "198.51.100.7", 3, 60, clock)
        with pytest.raises(TooManyRequests) as refused:
            check_rate("login", "198.51.100.7", 3, 60, clock)
        assert refused.value.retry_after == 17  # the window 60..120 ends in 17 s
        check_rate("login", "198.51.100.7", 3, 60, clock)  # a new window
        get_session().commit()


def test_identities_and_names_are_counted_apart(app):
    with app.test_request_context():
        for _ in range(2):
            check_rate("login", "a", 2, 60, lambda: 10.0)
        check_rate("login", "b", 2, 60, lambda: 10.0)
        check_rate("verify", "a", 2, 60, lambda: 10.0)
        get_session().commit()


def test_a_limited_page_answers_429_with_a_readable_page(database_url, keys_dir):
    app = create_app({"DATABASE_URL": database_url, "KEYS_DIR": str(keys_dir)})
    bp = Blueprint("limited", __name__)

    @bp.get("/limited")
    @rate_limited("test-limited", limit=2, window_seconds=3600)
    def limited():
        return "ok"

    app.register_blueprint(bp)
    client = app.test_client()
    statuses = [client.get("/limited", headers={"Accept-Language": "en"}) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert "Retry-After" in statuses[-1].headers
    assert "Too many requests" in statuses[-1].get_data(as_text=True)
    app.extensions["db_engine"].dispose()


def test_redis_counter(keys_dir):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/15").ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis not reachable")
    from lti_tool.db.shared_state import RedisStore

    store = RedisStore("redis://127.0.0.1:6379/15", prefix="lti_tool_test_rate:")
    key = "rate:x:y:1"
    store._redis.delete(store._prefix + key)
    assert [store.incr(key, 60) for _ in range(3)] == [1, 2, 3]
    assert 0 < store._redis.ttl(store._prefix + key) <= 60
    store._redis.delete(store._prefix + key)
