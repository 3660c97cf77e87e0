"""Fixtures shared by unit, integration and fault tests."""

from __future__ import annotations

import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from network.certs import signature_s
from network.control import Network
from network.description import Consortium
from network.layout import RunLayout
from network.placement import Placement


def _self_signed_ca(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hand-placed-ca")])
    now = datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


@pytest.fixture(scope="session")
def ca_pem_with_s() -> Callable[[bool], bytes]:
    """A self-signed ECDSA CA certificate (PEM) whose signature has high S (``True``) or low
    S (``False``). ECDSA signing is randomised and half its signatures have S > n/2, so this
    signs until it gets the wanted kind (a few tries)."""

    def make(high: bool) -> bytes:
        key = ec.generate_private_key(ec.SECP256R1())
        for _ in range(200):
            cert = _self_signed_ca(key)
            s, n = signature_s(cert, cert) or (0, 1)
            if (s > n // 2) == high:
                return cert.public_bytes(serialization.Encoding.PEM)
        raise AssertionError("no signature of the wanted kind in 200 tries")

    return make


# -- network namespaces standing in for hosts (multi-host and partition tests) ---------------
#
# One Linux network namespace per organisation (``psns-`` and a random suffix, so parallel
# runs cannot collide), each with one veth link into a bridge that lives in a namespace of its
# own, and addresses from a private /24 chosen so that nothing on this machine routes it
# already. The root namespace gets one address on that bridge (``.254``) so health checks and
# clients go from here over the wire; no traffic goes to any address outside these
# namespaces. The bridge sits in its own namespace so the root namespace's firewall (bridged
# frames pass through it when ``br_netfilter`` is loaded) cannot drop traffic between the
# organisations. ``Hosts.cut`` unplugs an organisation's cable at the bridge.

IP = shutil.which("ip", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
#: The /24s the test may take: 10.231.<n>.0/24, a free <n> picked at random.
SUBNET_POOL = ipaddress.IPv4Network("10.231.0.0/16")
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
    used: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for route in json.loads(_ip("-4", "-j", "route", "show", "table", "all") or "[]"):
        dst = route.get("dst", "default")
        if dst != "default":
            used.append(ipaddress.ip_network(dst, strict=False))
    candidates: list[ipaddress.IPv4Network] = list(SUBNET_POOL.subnets(new_prefix=24))
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

    def command(self, org: str, argv: Sequence[str]) -> list[str]:
        """``argv`` run on ``org``'s host."""
        assert IP is not None
        return [IP, "netns", "exec", self.namespace(org), *argv]

    @staticmethod
    def namespace_of(pid: int) -> str:
        """The name of the namespace process ``pid`` runs in ("" for the root namespace)."""
        return _ip("netns", "identify", str(pid)).strip()

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


@pytest.fixture(scope="session")
def netns_hosts() -> Callable[[Sequence[str]], AbstractContextManager[Hosts]]:
    """``with netns_hosts(orgs) as hosts: ...``: a namespace host per organisation, wired to
    one bridge. Everything made (processes left in the namespaces, namespaces, links) is
    removed on leaving, also when the body fails, and the removal is checked. Skips without
    ``ip`` or root."""

    @contextmanager
    def make(orgs: Sequence[str]) -> Iterator[Hosts]:
        if IP is None:
            pytest.skip("iproute2's `ip` is not installed")
        if os.geteuid() != 0:
            pytest.skip("network namespaces need root (`ip netns add`)")
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

    return make


# -- the whole Fabric network ----------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
BIN_DIR = ROOT / ".fabric" / "bin"
BUILDER_DIR = ROOT / ".fabric" / "builders" / "ccaas"


@contextmanager
def _whole_network(consortium: Consortium, run_dir: Path) -> Iterator[Network]:
    for name in ("peer", "orderer", "configtxgen", "fabric-ca-server"):
        if not (BIN_DIR / name).exists():
            pytest.fail(f"{name} is not built: run `make fabric-bins`")
    if not (BUILDER_DIR / "bin" / "release").exists():
        pytest.fail("the chaincode-as-a-service builder is not built: run `make ccaas-builder`")
    net = Network(consortium, RunLayout(run_dir), BIN_DIR, builder_dir=BUILDER_DIR)
    net.up()
    try:
        yield net
    finally:
        net.clean()


@pytest.fixture(scope="session")
def whole_network() -> Callable[[Consortium, Path], AbstractContextManager[Network]]:
    """``with whole_network(consortium, run_dir) as net``: the network as `make network-up`
    starts it (CAs, Raft orderers, peers, channel, chaincode committed and answering), cleaned
    away afterwards."""
    return _whole_network
