"""The values to paste into an LMS (public), and the operators' form that checks an LMS's values before saving."""
from __future__ import annotations

import html
import re
from datetime import datetime, timezone

import pytest
import requests
from sqlalchemy import select

from lti_tool.db.admin import AdminAuditEntry, Operator
from lti_tool.db.session import get_session
from lti_tool.db.tenancy import Deployment, Registration
from lti_tool.services.admin import cli_actor
from lti_tool.services.operators import create_operator
from tests.support.lms import DemoLms
from tests.support.registration_platforms import LEARNER, TOOL_CONFIGURATION, FakeMoodle, ToolInLms
from tests.support.serve import served_app

FORM = "/admin/registrations/new"
OPERATOR = "operator@fei.example"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def moodle():
    platform = FakeMoodle().start()
    yield platform
    platform.stop()


def signed_in_operator(tool, email: str = OPERATOR) -> requests.Session:
    """A browser signed in to the admin console as an operator, through its sign-in page."""
    with tool.app.app_context():
        session = get_session()
        if session.scalar(select(Operator.id).where(Operator.email == email)) is None:
            create_operator(session, email, PASSWORD, cli_actor("test"), datetime.now(timezone.utc))
            session.commit()
    browser = requests.Session()
    browser.headers["Accept-Language"] = "en"
    sign_in = browser.get(tool.url("/admin/login"))
    signed_in = browser.post(tool.url("/admin/login"), allow_redirects=False, data={
        "email": email, "password": PASSWORD, "csrf_token": csrf_token(sign_in.text)})
    assert signed_in.status_code == 302, signed_in.text[:500]
    return browser


def csrf_token(page: str) -> str:
    return html.unescape(re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1))


def values_of(platform: FakeMoodle, **changes) -> dict[str, str]:
    values = {"name": "Moodle, Skellefteå", "issuer": platform.issuer, "client_id": "manual-client-1",
              "deployment_ids": "d-1\nd-2", "auth_login_url": platform.base_url + "/auth",
              "auth_token_url": platform.base_url + "/token", "key_set_url": platform.base_url + "/jwks",
              "auth_audience": ""}
    values.update(changes)
    return values


def submit(tool, browser: requests.Session, values: dict[str, str]) -> requests.Response:
    form = browser.get(tool.url(FORM))
    assert form.status_code == 200, form.text[:300]
    return browser.post(tool.url(FORM), data={**values, "csrf_token": csrf_token(form.text)})


def registrations(app) -> list[tuple[str, str, str]]:
    with app.app_context():
        rows = get_session().execute(select(Registration.issuer, Registration.client_id, Registration.registered_via))
        return [tuple(row) for row in rows]


def field_errors(page: str) -> list[str]:
    return re.findall(r'data-error-for="([a-z_]+)"', page)


# --- the values page ------------------------------------------------------------------------
def test_the_values_to_paste_are_public_and_are_the_tools_addresses(live_tool):
    page = requests.get(live_tool.url("/registration"), headers={"Accept-Language": "en"})
    assert page.status_code == 200
    values = dict(re.findall(r'<code data-value="([a-z_]+)">([^<]+)</code>', page.text))
    tool = live_tool.base_url
    assert values == {
        "register_url": tool + "/lti/register", "canvas_json_url": tool + "/lti/canvas.json",
        "login_url": tool + "/lti/login", "redirect_uri": tool + "/lti/launch", "launch_url": tool + "/lti/launch",
        "deep_linking_url": tool + "/lti/launch", "jwks_url": tool + "/lti/jwks",
        "domain": tool.removeprefix("http://"), "icon_url": tool + "/lti/icon.svg"}
    assert requests.get(values["jwks_url"]).json()["keys"]
    assert requests.get(values["canvas_json_url"]).json()["target_link_uri"] == values["launch_url"]


