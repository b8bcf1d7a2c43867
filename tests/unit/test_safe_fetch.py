"""Fetching what the internet handed us: only public addresses, no redirects, bounded size and time."""
from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lti_tool.lti.safe_fetch import FetchFailure, FetchPolicy, FetchRefused, SafeFetcher, check_url, is_public_address


@pytest.mark.parametrize(("address", "is_public"), [
    ("93.184.216.34", True),
    ("2606:4700:4700::1111", True),
    ("127.0.0.1", False),
    ("127.8.9.10", False),
    ("10.1.2.3", False),
    ("172.16.0.1", False),
    ("192.168.1.1", False),
    ("169.254.169.254", False),  # cloud metadata
    ("100.64.0.1", False),  # carrier-grade NAT
    ("0.0.0.0", False),
    ("224.0.0.1", False),
    ("::1", False),
    ("fe80::1%eth0", False),
    ("fc00::1", False),
    ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
    ("::ffff:93.184.216.34", True),
])
def test_only_public_addresses_are_public(address, is_public):
    assert is_public_address(address) is is_public


def resolving_to(*addresses: str):
    def resolve(host, port, type=0):  # noqa: A002 (socket.getaddrinfo's keyword)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in addresses]
    return resolve


STRICT = FetchPolicy(allow_private=False)


@pytest.mark.parametrize(("url", "addresses", "reason"), [
    ("http://lms.example/config", ("93.184.216.34",), None),
    ("http://lms.example/config", ("10.0.0.5",), FetchFailure.ADDRESS_NOT_ALLOWED),
    # one private address among public ones is enough to refuse: the connection could use it
    ("http://lms.example/config", ("93.184.216.34", "127.0.0.1"), FetchFailure.ADDRESS_NOT_ALLOWED),
    ("https://[::1]:8443/config", ("::1",), FetchFailure.ADDRESS_NOT_ALLOWED),
    ("file:///etc/passwd", (), FetchFailure.URL_INVALID),
    ("gopher://lms.example/", (), FetchFailure.URL_INVALID),
    ("http://user:secret@lms.example/", ("93.184.216.34",), FetchFailure.URL_INVALID),
    ("http://lms.example:99999/", (), FetchFailure.URL_INVALID),
])
def test_urls_are_checked_before_anything_is_sent(url, addresses, reason):
    try:
        check_url(url, STRICT, resolving_to(*addresses))
    except FetchRefused as refused:
        assert refused.reason is reason
    else:
        assert reason is None


def test_https_is_required_when_the_policy_says_so():
    with pytest.raises(FetchRefused) as refused:
        check_url("http://lms.example/", FetchPolicy(require_https=True), resolving_to("93.184.216.34"))
    assert refused.value.reason is FetchFailure.HTTPS_REQUIRED


def test_private_addresses_are_allowed_when_the_policy_says_so():
    check_url("http://10.0.0.5/", FetchPolicy(allow_private=True), resolving_to("10.0.0.5"))


class _Server:
    """A local server: /json, /redirect, /large, /drip."""

    def __init__(self):
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.requests.append(self.path)
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                    self.end_headers()
                    return
                if self.path == "/large":
                    self.send_response(200)
                    self.end_headers()  # no Content-Length: the limit must hold while reading
                    self.wfile.write(b"x" * 4096)
                    return
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}{path}"


@pytest.fixture
def server():
    running = _Server()
    yield running
    running.http.shutdown()
    running.http.server_close()


def test_a_local_server_is_fetched_only_when_private_platforms_are_allowed(server):
    with SafeFetcher(FetchPolicy(allow_private=True)) as fetcher:
        assert fetcher.get(server.url("/json")).json() == {"ok": True}
    with SafeFetcher(STRICT) as fetcher, pytest.raises(FetchRefused) as refused:
        fetcher.get(server.url("/json"))
    assert refused.value.reason is FetchFailure.ADDRESS_NOT_ALLOWED
    assert server.requests == ["/json"]


def test_a_name_that_resolves_elsewhere_at_connect_time_is_refused(server):
    """DNS rebinding: public when checked, loopback when connecting. The connection checks again."""
    answers = iter([("93.184.216.34",), ("127.0.0.1",)])

    def rebinding(host, port, type=0):  # noqa: A002
        return resolving_to(*next(answers))(host, port, type)

    with SafeFetcher(STRICT, resolver=rebinding) as fetcher, pytest.raises(FetchRefused) as refused:
        fetcher.get(f"http://rebinding.example:{server.http.server_address[1]}/json")
    assert refused.value.reason is FetchFailure.ADDRESS_NOT_ALLOWED
    assert server.requests == []


def test_redirects_are_not_followed(server):
    with SafeFetcher(FetchPolicy(allow_private=True)) as fetcher, pytest.raises(FetchRefused) as refused:
        fetcher.get(server.url("/redirect"))
    assert refused.value.reason is FetchFailure.REDIRECT
    assert server.requests == ["/redirect"]


def test_a_body_over_the_size_limit_is_refused(server):
    with SafeFetcher(FetchPolicy(allow_private=True, max_bytes=1000)) as fetcher, \
            pytest.raises(FetchRefused) as refused:
        fetcher.get(server.url("/large"))
    assert refused.value.reason is FetchFailure.TOO_LARGE


def test_a_body_still_arriving_after_the_time_limit_is_refused(server):
    """The per-read timeout does not bound a server that keeps sending: the whole fetch has a limit."""
    ticks = iter([0.0, 11.0])  # started at 0 s; the first chunk arrives "at" 11 s
    with SafeFetcher(FetchPolicy(allow_private=True, timeout=10.0), clock=lambda: next(ticks)) as fetcher, \
            pytest.raises(FetchRefused) as refused:
        fetcher.get(server.url("/large"))
    assert refused.value.reason is FetchFailure.UNREACHABLE


def test_nothing_listening_is_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    with SafeFetcher(FetchPolicy(allow_private=True, timeout=2)) as fetcher, pytest.raises(FetchRefused) as refused:
        fetcher.get(url)
    assert refused.value.reason is FetchFailure.UNREACHABLE
