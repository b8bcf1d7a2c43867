"""LTI Dynamic Registration over real HTTP with Moodle- and Canvas-shaped platforms, on SQLite and PostgreSQL."""
from __future__ import annotations

import html
import re
import threading
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from lti_tool.db.admin import AdminAuditEntry
from lti_tool.db.session import get_session
from lti_tool.db.tenancy import Deployment, LaunchLog, Registration, SharedState
from lti_tool.lti.tool_description import (
    AGS_LINEITEM, AGS_LINEITEM_READONLY, AGS_RESULT_READONLY, AGS_SCORE, NRPS_MEMBERSHIP_READONLY, SCOPES,
)
from lti_tool.services.platforms import set_deployment_active
from lti_tool.services.registration import pending_key
from tests.support.registration_platforms import (
    ADMINISTRATOR, LEARNER, TOOL_CONFIGURATION, FakeCanvas, FakeMoodle, ToolInLms,
)
from tests.support.serve import served_app

CLOSE = "org.imsglobal.lti.close"


@pytest.fixture
def moodle():
    platform = FakeMoodle().start()
    yield platform
    platform.stop()


@pytest.fixture
def canvas():
    platform = FakeCanvas().start()
    yield platform
    platform.stop()


def browser() -> requests.Session:
    session = requests.Session()
    session.headers["Accept-Language"] = "en"
    return session


def confirm_form(page: str) -> tuple[str, str]:
    """The confirmation form's action and its CSRF token."""
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page).group(1))
    token = html.unescape(re.search(r'name="csrf_token" type="hidden" value="([^"]*)"', page).group(1))
    return action, token


def reason_of(page: str) -> str | None:
    found = re.search(r'data-reason="([^"]+)"', page)
    return found.group(1) if found else None


def registrations(app) -> list[Registration]:
    with app.app_context():
        session = get_session()
        rows = list(session.scalars(select(Registration).order_by(Registration.id)))
        for row in rows:
            row.deployments  # noqa: B018 (load before the session closes)
        session.expunge_all()
        return rows


def deployments(app, registration_id: int) -> dict[str, bool]:
    with app.app_context():
        rows = get_session().execute(select(Deployment.id_on_platform, Deployment.is_active)
                                     .where(Deployment.registration_id == registration_id))
        return dict(rows.all())


def register(tool, platform, token: str | None = "mint", name: str | None = None,
             session: requests.Session | None = None) -> tuple[requests.Response, requests.Response | None]:
    """Open the registration URL as the LMS does, then confirm; returns both pages."""
    session = session or browser()
    token = platform.registration_token() if token == "mint" else token
    start = session.get(platform.register_url(tool.base_url, token))
    if start.status_code != 200:
        return start, None
    action, csrf_token = confirm_form(start.text)
    data = {"csrf_token": csrf_token, "submit": "Register"}
    if name is not None:
        data["name"] = name
    return start, session.post(tool.url(action), data=data)


