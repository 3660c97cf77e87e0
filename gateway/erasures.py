"""This retailer's part of every erasure: delete what it holds of her, with no one's action.

An erasure is accepted on the ledger by whichever gateway she used (``EraseCustomer``); every
member then deletes her data from its own collection (``PurgeCustomer``). This thread asks
the own peer which erasures it has not completed, at start and every ``interval_s``, so a
member whose peer or gateway was down when she erased completes when it is back.
"""

from __future__ import annotations

import logging
import threading

from gateway.fabric.errors import GatewayError
from gateway.ledger import ConsortiumLedger
from gateway.ledger_records import MalformedLedgerAnswer
from gateway.write_budget import WriteBudgetExceeded

log = logging.getLogger(__name__)


class ErasureWorker:
    def __init__(self, ledger: ConsortiumLedger, *, interval_s: float = 5.0) -> None:
        self._ledger = ledger
        self._interval = interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="erasures", daemon=True)
        self._thread.start()

    def complete_pending(self) -> int:
        """Purge every erasure not completed here; how many. Raises GatewayError."""
        pending = self._ledger.pending_erasures()
        for customer_id in pending:
            self._ledger.purge_customer(customer_id)
        return len(pending)

    def wake(self) -> None:
        """Look now (called after this gateway accepted an erasure)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.complete_pending()
                if done:
                    log.info("erasures completed in the own collection", extra={"count": done})
            except (GatewayError, WriteBudgetExceeded, MalformedLedgerAnswer) as exc:
                log.warning("pending erasures not completed yet; trying again",
                            extra={"cause": type(exc).__name__})
            self._wake.wait(self._interval)
            self._wake.clear()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
