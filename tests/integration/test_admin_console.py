"""The admin console over real HTTP: who sees which LMS, deployments, launches, keys, service health, audit."""
from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import pytest
import requests
from sqlalchemy import select

from lti_tool.db.admin import AdminAuditEntry
from lti_tool.db.session import get_session
from lti_tool.db.tenancy import Deployment, LaunchLog, Registration
from lti_tool.services.admin import cli_actor, record_change
from lti_tool.services.platforms import NewPlatform, add_platform
from lti_tool.services.service_health import Service, record_service_call
from tests.support.admin import Console
from tests.support.lms import DemoLms, other_private_key

DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
NOW = datetime.now(timezone.utc)


@pytest.fixture
def lms(live_tool):
    return DemoLms(live_tool)


@pytest.fixture
def other_platform(live_tool):
    """Platform B, with a pending deployment, a launch, an audit entry and a programme of its own."""
    with live_tool.app.app_context():
        session = get_session()
        registration = add_platform(session, NewPlatform(
            issuer="https://canvas.other.example", client_id="b-client", auth_login_url="https://canvas.other.example/a",
            auth_token_url="https://canvas.other.example/t", key_set_url="https://canvas.other.example/k",
            deployment_ids=("b-dep-1",), name="Other customer B"), NOW)
        pending = Deployment(registration_id=registration.id, id_on_platform="b-pending", is_active=False,
                             created_at=NOW)
        session.add(pending)
        session.add(LaunchLog(at=NOW, is_accepted=True, issuer=registration.issuer, client_id="b-client",
                              sub="b-secret-user", registration_id=registration.id,
                              deployment_id_on_platform="b-dep-1"))
        session.add(LaunchLog(at=NOW, is_accepted=False, reason_code="signature_invalid",
                              issuer=registration.issuer, client_id="b-client", sub="b-forged-user"))
        record_change(session, cli_actor("ops"), "deployment.activate", "b-dep-1", registration.id, {}, NOW)
        session.flush()
        ids = (registration.id, pending.id, registration.deployments[0].id)
        session.commit()
    return ids


def launch_id_of(response: requests.Response) -> str:
    return urlparse(response.url).query.split("launch=")[1].split("&")[0]


@pytest.fixture
def lms_admin(live_tool, lms) -> Console:
    browser, landing = lms.launch_as("demo-admin-1")
    assert landing.status_code == 200
    return Console.from_launch(live_tool, browser, landing)


def test_the_administrator_landing_page_links_to_the_console(live_tool, lms):
    _, landing = lms.launch_as("demo-admin-1")
    launch = launch_id_of(landing)
    assert f'href="/admin/?launch={launch}"' in landing.text


def test_an_operator_sees_every_registration(operator, lms, other_platform):
    page = operator.get("/admin/")
    assert page.status_code == 200
    assert "Demo platform" in page.text and "Other customer B" in page.text
    if "registration.register_platform" in operator.tool.app.view_functions:  # the registration pages, if served
        assert 'data-link="register-by-hand"' in page.text
    assert operator.get(f"/admin/registrations/{other_platform[0]}").status_code == 200
    launches = operator.get("/admin/launches").text
    assert "b-secret-user" in launches


def test_an_lms_administrator_sees_only_their_own_registration(lms_admin, lms, other_platform):
    other_id, pending_id, _ = other_platform
    index = lms_admin.get("/admin/")
    assert index.status_code == 302
    assert urlparse(index.headers["Location"]).path == f"/admin/registrations/{lms.registration_id}"
    own = lms_admin.get(f"/admin/registrations/{lms.registration_id}")
    assert own.status_code == 200 and "Demo platform" in own.text and "Other customer B" not in own.text
    assert "LMS administrator Cecilia Carlsson" in own.text

    for path in (f"/admin/registrations/{other_id}", f"/admin/registrations/{other_id}/programmes",
                 f"/admin/registrations/{other_id}/programmes/FEI-NLU",
                 f"/admin/registrations/{other_id}/programmes/FEI-NLU/export"):
        assert lms_admin.get(path).status_code == 404, path
    # The launch log ignores a registration filter and shows only their own platform's launches.
    launches = lms_admin.get("/admin/launches", registration=str(other_id)).text
    assert "b-secret-user" not in launches and "b-forged-user" not in launches and "demo-admin-1" in launches
    assert "b-dep-1" not in lms_admin.get("/admin/audit").text


