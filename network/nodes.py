"""The network's Fabric nodes: each orderer's and peer's environment, derived from the plan,
and starting them under the supervisor.

Configuration is Fabric's default ``orderer.yaml`` / ``core.yaml`` (FABRIC_CFG_PATH) with
environment overrides for everything per node. Only what environment variables cannot reach
is written to a file: each peer gets a ``core.yaml`` derived at run time from Fabric's, with
the project's chaincode-as-a-service builder in ``chaincode.externalBuilders`` (a list) and
Docker switched off (``vm.endpoint`` empty; no chaincode is built in a container here).

Every node serves TLS with a certificate from its organisation's CA, keeps its ledger under
its folder of the run layout, and exposes its operations endpoint (``/healthz`` and
Prometheus ``/metrics``) on the plan's operations port.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from network.ca import binary, wait_healthy
from network.errors import NotReady
from network.layout import RunLayout
from network.plan import Orderer, Peer, Plan
from network.supervisor import Supervisor

#: The external builder's name in core.yaml; network/ccaas-builder claims packages of type
#: ``ccaas`` for it.
BUILDER_NAME = "ccaas"
#: Fabric logs at INFO per block and per transaction; warnings are enough for operations and
#: keep the log cheap under load (FABRIC_LOGGING_SPEC syntax).
LOG_SPEC = "warning"


def orderer_env(orderer: Orderer, plan: Plan, layout: RunLayout, genesis: Path,
                config_dir: Path) -> dict[str, str]:
    """The environment of ``orderer``: Fabric's orderer.yaml overridden per node."""
    data = layout.node_data(orderer.org, orderer.name)
    tls_cert = layout.tls_cert(orderer.org, orderer.name)
    tls_key = layout.tls_key(orderer.org, orderer.name)
    # Raft peers present their TLS certificates to each other; all come from one CA.
    cluster_roots = f"[{layout.ca_root_cert(orderer.org)}]"
    # Clients (peers, gateways, admins) of every organisation connect over TLS.
    client_roots = "[" + ",".join(str(layout.ca_root_cert(ca.org)) for ca in plan.cas) + "]"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "FABRIC_CFG_PATH": str(config_dir),
        "FABRIC_LOGGING_SPEC": LOG_SPEC,
        "ORDERER_GENERAL_LISTENADDRESS": orderer.host,
        "ORDERER_GENERAL_LISTENPORT": str(orderer.port),
        "ORDERER_GENERAL_LOCALMSPID": orderer.msp_id,
        "ORDERER_GENERAL_LOCALMSPDIR": str(layout.msp(orderer.org, orderer.name)),
        "ORDERER_GENERAL_BOOTSTRAPMETHOD": "file",
        "ORDERER_GENERAL_BOOTSTRAPFILE": str(genesis),
        "ORDERER_GENERAL_TLS_ENABLED": "true",
        "ORDERER_GENERAL_TLS_CERTIFICATE": str(tls_cert),
        "ORDERER_GENERAL_TLS_PRIVATEKEY": str(tls_key),
        "ORDERER_GENERAL_TLS_ROOTCAS": client_roots,
        "ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE": str(tls_cert),
        "ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY": str(tls_key),
        "ORDERER_GENERAL_CLUSTER_ROOTCAS": cluster_roots,
        "ORDERER_FILELEDGER_LOCATION": str(data / "ledger"),
        "ORDERER_CONSENSUS_WALDIR": str(data / "etcdraft" / "wal"),
        "ORDERER_CONSENSUS_SNAPDIR": str(data / "etcdraft" / "snapshot"),
        "ORDERER_OPERATIONS_LISTENADDRESS": f"{orderer.host}:{orderer.operations_port}",
        "ORDERER_METRICS_PROVIDER": "prometheus",
    }


