"""The consortium chaincode's transactions as typed calls, over the Fabric client.

One method per transaction of ``chaincode/contract.py`` (docs/chaincode.md lists them).
Private data travels only in the transient map, and proposals carrying it name the endorsing
organisations (the collection's members). Reads that return private values are evaluated,
never submitted: a submitted transaction's response is written into the block.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc

from gateway.fabric import (
    Contract,
    EndorsementPolicy,
    Endpoint,
    Gateway,
    Network,
    Node,
    Timeouts,
    ecdsa_signer,
    load_msp_folder,
)
from gateway.fabric._protos import ledger_pb2
from gateway.settings import GatewaySettings, NodeEndpoint


def _json(data: bytes) -> Any:
    return json.loads(data.decode("utf-8")) if data else None


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class ConsortiumLedger:
    contract: Contract
    #: The peer's query system chaincode (qscc), for the channel height.
    system: Contract
    msp_id: str
    endorsing_orgs: tuple[str, ...]
    #: Called with a customer id after every write about her through this object, whether
    #: it committed or not (a failed or unconfirmed one may have landed).
    _write_observers: list[Callable[[str], None]] = field(
        default_factory=list, init=False, repr=False, compare=False)

    def on_customer_write(self, observer: Callable[[str], None]) -> None:
        """Call ``observer(customer_id)`` once a consent statement, erasure or event batch
        about her returns or fails (the suggestion cache drops her entry)."""
        self._write_observers.append(observer)

    @contextmanager
    def _writing(self, customer_ids: list[str]) -> Iterator[None]:
        try:
            yield
        finally:
            for customer_id in dict.fromkeys(customer_ids):
                for observer in self._write_observers:
                    observer(customer_id)

    def block_height(self, channel: str) -> int:
        info = ledger_pb2.BlockchainInfo.FromString(
            self.system.evaluate("GetChainInfo", args=[channel]))
        return int(info.height)

    # -- customers and consent (public state; customer-signed) ------------------------------

    def register_customer(self, public_key: str) -> Any:
        return _json(self.contract.submit("RegisterCustomer", args=[public_key]))

    def submit_consent(self, signed_statement: dict[str, Any]) -> Any:
        with self._writing([str(signed_statement.get("customer_id", ""))]):
            return _json(self.contract.submit("SubmitConsentStatement",
                                              args=[_text(signed_statement)]))

    def list_consents(self, customer_id: str) -> list[dict[str, Any]]:
        """Her consent records, each with its ``status`` at the evaluation time."""
        found = _json(self.contract.evaluate("ListConsents", args=[customer_id]))
        return list(found["consents"])

    def consent_history(self, customer_id: str, consent_id: str) -> list[dict[str, Any]]:
        """Every version of one consent, oldest first."""
        found = _json(self.contract.evaluate("ConsentHistory", args=[customer_id, consent_id]))
        return list(found["versions"])

    def check_consent(self, customer_id: str, retailer: str, purpose: str, category: str) -> Any:
        return _json(self.contract.evaluate(
            "CheckConsent", args=[customer_id, retailer, purpose, category]))

    # -- preference events (private data) ----------------------------------------------------

    def record_events(self, events: list[dict[str, Any]]) -> Any:
        with self._writing([str(e.get("customer_id", "")) for e in events]):
            return _json(self.contract.submit(
                "RecordPreferenceEvents", transient={"events": _text(events).encode()},
                endorsing_orgs=self.endorsing_orgs))

    def read_preferences(self, customer_id: str, purpose: str, *,
                         wait_for_log: bool = True, log_access: bool = True) -> Any:
        """The events this retailer may read, then an access-log entry (counts only).

        ``wait_for_log=False`` sends the log entry without waiting for its commit (a kiosk
        must not wait a block for it); it is still endorsed and ordered. ``log_access=False``
        sends none: the caller logs the read with :meth:`log_access` when it opens a session
        (gateway/access_log.py).
        """
        result = _json(self.contract.evaluate(
            "ReadPreferences", args=[customer_id, purpose], endorsing_orgs=[self.msp_id]))
        if log_access:
            self.log_access(customer_id, purpose, wait_for_commit=wait_for_log)
        return result

    def log_access(self, customer_id: str, purpose: str, *, wait_for_commit: bool = True
                   ) -> None:
        """Submit the access-log entry of a read of her events for ``purpose``."""
        if wait_for_commit:
            self.contract.submit("LogAccess", args=[customer_id, purpose])
        else:
            self.contract.submit_async("LogAccess", args=[customer_id, purpose])

    def read_training_events(self, purpose: str, after: str, limit: int) -> Any:
        """One page of every customer's events this retailer may read (see the contract)."""
        return _json(self.contract.evaluate(
            "ReadTrainingEvents", args=[purpose, after, str(limit)],
            endorsing_orgs=[self.msp_id]))

    def record_provenance(self, provenance: dict[str, Any]) -> Any:
        return _json(self.contract.submit("RecordModelProvenance", args=[_text(provenance)]))

    # -- customer rights ---------------------------------------------------------------------

    def export_customer(self, signed_request: dict[str, Any]) -> Any:
        return _json(self.contract.evaluate(
            "ExportCustomer", transient={"request": _text(signed_request).encode()},
            endorsing_orgs=[self.msp_id]))

    def erase_customer(self, signed_request: dict[str, Any]) -> Any:
        with self._writing([str(signed_request.get("customer_id", ""))]):
            return _json(self.contract.submit(
                "EraseCustomer", transient={"request": _text(signed_request).encode()},
                endorsing_orgs=self.endorsing_orgs))


