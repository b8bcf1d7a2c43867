"""Over HTTPS inside an LMS iframe the browser may not send the state cookie back.

The tool then uses LTI Platform Storage when the platform offers it, else offers a new window.
The tool here believes it is served over https (BASE_URL), so its cookies are Secure and the
Flask test client, talking https, shows what a browser would send.
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlparse

import pytest

from lti_tool import create_app
from lti_tool.db.session import get_session
from lti_tool.services.platforms import NewPlatform, add_platform
from tests.support.lms import DemoLms

BASE = "https://tool.example"
ISSUER = "https://lms.example"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


@pytest.fixture
def https_tool(live_tool, database_url, keys_dir):
    lms = DemoLms(live_tool)  # its JWKS (served over real HTTP) verifies our tokens
    app = create_app({"DATABASE_URL": database_url, "KEYS_DIR": str(keys_dir), "BASE_URL": BASE,
                      "SECRET_KEY": "s" * 40})
    with app.app_context():
        add_platform(get_session(), NewPlatform(
            issuer=ISSUER, client_id="c1", auth_login_url=ISSUER + "/auth", auth_token_url=ISSUER + "/token",
            key_set_url=live_tool.url("/demo/jwks"), deployment_ids=("d1",)), datetime.now(timezone.utc))
        get_session().commit()
    yield app, lms
    app.extensions["db_engine"].dispose()


def login(client, **extra):
    params = {"iss": ISSUER, "login_hint": "u1", "target_link_uri": BASE + "/lti/launch", "client_id": "c1",
              "lti_deployment_id": "d1", **extra}
    return client.post("/lti/login", data=params, base_url=BASE)


def id_token(lms: DemoLms, nonce: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "c1", "sub": "u1", "iat": now, "exp": now + 60, "nonce": nonce,
              CLAIM + "version": "1.3.0", CLAIM + "message_type": "LtiResourceLinkRequest",
              CLAIM + "deployment_id": "d1", CLAIM + "target_link_uri": BASE + "/lti/launch",
              CLAIM + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
              CLAIM + "resource_link": {"id": "r1"}, CLAIM + "context": {"id": "course-1", "title": "Kurs"}}
    return lms.sign(claims)


def state_and_nonce(location: str) -> tuple[str, str]:
    query = parse_qs(urlparse(location).query)
    return query["state"][0], query["nonce"][0]


def test_state_cookie_is_third_party_ready(https_tool):
    app, _ = https_tool
    response = login(app.test_client())
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("lti1p3-"))
    assert "Secure" in cookie and "SameSite=None" in cookie and "Partitioned" in cookie and "HttpOnly" in cookie


def test_without_cookie_and_without_platform_storage_offers_a_new_window(https_tool):
    app, lms = https_tool
    response = login(app.test_client())
    state, nonce = state_and_nonce(response.headers["Location"])
    blocked = app.test_client()  # a browser that did not keep the third-party cookie
    page = blocked.post("/lti/launch", data={"id_token": id_token(lms, nonce), "state": state}, base_url=BASE)
    assert page.status_code == 401
    html = page.get_data(as_text=True)
    assert 'target="_blank"' in html and "/lti/login?" in html and "login_hint=u1" in html


def test_platform_storage_carries_the_binding_when_cookies_are_blocked(https_tool):
    app, lms = https_tool
    browser = app.test_client()
    response = login(browser, lti_storage_target="post_message_forwarding")
    assert response.status_code == 200 and "lti.put_data" in response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    # What the page hands to the platform's storage (lti.put_data) is the cookie's value.
    browser_token = re.search(r'value: "([^"]+)"', html).group(1)
    assert f"={browser_token};" in response.headers["Set-Cookie"]
    auth_url = html.split('var authUrl = "', 1)[1].split('"', 1)[0]
    state, nonce = state_and_nonce(auth_url.replace("\\u0026", "&"))
    token = id_token(lms, nonce)

    blocked = app.test_client()
    first = blocked.post("/lti/launch", data={"id_token": token, "state": state}, base_url=BASE)
    assert first.status_code == 200 and "lti.get_data" in first.get_data(as_text=True)
    # The page's script asks the platform for the token and posts it back:
    relaunch = blocked.post("/lti/launch", base_url=BASE,
                            data={"id_token": token, "state": state, "lti_storage_token": browser_token})
    assert relaunch.status_code == 303, relaunch.get_data(as_text=True)[-600:]


def test_a_wrong_platform_storage_value_is_rejected(https_tool):
    app, lms = https_tool
    response = login(app.test_client(), lti_storage_target="_parent")
    auth_url = response.get_data(as_text=True).split('var authUrl = "', 1)[1].split('"', 1)[0]
    state, nonce = state_and_nonce(auth_url.replace("\\u0026", "&"))
    page = app.test_client().post("/lti/launch", base_url=BASE, data={
        "id_token": id_token(lms, nonce), "state": state, "lti_storage_token": "guessed"})
    assert page.status_code == 400
    assert "state_mismatch" in page.get_data(as_text=True)
