"""Fetching URLs the internet handed us (a platform's configuration, registration endpoint, keyset) safely.

Dynamic Registration makes the tool fetch whatever `openid_configuration` URL a browser brings,
and the manual registration form whatever keyset URL someone types: a server-side request
forgery risk. So every such request here

- goes only to public addresses: the host is resolved and *every* address it resolves to must be
  public (no private, loopback, link-local, multicast, reserved or shared addresses), unless the
  policy allows private platforms (`LTI_TOOL_ALLOW_PRIVATE_PLATFORMS`, for a test or local LMS);
- connects to exactly the addresses it checked (the connection resolves and checks again, so a
  DNS answer that changes between check and connect, "DNS rebinding", cannot slip through);
- follows no redirects, ignores proxy and .netrc settings from the environment, asks for an
  uncompressed body, and gives up after the policy's timeout or size limit.
"""
from __future__ import annotations

import enum
import ipaddress
import json
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from .http import USER_AGENT

Resolver = Callable[..., list]
MAX_BYTES = 1024 * 1024  # a platform configuration or keyset is a few kilobytes


class FetchFailure(str, enum.Enum):
    """Why a URL was not fetched; the value is logged and shown to the administrator."""

    URL_INVALID = "url_invalid"
    HTTPS_REQUIRED = "https_required"
    ADDRESS_NOT_ALLOWED = "address_not_allowed"
    UNREACHABLE = "unreachable"
    REDIRECT = "redirect"
    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"


class FetchRefused(Exception):
    def __init__(self, reason: FetchFailure, detail: str):
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class FetchPolicy:
    allow_private: bool = False
    require_https: bool = False
    timeout: float = 10.0  # for connecting, for each read, and for the whole body
    max_bytes: int = MAX_BYTES


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    body: bytes
    content_type: str

    @property
    def is_ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise FetchRefused(FetchFailure.NOT_JSON, f"{self.url} did not answer with JSON: {exc}") from exc

    def text(self, limit: int = 300) -> str:
        return self.body[:limit].decode("utf-8", "replace")


