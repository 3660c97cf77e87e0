from pathlib import Path

import pytest
import yaml

from network.description import load_consortium
from network.errors import DescriptionError
from network.plan import IdentityKind, make_plan

DEFAULT = Path("network/consortium.yaml")


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _base() -> dict:
    return yaml.safe_load(DEFAULT.read_text())


def test_default_description_has_three_retailers_and_raft():
    c = load_consortium(DEFAULT)
    assert [r.msp_id for r in c.retailers] == ["NorthwindMSP", "SouthgateMSP", "EastmarketMSP"]
    assert c.consensus == "raft"
    assert c.orderer_count == 3
    assert len(make_plan(c).orderers) == 3


def test_bft_is_refused_in_one_line_naming_fabric_2_1(tmp_path):
    data = _base()
    data["consensus"] = "bft"
    with pytest.raises(DescriptionError, match=r"consensus: Fabric 2\.1 has no BFT ordering") as e:
        load_consortium(_write(tmp_path, data))
    assert "\n" not in str(e.value)


def test_adding_a_retailer_is_one_entry(tmp_path):
    data = _base()
    data["retailers"].append({"name": "westend", "msp_id": "WestendMSP", "host": "10.0.0.4"})
    plan = make_plan(load_consortium(_write(tmp_path, data)))
    peer = next(p for p in plan.peers if p.org == "westend")
    assert (peer.host, peer.port) == ("10.0.0.4", 7451)
    assert any(i.org == "westend" and i.name == "gateway" for i in plan.identities)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["retailers"][1].update(msp_id="bad id"), "retailers.1.msp_id"),
        (lambda d: d["retailers"][0].update(colour="red"), "retailers.0.colour"),
        (lambda d: d.update(consensus="pbft"), "consensus"),
        (lambda d: d["orderer_org"].update(raft_nodes=2), "orderer_org.raft_nodes"),
        (lambda d: d["retailers"][2].update(host="shop.example"), "retailers.2.host"),
        (lambda d: d.update(retailers=[]), "retailers"),
        (lambda d: d["retailers"][1].update(name="northwind"), "used by two organisations"),
        (lambda d: d["retailers"][1].update(port_block=7010), "overlap"),
        (lambda d: d["chaincode"].update(version="1 0"), "chaincode.version"),
        (lambda d: d["chaincode"].update(name="Prefshare"), "chaincode.name"),
        (lambda d: d["chaincode"].update(block_to_live=0), "chaincode.block_to_live"),
        (lambda d: d["orderer_org"].update(node_hosts=["10.0.0.1"]), "1 hosts for 3 raft nodes"),
        (lambda d: d["orderer_org"].update(node_hosts=["a", "b", "c"]), "orderer_org.node_hosts"),
        (lambda d: d["orderer_org"].update(batch_timeout_ms=2), "orderer_org.batch_timeout_ms"),
        (lambda d: d["orderer_org"].update(max_message_count=0),
         "orderer_org.max_message_count"),
    ],
)
def test_invalid_description_names_the_bad_field(tmp_path, mutate, field):
    data = _base()
    mutate(data)
    with pytest.raises(DescriptionError, match=field.replace(".", r"\.")):
        load_consortium(_write(tmp_path, data))


def test_missing_and_non_yaml_files_are_refused(tmp_path):
    with pytest.raises(DescriptionError, match="no such file"):
        load_consortium(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("channel: [unclosed")
    with pytest.raises(DescriptionError, match="not valid YAML"):
        load_consortium(bad)


def test_plan_ports_are_unique_per_host():
    plan = make_plan(load_consortium(DEFAULT))
    ports = [(h, p) for _, h, p in plan.ports()]
    assert len(ports) == len(set(ports))


def test_gateway_identity_carries_role_and_retailer_attributes():
    plan = make_plan(load_consortium(DEFAULT))
    gw = [i for i in plan.identities if i.name == "gateway"]
    assert len(gw) == 3
    assert all(i.kind is IdentityKind.CLIENT for i in gw)
    assert dict(gw[0].attrs) == {"prefshare.role": "gateway", "prefshare.retailer": "northwind"}


def test_organisations_on_different_hosts_may_share_a_port_block(tmp_path):
    data = _base()
    for i, org in enumerate([data["orderer_org"], *data["retailers"]], start=1):
        org.update(host=f"10.0.0.{i}", port_block=27000)
    plan = make_plan(load_consortium(_write(tmp_path, data)))
    assert {(ca.host, ca.port) for ca in plan.cas} == {(f"10.0.0.{i}", 27054) for i in range(1, 5)}


def test_each_retailer_gets_a_chaincode_server_with_its_own_tls_identity():
    c = load_consortium(DEFAULT)
    plan = make_plan(c)
    assert [(s.org, s.port, s.label) for s in plan.chaincode_servers] == [
        ("northwind", 7160, "prefshare_2.0"),
        ("southgate", 7260, "prefshare_2.0"),
        ("eastmarket", 7360, "prefshare_2.0"),
    ]
    for server in plan.chaincode_servers:
        ident = next(i for i in plan.identities if (i.org, i.name) == (server.org, "chaincode"))
        assert server.host in ident.tls_hosts
        assert (server.process, server.host, server.port) in plan.ports()


def test_orderer_nodes_may_each_have_a_host_of_their_own(tmp_path):
    data = _base()
    data["orderer_org"].update(host="10.0.0.1", port_block=27000,
                               node_hosts=["10.0.0.1", "10.0.0.5", "10.0.0.6"])
    plan = make_plan(load_consortium(_write(tmp_path, data)))
    assert [o.host for o in plan.orderers] == ["10.0.0.1", "10.0.0.5", "10.0.0.6"]
    tls = {i.name: i.tls_hosts for i in plan.identities if i.org == "ordering"}
    assert tls["orderer2"] == ("10.0.0.6", "localhost")
    assert next(ca for ca in plan.cas if ca.org == "ordering").host == "10.0.0.1"
