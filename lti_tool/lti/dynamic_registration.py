"""LTI Dynamic Registration 1.0, the tool's side: read the platform's configuration, shape the request, read the answer.

Pure request/response shaping (no HTTP, no Flask): the use case in
`lti_tool.services.registration` fetches and stores. pylti1p3's `DynamicRegistration` class
is not used: it fetches the configuration and registers in one call (there is no step where
the administrator confirms), checks with `assert`, and reads responses without status, size
or issuer checks; its request body is the same shape as `registration_request` below.
"""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import urlsplit

import jwt

from .tool_description import CLAIMS, CUSTOM_PARAMETERS, SCOPES, ToolDescription

PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
CANVAS_PRIVACY_LEVEL = "https://canvas.instructure.com/lti/privacy_level"
CANVAS_ACCOUNT_NAME = "https://canvas.instructure.com/lti/account_name"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"

# Canvas rejects placements it does not know, so it gets its own names; other platforms get the
# spec's. Course navigation opens the programme's pages; link and assignment selection place
# links through deep linking.
CANVAS_PLACEMENTS = {RESOURCE_LINK_REQUEST: ("course_navigation",),
                     DEEP_LINKING_REQUEST: ("link_selection", "assignment_selection")}
STANDARD_PLACEMENTS = {RESOURCE_LINK_REQUEST: (), DEEP_LINKING_REQUEST: ("ContentArea",)}
REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")


class RegistrationFailure(str, enum.Enum):
    """Why a dynamic registration stopped; the value is logged and shown with a translated text."""

    CONFIGURATION_URL_MISSING = "configuration_url_missing"
    CONFIGURATION_URL_INVALID = "configuration_url_invalid"
    ADDRESS_NOT_ALLOWED = "address_not_allowed"
    HTTPS_REQUIRED = "https_required"
    PLATFORM_UNREACHABLE = "platform_unreachable"
    CONFIGURATION_MALFORMED = "configuration_malformed"
    ISSUER_MISMATCH = "issuer_mismatch"
    PLATFORM_KEYS_INVALID = "platform_keys_invalid"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_REFUSED = "token_refused"
    TOKEN_USED = "token_used"
    PENDING_EXPIRED = "pending_expired"
    REGISTRATION_REFUSED = "registration_refused"
    REGISTRATION_MALFORMED = "registration_malformed"
    REGISTRATION_EXISTS = "registration_exists"


class RegistrationError(Exception):
    def __init__(self, reason: RegistrationFailure, detail: str = ""):
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class SupportedMessage:
    type: str
    placements: tuple[str, ...] | None  # None: the platform does not say


@dataclass(frozen=True)
class PlatformConfiguration:
    """The parts of a platform's OpenID configuration the tool uses."""

    configuration_url: str
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    authorization_server: str | None = None
    product_family_code: str | None = None
    version: str | None = None
    account_name: str | None = None
    scopes_supported: tuple[str, ...] | None = None
    messages_supported: tuple[SupportedMessage, ...] | None = None

    @property
    def is_canvas(self) -> bool:
        return self.product_family_code == "canvas"

    @property
    def is_moodle(self) -> bool:
        return self.product_family_code == "moodle"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "PlatformConfiguration":
        values = dict(data)
        if values.get("scopes_supported") is not None:
            values["scopes_supported"] = tuple(values["scopes_supported"])
        if values.get("messages_supported") is not None:
            values["messages_supported"] = tuple(
                SupportedMessage(m["type"], None if m["placements"] is None else tuple(m["placements"]))
                for m in values["messages_supported"])
        return cls(**values)


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or ""), parts.port or (443 if parts.scheme == "https" else 80)


