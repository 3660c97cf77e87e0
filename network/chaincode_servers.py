"""The retailers' chaincode servers: one per retailer, supervised like the network's nodes.

Each runs ``python -m chaincode`` (chaincode/server.py) on its organisation's host, with a TLS
certificate from the organisation's CA, and accepts only clients with a certificate from that
CA: its own peer, which dials it with the ``connection.json`` of the organisation's package
(:mod:`network.chaincode_package`). The package is written first because the server must
announce the package id the peer knows it by.

Readiness is what the peer itself sees: a mutual-TLS ``Chaincode/Connect`` stream, opened
with the peer's TLS pair, on which the server registers under the expected package id.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
from fabric_protos.peer import chaincode_pb2 as _chaincode_pb2
from fabric_protos.peer import chaincode_shim_pb2 as _shim_pb2
from fabric_protos.peer import chaincode_shim_pb2_grpc as _shim_grpc

from network.chaincode_package import Connection, build_package, package_id
from network.errors import NotReady
from network.layout import RunLayout
from network.plan import ChaincodeServer, Plan
from network.supervisor import ProcessState, Supervisor

# The generated modules have no type stubs; bound as Any once (as gateway/fabric/_protos.py).
chaincode_pb2: Any = _chaincode_pb2
shim_pb2: Any = _shim_pb2
shim_grpc: Any = _shim_grpc

#: The identity whose TLS pair the peer presents to its chaincode server.
PEER_IDENTITY = "peer0"
#: The identity whose TLS certificate the chaincode server presents.
SERVER_IDENTITY = "chaincode"


def connection_for(server: ChaincodeServer, layout: RunLayout) -> Connection:
    """The connection its organisation's peer uses to reach ``server``."""
    return Connection(
        address=server.address,
        client_cert=layout.tls_cert(server.org, PEER_IDENTITY).read_text(),
        client_key=layout.tls_key(server.org, PEER_IDENTITY).read_text(),
        root_cert=layout.ca_root_cert(server.org).read_text(),
    )


def write_package(server: ChaincodeServer, layout: RunLayout) -> str:
    """Write the organisation's package (owner-only: it holds the peer's TLS key) and return
    its package id. The same inputs give the same bytes, so the id is stable across runs."""
    data = build_package(server.label, connection_for(server, layout))
    path = layout.chaincode_package(server.org, server.label)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != data:
        path.touch(mode=0o600)
        path.write_bytes(data)
    return package_id(server.label, data)


def current_package_id(server: ChaincodeServer, layout: RunLayout) -> str | None:
    """The id of the package written for ``server``, or None before the first."""
    path = layout.chaincode_package(server.org, server.label)
    return package_id(server.label, path.read_bytes()) if path.exists() else None


def registers_as(server: ChaincodeServer, layout: RunLayout, expected_id: str, *,
                 timeout: float = 2.0) -> bool:
    """True when ``server`` accepts the peer's TLS pair and registers as ``expected_id``."""
    try:
        peer = connection_for(server, layout)  # the very material the peer dials with
    except (OSError, ValueError):
        return False
    credentials = grpc.ssl_channel_credentials(
        root_certificates=peer.root_cert.encode(), private_key=peer.client_key.encode(),
        certificate_chain=peer.client_cert.encode())
    done = threading.Event()

    def nothing_to_send() -> Iterator[Any]:
        # Keep the stream open (a peer answers REGISTER; this check only listens for it).
        done.wait(timeout)
        yield from ()

    with grpc.secure_channel(server.address, credentials) as channel:
        call = shim_grpc.ChaincodeStub(channel).Connect(nothing_to_send(), timeout=timeout)
        try:
            first = next(call)
        except (grpc.RpcError, StopIteration):
            return False
        finally:
            done.set()
            call.cancel()
    return bool(first.type == shim_pb2.ChaincodeMessage.REGISTER
                and chaincode_pb2.ChaincodeID.FromString(first.payload).name == expected_id)


