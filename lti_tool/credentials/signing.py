"""VC-JWT: an Open Badges credential signed with the tool's RSA key, and checked against a JWKS.

PyJWT does the JOSE work. It is already the tool's JWT library (launches, client
assertions), is actively maintained, signs through `cryptography`, and its decode
refuses tokens whose algorithm is not the one asked for, which closes the classic
"alg: none" and RS/HS confusion holes. The tests check the tokens with a different
library (joserfc), so a mistake here cannot hide behind the same code path.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import jwt
from cryptography.hazmat.primitives import serialization

from ..lti.tool_keys import KeyRing

ALGORITHM = "RS256"
# VC-JOSE-COSE's media type for a credential secured as a JWT.
MEDIA_TYPE = "application/vc+jwt"


class CredentialInvalid(Exception):
    """The token does not verify: bad signature, unknown key, or not a JWT at all."""


@dataclass(frozen=True)
class SignedCredential:
    token: str
    kid: str


def jwt_claims(credential: dict) -> dict:
    """The credential as the JWT payload, plus the registered claims Open Badges 3.0 asks for.

    `nbf`/`exp` mirror validFrom/validUntil; there is no `iat`, so re-verifying an old
    credential never trips over token age. `sub` is absent: the subject has no id.
    """
    claims = dict(credential)
    issuer = credential["issuer"]
    claims["iss"] = issuer["id"] if isinstance(issuer, dict) else issuer
    claims["jti"] = credential["id"]
    claims["nbf"] = _timestamp(credential["validFrom"])
    if "validUntil" in credential:
        claims["exp"] = _timestamp(credential["validUntil"])
    return claims


def sign_credential(credential: dict, keys: KeyRing) -> SignedCredential:
    key = keys.signing_key()
    token = jwt.encode(jwt_claims(credential), _private_key(key.private_pem), algorithm=ALGORITHM,
                       headers={"kid": key.kid, "typ": "vc+jwt", "cty": "vc"})
    return SignedCredential(token, key.kid)


@lru_cache(maxsize=8)
def _private_key(private_pem: str):
    # Loading checks the RSA key, which costs ~30 ms: once per key, not per credential of a cohort.
    return serialization.load_pem_private_key(private_pem.encode(), password=None)


def verify_credential(token: str, jwks: dict) -> dict:
    """The payload, if the token is signed (RS256) by a key in `jwks`; expiry is the caller's concern.

    Expiry and revocation are told apart from a bad signature: the verification page shows
    an expired or revoked certificate as such, with its signature still checked.
    """
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        entry = next((key for key in jwks.get("keys", []) if key.get("kid") == kid), None)
        if entry is None:
            raise CredentialInvalid(f"no key {kid!r} in the issuer's key set")
        public_key = jwt.PyJWK.from_json(json.dumps(entry), algorithm=ALGORITHM).key
        return jwt.decode(token, public_key, algorithms=[ALGORITHM],
                          options={"verify_exp": False, "verify_nbf": False, "verify_aud": False})
    except jwt.PyJWTError as exc:
        raise CredentialInvalid(str(exc)) from exc


def issuer_jwks(keys: KeyRing) -> dict:
    """Every key the tool has signed with, newest first.

    The LTI key set drops a rotated key after the grace period; a credential lives for
    years, so its key must stay resolvable for as long as the key ring keeps it.
    """
    return {"keys": [key.public_jwk for key in reversed(keys.keys())]}


def _timestamp(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
