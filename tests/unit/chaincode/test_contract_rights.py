"""Her rights on the memory ledger: the owners' read logs, her export (public part and each
owner's part, once per request), her erasure and each owner's purge, and the refusal of
anything she signed before her latest erasure.

On the real network: ``tests/integration/test_threat_model.py`` (served once, pre-erasure
grant, a holder down during her erasure) and ``test_trust_sharing.py``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from chaincode.contract import PrefshareContract
from chaincode.errors import (
    Backdated,
    BadSignature,
    CustomerErased,
    GatewayMismatch,
    InvalidValue,
    MissingAttribute,
    ReplayedNonce,
    RetailerMismatch,
    WrongType,
)
from chaincode.fields import format_timestamp
from chaincode.holdings import OwnerKeys

ORG1, ORG2, ORG3 = "Org1MSP", "Org2MSP", "Org3MSP"  # the members of conftest's Chain
MEMBERS = (ORG1, ORG2, ORG3)


def _request(chain: Any, customer: Any, action: str, gateway: str, **kwargs: Any
             ) -> dict[str, bytes]:
    return {"request": chain.rights(customer, action, gateway, **kwargs)}


def _own_export(chain: Any, customer: Any, owner: str = ORG1, requester: str = ORG2,
                **kwargs: Any) -> Any:
    """ExportOwnData at ``owner`` of a fresh export request she sent ``requester``'s
    gateway."""
    return chain.call("ExportOwnData", requester, msp=owner,
                      transient=_request(chain, customer, "export", requester), **kwargs)


# --- the owner's read log -----------------------------------------------------------------------


def test_logged_reads_are_kept_in_order_by_the_owner_and_shown_in_her_export(chain, alice,
                                                                             mallory):
    for customer in (alice, mallory):
        chain.register(customer)
    first = [chain.entry(alice, ORG2), chain.entry(alice, ORG3, kind="training", count=40,
                                                    purpose="analytics")]
    later = chain.entry(alice, ORG2, at=format_timestamp(chain.now + timedelta(hours=1)),
                        consent_ids=["k-b", "k-a"])
    chain.log_reads(*first)
    chain.log_reads(later)

    log = _own_export(chain, alice)["access_log"]
    assert log == [*first, {**later, "consent_ids": ["k-a", "k-b"]}]
    assert _own_export(chain, mallory)["access_log"] == []
    assert _own_export(chain, alice, owner=ORG2, requester=ORG1)["access_log"] == []


def test_an_owner_logs_only_reads_of_its_own_data(chain, alice):
    chain.register(alice)
    err = chain.refused("LogReads", transient={"entries": json.dumps(
        [chain.entry(alice), chain.entry(alice, ORG3, owner=ORG2)]).encode()})
    assert isinstance(err, RetailerMismatch) and err.field == "[1].owner"


@pytest.mark.parametrize("count", [0, 501])
def test_a_log_batch_holds_1_to_500_entries(chain, alice, count):
    chain.register(alice)
    entries = json.dumps([chain.entry(alice)] * count).encode()
    err = chain.refused("LogReads", transient={"entries": entries})
    assert isinstance(err, InvalidValue) and err.field == "entries"


def test_a_malformed_log_entry_refuses_the_whole_batch(chain, alice):
    chain.register(alice)
    entries = [chain.entry(alice), chain.entry(alice, count="3")]
    err = chain.refused("LogReads", transient={"entries": json.dumps(entries).encode()})
    assert isinstance(err, WrongType) and err.field == "[1].count"


# --- her export -----------------------------------------------------------------------------------


def test_her_export_gives_her_record_consents_with_history_and_erasure(chain, alice):
    chain.register(alice)
    chain.consent(alice)
    chain.consent(alice, "narrow", recipients=[ORG2])
    chain.consent(alice, consent_id="k-0002", recipients=[ORG3])
    chain.consent(alice, "withdraw", consent_id="k-0002")

    export = chain.call("ExportCustomer", msp=ORG2,
                        transient=_request(chain, alice, "export", ORG2))
    assert export["customer"]["customer_id"] == alice.id
    assert export["customer"]["public_key"] == alice.key.b64url
    assert export["request"]["gateway"] == ORG2
    statuses = {c["consent_id"]: (c["status"], c["recipients"], len(c["versions"]))
                for c in export["consents"]}
    assert statuses == {"k-0001": ("active", [ORG2], 2), "k-0002": ("withdrawn", [ORG3], 2)}
    narrowed = next(c for c in export["consents"] if c["consent_id"] == "k-0001")
    assert [v["record"]["recipients"] for v in narrowed["versions"]] == [[ORG2, ORG3], [ORG2]]
    assert export["erasure"] is None

    chain.erase(alice, ORG3, at=chain.now + timedelta(minutes=5))
    later = chain.call("ExportCustomer", msp=ORG2, at=chain.now + timedelta(minutes=10),
                       transient=_request(chain, alice, "export", ORG2,
                                          signed_at=chain.now + timedelta(minutes=9)))
    assert later["customer"]["erased_at"] == format_timestamp(chain.now + timedelta(minutes=5))
    assert later["erasure"]["progress"] == dict.fromkeys(MEMBERS, "pending")
    assert {c["status"] for c in later["consents"]} == {"withdrawn"}


def test_each_owner_serves_her_export_request_once_after_logging_it(chain, alice):
    chain.register(alice)
    chain.record(chain.event(alice, ORG1), msp=ORG1)
    chain.record(chain.event(alice, ORG2), msp=ORG2)
    request = _request(chain, alice, "export", ORG3)
    nonce = json.loads(request["request"])["nonce"]

    served = chain.call("ExportOwnData", ORG3, transient=request)
    assert [e["retailer"] for e in served["events"]] == [ORG1]
    # Until the owner's gateway logs the export, a retry (say, a lost answer) is served.
    assert chain.call("ExportOwnData", ORG3, transient=request) == served
    chain.log_reads(chain.entry(alice, ORG3, kind="export", count=1, consent_ids=[]),
                    nonces={alice.id: nonce})

    err = chain.refused("ExportOwnData", ORG3, transient=request)
    assert isinstance(err, ReplayedNonce)
    # The mark is that owner's: the next owner serves the same request once too.
    other = chain.call("ExportOwnData", ORG3, msp=ORG2, transient=request)
    assert [e["retailer"] for e in other["events"]] == [ORG2]
    # And a new request of hers is served where the old one was refused.
    again = _own_export(chain, alice, requester=ORG3)
    assert again["access_log"][-1]["kind"] == "export"


@pytest.mark.parametrize(("function", "caller", "args", "named"), [
    ("ExportCustomer", ORG2, (), ORG1),
    ("ExportOwnData", ORG1, (ORG2,), ORG3),   # the owner serves ORG2's gateway, she named ORG3
    ("ExportOwnData", ORG1, (ORG2,), ORG1),
    ("EraseCustomer", ORG2, (), ORG1),
])
def test_a_rights_request_is_served_only_for_the_gateway_it_names(chain, alice, function, caller,
                                                                   args, named):
    chain.register(alice)
    action = "erase" if function == "EraseCustomer" else "export"
    err = chain.refused(function, *args, msp=caller,
                        transient=_request(chain, alice, action, named))
    assert isinstance(err, GatewayMismatch) and err.field == "gateway"


@pytest.mark.parametrize(("function", "args", "action"), [
    ("ExportCustomer", (), "erase"),
    ("ExportOwnData", (ORG1,), "erase"),
    ("EraseCustomer", (), "export"),
])
def test_a_rights_request_serves_only_its_own_action(chain, alice, function, args, action):
    chain.register(alice)
    err = chain.refused(function, *args, transient=_request(chain, alice, action, ORG1))
    assert isinstance(err, InvalidValue) and err.field == "action"


@pytest.mark.parametrize("function", ["ExportCustomer", "EraseCustomer"])
def test_a_rights_request_needs_her_signature_and_a_gateway(chain, alice, mallory, function):
    chain.register(alice)
    action = "erase" if function == "EraseCustomer" else "export"
    doc = json.loads(chain.rights(alice, action, ORG1))
    del doc["signature"]
    forged = {"request": json.dumps({**doc, "signature": mallory.sign(doc)}).encode()}
    assert isinstance(chain.refused(function, transient=forged), BadSignature)
    genuine = _request(chain, alice, action, ORG1)
    assert isinstance(chain.refused(function, transient=genuine, role=None), MissingAttribute)


# --- erasure ----------------------------------------------------------------------------------


def test_her_erasure_withdraws_her_open_consents_closes_her_id_and_names_every_member(chain,
                                                                                     alice):
    chain.register(alice)
    for consent_id in ("k-a", "k-b", "k-c"):
        chain.consent(alice, consent_id=consent_id)
    chain.consent(alice, "withdraw", consent_id="k-b")

    request = _request(chain, alice, "erase", ORG2)
    answer = chain.call("EraseCustomer", msp=ORG2, transient=request)
    assert answer["consents_withdrawn"] == 2
    assert answer["holders"] == list(MEMBERS)
    block = chain.ledger.blocks[-1]
    assert block.event is not None and block.event.name == "CustomerErased"
    assert json.loads(block.event.payload) == answer
    assert block.hashed_writes == ()  # public state only: each owner purges its own part
    for function, args in (("ListConsents", (alice.id,)),
                           ("CheckConsent", (alice.id, ORG1, "analytics", "views")),
                           ("ReadOwnEvents", (alice.id,))):
        assert isinstance(chain.refused(function, *args, msp=ORG2), CustomerErased)
    assert isinstance(chain.refused("EraseCustomer", msp=ORG2, transient=request),
                      ReplayedNonce)


def _progress(chain: Any, customer: Any) -> dict[str, str]:
    # Any member may ask, gateway or not.
    return chain.call("ErasureProgress", customer.id, msp=ORG3, role=None)["progress"]


def _pending(chain: Any, owner: str) -> list[str]:
    return chain.call("PendingErasures", msp=owner)["customers"]


def test_each_member_completes_her_erasure_in_its_own_collection(chain, alice, mallory):
    for customer in (alice, mallory):
        chain.register(customer)
        chain.consent(customer)
        chain.record(chain.event(customer, ORG1), msp=ORG1)
        chain.log_reads(chain.entry(customer))
    chain.record(chain.event(alice, ORG2), msp=ORG2)
    before = dict(chain.collection(ORG1))
    chain.erase(alice)
    assert _progress(chain, alice) == dict.fromkeys(MEMBERS, "pending")
    assert all(_pending(chain, owner) == [alice.id] for owner in MEMBERS)

    done = chain.purge(alice, ORG1)
    assert done["owner"] == ORG1 and done["done"] is True
    assert _progress(chain, alice) == {ORG1: "done", ORG2: "pending", ORG3: "pending"}
    assert _pending(chain, ORG1) == [] and _pending(chain, ORG2) == [alice.id]
    # Her holding and read log left Org1's collection; Mallory's are as they were.
    after = chain.collection(ORG1)
    gone = set(before) - set(after)
    assert len(gone) == 2
    assert all(after[key] == value for key, value in before.items() if key not in gone)
    mallory_events = chain.call("ReadOwnEvents", mallory.id)["events"]
    assert [event["customer_id"] for event in mallory_events] == [mallory.id]

    for owner in (ORG2, ORG3):
        chain.purge(alice, owner)
    assert _progress(chain, alice) == dict.fromkeys(MEMBERS, "done")
    # Her right to export what remains outlives her erasure: nothing of hers remains.
    later = chain.now + timedelta(minutes=2)
    for owner in (ORG1, ORG2):
        part = chain.call("ExportOwnData", ORG2, msp=owner, at=later, transient=_request(
            chain, alice, "export", ORG2, signed_at=later - timedelta(seconds=30)))
        assert part["events"] == [] and part["access_log"] == []


def test_a_purge_writes_the_same_at_a_holder_as_at_a_member_holding_nothing(chain, alice):
    chain.register(alice)
    chain.consent(alice)
    chain.record(chain.event(alice, ORG1), chain.event(alice, ORG1), msp=ORG1)
    chain.log_reads(chain.entry(alice, ORG3))
    chain.erase(alice)

    shapes, answers = [], []
    for owner in (ORG1, ORG3):
        answers.append(chain.purge(alice, owner))
        # Blind deletes: a read of her holding would put its version (none at a member
        # holding nothing) in the block's hashed read set.
        assert chain.reads is not None and chain.reads.private == []
        block = chain.ledger.blocks[-1]
        assert block.public_writes == () and block.event is None
        assert {write.collection for write in block.hashed_writes} == {f"events-{owner}"}
        shapes.append([(write.is_delete, write.is_purge, len(write.value_hash))
                       for write in block.hashed_writes])
    assert shapes[0] == shapes[1]
    assert answers[0] == {**answers[1], "owner": ORG1}


def test_a_later_erasure_is_pending_again_where_the_earlier_one_was_completed(chain, alice):
    chain.register(alice)
    first = chain.erase(alice)
    for owner in MEMBERS:
        chain.purge(alice, owner)
    reopened = chain.now + timedelta(minutes=2)
    chain.consent(alice, consent_id="k-again", at=reopened,
                  given_at=format_timestamp(reopened - timedelta(seconds=10)))
    second = chain.erase(alice, ORG3, at=chain.now + timedelta(minutes=4))
    assert second["erasure_id"] != first["erasure_id"]
    assert _progress(chain, alice) == dict.fromkeys(MEMBERS, "pending")
    assert _pending(chain, ORG1) == [alice.id]


def test_an_erasure_names_the_members_of_its_time(chain, alice):
    """A member that joined after her erasure (Org3 here) has nothing of hers to complete."""
    chain.register(alice)
    chain.servers[ORG1] = PrefshareContract(ORG1, OwnerKeys(b"1" * 32), (ORG1, ORG2))
    assert chain.erase(alice)["holders"] == [ORG1, ORG2]
    assert _pending(chain, ORG3) == []
    assert _pending(chain, ORG2) == [alice.id]
    assert set(_progress(chain, alice)) == {ORG1, ORG2}


@pytest.mark.parametrize("function", ["PurgeCustomer", "ErasureProgress"])
def test_there_is_no_erasure_to_complete_or_follow_before_she_erases(chain, alice, function):
    chain.register(alice)
    err = chain.refused(function, alice.id)
    assert isinstance(err, InvalidValue) and err.field == "customer_id"


def test_an_erased_customer_is_left_out_of_the_owners_training_pages(chain, alice, mallory):
    for customer in (alice, mallory):
        chain.register(customer)
        chain.record(chain.event(customer))
    chain.erase(alice)
    # Before Org1 purged as well as after: her id is closed.
    for _ in range(2):
        page = chain.call("ReadOwnTraining", "", "10")
        assert {event["customer_id"] for event in page["events"]} == {mallory.id}
        chain.purge(alice)


# --- nothing signed before her latest erasure counts -----------------------------------------


def test_a_grant_signed_before_her_erasure_is_refused(chain, alice):
    chain.register(alice)
    erased = chain.now + timedelta(minutes=10)
    chain.erase(alice, at=erased)
    for signed in (erased - timedelta(minutes=2), erased):
        err = chain.refused("SubmitConsentStatement", alice.wire(alice.statement(
            consent_id="k-old", given_at=format_timestamp(signed))),
            at=erased + timedelta(minutes=3))
        assert isinstance(err, Backdated) and err.field == "given_at"
    # While her id is closed, no narrowing or withdrawal counts either.
    err = chain.refused("SubmitConsentStatement", alice.wire(alice.statement(
        "withdraw", given_at=format_timestamp(erased + timedelta(minutes=1)))),
        at=erased + timedelta(minutes=3))
    assert isinstance(err, CustomerErased)


def test_a_later_grant_reopens_her_id_but_nothing_signed_before_her_erasure(chain, alice):
    """The fix of cd010e4: the check reads the public erasure record, which outlives the
    reopened customer record."""
    chain.register(alice)
    erased = chain.now + timedelta(minutes=10)
    before = erased - timedelta(seconds=30)
    old_grant = alice.wire(alice.statement(consent_id="k-old", recipients=["*"],
                                           given_at=format_timestamp(before)))
    old_export = chain.rights(alice, "export", ORG1, signed_at=before)
    old_erase = chain.rights(alice, "erase", ORG1, signed_at=before)
    chain.erase(alice, at=erased)
    reopen = erased + timedelta(minutes=2)
    chain.consent(alice, consent_id="k-new", recipients=[ORG2], at=reopen,
                  given_at=format_timestamp(reopen - timedelta(seconds=10)))
    assert chain.call("ListConsents", alice.id, at=reopen)["customer_id"] == alice.id

    later = erased + timedelta(minutes=5)
    err = chain.refused("SubmitConsentStatement", old_grant, at=later)
    assert isinstance(err, Backdated) and err.field == "given_at"
    for function, args, request in (("ExportCustomer", (), old_export),
                                     ("ExportOwnData", (ORG1,), old_export),
                                     ("EraseCustomer", (), old_erase)):
        err = chain.refused(function, *args, transient={"request": request}, at=later)
        assert isinstance(err, Backdated) and err.field == "requested_at"
    # What she signed since is served.
    fresh = chain.rights(alice, "export", ORG1, signed_at=later - timedelta(seconds=5))
    export = chain.call("ExportCustomer", transient={"request": fresh}, at=later)
    assert [c["consent_id"] for c in export["consents"] if c["status"] == "active"] == ["k-new"]


def test_an_owner_that_has_not_purged_yet_serves_nothing_from_before_her_erasure(chain, alice):
    """Org1's peer was down when she erased; she reopened her id with a new grant before
    Org1's gateway completed the erasure. What Org1 still holds from before must not be
    served: not to Org2 under the new grant, not to Org1's own kiosk, not in training."""
    chain.register(alice)
    chain.consent(alice, recipients=["*"])
    chain.record(chain.event(alice))
    erased = chain.now + timedelta(minutes=10)
    chain.erase(alice, ORG2, at=erased)
    for owner in (ORG2, ORG3):
        chain.purge(alice, owner, at=erased)
    reopen = erased + timedelta(minutes=2)
    chain.consent(alice, consent_id="k-new", recipients=[ORG2], at=reopen,
                  given_at=format_timestamp(reopen - timedelta(seconds=10)))

    assert chain.shared(alice, ORG2, at=reopen)["events"] == []
    assert chain.call("ReadOwnEvents", alice.id, at=reopen)["events"] == []
    for function, args in (("ReadOwnTraining", ("", "10")),
                           ("ReadSharedTraining", (ORG2, "personalisation", "", "10"))):
        assert chain.call(function, *args, at=reopen)["events"] == []
    # Her own export says what Org1 still holds; its purge then deletes it.
    export = chain.call("ExportOwnData", ORG2, at=reopen, transient=_request(
        chain, alice, "export", ORG2, signed_at=reopen))
    assert len(export["events"]) == 1
    assert _pending(chain, ORG1) == [alice.id]
    chain.purge(alice, at=reopen)
    chain.record(chain.event(alice), at=reopen)
    assert len(chain.shared(alice, ORG2, at=reopen)["events"]) == 1
