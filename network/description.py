"""The consortium description: a YAML file read into a typed, validated model.

Every other part of network/ derives its values (ports, hosts, folders, identities) from a
:class:`Consortium`; nothing else names an organisation or a port.

Port plan: organisation ``i`` (the ordering organisation is 0, retailers follow in file order)
owns the block ``port_base + 100*i`` .. ``+99``; the offsets inside a block are
:data:`PORT_OFFSETS`. An organisation may set ``port_block`` to place its block elsewhere, e.g.
when it runs on a host of its own.

Example::

    >>> c = load_consortium(Path("network/consortium.yaml"))
    >>> c.block_of(1)  # the first retailer
    7100
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from network.errors import DescriptionError

#: Offsets of each listening port inside an organisation's block of 100 ports.
PORT_OFFSETS = {
    "ca": 54,
    "ca_operations": 55,
    "peer": 51,
    "peer_operations": 52,
    "peer_chaincode": 53,
    "chaincode": 60,
    "gateway_http": 80,
    # Orderer node j uses orderer + 10*j and orderer_operations + 10*j (Fabric 2.1's orderer
    # serves Broadcast, Deliver and Raft cluster traffic on one port and has no admin API).
    "orderer": 1,
    "orderer_operations": 3,
}

_NAME = r"^[a-z][a-z0-9-]{1,30}$"
_MSP_ID = r"^[A-Za-z][A-Za-z0-9]{1,38}MSP$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _check_host(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"host must be an IP address, got {value!r}") from None
    return value


class _Org(_Strict):
    name: Annotated[str, Field(pattern=_NAME)]
    msp_id: Annotated[str, Field(pattern=_MSP_ID)]
    host: str = "127.0.0.1"
    port_block: Annotated[int, Field(ge=1024, le=65400)] | None = None

    _check_host = field_validator("host")(_check_host)


class OrdererOrg(_Org):
    """The ordering organisation: ``raft_nodes`` etcdraft orderers and their block cutting.

    ``batch_timeout_ms`` is how long an orderer waits to fill a block; a lone transaction
    waits that long for its block, so it is the floor of submit-to-commit latency (Fabric's
    sample uses 2 s). ``max_message_count`` cuts a block early once that many transactions
    are waiting. docs/network.md gives the measurements behind the defaults.
    """

    raft_nodes: Annotated[int, Field(ge=1, le=9)] = 3
    batch_timeout_ms: Annotated[int, Field(ge=10, le=10_000)] = 100
    max_message_count: Annotated[int, Field(ge=1, le=10_000)] = 100
    #: One host per orderer node, when they do not all run on ``host`` (which keeps the
    #: organisation's CA): Raft traffic then crosses the network between hosts.
    node_hosts: list[str] | None = None

    @field_validator("node_hosts")
    @classmethod
    def _node_hosts(cls, v: list[str] | None) -> list[str] | None:
        for host in v or []:
            _check_host(host)
        return v

    @model_validator(mode="after")
    def _one_host_per_node(self) -> OrdererOrg:
        if self.node_hosts is not None and len(self.node_hosts) != self.raft_nodes:
            raise ValueError(f"node_hosts names {len(self.node_hosts)} hosts for "
                             f"{self.raft_nodes} raft nodes")
        return self

    def node_host(self, index: int) -> str:
        """Where orderer node ``index`` runs."""
        return self.node_hosts[index] if self.node_hosts is not None else self.host

    @field_validator("raft_nodes")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError("raft_nodes must be odd so a majority survives a partition")
        return v


class Retailer(_Org):
    #: This member's own ledger write budget an hour, over the consortium's ``cost_guard``.
    ledger_writes_per_hour: Annotated[int, Field(ge=1, le=100_000_000)] | None = None


class CostGuard(_Strict):
    """What a member's ledger writes may cost: each member's gateway refuses its own writes
    past ``ledger_writes_per_hour`` (gateway/write_budget.py, ``WRITE_BUDGET_EXCEEDED``)."""

    ledger_writes_per_hour: Annotated[int, Field(ge=1, le=100_000_000)] = 20_000

    def budget_of(self, retailer: Retailer) -> int:
        return retailer.ledger_writes_per_hour or self.ledger_writes_per_hour


class ChaincodeSpec(_Strict):
    """The chaincode the network deploys: its name on the channel and its version.

    The package label is ``<name>_<version>``; a new version is an upgrade (a new package,
    approved and committed at the next sequence, keeping all data).
    """

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")] = "prefshare"
    # Fabric's label rule is [[:alnum:]][[:alnum:]_.+-]*; the version is part of the label.
    version: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,31}$")] = "1.0"
    #: The preference collection's ``blockToLive``: the retention bound of old private
    #: write-sets in each peer's private data store (Fabric 2.1 cannot purge them;
    #: docs/network.md, "Retention"). 0 would keep them forever.
    block_to_live: Annotated[int, Field(ge=1, le=10_000_000)] = 100_000

    @property
    def label(self) -> str:
        return f"{self.name}_{self.version}"


class Consortium(_Strict):
    """The validated description. Use :func:`load_consortium` to read one."""

    channel: Annotated[str, Field(pattern=r"^[a-z][a-z0-9.-]{0,248}$")]
    #: Fabric 2.1 orders with etcdraft only (SmartBFT came with Fabric 3.0).
    consensus: str = "raft"
    port_base: Annotated[int, Field(ge=1024, le=60000)] = 7000
    orderer_org: OrdererOrg
    retailers: Annotated[list[Retailer], Field(min_length=1, max_length=50)]
    chaincode: ChaincodeSpec = ChaincodeSpec()
    #: MSP ids of retailers that left the channel (``prefshare-network remove-retailer``):
    #: Fabric cannot drop a collection from a chaincode definition, so each keeps its
    #: ``events-<MSP>`` collection in the definition (docs/network.md, "Membership").
    former_members: list[Annotated[str, Field(pattern=_MSP_ID)]] = []
    cost_guard: CostGuard = CostGuard()

    @field_validator("consensus")
    @classmethod
    def _raft_only(cls, v: str) -> str:
        if v == "bft":
            raise ValueError("Fabric 2.1 has no BFT ordering (SmartBFT came with Fabric 3.0); "
                             "use raft")
        if v != "raft":
            raise ValueError(f"unknown consensus {v!r}; Fabric 2.1 orders with raft")
        return v

    @model_validator(mode="after")
    def _unique(self) -> Consortium:
        orgs: list[_Org] = [self.orderer_org, *self.retailers]
        for attr in ("name", "msp_id"):
            seen: set[str] = set()
            for org in orgs:
                value = getattr(org, attr)
                if value in seen:
                    raise ValueError(f"{attr} {value!r} is used by two organisations")
                seen.add(value)
        if len(set(self.former_members)) != len(self.former_members):
            raise ValueError("former_members names an MSP id twice")
        rejoined = sorted(set(self.former_members) & {r.msp_id for r in self.retailers})
        if rejoined:
            raise ValueError(f"{rejoined[0]} is both a retailer and a former member; a "
                             "former member rejoins under a new MSP id")
        blocks = [self.block_of(i) for i in range(len(orgs))]
        hosts = [o.host for o in orgs]
        for i in range(len(orgs)):
            for j in range(i + 1, len(orgs)):
                if hosts[i] == hosts[j] and abs(blocks[i] - blocks[j]) < 100:
                    raise ValueError(
                        f"port blocks of {orgs[i].name} and {orgs[j].name} overlap on {hosts[i]}"
                    )
        if blocks and max(blocks) + 99 > 65535:
            raise ValueError("port plan runs past port 65535; lower port_base")
        return self

    # -- derived values ---------------------------------------------------------------

    def block_of(self, index: int) -> int:
        org = ([self.orderer_org, *self.retailers])[index]
        return org.port_block if org.port_block is not None else self.port_base + 100 * index

    def retailer_index(self, retailer: Retailer) -> int:
        return 1 + self.retailers.index(retailer)

    def retailer(self, name: str) -> Retailer | None:
        """The retailer called ``name``, or None."""
        return next((r for r in self.retailers if r.name == name), None)

    @property
    def collection_members(self) -> list[str]:
        """Every MSP id with a collection in the chaincode definition: the retailers in
        order, then the former members (whose collections Fabric cannot drop)."""
        return [*(r.msp_id for r in self.retailers), *self.former_members]

    @property
    def orderer_count(self) -> int:
        return self.orderer_org.raft_nodes


def load_consortium(path: Path) -> Consortium:
    """Read and validate a consortium description.

    Raises:
        DescriptionError: the file is missing, not YAML, or a field is invalid; the message
            names the field path (``retailers.1.msp_id: ...``).
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DescriptionError(f"{path}: no such file") from None
    except yaml.YAMLError as exc:
        raise DescriptionError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise DescriptionError(f"{path}: the top level must be a mapping")
    try:
        return Consortium.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise DescriptionError(f"{path}: {where}: {message}") from None


