"""Dynamic Registration's pure rules: the issuer rule, what is asked of each platform, reading its answer."""
from __future__ import annotations

from datetime import datetime, timezone

import jwt
import pytest

from lti_tool.lti.dynamic_registration import (
    PlatformConfiguration, RegistrationError, RegistrationFailure, SupportedMessage, check_issuer,
    parse_platform_configuration, parse_registration_response, registration_request, requested_scopes,
    token_expires_at, tool_messages,
)
from lti_tool.lti.tool_description import (
    AGS_LINEITEM, AGS_SCORE, NRPS_MEMBERSHIP_READONLY, SCOPES, Feature, ToolDescription, unavailable_features,
)

SECRET = "a test secret of thirty-two bytes"
TOOL = ToolDescription(login_url="https://tool.example:8443/lti/login",
                       launch_url="https://tool.example:8443/lti/launch",
                       jwks_url="https://tool.example:8443/lti/jwks", logo_url="https://tool.example:8443/lti/icon.svg")


def platform(**changes) -> PlatformConfiguration:
    values = dict(configuration_url="https://lms.example/config", issuer="https://lms.example",
                  authorization_endpoint="https://lms.example/auth", token_endpoint="https://lms.example/token",
                  jwks_uri="https://lms.example/jwks", registration_endpoint="https://lms.example/register")
    values.update(changes)
    return PlatformConfiguration(**values)


@pytest.mark.parametrize(("configuration_url", "issuer", "matches"), [
    ("https://moodle.example.se/mod/lti/openid-configuration.php", "https://moodle.example.se", True),
    ("https://example.se/moodle/mod/lti/openid-configuration.php", "https://example.se/moodle", True),
    ("https://canvas.example/api/lti/security/openid-configuration", "https://canvas.example", True),
    ("https://lms.example:443/config", "https://lms.example", True),  # the default port is the same origin
    ("https://LMS.example/config", "https://lms.example", True),  # host names are case-insensitive
    ("https://evil.example/config", "https://lms.example", False),
    ("https://lms.example.evil.example/config", "https://lms.example", False),  # a prefix of the text is not enough
    ("http://lms.example/config", "https://lms.example", False),
    ("https://lms.example:8443/config", "https://lms.example", False),
])
def test_the_issuer_must_have_the_configuration_urls_origin(configuration_url, issuer, matches):
    try:
        check_issuer(configuration_url, issuer)
    except RegistrationError as error:
        assert not matches and error.reason is RegistrationFailure.ISSUER_MISMATCH
    else:
        assert matches


def test_https_is_required_of_every_endpoint_when_asked():
    document = {"issuer": "https://lms.example", "authorization_endpoint": "https://lms.example/auth",
                "token_endpoint": "http://lms.example/token", "jwks_uri": "https://lms.example/jwks",
                "registration_endpoint": "https://lms.example/register",
                "https://purl.imsglobal.org/spec/lti-platform-configuration": {}}
    parse_platform_configuration("https://lms.example/config", document, require_https=False)
    with pytest.raises(RegistrationError) as error:
        parse_platform_configuration("https://lms.example/config", document, require_https=True)
    assert error.value.reason is RegistrationFailure.HTTPS_REQUIRED


def test_only_a_url_authorization_server_becomes_the_audience():
    base = {"issuer": "https://lms.example", "authorization_endpoint": "https://lms.example/auth",
            "token_endpoint": "https://lms.example/token", "jwks_uri": "https://lms.example/jwks",
            "registration_endpoint": "https://lms.example/register",
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {}}
    as_name = parse_platform_configuration("https://lms.example/c", {**base, "authorization_server": "lms.example"},
                                           require_https=True)
    as_url = parse_platform_configuration("https://lms.example/c",
                                          {**base, "authorization_server": "https://a.example"}, require_https=True)
    assert (as_name.authorization_server, as_url.authorization_server) == (None, "https://a.example")