# --- who may register an LMS by hand --------------------------------------------------------
def test_anyone_not_signed_in_is_sent_to_the_console_sign_in(live_tool):
    response = requests.get(live_tool.url(FORM), allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")
    posted = requests.post(live_tool.url(FORM), data={"issuer": "https://lms.example", "client_id": "x"},
                           allow_redirects=False)
    assert posted.status_code == 400  # no CSRF token: refused before anything else
    assert registrations(live_tool.app) == []


@pytest.mark.parametrize("user_id", ["demo-admin-1", "demo-instructor-1", "demo-learner-1"])
def test_an_lms_launch_may_not_register_another_lms(live_tool, user_id):
    browser, landing = DemoLms(live_tool).launch_as(user_id)
    launch_id = re.search(r"launch=([\w-]+)", landing.url or landing.request.url).group(1)
    response = browser.get(live_tool.url(FORM), params={"launch": launch_id})
    assert response.status_code == 403


# --- the operator's form --------------------------------------------------------------------
def test_an_operator_registers_an_lms_whose_values_check_out_and_it_launches(live_tool, moodle):
    browser = signed_in_operator(live_tool)
    saved = submit(live_tool, browser, values_of(moodle))
    assert saved.status_code == 200, saved.text[:2000]
    assert "data-registered" in saved.text
    assert registrations(live_tool.app) == [(moodle.issuer, "manual-client-1", "form")]
    with live_tool.app.app_context():
        session = get_session()
        registration = session.scalar(select(Registration))
        assert registration.name == "Moodle, Skellefteå" and registration.granted_scopes is None
        assert dict(session.execute(select(Deployment.id_on_platform, Deployment.is_active)).all()) == {
            "d-1": True, "d-2": True}
        [entry] = session.scalars(select(AdminAuditEntry).where(AdminAuditEntry.action == "registration.create"))
        assert (entry.actor_kind, entry.actor, entry.registration_id) == ("operator", OPERATOR, registration.id)
    assert [r.path for r in moodle.received] == ["/jwks"]  # the keys were fetched before saving

    # The LMS, configured with the values page's addresses, launches the tool.
    tool = ToolInLms("manual-client-1", "d-1", is_pending=False, registration={
        "initiate_login_uri": live_tool.url("/lti/login"), "redirect_uris": [live_tool.url("/lti/launch")],
        TOOL_CONFIGURATION: {"target_link_uri": live_tool.url("/lti/launch")}})
    moodle.tools[tool.client_id] = tool
    _, landing = moodle.launch_as(LEARNER, tool=tool)
    assert landing.status_code == 200 and 'data-audience="learner"' in landing.text


BAD_VALUES = [
    pytest.param({"issuer": "moodle.example"}, "issuer", id="issuer-without-scheme"),
    pytest.param({"auth_login_url": "javascript:alert(1)"}, "auth_login_url", id="login-not-http"),
    pytest.param({"auth_token_url": "ftp://moodle.example/token"}, "auth_token_url", id="token-not-http"),
    pytest.param({"key_set_url": "{base}/nothing-here"}, "key_set_url", id="keys-404"),
    pytest.param({"key_set_url": "{base}/mod/lti/openid-configuration.php"}, "key_set_url", id="not-a-keyset"),
    pytest.param({"auth_audience": "not a url"}, "auth_audience", id="audience-not-url"),
    pytest.param({"issuer": ""}, "issuer", id="issuer-missing"),
    pytest.param({"deployment_ids": "x" * 256}, "deployment_ids", id="deployment-too-long"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_VALUES)
def test_values_that_do_not_check_out_are_not_saved(live_tool, moodle, changes, field):
    changes = {name: value.replace("{base}", moodle.base_url) for name, value in changes.items()}
    response = submit(live_tool, signed_in_operator(live_tool), values_of(moodle, **changes))
    assert response.status_code == 400
    assert field_errors(response.text) == [field]
    assert registrations(live_tool.app) == []


@pytest.mark.parametrize("keys", [[], [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]])  # no keys; a key without kid
def test_a_keyset_without_usable_keys_is_not_saved(live_tool, moodle, keys):
    moodle.published_keys = keys
    response = submit(live_tool, signed_in_operator(live_tool), values_of(moodle))
    assert response.status_code == 400 and field_errors(response.text) == ["key_set_url"]
    assert registrations(live_tool.app) == []


def test_an_lms_registered_already_is_not_saved_twice(live_tool, moodle):
    browser = signed_in_operator(live_tool)
    assert submit(live_tool, browser, values_of(moodle)).status_code == 200
    again = submit(live_tool, browser, values_of(moodle, name="again"))
    assert again.status_code == 409 and "data-problem" in again.text
    assert len(registrations(live_tool.app)) == 1


def test_private_addresses_are_refused_unless_allowed(live_tool, database_url, keys_dir, moodle):
    with served_app({"DATABASE_URL": database_url, "KEYS_DIR": str(keys_dir),
                     "ALLOW_PRIVATE_PLATFORMS": False}) as strict_tool:
        response = submit(strict_tool, signed_in_operator(strict_tool), values_of(moodle))
    assert response.status_code == 400 and field_errors(response.text) == ["auth_token_url"]
    assert moodle.received == []
    assert registrations(live_tool.app) == []


def test_the_form_needs_its_csrf_token(live_tool, moodle):
    response = signed_in_operator(live_tool).post(live_tool.url(FORM), data=values_of(moodle))
    assert response.status_code == 400
    assert moodle.received == [] and registrations(live_tool.app) == []
