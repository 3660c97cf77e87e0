"""The Fabric client against a real Fabric 2.1.1 network: 3 Raft orderers, one peer per
retailer, the Python chaincode as a service, MAJORITY endorsement, one collection.

The network is the session's (conftest ``fabric_network``); no test here stops a node.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from fabric_protos.msp import identities_pb2

from chaincode.canonical import b64url_encode
from chaincode.errors import CustomerExists, UnknownCustomer
from chaincode.fields import format_timestamp
from demo.gateway_settings import gateway_settings
from demo.wallet import DemoCustomer
from gateway.fabric import (
    Checkpoint,
    CommitError,
    EndorseError,
    EndorsementPolicy,
    EvaluateError,
    Gateway,
    ecdsa_signer,
    load_msp_folder,
)
from gateway.fabric.signing import CURVE_ORDERS, is_low_s
from gateway.ledger import LedgerConnection, open_ledger
from gateway.settings import NodeEndpoint

ROOT = Path(__file__).resolve().parents[2]
P256_ORDER = CURVE_ORDERS["secp256r1"]


def _dead_port() -> int:
    """A port on 127.0.0.1 with no listener (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def connect(fabric_network: Any, tmp_path: Path) -> Iterator[Any]:
    """``connect(retailer="northwind", **settings overrides) -> LedgerConnection``."""
    opened: list[LedgerConnection] = []

    def open_one(retailer: str = "northwind", **overrides: Any) -> LedgerConnection:
        settings = gateway_settings(fabric_network.consortium, retailer,
                                         fabric_network.layout, data_dir=tmp_path, **overrides)
        opened.append(open_ledger(settings))
        return opened[-1]

    yield open_one
    for connection in opened:
        connection.close()


@pytest.fixture
def northwind(connect: Any) -> LedgerConnection:
    return connect("northwind")


def _msp_ids(endorsers: tuple[bytes, ...]) -> list[str]:
    return sorted(identities_pb2.SerializedIdentity.FromString(e).mspid for e in endorsers)


def _registered(connection: LedgerConnection) -> DemoCustomer:
    customer = DemoCustomer.new()
    connection.ledger.register_customer(customer.public_key)
    return customer


# --- evaluate -------------------------------------------------------------------------------


def test_evaluate_on_the_own_peer_returns_the_chaincode_result(northwind):
    customer = _registered(northwind)

    assert northwind.ledger.list_consents(customer.customer_id) == ()
    assert northwind.ledger.block_height("prefshare") > 1


def test_evaluate_refused_by_the_chaincode_carries_its_error_and_the_peer(northwind):
    with pytest.raises(EvaluateError) as caught:
        northwind.ledger.list_consents(DemoCustomer.new().customer_id)

    assert isinstance(caught.value.chaincode_error(), UnknownCustomer)
    assert [(d.msp_id, d.status) for d in caught.value.details] == [("NorthwindMSP", 404)]


# --- submit: endorsement --------------------------------------------------------------------


def test_submit_is_endorsed_by_a_majority_and_commits_valid(northwind):
    customer = DemoCustomer.new()
    contract = northwind.ledger.contract

    transaction = contract.endorse("RegisterCustomer", args=[customer.public_key])
    status = contract.submit_endorsed(transaction).status()

    assert _msp_ids(transaction.endorsers) == ["NorthwindMSP", "SouthgateMSP"]
    assert status.successful and status.block_number > 0
    assert is_low_s(transaction.signature, P256_ORDER)
    assert json.loads(transaction.result)["customer_id"] == customer.customer_id


def test_every_endorsement_signature_verifies_over_the_agreed_payload(northwind):
    from fabric_protos.common import common_pb2
    from fabric_protos.peer import transaction_pb2

    transaction = northwind.ledger.contract.endorse(
        "RegisterCustomer", args=[DemoCustomer.new().public_key])

    payload = common_pb2.Payload.FromString(transaction.payload)
    action = transaction_pb2.ChaincodeActionPayload.FromString(
        transaction_pb2.Transaction.FromString(payload.data).actions[0].payload).action
    for endorsement in action.endorsements:
        identity = identities_pb2.SerializedIdentity.FromString(endorsement.endorser)
        key = x509.load_pem_x509_certificate(identity.id_bytes).public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(endorsement.signature, action.proposal_response_payload + endorsement.endorser,
                   ec.ECDSA(hashes.SHA256()))


def test_one_unreachable_peer_does_not_stop_writes(connect, fabric_network):
    southgate = next(p for p in fabric_network.plan.peers if p.org == "southgate")
    eastmarket = next(p for p in fabric_network.plan.peers if p.org == "eastmarket")
    layout = fabric_network.layout
    connection = connect(endorsing_peers=(
        NodeEndpoint(address=f"127.0.0.1:{_dead_port()}", msp_id=southgate.msp_id,
                     tls_root=layout.ca_root_cert("southgate")),
        NodeEndpoint(address=f"{eastmarket.host}:{eastmarket.port}", msp_id=eastmarket.msp_id,
                     tls_root=layout.ca_root_cert("eastmarket"))))

    transaction = connection.ledger.contract.endorse(
        "RegisterCustomer", args=[DemoCustomer.new().public_key])

    assert _msp_ids(transaction.endorsers) == ["EastmarketMSP", "NorthwindMSP"]
    assert connection.ledger.contract.submit_endorsed(transaction).status().successful


def test_too_few_reachable_organisations_is_an_endorse_error_naming_them(connect, fabric_network):
    layout = fabric_network.layout
    dead = tuple(NodeEndpoint(address=f"127.0.0.1:{_dead_port()}", msp_id=p.msp_id,
                              tls_root=layout.ca_root_cert(p.org))
                 for p in fabric_network.plan.peers if p.org != "northwind")
    connection = connect(endorsing_peers=dead, endorse_timeout_s=3.0)

    with pytest.raises(EndorseError) as caught:
        connection.ledger.register_customer(DemoCustomer.new().public_key)

    assert caught.value.code is grpc.StatusCode.UNAVAILABLE
    assert sorted(d.msp_id for d in caught.value.details) == ["EastmarketMSP", "SouthgateMSP"]


def test_chaincode_refusal_at_endorsement_is_final_and_typed(northwind):
    customer = _registered(northwind)

    with pytest.raises(EndorseError) as caught:
        northwind.ledger.register_customer(customer.public_key)

    assert isinstance(caught.value.chaincode_error(), CustomerExists)


def _seen_by(connection: LedgerConnection, customer: DemoCustomer) -> None:
    """Wait until ``connection``'s peer committed the customer's registration (each peer
    commits a block on its own; the submitter was woken by its own peer's commit)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            connection.ledger.list_consents(customer.customer_id)
            return
        except EvaluateError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_private_data_is_endorsed_only_by_its_owner_on_its_own_peer(northwind, connect, caplog):
    caplog.set_level(logging.DEBUG)
    customer = _registered(northwind)
    _seen_by(connect("eastmarket"), customer)
    event = {"event_id": f"e-{os.getpid()}-{time.time_ns()}", "customer_id": customer.customer_id,
             "retailer": "NorthwindMSP", "item_id": "sku-4711", "item_category": "outdoor/shoes",
             "event_type": "purchase", "value": 1, "store_id": "berlin-01",
             "timestamp": format_timestamp(datetime.now(UTC) - timedelta(minutes=1)),
             "salt": b64url_encode(os.urandom(16))}
    contract = northwind.ledger.contract
    transient = {"events": json.dumps([event]).encode()}

    # Another organisation's peer does not endorse a write to northwind's collection (its
    # chaincode serves only its own gateway), so the events never leave northwind's peer.
    with pytest.raises(EndorseError) as caught:
        contract.endorse("RecordPreferenceEvents", transient=transient,
                         endorsing_orgs=["NorthwindMSP", "EastmarketMSP"])
    assert caught.value.chaincode_error().code == "RETAILER_MISMATCH"

    # The collection's own policy: northwind's peer alone (chaincode/collection_config.py).
    transaction = contract.endorse("RecordPreferenceEvents", transient=transient,
                                   endorsing_orgs=["NorthwindMSP"],
                                   policy=EndorsementPolicy(("NorthwindMSP",), 1))

    assert _msp_ids(transaction.endorsers) == ["NorthwindMSP"]
    assert b"sku-4711" not in transaction.bytes()
    assert contract.submit_endorsed(transaction).status().successful
    assert "sku-4711" not in caplog.text


# --- signatures -----------------------------------------------------------------------------


def _high_s(signature: bytes) -> bytes:
    r, s = utils.decode_dss_signature(signature)
    return utils.encode_dss_signature(r, s if s > P256_ORDER // 2 else P256_ORDER - s)


def test_peer_refuses_a_high_s_proposal_signature_and_accepts_ours(northwind, fabric_network):
    msp = load_msp_folder(fabric_network.layout.msp("northwind", "gateway"), "NorthwindMSP")
    contract = northwind.ledger.system
    high = contract.new_proposal("GetChainInfo", args=["prefshare"])
    high.set_signature(_high_s(ecdsa_signer(msp.private_key)(high.digest())))
    low = contract.new_proposal("GetChainInfo", args=["prefshare"])
    low.sign(ecdsa_signer(msp.private_key))

    with pytest.raises(EvaluateError):
        contract.evaluate_proposal(high)
    assert contract.evaluate_proposal(low)
    assert is_low_s(low.signature, P256_ORDER) and not is_low_s(high.signature, P256_ORDER)


# --- ordering -------------------------------------------------------------------------------


def test_broadcast_fails_over_when_the_first_orderer_is_dead(connect, fabric_network):
    real = [NodeEndpoint(address=f"{o.host}:{o.port}", msp_id="OrderingMSP",
                         tls_root=fabric_network.layout.ca_root_cert("ordering"))
            for o in fabric_network.plan.orderers]
    dead = NodeEndpoint(address=f"127.0.0.1:{_dead_port()}", msp_id="OrderingMSP",
                        tls_root=real[0].tls_root)
    connection = connect(orderers=(dead, *real))

    _registered(connection)
    _registered(connection)

    preferred = connection.gateway.broadcaster.preferred
    assert preferred is not None and preferred.address == real[0].address


# --- commit status --------------------------------------------------------------------------


def test_many_concurrent_submits_are_woken_by_one_deliver_stream(northwind):
    listener = northwind.gateway.network("prefshare").commit_listener
    customers = [DemoCustomer.new() for _ in range(24)]
    results: list[Any] = []

    def submit(customer: DemoCustomer) -> None:
        results.append(northwind.ledger.contract.submit_async(
            "RegisterCustomer", args=[customer.public_key]).status())

    threads = [threading.Thread(target=submit, args=(c,)) for c in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(results) == 24 and all(s.successful for s in results)
    assert listener.connections == 1
    assert len({s.block_number for s in results}) < 24  # several commits per block


def test_commit_listener_reconnects_from_the_last_block_seen(northwind):
    listener = northwind.gateway.network("prefshare").commit_listener
    _registered(northwind)
    before = listener.last_block
    assert before is not None

    listener.interrupt()
    customer = _registered(northwind)  # committed while or after the stream reconnects

    assert listener.connections >= 2
    assert listener.last_block is not None and listener.last_block > before
    assert northwind.ledger.list_consents(customer.customer_id) == ()


def test_mvcc_conflict_raises_commit_error(northwind):
    contract = northwind.ledger.contract
    customer = DemoCustomer.new()
    # Both endorsed before either is ordered: both read "no such customer".
    first = contract.endorse("RegisterCustomer", args=[customer.public_key])
    second = contract.endorse("RegisterCustomer", args=[customer.public_key])

    statuses = [contract.submit_endorsed(t).status() for t in (first, second)]

    assert statuses[0].successful
    assert statuses[1].code_name == "MVCC_READ_CONFLICT"


def test_too_few_endorsements_commit_as_endorsement_policy_failure(northwind, fabric_network):
    msp = load_msp_folder(fabric_network.layout.msp("northwind", "gateway"), "NorthwindMSP")
    lone = Gateway.connect(msp.identity, ecdsa_signer(msp.private_key), northwind.gateway.peer,
                           orderers=northwind.gateway.broadcaster.orderers,
                           policy=EndorsementPolicy(("NorthwindMSP",), 1))
    try:
        with pytest.raises(CommitError) as caught:
            lone.network("prefshare").contract("prefshare").submit(
                "RegisterCustomer", args=[DemoCustomer.new().public_key])
    finally:
        lone.close()

    assert caught.value.code_name == "ENDORSEMENT_POLICY_FAILURE"
    assert caught.value.block_number > 0


# --- chaincode events -----------------------------------------------------------------------


def test_chaincode_events_resume_from_a_block_number_and_a_checkpoint(northwind):
    customer = _registered(northwind)
    members = ["NorthwindMSP", "SouthgateMSP", "EastmarketMSP"]
    network = northwind.gateway.network("prefshare")
    tx_ids = []
    for _ in range(2):
        submitted = northwind.ledger.contract.submit_async(
            "SubmitConsentStatement", args=[json.dumps(customer.grant(members))])
        status = submitted.status()
        tx_ids.append((submitted.transaction_id, status.block_number))

    ours = {tx for tx, _ in tx_ids}

    def events_until(last_tx: str, **start: Any) -> list[Any]:
        """Our events from the stream until ``last_tx``'s (closed after 30 s regardless)."""
        found: list[Any] = []
        with network.chaincode_events("prefshare", **start) as events:
            timer = threading.Timer(30, events.close)
            timer.start()
            try:
                for event in events:
                    if event.transaction_id in ours:
                        found.append(event)
                    if event.transaction_id == last_tx:
                        break
            finally:
                timer.cancel()
        return found

    (tx1, block1), (tx2, block2) = tx_ids
    from_block = events_until(tx2, start_block=block1)
    after_first = events_until(tx2, checkpoint=Checkpoint(block1, tx1))

    assert [(e.transaction_id, e.event_name, e.block_number) for e in from_block] == [
        (tx1, "ConsentGranted", block1), (tx2, "ConsentGranted", block2)]
    assert [e.transaction_id for e in after_first] == [tx2]


def test_transaction_id_is_what_the_peer_recorded(northwind):
    customer = DemoCustomer.new()
    submitted = northwind.ledger.contract.submit_async(
        "RegisterCustomer", args=[customer.public_key])

    assert submitted.status().transaction_id == submitted.transaction_id
    assert len(submitted.transaction_id) == len(hashlib.sha256().hexdigest())
