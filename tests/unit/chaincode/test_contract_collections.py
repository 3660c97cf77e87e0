"""Each owner's collection on the memory ledger: only its own gateway reaches it through its
server, and nothing written or read there links a customer to the owner.

What only a running peer shows (the collection's endorsement policy, which peers store what,
what a block really carries) is tested in ``tests/integration/test_threat_model.py``; here
the contract's own share: its refusals, and the keys, values and read sets it produces.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from chaincode.collection_config import collection_for
from chaincode.erasure import erasure_key
from chaincode.errors import MissingAttribute, RetailerMismatch
from chaincode.statekeys import CompositeKey

ORG1, ORG2, ORG3 = "Org1MSP", "Org2MSP", "Org3MSP"  # the members of conftest's Chain
MEMBERS = (ORG1, ORG2, ORG3)

#: Every transaction that reads or writes the owner's collection.
OWNER_FUNCTIONS = (
    "RecordPreferenceEvents",
    "ReadOwnEvents",
    "ReadOwnTraining",
    "ReadSharedEvents",
    "ReadSharedTraining",
    "LogReads",
    "ExportOwnData",
    "PurgeCustomer",
    "PendingErasures",
)


def _others(owner: str) -> list[str]:
    return [msp for msp in MEMBERS if msp != owner]


def _held(chain: Any, owner: str) -> tuple[Any, Any]:
    """Alice, who consented and has events at ``owner``; Bob, erased."""
    alice, bob = chain.new_customer(), chain.new_customer()
    for customer in (alice, bob):
        chain.register(customer)
        chain.consent(customer, recipients=["*"])
    chain.record(chain.event(alice, owner), msp=owner)
    chain.erase(bob, owner)
    return alice, bob


def _owner_call(chain: Any, function: str, owner: str, alice: Any, bob: Any
                ) -> tuple[tuple[str, ...], dict[str, bytes] | None]:
    """Arguments and transient map with which ``owner``'s own gateway is served ``function``."""
    reader, requester = _others(owner)
    events = json.dumps([chain.event(alice, owner)]).encode()
    entries = json.dumps([chain.entry(alice, reader, owner)]).encode()
    calls: dict[str, tuple[tuple[str, ...], dict[str, bytes] | None]] = {
        "RecordPreferenceEvents": ((), {"events": events}),
        "ReadOwnEvents": ((alice.id,), None),
        "ReadOwnTraining": (("", "10"), None),
        "ReadSharedEvents": ((alice.id, reader, "personalisation"), None),
        "ReadSharedTraining": ((reader, "personalisation", "", "10"), None),
        "LogReads": ((), {"entries": entries}),
        "ExportOwnData": ((requester,), {"request": chain.rights(alice, "export", requester)}),
        "PurgeCustomer": ((bob.id,), None),
        "PendingErasures": ((), None),
    }
    return calls[function]


@pytest.mark.parametrize("function", OWNER_FUNCTIONS)
@pytest.mark.parametrize("owner", MEMBERS)
def test_an_owners_server_refuses_another_members_gateway(chain, owner, function):
    alice, bob = _held(chain, owner)
    args, transient = _owner_call(chain, function, owner, alice, bob)
    for intruder in _others(owner):
        err = chain.refused(function, *args, msp=intruder, on=owner, transient=transient)
        assert isinstance(err, RetailerMismatch)
    # The same call from the owner's own gateway is served: the caller was refused.
    chain.call(function, *args, msp=owner, transient=transient)


@pytest.mark.parametrize("role", [None, "kiosk"])
@pytest.mark.parametrize("function", OWNER_FUNCTIONS)
def test_an_owners_server_refuses_its_own_members_identity_without_the_gateway_role(
        chain, function, role):
    alice, bob = _held(chain, ORG1)
    args, transient = _owner_call(chain, function, ORG1, alice, bob)
    err = chain.refused(function, *args, msp=ORG1, role=role, transient=transient)
    assert isinstance(err, MissingAttribute)
    assert err.field == "prefshare.role"


