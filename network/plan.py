"""What runs where: the processes and identities derived from a consortium description."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from network.description import PORT_OFFSETS, Consortium


class IdentityKind(StrEnum):
    """Fabric CA identity types; Fabric CA writes the type into the certificate's OU."""

    PEER = "peer"
    ORDERER = "orderer"
    ADMIN = "admin"
    CLIENT = "client"


@dataclass(frozen=True)
class CAServer:
    org: str
    host: str
    port: int
    operations_port: int

    @property
    def process(self) -> str:
        return f"ca-{self.org}"

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"


@dataclass(frozen=True)
class Peer:
    org: str
    msp_id: str
    host: str
    port: int
    operations_port: int
    chaincode_port: int

    @property
    def process(self) -> str:
        return f"peer0-{self.org}"

    @property
    def name(self) -> str:
        """The peer's identity name at its CA (and its folder in the run layout)."""
        return "peer0"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ChaincodeServer:
    """A retailer's chaincode-as-a-service server; only that retailer's peer connects to it."""

    org: str
    msp_id: str
    host: str
    port: int
    #: The package label (``<name>_<version>``); the package id adds the package's hash.
    label: str

    @property
    def process(self) -> str:
        return f"chaincode-{self.org}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Orderer:
    org: str
    index: int
    host: str
    port: int
    operations_port: int
    msp_id: str = ""

    @property
    def process(self) -> str:
        return f"orderer{self.index}-{self.org}"

    @property
    def name(self) -> str:
        """The orderer's identity name at its CA (and its folder in the run layout)."""
        return f"orderer{self.index}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Identity:
    """An identity enrolled from its organisation's CA.

    ``attrs`` become Fabric CA attributes written into the enrolment certificate (``:ecert``),
    which the chaincode reads (role, retailer).
    """

    org: str
    name: str
    kind: IdentityKind
    attrs: tuple[tuple[str, str], ...] = ()
    tls_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    cas: tuple[CAServer, ...]
    peers: tuple[Peer, ...]
    orderers: tuple[Orderer, ...]
    identities: tuple[Identity, ...]
    chaincode_servers: tuple[ChaincodeServer, ...] = ()

    @property
    def retailer_msp_ids(self) -> tuple[str, ...]:
        """Every retailer's MSP id, in the description's order."""
        return tuple(p.msp_id for p in self.peers)

    def ports(self) -> list[tuple[str, str, int]]:
        """Every (process, host, port) the network listens on."""
        out: list[tuple[str, str, int]] = []
        for ca in self.cas:
            out += [(ca.process, ca.host, ca.port), (ca.process, ca.host, ca.operations_port)]
        for p in self.peers:
            out += [(p.process, p.host, port) for port in
                    (p.port, p.operations_port, p.chaincode_port)]
        for o in self.orderers:
            out += [(o.process, o.host, port) for port in (o.port, o.operations_port)]
        out += [(c.process, c.host, c.port) for c in self.chaincode_servers]
        return out


def make_plan(consortium: Consortium) -> Plan:
    """Derive every process and identity of the network from ``consortium``."""
    cas: list[CAServer] = []
    peers: list[Peer] = []
    orderers: list[Orderer] = []
    identities: list[Identity] = []
    servers: list[ChaincodeServer] = []

    oorg = consortium.orderer_org
    block = consortium.block_of(0)
    cas.append(CAServer(oorg.name, oorg.host, block + PORT_OFFSETS["ca"],
                        block + PORT_OFFSETS["ca_operations"]))
    identities.append(Identity(oorg.name, "admin", IdentityKind.ADMIN))
    for j in range(consortium.orderer_count):
        orderers.append(Orderer(
            oorg.name, j, oorg.node_host(j),
            block + PORT_OFFSETS["orderer"] + 10 * j,
            block + PORT_OFFSETS["orderer_operations"] + 10 * j,
            oorg.msp_id,
        ))
        identities.append(Identity(oorg.name, f"orderer{j}", IdentityKind.ORDERER,
                                   tls_hosts=(oorg.node_host(j), "localhost")))

    for i, r in enumerate(consortium.retailers, start=1):
        block = consortium.block_of(i)
        cas.append(CAServer(r.name, r.host, block + PORT_OFFSETS["ca"],
                            block + PORT_OFFSETS["ca_operations"]))
        peers.append(Peer(r.name, r.msp_id, r.host, block + PORT_OFFSETS["peer"],
                          block + PORT_OFFSETS["peer_operations"],
                          block + PORT_OFFSETS["peer_chaincode"]))
        servers.append(ChaincodeServer(r.name, r.msp_id, r.host, block + PORT_OFFSETS["chaincode"],
                                       consortium.chaincode.label))
        identities += [
            Identity(r.name, "admin", IdentityKind.ADMIN),
            Identity(r.name, "peer0", IdentityKind.PEER, tls_hosts=(r.host, "localhost")),
            # The gateway's TLS certificate serves its HTTPS API.
            Identity(r.name, "gateway", IdentityKind.CLIENT,
                     attrs=(("prefshare.role", "gateway"), ("prefshare.retailer", r.name)),
                     tls_hosts=(r.host, "localhost")),
            # The TLS server certificate of the organisation's chaincode server.
            Identity(r.name, "chaincode", IdentityKind.CLIENT, tls_hosts=(r.host, "localhost")),
        ]
    return Plan(tuple(cas), tuple(peers), tuple(orderers), tuple(identities), tuple(servers))