# --- Moodle ---------------------------------------------------------------------------------
def test_moodle_registers_the_tool_pending_and_it_launches_once_activated(live_tool, moodle):
    token = moodle.registration_token()
    start = browser().get(moodle.register_url(live_tool.base_url, token))
    assert start.status_code == 200
    assert "Certifiering – näringslivsutvecklare" in html.unescape(start.text)
    for scope in SCOPES:
        assert scope in start.text
    assert "<code>ContentArea</code>" in start.text
    assert registrations(live_tool.app) == []  # nothing is registered before the administrator confirms

    action, csrf_token = confirm_form(start.text)
    done = browser().post(live_tool.url(action), data={"csrf_token": csrf_token, "name": "Moodle, Lycksele"})
    assert done.status_code == 200, done.text
    assert "data-pending-in-lms" in done.text  # "activate it in Moodle"
    assert CLOSE in done.text and "window.opener || window.parent" in done.text
    assert "data-unavailable" not in done.text
    assert 'data-close-at-once="no"' in done.text  # the administrator reads the activation step first

    [request] = moodle.registration_requests()
    assert request.headers["Authorization"] == "Bearer " + token
    body = request.body
    tool = live_tool.base_url
    assert body["application_type"] == "web"
    assert body["response_types"] == ["id_token"]
    assert set(body["grant_types"]) == {"implicit", "client_credentials"}
    assert body["initiate_login_uri"] == tool + "/lti/login"
    assert body["redirect_uris"] == [tool + "/lti/launch"]
    assert body["jwks_uri"] == tool + "/lti/jwks"
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    assert body["client_name"] and body["logo_uri"] == tool + "/lti/icon.svg"
    assert body["scope"].split() == list(SCOPES)
    configuration = body[TOOL_CONFIGURATION]
    assert configuration["domain"] == urlsplit(tool).netloc  # host:port, as Moodle checks it
    assert configuration["target_link_uri"] == tool + "/lti/launch"
    assert configuration["claims"] == ["iss", "sub", "name", "given_name", "family_name", "email", "locale"]
    assert [m["type"] for m in configuration["messages"]] == ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"]
    assert configuration["messages"][1]["placements"] == ["ContentArea"]
    assert configuration["custom_parameters"] and configuration["description"]
    assert "https://canvas.instructure.com/lti/privacy_level" not in configuration

    moodle_tool = moodle.only_tool
    [registration] = registrations(live_tool.app)
    assert (registration.issuer, registration.client_id, registration.name) == (
        moodle.issuer, moodle_tool.client_id, "Moodle, Lycksele")
    assert registration.auth_login_url == moodle.base_url + "/auth"
    assert registration.auth_token_url == moodle.base_url + "/token"
    assert registration.key_set_url == moodle.base_url + "/jwks"
    assert registration.registered_via == "dynamic_registration"
    assert registration.product_family_code == "moodle"
    assert registration.granted_scopes == list(SCOPES)
    assert registration.is_first_deployment_preapproved is False
    assert deployments(live_tool.app, registration.id) == {moodle_tool.deployment_id: True}
    assert f"<code data-deployment-id>{moodle_tool.deployment_id}</code>" in done.text

    # Moodle will not launch a pending tool; once its administrator activates it, the launch works.
    assert requests.get(moodle.base_url + f"/launch?client_id={moodle_tool.client_id}&user={LEARNER.sub}"
                        ).status_code == 409
    moodle.activate()
    _, landing = moodle.launch_as(LEARNER)
    assert landing.status_code == 200, landing.text[:500]
    assert 'data-audience="learner"' in landing.text


def test_the_audit_trail_records_the_registration(live_tool, moodle):
    register(live_tool, moodle)
    with live_tool.app.app_context():
        [entry] = get_session().scalars(select(AdminAuditEntry).where(AdminAuditEntry.action == "registration.create"))
        assert (entry.actor_kind, entry.actor, entry.target) == (
            "dynamic_registration", moodle.issuer, f"{moodle.issuer} ({moodle.only_tool.client_id})")


