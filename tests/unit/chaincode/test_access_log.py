import json
from datetime import UTC, datetime

import pytest

from chaincode.access_log import AccessLogEntry, access_key
from chaincode.errors import InvalidValue, UnknownField, WrongType

NOW = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
CUSTOMER = "c_" + "A" * 43


def _entry() -> AccessLogEntry:
    return AccessLogEntry.record(
        customer_id=CUSTOMER,
        reader="Org2MSP",
        purpose="personalisation",
        now=NOW,
        tx_id="tx-1",
        events_readable=3,
        consent_ids=("k-2", "k-1", "k-2"),
    )


def test_entry_sorts_consent_ids_truncates_time_and_round_trips():
    entry = _entry()
    assert entry.consent_ids == ("k-1", "k-2")
    assert entry.at.microsecond == 123000
    assert AccessLogEntry.from_json(entry.to_json_bytes()) == entry
    assert entry.key == access_key(CUSTOMER, "tx-1")


def test_entry_holds_counts_and_ids_only():
    assert set(_entry().to_dict()) == {
        "customer_id",
        "reader",
        "purpose",
        "at",
        "tx_id",
        "events_readable",
        "consent_ids",
    }


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"events": []}, UnknownField),
        ({"consent_ids": "k-1"}, WrongType),
        ({"consent_ids": [f"k-{n}" for n in range(65)]}, InvalidValue),
        ({"purpose": "marketing"}, InvalidValue),
    ],
)
def test_malformed_stored_entry_is_refused(change, error):
    doc = {**json.loads(_entry().to_json_bytes()), **change}
    with pytest.raises(error):
        AccessLogEntry.from_json(json.dumps(doc))
