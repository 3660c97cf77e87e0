"""The network's life cycle: up, down, status and clean, over a consortium description.

Layers, each including the one before: ``ca`` (the organisations' CAs, every identity
enrolled), ``chaincode`` (each retailer's chaincode package and chaincode server), ``all``
(the Raft orderers from the system channel's genesis block, the peers, the application
channel joined by every peer with anchor peers set, and the chaincode installed, approved,
committed and answering on every peer).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path

from network.ca import binary, bring_up_cas, healthz
from network.certs import check_ca_certificates
from network.chaincode_servers import (
    bring_up_chaincode_servers,
    current_package_id,
    registers_as,
    start_deferred,
)
from network.channel import Channel
from network.configtx import ChannelArtifacts
from network.description import Consortium
from network.errors import MissingBinary, NetworkError, NotReady
from network.fabric_cli import FabricTools
from network.layout import RunLayout
from network.lifecycle import ChaincodeLifecycle
from network.nodes import start_orderers, start_peers, wait_raft_leader
from network.placement import Placement
from network.plan import ChaincodeServer, Plan, make_plan
from network.procstat import cpu_seconds, resident_kib
from network.supervisor import ProcessState, Supervisor, check_ports_free

#: Binaries each layer needs, all under the project's git-ignored .fabric/bin.
_LAYER_BINARIES = {
    "ca": ("fabric-ca-server", "fabric-ca-client"),
    "chaincode": ("fabric-ca-server", "fabric-ca-client"),
    "all": ("fabric-ca-server", "fabric-ca-client", "peer", "orderer", "configtxgen"),
}


#: Process name prefixes of the network's nodes (gateways are not nodes: `make down` stops them).
_NODE_PREFIXES = ("ca-", "chaincode-", "orderer", "peer0-")


class Layer(StrEnum):
    CA = "ca"
    CHAINCODE = "chaincode"
    ALL = "all"


@dataclass(frozen=True)
class NodeStatus:
    process: str
    state: ProcessState
    healthy: bool
    #: Resident memory in KiB while running (None otherwise).
    rss_kib: int | None = None
    #: A peer's channel height (None for other nodes, or when it cannot be read).
    height: int | None = None


@dataclass(frozen=True)
class Network:
    """The network of ``consortium``, its files in ``layout``, Fabric's binaries in ``bin_dir``.

    ``builder_dir`` is the peer's chaincode-as-a-service builder (``make ccaas-builder``;
    by default ``<bin_dir>/../builders/ccaas``, where the Makefile puts it).

    ``placement`` says how to run a command on each host of the description (by default every
    host is this machine); every process and every enrolment of an organisation runs through
    it. Health checks go from here over the network.

    Raises:
        ValueError: ``placement`` names a host that no node of the plan runs on.
    """

    consortium: Consortium
    layout: RunLayout
    bin_dir: Path
    placement: Placement = field(default_factory=Placement)
    builder_dir: Path | None = None

    def __post_init__(self) -> None:
        self.placement.check_hosts(host for _, host, _ in self.plan.ports())
        if self.builder_dir is None:
            object.__setattr__(self, "builder_dir", self.bin_dir.parent / "builders" / "ccaas")

    @cached_property
    def plan(self) -> Plan:
        return make_plan(self.consortium)

    @property
    def _builder(self) -> Path:
        assert self.builder_dir is not None  # set in __post_init__
        return self.builder_dir

    @property
    def supervisor(self) -> Supervisor:
        return Supervisor(self.layout, self.placement)

    @property
    def tools(self) -> FabricTools:
        return FabricTools(self.bin_dir, self.layout, self.placement)

    @property
    def channel(self) -> Channel:
        tools = self.tools
        return Channel(self.consortium.channel, self.plan, tools,
                       ChannelArtifacts(self.consortium, self.plan, tools))

    @property
    def lifecycle(self) -> ChaincodeLifecycle:
        return ChaincodeLifecycle(self.consortium, self.plan, self.tools)

    def _processes(self) -> list[tuple[str, Callable[[], bool]]]:
        """(process, health check) of every node, in start order: CAs first."""
        def http(host: str, port: int) -> Callable[[], bool]:
            return lambda: healthz(host, port)

        def registered(server: ChaincodeServer) -> Callable[[], bool]:
            def check() -> bool:
                expected = current_package_id(server, self.layout)
                return expected is not None and registers_as(server, self.layout, expected)
            return check

        out = [(ca.process, http(ca.host, ca.operations_port)) for ca in self.plan.cas]
        out += [(c.process, registered(c)) for c in self.plan.chaincode_servers]
        out += [(o.process, http(o.host, o.operations_port)) for o in self.plan.orderers]
        out += [(p.process, http(p.host, p.operations_port)) for p in self.plan.peers]
        return out

    def up(self, layer: Layer = Layer.ALL) -> None:
        """Start ``layer`` and wait until healthy; harmless when it already runs.

        Raises:
            MissingBinary: a binary of the layer is not built; nothing was started.
            PortInUse: a port of a node that is not ours is taken; nothing was started.
            NotReady, CommandFailed: a node did not come up; its log path is named.
        """
        for name in _LAYER_BINARIES[layer]:
            binary(self.bin_dir, name)
        sup = self.supervisor
        ours = {p for p, _ in self._processes() if sup.state(p) is ProcessState.RUNNING}
        check_ports_free([p for p in self.plan.ports() if p[0] not in ours], self.placement)
        bring_up_cas(self.plan, self.layout, sup, self.bin_dir)
        check_ca_certificates(
            [self.layout.org_msp(ca.org) for ca in self.plan.cas]
            + [self.layout.msp(i.org, i.name) for i in self.plan.identities])
        if layer is Layer.CA:
            return
        package_ids, deferred = bring_up_chaincode_servers(
            self.plan, self.layout, sup, defer_replacements=layer is not Layer.CHAINCODE)
        if layer is Layer.CHAINCODE:
            return
        if not (self._builder / "bin" / "release").exists():
            raise MissingBinary(f"{self._builder}/bin is missing: run `make ccaas-builder`")
        channel = self.channel
        genesis = ChannelArtifacts(self.consortium, self.plan, self.tools).genesis_block()
        start_orderers(self.plan, self.layout, sup, self.bin_dir, genesis)
        start_peers(self.plan, self.layout, sup, self.bin_dir, self._builder)
        channel.bring_up()
        lifecycle = self.lifecycle
        lifecycle.deploy(package_ids)
        start_deferred(self.plan, self.layout, sup, deferred, package_ids)
        lifecycle.wait_answering()
        channel.wait_same_height()
        # After a restart the orderers elect a leader again; until then nothing commits.
        wait_raft_leader(self.plan, self.consortium.channel)

    def down(self) -> list[str]:
        """Stop every node, keeping all data; harmless when nothing runs. Returns the nodes
        that were running (a crashed node's stale pid file is cleared too)."""
        sup = self.supervisor
        stopped = []
        for process in [*self._leftover_nodes(), *(p for p, _ in reversed(self._processes()))]:
            if sup.state(process) is ProcessState.RUNNING:
                stopped.append(process)
            sup.stop(process)
        return stopped

    def _leftover_nodes(self) -> list[str]:
        """Nodes with a pid file that the description no longer names: those of a retailer
        whose joining failed half-way (network/membership.py)."""
        ours = {p for p, _ in self._processes()}
        folder = self.layout.pid("x").parent
        names = sorted(f.stem for f in folder.glob("*.pid")) if folder.is_dir() else []
        return [n for n in names if n not in ours and n.startswith(_NODE_PREFIXES)]

    def status(self) -> list[NodeStatus]:
        sup = self.supervisor
        peers = {p.process: p for p in self.plan.peers}
        channel = self.channel
        out = []
        for process, healthy in self._processes():
            state = sup.state(process)
            running = state is ProcessState.RUNNING
            pid = sup.pid(process)
            is_healthy = running and healthy()
            height = None
            if process in peers and is_healthy:
                try:
                    height = channel.height(peers[process])
                except NetworkError:
                    height = None
            out.append(NodeStatus(process, state, is_healthy,
                                  resident_kib(pid) if running and pid else None, height))
        return out

    def require_healthy(self) -> None:
        """Raise :class:`NotReady` naming every node that is not healthy (for commands that
        need the running network, such as the benchmarks)."""
        sick = [r.process for r in self.status() if not r.healthy]
        if sick:
            raise NotReady(f"the network in {self.layout.root} is not healthy "
                           f"({', '.join(sick)}): run `make network-up` first")

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by each running node, by process name."""
        sup = self.supervisor
        out: dict[str, float] = {}
        for process, _ in self._processes():
            pid = sup.pid(process)
            used = cpu_seconds(pid) if pid is not None else None
            if used is not None:
                out[process] = used
        return out

    def clean(self) -> tuple[list[str], Path | None]:
        """Stop everything and remove the run folder; return the nodes that were running and
        the folder removed (None when there was none)."""
        stopped = self.down()
        removed = self.layout.root if self.layout.root.exists() else None
        shutil.rmtree(self.layout.root, ignore_errors=True)
        return stopped, removed
