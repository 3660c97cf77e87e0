import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaincode.canonical import b64url_decode, b64url_encode, canonical_bytes
from chaincode.errors import InvalidValue, WrongType


def test_rfc8785_example_serialises_as_published():
    # RFC 8785 section 3.2.3 example input and its published canonical output.
    source = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_bytes(json.loads(source)) == expected.encode("utf-8")


def test_canonical_form_ignores_key_order_and_whitespace():
    a = json.loads('{"b": 1, "a": {"y": [1, 2], "x": "é"}}')
    b = json.loads('{ "a" : { "x" : "\\u00e9", "y" : [ 1 , 2 ] } , "b" : 1 }')
    assert canonical_bytes(a) == canonical_bytes(b) == '{"a":{"x":"é","y":[1,2]},"b":1}'.encode()


def test_keys_sort_by_utf16_code_units_not_code_points():
    # U+1F600 is a surrogate pair D83D DE00: before U+FB01 in UTF-16, after it in code points.
    doc = {"\ufb01": 1, "\U0001f600": 2, "\u20ac": 3, "a": 4}
    assert canonical_bytes(doc) == '{"a":4,"€":3,"😀":2,"ﬁ":1}'.encode()


def test_unicode_is_not_normalised():
    composed, decomposed = {"n": "\u00e9"}, {"n": "e\u0301"}
    assert canonical_bytes(composed) != canonical_bytes(decomposed)


def test_control_characters_use_json_stringify_escapes():
    assert canonical_bytes(["\x08\t\n\x0c\r\x01\x1f"]) == b'["\\b\\t\\n\\f\\r\\u0001\\u001f"]'


@pytest.mark.parametrize("value", [2**53, float("nan"), "\ud800", {1: "x"}, b"bytes", {1.5}])
def test_values_without_a_canonical_form_are_refused(value):
    with pytest.raises(InvalidValue):
        canonical_bytes(value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_canonical_bytes_are_a_fixed_point_of_parse_and_serialise(value):
    try:
        once = canonical_bytes(value)
    except InvalidValue:
        return  # lone surrogates in generated text
    assert canonical_bytes(json.loads(once)) == once


@given(st.binary(max_size=100))
def test_b64url_round_trips_every_byte_string(data):
    text = b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64url_decode(text, field="f") == data


@pytest.mark.parametrize("text", ["YQ==", "YR", "a+b/", "abd", "Y Q", "é", "YQ\n"])
def test_b64url_refuses_padding_other_alphabets_and_non_canonical_bits(text):
    with pytest.raises(InvalidValue) as info:
        b64url_decode(text, field="salt")
    assert info.value.field == "salt"


def test_b64url_refuses_non_strings():
    with pytest.raises(WrongType):
        b64url_decode(12, field="salt")
