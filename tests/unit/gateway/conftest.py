"""Test credentials, signature checks, and the Gateway *protocol test double*.

``GatewayProtocolDouble`` is an in-process gRPC server on 127.0.0.1 that implements
the ``gateway.Gateway`` servicer from ``fabric_protos.gateway.gateway_pb2_grpc`` with
scripted answers. It exists only to test the client's own logic: what it signs and
sends, the Endorse → Submit → CommitStatus order, how it maps failures and
deadlines to error types, and how it resumes event streams. It checks no
signature, runs no chaincode, orders nothing and commits nothing; where it shapes
an answer like Fabric (the prepared transaction, the event matcher), that shape is
this suite's reading of Fabric's source, not Fabric's behaviour. Passing tests
against it prove nothing about working with a real Fabric v3.1 peer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.peer import (
    chaincode_event_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)

from gateway.fabric.identity import Identity
from gateway.fabric.signing import ecdsa_signer

FABRIC_CA_ATTRS_OID = x509.ObjectIdentifier("1.2.3.4.5.6.7.8.1")
ATTRS = {"hf.EnrollmentID": "gw1", "role": "gateway", "store_id": "b-01"}


def make_certificate(
    key: ec.EllipticCurvePrivateKey, attrs: dict[str, str] | None = None
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gw1")])
    start = datetime(2025, 1, 1, tzinfo=UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
    )
    if attrs is not None:
        value = json.dumps({"attrs": attrs}).encode()
        builder = builder.add_extension(
            x509.UnrecognizedExtension(FABRIC_CA_ATTRS_OID, value), critical=False
        )
    return builder.sign(key, hashes.SHA256())


@dataclass(frozen=True)
class Credentials:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    identity: Identity

    def signer(self) -> Any:
        return ecdsa_signer(self.key)

    def verifies(self, signature: bytes, message: bytes) -> bool:
        return verifies(self.identity.certificate, signature, message)


def new_credentials(msp_id: str = "Org1MSP", curve: ec.EllipticCurve | None = None) -> Credentials:
    key = ec.generate_private_key(curve or ec.SECP256R1())
    certificate = make_certificate(key, ATTRS)
    return Credentials(key, certificate, Identity.from_certificate(msp_id, certificate))


@pytest.fixture(scope="session")
def org1() -> Credentials:
    return new_credentials("Org1MSP")


@pytest.fixture(scope="session")
def make_credentials() -> Any:
    """``make_credentials(msp_id="Org1MSP", curve=None) -> Credentials``."""
    return new_credentials


def verifies(certificate_pem: bytes, signature: bytes, message: bytes) -> bool:
    """Does ``signature`` verify over SHA-256(``message``) with the certificate's key?"""
    public_key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    try:
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except Exception:
        return False
    return True


# --- google.rpc.Status, encoded by hand ----------------------------------------------------
# Written from the protobuf wire format so error decoding is checked against bytes
# the library did not produce.


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire_type: int, payload: bytes) -> bytes:
    key = _varint(number << 3 | wire_type)
    if wire_type == 0:
        return key + payload
    return key + _varint(len(payload)) + payload


def rpc_status_bytes(code: int, message: str, anys: list[tuple[str, bytes]]) -> bytes:
    """``google.rpc.Status{code, message, details: [Any{type_url, value}]}``."""
    data = _field(1, 0, _varint(code)) + _field(2, 2, message.encode())
    for type_url, value in anys:
        data += _field(3, 2, _field(1, 2, type_url.encode()) + _field(2, 2, value))
    return data


@pytest.fixture(scope="session")
def status_bytes() -> Any:
    """``status_bytes(code, message, [(type_url, value)])``: a hand-encoded google.rpc.Status."""
    return rpc_status_bytes


def error_detail_any(address: str, msp_id: str, message: str) -> tuple[str, bytes]:
    detail = gateway_pb2.ErrorDetail(address=address, msp_id=msp_id, message=message)
    return "type.googleapis.com/gateway.ErrorDetail", detail.SerializeToString()


# --- the protocol test double ----------------------------------------------------------------


@dataclass
class ScriptedError:
    code: grpc.StatusCode
    message: str
    details: list[tuple[str, str, str]] = field(default_factory=list)  # address, msp, message


def prepared_transaction(signed_proposal: Any, result: bytes) -> Any:
    """An envelope shaped as Fabric's gateway assembles one (``prepareTransaction``):
    the proposal's header, the invocation without its transient map, one endorsed
    action whose ChaincodeAction carries ``result``."""
    proposal = proposal_pb2.Proposal.FromString(signed_proposal.proposal_bytes)
    header = common_pb2.Header.FromString(proposal.header)
    cc_payload = proposal_pb2.ChaincodeProposalPayload.FromString(proposal.payload)
    cc_payload.TransientMap.clear()
    chaincode_action = proposal_pb2.ChaincodeAction(
        response=proposal_response_pb2.Response(status=200, payload=result)
    )
    response_payload = proposal_response_pb2.ProposalResponsePayload(
        proposal_hash=b"\x00" * 32, extension=chaincode_action.SerializeToString()
    )
    action_payload = transaction_pb2.ChaincodeActionPayload(
        chaincode_proposal_payload=cc_payload.SerializeToString(),
        action=transaction_pb2.ChaincodeEndorsedAction(
            proposal_response_payload=response_payload.SerializeToString(),
            endorsements=[proposal_response_pb2.Endorsement(endorser=b"peer", signature=b"sig")],
        ),
    )
    transaction = transaction_pb2.Transaction(
        actions=[
            transaction_pb2.TransactionAction(
                header=header.signature_header, payload=action_payload.SerializeToString()
            )
        ]
    )
    payload = common_pb2.Payload(header=header, data=transaction.SerializeToString())
    return common_pb2.Envelope(payload=payload.SerializeToString())