def test_an_lms_administrator_cannot_change_another_registration_even_by_editing_ids(
        live_tool, lms_admin, lms, other_platform):
    other_id, pending_id, active_id = other_platform
    attempts = [
        f"/admin/registrations/{other_id}/deployments/{pending_id}/activate",
        f"/admin/registrations/{other_id}/deployments/{active_id}/deactivate",
        # their own registration in the URL, the other platform's deployment
        f"/admin/registrations/{lms.registration_id}/deployments/{pending_id}/activate",
        f"/admin/registrations/{lms.registration_id}/deployments/{active_id}/deactivate",
        f"/admin/registrations/{other_id}/deactivate",
    ]
    for path in attempts:
        assert lms_admin.post(path).status_code == 404, path
    approve = lms_admin.post(f"/admin/registrations/{other_id}/deployments", {"deployment_id": "sneaky"})
    assert approve.status_code == 404
    edit = lms_admin.post(f"/admin/registrations/{other_id}/programmes/FEI-NLU/edit", {"save": "Save"})
    assert edit.status_code == 404
    with live_tool.app.app_context():
        session = get_session()
        states = dict(session.execute(select(Deployment.id_on_platform, Deployment.is_active)
                                      .where(Deployment.registration_id == other_id)).all())
        assert states == {"b-dep-1": True, "b-pending": False}
        assert session.get(Registration, other_id).is_active
        actions = session.scalars(select(AdminAuditEntry.action).where(AdminAuditEntry.actor_kind == "lms_admin"))
        assert list(actions) == []


def test_only_operators_switch_registrations_and_rotate_keys(live_tool, lms_admin, lms):
    assert lms_admin.post(f"/admin/registrations/{lms.registration_id}/deactivate").status_code == 403
    keys_before = live_tool.app.extensions["lti_services"].tool_keys.keys()
    assert lms_admin.post("/admin/keys/rotate").status_code == 403
    assert live_tool.app.extensions["lti_services"].tool_keys.keys() == keys_before
    with live_tool.app.app_context():
        assert get_session().get(Registration, lms.registration_id).is_active


@pytest.mark.parametrize("user_id", ["demo-learner-1", "demo-instructor-1"])
def test_learners_and_instructors_are_refused(live_tool, lms, user_id):
    browser, landing = lms.launch_as(user_id)
    console = Console.from_launch(live_tool, browser, landing)
    for path in ("/admin/", f"/admin/registrations/{lms.registration_id}", "/admin/launches"):
        assert console.get(path).status_code == 403, path


def test_an_unknown_launch_is_told_its_session_ended_and_no_session_goes_to_sign_in(live_tool):
    assert Console(live_tool, launch_id="made-up").get("/admin/").status_code == 401
    anonymous = Console(live_tool).get("/admin/launches", outcome="rejected")
    assert anonymous.status_code == 302
    assert "/admin/login?next=/admin/launches" in anonymous.headers["Location"]


def test_approving_a_pending_deployment_lets_the_next_launch_land(live_tool, lms, operator):
    _, waiting = lms.launch_as("demo-learner-1", **{DEPLOYMENT_CLAIM: "new-dep"})
    assert waiting.status_code == 403 and "new-dep" in waiting.text
    page = operator.get(f"/admin/registrations/{lms.registration_id}")
    row = page.text[page.text.index('data-deployment="new-dep"'):].split("</tr>")[0]
    assert "Waiting for approval" in row and "0 accepted, 1 refused" in row and "last refused 20" in row
    with live_tool.app.app_context():
        deployment_id = get_session().scalar(select(Deployment.id).where(Deployment.id_on_platform == "new-dep"))

    approved = operator.post(f"/admin/registrations/{lms.registration_id}/deployments/{deployment_id}/activate")
    assert approved.status_code == 302
    _, landed = lms.launch_as("demo-learner-1", **{DEPLOYMENT_CLAIM: "new-dep"})
    assert landed.status_code == 200 and 'data-audience="learner"' in landed.text

    deactivated = operator.post(f"/admin/registrations/{lms.registration_id}/deployments/{deployment_id}/deactivate")
    assert deactivated.status_code == 302
    _, refused = lms.launch_as("demo-learner-1", **{DEPLOYMENT_CLAIM: "new-dep"})
    assert refused.status_code == 403


