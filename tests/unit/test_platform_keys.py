"""The cache of platforms' public keys: few requests to the LMS, rotations picked up, failures explained."""
from __future__ import annotations

import json
import threading
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from lti_tool.lti.errors import LaunchRejected, RejectionReason
from lti_tool.lti.platform_keys import PlatformKeys

URL = "https://moodle.example/mod/lti/certs.php"
OTHER_URL = "https://canvas.example/api/lti/security/jwks"
TTL = 3600
INTERVAL = 5.0


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def rsa_jwk(kid: str, **extra) -> tuple[dict, object]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    public.update({"kid": kid, "alg": "RS256", "use": "sig", **extra})
    return public, private


class FakeLms:
    """A requests.Session look-alike serving JWKS documents per URL and counting GETs."""

    def __init__(self):
        self.documents: dict[str, object] = {}
        self.failure: Exception | None = None
        self.status = 200
        self.delay = 0.0
        self.gets: list[str] = []
        self.headers_seen: list[dict] = []
        self._lock = threading.Lock()

    def get(self, url, headers=None, **_kwargs) -> requests.Response:
        with self._lock:
            self.gets.append(url)
            self.headers_seen.append(dict(headers or {}))
        if self.delay:
            time.sleep(self.delay)
        if self.failure is not None:
            raise self.failure
        response = requests.Response()
        response.status_code = self.status
        response.url = url
        document = self.documents.get(url)
        response._content = document.encode() if isinstance(document, str) else json.dumps(document).encode()
        return response

    def count(self, url: str = URL) -> int:
        return self.gets.count(url)


@pytest.fixture(scope="module")
def key_a():
    return rsa_jwk("key-a")


@pytest.fixture(scope="module")
def key_b():
    return rsa_jwk("key-b")


@pytest.fixture
def lms(key_a):
    lms = FakeLms()
    lms.documents[URL] = {"keys": [key_a[0]]}
    return lms


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def cache(lms, clock):
    return PlatformKeys(lms, ttl_seconds=TTL, refetch_interval=INTERVAL, clock=clock)


def rejected(call) -> RejectionReason:
    with pytest.raises(LaunchRejected) as caught:
        call()
    return caught.value.reason


def test_found_key_verifies_the_platforms_signature(cache, key_a, lms):
    token = jwt.encode({"iss": "moodle"}, key_a[1], algorithm="RS256", headers={"kid": "key-a"})
    key = cache.key_for(URL, "key-a")
    assert jwt.decode(token, key, algorithms=["RS256"]) == {"iss": "moodle"}
    assert lms.headers_seen[0].get("Accept") == "application/json"


def test_keys_are_cached_across_calls(cache, lms, clock):
    for _ in range(20):
        cache.key_for(URL, "key-a")
        clock.advance(60)
    assert lms.count() == 1


def test_the_cache_expires_after_its_ttl(cache, lms, clock):
    cache.key_for(URL, "key-a")
    clock.advance(TTL + 1)
    cache.key_for(URL, "key-a")
    assert lms.count() == 2


def test_each_key_set_url_has_its_own_cache(cache, lms, key_b):
    lms.documents[OTHER_URL] = {"keys": [key_b[0]]}
    cache.key_for(URL, "key-a")
    cache.key_for(OTHER_URL, "key-b")
    assert rejected(lambda: cache.key_for(OTHER_URL, "key-a")) is RejectionReason.KID_UNKNOWN
    assert (lms.count(URL), lms.count(OTHER_URL)) == (1, 1)


def test_a_rotated_platform_key_is_found_with_one_refetch(cache, lms, clock, key_a, key_b):
    cache.key_for(URL, "key-a")
    clock.advance(600)
    lms.documents[URL] = {"keys": [key_b[0], key_a[0]]}  # the LMS rotated

    token = jwt.encode({"iss": "moodle"}, key_b[1], algorithm="RS256", headers={"kid": "key-b"})
    key = cache.key_for(URL, "key-b")

    assert jwt.decode(token, key, algorithms=["RS256"]) == {"iss": "moodle"}
    assert lms.count() == 2
    cache.key_for(URL, "key-b")
    cache.key_for(URL, "key-a")
    assert lms.count() == 2


def test_an_unknown_kid_refetches_once_then_is_rejected(cache, lms, clock):
    cache.key_for(URL, "key-a")
    clock.advance(600)
    assert rejected(lambda: cache.key_for(URL, "made-up")) is RejectionReason.KID_UNKNOWN
    assert lms.count() == 2


def test_a_flood_of_unknown_kids_does_not_refetch_each_time(cache, lms, clock):
    cache.key_for(URL, "key-a")
    clock.advance(600)
    for i in range(100):
        assert rejected(lambda: cache.key_for(URL, f"made-up-{i}")) is RejectionReason.KID_UNKNOWN
        clock.advance(0.01)
    assert lms.count() == 2  # the first fetch and one refetch in the whole flood
    clock.advance(INTERVAL)
    rejected(lambda: cache.key_for(URL, "made-up-later"))
    assert lms.count() == 3  # and one more once the interval has passed
    cache.key_for(URL, "key-a")  # the real key keeps working without a request
    assert lms.count() == 3


