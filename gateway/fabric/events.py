"""Chaincode events: the signed request, the events, and checkpoints to resume from.

The gateway streams ``ChaincodeEventsResponse`` messages, one per block that holds
matching events. Where the stream starts (fabric-gateway ``eventsbuilder.go``):

- nothing given: the next block committed (``SeekNextCommit``);
- ``start_block=n``: block ``n`` (``SeekSpecified``);
- a :class:`Checkpoint` ``(n, tx)``: block ``n``, skipping every event up to and
  including transaction ``tx`` (``after_transaction_id``), so a listener that
  recorded its last processed event resumes without repeats or gaps;
  ``(n, None)``: block ``n`` from its first event.

:class:`InMemoryCheckpointer` follows the Node client's checkpointer: after an
event it records ``(event.block_number, event.transaction_id)``; after a whole
block ``b`` it records ``(b + 1, None)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.fabric._protos import ab_pb2, gateway_pb2
from gateway.fabric.signing import Hash, SignedRequest, sha256


@dataclass(frozen=True)
class ChaincodeEvent:
    """One event a chaincode set with ``SetEvent``, from a committed valid transaction."""

    block_number: int
    transaction_id: str
    chaincode_name: str
    event_name: str
    payload: bytes


@dataclass(frozen=True)
class Checkpoint:
    """A position in the event stream: a block, and optionally the last transaction
    in it already processed."""

    block_number: int
    transaction_id: str | None = None

    def __post_init__(self) -> None:
        if self.block_number < 0:
            raise ValueError("block_number must not be negative")


class InMemoryCheckpointer:
    """Tracks the position after the last processed event (not persisted)."""

    def __init__(self) -> None:
        self._checkpoint: Checkpoint | None = None

    @property
    def checkpoint(self) -> Checkpoint | None:
        return self._checkpoint

    def checkpoint_block(self, block_number: int) -> None:
        self._checkpoint = Checkpoint(block_number + 1)

    def checkpoint_transaction(self, block_number: int, transaction_id: str) -> None:
        self._checkpoint = Checkpoint(block_number, transaction_id)

    def checkpoint_chaincode_event(self, event: ChaincodeEvent) -> None:
        self.checkpoint_transaction(event.block_number, event.transaction_id)


def start_position(start_block: int | None, checkpoint: Checkpoint | None) -> tuple[Any, str]:
    """(``orderer.SeekPosition``, ``after_transaction_id``) for a request.

    A checkpoint wins over ``start_block`` as in the official clients, so a caller can
    pass both: where to begin the first time, and where it got to afterwards.
    Raises ValueError for a negative ``start_block``.
    """
    if checkpoint is not None:
        position = ab_pb2.SeekPosition(
            specified=ab_pb2.SeekSpecified(number=checkpoint.block_number)
        )
        return position, checkpoint.transaction_id or ""
    if start_block is not None:
        if start_block < 0:
            raise ValueError("start_block must not be negative")
        return ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start_block)), ""
    return ab_pb2.SeekPosition(next_commit=ab_pb2.SeekNextCommit()), ""


class ChaincodeEventsRequest(SignedRequest):
    """A ``gateway.SignedChaincodeEventsRequest``, signed by the client."""

    def __init__(
        self,
        *,
        channel_id: str,
        chaincode: str,
        creator: bytes,
        start_block: int | None = None,
        checkpoint: Checkpoint | None = None,
        hash: Hash = sha256,
    ) -> None:
        position, after_tx = start_position(start_block, checkpoint)
        request = gateway_pb2.ChaincodeEventsRequest(
            channel_id=channel_id,
            chaincode_id=chaincode,
            identity=creator,
            start_position=position,
            after_transaction_id=after_tx,
        )
        self._hash = hash
        self._signed = gateway_pb2.SignedChaincodeEventsRequest(request=request.SerializeToString())


def events_of(response: Any) -> list[ChaincodeEvent]:
    """The events of one ``gateway.ChaincodeEventsResponse``, in block order."""
    return [
        ChaincodeEvent(
            block_number=response.block_number,
            transaction_id=event.tx_id,
            chaincode_name=event.chaincode_id,
            event_name=event.event_name,
            payload=bytes(event.payload),
        )
        for event in response.events
    ]