# --- Canvas ---------------------------------------------------------------------------------
def test_canvas_registers_with_bearer_privacy_and_placements_and_its_first_deployment_is_approved(live_tool, canvas):
    token = canvas.registration_token()
    start, done = register(live_tool, canvas, token)
    [configuration_request] = [r for r in canvas.received if r.path == canvas.configuration_path]
    assert configuration_request.headers["Authorization"] == "Bearer " + token
    assert "Region Västerbotten" in html.unescape(start.text)
    assert "<code>course_navigation</code>" in start.text and "<code>assignment_selection</code>" in start.text
    assert done.status_code == 200, done.text
    assert "data-pending-in-lms" not in done.text and "data-deployment-id" not in done.text
    assert 'data-close-at-once="yes"' in done.text  # nothing to read: back to Canvas at once

    body = canvas.registration_requests()[0].body
    configuration = body[TOOL_CONFIGURATION]
    assert configuration["https://canvas.instructure.com/lti/privacy_level"] == "public"
    placements = {m["type"]: m["placements"] for m in configuration["messages"]}
    assert placements == {"LtiResourceLinkRequest": ["course_navigation"],
                          "LtiDeepLinkingRequest": ["link_selection", "assignment_selection"]}
    assert "openid" not in body["scope"].split()

    [registration] = registrations(live_tool.app)
    assert registration.product_family_code == "canvas"
    assert registration.name == "Canvas, Region Västerbotten"
    assert registration.is_first_deployment_preapproved is True
    assert deployments(live_tool.app, registration.id) == {}

    # The deployment appears in the first launch, and is approved: the administrator just installed it.
    first = canvas.only_tool
    _, landing = canvas.launch_as(ADMINISTRATOR)
    assert landing.status_code == 200, landing.text[:500]
    assert 'data-audience="administrator"' in landing.text
    assert deployments(live_tool.app, registration.id) == {first.deployment_id: True}
    assert registrations(live_tool.app)[0].is_first_deployment_preapproved is False

    # Any later installation waits for an administrator of the tool.
    second = ToolInLms(first.client_id, "2:sub-account", first.registration, is_pending=False)
    _, waiting = canvas.launch_as(LEARNER, tool=second)
    assert waiting.status_code == 403
    assert deployments(live_tool.app, registration.id) == {first.deployment_id: True, "2:sub-account": False}


def test_the_pre_approval_is_only_for_a_registration_without_any_deployment(live_tool, canvas):
    register(live_tool, canvas)
    [registration] = registrations(live_tool.app)
    with live_tool.app.app_context():  # an operator approved a deployment id before the first launch
        set_deployment_active(get_session(), registration.id, "1:approved-by-hand", True, datetime.now(timezone.utc))
        get_session().commit()
    _, waiting = canvas.launch_as(LEARNER)  # from the deployment Canvas made at registration
    assert waiting.status_code == 403
    assert deployments(live_tool.app, registration.id) == {"1:approved-by-hand": True,
                                                           canvas.only_tool.deployment_id: False}


@pytest.mark.parametrize(("withheld", "unavailable"), [
    ({NRPS_MEMBERSHIP_READONLY}, ["roster"]),
    ({AGS_SCORE}, ["grade_writing"]),
    ({AGS_LINEITEM}, ["grade_writing"]),  # lineitem.readonly still reads columns
    ({AGS_LINEITEM, AGS_LINEITEM_READONLY}, ["grade_reading", "grade_writing"]),
    ({AGS_RESULT_READONLY, NRPS_MEMBERSHIP_READONLY}, ["grade_reading", "roster"]),
    (set(SCOPES), ["grade_reading", "grade_writing", "roster"]),
])
def test_scopes_the_administrator_removed_show_as_unavailable_features(live_tool, canvas, withheld, unavailable):
    canvas.withheld_scopes = withheld
    _, done = register(live_tool, canvas)
    assert done.status_code == 200
    assert re.findall(r'<li data-feature="([a-z_]+)">', done.text) == unavailable
    assert 'data-close-at-once="no"' in done.text  # the administrator reads the warning, then closes
    [registration] = registrations(live_tool.app)
    assert registration.granted_scopes == [s for s in SCOPES if s not in withheld]


def test_scopes_the_platform_does_not_offer_are_not_requested_and_shown_before_confirming(live_tool, moodle):
    moodle.scopes_supported = tuple(s for s in SCOPES if s != NRPS_MEMBERSHIP_READONLY)
    start, done = register(live_tool, moodle)
    assert re.findall(r'<li data-feature="([a-z_]+)">', start.text) == ["roster"]
    assert NRPS_MEMBERSHIP_READONLY not in moodle.registration_requests()[0].body["scope"]
    assert done.status_code == 200


def test_reloading_the_confirmation_page_keeps_one_pending_registration(live_tool, moodle):
    token = moodle.registration_token()
    first = browser().get(moodle.register_url(live_tool.base_url, token))
    again = browser().get(moodle.register_url(live_tool.base_url, token))
    assert first.status_code == again.status_code == 200
    assert confirm_form(first.text) == confirm_form(again.text)
    assert len([r for r in moodle.received if r.path == moodle.configuration_path]) == 1