def owner_secret(server: ChaincodeServer, layout: RunLayout) -> Path:
    """The retailer's chaincode secret, 32 random bytes made once (0600) and kept with its run
    folder: losing it makes its collection's keys unreachable, like losing a private key."""
    path = layout.owner_secret(server.org)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path


def start_server(server: ChaincodeServer, layout: RunLayout, supervisor: Supervisor,
                 chaincode_id: str, members: tuple[str, ...]) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CHAINCODE_ID": chaincode_id,
        "CHAINCODE_SERVER_ADDRESS": server.address,
        "CHAINCODE_TLS_CERT_FILE": str(layout.tls_cert(server.org, SERVER_IDENTITY)),
        "CHAINCODE_TLS_KEY_FILE": str(layout.tls_key(server.org, SERVER_IDENTITY)),
        "CHAINCODE_TLS_CLIENT_CA_FILE": str(layout.ca_root_cert(server.org)),
        "PREFSHARE_OWNER_MSP": server.msp_id,
        "PREFSHARE_OWNER_SECRET_FILE": str(owner_secret(server, layout)),
        "PREFSHARE_MEMBERS": ",".join(members),
    }
    folder = layout.chaincode_package(server.org, server.label).parent
    supervisor.start(server.process, [sys.executable, "-m", "chaincode"], env=env,
                     cwd=folder, host=server.host)


def wait_registered(server: ChaincodeServer, layout: RunLayout, supervisor: Supervisor,
                    chaincode_id: str, *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervisor.state(server.process) is not ProcessState.RUNNING:
            raise NotReady(f"{server.process} exited during start-up; "
                           f"see {layout.log(server.process)}")
        if registers_as(server, layout, chaincode_id):
            return
        time.sleep(0.2)
    raise NotReady(f"{server.process} did not register as {chaincode_id} in {timeout:.0f} s; "
                   f"see {layout.log(server.process)}")


def bring_up_chaincode_servers(plan: Plan, layout: RunLayout, supervisor: Supervisor, *,
                               defer_replacements: bool = False
                               ) -> tuple[dict[str, str], list[ChaincodeServer]]:
    """Write each retailer's package and run its server; return org -> package id, and the
    servers whose start was deferred.

    A server that runs under another package id (a new chaincode version) is stopped. With
    ``defer_replacements`` its successor is NOT started here but by
    :func:`start_deferred` once the new definition is committed: until then the peers still
    invoke the old package, whose address the successor would answer under the new id, and
    a peer that launches a package whose server registers under another id waits for it for
    minutes while holding its ledger's lock (seen on the real network: an upgrade under
    traffic stalled every commit). Without a server the launch fails at once instead.
    Needs the organisations' identities enrolled (the CA layer).
    """
    ids: dict[str, str] = {}
    deferred: list[ChaincodeServer] = []
    for server in plan.chaincode_servers:
        ids[server.org] = write_package(server, layout)
        running = supervisor.state(server.process) is ProcessState.RUNNING
        if running and not registers_as(server, layout, ids[server.org]):
            supervisor.stop(server.process)
            if defer_replacements:
                deferred.append(server)
                continue
        start_server(server, layout, supervisor, ids[server.org], plan.retailer_msp_ids)
    for server in plan.chaincode_servers:
        if server not in deferred:
            wait_registered(server, layout, supervisor, ids[server.org])
    return ids, deferred


def start_deferred(plan: Plan, layout: RunLayout, supervisor: Supervisor,
                   servers: list[ChaincodeServer], ids: dict[str, str]) -> None:
    """Start the servers :func:`bring_up_chaincode_servers` deferred, and wait for them."""
    for server in servers:
        start_server(server, layout, supervisor, ids[server.org], plan.retailer_msp_ids)
    for server in servers:
        wait_registered(server, layout, supervisor, ids[server.org])
