"""pylti1p3's service connector with a shared access-token cache and robust paging."""
from __future__ import annotations

import hashlib
import typing as t

import requests
from pylti1p3.exception import LtiServiceException
from pylti1p3.registration import Registration
from pylti1p3.service_connector import ServiceConnector, TServiceConnectorResponse

from .errors import LmsServiceError
from .link_header import next_page

TOKEN_KEY = "access-token:"
# Give a cached token back a little before the platform expires it, so a call never races its expiry.
EXPIRY_MARGIN_SECONDS = 30
PERMANENT_STATUSES = {400, 401, 403, 404, 405, 409, 415, 422}


class SharedTokenConnector(ServiceConnector):
    """Tokens cached per issuer + client_id + scopes (two Canvas customers share one issuer)."""

    def __init__(self, registration: Registration, requests_session: requests.Session, store):
        super().__init__(registration, requests_session)
        self._store = store

    def _scope_key(self, scopes: t.Iterable[str]) -> str:
        parts = [self._registration.get_issuer() or "", self._registration.get_client_id() or "", *sorted(scopes)]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def _get_cached_access_token(self, scope_key: str) -> str | None:
        return self._store.get(TOKEN_KEY + scope_key)

    def _cache_access_token(self, scope_key: str, access_token: str, expires_in: float) -> None:
        ttl = int(expires_in or 0) - EXPIRY_MARGIN_SECONDS
        if ttl > 0:
            self._store.put(TOKEN_KEY + scope_key, access_token, ttl)

    def forget_access_token(self, scopes: t.Iterable[str]) -> None:
        """Drop a cached token the platform refused (401: expired or revoked early); the next call gets a new one."""
        self._store.put(TOKEN_KEY + self._scope_key(scopes), "", 1)

    def get_access_token(self, scopes: t.Sequence[str]) -> str:
        try:
            return super().get_access_token(scopes)
        except LtiServiceException as exc:
            raise _service_error("access token", exc) from exc
        except requests.RequestException as exc:
            raise LmsServiceError(f"access token request failed: {exc}") from exc

    def make_service_request(self, scopes, url, *, is_post=False, data=None, content_type="application/json",
                             accept="application/json", case_insensitive_headers=False) -> TServiceConnectorResponse:
        try:
            response = super().make_service_request(
                scopes, url, is_post=is_post, data=data, content_type=content_type, accept=accept,
                case_insensitive_headers=True)
        except LtiServiceException as exc:
            raise _service_error(url, exc) from exc
        except requests.RequestException as exc:
            raise LmsServiceError(f"{url}: {exc}") from exc
        # The library's regex misses Moodle's `&amp;` and typographic quotes and unquoted rel=next.
        response["next_page_url"] = next_page(response["headers"].get("Link"))
        if not case_insensitive_headers:
            response["headers"] = dict(response["headers"])
        return response


def _service_error(what: str, exc: LtiServiceException) -> LmsServiceError:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    retry_after = None
    if response is not None and response.headers.get("Retry-After", "").isdigit():
        retry_after = float(response.headers["Retry-After"])
    # The platform's own words (Moodle: "Accept must be …") are what an administrator needs to see.
    said = " ".join((getattr(response, "text", "") or "").split())[:300]
    return LmsServiceError(f"{what}: HTTP {status}" + (f" {said}" if said else ""), status=status,
                           retry_after=retry_after,
                           is_permanent=status in PERMANENT_STATUSES)