def check_url(name: str, value: Any, *, require_https: bool,
              failure: RegistrationFailure = RegistrationFailure.CONFIGURATION_MALFORMED) -> str:
    """`value` as an http(s) URL without a fragment (https when required), or a RegistrationError."""
    if not isinstance(value, str) or not value.strip():
        raise RegistrationError(failure, f"{name} is missing")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError as exc:
        raise RegistrationError(failure, f"{name} is not a URL: {value!r}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise RegistrationError(failure, f"{name} must be an http(s) URL without a fragment, got {value!r}")
    if require_https and parts.scheme != "https":
        raise RegistrationError(RegistrationFailure.HTTPS_REQUIRED, f"{name} must use https: {value}")
    return value


def check_issuer(configuration_url: str, issuer: str) -> None:
    """The rule of LTI Dynamic Registration 1.0, 3.5.1 (issuer and OpenID configuration URL match).

    We apply it as: the issuer's scheme, host and port (its origin) must be those of the
    `openid_configuration` URL, i.e. the configuration URL starts with the issuer's origin. A path
    in the issuer (a Moodle in a sub-directory) is not compared: Canvas serves its configuration
    under `/api/lti/...` of its issuer's host. So a configuration served from one host cannot
    claim to speak for the issuer of another, which would let anyone register as that LMS.
    """
    if _origin(issuer) != _origin(configuration_url):
        raise RegistrationError(RegistrationFailure.ISSUER_MISMATCH,
                                f"issuer {issuer} does not match the configuration URL {configuration_url}")


def parse_platform_configuration(configuration_url: str, document: Any, *, require_https: bool
                                 ) -> PlatformConfiguration:
    """Validate the platform's OpenID configuration: required endpoints, the issuer rule, https."""
    malformed = RegistrationFailure.CONFIGURATION_MALFORMED
    if not isinstance(document, dict):
        raise RegistrationError(malformed, "the configuration is not a JSON object")
    issuer = check_url("issuer", document.get("issuer"), require_https=require_https)
    if urlsplit(issuer).query:
        raise RegistrationError(malformed, f"the issuer must not have a query: {issuer}")
    check_issuer(configuration_url, issuer)
    endpoints = {name: check_url(name, document.get(name), require_https=require_https)
                 for name in REQUIRED_ENDPOINTS}
    platform = document.get(PLATFORM_CONFIGURATION)
    if not isinstance(platform, dict):
        raise RegistrationError(malformed, f"{PLATFORM_CONFIGURATION} is missing: not an LTI platform configuration")
    for name, wanted in (("token_endpoint_auth_methods_supported", "private_key_jwt"),
                         ("id_token_signing_alg_values_supported", "RS256")):
        offered = document.get(name)
        if isinstance(offered, list) and wanted not in offered:
            raise RegistrationError(malformed, f"the platform does not support {wanted} ({name}: {offered})")
    scopes = document.get("scopes_supported")
    authorization_server = document.get("authorization_server")
    return PlatformConfiguration(
        configuration_url=configuration_url, issuer=issuer, **endpoints,
        # Only a URL can be the `aud` of our client assertions; otherwise the token endpoint is.
        authorization_server=authorization_server if _is_http_url(authorization_server) else None,
        product_family_code=_text(platform.get("product_family_code")),
        version=_text(platform.get("version")),
        account_name=_text(platform.get(CANVAS_ACCOUNT_NAME)),
        scopes_supported=tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else None,
        messages_supported=_supported_messages(platform.get("messages_supported")),
    )


def _supported_messages(value: Any) -> tuple[SupportedMessage, ...] | None:
    if not isinstance(value, list):
        return None
    found = []
    for entry in value:
        if isinstance(entry, dict) and isinstance(entry.get("type"), str):
            placements = entry.get("placements")
            found.append(SupportedMessage(entry["type"], tuple(p for p in placements if isinstance(p, str))
                                          if isinstance(placements, list) else None))
    return tuple(found)


def requested_scopes(platform: PlatformConfiguration) -> tuple[str, ...]:
    """Our scopes, less those the platform says it does not offer (asking for them can fail the registration)."""
    if not platform.scopes_supported:
        return SCOPES
    return tuple(scope for scope in SCOPES if scope in platform.scopes_supported)


def tool_messages(tool: ToolDescription, platform: PlatformConfiguration) -> list[dict[str, Any]]:
    """The messages to register, with placements in the platform's vocabulary, narrowed to what it supports."""
    placements = CANVAS_PLACEMENTS if platform.is_canvas else STANDARD_PLACEMENTS
    supported = {m.type: m.placements for m in platform.messages_supported or ()}
    messages = []
    for message_type in (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST):
        if platform.messages_supported is not None and message_type not in supported:
            continue
        wanted = placements[message_type]
        offered = supported.get(message_type)
        chosen = wanted if offered is None else tuple(p for p in wanted if p in offered)
        if wanted and not chosen:
            continue  # none of its placements exist there: it could not be placed anywhere
        message: dict[str, Any] = {"type": message_type, "target_link_uri": tool.launch_url, "label": tool.name,
                                   "icon_uri": tool.logo_url}
        if chosen:
            message["placements"] = list(chosen)
        messages.append(message)
    return messages


def registration_request(tool: ToolDescription, platform: PlatformConfiguration) -> dict[str, Any]:
    """The body the tool POSTs to the platform's registration endpoint."""
    configuration: dict[str, Any] = {
        # host[:port]: Moodle refuses a target_link_uri outside this domain.
        "domain": tool.domain,
        "target_link_uri": tool.launch_url,
        "custom_parameters": dict(CUSTOM_PARAMETERS),
        "claims": list(CLAIMS),
        "messages": tool_messages(tool, platform),
        "description": tool.description,
    }
    if platform.is_canvas:
        # Canvas's default is anonymous: no names, so no certificates.
        configuration[CANVAS_PRIVACY_LEVEL] = "public"
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": tool.login_url,
        "redirect_uris": list(tool.redirect_uris),
        "client_name": tool.name,
        "logo_uri": tool.logo_url,
        "jwks_uri": tool.jwks_url,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(requested_scopes(platform)),
        TOOL_CONFIGURATION: configuration,
    }


