"""The chaincode layer: each retailer's package and chaincode server, against real processes.

The servers are real (``python -m chaincode`` with TLS certificates from the real CAs), and
so is the check: the peer's own gRPC stream, opened with the peer's TLS pair, on which the
server must register under its package id. The external builder is the real program the
peer would run (network/ccaas-builder), fed the package the way the peer unpacks it. That a
real peer installs the package and calls the server is shown by
tests/integration/test_fabric_network.py.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from fabric_protos.peer import chaincode_shim_pb2_grpc as shim_grpc

from network.chaincode_package import read_package
from network.chaincode_servers import current_package_id, registers_as
from network.control import Layer, Network
from network.description import ChaincodeSpec
from network.supervisor import ProcessState

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BUILDER = ROOT / ".fabric" / "builders" / "ccaas" / "bin"


@pytest.fixture(scope="module")
def chaincode_network(ca_network: Network) -> Iterator[Network]:
    """The session's CA network with the chaincode layer up; the servers stop afterwards."""
    ca_network.up(Layer.CHAINCODE)
    try:
        yield ca_network
    finally:
        for server in ca_network.plan.chaincode_servers:
            ca_network.supervisor.stop(server.process)


def _row(net: Network, process: str):
    return next(r for r in net.status() if r.process == process)


def test_every_chaincode_server_runs_and_registers_under_its_package_id(chaincode_network):
    net = chaincode_network
    ids = set()
    for server in net.plan.chaincode_servers:
        row = _row(net, server.process)
        assert row.state is ProcessState.RUNNING and row.healthy
        expected = current_package_id(server, net.layout)
        assert expected is not None and expected.startswith("prefshare_2.0:")
        assert registers_as(server, net.layout, expected)
        assert not registers_as(server, net.layout, "prefshare_2.0:" + "0" * 64)
        ids.add(expected)
    # One package per organisation: each names its own server and TLS material.
    assert len(ids) == len(net.plan.chaincode_servers)


def test_package_names_its_own_server_and_tls_material(chaincode_network):
    net = chaincode_network
    server = net.plan.chaincode_servers[1]
    path = net.layout.chaincode_package(server.org, server.label)
    assert path.stat().st_mode & 0o077 == 0  # it holds the peer's TLS key
    label, conn = read_package(path.read_bytes())
    assert label == server.label
    assert conn.address == f"{server.host}:{server.port}"
    assert conn.root_cert == net.layout.ca_root_cert(server.org).read_text()
    assert conn.client_cert == net.layout.tls_cert(server.org, "peer0").read_text()
    assert conn.client_key == net.layout.tls_key(server.org, "peer0").read_text()


def _connect(address: str, credentials: grpc.ChannelCredentials) -> None:
    with grpc.secure_channel(address, credentials) as channel:
        call = shim_grpc.ChaincodeStub(channel).Connect(iter(()), timeout=3)
        next(call)


def test_only_the_organisations_own_peer_may_connect(chaincode_network):
    net = chaincode_network
    northwind, southgate = net.plan.chaincode_servers[0], net.plan.chaincode_servers[1]
    root = net.layout.ca_root_cert(northwind.org).read_bytes()
    other_peer = grpc.ssl_channel_credentials(
        root_certificates=root,
        private_key=net.layout.tls_key(southgate.org, "peer0").read_bytes(),
        certificate_chain=net.layout.tls_cert(southgate.org, "peer0").read_bytes())
    for credentials in (other_peer, grpc.ssl_channel_credentials(root_certificates=root)):
        with pytest.raises(grpc.RpcError) as refused:
            _connect(northwind.address, credentials)
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE


def test_up_again_keeps_packages_and_servers(chaincode_network):
    net = chaincode_network
    before = {s.org: (current_package_id(s, net.layout), net.supervisor.pid(s.process))
              for s in net.plan.chaincode_servers}
    net.up(Layer.CHAINCODE)
    after = {s.org: (current_package_id(s, net.layout), net.supervisor.pid(s.process))
             for s in net.plan.chaincode_servers}
    assert after == before


def _run(program: str, *args: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BUILDER / program), *map(str, args)], capture_output=True,
                          text=True, timeout=30)


def test_external_builder_hands_the_peer_the_packaged_connection(chaincode_network, tmp_path):
    """detect, build and release run on the package unpacked as the peer unpacks it."""
    if not (BUILDER / "release").exists():
        pytest.fail("the chaincode-as-a-service builder is not built: run `make ccaas-builder`")
    net = chaincode_network
    server = net.plan.chaincode_servers[0]
    package = net.layout.chaincode_package(server.org, server.label)
    src, meta, bld, rel = (tmp_path / d for d in ("src", "meta", "bld", "rel"))
    for d in (src, meta, bld, rel):
        d.mkdir()
    subprocess.run(["tar", "-xzf", str(package), "-C", str(meta)], check=True)
    subprocess.run(["tar", "-xzf", str(meta / "code.tar.gz"), "-C", str(src)], check=True)
    (meta / "code.tar.gz").unlink()

    assert _run("detect", src, meta).returncode == 0
    assert _run("build", src, meta, bld).returncode == 0
    assert _run("release", bld, rel).returncode == 0
    released = rel / "chaincode" / "server" / "connection.json"
    assert released.read_bytes() == (src / "connection.json").read_bytes()
    assert released.stat().st_mode & 0o077 == 0

    # Another kind of package is not claimed, and a connection in the clear is refused.
    (meta / "metadata.json").write_text('{"type": "golang", "label": "x"}')
    assert _run("detect", src, meta).returncode == 1
    (src / "connection.json").write_text(
        (src / "connection.json").read_text().replace('"tls_required": true',
                                                      '"tls_required": false'))
    refused = _run("build", src, meta, tmp_path / "bld2")
    assert refused.returncode == 1 and "tls_required" in refused.stderr
    assert _run("build", src).returncode == 2


def test_crashed_server_is_reported_and_restarted_by_up(chaincode_network):
    net = chaincode_network
    server = net.plan.chaincode_servers[2]
    net.supervisor.kill(server.process)
    row = _row(net, server.process)
    assert row.state is ProcessState.CRASHED and not row.healthy
    net.up(Layer.CHAINCODE)
    assert _row(net, server.process).healthy


def test_new_version_gets_a_new_package_and_restarts_the_server(chaincode_network,
                                                                 consortium):
    net = chaincode_network
    old_ids = {s.org: current_package_id(s, net.layout) for s in net.plan.chaincode_servers}
    version_2 = consortium.model_copy(update={"chaincode": ChaincodeSpec(version="2.1")})
    upgraded = Network(version_2, net.layout, net.bin_dir)
    try:
        upgraded.up(Layer.CHAINCODE)
        for server in upgraded.plan.chaincode_servers:
            new_id = current_package_id(server, net.layout)
            assert new_id is not None and new_id.startswith("prefshare_2.1:")
            assert registers_as(server, net.layout, new_id)
            assert not registers_as(server, net.layout, old_ids[server.org])
            # The old version's package stays where it was.
            assert net.layout.chaincode_package(server.org, "prefshare_2.0").exists()
    finally:
        net.up(Layer.CHAINCODE)
    for server in net.plan.chaincode_servers:
        assert registers_as(server, net.layout, old_ids[server.org])


def test_server_logs_hold_no_key_material(chaincode_network):
    for server in chaincode_network.plan.chaincode_servers:
        log = chaincode_network.layout.log(server.process).read_text()
        assert "serving chaincode" in log
        assert "PRIVATE KEY" not in log and "BEGIN CERTIFICATE" not in log