@dataclass
class LedgerConnection:
    """The gateway's connections (own peer, other peers, orderers) and the contract on
    them; close when done (stops the commit listener, then closes every channel)."""

    gateway: Gateway
    nodes: tuple[Node, ...]
    ledger: ConsortiumLedger
    #: The channel, for event streams of its own (the suggestion cache's watcher).
    network: Network

    @property
    def channel(self) -> grpc.Channel:
        """The own peer's channel."""
        return self.nodes[0].channel

    def close(self) -> None:
        self.gateway.close()
        for node in self.nodes:
            node.channel.close()

    def peer_reachable(self, timeout: float = 1.0) -> bool:
        try:
            grpc.channel_ready_future(self.channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            return False
        return True


def _node(endpoint: NodeEndpoint) -> Node:
    return Node.connect(Endpoint(endpoint.address, endpoint.msp_id,
                                 endpoint.tls_root.read_bytes(), endpoint.host_override))


def endorsement_policy(settings: GatewaySettings) -> EndorsementPolicy:
    """The chaincode's policy as the settings describe it (a majority by default).

    Raises ValueError when ``endorsements_required`` exceeds the policy's organisations.
    """
    orgs = settings.policy_orgs or settings.endorsing_orgs
    if settings.endorsements_required is None:
        return EndorsementPolicy.majority(orgs)
    return EndorsementPolicy(tuple(dict.fromkeys(orgs)), settings.endorsements_required)


def open_ledger(settings: GatewaySettings) -> LedgerConnection:
    """Connect (lazily: gRPC dials on first use and redials after a node restart) and
    start the channel's commit listener on the own peer.

    Raises:
        gateway.fabric.MspFolderError: the enrolled identity cannot be loaded.
        OSError: a TLS root certificate cannot be read.
        ValueError: the endorsement policy settings do not fit together.
    """
    policy = endorsement_policy(settings)
    msp = load_msp_folder(settings.msp_dir, settings.msp_id)
    own = _node(NodeEndpoint(address=settings.peer_endpoint, msp_id=settings.msp_id,
                             tls_root=settings.peer_tls_root,
                             host_override=settings.peer_host_override))
    others = tuple(_node(e) for e in settings.endorsing_peers)
    orderers = tuple(_node(e) for e in settings.orderers)
    gateway = Gateway.connect(
        msp.identity, ecdsa_signer(msp.private_key), own, endorsers=others, orderers=orderers,
        policy=policy,
        timeouts=Timeouts(evaluate=settings.evaluate_timeout_s,
                          endorse=settings.endorse_timeout_s,
                          submit=settings.submit_timeout_s,
                          commit_status=settings.commit_timeout_s,
                          resend=settings.commit_resend_s),
    )
    network = gateway.network(settings.channel)
    # Started now, so the first write does not wait for the deliver stream to connect.
    network.commit_listener  # noqa: B018
    ledger = ConsortiumLedger(network.contract(settings.chaincode), network.contract("qscc"),
                              settings.msp_id, settings.endorsing_orgs)
    return LedgerConnection(gateway, (own, *others, *orderers), ledger, network)
