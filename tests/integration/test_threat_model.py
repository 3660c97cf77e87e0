"""The trust-model attack tests (issue 20): a dishonest member, or anyone holding one of its
identities, tries to learn or change more than the consent rules allow, and each attack fails.

Every test runs against the session's real network (conftest ``fabric_network``) and drives
Fabric's own ``peer`` CLI with the attacker's identity, where the project's client would refuse
to misbehave. Each refusal is paired with a test in which an identity that is entitled to the
same call gets it, so a refusal shows the policy and not a broken setup.

Full blocks (network/configtx.py, docs/network.md "Who may read what"): a block names every
public key read and written and the hash of every private key, so it serves the linkage attack;
only peers and organisation admins get one, from the orderer's ``Deliver``, qscc's block and
transaction queries and the peer's ``Deliver``. A retailer's client identities (its gateway's,
and a plain client without the gateway role) keep the filtered commit stream and the height.

The data path: each promise of docs/chaincode.md's threat-model table is attacked the way a
member that runs its own peer could: with Fabric's own ``peer`` CLI as its gateway identity,
with its own peer's signing key (a modified peer signs whatever it likes), by reading its
peer's files and every block, and by calling the other members' gateways with credentials of
its own. Every attack must fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fabric_protos.common import ledger_pb2
from fabric_protos.ledger.rwset import rwset_pb2 as _rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2 as _kv_rwset_pb2

from chaincode.collection_config import collection_for
from chaincode.fields import format_timestamp
from chaincode.holdings import erasure_marker_key
from chaincode.statekeys import CompositeKey
from demo.gateway_settings import gateway_settings
from demo.wallet import DemoCustomer
from gateway.fabric import ecdsa_signer, load_msp_folder
from gateway.fabric._protos import (
    chaincode_pb2,
    common_pb2,
    identities_pb2,
    peer_pb2_grpc,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)
from gateway.fabric.transaction import Transaction
from gateway.ledger import LedgerConnection, open_ledger
from gateway.members import CERT_HEADER, NONCE_HEADER, SIGNATURE_HEADER, TIME_HEADER
from network.control import Network
from network.errors import CommandFailed

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Generated modules without type stubs (as gateway/fabric/_protos.py binds its own).
rwset_pb2: Any = _rwset_pb2
kv_rwset_pb2: Any = _kv_rwset_pb2

#: The retailer whose identities act in the full-block tests.
ORG = "northwind"
#: Client identities of a retailer (NodeOU client): its gateway's, with the Fabric CA attribute
#: ``prefshare.role=gateway``, and its chaincode server's, a plain client without a role.
CLIENT_IDENTITIES = ("gateway", "chaincode")
#: qscc's queries that hand out a whole block or transaction, with an argument each: the ACL
#: is checked before the argument is looked at, so any value shows the refusal.
BLOCK_QUERIES = (("GetBlockByNumber", "1"), ("GetBlockByHash", "00"),
                 ("GetBlockByTxID", "0" * 64), ("GetTransactionByID", "0" * 64))


def _env(cli: Any, identity: str) -> dict[str, str]:
    """The peer CLI's environment at ``ORG``'s peer, acting as ``ORG``'s ``identity``
    (``cli`` is conftest's ``GatewayCli``)."""
    env = cli.env(cli.peer(ORG), ORG)
    env["CORE_PEER_MSPCONFIGPATH"] = str(cli.net.layout.msp(ORG, identity))
    return env


def _fetch_block(cli: Any, identity: str, target: Path, *, from_orderer: bool) -> int:
    """``peer channel fetch 1`` from the first orderer (or from ``ORG``'s own peer); returns
    the fetched block's number."""
    source = cli.tools.orderer_args(cli.net.plan.orderers[0]) if from_orderer else []
    cli.tools.run("peer", ["channel", "fetch", "1", str(target), "-c", cli.channel, *source],
                  env=_env(cli, identity), what="channel fetch", timeout=30)
    return int(common_pb2.Block.FromString(target.read_bytes()).header.number)


def _system_query(cli: Any, identity: str, chaincode: str, *args: str) -> bytes:
    """``peer chaincode query`` of a system chaincode on ``ORG``'s peer; returns the payload."""
    out = cli.tools.run("peer", [
        "chaincode", "query", "-C", cli.channel, "-n", chaincode, "--hex",
        "-c", json.dumps({"Args": list(args)})],
        env=_env(cli, identity), what=f"{chaincode} {args[0]}", timeout=30)
    return bytes.fromhex(out.strip().splitlines()[-1])


# -- full blocks: peers and organisation admins only ----------------------------------------


@pytest.mark.parametrize("identity", CLIENT_IDENTITIES)
def test_full_blocks_client_identity_is_refused_a_block_by_the_orderers_deliver(
        gateway_cli, tmp_path, identity):
    with pytest.raises(CommandFailed, match="FORBIDDEN"):
        _fetch_block(gateway_cli, identity, tmp_path / "1.block", from_orderer=True)
    assert not (tmp_path / "1.block").exists()


@pytest.mark.parametrize("identity", CLIENT_IDENTITIES)
def test_full_blocks_client_identity_is_refused_qscc_block_and_transaction_queries(
        gateway_cli, identity):
    for query, argument in BLOCK_QUERIES:
        with pytest.raises(CommandFailed, match=f"access denied for \\[{query}\\]"):
            _system_query(gateway_cli, identity, "qscc", query, gateway_cli.channel, argument)


@pytest.mark.parametrize("identity", CLIENT_IDENTITIES)
def test_full_blocks_client_identity_is_refused_the_peers_block_stream(
        gateway_cli, tmp_path, identity):
    with pytest.raises(CommandFailed, match="FORBIDDEN"):
        _fetch_block(gateway_cli, identity, tmp_path / "1.block", from_orderer=False)


@pytest.mark.parametrize("identity", ["admin", "peer0"])
def test_full_blocks_admin_and_peer_of_the_same_retailer_get_them_from_orderer_and_qscc(
        gateway_cli, tmp_path, identity):
    assert _fetch_block(gateway_cli, identity, tmp_path / "1.block", from_orderer=True) == 1
    block = common_pb2.Block.FromString(_system_query(
        gateway_cli, identity, "qscc", "GetBlockByNumber", gateway_cli.channel, "1"))
    assert block.header.number == 1 and block.data.data


def test_full_blocks_admin_gets_the_peers_block_stream(gateway_cli, tmp_path):
    assert _fetch_block(gateway_cli, "admin", tmp_path / "1.block", from_orderer=False) == 1


def test_full_blocks_gateway_keeps_its_commit_stream_height_and_config_block(gateway_cli):
    retailers = [r.name for r in gateway_cli.net.consortium.retailers]
    # --waitForEvent waits on the peer's DeliverFiltered stream (event/FilteredBlock) and
    # fails the command when the stream is refused or the transaction is invalid.
    gateway_cli.invoke(ORG, [ORG, retailers[1]], "RegisterCustomer",
                       DemoCustomer.new().public_key)
    info = ledger_pb2.BlockchainInfo.FromString(_system_query(
        gateway_cli, "gateway", "qscc", "GetChainInfo", gateway_cli.channel))
    assert info.height >= 2
    config = common_pb2.Block.FromString(_system_query(
        gateway_cli, "gateway", "cscc", "GetConfigBlock", gateway_cli.channel))
    assert config.header.number < info.height


# -- the data path: collections, linkage, erasure, member reads ---------------------------

OWNER, OTHER, THIRD = "northwind", "southgate", "eastmarket"
MSP = {"northwind": "NorthwindMSP", "southgate": "SouthgateMSP", "eastmarket": "EastmarketMSP"}
PORTS = {"northwind": 24180, "southgate": 24280, "eastmarket": 24380}
CHAINCODE = "prefshare"


@pytest.fixture(scope="module")
def cli(gateway_cli: Any) -> Any:
    return gateway_cli


@pytest.fixture(scope="module")
def own_client(fabric_network: Network, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[dict[str, LedgerConnection]]:
    """Each retailer's gateway identity on the project's client, no gateway in between."""
    opened = {org: open_ledger(gateway_settings(
        fabric_network.consortium, org, fabric_network.layout,
        data_dir=tmp_path_factory.mktemp(f"{org}-attacker"))) for org in MSP}
    yield opened
    for connection in opened.values():
        connection.close()


def _event(customer: DemoCustomer, retailer: str, item: str, event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id, "customer_id": customer.customer_id, "retailer": MSP[retailer],
        "item_id": item, "item_category": "outdoor/shoes", "event_type": "purchase",
        "value": 1, "store_id": "s01",
        "timestamp": format_timestamp(datetime.now(UTC) - timedelta(minutes=5)),
        "salt": base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("="),
    }


def _customer_with_events(cli: Any, owner: str, items: list[str],
                          grant_to: list[str] | None = None) -> DemoCustomer:
    """A registered customer (her grant to ``grant_to`` if given) with ``items`` bought at
    ``owner``, recorded with the peer CLI as the owner's gateway, its peer alone endorsing."""
    customer = DemoCustomer.new()
    cli.invoke(owner, [owner, OTHER if owner != OTHER else THIRD], "RegisterCustomer",
               customer.public_key)
    if grant_to:
        statement = customer.grant([MSP[r] for r in grant_to], consent_id="k-0001",
                                   categories=("purchases",))
        cli.invoke(owner, [owner, OTHER if owner != OTHER else THIRD],
                   "SubmitConsentStatement", json.dumps(statement))
    events = [_event(customer, owner, item, f"e-{i}") for i, item in enumerate(items)]
    cli.invoke(owner, [owner], "RecordPreferenceEvents",
               transient={"events": json.dumps(events).encode()})
    return customer


# -- 1. each retailer's events stay on its own peers --------------------------------------------


def _forge_endorsement(connection: LedgerConnection, net: Network, org: str,
                       collection: str, key: str, value: bytes) -> Transaction:
    """A transaction writing ``key`` in ``collection``, endorsed by ``org``'s peer alone, as
    a modified peer of that member would sign it: its genuine response to a harmless
    proposal, with the write-set replaced and the endorsement signed again with the peer's
    own key (which the member, running the peer, holds)."""
    contract = connection.ledger.contract
    proposal = contract.new_proposal("Describe")
    msp = load_msp_folder(connection_settings_msp(net, org, "gateway"), MSP[org])
    proposal.sign(ecdsa_signer(msp.private_key))
    stub = peer_pb2_grpc.EndorserStub(connection.nodes[0].channel)
    genuine = stub.ProcessProposal(proposal.signed_proposal(), timeout=20)
    assert genuine.response.status == 200, genuine.response.message

    private = rwset_pb2.TxPvtReadWriteSet()  # what a member would gossip; never reached
    hashed = rwset_pb2.TxReadWriteSet(data_model=rwset_pb2.TxReadWriteSet.KV, ns_rwset=[
        rwset_pb2.NsReadWriteSet(
            namespace=CHAINCODE, rwset=kv_rwset_pb2.KVRWSet().SerializeToString(),
            collection_hashed_rwset=[rwset_pb2.CollectionHashedReadWriteSet(
                collection_name=collection,
                hashed_rwset=kv_rwset_pb2.HashedRWSet(hashed_writes=[kv_rwset_pb2.KVWriteHash(
                    key_hash=hashlib.sha256(key.encode()).digest(),
                    value_hash=hashlib.sha256(value).digest())]).SerializeToString(),
                pvt_rwset_hash=hashlib.sha256(private.SerializeToString()).digest())])])
    payload = proposal_response_pb2.ProposalResponsePayload.FromString(genuine.payload)
    action = proposal_pb2.ChaincodeAction.FromString(payload.extension)
    action.results = hashed.SerializeToString()
    payload.extension = action.SerializeToString()
    payload_bytes = payload.SerializeToString()

    peer = load_msp_folder(connection_settings_msp(net, org, "peer0"), MSP[org])
    endorser = identities_pb2.SerializedIdentity(
        mspid=MSP[org], id_bytes=peer.identity.certificate).SerializeToString()
    signature = ecdsa_signer(peer.private_key)(hashlib.sha256(payload_bytes + endorser).digest())
    forged = proposal_response_pb2.ProposalResponse(
        version=1, response=genuine.response, payload=payload_bytes,
        endorsement=proposal_response_pb2.Endorsement(endorser=endorser, signature=signature))
    transaction = Transaction(proposal, [forged])
    transaction.sign(ecdsa_signer(msp.private_key))
    return transaction


PULL_THRESHOLD_SECONDS = 55.0  # below core.yaml's pvtData.pullRetryThreshold (60 s)


def connection_settings_msp(net: Network, org: str, identity: str) -> Path:
    return net.layout.msp(org, identity)


def test_a_write_to_an_owners_collection_endorsed_by_another_member_alone_is_invalid(
        cli, fabric_network, own_client):
    """Southgate, running a modified peer, forges northwind's mark that it completed an
    erasure (so the ledger would say northwind deleted her data while it still holds it)."""
    net = fabric_network
    victim = _customer_with_events(cli, OWNER, ["sku-forge-1"])
    erase = victim.rights_request("erase", MSP[OTHER])
    cli.invoke(OTHER, [OTHER, THIRD], "EraseCustomer",
               transient={"request": json.dumps(erase).encode()})
    progress = cli.query(OWNER, OWNER, "ErasureProgress", victim.customer_id)
    assert progress["progress"][MSP[OWNER]] == "pending"
    key = erasure_marker_key(progress["erasure_id"]).render()
    height = net.channel.wait_same_height()

    forged = _forge_endorsement(own_client[OTHER], net, OTHER, collection_for(MSP[OWNER]),
                                key, b'{"at":"forged"}')
    status = own_client[OTHER].ledger.contract.submit_endorsed(forged).status()
    assert status.code_name == "ENDORSEMENT_POLICY_FAILURE"
    # Ordered, then refused by every peer; the owner's peer does not first spend Fabric's
    # pull threshold (a minute) hunting for the private write nobody holds, which would let
    # one member stall the owner's commits with a stream of such forgeries.
    started = time.monotonic()
    assert net.channel.wait_same_height(seconds=PULL_THRESHOLD_SECONDS) == height + 1
    assert time.monotonic() - started < PULL_THRESHOLD_SECONDS
    for org in MSP:
        found = cli.query(org, org, "ErasureProgress", victim.customer_id)
        assert found["progress"][MSP[OWNER]] == "pending", org
    # The owner's own peer alone may write there: northwind completes its part, and only
    # then does the ledger say so (the policy, not a broken setup, refused the forgery).
    cli.invoke(OWNER, [OWNER], "PurgeCustomer", victim.customer_id)
    net.channel.wait_same_height()
    for org in MSP:
        found = cli.query(org, org, "ErasureProgress", victim.customer_id)
        assert found["progress"][MSP[OWNER]] == "done", org


def test_an_honest_chaincode_refuses_to_write_or_read_another_owners_collection(cli):
    customer = _customer_with_events(cli, OWNER, ["sku-own-1"], grant_to=[OTHER])
    stolen = [_event(customer, OWNER, "sku-planted", "e-99")]
    # Southgate's gateway asks its own peer to record events in northwind's name.
    with pytest.raises(CommandFailed, match="RETAILER_MISMATCH"):
        cli.invoke(OTHER, [OTHER], "RecordPreferenceEvents",
                   transient={"events": json.dumps(stolen).encode()})
    # ... or northwind's peer directly, even for a customer who consented to southgate:
    # shared reads go through the owner's gateway, which logs them.
    for function, args in (("ReadOwnEvents", [customer.customer_id]),
                           ("ReadSharedEvents", [customer.customer_id, MSP[OTHER],
                                                 "personalisation"])):
        with pytest.raises(CommandFailed, match="RETAILER_MISMATCH"):
            cli.query(OWNER, OTHER, function, *args)
    assert cli.query(OWNER, OWNER, "ReadOwnEvents", customer.customer_id)["events"][0][
        "item_id"] == "sku-own-1"


def _files_containing(root: Path, marker: bytes) -> list[Path]:
    return [f for f in root.rglob("*") if f.is_file() and marker in f.read_bytes()]


def test_another_members_peer_stores_nothing_of_the_owners_events(cli, fabric_network):
    net = fabric_network
    marker = f"sku-marker-{secrets.token_hex(6)}"
    customer = _customer_with_events(cli, OWNER, [marker])  # consented to no one
    assert cli.query(OWNER, OWNER, "ReadOwnEvents", customer.customer_id)["events"][0][
        "item_id"] == marker
    net.channel.wait_same_height()
    owner_peer = net.layout.node_data(OWNER, "peer0")
    deadline = time.monotonic() + 30
    while not _files_containing(owner_peer, marker.encode()):  # positive control
        assert time.monotonic() < deadline, "the owner's peer should hold the event"
        time.sleep(1)
    for org in (OTHER, THIRD):
        assert _files_containing(net.layout.node_data(org, "peer0"), marker.encode()) == [], org
        assert cli.query(org, org, "ReadOwnEvents", customer.customer_id)["events"] == []
    blocks = [f for f in net.layout.root.rglob("blockfile_*") if f.is_file()]
    assert blocks and not [f for f in blocks if marker.encode() in f.read_bytes()]


# -- 4. blocks link no one ----------------------------------------------------------------------


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _blocks(path: Path) -> Iterator[list[bytes]]:
    """The transaction envelopes of each block in a peer's block file, as Fabric 2.1 writes
    it (``blkstorage``): per block a varint length, then the number, the data hash and the
    previous hash, the count of envelopes and each envelope, length-prefixed."""
    data = path.read_bytes()
    at = 0
    while at < len(data):
        length, at = _varint(data, at)
        end = at + length
        _, cursor = _varint(data, at)  # block number
        for _ in range(2):  # data hash, previous hash
            size, cursor = _varint(data, cursor)
            cursor += size
        count, cursor = _varint(data, cursor)
        envelopes = []
        for _ in range(count):
            size, cursor = _varint(data, cursor)
            envelopes.append(data[cursor:cursor + size])
            cursor += size
        yield envelopes
        at = end


def _transactions(envelopes: list[bytes]) -> Iterator[tuple[str, list[bytes], Any, str]]:
    """(function, args, read-write set, creator MSP) of each endorser transaction."""
    for raw in envelopes:
        envelope = common_pb2.Envelope.FromString(raw)
        payload = common_pb2.Payload.FromString(envelope.payload)
        header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        if header.type != common_pb2.ENDORSER_TRANSACTION:
            continue
        creator = identities_pb2.SerializedIdentity.FromString(
            common_pb2.SignatureHeader.FromString(payload.header.signature_header).creator)
        tx = transaction_pb2.Transaction.FromString(payload.data)
        for action in tx.actions:
            cap = transaction_pb2.ChaincodeActionPayload.FromString(action.payload)
            spec = chaincode_pb2.ChaincodeInvocationSpec.FromString(
                proposal_pb2.ChaincodeProposalPayload.FromString(
                    cap.chaincode_proposal_payload).input).chaincode_spec
            args = list(spec.input.args)
            prp = proposal_response_pb2.ProposalResponsePayload.FromString(
                cap.action.proposal_response_payload)
            results = proposal_pb2.ChaincodeAction.FromString(prp.extension).results
            function = args[0].decode(errors="replace") if args else ""
            yield function, args[1:], rwset_pb2.TxReadWriteSet.FromString(results), \
                creator.mspid


#: Every private key format the chaincode has used, built from her public id alone: what a
#: member would hash to find her in the blocks.
_KEY_KINDS = ("hist", "reads", "served", "prefindex", "pref")


def _guessable_hashes(customer_id: str) -> set[bytes]:
    keys = [CompositeKey(kind, (customer_id,)).render() for kind in _KEY_KINDS]
    keys += [customer_id, f"{customer_id}"]
    return {hashlib.sha256(k.encode()).digest() for k in keys}


def test_blocks_link_no_customer_to_the_retailers_that_hold_her_events(cli, fabric_network):
    net = fabric_network
    shoppers = [_customer_with_events(cli, org, [f"sku-{org}-{n}"], grant_to=[THIRD])
                for n in range(2) for org in (OWNER, OTHER)]
    net.channel.wait_same_height()
    peer_blocks = sorted((net.layout.node_data(THIRD, "peer0")).rglob("blockfile_*"))
    assert peer_blocks
    registered: set[str] = set()
    erasures: set[str] = set()
    recording: list[tuple[list[bytes], Any, str]] = []
    hashed_keys: set[bytes] = set()
    for path in peer_blocks:
        for block in _blocks(path):
            for function, args, rwset, creator in _transactions(block):
                for ns in rwset.ns_rwset:
                    kv = kv_rwset_pb2.KVRWSet.FromString(ns.rwset)
                    registered |= {w.key.split("\x00")[2] for w in kv.writes
                                   if w.key.startswith("\x00customer\x00")}
                    erasures |= {json.loads(w.value)["erasure_id"] for w in kv.writes
                                 if w.key.startswith("\x00erasure\x00") and w.value}
                    for coll in ns.collection_hashed_rwset:
                        h = kv_rwset_pb2.HashedRWSet.FromString(coll.hashed_rwset)
                        hashed_keys |= {w.key_hash for w in h.hashed_writes}
                        hashed_keys |= {r.key_hash for r in h.hashed_reads}
                if function in ("RecordPreferenceEvents", "LogReads"):
                    recording.append((args, rwset, creator))
    assert {s.customer_id for s in shoppers} <= registered
    assert len(recording) >= len(shoppers)
    # The scan finds what is built from public values: each completed erasure's mark (the
    # module's first test completes one), so finding no customer below is not blindness.
    marks = {hashlib.sha256(erasure_marker_key(e).render().encode()).digest() for e in erasures}
    assert marks & hashed_keys
    # Hashing every registered id in every key format finds none of the hashed keys.
    for customer_id in registered:
        assert not (_guessable_hashes(customer_id) & hashed_keys), customer_id
    # An event-recording transaction names no customer: no argument, no public key read or
    # written (a read set names public keys in clear).
    for args, rwset, _ in recording:
        assert args == []
        for ns in rwset.ns_rwset:
            kv = kv_rwset_pb2.KVRWSet.FromString(ns.rwset)
            public = [r.key for r in kv.reads] + [w.key for w in kv.writes]
            assert not [k for k in public if any(c in k for c in registered)], public


# -- 5. erasure holds ---------------------------------------------------------------------------


def test_a_grant_signed_before_her_erasure_is_refused(cli):
    customer = _customer_with_events(cli, OWNER, ["sku-erased-1"], grant_to=[OTHER])
    before = customer.grant([MSP[THIRD]], consent_id="k-0002", categories=("purchases",),
                            given_ago=timedelta(0))
    time.sleep(1.1)
    cli.invoke(OWNER, [OWNER, OTHER], "EraseCustomer",
               transient={"request": json.dumps(
                   customer.rights_request("erase", MSP[OWNER])).encode()})
    with pytest.raises(CommandFailed, match="BACKDATED"):
        cli.invoke(THIRD, [THIRD, OTHER], "SubmitConsentStatement", json.dumps(before))
    with pytest.raises(CommandFailed, match="CUSTOMER_ERASED"):
        cli.query(OTHER, OTHER, "ListConsents", customer.customer_id)
    time.sleep(1.1)
    after = customer.grant([MSP[THIRD]], consent_id="k-0003", categories=("purchases",),
                           given_ago=timedelta(0))
    cli.invoke(THIRD, [THIRD, OTHER], "SubmitConsentStatement", json.dumps(after))
    assert [c["consent_id"] for c in cli.query(OTHER, OTHER, "ListConsents",
                                               customer.customer_id)["consents"]
            if c["status"] == "active"] == ["k-0003"]
    # Her id is open again; what she signed before the erasure still counts for nothing.
    with pytest.raises(CommandFailed, match="BACKDATED"):
        cli.invoke(THIRD, [THIRD, OTHER], "SubmitConsentStatement", json.dumps(before))


@pytest.fixture(scope="module")
def gateways(start_ledger_gateways, catalogue) -> Iterator[dict[str, Any]]:
    with start_ledger_gateways(PORTS, catalogue=catalogue, erasure_poll_s=1.0) as running:
        yield running


def _register(gateway: Any) -> DemoCustomer:
    customer = DemoCustomer.new()
    r = gateway.write("/v1/customers", {"public_key": customer.public_key})
    assert r.status_code == 201, r.text
    return customer


def _buy(gateway: Any, catalogue: Any, customer: DemoCustomer, n: int) -> None:
    store = catalogue.stores(gateway.settings.msp_id)[0]
    items = catalogue.items_in_store(store)[:n]
    events = [{"event_id": f"e-{secrets.token_hex(4)}", "item_id": item,
               "item_category": "outerwear", "event_type": "purchase", "value": 1,
               "timestamp": format_timestamp(datetime.now(UTC) - timedelta(minutes=1))}
              for item in items]
    r = gateway.write(f"/v1/stores/{store}/customers/{customer.customer_id}/events",
                      {"events": events}, headers=gateway.credential(store))
    assert r.status_code == 201, r.text


def test_an_erasure_made_while_a_holders_peer_is_down_completes_when_it_returns(
        gateways, catalogue, fabric_network, same_height):
    net = fabric_network
    north, south = gateways[OWNER], gateways[OTHER]
    customer = _register(north)
    _buy(north, catalogue, customer, 2)
    same_height(*gateways.values())
    peer = next(p for p in net.plan.peers if p.org == OWNER)
    net.supervisor.stop(peer.process)
    try:
        r = south.write(f"/v1/customers/{customer.customer_id}/erasure",
                        customer.rights_request("erase", MSP[OTHER]))
        assert r.status_code == 200, r.text
        progress = south.services.connection.ledger.erasure_progress(customer.customer_id)
        assert progress.progress[MSP[OWNER]] == "pending"
    finally:
        net.up()  # the stopped peer comes back; nobody asks northwind to do anything
    deadline = time.monotonic() + 60
    while True:
        progress = south.services.connection.ledger.erasure_progress(customer.customer_id)
        if progress.complete:
            break
        assert time.monotonic() < deadline, progress
        time.sleep(1)
    same_height(*gateways.values())
    assert north.services.connection.ledger.read_own_events is not None
    with pytest.raises(Exception, match="CUSTOMER_ERASED"):
        north.services.connection.ledger.read_own_events(customer.customer_id)


def test_a_withdrawal_stops_the_owner_serving_at_the_next_read(gateways, catalogue,
                                                               same_height):
    north, south = gateways[OWNER], gateways[OTHER]
    customer = _register(north)
    grant = customer.grant([MSP[OTHER]], purposes=("personalisation",),
                           categories=("purchases",))
    assert south.write("/v1/consents", grant).status_code == 201
    _buy(north, catalogue, customer, 2)
    same_height(*gateways.values())
    assert len(_preferences(south, customer)["events"]) == 2
    assert north.write("/v1/consents",
                       customer.withdraw(grant["consent_id"])).status_code == 201
    same_height(*gateways.values())
    # The owner checks her consent at the time of each read: no cache at the reader keeps it.
    assert _preferences(south, customer)["events"] == []


def _preferences(gateway: Any, customer: DemoCustomer) -> dict[str, Any]:
    r = gateway.client.get(f"/v1/customers/{customer.customer_id}/preferences",
                           headers=gateway.credential("kiosk-1"))
    assert r.status_code == 200, r.text
    return dict(r.json())


# -- 6. no side channel to non-recipients; exports once and logged ----------------------------


def test_a_non_recipient_learns_nothing_of_where_she_shops(gateways, catalogue, same_height):
    north, east = gateways[OWNER], gateways[THIRD]
    shopper, stranger = _register(north), _register(north)
    grant = shopper.grant([MSP[OTHER]], purposes=("personalisation",),
                          categories=("purchases",))
    assert north.write("/v1/consents", grant).status_code == 201
    _buy(north, catalogue, shopper, 3)
    same_height(*gateways.values())
    answers = []
    for customer in (shopper, stranger):  # one shops at northwind, one does not
        r = east.client.get(f"/v1/customers/{customer.customer_id}/preferences",
                            headers=east.credential("kiosk-1"))
        assert r.status_code == 200, r.text
        answers.append({k: v for k, v in r.json().items() if k != "customer_id"})
        # Asked of northwind's gateway directly with eastmarket's own signed identity.
        members = east.services.sharing.members
        assert members is not None
        direct = members.post(MSP[OWNER], "/v1/members/shared-events",
                              {"customer_id": customer.customer_id,
                               "purpose": "personalisation"})
        assert direct == {"owner": MSP[OWNER], "events": []}
    assert answers[0] == answers[1]
    assert "withheld" not in json.dumps(answers)


def test_member_reads_need_a_members_signed_identity_once(gateways):
    north, south = gateways[OWNER], gateways[OTHER]
    url = f"{north.base_url}/v1/members/shared-events"
    body = {"customer_id": _register(north).customer_id, "purpose": "personalisation"}
    plain = north.client.post(url, json=body)
    assert plain.status_code == 401 and plain.json()["error"]["code"] == "MEMBER_UNAUTHENTICATED"
    # A signed request, replayed byte for byte.
    members = south.services.sharing.members
    assert members is not None
    sent: list[httpx.Request] = []
    client = members._clients[MSP[OWNER]]
    client.event_hooks["request"].append(sent.append)
    try:
        members.post(MSP[OWNER], "/v1/members/shared-events", body)
    finally:
        client.event_hooks["request"].remove(sent.append)
    replay = north.client.post(url, content=sent[0].content, headers={
        h: sent[0].headers[h] for h in (CERT_HEADER, SIGNATURE_HEADER, TIME_HEADER, NONCE_HEADER,
                                        "content-type")})
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "MEMBER_REPLAYED"
    # A store credential is not a member identity.
    as_store = north.client.post(url, json=body, headers=north.credential("kiosk-1"))
    assert as_store.status_code == 401


def test_an_export_request_is_served_once_and_each_owner_logs_it(gateways, catalogue,
                                                                 same_height):
    north, south, east = (gateways[r] for r in (OWNER, OTHER, THIRD))
    customer = _register(north)
    grant = customer.grant([MSP[OTHER]], purposes=("personalisation",),
                           categories=("purchases",))
    assert north.write("/v1/consents", grant).status_code == 201
    _buy(north, catalogue, customer, 2)
    same_height(*gateways.values())
    r = south.client.get(f"/v1/customers/{customer.customer_id}/preferences",
                         headers=south.credential("kiosk-1"))
    assert len(r.json()["events"]) == 2
    deadline = time.monotonic() + 20
    while north.services.sharing.read_log.pending():
        assert time.monotonic() < deadline
        time.sleep(0.2)
    same_height(*gateways.values())
    request = customer.rights_request("export", MSP[THIRD])
    first = east.client.post(f"/v1/customers/{customer.customer_id}/export", json=request)
    assert first.status_code == 200, first.text
    document = first.json()
    assert document["unanswered"] == []
    held = document["holdings"][MSP[OWNER]]
    assert len(held["events"]) == 2
    kinds = [(e["owner"], e["reader"], e["kind"], e["count"]) for e in document["access_log"]]
    assert (MSP[OWNER], MSP[OTHER], "kiosk", 2) in kinds
    assert (MSP[OWNER], MSP[THIRD], "export", 2) in kinds
    same_height(*gateways.values())
    # The same request again: refused by the owners that served it, and by every other
    # member's gateway, which it does not name.
    again = east.client.post(f"/v1/customers/{customer.customer_id}/export", json=request)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "REPLAYED_NONCE")
    elsewhere = north.client.post(f"/v1/customers/{customer.customer_id}/export",
                                  json=request)
    assert elsewhere.status_code == 403, elsewhere.text
    assert elsewhere.json()["error"]["code"] == "GATEWAY_MISMATCH"


def test_the_owners_secret_never_leaves_its_chaincode_folder(fabric_network):
    net = fabric_network
    for org in MSP:
        secret = net.layout.owner_secret(org)
        assert secret.stat().st_mode & 0o777 == 0o600
        assert len(secret.read_bytes()) == 32
