"""The CA layer of the network, against real fabric-ca-server processes."""

import json
import ssl
import subprocess
import urllib.request

import pytest
from cryptography import x509

from network.control import Layer
from network.supervisor import ProcessState

pytestmark = pytest.mark.integration

FABRIC_ATTRS_OID = x509.ObjectIdentifier("1.2.3.4.5.6.7.8.1")


def _cert(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_every_ca_is_running_and_healthy(ca_network):
    rows = ca_network.status()
    cas = [r for r in rows if r.process.startswith("ca-")]
    assert len(cas) == 4
    assert all(r.state is ProcessState.RUNNING and r.healthy for r in cas)
    assert all(r.rss_kib is not None and r.rss_kib > 1024 for r in cas)
    assert all(r.rss_kib is None for r in rows if r.state is not ProcessState.RUNNING)


def test_ca_serves_tls_that_verifies_against_its_certificate(ca_network):
    ca = ca_network.plan.cas[1]
    ctx = ssl.create_default_context(cafile=str(ca_network.layout.ca_root_cert(ca.org)))
    with urllib.request.urlopen(f"{ca.url}/cainfo", context=ctx, timeout=5) as r:
        body = json.load(r)
    assert body["success"] is True
    assert body["result"]["CAName"] == f"ca-{ca.org}"


def test_gateway_certificate_carries_role_and_retailer(ca_network):
    for peer in ca_network.plan.peers:
        cert = _cert(ca_network.layout.msp(peer.org, "gateway") / "signcerts" / "cert.pem")
        ext = cert.extensions.get_extension_for_oid(FABRIC_ATTRS_OID).value
        attrs = json.loads(ext.value)["attrs"]
        assert attrs["prefshare.role"] == "gateway"
        assert attrs["prefshare.retailer"] == peer.org
        ou = cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)
        assert [a.value for a in ou] == ["client"]


def test_peer_and_orderer_identities_have_tls_certificates_for_their_host(ca_network):
    layout = ca_network.layout
    nodes = [(p.org, "peer0", p.host) for p in ca_network.plan.peers]
    nodes += [(o.org, f"orderer{o.index}", o.host) for o in ca_network.plan.orderers]
    for org, name, host in nodes:
        cert = _cert(layout.tls(org, name) / "signcerts" / "cert.pem")
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert host in [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        issuer = _cert(next((layout.org_msp(org) / "tlscacerts").iterdir()))
        cert.verify_directly_issued_by(issuer)


def test_secrets_are_private_to_the_owner(ca_network):
    layout = ca_network.layout
    for ca in ca_network.plan.cas:
        assert layout.ca_bootstrap_secret(ca.org).stat().st_mode & 0o077 == 0
        assert layout.secret(ca.org, "admin").stat().st_mode & 0o077 == 0


def test_up_twice_changes_nothing(ca_network):
    cert = ca_network.layout.msp("northwind", "gateway") / "signcerts" / "cert.pem"
    before = cert.read_bytes()
    pids = [ca_network.supervisor.pid(ca.process) for ca in ca_network.plan.cas]
    ca_network.up(Layer.CA)
    assert cert.read_bytes() == before
    assert [ca_network.supervisor.pid(ca.process) for ca in ca_network.plan.cas] == pids


def test_down_then_up_keeps_registrations(ca_network):
    ca_network.down()
    assert all(r.state is ProcessState.STOPPED for r in ca_network.status())
    ca_network.up(Layer.CA)
    ca = ca_network.plan.cas[2]
    # The registrar lists the identities registered before the restart from the kept database.
    out = subprocess.run(
        [str(ca_network.bin_dir / "fabric-ca-client"), "identity", "list",
         "-u", f"https://{ca.host}:{ca.port}", "--caname", f"ca-{ca.org}",
         "--tls.certfiles", str(ca_network.layout.ca_root_cert(ca.org))],
        env={"FABRIC_CA_CLIENT_HOME": str(ca_network.layout.ca_admin(ca.org))},
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout
    assert "Name: gateway" in out and "Name: peer0" in out


def test_crashed_ca_is_reported_by_status_and_restarted_by_up(ca_network):
    victim = ca_network.plan.cas[0].process
    ca_network.supervisor.kill(victim)
    row = next(r for r in ca_network.status() if r.process == victim)
    assert row.state is ProcessState.CRASHED and not row.healthy
    ca_network.up(Layer.CA)
    row = next(r for r in ca_network.status() if r.process == victim)
    assert row.state is ProcessState.RUNNING and row.healthy


def test_chaincode_reads_role_and_retailer_from_a_real_ca_certificate(ca_network):
    from chaincode.identity import identity_from_creator

    peer = ca_network.plan.peers[0]
    pem = (ca_network.layout.msp(peer.org, "gateway") / "signcerts" / "cert.pem").read_bytes()
    caller = identity_from_creator(peer.msp_id, pem)
    assert caller.msp_id == peer.msp_id
    assert caller.require_attribute("prefshare.role", {"gateway"}) == "gateway"
    assert caller.attribute("prefshare.retailer") == peer.org
