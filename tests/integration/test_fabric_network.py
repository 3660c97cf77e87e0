"""The whole Fabric 2.1.1 network, checked with Fabric's own CLI (not the project's client).

Every test runs against the session's real network (conftest ``fabric_network``): CA,
orderer and peer processes, the channel, the chaincode servers and the committed chaincode.
Writes go through ``peer chaincode invoke --waitForEvent`` as a retailer's gateway identity
(the chaincode reads its role attribute from the Fabric CA certificate); reads through
``peer chaincode query`` on each peer.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fabric_protos.common import common_pb2

from chaincode.fields import format_timestamp
from chaincode.keys import sign_document
from demo.wallet import DemoCustomer
from network.cli import main as network_cli
from network.control import Network
from network.errors import CommandFailed
from network.nodes import wait_raft_leader

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def cli(gateway_cli: Any) -> Any:
    return gateway_cli


def _grant(customer: DemoCustomer, recipients: list[str]) -> str:
    """Her signed grant of purchases for personalisation to ``recipients``, as JSON text."""
    return json.dumps(customer.grant(recipients, consent_id="k-0001",
                                     categories=("purchases",)))


def _retailers(net: Network) -> list[str]:
    return [r.name for r in net.consortium.retailers]


def _msp(net: Network, org: str) -> str:
    return next(r.msp_id for r in net.consortium.retailers if r.name == org)


def _files_containing(root: Path, marker: bytes) -> list[Path]:
    return [f for f in root.rglob("*") if f.is_file() and marker in f.read_bytes()]


# -- the network as it comes up ------------------------------------------------------------


def test_every_node_is_healthy_and_every_peer_is_at_the_same_height(fabric_network):
    rows = fabric_network.status()
    assert rows and all(r.healthy for r in rows), [r for r in rows if not r.healthy]
    orderers = [r for r in rows if r.process.startswith("orderer")]
    assert len(orderers) == 3
    heights = {r.process: r.height for r in rows if r.process.startswith("peer")}
    assert len(heights) == 3 and len(set(heights.values())) == 1
    assert next(iter(heights.values())) >= 4  # genesis, 3 anchor updates, lifecycle txs


def test_committed_definition_is_the_expected_one(fabric_network):
    net = fabric_network
    spec = net.consortium.chaincode
    for peer in net.plan.peers:
        out = net.tools.peer_cli(peer, [
            "lifecycle", "chaincode", "querycommitted", "-C", net.consortium.channel,
            "-n", spec.name, "--output", "json"], what="querycommitted")
        data = json.loads(out)
        assert data["version"] == spec.version
        assert data["sequence"] == 1
        assert data["approvals"] == {r.msp_id: True for r in net.consortium.retailers}
        # The default endorsement policy of the channel: MAJORITY Endorsement (configtx).
        assert b"/Channel/Application/Endorsement" in base64.b64decode(
            data["validation_parameter"])
        collections = [c["Payload"]["StaticCollectionConfig"]
                       for c in data["collections"]["config"]]
        # One collection per retailer, for the events it recorded, stored and written by it
        # alone: its members only, its own peer's endorsement, on one peer at most.
        msp_ids = [r.msp_id for r in net.consortium.retailers]
        assert [c["name"] for c in collections] == [f"events-{msp}" for msp in msp_ids]
        for msp, collection in zip(msp_ids, collections, strict=True):
            assert int(collection["block_to_live"]) == spec.block_to_live
            assert collection["member_only_read"] and collection["member_only_write"]
            assert int(collection.get("required_peer_count", 0)) == 0
            assert int(collection["maximum_peer_count"]) == 1
            for policy in ("member_orgs_policy", "endorsement_policy"):
                assert _principals(collection[policy], msp_ids) == [msp], (msp, policy)


def _principals(policy: Any, msp_ids: list[str]) -> list[str]:
    """Which of ``msp_ids`` a committed policy's signature identities name (each principal
    is a serialised MSPRole: the MSP id's bytes, in clear, inside it)."""
    found: list[bytes] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "principal" and isinstance(value, str):
                    found.append(base64.b64decode(value))
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(policy)
    return [msp for raw in found for msp in msp_ids if msp.encode() in raw]


