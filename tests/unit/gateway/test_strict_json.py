"""Strict JSON bodies: what is refused and why."""

from __future__ import annotations

import pytest

from gateway.strict_json import MAX_DEPTH, MalformedJson, parse_strict


@pytest.mark.parametrize(("body", "kind"), [
    (b'{"a": 1, "a": 2}', "json_duplicate_key"),
    (b'{"x": {"a": 1, "a": 1}}', "json_duplicate_key"),
    (b"[" * 50_000 + b"]" * 50_000, "json_too_deep"),
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "json_too_deep"),
    (b'{"n": ' + b"9" * 5000 + b"}", "json_number_too_large"),
    (b'{"n": NaN}', "json_invalid"),
    (b'{"n": Infinity}', "json_invalid"),
    (b"\xff\xfe", "json_invalid"),
    (b'{"a": ', "json_invalid"),
])
def test_malformed_bodies_are_refused_with_their_kind(body, kind):
    with pytest.raises(MalformedJson) as refused:
        parse_strict(body)
    assert refused.value.kind == kind


def test_well_formed_bodies_parse_as_usual():
    assert parse_strict(b'{"a": [1, 2.5, "x", null, true], "b": {"c": -12}}') == {
        "a": [1, 2.5, "x", None, True], "b": {"c": -12}}
    nested = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert parse_strict(nested) is not None
