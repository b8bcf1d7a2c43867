"""The tool's signing keys on disk: private files, RFC 7638 kids, rotation with a grace period."""
from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from lti_tool.lti.tool_keys import MANIFEST, KeyRing, KeyRingError
from tests.support.jwk import PRIVATE_JWK_MEMBERS, thumbprint_of_pem

T0 = datetime(2030, 3, 1, 9, 0, tzinfo=timezone.utc)
GRACE = timedelta(days=7)


@pytest.fixture
def ring(tmp_path) -> KeyRing:
    return KeyRing(tmp_path / "keys", grace=GRACE)


def test_a_new_folder_has_no_keys_and_says_how_to_make_one(ring):
    assert ring.keys() == []
    with pytest.raises(KeyRingError, match="keys rotate"):
        ring.signing_key()


def test_private_key_files_are_readable_by_the_owner_only(ring):
    old_umask = os.umask(0)  # even a permissive umask must not widen the mode
    try:
        key = ring.rotate(T0)
    finally:
        os.umask(old_umask)
    path = ring.folder / f"{key.kid}.pem"
    assert path.read_text() == key.private_pem
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_kid_is_the_thumbprint_of_pem(ring):
    key = ring.rotate(T0)
    assert key.kid == thumbprint_of_pem(key.private_pem)
    assert key.public_jwk["kid"] == key.kid
    # and it survives a reload from disk
    assert KeyRing(ring.folder).signing_key().kid == thumbprint_of_pem(key.private_pem)


def test_public_jwk_has_no_private_parts_and_matches_the_private_key(ring):
    key = ring.rotate(T0)
    jwk = key.public_jwk
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RS256", "sig")
    assert not PRIVATE_JWK_MEMBERS & set(jwk)
    token = jwt.encode({"sub": "x"}, key.private_pem, algorithm="RS256")
    assert jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"]) == {"sub": "x"}


def test_ensure_key_creates_one_key_once(ring):
    first = ring.ensure_key(T0)
    again = ring.ensure_key(T0 + timedelta(days=1))
    assert first.kid == again.kid
    assert len(ring.keys()) == 1


def test_rotate_adds_a_key_and_signing_uses_the_newest(ring):
    old = ring.rotate(T0)
    new = ring.rotate(T0 + timedelta(days=30))
    assert new.kid != old.kid
    assert [k.kid for k in ring.keys()] == [old.kid, new.kid]
    signing = ring.signing_key()
    assert signing.kid == new.kid
    token = jwt.encode({"iss": "tool"}, signing.private_pem, algorithm="RS256", headers={"kid": signing.kid})
    jwt.decode(token, signing.public_pem, algorithms=["RS256"])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, old.public_pem, algorithms=["RS256"])


def test_jwks_serves_current_and_previous_within_the_grace_period(ring):
    old = ring.rotate(T0)
    rotated_at = T0 + timedelta(days=30)
    new = ring.rotate(rotated_at)

    within = ring.jwks(rotated_at + GRACE - timedelta(minutes=1))
    assert [k["kid"] for k in within["keys"]] == [new.kid, old.kid]  # newest first

    after = ring.jwks(rotated_at + GRACE + timedelta(minutes=1))
    assert [k["kid"] for k in after["keys"]] == [new.kid]


def test_only_the_predecessor_within_grace_is_kept(ring):
    first = ring.rotate(T0)
    second = ring.rotate(T0 + timedelta(days=30))
    third = ring.rotate(T0 + timedelta(days=60))
    published = ring.jwks(T0 + timedelta(days=61))
    assert [k["kid"] for k in published["keys"]] == [third.kid, second.kid]
    assert first.kid not in json.dumps(published)


def test_the_newest_key_is_published_however_old(ring):
    only = ring.rotate(T0)
    assert [k["kid"] for k in ring.jwks(T0 + timedelta(days=3650))["keys"]] == [only.kid]


def test_jwks_has_no_private_parts(ring):
    ring.rotate(T0)
    ring.rotate(T0 + timedelta(days=1))
    for key in ring.jwks(T0 + timedelta(days=2))["keys"]:
        assert not PRIVATE_JWK_MEMBERS & set(key)


def test_another_keyring_on_the_same_folder_sees_a_rotation(ring):
    """Each gunicorn worker has its own KeyRing; a `keys rotate` must reach all of them."""
    ring.rotate(T0)
    worker = KeyRing(ring.folder, grace=GRACE)
    assert worker.signing_key().kid == ring.signing_key().kid

    new = ring.rotate(T0 + timedelta(days=30))

    assert worker.signing_key().kid == new.kid
    assert {k["kid"] for k in worker.jwks(T0 + timedelta(days=31))["keys"]} == {k.kid for k in ring.keys()}


def test_manifest_records_every_key_with_a_utc_timestamp(ring):
    cet = timezone(timedelta(hours=1))
    key = ring.rotate(datetime(2030, 3, 1, 10, 0, tzinfo=cet))
    entries = json.loads((ring.folder / MANIFEST).read_text())
    assert entries == [{"kid": key.kid, "file": f"{key.kid}.pem", "created_at": "2030-03-01T09:00:00+00:00"}]