def test_opening_the_registration_twice_at_once_keeps_one_pending_registration(live_tool, moodle):
    url = moodle.register_url(live_tool.base_url, moodle.registration_token())
    pages: list[requests.Response] = []
    barrier = threading.Barrier(3)

    def open_page() -> None:
        barrier.wait()
        pages.append(browser().get(url))

    threads = [threading.Thread(target=open_page) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [page.status_code for page in pages] == [200, 200, 200]
    assert len({confirm_form(page.text) for page in pages}) == 1


def test_a_pending_registration_that_expired_can_be_started_again(live_tool, moodle):
    token = moodle.registration_token()
    key = "dynamic-registration:" + pending_key(token)
    with live_tool.app.app_context():  # what an hour-old, not yet purged pending registration leaves behind
        get_session().add(SharedState(key=key, value="{}", expires_at=datetime.now(timezone.utc) - timedelta(hours=1)))
        get_session().commit()
    start, done = register(live_tool, moodle, token)
    assert start.status_code == 200 and done.status_code == 200


def test_a_name_too_long_shows_the_confirmation_again(live_tool, moodle):
    start = browser().get(moodle.register_url(live_tool.base_url, moodle.registration_token()))
    action, csrf_token = confirm_form(start.text)
    again = browser().post(live_tool.url(action), data={"csrf_token": csrf_token, "name": "x" * 201})
    assert again.status_code == 400 and confirm_form(again.text) == (action, csrf_token)
    assert moodle.registration_requests() == []
    done = browser().post(live_tool.url(action), data={"csrf_token": csrf_token, "name": "Moodle"})
    assert done.status_code == 200 and registrations(live_tool.app)[0].name == "Moodle"


# --- a token is used once -------------------------------------------------------------------
def test_a_registration_token_is_used_once(live_tool, moodle):
    token = moodle.registration_token()
    start, done = register(live_tool, moodle, token)
    assert done.status_code == 200
    action, csrf_token = confirm_form(start.text)

    replayed = browser().post(live_tool.url(action), data={"csrf_token": csrf_token})
    assert replayed.status_code == 409 and reason_of(replayed.text) == "token_used"
    reopened = browser().get(moodle.register_url(live_tool.base_url, token))
    assert reopened.status_code == 409 and reason_of(reopened.text) == "token_used"
    assert len(moodle.registration_requests()) == 1
    assert len(registrations(live_tool.app)) == 1


def test_two_confirmations_at_once_register_once(live_tool, moodle):
    start = browser().get(moodle.register_url(live_tool.base_url, moodle.registration_token()))
    action, csrf_token = confirm_form(start.text)
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def confirm() -> None:
        barrier.wait()
        statuses.append(browser().post(live_tool.url(action), data={"csrf_token": csrf_token}).status_code)

    threads = [threading.Thread(target=confirm) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409, 409, 409]
    assert len(moodle.registration_requests()) == 1
    assert len(registrations(live_tool.app)) == 1


# --- every failure is a clear 4xx page and stores nothing -----------------------------------
def _unreachable_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/openid-configuration"


@pytest.mark.parametrize(("query", "reason"), [
    ("", "configuration_url_missing"),
    ("?openid_configuration=not-a-url", "configuration_url_invalid"),
    ("?openid_configuration=ftp%3A%2F%2Flms.example%2Fconfig", "configuration_url_invalid"),
    ("?openid_configuration=http%3A%2F%2Flms.example%2Fconfig%23fragment", "configuration_url_invalid"),
])
def test_a_request_without_a_usable_configuration_url_is_refused(live_tool, query, reason):
    response = browser().get(live_tool.url("/lti/register" + query))
    assert response.status_code == 400 and reason_of(response.text) == reason
    assert registrations(live_tool.app) == []


def test_opening_the_registration_url_is_rate_limited(live_tool):
    session = browser()
    statuses = [session.get(live_tool.url("/lti/register")).status_code for _ in range(31)]
    assert statuses == [400] * 30 + [429]


def test_an_unreachable_configuration_is_refused(live_tool):
    response = browser().get(live_tool.url("/lti/register"), params={"openid_configuration": _unreachable_url()})
    assert response.status_code == 400 and reason_of(response.text) == "platform_unreachable"
    assert registrations(live_tool.app) == []


MALFORMED = [
    pytest.param({"jwks_uri": None}, "configuration_malformed", id="no-jwks"),
    pytest.param({"token_endpoint": None}, "configuration_malformed", id="no-token-endpoint"),
    pytest.param({"authorization_endpoint": None}, "configuration_malformed", id="no-authorization-endpoint"),
    pytest.param({"registration_endpoint": None}, "configuration_malformed", id="no-registration-endpoint"),
    pytest.param({"registration_endpoint": "javascript:alert(1)"}, "configuration_malformed", id="not-http"),
    pytest.param({"https://purl.imsglobal.org/spec/lti-platform-configuration": None}, "configuration_malformed",
                 id="not-lti"),
    pytest.param({"token_endpoint_auth_methods_supported": ["client_secret_basic"]}, "configuration_malformed",
                 id="no-private-key-jwt"),
    pytest.param({"issuer": "https://moodle.other.example"}, "issuer_mismatch", id="issuer-of-another-host"),
    pytest.param({"issuer": None}, "configuration_malformed", id="no-issuer"),
]


@pytest.mark.parametrize(("changes", "reason"), MALFORMED)
def test_a_malformed_configuration_is_refused(live_tool, moodle, changes, reason):
    moodle.configuration_changes = changes
    start, done = register(live_tool, moodle)
    assert done is None
    assert start.status_code == 400 and reason_of(start.text) == reason
    assert registrations(live_tool.app) == [] and moodle.registration_requests() == []


def test_an_issuer_on_another_port_of_the_same_host_is_refused(live_tool, moodle, canvas):
    moodle.configuration_changes = {"issuer": canvas.issuer}
    start, _ = register(live_tool, moodle)
    assert start.status_code == 400 and reason_of(start.text) == "issuer_mismatch"


def test_a_configuration_that_is_not_json_is_refused(live_tool, moodle):
    moodle.configuration_body = b"<html>Moodle is under maintenance</html>"
    start, _ = register(live_tool, moodle)
    assert start.status_code == 400 and reason_of(start.text) == "configuration_malformed"


@pytest.mark.parametrize("keys", [[], [{"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": "AA", "y": "AA"}]])
def test_a_platform_without_usable_keys_is_refused(live_tool, moodle, keys):
    moodle.published_keys = keys
    start, _ = register(live_tool, moodle)
    assert start.status_code == 400 and reason_of(start.text) == "platform_keys_invalid"
    assert registrations(live_tool.app) == []


def test_an_expired_token_is_refused_before_the_platform_is_asked(live_tool, moodle):
    start, _ = register(live_tool, moodle, moodle.registration_token(expires_in=-120))
    assert start.status_code == 403 and reason_of(start.text) == "token_expired"
    assert moodle.received == []
    assert registrations(live_tool.app) == []


def test_a_foreign_token_is_refused_by_canvas_at_once(live_tool, canvas):
    start, _ = register(live_tool, canvas, canvas.foreign_token())
    assert start.status_code == 403 and reason_of(start.text) == "token_refused"
    assert registrations(live_tool.app) == []


def test_a_foreign_token_is_refused_by_moodle_at_registration(live_tool, moodle):
    start, done = register(live_tool, moodle, moodle.foreign_token())
    assert start.status_code == 200  # Moodle's configuration is public
    assert done.status_code == 403 and reason_of(done.text) == "token_refused"
    assert registrations(live_tool.app) == [] and moodle.tools == {}


@pytest.mark.parametrize(("failure", "status", "reason"), [
    ((422, {"errors": [{"field": "scopes", "message": "invalid"}]}), 400, "registration_refused"),
    ((400, {"error": "invalid_redirect_uri"}), 400, "registration_refused"),
    ((500, {"error": "server_error"}), 400, "platform_unreachable"),
    ((200, {"scope": ""}), 400, "registration_malformed"),
])
def test_a_refused_or_unreadable_registration_stores_nothing(live_tool, canvas, failure, status, reason):
    canvas.registration_failure = failure
    _, done = register(live_tool, canvas)
    assert done.status_code == status and reason_of(done.text) == reason
    assert registrations(live_tool.app) == []


def test_the_confirmation_needs_its_csrf_token(live_tool, moodle):
    register_page = browser().get(moodle.register_url(live_tool.base_url, moodle.registration_token()))
    action, _ = confirm_form(register_page.text)
    for data in ({}, {"csrf_token": "0" * 64}, {"csrf_token": "not-a-key"}):
        response = browser().post(live_tool.url(action), data=data)
        assert response.status_code == 400
    assert moodle.registration_requests() == [] and registrations(live_tool.app) == []


def test_a_registration_that_exists_already_is_not_saved_twice(live_tool, moodle):
    register(live_tool, moodle)
    client_id = moodle.only_tool.client_id
    # A platform that answers with a client_id the tool has registered for it already.
    moodle.new_tool = lambda body: ToolInLms(client_id, "9", body, is_pending=True)  # type: ignore[method-assign]
    _, again = register(live_tool, moodle)
    assert again.status_code == 409 and reason_of(again.text) == "registration_exists"
    assert len(registrations(live_tool.app)) == 1


# --- SSRF: private addresses are refused unless allowed ---------------------------------------
def test_a_platform_on_a_private_address_is_refused_when_not_allowed(live_tool, database_url, keys_dir, moodle):
    with served_app({"DATABASE_URL": database_url, "KEYS_DIR": str(keys_dir),
                     "ALLOW_PRIVATE_PLATFORMS": False}) as strict_tool:
        start, done = register(strict_tool, moodle)
    assert done is None
    assert start.status_code == 400 and reason_of(start.text) == "address_not_allowed"
    assert "127.0.0.1" not in start.text.split("<main>")[1]  # the resolved address is logged, not shown
    assert moodle.received == []  # the platform was never contacted
    assert registrations(live_tool.app) == []


def test_production_requires_https(database_url, keys_dir, moodle):
    from lti_tool import create_app

    app = create_app({"DATABASE_URL": database_url, "KEYS_DIR": str(keys_dir), "ENV": "production",
                      "BASE_URL": "https://tool.example", "SECRET_KEY": "s" * 20 + "0123456789abcdef",
                      "ALLOW_PRIVATE_PLATFORMS": True})
    try:
        response = app.test_client().get("/lti/register", query_string={
            "openid_configuration": moodle.configuration_url, "registration_token": moodle.registration_token()})
    finally:
        app.extensions["db_engine"].dispose()
    assert response.status_code == 400 and reason_of(response.get_data(as_text=True)) == "https_required"
    assert moodle.received == []


def test_after_a_failed_registration_the_platform_cannot_launch(live_tool, canvas):
    canvas.registration_failure = (422, {"errors": []})
    register(live_tool, canvas)
    fake = ToolInLms("10000000000099", "1:x", {"initiate_login_uri": live_tool.url("/lti/login"),
                                                "redirect_uris": [live_tool.url("/lti/launch")],
                                                TOOL_CONFIGURATION: {"target_link_uri": live_tool.url("/lti/launch")}},
                     is_pending=False)
    canvas.tools[fake.client_id] = fake
    _, response = canvas.launch_as(LEARNER, tool=fake)
    assert response.status_code == 400
    with live_tool.app.app_context():
        reasons = list(get_session().scalars(select(LaunchLog.reason_code)))
    assert reasons == ["registration_unknown"]
    assert registrations(live_tool.app) == []
