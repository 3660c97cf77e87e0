"""Chaincode events and checkpoints to resume them from.

Events come from the peer's filtered blocks (:mod:`gateway.fabric.deliver`), one
stream per listener. Where a stream starts:

- nothing given: blocks committed after the stream starts (the peer's newest block at
  that moment is skipped, so only new events arrive);
- ``start_block=n``: block ``n``;
- a :class:`Checkpoint` ``(n, tx)``: block ``n``, skipping every event up to and
  including transaction ``tx``, so a listener that recorded its last processed event
  resumes without repeats or gaps; ``(n, None)``: block ``n`` from its first event.

:class:`InMemoryCheckpointer` follows the Node client's checkpointer: after an
event it records ``(event.block_number, event.transaction_id)``; after a whole
block ``b`` it records ``(b + 1, None)``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChaincodeEvent:
    """One event a chaincode set with ``SetEvent``, from a committed valid transaction.

    ``payload`` is empty when it came from a filtered block (which leaves payloads out).
    """

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


def start_of(start_block: int | None, checkpoint: Checkpoint | None) -> tuple[int | None, str]:
    """(first block or None for "after the newest", transaction to skip through).

    A checkpoint wins over ``start_block`` as in the official clients, so a caller can
    pass both: where to begin the first time, and where it got to afterwards.
    Raises ValueError for a negative ``start_block``.
    """
    if checkpoint is not None:
        return checkpoint.block_number, checkpoint.transaction_id or ""
    if start_block is not None and start_block < 0:
        raise ValueError("start_block must not be negative")
    return start_block, ""


class EventFilter:
    """Drops what a resumed stream has already seen: every event of the start block up to
    and including ``after_transaction_id``, and (when starting after the newest block)
    the whole first block."""

    def __init__(self, after_transaction_id: str = "", *, skip_first_block: bool = False):
        self._after = after_transaction_id
        self._skip_first_block = skip_first_block
        self._first_block: int | None = None

    def admit(self, events: list[ChaincodeEvent], block_number: int) -> list[ChaincodeEvent]:
        if self._first_block is None:
            self._first_block = block_number
            if self._skip_first_block:
                return []
        if self._after and block_number == self._first_block:
            ids = [e.transaction_id for e in events]
            if self._after in ids:
                last = len(ids) - 1 - ids[::-1].index(self._after)
                return events[last + 1 :]
        return events
