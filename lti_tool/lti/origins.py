"""Web origins of an LMS: where the pages that frame the tool live (the CSP's frame-ancestors)."""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from .launch import AGS_CLAIM, CLAIM, DL_CLAIM, NRPS_CLAIM

# A CSP host-source admits letters, digits, hyphens and dots only: no IPv6 literal, nothing that
# could end the directive (";", ",", spaces) when a URL came from outside.
_HOST = re.compile(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)*$")


def origin_of(url: Any) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, usable as a CSP source; None for anything else ("null")."""
    if not isinstance(url, str) or not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme not in ("http", "https") or not _HOST.match(host):
        return None
    is_default_port = port is None or port == (443 if scheme == "https" else 80)
    return f"{scheme}://{host}" if is_default_port else f"{scheme}://{host}:{port}"


def origins_of(urls: Iterable[Any]) -> tuple[str, ...]:
    """The distinct origins of `urls`, in order, skipping what is not an http(s) URL."""
    return tuple(dict.fromkeys(origin for origin in map(origin_of, urls) if origin))


def launch_origins(issuer: str, auth_login_url: str, claims: Mapping[str, Any],
                   request_origin: str | None) -> tuple[str, ...]:
    """Where the LMS that sent this launch lives, as far as the launch tells.

    A Canvas issuer (https://canvas.instructure.com) and its login URL (sso.canvaslms.com) are not
    the customer's domain, which frames the tool: the `Origin` of the launch POST (the platform's
    auto-posting form) and the service URLs the signed token carries are.
    """
    platform = claims.get(CLAIM + "tool_platform") or {}
    deep_linking = claims.get(DL_CLAIM + "deep_linking_settings") or {}
    ags = claims.get(AGS_CLAIM) or {}
    nrps = claims.get(NRPS_CLAIM) or {}
    return origins_of([
        issuer, auth_login_url, request_origin,
        _get(platform, "url"), _get(deep_linking, "deep_link_return_url"),
        _get(ags, "lineitems"), _get(ags, "lineitem"), _get(nrps, "context_memberships_url"),
    ])


def _get(claim: Any, key: str) -> Any:
    return claim.get(key) if isinstance(claim, Mapping) else None
