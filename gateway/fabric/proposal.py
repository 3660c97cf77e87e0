"""Transaction proposals: the bytes an endorsing peer simulates, and their signature.

The structure (Fabric's ``protoutil.CreateChaincodeProposalWithTxIDNonceAndTransient``)::

    SignedProposal { proposal_bytes, signature }
    └ Proposal
      ├ header: Header
      │ ├ channel_header: ChannelHeader { type ENDORSER_TRANSACTION, channel_id, tx_id,
      │ │                                 timestamp, epoch 0,
      │ │                                 extension: ChaincodeHeaderExtension{chaincode_id} }
      │ └ signature_header: SignatureHeader { creator: SerializedIdentity, nonce: 24 bytes }
      └ payload: ChaincodeProposalPayload
        ├ input: ChaincodeInvocationSpec { chaincode_spec { chaincode_id, input.args } }
        └ TransientMap: {name: bytes}   (never written to a block)

``tx_id = hex(SHA-256(nonce || creator))``, always SHA-256 whatever hash the
signer uses, because the peer recomputes it that way and rejects a mismatch.
``input.args`` is the transaction name followed by the arguments, all as bytes.

A proposal with transient data carries private values: it is sent only to the peers
the caller chose, and neither it nor its bytes are ever logged (``repr`` shows the
transaction id only). The transaction built from it carries the payload *without* the
transient map (:meth:`Proposal.payload_for_transaction`), as the peer's proposal hash
expects.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.fabric._protos import (
    chaincode_pb2,
    common_pb2,
    proposal_pb2,
)
from gateway.fabric.identity import Identity
from gateway.fabric.signing import Hash, Signer, sha256

#: Length of the signature-header nonce, as the official clients use.
NONCE_LENGTH = 24

Argument = str | bytes


def new_nonce() -> bytes:
    return os.urandom(NONCE_LENGTH)


def transaction_id(nonce: bytes, creator: bytes) -> str:
    """``hex(SHA-256(nonce || creator))``, 64 lower-case hex characters."""
    return hashlib.sha256(nonce + creator).hexdigest()


def _as_bytes(value: Argument) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


class Proposal:
    """A built proposal, signed once with :meth:`sign` (or :meth:`set_signature`).

    ``bytes()`` is the serialized ``peer.SignedProposal`` (for offline signing or
    inspection); ``digest()`` is what the signer signs: the hash of ``proposal_bytes``.
    ``endorsing_orgs`` are the organisations the caller trusts with its transient data.
    """

    def __init__(
        self,
        *,
        transaction_id: str,
        channel_id: str,
        proposal_bytes: bytes,
        endorsing_orgs: Sequence[str] = (),
        hash: Hash = sha256,
    ) -> None:
        self.transaction_id = transaction_id
        self.channel_id = channel_id
        self.proposal_bytes = proposal_bytes
        self.endorsing_orgs: tuple[str, ...] = tuple(endorsing_orgs)
        self._hash = hash
        self._signature = b""
        decoded = proposal_pb2.Proposal.FromString(proposal_bytes)
        self.header: bytes = decoded.header
        payload = proposal_pb2.ChaincodeProposalPayload.FromString(decoded.payload)
        self.has_transient = bool(payload.TransientMap)
        self._payload_without_transient: bytes = proposal_pb2.ChaincodeProposalPayload(
            input=payload.input
        ).SerializeToString()

    def __repr__(self) -> str:
        # Never the bytes: with transient data they hold private values.
        return f"Proposal(transaction_id={self.transaction_id!r}, channel_id={self.channel_id!r})"

    def signature_header(self) -> bytes:
        """The serialized ``common.SignatureHeader`` (creator and nonce)."""
        data: bytes = common_pb2.Header.FromString(self.header).signature_header
        return data

    def payload_for_transaction(self) -> bytes:
        """The ``ChaincodeProposalPayload`` with its transient map removed: what the
        transaction (and so the block) holds."""
        return self._payload_without_transient

    @property
    def signature(self) -> bytes:
        return self._signature

    @property
    def is_signed(self) -> bool:
        return bool(self._signature)

    def digest(self) -> bytes:
        return self._hash(self.proposal_bytes)

    def set_signature(self, signature: bytes) -> None:
        self._signature = bytes(signature)

    def sign(self, signer: Signer) -> None:
        """Sign the digest unless a signature is already set (as the official clients do)."""
        if not self.is_signed:
            self.set_signature(signer(self.digest()))

    def signed_proposal(self) -> Any:
        """The ``peer.SignedProposal`` message."""
        return proposal_pb2.SignedProposal(
            proposal_bytes=self.proposal_bytes, signature=self._signature
        )

    def bytes(self) -> bytes:
        data: bytes = proposal_pb2.SignedProposal(
            proposal_bytes=self.proposal_bytes, signature=self._signature
        ).SerializeToString()
        return data


@dataclass
class ProposalBuilder:
    """Everything a proposal is built from; ``nonce`` and ``timestamp_ns`` default to
    fresh random bytes and the current time (tests pass them to get fixed bytes).

    Raises ValueError from :meth:`build` for an empty channel, chaincode or
    transaction name, or a nonce that is not 24 bytes.
    """

    identity: Identity
    channel_id: str
    chaincode: str
    transaction_name: str
    args: Sequence[Argument] = ()
    # Private values: kept out of repr so a logged builder never shows them.
    transient: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    endorsing_orgs: Sequence[str] = ()
    nonce: bytes | None = None
    timestamp_ns: int | None = None

    def build(self, hash: Hash = sha256) -> Proposal:
        for name in ("channel_id", "chaincode", "transaction_name"):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")
        nonce = new_nonce() if self.nonce is None else bytes(self.nonce)
        if len(nonce) != NONCE_LENGTH:
            raise ValueError(f"nonce must be {NONCE_LENGTH} bytes")
        creator = self.identity.creator()
        tx_id = transaction_id(nonce, creator)
        header = common_pb2.Header(
            channel_header=self._channel_header(tx_id),
            signature_header=common_pb2.SignatureHeader(
                creator=creator, nonce=nonce
            ).SerializeToString(),
        )
        proposal = proposal_pb2.Proposal(header=header.SerializeToString(), payload=self._payload())
        return Proposal(
            transaction_id=tx_id,
            channel_id=self.channel_id,
            proposal_bytes=proposal.SerializeToString(),
            endorsing_orgs=self.endorsing_orgs,
            hash=hash,
        )

    def _channel_header(self, tx_id: str) -> bytes:
        now_ns = time.time_ns() if self.timestamp_ns is None else self.timestamp_ns
        channel_header = common_pb2.ChannelHeader(
            type=common_pb2.ENDORSER_TRANSACTION,
            channel_id=self.channel_id,
            tx_id=tx_id,
            epoch=0,
            extension=proposal_pb2.ChaincodeHeaderExtension(
                chaincode_id=chaincode_pb2.ChaincodeID(name=self.chaincode)
            ).SerializeToString(),
        )
        channel_header.timestamp.seconds = now_ns // 1_000_000_000
        channel_header.timestamp.nanos = now_ns % 1_000_000_000
        data: bytes = channel_header.SerializeToString()
        return data

    def _payload(self) -> bytes:
        invocation = chaincode_pb2.ChaincodeInvocationSpec(
            chaincode_spec=chaincode_pb2.ChaincodeSpec(
                chaincode_id=chaincode_pb2.ChaincodeID(name=self.chaincode),
                input=chaincode_pb2.ChaincodeInput(
                    args=[_as_bytes(self.transaction_name), *map(_as_bytes, self.args)]
                ),
            )
        )
        payload = proposal_pb2.ChaincodeProposalPayload(
            input=invocation.SerializeToString(),
            TransientMap={k: bytes(v) for k, v in self.transient.items()},
        )
        data: bytes = payload.SerializeToString()
        return data