def test_up_again_is_harmless(fabric_network):
    before = {r.process: r.height for r in fabric_network.status()}
    assert network_cli_for(fabric_network, "up") == 0
    assert {r.process: r.height for r in fabric_network.status()} == before


def network_cli_for(net: Network, *command: str) -> int:
    layout = net.layout
    description = layout.root.parent / "consortium.yaml"
    description.write_text(json.dumps(net.consortium.model_dump()))
    return network_cli(["--description", str(description), "--run-dir", str(layout.root),
                        "--bin-dir", str(net.bin_dir), "--builder-dir", str(net.builder_dir),
                        *command])


# -- writes and reads with Fabric's own CLI -------------------------------------------------


def test_invoked_write_is_read_back_on_every_peer(cli, fabric_network):
    alice = DemoCustomer.new()
    retailers = _retailers(fabric_network)
    with pytest.raises(CommandFailed, match="UNKNOWN_CUSTOMER"):
        cli.query(retailers[0], retailers[0], "ListConsents", alice.customer_id)
    cli.invoke(retailers[0], retailers[:2], "RegisterCustomer", alice.public_key)
    cli.invoke(retailers[0], retailers[:2], "SubmitConsentStatement",
               _grant(alice, [_msp(fabric_network, retailers[1])]))
    for org in retailers:
        consents = cli.query(org, org, "ListConsents", alice.customer_id)["consents"]
        assert [c["consent_id"] for c in consents] == ["k-0001"], org
        assert consents[0]["status"] == "active"


def test_a_forged_consent_is_refused_by_the_chaincode(cli, fabric_network):
    alice, mallory = DemoCustomer.new(), DemoCustomer.new()
    retailers = _retailers(fabric_network)
    cli.invoke(retailers[0], retailers[:2], "RegisterCustomer", alice.public_key)
    forged = alice.grant([_msp(fabric_network, retailers[2])], consent_id="k-0001")
    unsigned = {k: v for k, v in forged.items() if k != "signature"}
    forged["signature"] = sign_document(mallory.private_key, unsigned)
    with pytest.raises(CommandFailed, match="BAD_SIGNATURE"):
        cli.invoke(retailers[2], retailers[1:], "SubmitConsentStatement", json.dumps(forged))
    found = cli.query(retailers[0], retailers[0], "ListConsents", alice.customer_id)
    assert found["consents"] == []


def test_private_write_is_readable_on_the_owners_peer_only_and_in_no_block(cli, fabric_network):
    net = fabric_network
    writer, reader = _retailers(net)[0], _retailers(net)[1]
    alice = DemoCustomer.new()
    cli.invoke(writer, [writer, reader], "RegisterCustomer", alice.public_key)
    cli.invoke(writer, [writer, reader], "SubmitConsentStatement",
               _grant(alice, [_msp(net, reader)]))
    marker = f"sku-marker-{secrets.token_hex(8)}"
    event = {
        "event_id": "e-000001", "customer_id": alice.customer_id, "retailer": _msp(net, writer),
        "item_id": marker, "item_category": "outdoor/shoes", "event_type": "purchase",
        "value": 1, "store_id": "berlin-01",
        "timestamp": format_timestamp(datetime.now(UTC) - timedelta(minutes=5)),
        "salt": base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("="),
    }
    # Into the writer's own collection, endorsed by its own peer alone (the collection's
    # endorsement policy).
    cli.invoke(writer, [writer], "RecordPreferenceEvents",
               transient={"events": json.dumps([event]).encode()})
    found = cli.query(writer, writer, "ReadOwnEvents", alice.customer_id)
    assert [e["item_id"] for e in found["events"]] == [marker]
    for org in _retailers(net)[1:]:
        # Another member's peer holds only its own collection: nothing of hers there, even
        # for the reader she consented to (it reads through the writer's gateway) ...
        assert cli.query(org, org, "ReadOwnEvents", alice.customer_id)["events"] == [], org
        # ... and the writer's identity does not reach the writer's events through it.
        with pytest.raises(CommandFailed, match="RETAILER_MISMATCH"):
            cli.query(org, writer, "ReadOwnEvents", alice.customer_id)
    # The consent is checked by the writer's chaincode on the writer's peer, the reader named.
    shared = cli.query(writer, writer, "ReadSharedEvents", alice.customer_id,
                       _msp(net, reader), "personalisation")
    assert [e["item_id"] for e in shared["events"]] == [marker]
    blocks = [f for f in net.layout.root.rglob("blockfile_*") if f.is_file()]
    assert len(blocks) >= 6  # each peer's and each orderer's chain of the channel
    assert not [f for f in blocks if marker.encode() in f.read_bytes()]