def test_an_owners_events_live_only_in_its_own_collection(chain, alice):
    chain.register(alice)
    north = chain.event(alice, ORG1, item_id="sku-north")
    south = chain.event(alice, ORG2, item_id="sku-south")
    chain.record(north, msp=ORG1)
    chain.record(south, msp=ORG2)

    assert set(chain.ledger.private) == {collection_for(ORG1), collection_for(ORG2)}
    for block in chain.ledger.blocks[-2:]:
        assert {w.collection for w in block.hashed_writes} == {collection_for(block.creator_msp)}
    assert all(b"sku-south" not in value for value in chain.collection(ORG1).values())
    assert all(b"sku-north" not in value for value in chain.collection(ORG2).values())
    assert chain.collection(ORG3) == {}
    for owner, doc in ((ORG1, north), (ORG2, south)):
        held = chain.call("ReadOwnEvents", alice.id, msp=owner)["events"]
        assert [event["event_id"] for event in held] == [doc["event_id"]]


def test_an_owner_records_only_events_in_its_own_name(chain, alice):
    chain.register(alice)
    err = chain.refused(
        "RecordPreferenceEvents",
        transient={"events": json.dumps([chain.event(alice, ORG1),
                                         chain.event(alice, ORG2)]).encode()})
    assert isinstance(err, RetailerMismatch)
    assert err.field == "[1].retailer"


def test_the_owners_training_pages_cover_its_own_holdings_once(chain):
    customers = [chain.new_customer() for _ in range(3)]
    recorded = set()
    for customer in customers:
        chain.register(customer)
        docs = [chain.event(customer) for _ in range(2)]
        chain.record(*docs)
        recorded |= {doc["event_id"] for doc in docs}
    chain.record(chain.event(customers[0], ORG2), msp=ORG2)

    seen: list[str] = []
    after, counts = "", []
    while after is not None:
        page = chain.call("ReadOwnTraining", after, "2")
        seen += [event["event_id"] for event in page["events"]]
        counts.append(page["customers"])
        after = page["next"]
    assert counts == [2, 1]
    assert sorted(seen) == sorted(recorded)


# --- nothing linkable ----------------------------------------------------------------------------


def test_recording_events_reads_and_writes_no_public_key(chain, alice, mallory):
    for customer in (alice, mallory):
        chain.register(customer)
    chain.record(chain.event(alice), chain.event(mallory), chain.event(alice))

    assert chain.reads is not None
    assert chain.reads.public == []
    block = chain.ledger.blocks[-1]
    assert block.public_writes == () and block.event is None
    assert json.loads(block.response) == {"recorded": 3}
    # Two customers, one holding each, read and written under the owner's collection only.
    assert len(chain.reads.private) == len(block.hashed_writes) == 2
    assert {collection for collection, _ in chain.reads.private} == {collection_for(ORG1)}


def test_logging_reads_reads_and_writes_no_public_key(chain, alice):
    chain.register(alice)
    request = chain.rights(alice, "export", ORG2)
    nonce = json.loads(request)["nonce"]
    chain.log_reads(chain.entry(alice), chain.entry(alice, kind="export"),
                    nonces={alice.id: nonce})

    assert chain.reads is not None and chain.reads.public == []
    block = chain.ledger.blocks[-1]
    assert block.public_writes == () and block.event is None
    assert json.loads(block.response) == {"logged": 2}


def _linkable_keys(customer_id: str) -> set[bytes]:
    """SHA-256 of every key a member could build from her public id alone, in the formats
    this chaincode uses or used (what a linkage attack hashes and looks for in blocks)."""
    kinds = ("hist", "reads", "served", "erased", "pref", "prefindex", "customer", "consent",
             "nonce", "erasure")
    keys = {customer_id}
    for kind in kinds:
        keys.add(CompositeKey(kind, (customer_id,)).render())
        keys.add(f"{kind}~{customer_id}")
        for msp in MEMBERS:
            keys.add(CompositeKey(kind, (customer_id, msp)).render())
    return {hashlib.sha256(key.encode()).digest() for key in keys}


