"""The consortium watch's public record, and its two transactions on the memory ledger."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chaincode.errors import ChaincodeError
from chaincode.watch_record import WatchRecord

from .conftest import ORG1, ORG2


def alert(**overrides: Any) -> dict[str, Any]:
    doc = {"record_id": "alert-Org2MSP-1-aa", "owner": ORG1, "reader": ORG2, "kind": "alert",
           "at": "2026-01-05T08:00:00.000Z", "window_from": "2026-01-05T07:55:00.000Z",
           "window_to": "2026-01-05T08:00:00.000Z", "score": 4.5,
           "drivers": {"first_read_share": 3.0, "customers_per_hour": 6.25}}
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not None}


def clearance(**overrides: Any) -> dict[str, Any]:
    doc = {"record_id": "clear-Org2MSP-2-bb", "owner": ORG1, "reader": ORG2,
           "kind": "clearance", "at": "2026-01-05T09:00:00.000Z"}
    doc.update(overrides)
    return doc


def test_an_alert_round_trips_with_its_drivers_sorted():
    record = WatchRecord.from_dict(alert())
    assert list(record.to_dict()["drivers"]) == ["customers_per_hour", "first_read_share"]
    assert WatchRecord.from_json(record.to_json_bytes()) == record


@pytest.mark.parametrize(("doc", "code", "field"), [
    (alert(score=None), "MISSING_FIELD", "score"),
    (alert(window_to="2026-01-05T07:50:00.000Z"), "INVALID_VALUE", "window_to"),
    (alert(drivers={"Customer Name": 1.0}), "INVALID_VALUE", "drivers"),
    (alert(customer_id="c_x"), "UNKNOWN_FIELD", "customer_id"),
    (clearance(score=1.0), "INVALID_VALUE", "kind"),
    (alert(kind="pause"), "INVALID_VALUE", "kind"),
])
def test_a_malformed_watch_record_is_refused_with_code_and_field(doc, code, field):
    with pytest.raises(ChaincodeError) as info:
        WatchRecord.from_dict(doc)
    assert (info.value.code, info.value.field) == (code, field)


def test_an_owner_records_alerts_and_clearances_every_member_reads(chain):
    chain.call("RecordWatchEvent", json.dumps(alert()), msp=ORG1)
    chain.call("RecordWatchEvent", json.dumps(clearance()), msp=ORG1)
    listed = chain.call("ListWatchEvents", msp=ORG2, role=None)
    assert [r["kind"] for r in listed["records"]] == ["alert", "clearance"]
    assert listed["records"][0]["drivers"]["first_read_share"] == 3.0


def test_a_member_records_only_its_own_watch_once_and_about_another_member(chain):
    assert chain.refused("RecordWatchEvent", json.dumps(alert()),
                         msp=ORG2).code == "RETAILER_MISMATCH"
    assert chain.refused("RecordWatchEvent", json.dumps(alert(reader=ORG1)),
                         msp=ORG1).code == "INVALID_VALUE"
    assert chain.refused("RecordWatchEvent", json.dumps(alert()), msp=ORG1,
                         role=None).code == "MISSING_ATTRIBUTE"
    chain.call("RecordWatchEvent", json.dumps(alert()), msp=ORG1)
    assert chain.refused("RecordWatchEvent", json.dumps(alert()),
                         msp=ORG1).code == "WATCH_RECORD_EXISTS"
