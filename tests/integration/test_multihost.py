"""The same description places each organisation on a host of its own.

The test makes the hosts itself: one Linux network namespace per organisation (``psns-`` and a
random suffix, so parallel runs cannot collide), each with one veth link into a bridge that
lives in a namespace of its own, and addresses from a private /24 chosen so that nothing on
this machine routes it already. The root namespace gets one address on that bridge (``.254``)
so health checks and ``status`` go from here over the wire, as an operator's would; no traffic
goes to any address outside these namespaces. The bridge sits in its own namespace so the
root namespace's firewall (bridged frames pass through it when ``br_netfilter`` is loaded)
cannot drop traffic between the organisations.

Every organisation uses the *same* port block (``27000``): the description allows it because
the hosts differ, and each CA listens on ``<its host>:27054``. The whole network (CAs,
chaincode servers, the three Raft orderers on the ordering organisation's host, one peer per
retailer, the channel and the committed chaincode) is brought up across the namespaces with
the placement ``ip netns exec <namespace>`` per host, so gossip between peers, peers' and
clients' traffic to the orderers and each peer's calls to its chaincode server cross the
bridge; then one organisation is cut off (its link to the bridge set down) and restored.

Everything the test makes (processes, namespaces, links) is removed afterwards, also when a
test fails, and the removal is checked. Creating namespaces needs root; without it, or without
``ip``, the module is skipped with the reason.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from gateway.ledger_bench import DemoCustomer
from network.ca import healthz
from network.chaincode_servers import current_package_id, registers_as
from network.cli import main as network_cli
from network.control import Network
from network.description import Consortium, load_consortium
from network.errors import CommandFailed, PortInUse
from network.layout import RunLayout
from network.placement import Placement
from network.supervisor import ProcessState, port_is_free

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = ROOT / ".fabric" / "bin"
IP = shutil.which("ip", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
#: Every organisation gets this block on its own host.
PORT_BLOCK = 27000
#: The /24s the test may take: 10.231.<n>.0/24, a free <n> picked at random.
SUBNET_POOL = ipaddress.ip_network("10.231.0.0/16")
ROOT_HOST = 254


def _ip(*args: str) -> str:
    """Run ``ip args``; raise with its error line when it fails."""
    assert IP is not None
    done = subprocess.run([IP, *args], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _free_subnet() -> ipaddress.IPv4Network | None:
    """A /24 of the pool that no route (of any table, local addresses included) overlaps."""
    used = []
    for route in json.loads(_ip("-4", "-j", "route", "show", "table", "all") or "[]"):
        dst = route.get("dst", "default")
        if dst != "default":
            used.append(ipaddress.ip_network(dst, strict=False))
    candidates = list(SUBNET_POOL.subnets(new_prefix=24))
    random.shuffle(candidates)
    return next((c for c in candidates if not any(c.overlaps(u) for u in used)), None)


def _disable_ipv6_in(namespace: str) -> None:
    """No IPv6 on the test's links: no router solicitations or MLD reports, only our IPv4."""
    script = ("import os\n"
              "for k in ('all', 'default'):\n"
              "    p = f'/proc/sys/net/ipv6/conf/{k}/disable_ipv6'\n"
              "    if os.path.exists(p):\n"
              "        open(p, 'w').write('1')\n")
    _ip("netns", "exec", namespace, sys.executable, "-c", script)


def _pids_in(namespace: str) -> list[int]:
    try:
        return [int(p) for p in _ip("netns", "pids", namespace).split()]
    except RuntimeError:
        return []


def _remove_namespace(namespace: str) -> None:
    """Kill what still runs in ``namespace`` (only this test starts processes there), then
    delete it; its links go with it."""
    for pid in _pids_in(namespace):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while _pids_in(namespace) and time.monotonic() < deadline:
        for pid in _pids_in(namespace):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.05)
    _ip("netns", "delete", namespace)


