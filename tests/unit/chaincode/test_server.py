"""The chaincode server, started for real: ``python -m chaincode`` on 127.0.0.1 with TLS.

The process, its TLS listener, the gRPC ``Chaincode/Connect`` stream and the shim's
registration handshake are real. The other end of the stream is this test playing the
peer by our reading of Fabric's handler (``fake_peer``), so a completed transaction here
shows the server and the shim extension work together, not that a Fabric peer agrees.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fabric_protos.peer import chaincode_pb2, proposal_response_pb2
from fabric_protos.peer import chaincode_shim_pb2 as shim_pb2
from fabric_protos.peer import chaincode_shim_pb2_grpc as shim_grpc

from chaincode.server import ServerSettings, SettingsError, owner_contract

Msg = shim_pb2.ChaincodeMessage
ROOT = Path(__file__).resolve().parents[3]
CHAINCODE_ID = "prefshare_1.0:0123abcd"


# --- certificates ---------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _issue(
    ca_key: ec.EllipticCurvePrivateKey, ca_name: x509.Name, cn: str, usage: Any, sans: list[Any]
) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return _pem_key(key), cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    folder = tmp_path_factory.mktemp("tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("test-ca"))
        .issuer_name(_name("test-ca"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    sans = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    server_key, server_cert = _issue(
        ca_key, ca_cert.subject, "chaincode", ExtendedKeyUsageOID.SERVER_AUTH, sans
    )
    client_key, client_cert = _issue(
        ca_key, ca_cert.subject, "peer0", ExtendedKeyUsageOID.CLIENT_AUTH, []
    )
    files = {
        "ca": ca_cert.public_bytes(serialization.Encoding.PEM),
        "server_key": server_key,
        "server_cert": server_cert,
        "client_key": client_key,
        "client_cert": client_cert,
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / f"{name}.pem"
        paths[name].write_bytes(data)
    paths["secret"] = _secret_file(folder / "owner.secret", os.urandom(32))
    return paths


def _secret_file(path: Path, secret: bytes) -> Path:
    path.write_bytes(secret)
    path.chmod(0o600)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(tls: dict[str, Path], port: int, mutual: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CHAINCODE_", "PREFSHARE_"))}
    env.update(
        CHAINCODE_ID=CHAINCODE_ID,
        CHAINCODE_SERVER_ADDRESS=f"127.0.0.1:{port}",
        CHAINCODE_TLS_KEY_FILE=str(tls["server_key"]),
        CHAINCODE_TLS_CERT_FILE=str(tls["server_cert"]),
        PREFSHARE_OWNER_MSP="Org1MSP",
        PREFSHARE_OWNER_SECRET_FILE=str(tls["secret"]),
        PREFSHARE_MEMBERS="Org1MSP, Org2MSP,Org3MSP",
    )
    if mutual:
        env["CHAINCODE_TLS_CLIENT_CA_FILE"] = str(tls["ca"])
    return env


def _start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "chaincode"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _credentials(tls: dict[str, Path], with_client_cert: bool = True) -> grpc.ChannelCredentials:
    if not with_client_cert:
        return grpc.ssl_channel_credentials(root_certificates=tls["ca"].read_bytes())
    return grpc.ssl_channel_credentials(
        root_certificates=tls["ca"].read_bytes(),
        private_key=tls["client_key"].read_bytes(),
        certificate_chain=tls["client_cert"].read_bytes(),
    )


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not listen in time")


def _stop(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, err.decode()


@pytest.fixture(scope="module")
def server(tls: dict[str, Path]) -> Any:
    port = _free_port()
    proc = _start(_env(tls, port))
    try:
        _wait_listening(port, proc)
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- settings -----------------------------------------------------------------------------


def test_settings_are_read_from_the_chaincode_variables(tls):
    settings = ServerSettings.from_environ(_env(tls, 7052))
    assert settings.chaincode_id == CHAINCODE_ID
    assert settings.address == "127.0.0.1:7052"
    assert settings.client_ca_file == tls["ca"]
    assert "PRIVATE KEY" not in settings.describe()
    assert settings.owner_msp == "Org1MSP"
    assert settings.owner_secret_file == tls["secret"]
    assert settings.members == ("Org1MSP", "Org2MSP", "Org3MSP")


def test_the_owners_contract_serves_its_own_collection_with_the_secret(tls):
    contract = owner_contract(ServerSettings.from_environ(_env(tls, 7052)))
    assert (contract.owner, contract.collection) == ("Org1MSP", "events-Org1MSP")
    assert contract.members == ("Org1MSP", "Org2MSP", "Org3MSP")
    assert "PRIVATE KEY" not in ServerSettings.from_environ(_env(tls, 7052)).describe()
    secret = tls["secret"].read_bytes()
    assert secret.hex() not in ServerSettings.from_environ(_env(tls, 7052)).describe()


@pytest.mark.parametrize(
    ("drop", "override", "named"),
    [
        ("CHAINCODE_ID", {}, "CHAINCODE_ID"),
        ("CHAINCODE_TLS_CERT_FILE", {}, "CHAINCODE_TLS_CERT_FILE"),
        (None, {"CHAINCODE_SERVER_ADDRESS": "127.0.0.1"}, "CHAINCODE_SERVER_ADDRESS"),
        (None, {"CHAINCODE_SERVER_ADDRESS": "127.0.0.1:99999"}, "CHAINCODE_SERVER_ADDRESS"),
        ("PREFSHARE_OWNER_MSP", {}, "PREFSHARE_OWNER_MSP"),
        ("PREFSHARE_OWNER_SECRET_FILE", {}, "PREFSHARE_OWNER_SECRET_FILE"),
        ("PREFSHARE_MEMBERS", {}, "PREFSHARE_MEMBERS"),
        (None, {"PREFSHARE_MEMBERS": " , "}, "PREFSHARE_MEMBERS"),
    ],
    ids=["no-id", "no-cert", "no-port", "port-out-of-range", "no-owner", "no-secret",
         "no-members", "blank-members"],
)
def test_bad_settings_are_refused_naming_the_variable(tls, drop, override, named):
    env = {**_env(tls, 7052), **override}
    env.pop(drop or "", None)
    with pytest.raises(SettingsError, match=named):
        ServerSettings.from_environ(env)


def test_server_without_settings_exits_2_naming_the_variable(tls):
    env = _env(tls, _free_port())
    del env["CHAINCODE_ID"]
    proc = subprocess.run(
        [sys.executable, "-m", "chaincode"], cwd=ROOT, env=env, capture_output=True, timeout=30
    )
    assert proc.returncode == 2
    assert b"CHAINCODE_ID" in proc.stderr


def _exit_line(env: dict[str, str]) -> tuple[int, list[str]]:
    """Run ``python -m chaincode`` expecting it to exit; its code and stderr lines."""
    proc = subprocess.run(
        [sys.executable, "-m", "chaincode"], cwd=ROOT, env=env, capture_output=True, timeout=30
    )
    return proc.returncode, proc.stderr.decode().splitlines()


@pytest.mark.parametrize(
    ("secret", "named"),
    [
        (b"x" * 31, "PREFSHARE_OWNER_SECRET_FILE"),
        (b"", "PREFSHARE_OWNER_SECRET_FILE"),
        (None, "PREFSHARE_OWNER_SECRET_FILE"),
    ],
    ids=["short", "empty", "missing-file"],
)
def test_server_with_a_short_or_missing_secret_exits_2_with_one_line_naming_it(
    tls, tmp_path, secret, named
):
    path = tmp_path / "owner.secret"
    if secret is not None:
        _secret_file(path, secret)
    env = {**_env(tls, _free_port()), "PREFSHARE_OWNER_SECRET_FILE": str(path)}
    code, lines = _exit_line(env)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith(f"chaincode server: {named}:"), lines
    assert "Traceback" not in lines[0]
    if secret:
        assert secret.decode() not in lines[0]


def test_server_whose_owner_is_not_a_member_exits_2_naming_the_owner(tls):
    env = {**_env(tls, _free_port()), "PREFSHARE_OWNER_MSP": "Org9MSP"}
    code, lines = _exit_line(env)
    assert code == 2
    assert len(lines) == 1 and "PREFSHARE_OWNER_MSP" in lines[0], lines


@pytest.mark.parametrize("members", ["Org1MSP,Org 2MSP", "Org1MSP,Org2MSP,Org1MSP"],
                         ids=["not-an-msp-id", "repeated"])
def test_server_with_a_bad_member_list_exits_2_naming_the_members(tls, members):
    env = {**_env(tls, _free_port()), "PREFSHARE_MEMBERS": members}
    code, lines = _exit_line(env)
    assert code == 2
    assert len(lines) == 1 and "PREFSHARE_MEMBERS" in lines[0], lines


# --- the running server ---------------------------------------------------------------------


async def _play_peer(
    port: int, tls: dict[str, Path], steps: list[Any], fake_peer: Any
) -> list[Any]:
    """Register the chaincode, send each TRANSACTION, answer its requests with
    ``fake_peer``; returns the COMPLETED messages."""
    completed = []
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", _credentials(tls)) as channel:
        call = shim_grpc.ChaincodeStub(channel).Connect()
        register = await asyncio.wait_for(call.read(), 10)
        assert register.type == Msg.REGISTER
        assert chaincode_pb2.ChaincodeID.FromString(register.payload).name == CHAINCODE_ID
        await call.write(Msg(type=Msg.REGISTERED))
        await call.write(Msg(type=Msg.READY))
        for transaction in steps:
            await call.write(transaction)
            while True:
                msg = await asyncio.wait_for(call.read(), 10)
                if msg.type == Msg.COMPLETED:
                    completed.append(msg)
                    fake_peer.commit()
                    break
                await call.write(fake_peer.answer(msg))
        await call.done_writing()
    return completed


def test_server_runs_transactions_over_tls_and_delivers_the_event(
    server, tls, fake_peer, transaction, alice
):
    port, _ = server
    steps = [
        transaction("RegisterCustomer", alice.key.b64url, tx_id="tx-a"),
        transaction("SubmitConsentStatement", alice.wire(alice.statement()), tx_id="tx-b"),
    ]
    registered, granted = asyncio.run(_play_peer(port, tls, steps, fake_peer))
    first = proposal_response_pb2.Response.FromString(registered.payload)
    assert (registered.txid, first.status) == ("tx-a", 200)
    assert json.loads(first.payload)["customer_id"] == alice.id
    second = proposal_response_pb2.Response.FromString(granted.payload)
    assert second.status == 200
    assert granted.chaincode_event.event_name == "ConsentGranted"


def test_server_refuses_a_peer_without_a_client_certificate(server, tls):
    port, _ = server

    async def connect() -> None:
        credentials = _credentials(tls, with_client_cert=False)
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
            call = shim_grpc.ChaincodeStub(channel).Connect()
            await asyncio.wait_for(call.read(), 5)

    with pytest.raises((grpc.aio.AioRpcError, asyncio.TimeoutError)):
        asyncio.run(connect())


def test_server_stops_cleanly_on_sigterm_without_logging_payloads(
    tls, fake_peer, transaction, alice
):
    port = _free_port()
    proc = _start(_env(tls, port))
    try:
        _wait_listening(port, proc)
        steps = [transaction("RegisterCustomer", alice.key.b64url, tx_id="tx-log")]
        asyncio.run(_play_peer(port, tls, steps, fake_peer))
    finally:
        code, stderr = _stop(proc)
    assert code == 0
    assert "serving chaincode prefshare_1.0:0123abcd on 127.0.0.1:" in stderr
    assert alice.key.b64url not in stderr and "payload" not in stderr
    assert "Look out" not in stderr and " INFO asyncio" not in stderr
