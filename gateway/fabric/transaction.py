"""The transaction envelope assembled from a proposal and its endorsements, and its outcome.

Built as Fabric 2.1's ``protoutil.CreateSignedTx`` builds it (the same steps the
Node SDK's ``Commit`` and later Fabric's gateway run)::

    Envelope { payload, signature = sign(hash(payload)) }
    └ Payload { header: the proposal's Header (unchanged bytes), data: Transaction }
      └ Transaction { actions: [ TransactionAction {
            header: the proposal's SignatureHeader,
            payload: ChaincodeActionPayload {
              chaincode_proposal_payload: the proposal payload WITHOUT its transient map,
              action: ChaincodeEndorsedAction {
                proposal_response_payload: the (agreed) endorsed payload,
                endorsements: [one per endorsing peer] } } } ] }

The committing peers recompute the proposal hash from the header and the payload
without the transient map, so private values never reach the block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.fabric._protos import common_pb2, transaction_pb2
from gateway.fabric.endorsement import chaincode_result
from gateway.fabric.proposal import Proposal
from gateway.fabric.signing import Hash, Signer, sha256


def transaction_payload(proposal: Proposal, responses: Sequence[Any]) -> bytes:
    """The serialized ``common.Payload`` of the transaction (``responses`` must agree).

    Raises ValueError without responses.
    """
    if not responses:
        raise ValueError("a transaction needs at least one endorsement")
    endorsed_action = transaction_pb2.ChaincodeEndorsedAction(
        proposal_response_payload=responses[0].payload,
        endorsements=[r.endorsement for r in responses],
    )
    action_payload = transaction_pb2.ChaincodeActionPayload(
        chaincode_proposal_payload=proposal.payload_for_transaction(),
        action=endorsed_action,
    )
    transaction = transaction_pb2.Transaction(
        actions=[
            transaction_pb2.TransactionAction(
                header=proposal.signature_header(),
                payload=action_payload.SerializeToString(),
            )
        ]
    )
    payload = common_pb2.Payload(
        header=common_pb2.Header.FromString(proposal.header),
        data=transaction.SerializeToString(),
    )
    data: bytes = payload.SerializeToString()
    return data


class Transaction:
    """An endorsed transaction ready to order: the envelope's payload and its signature.

    ``result`` is the chaincode's response payload from the endorsements.
    """

    def __init__(
        self, proposal: Proposal, responses: Sequence[Any], *, hash: Hash = sha256
    ) -> None:
        self.transaction_id = proposal.transaction_id
        self.channel_id = proposal.channel_id
        self.payload = transaction_payload(proposal, responses)
        self.result = chaincode_result(responses[0])
        self.endorsers: tuple[bytes, ...] = tuple(r.endorsement.endorser for r in responses)
        self._hash = hash
        self._signature = b""

    def __repr__(self) -> str:
        return f"Transaction(transaction_id={self.transaction_id!r})"

    @property
    def is_signed(self) -> bool:
        return bool(self._signature)

    @property
    def signature(self) -> bytes:
        return self._signature

    def digest(self) -> bytes:
        """Hash of the envelope's payload bytes: what the orderer and committers verify."""
        return self._hash(self.payload)

    def set_signature(self, signature: bytes) -> None:
        self._signature = bytes(signature)

    def sign(self, signer: Signer) -> None:
        if not self.is_signed:
            self.set_signature(signer(self.digest()))

    def envelope(self) -> Any:
        """The ``common.Envelope`` to broadcast."""
        return common_pb2.Envelope(payload=self.payload, signature=self._signature)

    def bytes(self) -> bytes:
        data: bytes = self.envelope().SerializeToString()
        return data


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
    """The committed outcome of a transaction: its validation code and block."""

    transaction_id: str
    code: int
    block_number: int

    @property
    def code_name(self) -> str:
        return validation_code_name(self.code)

    @property
    def successful(self) -> bool:
        return bool(self.code == transaction_pb2.VALID)