def test_a_concurrent_flood_of_unknown_kids_makes_one_request(cache, lms, clock):
    cache.key_for(URL, "key-a")
    clock.advance(600)
    lms.delay = 0.2  # a platform answering in 200 ms
    barrier = threading.Barrier(10)

    def launch(i: int) -> None:
        barrier.wait(timeout=5)
        with pytest.raises(LaunchRejected):
            cache.key_for(URL, f"made-up-{i}")

    threads = [threading.Thread(target=launch, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert lms.count() == 2


@pytest.mark.parametrize("failure,status,document", [
    (requests.ConnectionError("connection refused"), 200, None),
    (requests.Timeout("read timed out"), 200, None),
    (None, 500, {"error": "server"}),
    (None, 404, "<html>not found</html>"),
    (None, 200, "<html>a login page, not JSON</html>"),
    (None, 200, {"no": "keys"}),
    (None, 200, {"keys": "not-a-list"}),
], ids=["refused", "timeout", "http-500", "http-404", "not-json", "no-keys", "keys-not-a-list"])
def test_an_unusable_jwks_is_platform_keys_unavailable(cache, lms, failure, status, document):
    lms.failure, lms.status = failure, status
    lms.documents[URL] = document
    with pytest.raises(LaunchRejected) as caught:
        cache.key_for(URL, "key-a")
    assert caught.value.reason is RejectionReason.PLATFORM_KEYS_UNAVAILABLE
    if failure is not None or status >= 400:
        assert URL in caught.value.detail


def test_the_platform_recovering_is_picked_up(cache, lms, clock):
    lms.failure = requests.ConnectionError("down")
    assert rejected(lambda: cache.key_for(URL, "key-a")) is RejectionReason.PLATFORM_KEYS_UNAVAILABLE
    lms.failure = None
    clock.advance(INTERVAL + 1)
    assert cache.key_for(URL, "key-a") is not None


def test_a_failing_jwks_is_not_hammered_by_a_flood(cache, lms, clock):
    cache.key_for(URL, "key-a")
    clock.advance(600)
    lms.failure = requests.ConnectionError("overloaded")
    for i in range(50):
        assert rejected(lambda: cache.key_for(URL, f"made-up-{i}")) is RejectionReason.PLATFORM_KEYS_UNAVAILABLE
        clock.advance(0.01)
    assert lms.count() == 2  # the first fetch and one failed refetch
    clock.advance(INTERVAL)
    rejected(lambda: cache.key_for(URL, "made-up-later"))
    assert lms.count() == 3  # retried once the interval has passed


def test_known_keys_keep_working_while_the_platform_is_down(cache, lms, clock, key_a):
    """Past the TTL the keys are refetched; if that fails, the keys we had still verify launches."""
    cache.key_for(URL, "key-a")
    clock.advance(TTL + 1)
    lms.failure = requests.ConnectionError("down for maintenance")
    token = jwt.encode({"iss": "moodle"}, key_a[1], algorithm="RS256", headers={"kid": "key-a"})
    assert jwt.decode(token, cache.key_for(URL, "key-a"), algorithms=["RS256"]) == {"iss": "moodle"}
    assert lms.count() == 2
    assert rejected(lambda: cache.key_for(URL, "key-new")) is RejectionReason.PLATFORM_KEYS_UNAVAILABLE


def test_forget_makes_the_next_call_fetch(cache, lms):
    cache.key_for(URL, "key-a")
    cache.forget(URL)
    cache.key_for(URL, "key-a")
    assert lms.count() == 2


def test_only_rsa_signing_keys_for_rs256_are_used(cache, lms, key_a, key_b):
    rs384, _ = rsa_jwk("rs384", alg="RS384")
    encryption, _ = rsa_jwk("enc", use="enc")
    no_alg, no_alg_private = rsa_jwk("no-alg")
    del no_alg["alg"], no_alg["use"]
    lms.documents[URL] = {"keys": [
        rs384,
        encryption,
        {"kty": "EC", "kid": "ec", "crv": "P-256", "alg": "ES256",
         "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"},
        {"kty": "RSA", "alg": "RS256", "n": key_b[0]["n"], "e": key_b[0]["e"]},  # no kid
        "not-an-object",
        key_a[0],
        no_alg,
    ]}
    for kid in ("rs384", "enc", "ec", "hmac"):
        assert rejected(lambda: cache.key_for(URL, kid)) is RejectionReason.KID_UNKNOWN, kid
    cache.key_for(URL, "key-a")
    token = jwt.encode({"x": 1}, no_alg_private, algorithm="RS256", headers={"kid": "no-alg"})
    assert jwt.decode(token, cache.key_for(URL, "no-alg"), algorithms=["RS256"]) == {"x": 1}


@pytest.mark.parametrize("broken", [
    {"kty": "RSA", "kid": "broken", "alg": "RS256", "n": "AQAB", "e": "AQAB"},  # n not larger than e
    {"kty": "RSA", "kid": "broken", "alg": "RS256", "e": "AQAB"},  # no n
], ids=["n-invalid", "n-missing"])
def test_a_malformed_key_is_skipped_and_the_good_key_still_works(cache, lms, key_a, broken):
    lms.documents[URL] = {"keys": [broken, key_a[0]]}
    assert cache.key_for(URL, "key-a") is not None
    assert rejected(lambda: cache.key_for(URL, "broken")) is RejectionReason.KID_UNKNOWN
