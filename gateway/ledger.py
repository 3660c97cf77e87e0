"""The consortium chaincode's transactions as typed calls, over the Fabric client.

One method per transaction of ``chaincode/contract.py`` (docs/chaincode.md lists them), each
returning the chaincode's answer as a record (:mod:`gateway.ledger_records`; a malformed
answer raises MalformedLedgerAnswer).
Private data travels only in the transient map, and proposals carrying it name the endorsing
organisations (the collection's members). Reads that return private values are evaluated,
never submitted: a submitted transaction's response is written into the block.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from chaincode.consent import ConsentRecord
from chaincode.keys import CustomerRecord
from chaincode.preferences import PreferenceEvent
from chaincode.provenance import ModelProvenance
from chaincode.watch_record import WatchRecord
from gateway import ledger_records as records
from gateway.errors import CHAINCODE_REFUSALS
from gateway.fabric import (
    CommitError,
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
from gateway.ledger_records import (
    ConsentCheck,
    ConsentVersion,
    ErasureAccepted,
    ErasureProgress,
    ListedConsent,
    OwnData,
    OwnPage,
    PublicExport,
    SharedEvents,
    SharedPage,
    parse_answer,
)
from gateway.settings import GatewaySettings, NodeEndpoint
from gateway.write_budget import WriteBudget

log = logging.getLogger(__name__)

#: Validation codes of a transaction that wrote nothing because another changed its reads.
RETRIED_CONFLICTS = frozenset({"MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT"})
#: Endorsements of one write at most, the first included.
CONFLICT_ATTEMPTS = 3


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class ConsortiumLedger:
    contract: Contract
    #: The peer's query system chaincode (qscc), for the channel height.
    system: Contract
    msp_id: str
    endorsing_orgs: tuple[str, ...]
    #: The cost guard every submit spends from (None: no budget).
    budget: WriteBudget | None = None
    #: Called with a customer id after every write about her through this object, whether
    #: it committed or not (a failed or unconfirmed one may have landed).
    _write_observers: list[Callable[[str], None]] = field(
        default_factory=list, init=False, repr=False, compare=False)
    #: Called with each event batch recorded through this object, committed or not.
    _batch_observers: list[Callable[[list[dict[str, Any]]], None]] = field(
        default_factory=list, init=False, repr=False, compare=False)

    def on_customer_write(self, observer: Callable[[str], None]) -> None:
        """Call ``observer(customer_id)`` once a consent statement, erasure or event batch
        about her returns or fails (the suggestion cache drops her entry)."""
        self._write_observers.append(observer)

    def on_events_recorded(self, observer: Callable[[list[dict[str, Any]]], None]) -> None:
        """Call ``observer(events)`` once a batch of this retailer's events returns or fails
        (a failed or unconfirmed one may have landed): the members her consents open them to
        are told (gateway/notices.py). The observer must not raise or wait."""
        self._batch_observers.append(observer)

    @contextmanager
    def _writing(self, customer_ids: list[str]) -> Iterator[None]:
        try:
            yield
        finally:
            for customer_id in dict.fromkeys(customer_ids):
                for observer in self._write_observers:
                    observer(customer_id)

    def _submit(self, function: str, **kwargs: Any) -> bytes:
        """Submit one transaction, each attempt counted against the write budget first
        (raises WriteBudgetExceeded, then the Fabric client's errors).

        A transaction invalidated because another committed first changed what it read
        (MVCC or phantom read conflict) wrote nothing, so it is endorsed again on the new
        state, up to :data:`CONFLICT_ATTEMPTS` times: two of a customer's own writes can
        meet (her export beside the owner's batch of her access log), and a shopper should
        not be asked to press again for the ledger's concurrency control."""
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            if self.budget is not None:
                self.budget.spend()
            try:
                return self.contract.submit(function, **kwargs)
            except CommitError as exc:
                if exc.code_name not in RETRIED_CONFLICTS or attempt == CONFLICT_ATTEMPTS:
                    raise
                log.info("ledger write endorsed again after a read conflict",
                         extra={"function": function, "validation": exc.code_name,
                                "attempt": attempt})
        raise AssertionError("unreachable")

    def block_height(self, channel: str) -> int:
        info = ledger_pb2.BlockchainInfo.FromString(
            self.system.evaluate("GetChainInfo", args=[channel]))
        return int(info.height)

    # -- customers and consent (public state; customer-signed) ------------------------------

    def register_customer(self, public_key: str) -> CustomerRecord:
        return parse_answer("RegisterCustomer",
                            self._submit("RegisterCustomer", args=[public_key]),
                            records.customer_record)

    def submit_consent(self, signed_statement: dict[str, Any]) -> ConsentRecord:
        with self._writing([str(signed_statement.get("customer_id", ""))]):
            return parse_answer("SubmitConsentStatement",
                                self._submit("SubmitConsentStatement",
                                             args=[_text(signed_statement)]),
                                records.consent_record)

    def list_consents(self, customer_id: str) -> tuple[ListedConsent, ...]:
        """Her consent records, each with its ``status`` at the evaluation time."""
        return parse_answer("ListConsents",
                            self.contract.evaluate("ListConsents", args=[customer_id]),
                            records.listed_consents)

    def consent_history(self, customer_id: str, consent_id: str) -> tuple[ConsentVersion, ...]:
        """Every version of one consent, oldest first."""
        return parse_answer("ConsentHistory",
                            self.contract.evaluate("ConsentHistory",
                                                   args=[customer_id, consent_id]),
                            records.consent_history)

    def check_consent(self, customer_id: str, retailer: str, purpose: str,
                      category: str) -> ConsentCheck:
        """The basis of an allowed read; a refusal raises the chaincode's typed error."""
        return parse_answer("CheckConsent",
                            self.contract.evaluate(
                                "CheckConsent", args=[customer_id, retailer, purpose, category]),
                            ConsentCheck.from_dict)

    # -- preference events: each retailer's own collection --------------------------------

    @property
    def _own(self) -> EndorsementPolicy:
        """A write only to the own collection: its policy is the own organisation's peer."""
        return EndorsementPolicy((self.msp_id,), 1)

    def record_events(self, events: list[dict[str, Any]]) -> int:
        """Record this retailer's own events in its collection (its own peer endorses);
        how many were recorded."""
        try:
            with self._writing([str(e.get("customer_id", "")) for e in events]):
                return parse_answer("RecordPreferenceEvents", self._submit(
                    "RecordPreferenceEvents", transient={"events": _text(events).encode()},
                    endorsing_orgs=[self.msp_id], policy=self._own), records.recorded_count)
        finally:
            for observer in self._batch_observers:
                observer(events)

    def read_own_events(self, customer_id: str) -> tuple[PreferenceEvent, ...]:
        """Her events this retailer recorded."""
        return parse_answer("ReadOwnEvents", self.contract.evaluate(
            "ReadOwnEvents", args=[customer_id], endorsing_orgs=[self.msp_id]),
            records.answer_events)

    def read_own_training(self, after: str, limit: int) -> OwnPage:
        """One page of this retailer's own events, every customer (see the contract)."""
        return parse_answer("ReadOwnTraining", self.contract.evaluate(
            "ReadOwnTraining", args=[after, str(limit)], endorsing_orgs=[self.msp_id]),
            OwnPage.from_dict)

    def read_shared_events(self, customer_id: str, reader: str, purpose: str) -> SharedEvents:
        """What ``reader`` may read of her events held here, checked by this peer's
        chaincode now, and the consents that opened them."""
        return parse_answer("ReadSharedEvents", self.contract.evaluate(
            "ReadSharedEvents", args=[customer_id, reader, purpose],
            endorsing_orgs=[self.msp_id]), SharedEvents.from_dict)

    def read_shared_training(self, reader: str, purpose: str, after: str,
                             limit: int) -> SharedPage:
        return parse_answer("ReadSharedTraining", self.contract.evaluate(
            "ReadSharedTraining", args=[reader, purpose, after, str(limit)],
            endorsing_orgs=[self.msp_id]), SharedPage.from_dict)

    def log_reads(self, entries: list[dict[str, Any]],
                  served_nonces: dict[str, str] | None = None) -> int:
        """Append access-log entries (this retailer's reads served to others) to each
        customer's log in the own collection; ``served_nonces`` marks export requests.
        How many were appended."""
        transient = {"entries": _text(entries).encode()}
        if served_nonces:
            transient["nonces"] = _text(served_nonces).encode()
        return parse_answer("LogReads", self._submit(
            "LogReads", transient=transient, endorsing_orgs=[self.msp_id], policy=self._own),
            records.logged_count)

    def record_provenance(self, provenance: dict[str, Any]) -> ModelProvenance:
        return parse_answer("RecordModelProvenance",
                            self._submit("RecordModelProvenance", args=[_text(provenance)]),
                            records.provenance)

    def model_provenance(self, model_id: str) -> dict[str, Any]:
        """A model's provenance record (with its card, ``metrics["card.*"]``)."""
        return parse_answer("GetModelProvenance",
                            self.contract.evaluate("GetModelProvenance", args=[model_id]),
                            records.provenance).to_dict()

    # -- the consortium watch (public, MAJORITY) ----------------------------------------------

    def record_watch_event(self, record: dict[str, Any]) -> WatchRecord:
        """Record this owner's alert on, or clearance of, another member's reads."""
        return parse_answer("RecordWatchEvent",
                            self._submit("RecordWatchEvent", args=[_text(record)]),
                            records.watch_record)

    def list_watch_events(self) -> tuple[WatchRecord, ...]:
        """Every member's watch records, oldest first."""
        return parse_answer("ListWatchEvents", self.contract.evaluate("ListWatchEvents"),
                            records.watch_records)

    # -- customer rights ---------------------------------------------------------------------

    def customer_status(self, customer_id: str) -> None:
        """Raise the chaincode's UnknownCustomer / CustomerErased unless her id is open."""
        self.contract.evaluate("ListConsents", args=[customer_id])

    def export_customer(self, signed_request: dict[str, Any]) -> PublicExport:
        """The public part of her export: record, consents with history, erasure."""
        return parse_answer("ExportCustomer", self.contract.evaluate(
            "ExportCustomer", transient={"request": _text(signed_request).encode()},
            endorsing_orgs=[self.msp_id]), PublicExport.from_dict)

    def export_own_data(self, signed_request: dict[str, Any], requester: str) -> OwnData:
        """What this retailer holds about her and its read log, for her export served by
        ``requester``'s gateway (once per request)."""
        return parse_answer("ExportOwnData", self.contract.evaluate(
            "ExportOwnData", args=[requester],
            transient={"request": _text(signed_request).encode()},
            endorsing_orgs=[self.msp_id]), OwnData.from_dict)

    def erase_customer(self, signed_request: dict[str, Any]) -> ErasureAccepted:
        with self._writing([str(signed_request.get("customer_id", ""))]):
            return parse_answer("EraseCustomer", self._submit(
                "EraseCustomer", transient={"request": _text(signed_request).encode()},
                endorsing_orgs=self.endorsing_orgs), ErasureAccepted.from_dict)

    def purge_customer(self, customer_id: str) -> str:
        """This retailer's part of her latest erasure (its own collection); the erasure id."""
        with self._writing([customer_id]):
            return parse_answer("PurgeCustomer", self._submit(
                "PurgeCustomer", args=[customer_id], endorsing_orgs=[self.msp_id],
                policy=self._own), records.purged_erasure)

    def erasure_progress(self, customer_id: str) -> ErasureProgress:
        return parse_answer("ErasureProgress",
                            self.contract.evaluate("ErasureProgress", args=[customer_id]),
                            ErasureProgress.from_dict)

    def pending_erasures(self) -> tuple[str, ...]:
        return parse_answer("PendingErasures", self.contract.evaluate(
            "PendingErasures", endorsing_orgs=[self.msp_id]), records.pending_erasures)


@dataclass
class LedgerConnection:
    """The gateway's connections (own peer, other peers, orderers) and the contract on
    them; close when done (stops the commit listener, then closes every channel)."""

    gateway: Gateway
    nodes: tuple[Node, ...]
    ledger: ConsortiumLedger
    #: The channel, for event streams of its own (the suggestion cache's watcher).
    network: Network
    #: The gateway's Fabric identity (PEM) and a signer of messages with its key (DER
    #: ECDSA over SHA-256): its member-to-member requests are signed with them.
    certificate_pem: bytes = b""
    sign: Callable[[bytes], bytes] = field(default=lambda data: b"", repr=False)

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
        policy=policy, refusals=CHAINCODE_REFUSALS,
        timeouts=Timeouts(evaluate=settings.evaluate_timeout_s,
                          endorse=settings.endorse_timeout_s,
                          submit=settings.submit_timeout_s,
                          commit_status=settings.commit_timeout_s,
                          resend=settings.commit_resend_s),
    )
    network = gateway.network(settings.channel)
    # Started now, so the first write does not wait for the deliver stream to connect.
    network.commit_listener  # noqa: B018
    budget = (None if settings.write_budget_per_hour is None
              else WriteBudget(settings.write_budget_per_hour))
    ledger = ConsortiumLedger(network.contract(settings.chaincode), network.contract("qscc"),
                              settings.msp_id, settings.endorsing_orgs, budget)
    key = msp.private_key

    def sign(data: bytes) -> bytes:
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    return LedgerConnection(gateway, (own, *others, *orderers), ledger, network,
                            msp.identity.certificate, sign)