# -- stop, restart, crash --------------------------------------------------------------------


def test_down_then_up_keeps_heights_and_state(cli, fabric_network):
    net = fabric_network
    org = _retailers(net)[0]
    alice = DemoCustomer.new()
    cli.invoke(org, _retailers(net)[:2], "RegisterCustomer", alice.public_key)
    cli.invoke(org, _retailers(net)[:2], "SubmitConsentStatement",
               _grant(alice, [_msp(net, _retailers(net)[1])]))
    before = net.channel.wait_same_height()
    state = {o: cli.query(o, o, "ListConsents", alice.customer_id) for o in _retailers(net)}
    assert all(len(found["consents"]) == 1 for found in state.values())
    net.down()
    assert all(not r.healthy for r in net.status())
    net.up()
    assert net.channel.wait_same_height() == before
    assert {o: cli.query(o, o, "ListConsents", alice.customer_id) for o in _retailers(net)} == state


def test_raft_leader_killed_transactions_commit_and_it_catches_up(cli, fabric_network):
    net = fabric_network
    victim = wait_raft_leader(net.plan, net.consortium.channel)
    sup = net.supervisor
    retailers = _retailers(net)
    sup.kill(victim.process)
    try:
        # The other two elect a new leader; until then nothing is ordered.
        survivor = wait_raft_leader(net.plan, net.consortium.channel)
        assert survivor != victim
        written = []
        for _ in range(3):
            alice = DemoCustomer.new()
            written.append(alice.customer_id)
            cli.tools.run("peer", [
                "chaincode", "invoke", "-C", cli.channel, "-n", cli.name,
                "-c", json.dumps({"Args": ["RegisterCustomer", alice.public_key]}),
                "--waitForEvent",
                "--peerAddresses", cli.peer(retailers[0]).address,
                "--tlsRootCertFiles", str(net.layout.ca_root_cert(retailers[0])),
                "--peerAddresses", cli.peer(retailers[1]).address,
                "--tlsRootCertFiles", str(net.layout.ca_root_cert(retailers[1])),
                *cli.tools.orderer_args(survivor)],
                env=cli.env(cli.peer(retailers[0]), retailers[0]), what="invoke",
                timeout=60)
        height = net.channel.wait_same_height()
        for customer_id in written:
            assert cli.query(retailers[2], retailers[2], "ListConsents", customer_id)[
                "customer_id"] == customer_id
    finally:
        net.up()  # restarts the killed orderer
    newest = _orderer_height(net, victim_index=victim.index, at_least=height)
    assert newest >= height


def _orderer_height(net: Network, *, victim_index: int, at_least: int) -> int:
    """The channel's height on one orderer, waiting for it to catch up to ``at_least``."""
    orderer = net.plan.orderers[victim_index]
    peer = net.plan.peers[0]
    target = net.layout.root / "newest.block"
    deadline = time.monotonic() + 60
    while True:
        try:
            net.tools.peer_cli(peer, [
                "channel", "fetch", "newest", str(target), "-c", net.consortium.channel,
                *net.tools.orderer_args(orderer)], what="fetch newest")
            number = int(common_pb2.Block.FromString(target.read_bytes()).header.number)
            if number + 1 >= at_least or time.monotonic() > deadline:
                return number + 1
        except CommandFailed:
            if time.monotonic() > deadline:
                raise
        time.sleep(1)


# -- the low-S guard -------------------------------------------------------------------------


def test_up_refuses_a_high_s_ca_certificate_in_one_line(fabric_network, ca_pem_with_s,
                                                         capsys):
    org = _retailers(fabric_network)[2]
    cacerts = fabric_network.layout.org_msp(org) / "cacerts"
    planted = cacerts / "planted-high-s.pem"
    planted.write_bytes(ca_pem_with_s(True))
    try:
        assert network_cli_for(fabric_network, "up") == 1
    finally:
        planted.unlink()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "planted-high-s.pem" in err[0] and "high S" in err[0]
