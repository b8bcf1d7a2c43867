"""Launches from a platform the tool's authors did not write: `lti1p3platform` signs the id_token.

The platform is registered with the CLI like any real LMS; the tool fetches its JWKS over HTTP
from a server started here, and the launch goes login → platform auth endpoint → launch → page.
"""
from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from sqlalchemy import select

from lti_tool.db.session import get_session
from lti_tool.db.tenancy import LmsUser
from tests.support.independent_platform import LIS, IndependentPlatform, User
from tests.support.lms import form_fields, launch_log

ISSUER = "https://independent-platform.example"
CLIENT_ID = "independent-client-42"
DEPLOYMENT_ID = "independent-deployment-1"


@pytest.fixture
def platform(live_tool, runner):
    platform = IndependentPlatform(issuer=ISSUER, client_id=CLIENT_ID, deployment_id=DEPLOYMENT_ID,
                                   tool_base_url=live_tool.base_url).start()
    result = runner.invoke(args=[
        "platform", "add", "--issuer", ISSUER, "--client-id", CLIENT_ID, "--deployment-id", DEPLOYMENT_ID,
        "--auth-login-url", platform.auth_login_url, "--auth-token-url", platform.auth_token_url,
        "--key-set-url", platform.key_set_url, "--name", "Independent LMS"])
    assert result.exit_code == 0, result.output
    yield platform
    platform.stop()


def browser() -> requests.Session:
    session = requests.Session()
    session.headers["Accept-Language"] = "en"
    return session


def login(live_tool, platform: IndependentPlatform, session: requests.Session, user: User | None = None) -> str:
    """POST the login initiation as the platform builds it; returns the tool's redirect Location."""
    params = platform.login_initiation(user)
    assert params["iss"] == ISSUER and params["target_link_uri"] == live_tool.url("/lti/launch")
    response = session.post(live_tool.url("/lti/login"), data=params, allow_redirects=False)
    assert response.status_code == 302, response.text[:500]
    location = response.headers["Location"]
    assert location.startswith(platform.auth_login_url + "?")
    return location


def auth_query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}



def tamper(id_token: str, **changes) -> str:
    """Change claims in the payload but keep the platform's header and signature."""
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return ".".join((header, forged, signature))


def test_full_launch_through_the_platforms_own_auth_endpoint(live_tool, platform):
    """Browser: login → the platform's /auth (lti1p3platform checks the tool's request) → launch → page."""
    session = browser()
    location = login(live_tool, platform, session)

    auth_page = session.get(location)  # the browser follows the tool's redirect to the platform
    assert auth_page.status_code == 200, auth_page.text
    action, fields = form_fields(auth_page.text)
    assert action == live_tool.url("/lti/launch")
    response = session.post(action, data=fields, allow_redirects=False)

    assert response.status_code == 303, response.text[:1000]
    page = session.get(live_tool.url(response.headers["Location"]), allow_redirects=False)
    assert page.status_code == 200
    assert 'data-audience="learner"' in page.text
    assert "Ingrid Independent" in page.text
    assert "Learner" in page.text
    assert "Independent course 7" in page.text
    assert ISSUER in page.text
    # The tool asked the platform exactly as OIDC says (the package validated it, we check the rest).
    request = platform.auth_requests[-1]
    assert request["login_hint"] == "indep-user-1"
    assert request["redirect_uri"] == live_tool.url("/lti/launch")
    assert (request["scope"], request["response_type"], request["response_mode"], request["prompt"]) == (
        "openid", "id_token", "form_post", "none")


def test_instructor_launch_with_state_and_nonce_from_the_redirect(live_tool, platform):
    """The test takes state and nonce from the Location and lets the package sign for that nonce."""
    instructor = User("indep-teacher-9", "Tove Teacher", "tove@independent.example",
                      [LIS + "membership#Instructor"])
    session = browser()
    query = auth_query(login(live_tool, platform, session, instructor))
    data = platform.launch_data(query, instructor)
    assert data["state"] == query["state"]
    body = json.loads(base64.urlsafe_b64decode(data["id_token"].split(".")[1] + "=="))
    assert body["nonce"] == query["nonce"] and body["iss"] == ISSUER

    response = session.post(live_tool.url("/lti/launch"), data={"id_token": data["id_token"],
                                                                "state": data["state"]},
                            allow_redirects=False)

    assert response.status_code == 303, response.text[:1000]
    page = session.get(live_tool.url(response.headers["Location"]))
    assert page.status_code == 200
    assert 'data-audience="instructor"' in page.text
    assert "Tove Teacher" in page.text and "Instructor" in page.text
    entry = launch_log(live_tool.app)[-1]
    assert entry.is_accepted and (entry.issuer, entry.client_id, entry.sub) == (ISSUER, CLIENT_ID,
                                                                                "indep-teacher-9")
    assert entry.deployment_id_on_platform == DEPLOYMENT_ID
    with live_tool.app.app_context():
        user = get_session().scalar(select(LmsUser).where(LmsUser.id_on_platform == "indep-teacher-9"))
        assert user.name == "Tove Teacher" and user.email == "tove@independent.example"


def test_tampered_payload_is_rejected_as_signature_invalid(live_tool, platform):
    session = browser()
    query = auth_query(login(live_tool, platform, session))
    data = platform.launch_data(query)
    forged = tamper(data["id_token"], **{"https://purl.imsglobal.org/spec/lti/claim/roles":
                                         [LIS + "system/person#Administrator"]})

    response = session.post(live_tool.url("/lti/launch"), data={"id_token": forged, "state": data["state"]},
                            allow_redirects=False)

    assert response.status_code == 401
    assert "signature_invalid" in response.text
    assert "data-audience" not in response.text
    entry = launch_log(live_tool.app)[-1]
    assert (entry.is_accepted, entry.reason_code, entry.issuer) == (False, "signature_invalid", ISSUER)


def test_a_platform_whose_jwks_is_down_gets_a_retry_page(live_tool, platform):
    session = browser()
    query = auth_query(login(live_tool, platform, session))
    data = platform.launch_data(query)
    platform.stop()  # its key set URL now refuses connections

    response = session.post(live_tool.url("/lti/launch"), data={"id_token": data["id_token"],
                                                                "state": data["state"]},
                            allow_redirects=False)

    assert response.status_code == 503
    assert "platform_keys_unavailable" in response.text


def launch_page(live_tool, platform) -> requests.Response:
    session = browser()
    data = platform.launch_data(auth_query(login(live_tool, platform, session)))
    return session.post(live_tool.url("/lti/launch"), data={"id_token": data["id_token"], "state": data["state"]},
                        allow_redirects=False)


def test_keys_the_tool_cannot_use_do_not_spoil_the_platforms_own(live_tool, platform):
    """Platforms publish encryption and other-algorithm keys next to their RS256 signing key."""
    platform.extra_jwks_entries = [
        {"kty": "EC", "kid": "ec-1", "crv": "P-256", "alg": "ES256", "use": "sig",
         "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
        dict(platform.jwks()["keys"][-1], kid="rsa-enc", use="enc"),
    ]
    assert launch_page(live_tool, platform).status_code == 303


def test_one_malformed_key_in_the_jwks_does_not_break_launches(live_tool, platform):
    platform.extra_jwks_entries = [{"kty": "RSA", "kid": "half-written", "alg": "RS256", "use": "sig",
                                    "e": "AQAB"}]
    response = launch_page(live_tool, platform)
    assert response.status_code == 303, (response.status_code, response.text[:300])
