"""The contract's transaction functions on the memory ledger (a unit-test double).

These show the contract's own rules: what it checks, refuses, writes and emits. What only
a running peer can show (endorsement, collection membership, purge on every member's
private store) is out of reach here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chaincode.consent import consent_key, nonce_key
from chaincode.errors import (
    Backdated,
    BadSignature,
    BatchTooLarge,
    CategoryNotGranted,
    ConsentExpired,
    ConsentNotFound,
    ConsentWithdrawn,
    CustomerErased,
    CustomerExists,
    DuplicateEventId,
    EventExists,
    InvalidValue,
    MissingAttribute,
    MissingTransientKey,
    ModelExists,
    ModelNotFound,
    NotARecipient,
    PurposeNotGranted,
    ReplayedNonce,
    RetailerMismatch,
    UnknownCustomer,
    WideningNotAllowed,
)
from chaincode.keys import customer_key
from chaincode.ledger import Creator
from chaincode.preferences import MAX_BATCH_EVENTS, preference_key

COLLECTION = "prefsCollection"
ORG1, ORG2, ORG3 = "Org1MSP", "Org2MSP", "Org3MSP"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)  # conftest's transaction time


# --- customers and consent ---------------------------------------------------------------------


def test_register_customer_writes_the_record_under_her_id(chain, alice):
    record = chain.register(alice)
    assert record["customer_id"] == alice.id
    stored = chain.ledger.state[customer_key(alice.id).render()]
    assert json.loads(stored) == record


def test_register_is_refused_when_the_key_is_already_registered(chain, alice):
    chain.register(alice)
    err = chain.refused("RegisterCustomer", alice.key.b64url)
    assert isinstance(err, CustomerExists)


def test_grant_writes_record_and_nonce_and_emits_consent_granted(chain, alice):
    chain.register(alice)
    doc = alice.statement()
    record = chain.call("SubmitConsentStatement", alice.wire(doc))
    assert record["version"] == 1 and record["withdrawn_at"] is None
    assert consent_key(alice.id, "k-0001").render() in chain.ledger.state
    assert nonce_key(alice.id, doc["nonce"]).render() in chain.ledger.state
    event = chain.ledger.blocks[-1].event
    assert event is not None and event.name == "ConsentGranted"
    assert json.loads(event.payload) == {
        "customer_id": alice.id,
        "consent_id": "k-0001",
        "version": 1,
    }


def test_narrowing_emits_consent_narrowed_and_widening_is_refused(chain, alice):
    chain.register(alice)
    chain.consent(alice, recipients=["Org2MSP"])
    record = chain.consent(alice, "narrow", recipients=["Org2MSP"], purposes=["analytics"])
    assert record["version"] == 2 and record["purposes"] == ["analytics"]
    assert chain.ledger.blocks[-1].event.name == "ConsentNarrowed"
    err = chain.refused(
        "SubmitConsentStatement",
        alice.wire(alice.statement("narrow", recipients=["Org2MSP", "Org3MSP"])),
    )
    assert isinstance(err, WideningNotAllowed)


def test_statement_signed_by_another_key_is_refused_and_nothing_written(chain, alice, mallory):
    chain.register(alice)
    doc = alice.statement()
    forged = json.dumps({**doc, "signature": mallory.sign(doc)})
    err = chain.refused("SubmitConsentStatement", forged)
    assert isinstance(err, BadSignature)


def test_statement_widened_after_signing_is_refused(chain, alice):
    chain.register(alice)
    doc = alice.statement(recipients=["Org2MSP"])
    tampered = json.dumps({**doc, "recipients": ["*"], "signature": alice.sign(doc)})
    err = chain.refused("SubmitConsentStatement", tampered)
    assert isinstance(err, BadSignature)


def test_replayed_statement_is_refused_and_nothing_written(chain, alice):
    chain.register(alice)
    wire = alice.wire(alice.statement("grant"))
    chain.call("SubmitConsentStatement", wire)
    err = chain.refused("SubmitConsentStatement", wire)
    assert isinstance(err, ReplayedNonce)


def test_replayed_withdrawal_nonce_on_a_new_consent_is_refused(chain, alice):
    chain.register(alice)
    chain.consent(alice)
    withdraw = alice.statement("withdraw")
    chain.call("SubmitConsentStatement", alice.wire(withdraw))
    reuse = alice.statement(consent_id="k-0002", nonce=withdraw["nonce"])
    err = chain.refused("SubmitConsentStatement", alice.wire(reuse))
    assert isinstance(err, ReplayedNonce)


def test_statement_for_an_unregistered_customer_is_refused(chain, alice):
    err = chain.refused("SubmitConsentStatement", alice.wire(alice.statement()))
    assert isinstance(err, UnknownCustomer)


def test_grant_signed_too_long_ago_is_refused_as_backdated(chain, alice):
    chain.register(alice)
    err = chain.refused(
        "SubmitConsentStatement", alice.wire(alice.statement()), at=NOW + timedelta(days=2)
    )
    assert isinstance(err, Backdated)


def test_list_consents_gives_status_at_the_transaction_time(chain, alice):
    chain.register(alice)
    chain.consent(alice, expires_at="2025-03-02T12:00:00.000Z")
    chain.consent(alice, consent_id="k-0002")
    chain.consent(alice, "withdraw", consent_id="k-0002")
    listing = chain.call("ListConsents", alice.id, at=NOW + timedelta(days=2))
    status = {c["consent_id"]: c["status"] for c in listing["consents"]}
    assert status == {"k-0001": "expired", "k-0002": "withdrawn"}


def test_consent_history_lists_grant_then_withdrawal(chain, alice):
    chain.register(alice)
    chain.consent(alice)
    chain.call(
        "SubmitConsentStatement",
        alice.wire(alice.statement("withdraw")),
        at=NOW + timedelta(minutes=1),
    )
    history = chain.call("ConsentHistory", alice.id, "k-0001")
    versions = [v["record"]["version"] for v in history["versions"]]
    withdrawn = [v["record"]["withdrawn_at"] for v in history["versions"]]
    assert versions == [1, 2]
    assert withdrawn[0] is None and withdrawn[1] is not None


def test_history_of_an_unknown_consent_is_refused_as_not_found(chain, alice):
    chain.register(alice)
    with pytest.raises(ConsentNotFound):
        chain.call("ConsentHistory", alice.id, "k-9999")


# --- the consent matrix, through the contract ---------------------------------------------------


def _shared_world(chain: Any, alice: Any, **grant: Any) -> None:
    """Alice has purchases and views at Org1; she granted Org2 personalisation on
    purchases."""
    chain.register(alice)
    chain.record(
        chain.event(alice, event_type="purchase"),
        chain.event(alice, event_type="view"),
    )
    chain.consent(
        alice,
        recipients=["Org2MSP"],
        purposes=["personalisation"],
        data_categories=["purchases"],
        **grant,
    )


def test_recipient_reads_consented_category_and_sees_the_rest_counted(chain, alice):
    _shared_world(chain, alice)
    result = chain.call("ReadPreferences", alice.id, "personalisation", msp=ORG2)
    assert [e["event_type"] for e in result["events"]] == ["purchase"]
    assert result["withheld"] == {
        "total": 1,
        "by_reason": {"CATEGORY_NOT_GRANTED": 1},
        "by_retailer": {ORG1: 1},
    }
    decision = chain.call("CheckConsent", alice.id, ORG1, "personalisation", "purchases", msp=ORG2)
    assert decision == {"allowed": True, "basis": "consent", "consent_id": "k-0001"}


def test_owner_reads_its_own_events_without_consent(chain, alice):
    _shared_world(chain, alice)
    result = chain.call("ReadPreferences", alice.id, "analytics", msp=ORG1)
    assert len(result["events"]) == 2 and result["withheld"]["total"] == 0


@pytest.mark.parametrize(
    ("reader", "purpose", "category", "later", "withdraw", "expected"),
    [
        (ORG3, "personalisation", "purchases", timedelta(0), False, NotARecipient),
        (ORG2, "analytics", "purchases", timedelta(0), False, PurposeNotGranted),
        (ORG2, "personalisation", "views", timedelta(0), False, CategoryNotGranted),
        (ORG2, "personalisation", "purchases", timedelta(days=8), False, ConsentExpired),
        (ORG2, "personalisation", "purchases", timedelta(0), True, ConsentWithdrawn),
    ],
    ids=["non-recipient", "other-purpose", "other-category", "expired", "withdrawn"],
)
def test_read_is_refused_with_the_reason_of_the_closest_consent(
    chain, alice, reader, purpose, category, later, withdraw, expected
):
    _shared_world(chain, alice, expires_at="2025-03-08T12:00:00.000Z")
    if withdraw:
        chain.consent(alice, "withdraw")
    at = NOW + later
    err = chain.refused("CheckConsent", alice.id, ORG1, purpose, category, msp=reader, at=at)
    assert isinstance(err, expected)
    result = chain.call("ReadPreferences", alice.id, purpose, msp=reader, at=at)
    shared = [e for e in result["events"] if event_category(e) == category]
    assert shared == []
    assert result["withheld"]["by_reason"].get(expected.code, 0) >= 1


def event_category(event: dict) -> str:
    return {"purchase": "purchases", "view": "views"}[event["event_type"]]


def test_reading_an_unregistered_customer_is_refused(chain, alice):
    err = chain.refused("ReadPreferences", alice.id, "personalisation", msp=ORG2)
    assert isinstance(err, UnknownCustomer)


def test_read_without_gateway_role_is_refused(chain, alice):
    _shared_world(chain, alice)
    err = chain.refused("ReadPreferences", alice.id, "personalisation", msp=ORG2, role=None)
    assert isinstance(err, MissingAttribute)


# --- recording events ------------------------------------------------------------------------


def test_recording_writes_each_event_privately_and_returns_only_a_count(chain, alice):
    chain.register(alice)
    docs = [chain.event(alice), chain.event(alice, event_type="view")]
    result = chain.record(*docs)
    assert result == {"recorded": 2}
    stored = chain.ledger.private[COLLECTION]
    for doc in docs:
        key = preference_key(alice.id, ORG1, doc["event_id"]).render()
        assert json.loads(stored[key])["item_id"] == doc["item_id"]
        assert key not in chain.ledger.state
    assert chain.ledger.blocks[-1].event is None


def test_recording_another_retailers_events_is_refused(chain, alice):
    chain.register(alice)
    err = chain.refused(
        "RecordPreferenceEvents",
        msp=ORG1,
        transient={"events": json.dumps([chain.event(alice, retailer=ORG2)]).encode()},
    )
    assert isinstance(err, RetailerMismatch) and err.field == "[0].retailer"


@pytest.mark.parametrize("role", [None, "admin"], ids=["no-role", "other-role"])
def test_recording_without_the_gateway_role_is_refused(chain, alice, role):
    chain.register(alice)
    err = chain.refused(
        "RecordPreferenceEvents",
        role=role,
        transient={"events": json.dumps([chain.event(alice)]).encode()},
    )
    assert isinstance(err, MissingAttribute) and err.field == "prefshare.role"


def test_recording_without_transient_events_is_refused(chain, alice):
    chain.register(alice)
    err = chain.refused("RecordPreferenceEvents")
    assert isinstance(err, MissingTransientKey) and err.field == "events"


def test_batch_over_the_limit_is_refused_and_nothing_written(chain, alice):
    chain.register(alice)
    docs = [chain.event(alice) for _ in range(MAX_BATCH_EVENTS + 1)]
    err = chain.refused("RecordPreferenceEvents", transient={"events": json.dumps(docs).encode()})
    assert isinstance(err, BatchTooLarge)


def test_batch_at_the_limit_is_recorded(chain, alice):
    chain.register(alice)
    docs = [chain.event(alice) for _ in range(MAX_BATCH_EVENTS)]
    assert chain.record(*docs) == {"recorded": MAX_BATCH_EVENTS}


def test_batch_with_a_repeated_event_id_is_refused(chain, alice):
    chain.register(alice)
    doc = chain.event(alice)
    err = chain.refused(
        "RecordPreferenceEvents", transient={"events": json.dumps([doc, doc]).encode()}
    )
    assert isinstance(err, DuplicateEventId)


def test_rewriting_a_recorded_event_is_refused_and_the_batch_not_written(chain, alice):
    chain.register(alice)
    first = chain.event(alice)
    chain.record(first)
    fresh = chain.event(alice)
    err = chain.refused(
        "RecordPreferenceEvents", transient={"events": json.dumps([fresh, first]).encode()}
    )
    assert isinstance(err, EventExists) and err.field == "[1].event_id"


def test_events_of_an_unregistered_customer_are_refused(chain, alice):
    err = chain.refused(
        "RecordPreferenceEvents", transient={"events": json.dumps([chain.event(alice)]).encode()}
    )
    assert isinstance(err, UnknownCustomer)


# --- access log -------------------------------------------------------------------------------


def test_log_access_records_reader_purpose_count_and_consent_without_events(chain, alice):
    _shared_world(chain, alice)
    entry = chain.call("LogAccess", alice.id, "personalisation", msp=ORG2)
    assert entry["reader"] == ORG2
    assert entry["events_readable"] == 1
    assert entry["consent_ids"] == ["k-0001"]
    assert "events" not in entry and "sku-4711" not in json.dumps(entry)
    keys = [k for k in chain.ledger.state if k.startswith("\x00access\x00")]
    assert len(keys) == 1


# --- export and erasure -------------------------------------------------------------------------


def test_export_returns_what_the_caller_may_see_and_writes_nothing(chain, alice):
    _shared_world(chain, alice)
    chain.record(chain.event(alice, retailer=ORG3, event_type="rating"), msp=ORG3)
    chain.call("LogAccess", alice.id, "personalisation", msp=ORG2)
    export = chain.call(
        "ExportCustomer", msp=ORG2, transient={"request": chain.rights(alice, "export")}
    )
    assert export["customer"]["customer_id"] == alice.id
    assert [e["event_type"] for e in export["events"]] == ["purchase"]
    assert export["withheld"] == {"total": 2, "by_retailer": {ORG1: 1, ORG3: 1}}
    assert [v["record"]["version"] for v in export["consents"][0]["versions"]] == [1]
    assert [a["reader"] for a in export["access_log"]] == [ORG2]


def test_export_request_used_for_erasure_is_refused(chain, alice):
    chain.register(alice)
    err = chain.refused("EraseCustomer", transient={"request": chain.rights(alice, "export")})
    assert isinstance(err, InvalidValue) and err.field == "action"


def test_forged_erase_request_is_refused_and_nothing_purged(chain, alice, mallory):
    _shared_world(chain, alice)
    doc = json.loads(chain.rights(alice, "erase"))
    doc["signature"] = mallory.sign({k: v for k, v in doc.items() if k != "signature"})
    err = chain.refused("EraseCustomer", transient={"request": json.dumps(doc).encode()})
    assert isinstance(err, BadSignature)
    assert len([k for k in chain.ledger.private[COLLECTION] if k.startswith("\x00pref\x00")]) == 2


def test_replayed_erase_request_is_refused(chain, alice):
    chain.register(alice)
    request = chain.rights(alice, "erase")
    chain.call("EraseCustomer", transient={"request": request})
    err = chain.refused("EraseCustomer", transient={"request": request})
    assert isinstance(err, ReplayedNonce)


def test_erase_request_older_than_an_hour_is_refused(chain, alice):
    chain.register(alice)
    request = chain.rights(alice, "erase")
    err = chain.refused(
        "EraseCustomer", transient={"request": request}, at=NOW + timedelta(hours=2)
    )
    assert isinstance(err, Backdated)


def test_erasure_deletes_her_events_keeps_hashes_in_blocks_and_withdraws_consents(chain, alice):
    """Fabric 2.1 has no purge: her events and her index are deleted (DelPrivateData); the
    old values stay in each member's private store until the collection's blockToLive."""
    bob = chain.new_customer()
    _shared_world(chain, alice)
    chain.register(bob)
    chain.record(chain.event(alice, retailer=ORG2), msp=ORG2)
    chain.record(chain.event(bob))
    chain.consent(alice, consent_id="k-0002", recipients=["Org3MSP"])
    chain.consent(alice, "withdraw", consent_id="k-0002")
    hers = {k: v for k, v in chain.ledger.private[COLLECTION].items()
            if alice.id in k and k.startswith("\x00pref\x00")}
    assert len(hers) == 3

    result = chain.call(
        "EraseCustomer", msp=ORG3, transient={"request": chain.rights(alice, "erase")}
    )

    assert result == {"customer_id": alice.id, "events_purged": 3, "consents_withdrawn": 1}
    remaining = chain.ledger.private[COLLECTION]
    assert not any(alice.id in key for key in remaining)
    assert any(bob.id in key for key in remaining)
    kept = {key for _, key in chain.ledger.private_store if alice.id in key}
    assert kept == {*hers, f"\x00prefindex\x00{alice.id}\x00"}
    # The current hash leaves state with the value; the blocks keep the evidence.
    hashed = [w for block in chain.ledger.blocks for w in block.hashed_writes]
    for key, value in hers.items():
        key_hash = hashlib.sha256(key.encode()).digest()
        writes = [w for w in hashed if w.key_hash == key_hash]
        assert [w.value_hash for w in writes if not w.is_delete] == [hashlib.sha256(value).digest()]
        assert [(w.is_delete, w.is_purge) for w in writes if w.is_delete] == [(True, False)]
    event = chain.ledger.blocks[-1].event
    assert event.name == "CustomerErased" and json.loads(event.payload) == result
    history = chain.call("ConsentHistory", alice.id, "k-0001")
    last = history["versions"][-1]["record"]
    assert last["withdrawn_at"] is not None and last["erasure"]["action"] == "erase"
    # Her id is closed: a kiosk treats her as unknown, and no member reads or records hers.
    with pytest.raises(CustomerErased) as closed:
        chain.call("ListConsents", alice.id)
    assert isinstance(closed.value, UnknownCustomer)


def test_after_erasure_nothing_of_hers_is_recorded_or_read_until_she_grants_again(chain,
                                                                                  alice):
    _shared_world(chain, alice)
    chain.call("EraseCustomer", msp=ORG3, transient={"request": chain.rights(alice, "erase")})
    with pytest.raises(CustomerErased):
        chain.record(chain.event(alice))
    with pytest.raises(CustomerErased):
        chain.call("ReadPreferences", alice.id, "personalisation", msp=ORG2)
    with pytest.raises(CustomerErased):
        chain.consent(alice, "withdraw", consent_id="k-0001")
    # Her rights outlive the erasure: an export of what remains still verifies.
    export = chain.call("ExportCustomer", transient={"request": chain.rights(alice, "export")})
    assert export["events"] == []
    # A new grant is her coming back: it reopens her id.
    chain.consent(alice, consent_id="k-0009")
    listing = chain.call("ListConsents", alice.id)
    assert {c["consent_id"]: c["status"] for c in listing["consents"]}["k-0009"] == "active"
    chain.record(chain.event(alice))


def test_log_access_and_erasure_never_range_query_private_data_before_writing(chain, alice):
    # A Fabric peer refuses the writes of a transaction that ran a private range query
    # (the memory ledger raises the same): both find her events through her index.
    _shared_world(chain, alice)
    chain.record(chain.event(alice, retailer=ORG2), msp=ORG2)
    entry = chain.call("LogAccess", alice.id, "personalisation", msp=ORG2)
    assert entry["events_readable"] >= 1
    result = chain.call("EraseCustomer", transient={"request": chain.rights(alice, "erase")})
    assert result["events_purged"] == 3


def test_read_after_erasure_returns_nothing_of_hers(chain, alice):
    _shared_world(chain, alice)
    chain.call("EraseCustomer", transient={"request": chain.rights(alice, "erase")})
    with pytest.raises(CustomerErased):
        chain.call("ReadPreferences", alice.id, "personalisation", msp=ORG1)
    training = chain.call("ReadTrainingEvents", "personalisation", "", "500", msp=ORG1)
    assert alice.id not in json.dumps(training)


# --- no private value in anything public -----------------------------------------------------


def test_private_values_never_reach_public_state_history_events_or_responses(chain, alice):
    marker = "zq-secret-marker-7731"
    chain.register(alice)
    chain.record(
        chain.event(alice, item_id=f"sku-{marker}", store_id=f"s-{marker}"),
        chain.event(alice, item_category=f"cat/{marker}", event_type="view"),
    )
    chain.consent(alice, recipients=["*"])
    chain.call("LogAccess", alice.id, "personalisation", msp=ORG2)
    read = chain.call("ReadPreferences", alice.id, "personalisation", msp=ORG2)
    export = chain.call(
        "ExportCustomer", msp=ORG2, transient={"request": chain.rights(alice, "export")}
    )
    # The marker is really there to be found: in private data and in evaluate responses.
    assert marker in json.dumps(read) and marker in json.dumps(export)
    assert any(marker.encode() in value for value in chain.ledger.private[COLLECTION].values())
    chain.call("EraseCustomer", transient={"request": chain.rights(alice, "erase")})

    leaks = [chunk for chunk in chain.ledger.public_bytes() if marker.encode() in chunk]
    assert leaks == []


# --- model provenance and dispatch ---------------------------------------------------------------


def _provenance(retailer: str = ORG1) -> str:
    return json.dumps(
        {
            "model_id": "lightfm-a",
            "retailer": retailer,
            "content_hash": "ab" * 32,
            "created_at": "2025-03-01T11:00:00.000Z",
            "training": {
                "block_height": 10,
                "record_count": 100,
                "purpose": "personalisation",
                "consent_set_hash": "cd" * 32,
            },
            "metrics": {"precision@10": 0.12},
        }
    )


def test_model_provenance_is_recorded_once_and_read_back(chain):
    recorded = chain.call("RecordModelProvenance", _provenance())
    assert chain.call("GetModelProvenance", "lightfm-a", msp=ORG2) == recorded
    assert isinstance(chain.refused("RecordModelProvenance", _provenance()), ModelExists)


def test_model_provenance_in_another_retailers_name_is_refused(chain):
    err = chain.refused("RecordModelProvenance", _provenance(ORG2))
    assert isinstance(err, RetailerMismatch)


def test_unknown_model_is_refused_as_not_found(chain):
    with pytest.raises(ModelNotFound):
        chain.call("GetModelProvenance", "nope")


def test_unknown_function_and_wrong_arity_are_refused(chain):
    with pytest.raises(InvalidValue) as unknown:
        asyncio_invoke(chain, "DropTables", [])
    assert unknown.value.field == "function"
    with pytest.raises(InvalidValue) as arity:
        asyncio_invoke(chain, "ListConsents", [])
    assert arity.value.field == "args"


def asyncio_invoke(chain: Any, function: str, args: list[str]) -> bytes:
    tx = chain.ledger.begin(Creator(ORG1, chain.cert()), timestamp=NOW)
    return asyncio.run(chain.contract.invoke(tx, function, args))


# --- the training read -------------------------------------------------------------------------


def test_training_read_pages_customers_and_returns_only_readable_events(chain, alice, mallory):
    _shared_world(chain, alice)  # Org1 holds her purchase and view; Org2 may read purchases
    chain.register(mallory)
    first = chain.call("ReadTrainingEvents", "personalisation", "", "1", msp=ORG2)
    second = chain.call("ReadTrainingEvents", "personalisation", first["next"] or "", "1",
                        msp=ORG2)
    assert first["customers"] == 1 and second["customers"] == 1
    assert second["next"] is None
    events = first["events"] + second["events"]
    assert [(e["customer_id"], e["event_type"]) for e in events] == [(alice.id, "purchase")]
    consents = first["consents"] + second["consents"]
    assert consents == [[alice.id, "k-0001", 1]]


def test_training_read_by_the_holder_needs_no_consent(chain, alice):
    _shared_world(chain, alice)
    page = chain.call("ReadTrainingEvents", "analytics", "", "500", msp=ORG1)
    assert len(page["events"]) == 2 and page["consents"] == []


@pytest.mark.parametrize(("after", "limit", "field"),
                         [("", "0", "limit"), ("", "501", "limit"), ("", "x", "limit"),
                          ("nobody", "5", "after")])
def test_training_read_refuses_bad_paging(chain, alice, after, limit, field):
    chain.register(alice)
    err = chain.refused("ReadTrainingEvents", "personalisation", after, limit, msp=ORG2)
    assert err.field == field


def test_training_read_needs_the_gateway_role(chain, alice):
    chain.register(alice)
    err = chain.refused("ReadTrainingEvents", "personalisation", "", "5", msp=ORG2, role=None)
    assert isinstance(err, MissingAttribute)
