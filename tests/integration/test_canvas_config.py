"""`GET /lti/canvas.json`: Canvas's developer-key configuration, and a launch configured from it."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

import pytest
import requests

from lti_tool.db.session import get_session
from lti_tool.lti.dynamic_registration import parse_platform_configuration, registration_request
from lti_tool.lti.tool_description import SCOPES, ToolDescription
from lti_tool.services.platforms import NewPlatform, add_platform
from tests.support.registration_platforms import LEARNER, TOOL_CONFIGURATION, FakeCanvas, ToolInLms


@pytest.fixture
def canvas():
    platform = FakeCanvas().start()
    yield platform
    platform.stop()


def canvas_json(live_tool) -> dict:
    response = requests.get(live_tool.url("/lti/canvas.json"))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def test_the_developer_key_json_describes_the_tool(live_tool):
    config = canvas_json(live_tool)
    tool = live_tool.base_url
    assert config["title"] and config["description"]
    assert config["oidc_initiation_url"] == tool + "/lti/login"
    assert config["target_link_uri"] == tool + "/lti/launch"
    assert config["public_jwk_url"] == tool + "/lti/jwks"
    assert config["scopes"] == list(SCOPES)
    assert config["custom_fields"] == {"context_id_history": "$Context.id.history"}
    [extension] = config["extensions"]
    assert extension["platform"] == "canvas.instructure.com"
    assert extension["privacy_level"] == "public"
    assert extension["domain"] == urlsplit(tool).netloc
    placements = {(p["placement"], p["message_type"]) for p in extension["settings"]["placements"]}
    assert placements == {("course_navigation", "LtiResourceLinkRequest"),
                          ("link_selection", "LtiDeepLinkingRequest"),
                          ("assignment_selection", "LtiDeepLinkingRequest")}
    assert {p["target_link_uri"] for p in extension["settings"]["placements"]} == {tool + "/lti/launch"}


def test_its_addresses_answer(live_tool):
    config = canvas_json(live_tool)
    keys = requests.get(config["public_jwk_url"]).json()["keys"]
    signing_kid = live_tool.app.extensions["lti_services"].tool_keys.signing_key().kid
    assert signing_kid in {key["kid"] for key in keys}
    icon = requests.get(config["extensions"][0]["settings"]["icon_url"])
    assert icon.status_code == 200 and icon.headers["Content-Type"].startswith("image/svg+xml")
    assert requests.get(config["oidc_initiation_url"]).status_code == 400  # a login without parameters


def test_it_asks_canvas_for_what_dynamic_registration_asks(live_tool, canvas):
    """The two ways into Canvas must not drift apart: same scopes, URLs, privacy and placements."""
    config = canvas_json(live_tool)
    settings = live_tool.app.config["LTI_SETTINGS"]
    tool = ToolDescription(login_url=config["oidc_initiation_url"], launch_url=config["target_link_uri"],
                           jwks_url=config["public_jwk_url"], logo_url=config["extensions"][0]["settings"]["icon_url"])
    platform = parse_platform_configuration(canvas.configuration_url, canvas.configuration(),
                                            require_https=settings.is_production)
    dynamic = registration_request(tool, platform)
    assert dynamic["scope"].split() == config["scopes"]
    assert (dynamic["initiate_login_uri"], dynamic["jwks_uri"]) == (config["oidc_initiation_url"],
                                                                    config["public_jwk_url"])
    tool_configuration = dynamic[TOOL_CONFIGURATION]
    assert tool_configuration["custom_parameters"] == config["custom_fields"]
    assert tool_configuration["https://canvas.instructure.com/lti/privacy_level"] == config["extensions"][0][
        "privacy_level"]
    assert {(p, m["type"]) for m in tool_configuration["messages"] for p in m["placements"]} == {
        (p["placement"], p["message_type"]) for p in config["extensions"][0]["settings"]["placements"]}


def test_a_canvas_configured_from_the_json_launches_the_tool(live_tool, canvas):
    config = canvas_json(live_tool)
    # What Canvas does with the JSON: a developer key (client_id), installed in an account (deployment).
    tool = ToolInLms(client_id="10000000000777", deployment_id="7:account", is_pending=False, registration={
        "initiate_login_uri": config["oidc_initiation_url"], "redirect_uris": [config["target_link_uri"]],
        TOOL_CONFIGURATION: {"target_link_uri": config["target_link_uri"],
                             "custom_parameters": config["custom_fields"]},
    })
    canvas.tools[tool.client_id] = tool
    with live_tool.app.app_context():
        add_platform(get_session(), NewPlatform(
            issuer=canvas.issuer, client_id=tool.client_id, deployment_ids=(tool.deployment_id,),
            auth_login_url=canvas.base_url + "/auth", auth_token_url=canvas.base_url + "/token",
            key_set_url=canvas.base_url + "/jwks"), datetime.now(timezone.utc))
        get_session().commit()
    _, landing = canvas.launch_as(LEARNER, tool=tool)
    assert landing.status_code == 200, landing.text[:500]
    assert 'data-audience="learner"' in landing.text
