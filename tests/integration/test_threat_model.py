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
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fabric_protos.common import common_pb2, ledger_pb2

from gateway.ledger_bench import DemoCustomer
from network.errors import CommandFailed

pytestmark = [pytest.mark.integration, pytest.mark.slow]

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
