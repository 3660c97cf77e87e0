"""An access-log entry: who read a customer's events from their owner, for what, how many,
under which consents; counts and ids only."""

import json
from datetime import UTC, datetime

import pytest

from chaincode.access_log import READ_KINDS, AccessLogEntry
from chaincode.errors import InvalidValue, MissingField, UnknownField, WrongType

NOW = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
CUSTOMER = "c_" + "A" * 43


def _entry(**changes: object) -> AccessLogEntry:
    fields: dict[str, object] = {
        "customer_id": CUSTOMER,
        "owner": "Org1MSP",
        "reader": "Org2MSP",
        "purpose": "personalisation",
        "kind": "kiosk",
        "at": NOW,
        "count": 3,
        "consent_ids": ("k-2", "k-1", "k-2"),
    }
    fields.update(changes)
    return AccessLogEntry.record(**fields)  # type: ignore[arg-type]


def test_entry_sorts_consent_ids_truncates_time_and_round_trips():
    entry = _entry()
    assert entry.consent_ids == ("k-1", "k-2")
    assert entry.at.microsecond == 123000
    assert AccessLogEntry.from_json(entry.to_json_bytes()) == entry
    assert AccessLogEntry.from_dict(entry.to_dict()) == entry


def test_entry_names_owner_and_reader_and_holds_counts_and_ids_only():
    doc = _entry().to_dict()
    assert set(doc) == {"customer_id", "owner", "reader", "purpose", "kind", "at", "count",
                        "consent_ids"}
    assert (doc["owner"], doc["reader"], doc["count"]) == ("Org1MSP", "Org2MSP", 3)
    assert doc["at"] == "2025-03-01T12:00:00.123Z"


@pytest.mark.parametrize("kind", READ_KINDS)
def test_every_read_kind_is_accepted(kind):
    assert AccessLogEntry.from_dict(_entry(kind=kind).to_dict()).kind == kind


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"events": []}, UnknownField, "events"),
        ({"tx_id": "tx-1"}, UnknownField, "tx_id"),
        ({"consent_ids": "k-1"}, WrongType, "consent_ids"),
        ({"consent_ids": [f"k-{n}" for n in range(65)]}, InvalidValue, "consent_ids"),
        ({"purpose": "marketing"}, InvalidValue, "purpose"),
        ({"kind": "gossip"}, InvalidValue, "kind"),
        ({"owner": "Org 1"}, InvalidValue, "owner"),
        ({"reader": ""}, InvalidValue, "reader"),
        ({"count": "3"}, WrongType, "count"),
    ],
    ids=["extra-events", "old-tx-id", "ids-not-list", "too-many-ids", "purpose", "kind",
         "owner", "reader", "count-text"],
)
def test_malformed_entry_is_refused_naming_the_field(change, error, field):
    doc = {**json.loads(_entry().to_json_bytes()), **change}
    with pytest.raises(error) as info:
        AccessLogEntry.from_json(json.dumps(doc))
    assert info.value.field == field


def test_missing_field_is_refused_with_the_path_of_the_entry():
    doc = _entry().to_dict()
    del doc["owner"]
    with pytest.raises(MissingField) as info:
        AccessLogEntry.from_dict(doc, "[4]")
    assert info.value.field == "[4].owner"