def is_public_address(address: str) -> bool:
    """True for an address on the public internet; IPv4-mapped IPv6 is judged as the IPv4 it carries."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # is_global is False for private, loopback, link-local, reserved, unspecified and shared (100.64/10).
    return ip.is_global and not ip.is_multicast


def _addresses(host: str, port: int, resolver: Resolver) -> list[tuple]:
    try:
        infos = resolver(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchRefused(FetchFailure.UNREACHABLE, f"cannot resolve {host}: {exc}") from exc
    if not infos:
        raise FetchRefused(FetchFailure.UNREACHABLE, f"{host} resolves to no address")
    return infos


def _refuse_private(host: str, infos: Iterable[tuple]) -> None:
    private = sorted({info[4][0] for info in infos if not is_public_address(info[4][0])})
    if private:
        raise FetchRefused(FetchFailure.ADDRESS_NOT_ALLOWED,
                           f"{host} resolves to a private, loopback or link-local address ({', '.join(private)})")


def check_url(url: str, policy: FetchPolicy, resolver: Resolver = socket.getaddrinfo) -> None:
    """Refuse a URL the policy does not allow, before anything is sent to it."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise FetchRefused(FetchFailure.URL_INVALID, f"{url!r} is not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchRefused(FetchFailure.URL_INVALID, f"{url!r} is not an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise FetchRefused(FetchFailure.URL_INVALID, f"{url!r} carries credentials")
    if policy.require_https and parts.scheme != "https":
        raise FetchRefused(FetchFailure.HTTPS_REQUIRED, f"{url} is not https")
    if not policy.allow_private:
        _refuse_private(parts.hostname, _addresses(parts.hostname, port, resolver))


class _AddressNotAllowed(Exception):
    """Raised inside urllib3 (not an OSError, so urllib3 neither retries nor wraps it)."""

    def __init__(self, refused: FetchRefused):
        super().__init__(str(refused))
        self.refused = refused


def _guarded_pool_classes(resolver: Resolver) -> dict[str, type]:
    """urllib3 pools whose connections resolve, check every address, then connect to those addresses."""

    def connect(connection: HTTPConnection):
        host = connection._dns_host  # the name urllib3 itself would resolve
        try:
            infos = _addresses(host, connection.port, resolver)
            _refuse_private(host, infos)
        except FetchRefused as refused:
            if refused.reason is FetchFailure.ADDRESS_NOT_ALLOWED:
                raise _AddressNotAllowed(refused) from None
            raise NameResolutionError(connection.host, connection, socket.gaierror(refused.detail)) from None
        error: OSError | None = None
        for info in infos:
            try:
                return create_connection(info[4][:2], connection.timeout, source_address=connection.source_address,
                                         socket_options=connection.socket_options)
            except socket.timeout as exc:
                raise ConnectTimeoutError(connection, f"connection to {host} timed out") from exc
            except OSError as exc:
                error = exc
        raise NewConnectionError(connection, f"failed to connect to {host}: {error}")

    class GuardedHTTPConnection(HTTPConnection):
        def _new_conn(self):
            return connect(self)

    class GuardedHTTPSConnection(HTTPSConnection):
        # TLS still verifies the certificate against the host name: only the socket is pinned.
        def _new_conn(self):
            return connect(self)

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    return {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, resolver: Resolver):
        self._pool_classes = _guarded_pool_classes(resolver)
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes


class SafeFetcher:
    """GET and POST under a FetchPolicy; use as a context manager (one connection pool per use)."""

    def __init__(self, policy: FetchPolicy, resolver: Resolver = socket.getaddrinfo,
                 clock: Callable[[], float] = time.monotonic):
        self.policy = policy
        self._resolver = resolver
        self._clock = clock
        self._session = requests.Session()
        # No proxies, credentials or CA bundles from the environment: only what this policy says.
        self._session.trust_env = False
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
        if not policy.allow_private:
            adapter = _GuardedAdapter(resolver)
            self._session.mount("http://", adapter)
            self._session.mount("https://", adapter)

    def __enter__(self) -> "SafeFetcher":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def check(self, url: str) -> None:
        check_url(url, self.policy, self._resolver)

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Fetched:
        return self._request("GET", url, headers=headers)

    def post_json(self, url: str, body: Any, headers: Mapping[str, str] | None = None) -> Fetched:
        return self._request("POST", url, headers=headers, json_body=body)

    def _request(self, method: str, url: str, *, headers: Mapping[str, str] | None,
                 json_body: Any = None) -> Fetched:
        self.check(url)
        started = self._clock()
        try:
            response = self._session.request(method, url, headers=dict(headers or {}), json=json_body,
                                             timeout=(self.policy.timeout, self.policy.timeout),
                                             allow_redirects=False, stream=True)
        except _AddressNotAllowed as guarded:
            raise guarded.refused from None
        except requests.RequestException as exc:
            raise FetchRefused(FetchFailure.UNREACHABLE, f"{method} {url} failed: {_reason(exc)}") from exc
        try:
            if response.is_redirect or 300 <= response.status_code < 400:
                raise FetchRefused(FetchFailure.REDIRECT, f"{url} redirects to {response.headers.get('Location')!r}; "
                                                          "redirects are not followed")
            body = self._read(response, url, started)
        finally:
            response.close()
        return Fetched(url=url, status=response.status_code, body=body,
                       content_type=response.headers.get("Content-Type", ""))

    def _read(self, response: requests.Response, url: str, started: float) -> bytes:
        limit = self.policy.max_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchRefused(FetchFailure.TOO_LARGE, f"{url} answers with {declared} bytes (limit {limit})")
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise FetchRefused(FetchFailure.TOO_LARGE, f"{url} answers with more than {limit} bytes")
                if self._clock() - started > self.policy.timeout:
                    # A server dripping a byte at a time never trips the per-read timeout.
                    raise FetchRefused(FetchFailure.UNREACHABLE, f"{url} took longer than {self.policy.timeout} s")
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise FetchRefused(FetchFailure.UNREACHABLE, f"reading {url} failed: {_reason(exc)}") from exc
        return b"".join(chunks)


def _reason(exc: Exception) -> str:
    """The innermost cause, without requests' long wrapper texts."""
    for _ in range(10):
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return f"{type(exc).__name__}: {exc}"
