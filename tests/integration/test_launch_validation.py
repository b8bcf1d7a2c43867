"""Every launch case of the 1EdTech tool certification, over real HTTP against the demo platform."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from lti_tool.db.session import get_session
from lti_tool.db.tenancy import Deployment, LmsUser, Membership
from tests.support.lms import DROP, DemoLms, launch_log, other_private_key

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"


@pytest.fixture
def lms(live_tool) -> DemoLms:
    return DemoLms(live_tool)



def now() -> int:
    return int(time.time())


# (case, claim overrides, signing options, expected status, expected reason)
FORGED = [
    ("no kid", {}, {"kid": DROP}, 401, "kid_missing"),
    ("unknown kid", {}, {"kid": "not-a-published-kid"}, 401, "kid_unknown"),
    ("wrong LTI version", {CLAIM + "version": "1.1.0"}, {}, 400, "version_invalid"),
    ("missing LTI version", {CLAIM + "version": DROP}, {}, 400, "version_invalid"),
    ("missing message_type", {CLAIM + "message_type": DROP}, {}, 400, "message_type_unsupported"),
    ("unknown message_type", {CLAIM + "message_type": "LtiMadeUpRequest"}, {}, 400, "message_type_unsupported"),
    ("signed by another key", {}, {"private_pem": "OTHER"}, 401, "signature_invalid"),
    ("alg HS256", {}, {"algorithm": "HS256", "private_pem": "a-shared-secret-that-is-long-enough-32b"}, 401,
     "algorithm_not_allowed"),
    ("alg none", {}, {"algorithm": "none", "private_pem": DROP}, 401, "algorithm_not_allowed"),
    ("expired", {"exp": "NOW-120", "iat": "NOW-180"}, {}, 401, "token_expired"),
    ("iat beyond leeway in the future", {"iat": "NOW+300", "exp": "NOW+360"}, {}, 401, "token_not_yet_valid"),
    ("wrong aud", {"aud": "some-other-tool"}, {}, 401, "audience_mismatch"),
    ("extra untrusted aud without azp", {"aud": ["demo-tool", "another-tool"]}, {}, 401, "audience_untrusted"),
    ("extra aud with mismatching azp", {"aud": ["demo-tool", "another-tool"], "azp": "another-tool"}, {}, 401,
     "azp_mismatch"),
    ("wrong iss", {"iss": "https://evil.example"}, {}, 401, "issuer_mismatch"),
    ("deployment_id missing", {CLAIM + "deployment_id": DROP}, {}, 400, "deployment_missing"),
    ("resource_link.id missing", {CLAIM + "resource_link": {"title": "x"}}, {}, 400, "resource_link_missing"),
    ("roles claim missing", {CLAIM + "roles": DROP}, {}, 400, "roles_missing"),
    ("sub missing", {"sub": DROP}, {}, 400, "sub_missing"),
    ("nonce not the login's", {"nonce": "a-nonce-from-another-login"}, {}, 401, "nonce_mismatch"),
    ("target_link_uri not ours", {CLAIM + "target_link_uri": "https://elsewhere.example/launch"}, {}, 400,
     "target_link_uri_foreign"),
    ("no exp", {"exp": DROP}, {}, 400, "claim_missing"),
]


def _resolve(value):
    if isinstance(value, str) and value.startswith("NOW"):
        return now() + int(value[3:])
    return value


@pytest.mark.parametrize("case,overrides,signing,status,reason", FORGED, ids=[row[0] for row in FORGED])
def test_forged_launch_is_rejected_with_a_readable_page_and_logged(lms, case, overrides, signing, status, reason):
    browser = lms.browser()
    login = lms.login(browser)
    claims = lms.claims(login.nonce, **{k: _resolve(v) for k, v in overrides.items()})
    signing = dict(signing)
    if signing.get("private_pem") == "OTHER":
        signing["private_pem"] = other_private_key()
    token = lms.sign(claims, **signing)

    response = lms.post_launch(browser, token, login.state)

    assert response.status_code == status
    assert "text/html" in response.headers["Content-Type"]
    assert reason in response.text
    assert "data-audience" not in response.text  # never the tool's page
    entry = launch_log(lms.app)[-1]
    assert (entry.is_accepted, entry.reason_code) == (False, reason)


def test_not_a_jwt_is_rejected(lms):
    browser = lms.browser()
    login = lms.login(browser)
    response = lms.post_launch(browser, "this-is-not-a-jwt", login.state)
    assert response.status_code == 400
    assert "id_token_malformed" in response.text


def test_missing_id_token_is_rejected(lms):
    browser = lms.browser()
    login = lms.login(browser)
    response = lms.post_launch(browser, None, login.state)
    assert response.status_code == 400
    assert "id_token_missing" in response.text


def test_replayed_launch_is_rejected(lms):
    browser = lms.browser()
    login = lms.login(browser)
    token = lms.sign(lms.claims(login.nonce))
    first = lms.post_launch(browser, token, login.state)
    replay = lms.post_launch(browser, token, login.state)
    assert first.status_code == 303
    assert replay.status_code == 400
    assert "state_replayed" in replay.text


def test_replayed_id_token_with_a_fresh_state_is_rejected(lms):
    """The nonce is single-use: an old id_token cannot ride on a new login."""
    browser = lms.browser()
    first_login = lms.login(browser)
    token = lms.sign(lms.claims(first_login.nonce))
    assert lms.post_launch(browser, token, first_login.state).status_code == 303
    second_login = lms.login(browser)
    replay = lms.post_launch(browser, token, second_login.state)
    assert replay.status_code == 401
    assert "nonce_mismatch" in replay.text


def test_launch_without_state_is_rejected(lms):
    browser = lms.browser()
    login = lms.login(browser)
    response = lms.post_launch(browser, lms.sign(lms.claims(login.nonce)), None)
    assert response.status_code == 400
    assert "state_missing" in response.text


def test_id_token_posted_without_a_prior_login_is_rejected(lms):
    browser = lms.browser()
    response = lms.post_launch(browser, lms.sign(lms.claims("any-nonce")), "state-nobody-issued")
    assert response.status_code == 400
    assert "state_unknown" in response.text


def test_state_from_another_browser_is_rejected(lms):
    victim, attacker = lms.browser(), lms.browser()
    login = lms.login(victim)
    cookie_name = next(c.name for c in victim.cookies if c.name.startswith("lti1p3-"))
    attacker.cookies.set(cookie_name, "attackers-own-browser-token", path="/lti/")
    response = lms.post_launch(attacker, lms.sign(lms.claims(login.nonce)), login.state)
    assert response.status_code == 400
    assert "state_mismatch" in response.text


def test_login_for_unknown_client_id_is_rejected(lms):
    response = lms.browser().post(lms.tool.url("/lti/login"), data=lms.login_params(client_id="nobody"),
                                  allow_redirects=False)
    assert response.status_code == 400
    assert "registration_unknown" in response.text
    assert launch_log(lms.app)[-1].reason_code == "registration_unknown"


def test_login_for_unknown_issuer_is_rejected(lms):
    response = lms.browser().post(lms.tool.url("/lti/login"), data=lms.login_params(iss="https://unknown.example"),
                                  allow_redirects=False)
    assert response.status_code == 400
    assert "registration_unknown" in response.text


def test_login_whose_target_is_not_this_tool_is_rejected(lms):
    response = lms.browser().post(lms.tool.url("/lti/login"),
                                  data=lms.login_params(target_link_uri="https://phish.example/x"),
                                  allow_redirects=False)
    assert response.status_code == 400
    assert "target_link_uri_foreign" in response.text


@pytest.mark.parametrize("skew", [-5, 5])
def test_clock_skew_within_leeway_is_accepted(lms, skew):
    """Moodle's id_tokens live exactly 60 s; a few seconds of skew either way must not fail a launch."""
    if skew < 0:  # expired a moment ago by our clock
        overrides = {"iat": now() - 60, "exp": now() + skew}
    else:  # issued a moment in our future
        overrides = {"iat": now() + skew, "exp": now() + 60}
    _, page = lms.launch_as("demo-learner-1", **overrides)
    assert page.status_code == 200
    assert 'data-audience="learner"' in page.text