def test_no_private_key_written_or_read_names_a_customer(chain):
    """Her whole life at two owners: events, shared reads logged, an export served, her
    erasure and every member's purge. No private key anyone wrote or read holds her id, and
    no hashed key in any block is the hash of a key built from her id."""
    customers = [chain.new_customer() for _ in range(2)]
    private_reads: list[tuple[str, str]] = []
    recording_public_reads: list[str] = []
    purge_public_reads: set[str] = set()

    def run(function: str, *args: str, **kwargs: Any) -> Any:
        answer = chain.call(function, *args, **kwargs)
        assert chain.reads is not None
        private_reads.extend(chain.reads.private)
        if function in ("RecordPreferenceEvents", "LogReads"):
            recording_public_reads.extend(chain.reads.public)
        if function == "PurgeCustomer":
            purge_public_reads.update(chain.reads.public)
        return answer

    for customer in customers:
        chain.register(customer)
        chain.consent(customer)
        for owner in (ORG1, ORG2):
            events = json.dumps([chain.event(customer, owner) for _ in range(3)]).encode()
            run("RecordPreferenceEvents", msp=owner, transient={"events": events})
            run("ReadSharedEvents", customer.id, ORG3, "personalisation", msp=owner)
            request = chain.rights(customer, "export", ORG3)
            run("ExportOwnData", ORG3, msp=owner, transient={"request": request})
            entries = json.dumps([chain.entry(customer, ORG3, owner, kind="export")]).encode()
            nonces = json.dumps({customer.id: json.loads(request)["nonce"]}).encode()
            run("LogReads", msp=owner, transient={"entries": entries, "nonces": nonces})
        run("ReadSharedTraining", ORG2, "analytics", "", "10", msp=ORG1)
        chain.erase(customer)
        for owner in MEMBERS:
            run("PurgeCustomer", customer.id, msp=owner)

    assert recording_public_reads == []
    # A purge reads her public erasure record, as every member does for every erasure.
    assert purge_public_reads == {erasure_key(c.id).render() for c in customers}
    stored_keys = [key for _, key in chain.ledger.private_store]
    read_keys = [key for _, key in private_reads]
    assert len(stored_keys) >= 2 * 2 * 3  # holdings, read logs, served marks, erasure marks
    hashed = [write.key_hash for block in chain.ledger.blocks for write in block.hashed_writes]
    for customer in customers:
        assert not [key for key in stored_keys + read_keys if customer.id in key]
        assert not _linkable_keys(customer.id) & set(hashed)


def test_two_owners_key_the_same_customer_differently(chain, alice):
    chain.register(alice)
    chain.record(chain.event(alice, ORG1), msp=ORG1)
    chain.record(chain.event(alice, ORG2), msp=ORG2)

    org1_keys, org2_keys = set(chain.collection(ORG1)), set(chain.collection(ORG2))
    assert len(org1_keys) == len(org2_keys) == 1
    assert org1_keys != org2_keys


def test_the_owners_keys_depend_on_its_secret_not_on_her_id_alone(chain, alice):
    """A server of the same owner with another secret (say, a competitor guessing the key
    derivation) finds nothing of hers under the keys it derives."""
    chain.register(alice)
    chain.record(chain.event(alice))
    genuine = chain.servers[ORG1]
    chain.servers[ORG1] = type(genuine)(ORG1, type(genuine.keys)(b"g" * 32), MEMBERS)
    assert chain.call("ReadOwnEvents", alice.id)["events"] == []
    chain.servers[ORG1] = genuine
    assert len(chain.call("ReadOwnEvents", alice.id)["events"]) == 1


def test_values_are_salted_per_transaction(chain, alice, mallory):
    """Two erasure marks written at the same moment hold the same facts; their hashes in the
    blocks still differ, so a value hash cannot be confirmed by guessing its content."""
    for customer in (alice, mallory):
        chain.register(customer)
        chain.erase(customer)
    marks = []
    for customer in (alice, mallory):
        for owner in (ORG1, ORG2):
            chain.purge(customer, owner, at=chain.now)
            (put,) = [w for w in chain.ledger.blocks[-1].hashed_writes if not w.is_delete]
            marks.append(put.value_hash)
    assert len(set(marks)) == len(marks)
