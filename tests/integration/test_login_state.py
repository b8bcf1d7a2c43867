"""The signed login state: nothing written at login, single use, tamper-proof, and an unchanged
relaunch that rewrites none of the user's or the course's rows."""
from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import event, func, select

from lti_tool import create_app
from lti_tool.db.session import get_session
from lti_tool.db.tenancy import LmsUser, SharedState
from lti_tool.demo import seed
from lti_tool.lti.login import STATE_ID_CHARS, LoginState, binding_hash, state_cookie_name
from lti_tool.lti.tool_keys import KeyRing
from lti_tool.services.platforms import NewPlatform, add_platform, set_registration_active
from tests.support.lms import DemoLms, launch_log

TENANT_TABLES = ("lms_user", "context", "resource_link", "membership")


@pytest.fixture
def lms(live_tool) -> DemoLms:
    return DemoLms(live_tool)


def shared_state_rows(app) -> int:
    with app.app_context():
        return get_session().scalar(select(func.count()).select_from(SharedState))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_login_writes_nothing_and_its_launch_is_single_use(lms):
    browser = lms.browser()
    login = lms.login(browser)
    assert shared_state_rows(lms.app) == 0  # the state travels signed; no row per login
    token = lms.sign(lms.claims(login.nonce))
    assert lms.post_launch(browser, token, login.state).status_code == 303
    replay = lms.post_launch(browser, token, login.state)
    assert replay.status_code == 400 and "state_replayed" in replay.text
    assert [e.reason_code for e in launch_log(lms.app)] == [None, "state_replayed"]


def test_a_state_with_an_altered_payload_is_refused(lms):
    browser = lms.browser()
    login = lms.login(browser)
    other = lms.login(browser)  # a second login of the same browser, its own nonce
    state_id, body, mac = login.state[:STATE_ID_CHARS], *login.state[STATE_ID_CHARS + 1:].split(".")
    payload = json.loads(_unb64(body))
    payload["n"] = other.nonce  # swap in another login's nonce, keep the signature
    forged = f"{state_id}.{_b64(json.dumps(payload, separators=(',', ':')).encode())}.{mac}"
    response = lms.post_launch(browser, lms.sign(lms.claims(other.nonce)), forged)
    assert response.status_code == 400 and "state_unknown" in response.text
    assert launch_log(lms.app)[-1].reason_code == "state_unknown"