def test_aud_list_with_our_azp_is_accepted(lms):
    _, page = lms.launch_as("demo-learner-1", aud=["demo-tool", "another-tool"], azp="demo-tool")
    assert page.status_code == 200


@pytest.mark.parametrize("user_id,audience", [
    ("demo-learner-1", "learner"),
    ("demo-instructor-1", "instructor"),
    ("demo-admin-1", "administrator"),
])
def test_valid_launch_lands_on_the_page_for_the_role(lms, user_id, audience):
    _, page = lms.launch_as(user_id)
    assert page.status_code == 200
    assert f'data-audience="{audience}"' in page.text
    entry = launch_log(lms.app)[-1]
    assert entry.is_accepted and entry.sub == user_id


def test_several_roles_pick_the_highest(lms):
    roles = [LIS + "membership#Learner", LIS + "membership#Instructor"]
    _, page = lms.launch_as("demo-learner-1", **{CLAIM + "roles": roles})
    assert 'data-audience="instructor"' in page.text


def test_unknown_roles_launch_but_see_no_programme(lms):
    _, page = lms.launch_as("demo-learner-1", **{CLAIM + "roles": ["http://example.com/role#Janitor"]})
    assert page.status_code == 200
    assert 'data-audience="none"' in page.text


def test_privacy_launch_without_name_or_email(lms):
    _, page = lms.launch_as("demo-learner-1", name=DROP, given_name=DROP, family_name=DROP, email=DROP)
    assert page.status_code == 200
    with lms.app.app_context():
        user = get_session().scalar(select(LmsUser).where(LmsUser.id_on_platform == "demo-learner-1"))
        assert user.name is None and user.email is None