def test_an_lms_administrator_approves_a_deployment_id_before_its_first_launch(live_tool, lms, lms_admin):
    response = lms_admin.post(f"/admin/registrations/{lms.registration_id}/deployments", {"deployment_id": "pre-dep"})
    assert response.status_code == 302
    _, landed = lms.launch_as("demo-learner-1", **{DEPLOYMENT_CLAIM: "pre-dep"})
    assert landed.status_code == 200
    empty = lms_admin.post(f"/admin/registrations/{lms.registration_id}/deployments", {"deployment_id": "  "})
    assert empty.status_code == 422 and 'data-error-for="deployment_id"' in empty.text
    with live_tool.app.app_context():
        entry = get_session().scalar(select(AdminAuditEntry).where(AdminAuditEntry.action == "deployment.add"))
        assert (entry.actor_kind, entry.actor, entry.actor_registration_id, entry.registration_id) == (
            "lms_admin", "demo-admin-1", lms.registration_id, lms.registration_id)


def test_switching_a_registration_off_refuses_its_logins_and_its_console(live_tool, lms, operator, lms_admin):
    response = operator.post(f"/admin/registrations/{lms.registration_id}/deactivate")
    assert response.status_code == 302
    assert 'data-registration-state="inactive"' in operator.get(f"/admin/registrations/{lms.registration_id}").text
    browser = requests.Session()
    refused = browser.post(live_tool.url("/lti/login"), data=lms.login_params("demo-learner-1"),
                           allow_redirects=False)
    assert refused.status_code == 403
    assert lms_admin.get(f"/admin/registrations/{lms.registration_id}").status_code == 403
    rejected = operator.get("/admin/launches", outcome="rejected").text
    assert 'data-reason="registration_inactive"' in rejected

    assert operator.post(f"/admin/registrations/{lms.registration_id}/activate").status_code == 302
    _, landed = lms.launch_as("demo-learner-1")
    assert landed.status_code == 200


def test_the_launch_log_shows_a_rejected_launch_with_its_reason(live_tool, lms, operator):
    browser = lms.browser()
    login = lms.login(browser, "demo-learner-2")
    forged = lms.sign(lms.claims(login.nonce, "demo-learner-2"), private_pem=other_private_key())
    assert lms.post_launch(browser, forged, login.state).status_code == 401
    lms.launch_as("demo-learner-1")

    rejected = operator.get("/admin/launches", outcome="rejected")
    assert rejected.status_code == 200
    assert 'data-reason="signature_invalid"' in rejected.text
    assert "The launch token's signature is not valid." in html.unescape(rejected.text)
    assert "demo-learner-2" in rejected.text and 'data-launch-outcome="accepted"' not in rejected.text
    accepted = operator.get("/admin/launches", outcome="accepted").text
    assert "demo-learner-1" in accepted and "signature_invalid" not in accepted
    everything = operator.get("/admin/launches").text
    assert everything.index("demo-learner-1") < everything.index("demo-learner-2")  # newest first
    own_admin = Console.from_launch(live_tool, *lms.launch_as("demo-admin-1"))
    assert 'data-reason="signature_invalid"' in own_admin.get("/admin/launches", outcome="rejected").text


def test_the_launch_log_is_paginated(live_tool, lms, operator):
    with live_tool.app.app_context():
        session = get_session()
        for i in range(60):
            session.add(LaunchLog(at=NOW + timedelta(seconds=i), is_accepted=False, reason_code="state_unknown",
                                  issuer=lms.issuer, client_id="demo-tool", sub=f"user-{i:02d}",
                                  registration_id=lms.registration_id))
        session.commit()
    first = operator.get("/admin/launches").text
    assert first.count("data-launch-outcome=") == 50 and "user-59" in first and "user-09" not in first
    assert "Page 1 of 2" in first
    second = operator.get("/admin/launches", page="2").text
    assert second.count("data-launch-outcome=") == 10 and "user-00" in second
    assert operator.get("/admin/launches", page="nonsense").status_code == 200
    assert operator.get("/admin/launches", page="999").text.count("data-launch-outcome=") == 10