@dataclass(frozen=True)
class Hosts:
    """The namespaces standing in for the organisations' hosts, and their wiring."""

    suffix: str
    subnet: ipaddress.IPv4Network
    bridge_ns: str
    root_link: str
    #: org name -> (namespace, address, name of its link's end in the bridge namespace)
    orgs: dict[str, tuple[str, str, str]]

    @property
    def root_address(self) -> str:
        return str(self.subnet[ROOT_HOST])

    def namespace(self, org: str) -> str:
        return self.orgs[org][0]

    def address(self, org: str) -> str:
        return self.orgs[org][1]

    def placement(self) -> Placement:
        assert IP is not None
        return Placement.of({addr: [IP, "netns", "exec", ns] for ns, addr, _ in self.orgs.values()})

    def cut(self, org: str) -> None:
        """Unplug ``org``'s cable at the switch: its bridge port goes down."""
        _ip("-n", self.bridge_ns, "link", "set", self.orgs[org][2], "down")

    def restore(self, org: str) -> None:
        _ip("-n", self.bridge_ns, "link", "set", self.orgs[org][2], "up")

    def run_in(self, org: str, argv: Sequence[str], *, env: dict[str, str] | None = None,
               timeout: float = 30) -> subprocess.CompletedProcess[str]:
        assert IP is not None
        return subprocess.run([IP, "netns", "exec", self.namespace(org), *argv],
                              capture_output=True, text=True, timeout=timeout, env=env)

    def connects(self, org: str, host: str, port: int, *, timeout: float = 2.0) -> bool:
        """Whether a TCP connection from ``org``'s host to ``host:port`` is accepted."""
        probe = ("import socket, sys\n"
                 "try:\n"
                 f"    socket.create_connection(({host!r}, {port}), timeout={timeout}).close()\n"
                 "except OSError:\n"
                 "    sys.exit(1)\n")
        return self.run_in(org, [sys.executable, "-c", probe], timeout=timeout + 10).returncode == 0


def _build_hosts(orgs: Sequence[str], stack: ExitStack) -> Hosts:
    """Create the namespaces and links, registering each one's removal on ``stack`` first."""
    suffix = secrets.token_hex(3)
    subnet = _free_subnet()
    if subnet is None:
        pytest.skip(f"every /24 of {SUBNET_POOL} is already routed on this machine")
    bridge_ns = f"psns-{suffix}-bridge"
    try:
        _ip("netns", "add", bridge_ns)
    except RuntimeError as exc:
        pytest.skip(f"cannot create network namespaces here: {exc}")
    stack.callback(_remove_namespace, bridge_ns)
    _disable_ipv6_in(bridge_ns)
    _ip("-n", bridge_ns, "link", "set", "lo", "up")
    # STP off and no forwarding delay: a port set up again forwards at once.
    _ip("-n", bridge_ns, "link", "add", "br0", "type", "bridge", "stp_state", "0",
        "forward_delay", "0")
    _ip("-n", bridge_ns, "link", "set", "br0", "up")

    placed: dict[str, tuple[str, str, str]] = {}
    for i, org in enumerate(orgs):
        ns, addr, port = f"psns-{suffix}-{org}", str(subnet[i + 1]), f"p{i}"
        _ip("netns", "add", ns)
        stack.callback(_remove_namespace, ns)
        _disable_ipv6_in(ns)
        _ip("-n", bridge_ns, "link", "add", port, "type", "veth", "peer", "name", "eth0",
            "netns", ns)
        _ip("-n", ns, "address", "add", f"{addr}/{subnet.prefixlen}", "dev", "eth0")
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", bridge_ns, "link", "set", port, "master", "br0", "up")
        placed[org] = (ns, addr, port)

    # The root namespace's one leg on the bridge (its name carries the suffix: root link names
    # are shared by parallel runs). Deleting it also removes its end in the bridge namespace.
    root_link = f"psns-{suffix}"
    _ip("link", "add", root_link, "type", "veth", "peer", "name", "root", "netns", bridge_ns)
    stack.callback(_delete_link, root_link)
    ipv6 = Path(f"/proc/sys/net/ipv6/conf/{root_link}/disable_ipv6")
    if ipv6.exists():
        ipv6.write_text("1")
    hosts = Hosts(suffix, subnet, bridge_ns, root_link, placed)
    _ip("address", "add", f"{hosts.root_address}/{subnet.prefixlen}", "dev", root_link)
    _ip("link", "set", root_link, "up")
    _ip("-n", bridge_ns, "link", "set", "root", "master", "br0", "up")
    # Traffic from here to the organisations' addresses must leave by our link, nowhere else.
    route = json.loads(_ip("-j", "route", "get", hosts.address(orgs[0])))[0]
    assert route["dev"] == root_link, f"{subnet} is routed via {route['dev']}, not the test's link"
    return hosts


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def _delete_link(name: str) -> None:
    """Delete a root-namespace link (already gone when the bridge namespace went first)."""
    if _link_exists(name):
        _ip("link", "delete", name)