@pytest.mark.parametrize(("family", "supported", "expected"), [
    ("moodle", None, [("LtiResourceLinkRequest", None), ("LtiDeepLinkingRequest", ["ContentArea"])]),
    ("canvas", None, [("LtiResourceLinkRequest", ["course_navigation"]),
                      ("LtiDeepLinkingRequest", ["link_selection", "assignment_selection"])]),
    # narrowed to what the platform supports; a message none of whose placements exist is left out
    ("canvas", (SupportedMessage("LtiResourceLinkRequest", ("course_navigation",)),
                SupportedMessage("LtiDeepLinkingRequest", ("editor_button",))),
     [("LtiResourceLinkRequest", ["course_navigation"])]),
    ("moodle", (SupportedMessage("LtiResourceLinkRequest", None),), [("LtiResourceLinkRequest", None)]),
    ("sakai", (SupportedMessage("LtiResourceLinkRequest", None), SupportedMessage("LtiDeepLinkingRequest", None)),
     [("LtiResourceLinkRequest", None), ("LtiDeepLinkingRequest", ["ContentArea"])]),
])
def test_messages_and_placements_in_each_platforms_vocabulary(family, supported, expected):
    messages = tool_messages(TOOL, platform(product_family_code=family, messages_supported=supported))
    assert [(m["type"], m.get("placements")) for m in messages] == expected
    assert {m["target_link_uri"] for m in messages} == {TOOL.launch_url}


def test_the_request_asks_canvas_for_public_privacy_and_keeps_the_port_in_the_domain():
    canvas = registration_request(TOOL, platform(product_family_code="canvas"))
    moodle = registration_request(TOOL, platform(product_family_code="moodle"))
    key = "https://purl.imsglobal.org/spec/lti-tool-configuration"
    assert canvas[key]["https://canvas.instructure.com/lti/privacy_level"] == "public"
    assert "https://canvas.instructure.com/lti/privacy_level" not in moodle[key]
    assert moodle[key]["domain"] == "tool.example:8443"


def test_scopes_the_platform_does_not_list_are_not_requested():
    assert requested_scopes(platform()) == SCOPES
    assert requested_scopes(platform(scopes_supported=("openid", AGS_SCORE))) == (AGS_SCORE,)


@pytest.mark.parametrize(("answer", "client_id", "deployment_id", "granted"), [
    ({"client_id": "abc", "scope": AGS_SCORE,
      "https://purl.imsglobal.org/spec/lti-tool-configuration": {"deployment_id": "4"}}, "abc", "4", (AGS_SCORE,)),
    ({"client_id": 10000000000042, "https://purl.imsglobal.org/spec/lti-tool-configuration": {}},
     "10000000000042", None, SCOPES),  # no scope in the answer: what was asked
    ({"client_id": "abc", "scope": ""}, "abc", None, ()),
])
def test_reading_the_platforms_answer(answer, client_id, deployment_id, granted):
    client = parse_registration_response(answer, SCOPES)
    assert (client.client_id, client.deployment_id, client.granted_scopes) == (client_id, deployment_id, granted)


@pytest.mark.parametrize("answer", [[], {"scope": "x"}, {"client_id": ""}, {"client_id": True},
                                    {"client_id": "x" * 300}])
def test_an_answer_without_a_client_id_is_malformed(answer):
    with pytest.raises(RegistrationError) as error:
        parse_registration_response(answer, SCOPES)
    assert error.value.reason is RegistrationFailure.REGISTRATION_MALFORMED


def test_the_expiry_of_a_jwt_token_is_read_and_an_opaque_token_has_none():
    token = jwt.encode({"exp": 1_800_000_000}, SECRET, algorithm="HS256")
    assert token_expires_at(token) == datetime.fromtimestamp(1_800_000_000, timezone.utc)
    assert token_expires_at("an-opaque-token") is None
    assert token_expires_at(jwt.encode({"sub": "x"}, SECRET, algorithm="HS256")) is None


@pytest.mark.parametrize(("granted", "unavailable"), [
    (SCOPES, ()),
    ((), (Feature.GRADE_READING, Feature.GRADE_WRITING, Feature.ROSTER)),
    (tuple(s for s in SCOPES if s != NRPS_MEMBERSHIP_READONLY), (Feature.ROSTER,)),
    (tuple(s for s in SCOPES if s != AGS_LINEITEM), (Feature.GRADE_WRITING,)),
])
def test_features_follow_the_granted_scopes(granted, unavailable):
    assert unavailable_features(granted) == unavailable
