"""The Fabric configuration generated from the consortium description (no process started)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from network.certs import check_ca_certificates, check_low_s
from network.channel import parse_height
from network.configtx import (
    BLOCK_READERS_POLICY,
    CHANNEL_PROFILE,
    CONSORTIUM,
    GENESIS_PROFILE,
    MEMBERS_POLICY,
    render_configtx,
)
from network.description import load_consortium
from network.errors import CommandFailed, HighSSignature
from network.layout import RunLayout
from network.lifecycle import parse_committed, referenced
from network.nodes import derive_core_yaml, orderer_env, peer_env
from network.plan import make_plan

DEFAULT = Path("network/consortium.yaml")
RUN = RunLayout(Path("/run/ps"))


def _four_retailers(tmp_path: Path) -> Path:
    data = yaml.safe_load(DEFAULT.read_text())
    data["retailers"].append({"name": "westend", "msp_id": "WestendMSP"})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def configtx():
    c = load_consortium(DEFAULT)
    return render_configtx(c, make_plan(c), RUN)


def test_genesis_holds_three_raft_consenters_and_the_measured_batch_settings(configtx):
    orderer = configtx["Profiles"][GENESIS_PROFILE]["Orderer"]
    assert orderer["OrdererType"] == "etcdraft"
    consenters = orderer["EtcdRaft"]["Consenters"]
    assert [(x["Host"], x["Port"]) for x in consenters] == [
        ("127.0.0.1", 7001), ("127.0.0.1", 7011), ("127.0.0.1", 7021)]
    assert consenters[1]["ServerTLSCert"] == (
        "/run/ps/orgs/ordering/identities/orderer1/tls/signcerts/cert.pem")
    assert orderer["BatchTimeout"] == "100ms"
    assert orderer["BatchSize"]["MaxMessageCount"] == 100
    assert orderer["Capabilities"] == {"V2_0": True}


def test_consortium_and_channel_hold_every_retailer(configtx):
    profiles = configtx["Profiles"]
    members = profiles[GENESIS_PROFILE]["Consortiums"][CONSORTIUM]["Organizations"]
    app = profiles[CHANNEL_PROFILE]["Application"]
    assert [o["ID"] for o in members] == ["NorthwindMSP", "SouthgateMSP", "EastmarketMSP"]
    assert [o["ID"] for o in app["Organizations"]] == [o["ID"] for o in members]
    assert profiles[CHANNEL_PROFILE]["Consortium"] == CONSORTIUM
    assert app["Organizations"][1]["AnchorPeers"] == [{"Host": "127.0.0.1", "Port": 7251}]


def test_writes_need_a_majority_and_the_peers_block_stream_needs_an_admin(configtx):
    app = configtx["Profiles"][CHANNEL_PROFILE]["Application"]
    assert app["Policies"]["Endorsement"]["Rule"] == "MAJORITY Endorsement"
    assert app["Policies"]["LifecycleEndorsement"]["Rule"] == "MAJORITY Endorsement"
    assert app["ACLs"]["event/Block"] == f"/Channel/Application/{BLOCK_READERS_POLICY}"
    rule = app["Policies"][BLOCK_READERS_POLICY]["Rule"]
    assert rule == "OR('NorthwindMSP.admin', 'SouthgateMSP.admin', 'EastmarketMSP.admin')"


def test_qscc_block_and_transaction_queries_are_for_readers_which_hold_no_client(configtx):
    app = configtx["Profiles"][CHANNEL_PROFILE]["Application"]
    for query in ("GetBlockByNumber", "GetBlockByHash", "GetBlockByTxID", "GetTransactionByID"):
        assert app["ACLs"][f"qscc/{query}"] == "/Channel/Application/Readers", query
    assert app["Policies"]["Readers"]["Rule"] == "ANY Readers"
    for org in app["Organizations"]:
        assert ".client" not in org["Policies"]["Readers"]["Rule"], org["ID"]


def test_the_orderers_deliver_policy_holds_no_client_of_any_organisation(configtx):
    # The orderer's Deliver checks /Channel/Readers: ANY Readers of the application's and
    # the orderer's organisations.
    profile = configtx["Profiles"][CHANNEL_PROFILE]
    assert profile["Policies"]["Readers"]["Rule"] == "ANY Readers"
    ordering = configtx["Profiles"][GENESIS_PROFILE]["Orderer"]["Organizations"][0]
    assert ordering["Policies"]["Readers"]["Rule"] == (
        "OR('OrderingMSP.admin', 'OrderingMSP.orderer')")
    for org in profile["Application"]["Organizations"]:
        assert set(_principals(org["Policies"]["Readers"]["Rule"])) == {"admin", "peer"}


def _principals(rule: str) -> list[str]:
    """The roles named in an ``OR('X.role', ...)`` rule."""
    return [p.strip(" '").rsplit(".", 1)[1] for p in rule[3:-1].split(",")]


def test_what_clients_need_besides_blocks_points_at_members_which_holds_clients(configtx):
    app = configtx["Profiles"][CHANNEL_PROFILE]["Application"]
    members = f"/Channel/Application/{MEMBERS_POLICY}"
    for resource in ("event/FilteredBlock", "qscc/GetChainInfo", "cscc/GetConfigBlock",
                     "lscc/GetCollectionsConfig"):
        assert app["ACLs"][resource] == members, resource
    assert app["Policies"][MEMBERS_POLICY]["Rule"] == f"ANY {MEMBERS_POLICY}"
    for org in app["Organizations"]:
        roles = _principals(org["Policies"][MEMBERS_POLICY]["Rule"])
        assert roles == ["admin", "peer", "client"], org["ID"]
    # Proposals and the chaincode keep Fabric's default, the Writers (admin or client).
    assert "peer/Propose" not in app["ACLs"]


def test_every_resource_fabric_defaults_to_readers_is_named_explicitly(configtx):
    # Fabric 2.1.1's default ACL provider (core/aclmgmt/defaultaclprovider.go) maps these to
    # the application Readers; naming each one keeps a new client-readable path from hiding
    # behind the default.
    readers_by_default = {
        "lscc/ChaincodeExists", "lscc/GetDeploymentSpec", "lscc/GetChaincodeData",
        "lscc/GetInstantiatedChaincodes", "lscc/GetCollectionsConfig",
        "qscc/GetChainInfo", "qscc/GetBlockByNumber", "qscc/GetBlockByHash",
        "qscc/GetTransactionByID", "qscc/GetBlockByTxID", "cscc/GetConfigBlock",
        "event/Block", "event/FilteredBlock",
    }
    acls = configtx["Profiles"][CHANNEL_PROFILE]["Application"]["ACLs"]
    assert set(acls) == readers_by_default


def test_org_policies_follow_node_ou_roles(configtx):
    northwind = configtx["Profiles"][CHANNEL_PROFILE]["Application"]["Organizations"][0]
    policies = {k: v["Rule"] for k, v in northwind["Policies"].items()}
    assert policies == {
        "Readers": "OR('NorthwindMSP.admin', 'NorthwindMSP.peer')",
        "Members": "OR('NorthwindMSP.admin', 'NorthwindMSP.peer', 'NorthwindMSP.client')",
        "Writers": "OR('NorthwindMSP.admin', 'NorthwindMSP.client')",
        "Admins": "OR('NorthwindMSP.admin')",
        "Endorsement": "OR('NorthwindMSP.peer')",
    }
    assert northwind["MSPDir"] == "/run/ps/orgs/northwind/msp"


def test_a_fourth_retailer_is_one_entry_in_the_description(tmp_path):
    c = load_consortium(_four_retailers(tmp_path))
    profiles = render_configtx(c, make_plan(c), RUN)["Profiles"]
    app = profiles[CHANNEL_PROFILE]["Application"]
    assert app["Organizations"][3]["ID"] == "WestendMSP"
    assert "'WestendMSP.admin'" in app["Policies"][BLOCK_READERS_POLICY]["Rule"]
    assert len(profiles[GENESIS_PROFILE]["Consortiums"][CONSORTIUM]["Organizations"]) == 4


def test_configtx_is_plain_yaml_configtxgen_can_read(configtx):
    assert yaml.safe_load(yaml.safe_dump(configtx)) == configtx


def _keystore(layout: RunLayout, org: str, name: str) -> None:
    keystore = layout.tls(org, name) / "keystore"
    keystore.mkdir(parents=True)
    (keystore / "x_sk").write_text("key")


def test_peer_environment_sets_gossip_endpoints_tls_and_leveldb(tmp_path):
    plan = make_plan(load_consortium(DEFAULT))
    layout = RunLayout(tmp_path)
    _keystore(layout, "eastmarket", "peer0")
    env = peer_env(plan.peers[2], layout)
    assert env["CORE_PEER_ADDRESS"] == env["CORE_PEER_GOSSIP_EXTERNALENDPOINT"] == "127.0.0.1:7351"
    assert env["CORE_PEER_LOCALMSPID"] == "EastmarketMSP"
    assert env["CORE_PEER_TLS_ENABLED"] == "true"
    assert env["CORE_LEDGER_STATE_STATEDATABASE"] == "goleveldb"
    assert env["CORE_OPERATIONS_LISTENADDRESS"] == "127.0.0.1:7352"
    assert env["CORE_METRICS_PROVIDER"] == "prometheus"
    assert env["CORE_PEER_GOSSIP_PVTDATA_SKIPPULLINGINVALIDTRANSACTIONSDURINGCOMMIT"] == "true"
    assert env["FABRIC_CFG_PATH"] == str(tmp_path / "orgs/eastmarket/nodes/peer0/config")


def test_orderer_environment_trusts_every_org_for_clients_and_its_own_ca_for_raft(tmp_path):
    plan = make_plan(load_consortium(DEFAULT))
    layout = RunLayout(tmp_path)
    _keystore(layout, "ordering", "orderer2")
    env = orderer_env(plan.orderers[2], plan, layout, tmp_path / "genesis.block", tmp_path)
    assert env["ORDERER_GENERAL_LISTENPORT"] == "7021"
    assert env["ORDERER_GENERAL_BOOTSTRAPMETHOD"] == "file"
    assert env["ORDERER_GENERAL_TLS_ROOTCAS"].count("ca-cert.pem") == 4
    assert env["ORDERER_GENERAL_CLUSTER_ROOTCAS"] == f"[{layout.ca_root_cert('ordering')}]"
    assert env["ORDERER_GENERAL_TLS_PRIVATEKEY"].endswith("x_sk")


def test_derived_core_yaml_lists_the_builder_and_switches_docker_off():
    fabric = {"peer": {"id": "x"}, "vm": {"endpoint": "unix:///var/run/docker.sock"},
              "chaincode": {"externalBuilders": [], "executetimeout": "30s"}}
    core = derive_core_yaml(fabric, Path("/b/ccaas"))
    assert core["vm"]["endpoint"] == ""
    assert core["chaincode"]["externalBuilders"] == [
        {"name": "ccaas", "path": "/b/ccaas", "propagateEnvironment": []}]
    assert core["chaincode"]["executetimeout"] == "30s"
    assert fabric["vm"]["endpoint"].startswith("unix")  # the input is left alone
    with pytest.raises(ValueError, match=r"not Fabric's core\.yaml"):
        derive_core_yaml({"peer": {}}, Path("/b"))


def test_height_is_read_from_getinfo_output():
    out = 'x\nBlockchain info: {"height":12,"currentBlockHash":"q"}\n'
    assert parse_height(out) == 12
    with pytest.raises(CommandFailed, match="no blockchain info"):
        parse_height("Error: channel not found")


def test_committed_definition_and_package_references_are_parsed():
    committed = parse_committed(json.dumps(
        {"sequence": 2, "version": "1.1", "approvals": {"AMSP": True, "BMSP": False}}))
    assert (committed.sequence, committed.version) == (2, "1.1")
    assert committed.approvals == {"AMSP": True, "BMSP": False}
    installed = json.dumps({"installed_chaincodes": [
        {"package_id": "p_1.0:aa", "label": "p_1.0", "references": {
            "ch": {"chaincodes": [{"name": "p", "version": "1.0"}]}}},
        {"package_id": "p_1.1:bb", "label": "p_1.1"}]})
    assert referenced(installed, "p_1.0:aa", "ch", "p", "1.0") is True
    assert referenced(installed, "p_1.1:bb", "ch", "p", "1.1") is False
    assert referenced(installed, "p_2.0:cc", "ch", "p", "2.0") is None
    assert referenced("", "p_1.0:aa", "ch", "p", "1.0") is None


def test_low_s_check_refuses_a_high_s_ca_certificate_by_name(tmp_path, ca_pem_with_s):
    msp = tmp_path / "msp"
    (msp / "cacerts").mkdir(parents=True)
    (msp / "tlscacerts").mkdir()
    (msp / "cacerts" / "good.pem").write_bytes(ca_pem_with_s(False))
    assert check_ca_certificates([msp]) == 1
    bad = msp / "tlscacerts" / "bad.pem"
    bad.write_bytes(ca_pem_with_s(True))
    with pytest.raises(HighSSignature, match=r"bad\.pem: CA certificate signature has high S"):
        check_ca_certificates([msp])
    with pytest.raises(HighSSignature):
        check_low_s(bad)