def _ours_left(suffix: str) -> list[str]:
    names = [line.split()[0] for line in _ip("netns", "list").splitlines() if line.strip()]
    left = [n for n in names if n.startswith(f"psns-{suffix}-")]
    return left + ([f"link psns-{suffix}"] if _link_exists(f"psns-{suffix}") else [])


@pytest.fixture(scope="module")
def description_data() -> dict:
    return yaml.safe_load((ROOT / "network" / "consortium.yaml").read_text())


@pytest.fixture(scope="module")
def hosts(description_data: dict) -> Iterator[Hosts]:
    if IP is None:
        pytest.skip("iproute2's `ip` is not installed")
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (`ip netns add`)")
    orgs = [description_data["orderer_org"]["name"],
            *(r["name"] for r in description_data["retailers"])]
    stack = ExitStack()
    suffix = ""
    try:
        with stack:
            built = _build_hosts(orgs, stack)
            suffix = built.suffix
            yield built
    finally:
        if suffix:
            left = _ours_left(suffix)
            assert not left, f"left behind after the test: {left}"


@pytest.fixture(scope="module")
def description(hosts: Hosts, description_data: dict,
                tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default description with each organisation on its own host, all on one block."""
    data = dict(description_data)
    data["orderer_org"] = {**data["orderer_org"], "port_block": PORT_BLOCK,
                           "host": hosts.address(data["orderer_org"]["name"])}
    data["retailers"] = [{**r, "port_block": PORT_BLOCK, "host": hosts.address(r["name"])}
                         for r in data["retailers"]]
    path = tmp_path_factory.mktemp("multihost") / "consortium.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def consortium(description: Path) -> Consortium:
    return load_consortium(description)


@pytest.fixture(scope="module")
def network(hosts: Hosts, consortium: Consortium,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    for name in ("fabric-ca-server", "peer", "orderer"):
        if not (BIN_DIR / name).exists():
            pytest.fail(f"{name} is not built: run `make fabric-bins`")
    run = tmp_path_factory.mktemp("multihost-run") / "run"
    net = Network(consortium, RunLayout(run), BIN_DIR, hosts.placement())
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
        assert _ip("netns", "identify", str(pid)).strip() == hosts.namespace(ca.org)
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
        assert _ip("netns", "identify", str(pid)).strip() == hosts.namespace(server.org)
        package_id = current_package_id(server, network.layout)
        assert package_id is not None
        assert registers_as(server, network.layout, package_id)
        assert hosts.connects(server.org, server.host, server.port)
    rows = {r.process: r for r in network.status()}
    assert all(rows[s.process].healthy for s in network.plan.chaincode_servers)


def test_node_tls_certificates_name_their_orgs_host(network, hosts):
    layout = network.layout
    nodes = [(p.org, "peer0") for p in network.plan.peers]
    nodes += [(o.org, f"orderer{o.index}") for o in network.plan.orderers]
    nodes += [(s.org, "chaincode") for s in network.plan.chaincode_servers]
    for org, name in nodes:
        cert = _cert(layout.tls(org, name) / "signcerts" / "cert.pem")
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == [
            hosts.address(org)]
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
    assert IP is not None
    proc = subprocess.Popen([IP, "netns", "exec", hosts.namespace("eastmarket"), sys.executable,
                             "-c", listener], stdout=subprocess.PIPE, text=True)
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
        assert _ip("netns", "identify", str(pid)).strip() == hosts.namespace(node.org)
        assert node.host == hosts.address(node.org)
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
