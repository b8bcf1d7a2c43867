"""Signed credentials outlive the LTI key rotation: the issuer's key set keeps every key it signed with."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jwt
import pytest

from lti_tool.credentials.signing import (CredentialInvalid, issuer_jwks, jwt_claims, sign_credential,
                                          verify_credential)
from lti_tool.lti.tool_keys import KeyRing

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
CREDENTIAL = {"id": "https://tool.example/verify/X#r1", "issuer": {"id": "https://tool.example/issuer"},
              "validFrom": "2026-06-03T08:00:00Z", "validUntil": "2031-06-03T08:00:00Z",
              "credentialSubject": {"identifier": [{"identityHash": "Åsa Öberg"}]}}


def test_the_registered_claims_mirror_the_credential():
    claims = jwt_claims(CREDENTIAL)
    assert (claims["iss"], claims["jti"]) == ("https://tool.example/issuer", "https://tool.example/verify/X#r1")
    assert claims["nbf"] == int(datetime(2026, 6, 3, 8, tzinfo=timezone.utc).timestamp())
    assert claims["exp"] == int(datetime(2031, 6, 3, 8, tzinfo=timezone.utc).timestamp())
    assert "iat" not in claims and "sub" not in claims


def test_a_credential_still_verifies_after_its_key_left_the_lti_key_set(tmp_path):
    ring = KeyRing(tmp_path, grace=timedelta(days=7))
    first = ring.rotate(T0)
    signed = sign_credential(CREDENTIAL, ring)
    assert signed.kid == first.kid
    ring.rotate(T0 + timedelta(days=30))
    later = T0 + timedelta(days=60)
    assert first.kid not in {key["kid"] for key in ring.jwks(later)["keys"]}  # gone from /lti/jwks
    claims = verify_credential(signed.token, issuer_jwks(ring))  # still in /issuer/jwks
    assert claims["credentialSubject"]["identifier"][0]["identityHash"] == "Åsa Öberg"


def test_a_token_signed_by_another_key_or_with_another_algorithm_is_refused(tmp_path):
    ring, stranger = KeyRing(tmp_path / "ours"), KeyRing(tmp_path / "theirs")
    ring.rotate(T0)
    stranger.rotate(T0)
    forged = sign_credential(CREDENTIAL, stranger).token
    with pytest.raises(CredentialInvalid):
        verify_credential(forged, issuer_jwks(ring))

    key = ring.signing_key()
    hs256 = jwt.encode(jwt_claims(CREDENTIAL), key.public_pem.encode()[:32], algorithm="HS256",
                       headers={"kid": key.kid})
    with pytest.raises(CredentialInvalid):
        verify_credential(hs256, issuer_jwks(ring))
    with pytest.raises(CredentialInvalid):
        verify_credential("not a token", issuer_jwks(ring))
