"""The gateway reads every answer of the contract into its records
(gateway/ledger_records.py) and gives back the same JSON: what the HTTP API serves does not
change by going through a record. A malformed answer is a typed error, never a guess."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from gateway import ledger_records as records
from gateway.ledger_records import (
    ConsentCheck,
    ErasureAccepted,
    ErasureProgress,
    MalformedLedgerAnswer,
    OwnData,
    OwnPage,
    PublicExport,
    SharedEvents,
    SharedPage,
    parse_answer,
)

from .conftest import ORG1, ORG2, event_doc, rights_request


def _read(function: str, answer: Any, parse: Any) -> Any:
    return parse_answer(function, json.dumps(answer).encode(), parse)


def test_consent_answers_read_back_to_the_chaincodes_json(chain, alice):
    answer = chain.register(alice)
    assert _read("RegisterCustomer", answer, records.customer_record).to_dict() == answer
    answer = chain.consent(alice)
    assert _read("SubmitConsentStatement", answer, records.consent_record).to_dict() == answer
    consent_id = answer["consent_id"]
    chain.consent(alice, "narrow", recipients=[ORG2], at=chain.now + timedelta(minutes=1))
    listed = chain.call("ListConsents", alice.id)
    assert [c.to_dict() for c in _read("ListConsents", listed, records.listed_consents)
            ] == listed["consents"]
    history = chain.call("ConsentHistory", alice.id, consent_id)
    versions = _read("ConsentHistory", history, records.consent_history)
    assert [v.to_dict() for v in versions] == history["versions"] and len(versions) == 2
    check = chain.call("CheckConsent", alice.id, ORG1, "personalisation", "purchases",
                       msp=ORG2)
    assert _read("CheckConsent", check, ConsentCheck.from_dict).to_dict() == check


def test_event_and_rights_answers_read_back_to_the_chaincodes_json(chain, alice):
    chain.register(alice)
    chain.consent(alice, recipients=[ORG2])
    assert _read("RecordPreferenceEvents", chain.record(event_doc(alice)),
                 records.recorded_count) == 1
    own = chain.call("ReadOwnEvents", alice.id)
    assert records.event_dicts(_read("ReadOwnEvents", own, records.answer_events)
                               ) == own["events"]
    page = chain.call("ReadOwnTraining", "", "10")
    read = _read("ReadOwnTraining", page, OwnPage.from_dict)
    assert (records.event_dicts(read.events), read.next) == (page["events"], page["next"])
    shared = chain.shared(alice)
    found = _read("ReadSharedEvents", shared, SharedEvents.from_dict)
    assert records.event_dicts(found.events) == shared["events"] and found.events
    assert list(found.consent_ids) == shared["consent_ids"]
    training = chain.call("ReadSharedTraining", ORG2, "personalisation", "", "10", msp=ORG1)
    assert _read("ReadSharedTraining", training, SharedPage.from_dict).to_dict() == {
        k: training[k] for k in ("owner", "events", "consents", "next")}
    assert _read("LogReads", chain.log_reads(chain.entry(alice, ORG2)),
                 records.logged_count) == 1
    export = chain.call("ExportCustomer", transient={
        "request": rights_request(alice, "export", ORG1)})
    assert _read("ExportCustomer", export, PublicExport.from_dict).to_dict() == export
    held = chain.call("ExportOwnData", ORG1, transient={
        "request": rights_request(alice, "export", ORG1)})
    data = _read("ExportOwnData", held, OwnData.from_dict)
    assert [e.to_dict() for e in data.access_log] == held["access_log"]
    erased = chain.erase(alice, at=chain.now + timedelta(minutes=5))
    assert _read("EraseCustomer", erased, ErasureAccepted.from_dict).to_dict() == erased
    assert _read("PendingErasures", chain.call("PendingErasures"),
                 records.pending_erasures) == (alice.id,)
    progress = chain.call("ErasureProgress", alice.id)
    read_progress = _read("ErasureProgress", progress, ErasureProgress.from_dict)
    assert read_progress.to_dict() == progress and not read_progress.complete
    assert _read("PurgeCustomer", chain.purge(alice), records.purged_erasure
                 ) == erased["erasure_id"]


@pytest.mark.parametrize("data", [
    b"", b"not json", b"[]", b"{}", b'{"consents": {}}', b'{"consents": [{"consent_id": "k"}]}',
])
def test_a_malformed_answer_is_a_typed_error_naming_the_function(data):
    with pytest.raises(MalformedLedgerAnswer) as caught:
        parse_answer("ListConsents", data, records.listed_consents)
    assert caught.value.function == "ListConsents"


def test_every_transaction_name_dispatches_and_describe_lists_them_all(chain):
    # The names are the contract's interface (the gateway, the network's readiness probe):
    # splitting the contract into modules must not change one.
    from chaincode.contract import _FUNCTIONS
    from chaincode.transactions.table import TRANSACTIONS

    assert set(_FUNCTIONS) == set(TRANSACTIONS)
    described = chain.call("Describe")
    assert described["transactions"] == sorted(TRANSACTIONS) and len(TRANSACTIONS) == 22
    assert described["owner"] == ORG1
