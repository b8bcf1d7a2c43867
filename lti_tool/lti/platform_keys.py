"""The platforms' public keys: fetched from their JWKS URL, cached, refetched on an unknown kid."""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable

import requests
from jwt import PyJWK
from jwt.exceptions import PyJWKError

from .errors import LaunchRejected, RejectionReason


class PlatformKeys:
    """A per-process cache of parsed keys per JWKS URL (public data: safe to keep in memory)."""

    def __init__(self, http: requests.Session, ttl_seconds: int = 3600,
                 refetch_interval: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self._http = http
        self._ttl = ttl_seconds
        # An unknown kid may mean the platform rotated; but a flood of made-up kids must not
        # turn into a flood of requests to the platform.
        self._refetch_interval = refetch_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict[str, PyJWK]]] = {}

    def key_for(self, key_set_url: str, kid: str) -> PyJWK:
        now = self._clock()
        cached = self._cache.get(key_set_url)
        if cached is not None and now - cached[0] < self._ttl:
            key = cached[1].get(kid)
            if key is not None or now - cached[0] < self._refetch_interval:
                return self._found(key, kid)
        keys = self._fetch(key_set_url)
        with self._lock:
            self._cache[key_set_url] = (self._clock(), keys)
        return self._found(keys.get(kid), kid)

    @staticmethod
    def _found(key: PyJWK | None, kid: str) -> PyJWK:
        if key is None:
            raise LaunchRejected(RejectionReason.KID_UNKNOWN, f"no key with kid {kid!r} in the platform's JWKS")
        return key

    def _fetch(self, url: str) -> dict[str, PyJWK]:
        try:
            response = self._http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document: Any = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise LaunchRejected(RejectionReason.PLATFORM_KEYS_UNAVAILABLE,
                                 f"cannot fetch the platform's JWKS from {url}: {exc}") from exc
        return parse_jwks(document)

    def forget(self, key_set_url: str) -> None:
        with self._lock:
            self._cache.pop(key_set_url, None)


def parse_jwks(document: Any) -> dict[str, PyJWK]:
    """RSA signing keys by kid; keys that are not usable for RS256 are skipped, not fatal."""
    if isinstance(document, str):
        document = json.loads(document)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise LaunchRejected(RejectionReason.PLATFORM_KEYS_UNAVAILABLE, "the platform's JWKS has no `keys` list")
    keys: dict[str, PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or not entry.get("kid") or entry.get("kty") != "RSA":
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", "RS256") != "RS256":
            continue
        try:
            keys[entry["kid"]] = PyJWK(entry, algorithm="RS256")
        except PyJWKError:
            continue
    return keys
