"""Deep Linking 2.0 responses: the modules and the exam an instructor picks, as signed ltiResourceLinks.

Each item is an `ltiResourceLink` back to the tool with custom parameters naming what it is,
and a `lineItem` (scoreMaximum, label, resourceId `module:<key>` / `final-exam`, tag), so the
LMS creates the gradebook column bound to the link. The response JWT is pylti1p3's DeepLink,
signed with the tool's current key (its kid is the key's thumbprint, as in the tool's JWKS), and
carries the request's `data` back untouched.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem

from .platforms import PlatformRegistration, to_library_registration
from .tool_keys import KeyRing


class DeepLinkingSettingsInvalid(ValueError):
    """The request's deep_linking_settings cannot be answered (no return URL, no ltiResourceLink)."""


@dataclass(frozen=True)
class ContentChoice:
    title: str
    resource_id: str
    tag: str
    score_maximum: Decimal
    custom: Mapping[str, str] = field(default_factory=dict)


def check_settings(settings: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not isinstance(settings, Mapping) or not settings.get("deep_link_return_url"):
        raise DeepLinkingSettingsInvalid("the launch carries no deep_link_return_url")
    accepted = settings.get("accept_types") or []
    if "ltiResourceLink" not in accepted:
        raise DeepLinkingSettingsInvalid(f"the platform accepts {accepted}, not ltiResourceLink")
    return settings


def response_jwt(registration: PlatformRegistration, keys: KeyRing, deployment_id: str, settings: Mapping[str, Any],
                 choices: list[ContentChoice], launch_url: str) -> str:
    """The signed LtiDeepLinkingResponse for these choices (an empty list is a valid "nothing chosen")."""
    settings = check_settings(settings)
    if len(choices) > 1 and str(settings.get("accept_multiple", True)).lower() == "false":
        raise DeepLinkingSettingsInvalid("the platform accepts one item at a time")
    resources = []
    for choice in choices:
        line_item = (LineItem().set_score_maximum(_number(choice.score_maximum)).set_label(choice.title)
                     .set_resource_id(choice.resource_id).set_tag(choice.tag))
        resources.append(DeepLinkResource().set_type("ltiResourceLink").set_title(choice.title).set_url(launch_url)
                         .set_custom_params(dict(choice.custom)).set_lineitem(line_item))
    link = DeepLink(to_library_registration(registration, keys), deployment_id, dict(settings))  # type: ignore[arg-type]
    return link.get_response_jwt(resources)


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)
