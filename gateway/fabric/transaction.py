"""The endorsed transaction the gateway returns, and the commit-status request.

After Endorse, the peer gateway returns a ``common.Envelope`` whose ``payload`` is
the complete transaction (header from the proposal, the endorsements, the
chaincode's result). The client signs that payload exactly as received and puts
the signature in ``Envelope.signature``; it never re-serialises the payload,
because the orderer and committing peers verify the signature over those bytes.

The result is read as fabric-gateway's ``transactionparser.go`` reads it::

    Payload.data → Transaction.actions[i].payload → ChaincodeActionPayload
      .action.proposal_response_payload → ProposalResponsePayload.extension
      → ChaincodeAction.response.payload
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from gateway.fabric._protos import (
    common_pb2,
    gateway_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)
from gateway.fabric.errors import ResponseDecodeError
from gateway.fabric.signing import Hash, SignedRequest, Signer, sha256


def _decode(message_type: Any, data: bytes, what: str, transaction_id: str) -> Any:
    try:
        return message_type.FromString(data)
    except DecodeError as exc:
        raise ResponseDecodeError(f"cannot decode {what}", transaction_id) from exc


def _parse_envelope(envelope: Any, transaction_id: str) -> tuple[str, bytes]:
    """(channel id, chaincode result) of a prepared transaction envelope."""
    payload = _decode(common_pb2.Payload, envelope.payload, "envelope payload", transaction_id)
    channel_header = _decode(
        common_pb2.ChannelHeader, payload.header.channel_header, "channel header", transaction_id
    )
    transaction = _decode(transaction_pb2.Transaction, payload.data, "transaction", transaction_id)
    for action in transaction.actions:
        try:
            action_payload = transaction_pb2.ChaincodeActionPayload.FromString(action.payload)
            response_payload = proposal_response_pb2.ProposalResponsePayload.FromString(
                action_payload.action.proposal_response_payload
            )
            chaincode_action = proposal_pb2.ChaincodeAction.FromString(response_payload.extension)
        except DecodeError:
            continue
        result: bytes = chaincode_action.response.payload
        return channel_header.channel_id, result
    raise ResponseDecodeError("prepared transaction holds no proposal response", transaction_id)


class Transaction:
    """An endorsed transaction ready to submit: ``common.Envelope`` plus its tx id.

    Raises ResponseDecodeError from the constructor when the envelope does not hold
    a decodable endorser transaction.
    """

    def __init__(self, transaction_id: str, envelope: Any, *, hash: Hash = sha256) -> None:
        self.transaction_id = transaction_id
        self._envelope = envelope
        self._hash = hash
        self.channel_id, self.result = _parse_envelope(envelope, transaction_id)

    @property
    def envelope(self) -> Any:
        """The ``common.Envelope`` (signature set once signed)."""
        return self._envelope

    @property
    def is_signed(self) -> bool:
        return bool(self._envelope.signature)

    def digest(self) -> bytes:
        """Hash of the envelope's payload bytes, exactly as the gateway returned them."""
        return self._hash(self._envelope.payload)

    def set_signature(self, signature: bytes) -> None:
        self._envelope.signature = bytes(signature)

    def sign(self, signer: Signer) -> None:
        if not self.is_signed:
            self.set_signature(signer(self.digest()))

    def bytes(self) -> bytes:
        """The serialized ``gateway.PreparedTransaction``."""
        prepared = gateway_pb2.PreparedTransaction(
            transaction_id=self.transaction_id, envelope=self._envelope
        )
        data: bytes = prepared.SerializeToString()
        return data


class CommitStatusRequest(SignedRequest):
    """A ``gateway.SignedCommitStatusRequest`` for one transaction, signed by the client."""

    def __init__(
        self, *, transaction_id: str, channel_id: str, creator: bytes, hash: Hash = sha256
    ) -> None:
        self.transaction_id = transaction_id
        self._hash = hash
        self._signed = gateway_pb2.SignedCommitStatusRequest(
            request=gateway_pb2.CommitStatusRequest(
                transaction_id=transaction_id, channel_id=channel_id, identity=creator
            ).SerializeToString()
        )


def validation_code_name(code: int) -> str:
    """``"VALID"``, ``"MVCC_READ_CONFLICT"``, ...; ``"UNKNOWN(<n>)"`` for a code this
    version of the protos does not name."""
    try:
        name: str = transaction_pb2.TxValidationCode.Name(code)
    except ValueError:
        return f"UNKNOWN({code})"
    return name


@dataclass(frozen=True)
class Status:
    """The committed outcome of a transaction (``gateway.CommitStatusResponse``)."""

    transaction_id: str
    code: int
    block_number: int

    @property
    def code_name(self) -> str:
        return validation_code_name(self.code)

    @property
    def successful(self) -> bool:
        return bool(self.code == transaction_pb2.VALID)
