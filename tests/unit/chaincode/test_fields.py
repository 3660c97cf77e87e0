from datetime import UTC, datetime, timedelta, timezone

import pytest

from chaincode.errors import InvalidValue, MalformedJson, PayloadTooLarge, WrongType
from chaincode.fields import (
    format_timestamp,
    from_proto_timestamp,
    load_json,
    parse_timestamp,
    read_int,
    read_number,
    read_str,
)
from chaincode.statekeys import CompositeKey


def test_timestamp_has_one_form_matching_javascript_to_iso_string():
    moment = parse_timestamp("2025-01-31T09:30:00.250Z", "t")
    assert moment == datetime(2025, 1, 31, 9, 30, 0, 250000, tzinfo=UTC)
    assert format_timestamp(moment) == "2025-01-31T09:30:00.250Z"


def test_formatting_converts_to_utc_and_truncates_to_milliseconds():
    moment = datetime(2025, 1, 31, 10, 30, 0, 999999, tzinfo=timezone(timedelta(hours=1)))
    assert format_timestamp(moment) == "2025-01-31T09:30:00.999Z"
    with pytest.raises(ValueError):
        format_timestamp(datetime(2025, 1, 31))


@pytest.mark.parametrize(
    "text",
    [
        "2025-01-31T09:30:00Z",
        "2025-01-31T09:30:00.25Z",
        "2025-01-31 09:30:00.000Z",
        "2025-01-31T09:30:00.000+00:00",
        "2025-13-01T00:00:00.000Z",
        "2025-01-31T24:00:00.000Z",
        "٢٠٢٥-01-31T09:30:00.000Z",
    ],
)
def test_other_timestamp_forms_are_refused(text):
    with pytest.raises(InvalidValue):
        parse_timestamp(text, "t")


def test_proto_timestamp_converts_seconds_and_nanos():
    assert from_proto_timestamp(0, 1_999) == datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        from_proto_timestamp(0, 1_000_000_000)
    with pytest.raises(ValueError):
        from_proto_timestamp(10**15)


def test_numbers_are_not_coerced():
    with pytest.raises(WrongType):
        read_int(1.0, "n")
    with pytest.raises(WrongType):
        read_int(True, "n")
    with pytest.raises(WrongType):
        read_number("1", "n", bound=10)
    assert read_number(3, "n", bound=10) == 3.0


def test_strings_refuse_control_characters_and_surrogates():
    with pytest.raises(InvalidValue):
        read_str("a\x00b", "s")
    with pytest.raises(InvalidValue):
        read_str("a\ud800", "s")
    assert read_str("Schuhe & Taschen, draußen", "s") == "Schuhe & Taschen, draußen"


def test_json_loader_refuses_big_integer_literals_and_enforces_the_byte_limit():
    with pytest.raises(MalformedJson):
        load_json("1" * 5000, max_bytes=10_000)
    with pytest.raises(PayloadTooLarge):
        load_json("[1, 2]", max_bytes=5)
    assert load_json('{"a": [1]}', max_bytes=100) == {"a": [1]}


def test_composite_key_matches_the_shim_layout_and_refuses_separators():
    assert (
        CompositeKey("pref", ("c", "Org1MSP", "e")).render() == "\x00pref\x00c\x00Org1MSP\x00e\x00"
    )
    assert CompositeKey("pref").render() == "\x00pref\x00"
    for bad in ("a\x00b", "\U0010ffff"):
        with pytest.raises(ValueError):
            CompositeKey("pref", (bad,))
    with pytest.raises(ValueError):
        CompositeKey("")