def test_a_state_is_accepted_in_the_exact_form_it_was_issued_only(lms):
    """Base64 leaves spare bits in a last character: another spelling of the same signature
    must not count as another state (it would be a second, unspent one)."""
    browser = lms.browser()
    login = lms.login(browser)
    head, mac = login.state.rsplit(".", 1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spelling = next(head + "." + mac[:-1] + c for c in alphabet
                    if c != mac[-1] and _unb64(mac[:-1] + c) == _unb64(mac))
    token = lms.sign(lms.claims(login.nonce))
    refused = lms.post_launch(browser, token, spelling)
    assert refused.status_code == 400 and "state_unknown" in refused.text
    assert lms.post_launch(browser, token, login.state).status_code == 303
    assert lms.post_launch(browser, token, spelling).status_code == 400


def test_a_state_older_than_the_login_ttl_is_refused(lms):
    services = lms.app.extensions["lti_services"]
    ttl = services.settings.LOGIN_STATE_TTL
    browser_token, nonce = "a-browser-token", "a-nonce-of-an-old-login"
    old = LoginState(lms.registration_id, nonce, binding_hash(browser_token), int(time.time()) - ttl - 5,
                     {"iss": lms.issuer, "client_id": seed.CLIENT_ID})
    with lms.app.app_context():
        state = services.login_states.sign(old)
    browser = lms.browser()
    browser.cookies.set(state_cookie_name(state), browser_token, path="/lti/")
    response = lms.post_launch(browser, lms.sign(lms.claims(nonce)), state)
    assert response.status_code == 400 and "state_unknown" in response.text


def test_a_replay_after_the_state_expired_is_still_told_as_a_replay(live_tool, lms, database_url, keys_dir):
    short = create_app({"DATABASE_URL": database_url, "KEYS_DIR": str(keys_dir), "DEMO": True,
                        "BASE_URL": live_tool.base_url, "SECRET_KEY": "short-ttl-" + "z" * 32,
                        "LOGIN_STATE_TTL": 2})
    try:
        client = short.test_client()
        response = client.post("/lti/login", data=lms.login_params())
        query = parse_qs(urlparse(response.headers["Location"]).query)
        state, nonce = query["state"][0], query["nonce"][0]
        token = lms.sign(lms.claims(nonce))
        assert client.post("/lti/launch", data={"id_token": token, "state": state}).status_code == 303
        time.sleep(2.5)
        replay = client.post("/lti/launch", data={"id_token": token, "state": state})
        assert replay.status_code == 400 and "state_replayed" in replay.get_data(as_text=True)
    finally:
        short.extensions["db_engine"].dispose()


def test_a_login_begun_before_a_key_rotation_still_launches(lms, keys_dir):
    browser = lms.browser()
    login = lms.login(browser)
    KeyRing(keys_dir).rotate(datetime.now(timezone.utc))  # e.g. `lti-tool keys rotate` on another host
    response = lms.post_launch(browser, lms.sign(lms.claims(login.nonce)), login.state)
    assert response.status_code == 303


def _tenant_writes(app, action) -> list[str]:
    engine = app.extensions["db_engine"]
    writes: list[str] = []

    def seen(conn, cursor, statement, *args):
        words = statement.split()
        table = {"INSERT": words[2], "UPDATE": words[1]}.get(words[0])
        if table in TENANT_TABLES:
            writes.append(table)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return writes


def test_an_unchanged_relaunch_rewrites_no_user_or_course_row_and_a_change_is_written(lms):
    _, first = lms.launch_as("demo-instructor-1")
    assert first.status_code == 200
    writes = _tenant_writes(lms.app, lambda: lms.launch_as("demo-instructor-1"))
    assert writes == []
    renamed = _tenant_writes(lms.app, lambda: lms.launch_as("demo-instructor-1", name="Ingrid Renamed"))
    assert renamed == ["lms_user"]
    with lms.app.app_context():
        names = get_session().scalars(select(LmsUser.name).where(LmsUser.id_on_platform == "demo-instructor-1"))
        assert list(names) == ["Ingrid Renamed"]


def test_over_https_a_replay_without_the_state_cookie_is_refused_as_a_replay(live_tool, lms, database_url,
                                                                              keys_dir):
    """A replayed launch must never be offered the cookie-less fallbacks (a new window, platform storage)."""
    base, issuer = "https://tool.example", "https://lms.example"
    app = create_app({"DATABASE_URL": database_url, "KEYS_DIR": str(keys_dir), "BASE_URL": base,
                      "SECRET_KEY": "s" * 40})
    try:
        with app.app_context():
            add_platform(get_session(), NewPlatform(
                issuer=issuer, client_id="c1", auth_login_url=issuer + "/auth", auth_token_url=issuer + "/token",
                key_set_url=live_tool.url("/demo/jwks"), deployment_ids=("d1",)), datetime.now(timezone.utc))
            get_session().commit()
        browser = app.test_client()
        response = browser.post("/lti/login", base_url=base, data={
            "iss": issuer, "login_hint": "u1", "target_link_uri": base + "/lti/launch", "client_id": "c1"})
        query = parse_qs(urlparse(response.headers["Location"]).query)
        state, nonce = query["state"][0], query["nonce"][0]
        now = int(time.time())
        claim = "https://purl.imsglobal.org/spec/lti/claim/"
        token = lms.sign({"iss": issuer, "aud": "c1", "sub": "u1", "iat": now, "exp": now + 60, "nonce": nonce,
                          claim + "version": "1.3.0", claim + "message_type": "LtiResourceLinkRequest",
                          claim + "deployment_id": "d1", claim + "target_link_uri": base + "/lti/launch",
                          claim + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
                          claim + "resource_link": {"id": "r1"}})
        assert browser.post("/lti/launch", base_url=base, data={"id_token": token, "state": state}).status_code == 303
        cookieless = app.test_client()
        replay = cookieless.post("/lti/launch", base_url=base, data={"id_token": token, "state": state})
        assert replay.status_code == 400 and "state_replayed" in replay.get_data(as_text=True)
    finally:
        app.extensions["db_engine"].dispose()


def test_a_registration_switched_off_between_login_and_launch_refuses_the_launch(lms):
    browser = lms.browser()
    login = lms.login(browser)
    with lms.app.app_context():
        set_registration_active(get_session(), lms.registration_id, False)
        get_session().commit()
    response = lms.post_launch(browser, lms.sign(lms.claims(login.nonce)), login.state)
    assert response.status_code == 403 and "registration_inactive" in response.text
    assert launch_log(lms.app)[-1].reason_code == "registration_inactive"