def _retailer_lines(consortium: Consortium) -> list[str]:
    lines = ["retailers:"]
    for r in consortium.retailers:
        lines += [f"  - name: {r.name}", f"    msp_id: {r.msp_id}", f"    host: {r.host}"]
        if r.port_block is not None:
            lines.append(f"    port_block: {r.port_block}")
    return lines


def _replace_top_level(lines: list[str], key: str, new: list[str]) -> list[str]:
    """``lines`` with the top-level ``key:`` entry (its line and the indented or blank lines
    under it) replaced by ``new``, or ``new`` appended when there is none."""
    start = next((i for i, ln in enumerate(lines) if ln.startswith(f"{key}:")), None)
    if start is None:
        return [*lines, *new] if new else lines
    end = start + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t", "-")) or not lines[end].strip()):
        end += 1
    # Blank lines before the next key belong to the layout, not to this entry.
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return [*lines[:start], *new, *lines[end:]]


def save_consortium(consortium: Consortium, path: Path) -> None:
    """Write ``consortium``'s retailers and former members into the description at ``path``,
    keeping its other lines and comments; the file is replaced atomically.

    Only those two entries change (a membership change); the text is read back and must
    give ``consortium``, else the whole description is written as plain YAML.

    Raises:
        OSError: the file cannot be written.
    """
    original = path.read_text(encoding="utf-8").splitlines()
    lines = _replace_top_level(original, "retailers", _retailer_lines(consortium))
    former = ([f"former_members: [{', '.join(consortium.former_members)}]  "
               "# left the channel; their collections stay in the definition"]
              if consortium.former_members else [])
    lines = _replace_top_level(lines, "former_members", former)
    text = "\n".join(lines) + "\n"
    try:
        same = Consortium.model_validate(yaml.safe_load(text)) == consortium
    except (yaml.YAMLError, ValidationError):
        same = False
    if not same:
        text = yaml.safe_dump(consortium.model_dump(exclude_none=True), sort_keys=False)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
