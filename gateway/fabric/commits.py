"""One long-lived ``DeliverFiltered`` stream per gateway that tells submitters their fate.

A submitter registers its transaction id *before* broadcasting (so a commit faster than
the submitter's next line is not missed), broadcasts, then waits. The listener thread
reads filtered blocks from the own peer and wakes every waiter whose transaction is in
the block with ``(validation code, block number)``. When the stream breaks it reconnects
from the block after the last one it saw, so no block is skipped; waiters keep waiting
through a reconnect (up to their own timeout).

The first connection starts at the peer's newest block; the listener counts as ready once
that block arrived, and submitters wait for readiness before they broadcast, so every
later block is seen.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from gateway.fabric.deliver import DeliverStatus, filtered_blocks, open_filtered
from gateway.fabric.errors import CommitStatusError, ErrorDetail, rpc_code, rpc_message
from gateway.fabric.nodes import Node
from gateway.fabric.transaction import Status

log = logging.getLogger(__name__)

#: Waiters nobody collected (``submit_async`` without ``status()``) for a transaction
#: that never reached a block are dropped after this long, so they cannot pile up.
ABANDONED_AFTER_S = 3600.0


@dataclass
class Waiter:
    """One submitter's slot: set once its transaction is in a block."""

    transaction_id: str
    registered_at: float = field(default_factory=time.monotonic)
    status: Status | None = None
    done: threading.Event = field(default_factory=threading.Event)


class CommitListener:
    """The deliver stream of one gateway on its own peer, read by a daemon thread.

    ``envelope_for(start_block)`` signs the seek request (None: from the newest block);
    it is called on every (re)connect, so each request carries a fresh timestamp.
    """

    def __init__(
        self,
        node: Node,
        envelope_for: Callable[[int | None], Any],
        *,
        backoff_s: tuple[float, float] = (0.2, 5.0),
    ) -> None:
        self._node = node
        self._envelope_for = envelope_for
        self._backoff = backoff_s
        self._lock = threading.Lock()
        self._waiters: dict[str, Waiter] = {}
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._call: Any = None
        self._last_block: int | None = None
        self._last_error = ""
        self._connections = 0
        self._thread = threading.Thread(
            target=self._run, name=f"commit-listener-{node.address}", daemon=True
        )

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop the stream; waiters still waiting get a CommitStatusError (CANCELLED)."""
        self._stopped.set()
        with self._lock:
            call = self._call
        if call is not None:
            call.cancel()
        self._thread.join(timeout=5)

    @property
    def last_block(self) -> int | None:
        """The number of the last block seen (None before the first)."""
        return self._last_block

    @property
    def connections(self) -> int:
        """How many times the stream was opened (1 + reconnects)."""
        return self._connections

    def interrupt(self) -> None:
        """Break the current stream as a network failure would (it then reconnects)."""
        with self._lock:
            call = self._call
        if call is not None:
            call.cancel()

    def wait_ready(self, timeout: float | None, transaction_id: str) -> None:
        """Block until the stream delivered its first block.

        Raises CommitStatusError (UNAVAILABLE) when it does not within ``timeout``.
        """
        if not self._ready.wait(timeout):
            raise self._error(
                transaction_id, grpc.StatusCode.UNAVAILABLE,
                "the commit listener is not connected to the peer's deliver service")

    # -- waiting --------------------------------------------------------------------------

    def register(self, transaction_id: str) -> Waiter:
        waiter = Waiter(transaction_id)
        with self._lock:
            self._waiters[transaction_id] = waiter
        return waiter

    def forget(self, waiter: Waiter) -> None:
        with self._lock:
            if self._waiters.get(waiter.transaction_id) is waiter:
                del self._waiters[waiter.transaction_id]

    def wait(self, waiter: Waiter, timeout: float | None) -> Status:
        """The transaction's status once its block arrived.

        Raises CommitStatusError: DEADLINE_EXCEEDED after ``timeout`` (the waiter stays
        registered, so a later wait can still succeed), CANCELLED after :meth:`close`.
        """
        if waiter.status is None:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not waiter.done.wait(0.25):
                if self._stopped.is_set():
                    raise self._error(waiter.transaction_id, grpc.StatusCode.CANCELLED,
                                      "the gateway was closed")
                if deadline is not None and time.monotonic() >= deadline:
                    raise self._error(waiter.transaction_id, grpc.StatusCode.DEADLINE_EXCEEDED,
                                      f"no block held the transaction within {timeout} s")
        assert waiter.status is not None
        return waiter.status

    def _error(self, transaction_id: str, code: grpc.StatusCode, text: str) -> CommitStatusError:
        # The stream's last failure says why no block came (peer down, ACL, ...).
        details = ([ErrorDetail(self._node.address, self._node.msp_id, self._last_error)]
                   if self._last_error else [])
        return CommitStatusError(text, code=code, transaction_id=transaction_id,
                                 details=details)

    # -- the stream -----------------------------------------------------------------------

    def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stopped.is_set():
            start = None if self._last_block is None else self._last_block + 1
            try:
                call = open_filtered(self._node, self._envelope_for(start))
                with self._lock:
                    self._call = call
                self._connections += 1
                for block in filtered_blocks(call):
                    self._on_block(block)
                    delay = self._backoff[0]
                self._last_error = "the peer closed the deliver stream"
            except DeliverStatus as exc:
                self._last_error = str(exc)
            except grpc.RpcError as exc:
                if self._stopped.is_set():
                    break
                self._last_error = f"{rpc_code(exc).name}: {rpc_message(exc)}"
            log.warning("commit listener on %s: %s; reconnecting from block %s",
                        self._node.address, self._last_error,
                        "newest" if self._last_block is None else self._last_block + 1)
            self._stopped.wait(delay)
            delay = min(delay * 2, self._backoff[1])

    def _on_block(self, block: Any) -> None:
        number = int(block.number)
        now = time.monotonic()
        with self._lock:
            self._last_block = number
            woken = []
            for tx in block.filtered_transactions:
                waiter = self._waiters.pop(tx.txid, None)
                if waiter is not None:
                    waiter.status = Status(tx.txid, int(tx.tx_validation_code), number)
                    woken.append(waiter)
            stale = [t for t, w in self._waiters.items()
                     if now - w.registered_at > ABANDONED_AFTER_S]
            for transaction_id in stale:
                del self._waiters[transaction_id]
        for waiter in woken:
            waiter.done.set()
        self._ready.set()