@pytest.fixture(scope="session")
def make_envelope() -> Any:
    """``make_envelope(signed_proposal, result)``: a prepared transaction envelope."""
    return prepared_transaction


class GatewayProtocolDouble(gateway_pb2_grpc.GatewayServicer):
    """Scripted ``gateway.Gateway`` servicer recording every request (see module doc)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.errors: dict[str, ScriptedError] = {}
        self.result = b"result"
        self.validation_code = transaction_pb2.VALID
        self.block_number = 7
        self.delays: dict[str, float] = {}  # rpc -> seconds to stall before answering
        self.prepared: list[Any] = []
        # Event ledger: block number -> events; blocks below `height` already exist.
        self.blocks: dict[int, list[Any]] = {}
        self.height = 0
        self.events_then_fail: ScriptedError | None = None
        self._lock = threading.Lock()

    def fail(
        self,
        rpc: str,
        code: grpc.StatusCode,
        message: str,
        details: tuple[tuple[str, str, str], ...] = (),
    ) -> None:
        """Make ``rpc`` fail with ``code``, ``message`` and (address, msp id, message) details."""
        self.errors[rpc] = ScriptedError(code, message, list(details))

    def fail_events_after_ledger(self, code: grpc.StatusCode, message: str) -> None:
        """Make ChaincodeEvents fail after it has sent the matching blocks."""
        self.events_then_fail = ScriptedError(code, message)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def requests(self, name: str) -> list[Any]:
        return [request for n, request in self.calls if n == name]

    def _record(self, name: str, request: Any, context: Any) -> None:
        with self._lock:
            self.calls.append((name, request))
        deadline = time.monotonic() + self.delays.get(name, 0.0)
        while time.monotonic() < deadline and context.is_active():
            time.sleep(0.01)
        scripted = self.errors.get(name)
        if scripted is not None:
            self._abort(context, scripted)

    @staticmethod
    def _abort(context: Any, scripted: ScriptedError) -> None:
        anys = [error_detail_any(*d) for d in scripted.details]
        status = rpc_status_bytes(scripted.code.value[0], scripted.message, anys)
        context.set_trailing_metadata((("grpc-status-details-bin", status),))
        context.abort(scripted.code, scripted.message)

    def Evaluate(self, request: Any, context: Any) -> Any:
        self._record("Evaluate", request, context)
        return gateway_pb2.EvaluateResponse(
            result=proposal_response_pb2.Response(status=200, payload=self.result)
        )

    def Endorse(self, request: Any, context: Any) -> Any:
        self._record("Endorse", request, context)
        envelope = prepared_transaction(request.proposed_transaction, self.result)
        self.prepared.append(envelope)
        return gateway_pb2.EndorseResponse(prepared_transaction=envelope)

    def Submit(self, request: Any, context: Any) -> Any:
        self._record("Submit", request, context)
        return gateway_pb2.SubmitResponse()

    def CommitStatus(self, request: Any, context: Any) -> Any:
        self._record("CommitStatus", request, context)
        return gateway_pb2.CommitStatusResponse(
            result=self.validation_code, block_number=self.block_number
        )

    def ChaincodeEvents(self, request: Any, context: Any) -> Iterator[Any]:
        self._record("ChaincodeEvents", request, context)
        inner = gateway_pb2.ChaincodeEventsRequest.FromString(request.request)
        kind = inner.start_position.WhichOneof("Type")
        start = inner.start_position.specified.number if kind == "specified" else self.height
        after = inner.after_transaction_id
        passed = not after
        for number in sorted(n for n in self.blocks if n >= start):
            matching = []
            for event in self.blocks[number]:
                if not passed:
                    passed = event.tx_id == after
                    continue
                if event.chaincode_id == inner.chaincode_id:
                    matching.append(event)
            if matching:
                yield gateway_pb2.ChaincodeEventsResponse(events=matching, block_number=number)
        if self.events_then_fail is not None:
            self._abort(context, self.events_then_fail)
        while context.is_active():  # a real stream stays open for future blocks
            time.sleep(0.01)

    def add_block(self, number: int, *events: tuple[str, str, str, bytes]) -> None:
        """Events as (tx id, chaincode, event name, payload)."""
        self.blocks[number] = [
            chaincode_event_pb2.ChaincodeEvent(
                tx_id=tx, chaincode_id=cc, event_name=name, payload=payload
            )
            for tx, cc, name, payload in events
        ]


@dataclass
class DoubleServer:
    double: GatewayProtocolDouble
    channel: grpc.Channel


@pytest.fixture
def protocol_double() -> Iterator[DoubleServer]:
    """A GatewayProtocolDouble on 127.0.0.1 and a client channel to it."""
    double = GatewayProtocolDouble()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    gateway_pb2_grpc.add_GatewayServicer_to_server(double, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield DoubleServer(double, channel)
    finally:
        channel.close()
        server.stop(grace=None)
