"""The owner's access log writer: every read this gateway serves to another member is logged
on the ledger, in the owner's own collection (``LogReads``), by the owner.

A kiosk must not wait a block for the log, so entries are first written to a table in the
gateway's SQLite file (committed before the read is answered: a crash does not lose them),
then sent to the ledger in batches by one background thread, one batch (at most
``MAX_LOG_BATCH`` entries) every ``interval_s`` at most; a batch that fails stays queued and
is sent again. So however many reads a member asks for, the owner's log grows the ledger by
at most one transaction per interval (issue 21: a store must not grow the ledger by a
transaction per request); the per-member rate (gateway/limits.py) keeps the queue from
outgrowing a batch per interval. An export is logged
synchronously (:meth:`ReadLogWriter.log_now`): its log entry is also what marks her request
served, so a copy is refused.

The queue is not shared state between replicas (each entry only has to reach the ledger
once, from whichever replica queued it), but the worker processes of one replica share its
file: each batch is claimed by one writer before it is sent (``claimed_by``), so two
workers never send the same entries; a claim whose writer died is taken over after
``CLAIM_S``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from chaincode.transactions.table import MAX_LOG_BATCH
from gateway.fabric.errors import GatewayError
from gateway.ledger import ConsortiumLedger
from gateway.ledger_records import MalformedLedgerAnswer
from gateway.secret_files import make_private
from gateway.write_budget import WriteBudgetExceeded

log = logging.getLogger(__name__)

#: Seconds after which a batch claimed by a writer that never sent nor released it (its
#: process died) is sent by another: longer than a ledger call's timeouts put together.
CLAIM_S = 300.0


class ReadLogWriter:
    def __init__(self, ledger: ConsortiumLedger, database: Path, *,
                 interval_s: float = 0.5) -> None:
        self._ledger = ledger
        # Pending entries name customers: the file (and the WAL files SQLite creates with its
        # mode) is 0600 before the first write, whichever store opens the database first.
        database.parent.mkdir(parents=True, exist_ok=True)
        make_private(database)
        self._db = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS pending_reads "
                         "(id INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL)")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(pending_reads)")}
        if "claimed_by" not in columns:
            self._db.execute("ALTER TABLE pending_reads ADD COLUMN claimed_by TEXT")
            self._db.execute("ALTER TABLE pending_reads ADD COLUMN claimed_at REAL")
        self._claimant = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._interval = interval_s
        self._thread = threading.Thread(target=self._run, name="read-log", daemon=True)
        if self.pending():
            self._wake.set()  # a backlog a previous process left goes now, not after 5 s
        self._thread.start()

    def log(self, entries: list[dict[str, Any]]) -> None:
        """Queue entries durably; they reach the ledger within about ``interval_s``."""
        if not entries:
            return
        with self._lock:
            self._db.executemany("INSERT INTO pending_reads (entry) VALUES (?)",
                                 [(json.dumps(e, separators=(",", ":")),) for e in entries])
        self._wake.set()

    def log_now(self, entries: list[dict[str, Any]], served_nonces: dict[str, str]) -> None:
        """Log on the ledger before returning (exports). Raises GatewayError."""
        self._ledger.log_reads(entries, served_nonces)

    def pending(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM pending_reads").fetchone()[0])

    def flush(self) -> None:
        """Send what is queued now (one batch after another). Raises GatewayError."""
        while self._send_batch():
            pass

    def _send_batch(self) -> bool:
        """Claim and send the oldest unclaimed batch; False when none was queued. Raises
        GatewayError (the batch is released, to be sent again)."""
        now = time.time()
        with self._lock:
            rows = sorted(self._db.execute(
                "UPDATE pending_reads SET claimed_by = ?, claimed_at = ? WHERE id IN ("
                " SELECT id FROM pending_reads WHERE claimed_by IS NULL OR claimed_at < ?"
                " ORDER BY id LIMIT ?) RETURNING id, entry",
                (self._claimant, now, now - CLAIM_S, MAX_LOG_BATCH)).fetchall())
        if not rows:
            return False
        ids = [row_id for row_id, _ in rows]
        marks = ",".join("?" * len(ids))
        try:
            self._ledger.log_reads([json.loads(entry) for _, entry in rows])
        except BaseException:
            with self._lock:
                self._db.execute(f"UPDATE pending_reads SET claimed_by = NULL WHERE id IN "
                                 f"({marks}) AND claimed_by = ?", (*ids, self._claimant))
            raise
        with self._lock:
            self._db.execute(f"DELETE FROM pending_reads WHERE id IN ({marks})", ids)
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=5.0)
            self._wake.clear()
            try:
                self._send_batch()
            except (GatewayError, WriteBudgetExceeded, MalformedLedgerAnswer) as exc:
                log.warning("access log not sent yet; kept to send again",
                            extra={"cause": type(exc).__name__})
            if self.pending():
                self._wake.set()  # the rest goes after the interval, a batch at a time
            self._stop.wait(self._interval)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        try:
            self.flush()
        except (GatewayError, WriteBudgetExceeded, MalformedLedgerAnswer):
            log.warning("access log entries left queued at stop; sent at the next start")
        self._db.close()