def test_rotating_the_key_in_the_console_publishes_a_new_key(live_tool, operator):
    before = requests.get(live_tool.url("/lti/jwks")).json()["keys"]
    response = operator.post("/admin/keys/rotate")
    assert response.status_code == 302
    after = requests.get(live_tool.url("/lti/jwks")).json()["keys"]
    new = {k["kid"] for k in after} - {k["kid"] for k in before}
    assert len(new) == 1 and {k["kid"] for k in before} <= {k["kid"] for k in after}
    kid = new.pop()
    keys = operator.get("/admin/keys").text
    assert f'data-kid="{kid}" data-role="signing"' in keys
    assert f'data-kid="{before[0]["kid"]}" data-role="published"' in keys
    with live_tool.app.app_context():
        entry = get_session().scalar(select(AdminAuditEntry).where(AdminAuditEntry.action == "keys.rotate"))
        assert (entry.actor, entry.target, entry.details["previous_signing_kid"]) == (
            "operator@example.se", kid, before[0]["kid"])


def test_service_health_is_shown_per_platform(live_tool, lms, lms_admin, operator, other_platform):
    with live_tool.app.app_context():
        session = get_session()
        record_service_call(session, lms.registration_id, Service.AGS, is_ok=True, at=NOW, status=200)
        record_service_call(session, lms.registration_id, Service.NRPS, is_ok=False, at=NOW, status=503,
                            detail="roster service unavailable")
        record_service_call(session, lms.registration_id, Service.NRPS, is_ok=False, at=NOW, status=503,
                            detail="roster service unavailable")
        record_service_call(session, other_platform[0], Service.AGS, is_ok=False, at=NOW, status=401,
                            detail="B's token was refused")
        session.commit()
    page = lms_admin.get(f"/admin/registrations/{lms.registration_id}").text
    assert 'data-service="ags"' in page and 'data-service="nrps"' in page
    assert "roster service unavailable" in page and "token was refused" not in page
    nrps_row = page[page.index('data-service="nrps"'):].split("</tr>")[0]
    assert "Failing" in nrps_row and "<td>2</td>" in nrps_row and "503" in nrps_row
    overview = operator.get("/admin/").text
    assert overview.count("Failing") == 2


def test_every_change_is_in_the_audit_log_with_who_made_it(live_tool, lms, operator, lms_admin):
    with live_tool.app.app_context():
        deployment_id = get_session().scalar(select(Deployment.id).where(
            Deployment.registration_id == lms.registration_id))
    operator.post(f"/admin/registrations/{lms.registration_id}/deployments/{deployment_id}/deactivate")
    lms_admin_browser_reactivates = lms_admin.post(
        f"/admin/registrations/{lms.registration_id}/deployments/{deployment_id}/activate")
    assert lms_admin_browser_reactivates.status_code == 302
    operator.post("/admin/keys/rotate")

    seen_by_operator = operator.get("/admin/audit").text
    for action in ("deployment.deactivate", "deployment.activate", "keys.rotate"):
        assert f'data-action="{action}"' in seen_by_operator
    assert "operator@example.se" in seen_by_operator and "demo-admin-1" in seen_by_operator
    seen_by_lms_admin = lms_admin.get("/admin/audit").text
    assert 'data-action="deployment.deactivate"' in seen_by_lms_admin
    assert 'data-action="keys.rotate"' not in seen_by_lms_admin  # the tool's keys are not their registration's
    with live_tool.app.app_context():
        rows = get_session().execute(select(AdminAuditEntry.actor_kind, AdminAuditEntry.actor, AdminAuditEntry.action)
                                     .where(AdminAuditEntry.registration_id == lms.registration_id)
                                     .order_by(AdminAuditEntry.id)).all()
    assert [tuple(r) for r in rows] == [("operator", "operator@example.se", "deployment.deactivate"),
                                        ("lms_admin", "demo-admin-1", "deployment.activate")]


def test_the_console_speaks_swedish_by_default_and_english_when_asked(live_tool, operator):
    english = operator.get("/admin/keys", lang="en")
    assert '<html lang="en">' in english.text and "<h1>The tool's keys</h1>" in html.unescape(english.text)
    swedish = operator.browser.get(live_tool.url("/admin/keys"), headers={"Accept-Language": "sv"})
    assert '<html lang="sv">' in swedish.text
    # a chosen language sticks to the console's links
    assert 'href="/admin/audit?lang=en"' in english.text