def test_login_by_get_works(lms):
    browser = lms.browser()
    login = lms.login(browser, method="GET")
    response = lms.post_launch(browser, lms.sign(lms.claims(login.nonce)), login.state)
    assert response.status_code == 303


def test_canvas_login_with_deployment_id_and_storage_target(lms):
    """Canvas sends deployment_id (not lti_deployment_id) and offers platform storage."""
    params = lms.login_params(lti_deployment_id=None, deployment_id="demo-deployment-1",
                              lti_storage_target="post_message_forwarding")
    response = lms.browser().post(lms.tool.url("/lti/login"), data=params, allow_redirects=False)
    assert response.status_code == 200
    assert "lti.put_data" in response.text and "post_message_forwarding" in response.text
    assert any(name.startswith("lti1p3-") for name in response.cookies.keys())


def test_launch_records_user_context_and_membership(lms):
    lms.launch_as("demo-instructor-1")
    with lms.app.app_context():
        session = get_session()
        user = session.scalar(select(LmsUser).where(LmsUser.id_on_platform == "demo-instructor-1"))
        membership = session.scalar(select(Membership).where(Membership.lms_user_id == user.id))
        assert user.name == "Björn Berg"
        assert LIS + "membership#Instructor" in membership.roles


def test_unknown_deployment_waits_for_an_administrator_until_activated(lms):
    browser, page = lms.launch_as("demo-learner-1", **{CLAIM + "deployment_id": "new-deployment-42"})
    assert page.status_code == 403
    assert "new-deployment-42" in page.text
    with lms.app.app_context():
        deployment = get_session().scalar(select(Deployment).where(Deployment.id_on_platform == "new-deployment-42"))
        assert deployment is not None and deployment.is_active is False
    result = lms.app.test_cli_runner().invoke(
        args=["deployment", "activate", str(lms.registration_id), "new-deployment-42"])
    assert result.exit_code == 0, result.output
    _, page = lms.launch_as("demo-learner-1", **{CLAIM + "deployment_id": "new-deployment-42"})
    assert page.status_code == 200


def test_deactivated_registration_cannot_log_in(lms):
    result = lms.app.test_cli_runner().invoke(args=["platform", "deactivate", str(lms.registration_id)])
    assert result.exit_code == 0
    response = lms.browser().post(lms.tool.url("/lti/login"), data=lms.login_params(), allow_redirects=False)
    assert response.status_code == 403
    assert "registration_inactive" in response.text


def test_page_without_a_launch_is_refused(lms):
    response = lms.browser().get(lms.tool.url("/home?launch=made-up"))
    assert response.status_code == 401


@pytest.mark.parametrize("tamper,reason", [
    (lambda h, b, s: f"{h}.{b}.{s[:-4]}", "signature_invalid"),           # truncated signature
    (lambda h, b, s: f"{h}.{b}.{s[:10]}*{s[11:]}", "signature_invalid"),  # not base64url
    (lambda h, b, s: f"{h}.{b[:-2]}.{s}", "id_token_malformed"),          # payload cut: not JSON
    (lambda h, b, s: f"{h}.{b}", "id_token_malformed"),                   # two parts
])
def test_mangled_tokens_are_rejected(lms, tamper, reason):
    browser = lms.browser()
    login = lms.login(browser)
    header, body, signature = lms.sign(lms.claims(login.nonce)).split(".")
    response = lms.post_launch(browser, tamper(header, body, signature), login.state)
    assert 400 <= response.status_code < 500
    assert reason in response.text