@dataclass(frozen=True)
class RegisteredClient:
    """What the platform answered: our client_id there, the deployment if it made one, the scopes granted."""

    client_id: str
    deployment_id: str | None
    granted_scopes: tuple[str, ...]
    answer: Mapping[str, Any] = field(repr=False, default_factory=dict)


def parse_registration_response(document: Any, requested: tuple[str, ...]) -> RegisteredClient:
    malformed = RegistrationFailure.REGISTRATION_MALFORMED
    if not isinstance(document, dict):
        raise RegistrationError(malformed, "the registration answer is not a JSON object")
    client_id = _identifier(document.get("client_id"))
    if client_id is None:
        raise RegistrationError(malformed, "the registration answer has no client_id")
    configuration = document.get(TOOL_CONFIGURATION)
    # Moodle puts the deployment it created here; Canvas makes one only when the tool is installed.
    deployment_id = _identifier(configuration.get("deployment_id")) if isinstance(configuration, dict) else None
    scope = document.get("scope")
    # An answer without `scope` granted what it was asked (both Moodle and Canvas echo the scope).
    granted = tuple(scope.split()) if isinstance(scope, str) else requested
    return RegisteredClient(client_id=client_id, deployment_id=deployment_id, granted_scopes=granted,
                            answer=document)


def token_expires_at(registration_token: str) -> datetime | None:
    """The `exp` of a registration token that is a JWT (Moodle's and Canvas's are), read without verifying.

    The token is the platform's to check; reading its expiry only lets the tool say "expired"
    before the administrator fills in anything, instead of after.
    """
    try:
        claims = jwt.decode(registration_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    if isinstance(exp, (int, float)) and not isinstance(exp, bool):
        return datetime.fromtimestamp(exp, timezone.utc)
    return None


def _is_http_url(value: Any) -> bool:
    return isinstance(value, str) and urlsplit(value).scheme in ("http", "https") and bool(urlsplit(value).hostname)


def _text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value else None


def _identifier(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip() and len(value) <= 255:
        return value
    return None
