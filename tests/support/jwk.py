"""RFC 7638 JWK thumbprints computed without the libraries the product uses."""
from __future__ import annotations

import base64
import hashlib
import json

from cryptography.hazmat.primitives import serialization

# Members that only a private JWK has (RFC 7518 §6.3.2, §6.4 for "k").
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode_uint(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def thumbprint_of_members(e: str, n: str) -> str:
    """SHA-256 over {"e","kty","n"} in lexical order without whitespace, base64url without padding."""
    canonical = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def thumbprint_of_pem(private_pem: str) -> str:
    numbers = serialization.load_pem_private_key(private_pem.encode(), password=None).public_key().public_numbers()
    return thumbprint_of_members(b64url_uint(numbers.e), b64url_uint(numbers.n))
