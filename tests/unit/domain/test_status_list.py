"""The Bitstring Status List encoding, against the W3C specification's own example."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lti_tool.domain.status_list import (
    MIN_SIZE,
    InvalidStatusList,
    decode_status_list,
    encode_status_list,
    is_set,
)

# The empty 16 KiB list from the specification's example credential.
SPEC_EXAMPLE = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"


def test_the_specifications_example_decodes_to_an_empty_list_of_the_minimum_size():
    bits = decode_status_list(SPEC_EXAMPLE)
    assert len(bits) * 8 == MIN_SIZE and not any(bits)


def test_index_zero_is_the_left_most_bit():
    bits = decode_status_list(encode_status_list(MIN_SIZE, [0, 9]))
    assert bits[:2] == bytes([0b1000_0000, 0b0100_0000])


@given(st.sets(st.integers(0, MIN_SIZE - 1), max_size=50))
def test_exactly_the_set_indices_read_back(indices):
    bits = decode_status_list(encode_status_list(MIN_SIZE, indices))
    probes = indices | {0, MIN_SIZE - 1, 12345}
    assert {i for i in probes if is_set(bits, i)} == indices


def test_the_encoding_is_deterministic_and_multibase_base64url():
    encoded = encode_status_list(MIN_SIZE, [3, 99])
    assert encoded == encode_status_list(MIN_SIZE, [99, 3])
    assert encoded.startswith("u") and not set(encoded[1:]) - set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize("size,indices", [(MIN_SIZE - 8, []), (MIN_SIZE + 1, []), (MIN_SIZE, [MIN_SIZE]),
                                          (MIN_SIZE, [-1])])
def test_lists_too_small_or_indices_outside_are_refused(size, indices):
    with pytest.raises(ValueError):
        encode_status_list(size, indices)


@pytest.mark.parametrize("encoded", ["zH4sI", "u!!!", "uAAAA"])
def test_a_list_that_is_not_multibase_gzip_is_refused(encoded):
    with pytest.raises(InvalidStatusList):
        decode_status_list(encoded)
