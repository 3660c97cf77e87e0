import json
from datetime import UTC, datetime

import pytest

from chaincode.canonical import b64url_encode
from chaincode.errors import (
    BatchTooLarge,
    DuplicateEventId,
    EmptyList,
    InvalidValue,
    MissingField,
    PayloadTooLarge,
    RetailerMismatch,
    UnknownField,
    WrongType,
)
from chaincode.preferences import (
    CATEGORY_OF_EVENT_TYPE,
    EVENT_TYPES,
    PreferenceEvent,
    category_for_event_type,
    check_events_written_by,
    customer_preferences_prefix,
    parse_event_batch,
    preference_key,
)

SALT = b64url_encode(bytes(range(16)))


def event_doc(customer: str, **overrides) -> dict:
    doc = {
        "event_id": "e-1",
        "customer_id": customer,
        "retailer": "Org1MSP",
        "item_id": "sku-4711",
        "item_category": "outdoor/shoes",
        "event_type": "purchase",
        "value": 1,
        "store_id": "berlin-01",
        "timestamp": "2025-01-31T09:30:00.000Z",
        "salt": SALT,
    }
    doc.update(overrides)
    return doc


def test_event_parses_with_its_category_and_key(alice):
    event = PreferenceEvent.from_json(json.dumps(event_doc(alice.id)))
    assert event.value == 1.0
    assert event.timestamp == datetime(2025, 1, 31, 9, 30, tzinfo=UTC)
    assert event.category == "purchases"
    assert event.key == preference_key(alice.id, "Org1MSP", "e-1")
    assert event.key.render() == f"\x00pref\x00{alice.id}\x00Org1MSP\x00e-1\x00"


def test_event_serialisation_is_deterministic_and_round_trips(alice):
    event = PreferenceEvent.from_dict(event_doc(alice.id, value=4.5))
    data = event.to_json_bytes()
    assert PreferenceEvent.from_json(data) == event
    assert data.startswith(b'{"customer_id":')


def test_event_types_map_to_documented_categories():
    assert CATEGORY_OF_EVENT_TYPE == {
        "purchase": "purchases",
        "view": "views",
        "like": "views",
        "rating": "stated_preferences",
        "stated": "stated_preferences",
    }
    assert set(EVENT_TYPES) == set(CATEGORY_OF_EVENT_TYPE)
    with pytest.raises(InvalidValue):
        category_for_event_type("return")


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"colour": "red"}, UnknownField, "colour"),
        ({"value": "1"}, WrongType, "value"),
        ({"value": True}, WrongType, "value"),
        ({"value": 1e10}, InvalidValue, "value"),
        ({"value": 10**30}, InvalidValue, "value"),
        ({"event_type": "return"}, InvalidValue, "event_type"),
        ({"retailer": "Org 1"}, InvalidValue, "retailer"),
        ({"item_id": ""}, InvalidValue, "item_id"),
        ({"item_category": "a\nb"}, InvalidValue, "item_category"),
        ({"item_category": "x" * 65}, InvalidValue, "item_category"),
        ({"salt": b64url_encode(b"short")}, InvalidValue, "salt"),
        ({"salt": "A" * 200}, InvalidValue, "salt"),
        ({"salt": SALT + "="}, InvalidValue, "salt"),
        ({"salt": 5}, WrongType, "salt"),
        ({"timestamp": "yesterday"}, InvalidValue, "timestamp"),
        ({"customer_id": "bob"}, InvalidValue, "customer_id"),
        ({"event_id": "e~1"}, InvalidValue, "event_id"),
    ],
)
def test_malformed_event_is_refused_with_code_and_field(alice, overrides, error, field):
    with pytest.raises(error) as info:
        PreferenceEvent.from_dict(event_doc(alice.id, **overrides))
    assert info.value.field == field


def test_event_without_salt_is_refused(alice):
    doc = event_doc(alice.id)
    del doc["salt"]
    with pytest.raises(MissingField):
        PreferenceEvent.from_dict(doc)


def test_batch_parses_in_order(alice):
    docs = [event_doc(alice.id, event_id=f"e-{i}") for i in range(3)]
    events = parse_event_batch(json.dumps(docs))
    assert [e.event_id for e in events] == ["e-0", "e-1", "e-2"]


def test_batch_of_exactly_the_limit_is_accepted(alice):
    docs = [event_doc(alice.id, event_id=f"e-{i}") for i in range(500)]
    assert len(parse_event_batch(json.dumps(docs))) == 500


def test_batch_over_the_limit_is_refused(alice):
    docs = [event_doc(alice.id, event_id=f"e-{i}") for i in range(11)]
    with pytest.raises(BatchTooLarge) as info:
        parse_event_batch(json.dumps(docs), max_events=10)
    assert info.value.details == {"max_events": 10, "events": 11}


def test_batch_over_the_byte_limit_is_refused_before_parsing(alice):
    with pytest.raises(PayloadTooLarge):
        parse_event_batch("[" + " " * 20_000 + "]", max_events=5)


def test_empty_batch_is_refused():
    with pytest.raises(EmptyList):
        parse_event_batch("[]")


def test_batch_that_is_not_an_array_is_refused(alice):
    with pytest.raises(WrongType):
        parse_event_batch(json.dumps(event_doc(alice.id)))


def test_duplicate_event_key_in_batch_is_refused_at_its_index(alice):
    docs = [
        event_doc(alice.id, event_id="e-1"),
        event_doc(alice.id, event_id="e-2"),
        event_doc(alice.id, event_id="e-1", value=3),
    ]
    with pytest.raises(DuplicateEventId) as info:
        parse_event_batch(json.dumps(docs))
    assert info.value.field == "[2].event_id"


def test_same_event_id_for_different_customers_is_not_a_duplicate(alice, mallory):
    docs = [event_doc(alice.id), event_doc(mallory.id)]
    assert len(parse_event_batch(json.dumps(docs))) == 2


def test_error_inside_batch_names_the_index(alice):
    docs = [event_doc(alice.id), event_doc(alice.id, event_id="e-2", value="x")]
    with pytest.raises(WrongType) as info:
        parse_event_batch(json.dumps(docs))
    assert info.value.field == "[1].value"


def test_retailer_may_only_write_its_own_events(alice):
    events = parse_event_batch(json.dumps([event_doc(alice.id)]))
    check_events_written_by(events, "Org1MSP")
    with pytest.raises(RetailerMismatch) as info:
        check_events_written_by(events, "Org2MSP")
    assert info.value.field == "[0].retailer"


def test_prefix_keys_select_a_customer_or_a_customer_at_a_retailer(alice):
    assert customer_preferences_prefix(alice.id).attributes == (alice.id,)
    assert customer_preferences_prefix(alice.id, "Org1MSP").render() == (
        f"\x00pref\x00{alice.id}\x00Org1MSP\x00"
    )
