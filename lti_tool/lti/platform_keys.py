"""The platforms' public keys: fetched from their JWKS URL, cached, refetched on an unknown kid."""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable

import requests
from jwt import PyJWK
from jwt.exceptions import InvalidKeyError, PyJWKError

from .errors import LaunchRejected, RejectionReason


class _Entry:
    __slots__ = ("checked_at", "keys", "error")

    def __init__(self, checked_at: float, keys: dict[str, PyJWK], error: LaunchRejected | None = None):
        self.checked_at = checked_at
        self.keys = keys
        self.error = error


class PlatformKeys:
    """A per-process cache of parsed keys per JWKS URL (public data: safe to keep in memory)."""

    def __init__(self, http: requests.Session, ttl_seconds: int = 3600,
                 refetch_interval: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self._http = http
        self._ttl = ttl_seconds
        # An unknown kid may mean the platform rotated; but a flood of made-up kids (or a platform
        # that is down) must not turn into a flood of requests to the platform.
        self._refetch_interval = refetch_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._url_locks: dict[str, threading.Lock] = {}
        self._cache: dict[str, _Entry] = {}

    def key_for(self, key_set_url: str, kid: str) -> PyJWK:
        entry = self._usable(key_set_url, kid)
        if entry is None:
            with self._lock_for(key_set_url):
                # Single flight: whoever waited here finds the fetch another thread just made.
                entry = self._usable(key_set_url, kid)
                if entry is None:
                    entry = self._refresh(key_set_url)
        if entry.error is not None and kid not in entry.keys:
            raise entry.error
        key = entry.keys.get(kid)
        if key is None:
            raise LaunchRejected(RejectionReason.KID_UNKNOWN, f"no key with kid {kid!r} in the platform's JWKS")
        return key

    def _usable(self, url: str, kid: str) -> _Entry | None:
        """The cached entry if it may answer for `kid` without asking the platform again."""
        entry = self._cache.get(url)
        if entry is None:
            return None
        age = self._clock() - entry.checked_at
        if age < self._refetch_interval:
            return entry
        if age < self._ttl and entry.error is None and kid in entry.keys:
            return entry
        return None

    def _lock_for(self, url: str) -> threading.Lock:
        with self._lock:
            return self._url_locks.setdefault(url, threading.Lock())

    def _refresh(self, url: str) -> _Entry:
        previous = self._cache.get(url)
        try:
            entry = _Entry(self._clock(), self._fetch(url))
        except LaunchRejected as error:
            # Keep serving the keys we had; remember the failure so it is not retried at once.
            entry = _Entry(self._clock(), previous.keys if previous else {}, error)
        self._cache[url] = entry
        return entry

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
        except (PyJWKError, InvalidKeyError, ValueError, TypeError):
            continue
    return keys
