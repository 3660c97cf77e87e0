"""The same description places each organisation on a host of its own.

The hosts are network namespaces wired to one bridge (tests/conftest.py ``netns_hosts``, shared
with the fault campaign's partitions): one per organisation, health checks and ``status`` going
from the root namespace over the wire, as an operator's would.

Every organisation uses the *same* port block (``27000``): the description allows it because
the hosts differ, and each CA listens on ``<its host>:27054``. The whole network is brought up
across the namespaces with the placement ``ip netns exec <namespace>`` per host: the CAs, the
chaincode servers, one peer per retailer, the channel, the committed chaincode and the three
Raft orderers (orderer0 beside the ordering organisation's CA, orderer1 and orderer2 on hosts
of their own). Gossip between peers, Raft between orderers, peers' and clients' traffic to the
orderers and each peer's calls to its chaincode server all cross the bridge. Then one orderer,
one retailer and one organisation's CA are cut off (a link to the bridge set down) and
restored.

Everything the test makes (processes, namespaces, links) is removed afterwards, also when a
test fails, and the removal is checked. Creating namespaces needs root; without it, or without
``ip``, the module is skipped with the reason.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from fabric_protos.common import common_pb2

from demo.wallet import DemoCustomer
from network.ca import healthz
from network.chaincode_servers import current_package_id, registers_as
from network.channel import retry
from network.cli import main as network_cli
from network.control import Network
from network.description import Consortium, Retailer, load_consortium
from network.errors import CommandFailed, PortInUse
from network.layout import RunLayout
from network.membership import Membership
from network.nodes import wait_raft_leader
from network.plan import Orderer, make_plan
from network.supervisor import ProcessState, port_is_free

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Hosts of their own for orderer1 and orderer2 (orderer0 shares the ordering org's host).
ORDERER_HOSTS = ("orderer1", "orderer2")
ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = ROOT / ".fabric" / "bin"
#: Every organisation gets this block on its own host.
PORT_BLOCK = 27000
#: The retailer that joins the running consortium from a host of its own (its namespace is
#: made with the others, idle until it joins).
NEWCOMER = "westfield"


@pytest.fixture(scope="module")
def description_data() -> dict:
    return yaml.safe_load((ROOT / "network" / "consortium.yaml").read_text())


@pytest.fixture(scope="module")
def hosts(description_data: dict, netns_hosts: Any) -> Iterator[Any]:
    # The ordering organisation's host runs its CA and orderer0; orderer1 and orderer2 get a
    # host each, so Raft traffic crosses the bridge too.
    orgs = [description_data["orderer_org"]["name"], *ORDERER_HOSTS,
            *(r["name"] for r in description_data["retailers"]), NEWCOMER]
    with netns_hosts(orgs) as built:
        yield built


@pytest.fixture(scope="module")
def description(hosts: Any, description_data: dict,
                tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default description with each organisation on its own host, all on one block."""
    data = dict(description_data)
    ordering = data["orderer_org"]["name"]
    data["orderer_org"] = {**data["orderer_org"], "port_block": PORT_BLOCK,
                           "host": hosts.address(ordering),
                           "node_hosts": [hosts.address(h) for h in (ordering, *ORDERER_HOSTS)]}
    data["retailers"] = [{**r, "port_block": PORT_BLOCK, "host": hosts.address(r["name"])}
                         for r in data["retailers"]]
    path = tmp_path_factory.mktemp("multihost") / "consortium.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def consortium(description: Path) -> Consortium:
    return load_consortium(description)


