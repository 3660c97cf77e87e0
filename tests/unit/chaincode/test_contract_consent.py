"""Public state through the contract on the memory ledger: her registration, her signed
consent statements and what any member may ask of them, and model provenance.

The statement rules themselves (signature, time window, narrowing) are tested on the pure
functions in ``test_consent.py`` and ``test_policy.py``; here what the contract writes,
emits and answers with them.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chaincode.consent import consent_key, nonce_key
from chaincode.errors import (
    BadSignature,
    CategoryNotGranted,
    ConsentExpired,
    ConsentNotFound,
    ConsentWithdrawn,
    CustomerExists,
    MissingAttribute,
    ModelExists,
    ModelNotFound,
    NotARecipient,
    PurposeNotGranted,
    ReplayedNonce,
    RetailerMismatch,
    UnknownCustomer,
    WideningNotAllowed,
)
from chaincode.fields import format_timestamp
from chaincode.keys import customer_key

ORG1, ORG2, ORG3 = "Org1MSP", "Org2MSP", "Org3MSP"  # the members of conftest's Chain


def test_any_member_registers_her_key_once(chain, alice):
    record = chain.call("RegisterCustomer", alice.key.b64url, msp=ORG3, role=None)
    assert record["customer_id"] == alice.id
    assert json.loads(chain.ledger.state[customer_key(alice.id).render()]) == record
    err = chain.refused("RegisterCustomer", alice.key.b64url, msp=ORG2)
    assert isinstance(err, CustomerExists)


@pytest.mark.parametrize(("action", "overrides", "event", "version"), [
    ("grant", {}, "ConsentGranted", 1),
    ("narrow", {"recipients": [ORG2]}, "ConsentNarrowed", 2),
    ("withdraw", {}, "ConsentWithdrawn", 2),
])
def test_each_statement_writes_its_version_spends_its_nonce_and_says_so(chain, alice, action,
                                                                        overrides, event,
                                                                        version):
    chain.register(alice)
    if action != "grant":
        chain.consent(alice)
    doc = alice.statement(action, **overrides)
    record = chain.call("SubmitConsentStatement", alice.wire(doc), msp=ORG3, role=None)
    assert record["version"] == version
    assert json.loads(chain.ledger.state[consent_key(alice.id, "k-0001").render()]) == record
    assert nonce_key(alice.id, doc["nonce"]).render() in chain.ledger.state
    block = chain.ledger.blocks[-1]
    assert block.event is not None and block.event.name == event
    assert json.loads(block.event.payload) == {"customer_id": alice.id,
                                               "consent_id": "k-0001", "version": version}
    assert block.hashed_writes == ()


def test_a_statement_is_refused_when_replayed_forged_widened_or_for_no_one(chain, alice,
                                                                           mallory):
    err = chain.refused("SubmitConsentStatement", alice.wire(alice.statement()))
    assert isinstance(err, UnknownCustomer)
    chain.register(alice)
    doc = alice.statement(recipients=[ORG2])
    chain.call("SubmitConsentStatement", alice.wire(doc))
    assert isinstance(chain.refused("SubmitConsentStatement", alice.wire(doc)), ReplayedNonce)
    grant = alice.statement(consent_id="k-0002")
    forged = json.dumps({**grant, "signature": mallory.sign(grant)})
    assert isinstance(chain.refused("SubmitConsentStatement", forged), BadSignature)
    wider = alice.wire(alice.statement("narrow", recipients=[ORG2, ORG3]))
    assert isinstance(chain.refused("SubmitConsentStatement", wider), WideningNotAllowed)


def test_her_consents_are_listed_with_their_status_at_the_time_asked(chain, alice):
    chain.register(alice)
    expiry = chain.now + timedelta(days=1)
    chain.consent(alice, consent_id="k-short", expires_at=format_timestamp(expiry))
    chain.consent(alice, consent_id="k-long")
    chain.consent(alice, consent_id="k-gone")
    chain.consent(alice, "withdraw", consent_id="k-gone")

    def statuses(at):
        listed = chain.call("ListConsents", alice.id, msp=ORG2, role=None, at=at)
        return {c["consent_id"]: c["status"] for c in listed["consents"]}

    assert statuses(chain.now) == {"k-short": "active", "k-long": "active",
                                   "k-gone": "withdrawn"}
    assert statuses(expiry) == {"k-short": "expired", "k-long": "active",
                                "k-gone": "withdrawn"}


def test_a_consents_history_lists_every_version_oldest_first(chain, alice):
    chain.register(alice)
    chain.consent(alice)
    chain.consent(alice, "narrow", recipients=[ORG3], at=chain.now + timedelta(minutes=1))
    chain.consent(alice, "withdraw", at=chain.now + timedelta(minutes=2))
    history = chain.call("ConsentHistory", alice.id, "k-0001", msp=ORG2)
    versions = [v["record"]["version"] for v in history["versions"]]
    assert versions == [1, 2, 3]
    assert history["versions"][1]["record"]["recipients"] == [ORG3]
    assert history["versions"][2]["record"]["withdrawn_at"] is not None
    err = chain.refused("ConsentHistory", alice.id, "k-none")
    assert isinstance(err, ConsentNotFound)


@pytest.mark.parametrize(("consent", "caller", "purpose", "category", "error"), [
    ({"recipients": [ORG3]}, ORG2, "analytics", "views", NotARecipient),
    ({"purposes": ["analytics"]}, ORG2, "personalisation", "views", PurposeNotGranted),
    ({"data_categories": ["views"]}, ORG2, "analytics", "purchases", CategoryNotGranted),
    (None, ORG2, "analytics", "views", ConsentNotFound),
])
def test_check_consent_names_why_a_consent_does_not_open_a_read(chain, alice, consent, caller,
                                                                purpose, category, error):
    chain.register(alice)
    if consent is not None:
        chain.consent(alice, **consent)
    err = chain.refused("CheckConsent", alice.id, ORG1, purpose, category, msp=caller)
    assert isinstance(err, error)


def test_check_consent_follows_withdrawal_and_expiry(chain, alice):
    chain.register(alice)
    expiry = chain.now + timedelta(hours=1)
    chain.consent(alice, consent_id="k-1", expires_at=format_timestamp(expiry))
    chain.consent(alice, consent_id="k-2", recipients=[ORG2])
    args = (alice.id, ORG1, "analytics", "views")
    assert chain.call("CheckConsent", *args, msp=ORG3) == {
        "allowed": True, "basis": "consent", "consent_id": "k-1"}
    assert isinstance(chain.refused("CheckConsent", *args, msp=ORG3, at=expiry), ConsentExpired)
    chain.consent(alice, "withdraw", consent_id="k-2")
    assert isinstance(chain.refused("CheckConsent", *args, msp=ORG2, at=expiry),
                      ConsentWithdrawn)
    # The retailer that holds the data reads its own without a consent.
    assert chain.call("CheckConsent", *args, msp=ORG1, at=expiry)["basis"] == "owner"


# --- model provenance -----------------------------------------------------------------------------


def _provenance(retailer: str, model_id: str = "lightfm-a") -> str:
    return json.dumps({
        "model_id": model_id, "retailer": retailer, "content_hash": "ab" * 32,
        "created_at": "2025-03-01T11:00:00.000Z",
        "training": {"block_height": 12, "record_count": 40, "purpose": "personalisation",
                     "consent_set_hash": "cd" * 32},
        "metrics": {"auc": 0.9},
    })


def test_a_gateway_records_its_own_models_provenance_once(chain):
    record = chain.call("RecordModelProvenance", _provenance(ORG2), msp=ORG2)
    assert chain.call("GetModelProvenance", "lightfm-a", msp=ORG3, role=None) == record
    err = chain.refused("RecordModelProvenance", _provenance(ORG2), msp=ORG2)
    assert isinstance(err, ModelExists)
    err = chain.refused("RecordModelProvenance", _provenance(ORG1, "lightfm-b"), msp=ORG2)
    assert isinstance(err, RetailerMismatch)
    err = chain.refused("RecordModelProvenance", _provenance(ORG2, "lightfm-c"), msp=ORG2,
                        role=None)
    assert isinstance(err, MissingAttribute)
    assert isinstance(chain.refused("GetModelProvenance", "lightfm-b"), ModelNotFound)