def peer_env(peer: Peer, layout: RunLayout) -> dict[str, str]:
    """The environment of ``peer``: its derived core.yaml overridden per node."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "FABRIC_CFG_PATH": str(layout.node_config(peer.org, peer.name)),
        "FABRIC_LOGGING_SPEC": LOG_SPEC,
        "CORE_PEER_ID": f"{peer.name}.{peer.org}",
        "CORE_PEER_ADDRESS": peer.address,
        "CORE_PEER_LISTENADDRESS": peer.address,
        "CORE_PEER_CHAINCODEADDRESS": f"{peer.host}:{peer.chaincode_port}",
        "CORE_PEER_CHAINCODELISTENADDRESS": f"{peer.host}:{peer.chaincode_port}",
        # One peer per organisation: it bootstraps gossip from itself, reaches the other
        # organisations through their anchor peers, and is reachable from them at its
        # external endpoint (without one, private data never leaves the organisation).
        "CORE_PEER_GOSSIP_BOOTSTRAP": peer.address,
        "CORE_PEER_GOSSIP_EXTERNALENDPOINT": peer.address,
        # A member's peer may order a transaction with a forged endorsement that names a
        # private write nobody holds; Fabric's default makes every peer of that collection
        # try to pull it for up to a minute before committing the block, so one dishonest
        # member could stall the owners' commits at will. Invalid transactions are skipped.
        "CORE_PEER_GOSSIP_PVTDATA_SKIPPULLINGINVALIDTRANSACTIONSDURINGCOMMIT": "true",
        "CORE_PEER_LOCALMSPID": peer.msp_id,
        "CORE_PEER_MSPCONFIGPATH": str(layout.msp(peer.org, peer.name)),
        "CORE_PEER_TLS_ENABLED": "true",
        "CORE_PEER_TLS_CERT_FILE": str(layout.tls_cert(peer.org, peer.name)),
        "CORE_PEER_TLS_KEY_FILE": str(layout.tls_key(peer.org, peer.name)),
        "CORE_PEER_TLS_ROOTCERT_FILE": str(layout.ca_root_cert(peer.org)),
        "CORE_PEER_FILESYSTEMPATH": str(layout.node_data(peer.org, peer.name)),
        "CORE_LEDGER_STATE_STATEDATABASE": "goleveldb",
        "CORE_OPERATIONS_LISTENADDRESS": f"{peer.host}:{peer.operations_port}",
        "CORE_METRICS_PROVIDER": "prometheus",
    }


def derive_core_yaml(fabric_core: dict[str, Any], builder_dir: Path) -> dict[str, Any]:
    """Fabric's core.yaml with the external builder listed and Docker off.

    Raises:
        ValueError: ``fabric_core`` lacks the ``chaincode`` or ``vm`` section (not a core.yaml).
    """
    if not isinstance(fabric_core.get("chaincode"), dict) or not isinstance(
            fabric_core.get("vm"), dict):
        raise ValueError("not Fabric's core.yaml: no chaincode or vm section")
    core = dict(fabric_core)
    core["chaincode"] = {**fabric_core["chaincode"], "externalBuilders": [
        {"name": BUILDER_NAME, "path": str(builder_dir), "propagateEnvironment": []}]}
    core["vm"] = {**fabric_core["vm"], "endpoint": ""}
    return core


def write_core_yaml(peer: Peer, layout: RunLayout, config_dir: Path, builder_dir: Path) -> None:
    fabric_core = yaml.safe_load((config_dir / "core.yaml").read_text())
    folder = layout.node_config(peer.org, peer.name)
    folder.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(derive_core_yaml(fabric_core, builder_dir), sort_keys=False)
    (folder / "core.yaml").write_text(text)


def _metric_lines(host: str, port: int) -> list[str]:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=2) as r:
            return r.read().decode().splitlines()
    except (urllib.error.URLError, OSError):
        return []


def raft_leader(plan: Plan, channel: str) -> Orderer | None:
    """The orderer that leads ``channel``'s Raft cluster, from each orderer's Prometheus
    ``consensus_etcdraft_is_leader`` gauge (None while there is no leader)."""
    wanted = f'consensus_etcdraft_is_leader{{channel="{channel}"}} 1'
    for o in plan.orderers:
        if wanted in _metric_lines(o.host, o.operations_port):
            return o
    return None


def wait_raft_leader(plan: Plan, channel: str, *, timeout: float = 60.0) -> Orderer:
    """Wait until ``channel`` has a Raft leader; until then Broadcast answers
    SERVICE_UNAVAILABLE.

    Raises:
        NotReady: no leader within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        leader = raft_leader(plan, channel)
        if leader is not None:
            return leader
        if time.monotonic() >= deadline:
            raise NotReady(f"no Raft leader for channel {channel} after {timeout:.0f} s")
        time.sleep(0.25)


def start_orderers(plan: Plan, layout: RunLayout, supervisor: Supervisor, bin_dir: Path,
                   genesis: Path) -> None:
    """Start every orderer (those running are left alone) and wait until each is healthy."""
    config_dir = bin_dir.parent / "config"
    for o in plan.orderers:
        layout.node_data(o.org, o.name).mkdir(parents=True, exist_ok=True)
        supervisor.start(o.process, [str(binary(bin_dir, "orderer"))],
                         env=orderer_env(o, plan, layout, genesis, config_dir),
                         cwd=layout.node_home(o.org, o.name), host=o.host)
    for o in plan.orderers:
        wait_healthy(o.process, o.host, o.operations_port, layout, supervisor)


def start_peers(plan: Plan, layout: RunLayout, supervisor: Supervisor, bin_dir: Path,
                builder_dir: Path) -> None:
    """Start every peer (those running are left alone) and wait until each is healthy."""
    config_dir = bin_dir.parent / "config"
    for p in plan.peers:
        write_core_yaml(p, layout, config_dir, builder_dir)
        layout.node_data(p.org, p.name).mkdir(parents=True, exist_ok=True)
        supervisor.start(p.process, [str(binary(bin_dir, "peer")), "node", "start"],
                         env=peer_env(p, layout), cwd=layout.node_home(p.org, p.name),
                         host=p.host)
    for p in plan.peers:
        wait_healthy(p.process, p.host, p.operations_port, layout, supervisor)