@pytest.fixture(scope="module")
def network(hosts: Any, consortium: Consortium,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    for name in ("fabric-ca-server", "peer", "orderer"):
        if not (BIN_DIR / name).exists():
            pytest.fail(f"{name} is not built: run `make fabric-bins`")
    run = tmp_path_factory.mktemp("multihost-run") / "run"
    # The newcomer's host has no node until it joins.
    placement = hosts.placement().only(host for _, host, _ in make_plan(consortium).ports())
    net = Network(consortium, RunLayout(run), BIN_DIR, placement)
    try:
        net.up()
        yield net
    finally:
        net.clean()


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _request_sources(network: Network, process: str, requests: Sequence[str]) -> set[str]:
    """Source addresses of ``requests`` in a CA's log (``[INFO] 10.231.4.3:36632 POST ...``)."""
    out = set()
    for line in network.layout.log(process).read_text().splitlines():
        words = line.split()
        if len(words) > 5 and f"{words[4]} {words[5]}" in requests:
            out.add(words[3].rsplit(":", 1)[0])
    return out


def _wait(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.2)


def test_each_ca_runs_in_its_orgs_namespace_and_is_healthy_at_its_own_address(network, hosts):
    assert {ca.port for ca in network.plan.cas} == {PORT_BLOCK + 54}
    for ca in network.plan.cas:
        assert ca.host == hosts.address(ca.org)
        pid = network.supervisor.pid(ca.process)
        assert pid is not None
        assert hosts.namespace_of(pid) == hosts.namespace(ca.org)
        assert healthz(ca.host, ca.operations_port)
        ctx = ssl.create_default_context(cafile=str(network.layout.ca_root_cert(ca.org)))
        with urllib.request.urlopen(f"{ca.url}/cainfo", context=ctx, timeout=5) as r:
            assert json.load(r)["result"]["CAName"] == f"ca-{ca.org}"
    rows = network.status()
    assert len(rows) == len(network.plan.cas) + len(network.plan.orderers) + len(
        network.plan.peers) + len(network.plan.chaincode_servers)
    cas = [r for r in rows if r.process.startswith("ca-")]
    assert len(cas) == 4 and all(r.state is ProcessState.RUNNING and r.healthy for r in cas)


def test_each_chaincode_server_runs_on_its_orgs_host_and_registers_across_the_wire(
        network, hosts):
    # registers_as dials from the root namespace, over the bridge, with the peer's TLS pair.
    for server in network.plan.chaincode_servers:
        assert server.host == hosts.address(server.org)
        pid = network.supervisor.pid(server.process)
        assert pid is not None
        assert hosts.namespace_of(pid) == hosts.namespace(server.org)
        package_id = current_package_id(server, network.layout)
        assert package_id is not None
        assert registers_as(server, network.layout, package_id)
        assert hosts.connects(server.org, server.host, server.port)
    rows = {r.process: r for r in network.status()}
    assert all(rows[s.process].healthy for s in network.plan.chaincode_servers)


def _host_of(node: Any) -> str:
    """The test host a node runs on: its organisation's, or its own for orderer1 and 2."""
    return f"orderer{node.index}" if isinstance(node, Orderer) and node.index else node.org


def test_node_tls_certificates_name_their_orgs_host(network, hosts):
    layout = network.layout
    nodes = [(p.org, "peer0", p.org) for p in network.plan.peers]
    nodes += [(o.org, o.name, _host_of(o)) for o in network.plan.orderers]
    nodes += [(s.org, "chaincode", s.org) for s in network.plan.chaincode_servers]
    for org, name, host in nodes:
        cert = _cert(layout.tls(org, name) / "signcerts" / "cert.pem")
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == [
            hosts.address(host)]
        cert.verify_directly_issued_by(_cert(next((layout.org_msp(org) / "tlscacerts").iterdir())))


def test_every_registration_and_enrolment_ran_on_its_orgs_host(network, hosts):
    # The root namespace reaches every CA too, so a successful enrolment alone would not show
    # where fabric-ca-client ran. The CA logs each request's source address; an organisation's
    # namespace has one address, so requests from its host come from exactly that address.
    # (Runs before the next test, whose cross-host enrolment adds another source.)
    for ca in network.plan.cas:
        sources = _request_sources(network, ca.process, ("POST /enroll", "POST /register"))
        assert sources == {hosts.address(ca.org)}, ca.process


def test_a_client_on_one_orgs_host_enrols_with_another_orgs_ca_over_tls(network, hosts,
                                                                          tmp_path):
    southgate = next(ca for ca in network.plan.cas if ca.org == "southgate")
    layout = network.layout
    password = layout.secret("southgate", "gateway").read_text().strip()
    done = hosts.run_in("northwind", [
        str(BIN_DIR / "fabric-ca-client"), "enroll",
        "-u", f"https://gateway:{password}@{southgate.host}:{southgate.port}",
        "--caname", "ca-southgate", "--tls.certfiles", str(layout.ca_root_cert("southgate")),
        "-M", str(tmp_path / "msp"),
    ], env={"FABRIC_CA_CLIENT_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1:]
    cert = _cert(tmp_path / "msp" / "signcerts" / "cert.pem")
    cert.verify_directly_issued_by(_cert(layout.ca_root_cert("southgate")))
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "gateway"
    assert hosts.address("northwind") in _request_sources(network, southgate.process,
                                                          ("POST /enroll",))


def test_up_checks_each_port_on_its_own_host(network, hosts):
    peer = next(p for p in network.plan.peers if p.org == "eastmarket")
    # Here, the address of another host cannot be bound at all: a check run here would call
    # every port of that host taken. It must run on the host, where this port is taken.
    assert not port_is_free(peer.host, peer.port)
    network.supervisor.stop(peer.process)  # its port is then free for a stranger to take
    listener = ("import socket, time\n"
                f"s = socket.create_server(({peer.host!r}, {peer.port}))\n"
                "print('ready', flush=True)\n"
                "time.sleep(60)\n")
    proc = subprocess.Popen(hosts.command("eastmarket", [sys.executable, "-c", listener]),
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        with pytest.raises(PortInUse, match=f"{peer.host}:{peer.port} \\(for {peer.process}\\)"):
            network.up()
    finally:
        proc.kill()
        proc.wait(timeout=10)
    network.up()  # the port is free again: the peer starts and catches up
    network.channel.wait_same_height()


def test_orderers_and_peers_run_on_their_orgs_hosts_and_share_one_ledger(network, hosts):
    for node in [*network.plan.orderers, *network.plan.peers]:
        pid = network.supervisor.pid(node.process)
        assert pid is not None
        assert hosts.namespace_of(pid) == hosts.namespace(_host_of(node))
        assert node.host == hosts.address(_host_of(node))
    rows = {r.process: r for r in network.status()}
    assert all(r.healthy for r in rows.values())
    heights = {rows[p.process].height for p in network.plan.peers}
    assert len(heights) == 1 and None not in heights


def test_a_cut_off_peer_catches_up_after_the_link_returns(network, hosts, gateway_cli_for):
    cli = gateway_cli_for(network)
    victim, writer, other = "southgate", "northwind", "eastmarket"
    customer = DemoCustomer.new()
    hosts.cut(victim)
    try:
        # MAJORITY of three: the two reachable retailers still commit.
        cli.invoke(writer, [writer, other], "RegisterCustomer", customer.public_key)
        assert cli.query(other, other, "ListConsents", customer.customer_id)[
            "customer_id"] == customer.customer_id
        # Its peer is out of reach (its own host's address too, with the link down).
        with pytest.raises(CommandFailed):
            cli.query(victim, victim, "ListConsents", customer.customer_id)
    finally:
        hosts.restore(victim)
    network.channel.wait_same_height(seconds=90)
    assert cli.query(victim, victim, "ListConsents", customer.customer_id)[
        "customer_id"] == customer.customer_id


def test_one_orderer_cut_off_the_other_two_keep_ordering_and_it_catches_up(
        network, hosts, gateway_cli_for):
    cli = gateway_cli_for(network)  # it broadcasts to orderer0, on the ordering host
    victim = network.plan.orderers[2]
    customers = [DemoCustomer.new() for _ in range(3)]
    hosts.cut(_host_of(victim))
    try:
        assert not healthz(victim.host, victim.operations_port)
        # If it led, the other two elect a leader between them (about 5 s).
        wait_raft_leader(network.plan, network.consortium.channel)
        for customer in customers:
            retry(lambda c=customer: cli.invoke("northwind", ["northwind", "southgate"],
                                                "RegisterCustomer", c.public_key),
                  seconds=30, every=2)
        height = network.channel.wait_same_height()
    finally:
        hosts.restore(_host_of(victim))
    _wait(lambda: healthz(victim.host, victim.operations_port), "the cut orderer healthy")
    # Its copy of the chain reaches the others' height (a Deliver from it, over the bridge).
    target = network.layout.root / "newest-from-cut-orderer.block"

    def caught_up() -> bool:
        try:
            network.tools.peer_cli(network.plan.peers[0], [
                "channel", "fetch", "newest", str(target), "-c", network.consortium.channel,
                *network.tools.orderer_args(victim)], what="fetch newest")
        except CommandFailed:
            return False
        return int(common_pb2.Block.FromString(target.read_bytes()).header.number) + 1 >= height

    _wait(caught_up, "the cut orderer caught up", timeout=60)
    for customer in customers:
        assert cli.query("eastmarket", "eastmarket", "ListConsents", customer.customer_id)[
            "customer_id"] == customer.customer_id


def test_a_cut_off_org_reads_unhealthy_and_unreachable_until_restored(network, hosts, capsys,
                                                                      description):
    victim = next(ca for ca in network.plan.cas if ca.org == "southgate")
    others = [ca for ca in network.plan.cas if ca is not victim]
    chaincode = {s.org: s.process for s in network.plan.chaincode_servers}
    hosts.cut(victim.org)
    try:
        assert not healthz(victim.host, victim.operations_port)
        for ca in others:
            assert not hosts.connects(ca.org, victim.host, victim.port, timeout=1.0)
            assert healthz(ca.host, ca.operations_port)
        rows = {r.process: r for r in network.status()}
        assert rows[victim.process].state is ProcessState.RUNNING
        assert not rows[victim.process].healthy
        assert all(rows[ca.process].healthy for ca in others)
        assert rows[chaincode[victim.org]].state is ProcessState.RUNNING
        assert not rows[chaincode[victim.org]].healthy
        assert all(rows[chaincode[ca.org]].healthy for ca in others if ca.org in chaincode)
        # The operator's command, knowing nothing of namespaces, says the same.
        code = network_cli(["--description", str(description),
                            "--run-dir", str(network.layout.root), "status"])
        assert code == 0  # running but cut off is not a crash
        # Columns: process, state, health, resident memory ("32.7 MiB").
        lines = {ln.split()[0]: ln.split()[1:3] for ln in capsys.readouterr().out.splitlines()}
        assert lines[victim.process] == ["running", "-"]
        assert all(lines[ca.process] == ["running", "healthy"] for ca in others)
    finally:
        hosts.restore(victim.org)
    _wait(lambda: healthz(victim.host, victim.operations_port), f"{victim.process} healthy")
    assert all(hosts.connects(ca.org, victim.host, victim.port) for ca in others)
    _wait(lambda: all(r.healthy for r in network.status()), "every node healthy", timeout=60)


def test_a_newcomer_on_a_host_of_its_own_joins_across_the_wire_and_leaves(
        network, hosts, description, gateway_cli_for):
    """``add-retailer`` with the newcomer on a host of its own: its CA, peer and chaincode
    server start in its namespace, the majority-signed config update and the next definition
    are made from the members' hosts, its peer catches up over the bridge and endorses; then
    ``remove-retailer`` takes it out again (and stops everything it started there)."""
    retailer = Retailer(name=NEWCOMER, msp_id="WestfieldMSP", host=hosts.address(NEWCOMER),
                        port_block=PORT_BLOCK)
    grown = Membership(network, description, None, hosts.placement()).add(retailer)
    try:
        peer = next(p for p in grown.plan.peers if p.org == NEWCOMER)
        for process in (peer.process, f"ca-{NEWCOMER}", f"chaincode-{NEWCOMER}"):
            pid = grown.supervisor.pid(process)
            assert pid is not None and hosts.namespace_of(pid) == hosts.namespace(NEWCOMER)
        assert peer.host == hosts.address(NEWCOMER)
        grown.channel.wait_same_height(seconds=90)
        # Its peer endorses a write with two others (a majority of four), and it reads what
        # the members wrote before it joined.
        cli = gateway_cli_for(grown)
        customer = DemoCustomer.new()
        cli.invoke("northwind", ["northwind", "southgate", NEWCOMER], "RegisterCustomer",
                   customer.public_key)
        grown.channel.wait_same_height(seconds=60)
        assert cli.query(NEWCOMER, NEWCOMER, "ListConsents", customer.customer_id)[
            "customer_id"] == customer.customer_id
    finally:
        shrunk = Membership(grown, description, None).remove(NEWCOMER)
    assert all(shrunk.supervisor.state(p) is not ProcessState.RUNNING
               for p in (f"peer0-{NEWCOMER}", f"ca-{NEWCOMER}", f"chaincode-{NEWCOMER}"))
    assert load_consortium(description).former_members == ["WestfieldMSP"]
