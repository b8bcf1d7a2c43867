"""Canvas's developer-key JSON configuration (Developer Keys → + LTI Key → Method: Enter URL)."""
from __future__ import annotations

from typing import Any

from .dynamic_registration import CANVAS_PLACEMENTS, DEEP_LINKING_REQUEST, RESOURCE_LINK_REQUEST
from .tool_description import CUSTOM_PARAMETERS, SCOPES, ToolDescription

CANVAS_PLATFORM = "canvas.instructure.com"
TOOL_ID = "lti-tool-certification"


def canvas_developer_key(tool: ToolDescription) -> dict[str, Any]:
    """The JSON Canvas reads for a developer key: the same scopes, claims and placements as Dynamic Registration."""
    placements = [
        {"placement": placement, "message_type": message_type, "text": tool.name,
         "icon_url": tool.logo_url, "target_link_uri": tool.launch_url}
        for message_type in (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST)
        for placement in CANVAS_PLACEMENTS[message_type]
    ]
    return {
        "title": tool.name,
        "description": tool.description,
        "oidc_initiation_url": tool.login_url,
        "target_link_uri": tool.launch_url,
        "public_jwk_url": tool.jwks_url,
        "scopes": list(SCOPES),
        "custom_fields": dict(CUSTOM_PARAMETERS),
        "extensions": [{
            "platform": CANVAS_PLATFORM,
            "domain": tool.domain,
            "tool_id": TOOL_ID,
            # Canvas's default is anonymous: no names, so no certificates.
            "privacy_level": "public",
            "settings": {"text": tool.name, "icon_url": tool.logo_url, "placements": placements},
        }],
    }
