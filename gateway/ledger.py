"""The consortium chaincode's transactions as typed calls, over the Fabric Gateway client.

One method per transaction of ``chaincode/contract.py`` (docs/chaincode.md lists them).
Private data travels only in the transient map, and proposals carrying it name the endorsing
organisations (the collection's members). Reads that return private values are evaluated,
never submitted: a submitted transaction's response is written into the block.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import grpc

from gateway.fabric import Contract, Gateway, Timeouts, ecdsa_signer, load_msp_folder
from gateway.fabric._protos import ledger_pb2
from gateway.settings import GatewaySettings


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

    def block_height(self, channel: str) -> int:
        info = ledger_pb2.BlockchainInfo.FromString(
            self.system.evaluate("GetChainInfo", args=[channel]))
        return int(info.height)

    # -- customers and consent (public state; customer-signed) ------------------------------

    def register_customer(self, public_key: str) -> Any:
        return _json(self.contract.submit("RegisterCustomer", args=[public_key]))

    def submit_consent(self, signed_statement: dict[str, Any]) -> Any:
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
        return _json(self.contract.submit(
            "RecordPreferenceEvents", transient={"events": _text(events).encode()},
            endorsing_orgs=self.endorsing_orgs))

    def read_preferences(self, customer_id: str, purpose: str, *,
                         wait_for_log: bool = True) -> Any:
        """The events this retailer may read, then an access-log entry (counts only).

        ``wait_for_log=False`` sends the log entry without waiting for its commit (a kiosk
        must not wait a block for it); it is still endorsed and ordered.
        """
        result = _json(self.contract.evaluate(
            "ReadPreferences", args=[customer_id, purpose], endorsing_orgs=[self.msp_id]))
        if wait_for_log:
            self.contract.submit("LogAccess", args=[customer_id, purpose])
        else:
            self.contract.submit_async("LogAccess", args=[customer_id, purpose])
        return result

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
        return _json(self.contract.submit(
            "EraseCustomer", transient={"request": _text(signed_request).encode()},
            endorsing_orgs=self.endorsing_orgs))


@dataclass
class LedgerConnection:
    """The gRPC channel to the retailer's peer and the contract on it; close when done."""

    channel: grpc.Channel
    ledger: ConsortiumLedger

    def close(self) -> None:
        self.channel.close()

    def peer_reachable(self, timeout: float = 1.0) -> bool:
        try:
            grpc.channel_ready_future(self.channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            return False
        return True


def open_ledger(settings: GatewaySettings) -> LedgerConnection:
    """Connect (lazily: gRPC dials on first use and redials after a peer restart).

    Raises:
        gateway.fabric.MspFolderError: the enrolled identity cannot be loaded.
        OSError: the peer's TLS root certificate cannot be read.
    """
    credentials = grpc.ssl_channel_credentials(
        root_certificates=settings.peer_tls_root.read_bytes())
    options: list[tuple[str, Any]] = [("grpc.keepalive_time_ms", 30_000)]
    if settings.peer_host_override:
        options.append(("grpc.ssl_target_name_override", settings.peer_host_override))
    channel = grpc.secure_channel(settings.peer_endpoint, credentials, options=options)
    msp = load_msp_folder(settings.msp_dir, settings.msp_id)
    gateway = Gateway.connect(
        msp.identity, ecdsa_signer(msp.private_key), channel,
        timeouts=Timeouts(evaluate=settings.evaluate_timeout_s,
                          endorse=settings.endorse_timeout_s,
                          submit=settings.submit_timeout_s,
                          commit_status=settings.commit_timeout_s),
    )
    network = gateway.network(settings.channel)
    ledger = ConsortiumLedger(network.contract(settings.chaincode), network.contract("qscc"),
                              settings.msp_id, settings.endorsing_orgs)
    return LedgerConnection(channel, ledger)
