"""W3C Bitstring Status List: the revocation bits of many credentials in one public list."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterable

# The specification's minimum (16 KiB of bits): a verifier fetching the list learns
# nothing about which of the many credentials in it they are checking.
MIN_SIZE = 131_072
MULTIBASE_BASE64URL = "u"


class InvalidStatusList(ValueError):
    """An encodedList that is not multibase base64url of a GZIP-compressed bitstring."""


def encode_status_list(size: int, set_indices: Iterable[int]) -> str:
    """The `encodedList` value: index 0 is the left-most (most significant) bit of byte 0."""
    if size % 8 or size < MIN_SIZE:
        raise ValueError(f"a status list has a multiple of 8 bits, at least {MIN_SIZE}")
    bits = bytearray(size // 8)
    for index in set_indices:
        if not 0 <= index < size:
            raise ValueError(f"status list index {index} outside 0..{size - 1}")
        bits[index // 8] |= 0x80 >> (index % 8)
    # mtime=0: the same bits always encode to the same text.
    compressed = gzip.compress(bytes(bits), mtime=0)
    return MULTIBASE_BASE64URL + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode_status_list(encoded: str) -> bytes:
    if not encoded.startswith(MULTIBASE_BASE64URL):
        raise InvalidStatusList("encodedList must be multibase base64url (prefix 'u')")
    body = encoded[1:]
    try:
        bits = gzip.decompress(base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True))
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidStatusList(str(exc)) from exc
    if len(bits) * 8 < MIN_SIZE:
        raise InvalidStatusList(f"a status list has at least {MIN_SIZE} bits")
    return bits


def is_set(bits: bytes, index: int) -> bool:
    if not 0 <= index < len(bits) * 8:
        raise InvalidStatusList(f"status list index {index} outside the list")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))
