"""The owner's access log writer: every read this gateway serves to another member is logged
on the ledger, in the owner's own collection (``LogReads``), by the owner.

A kiosk must not wait a block for the log, so entries are first written to a table in the
gateway's SQLite file (committed before the read is answered: a crash does not lose them),
then sent to the ledger in batches by one background thread, at most every
``interval_s``; a batch that fails stays queued and is sent again. An export is logged
synchronously (:meth:`ReadLogWriter.log_now`): its log entry is also what marks her request
served, so a copy is refused.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from chaincode.contract import MAX_LOG_BATCH
from gateway.fabric.errors import GatewayError
from gateway.ledger import ConsortiumLedger
from gateway.write_budget import WriteBudgetExceeded

log = logging.getLogger(__name__)


class ReadLogWriter:
    def __init__(self, ledger: ConsortiumLedger, database: Path, *,
                 interval_s: float = 0.5) -> None:
        self._ledger = ledger
        self._db = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS pending_reads "
                         "(id INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL)")
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._interval = interval_s
        self._thread = threading.Thread(target=self._run, name="read-log", daemon=True)
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
        while True:
            with self._lock:
                rows = self._db.execute("SELECT id, entry FROM pending_reads ORDER BY id "
                                        "LIMIT ?", (MAX_LOG_BATCH,)).fetchall()
            if not rows:
                return
            self._ledger.log_reads([json.loads(entry) for _, entry in rows])
            with self._lock:
                self._db.execute("DELETE FROM pending_reads WHERE id <= ?", (rows[-1][0],))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=5.0)
            self._wake.clear()
            try:
                self.flush()
            except (GatewayError, WriteBudgetExceeded) as exc:
                log.warning("access log not sent yet; kept to send again",
                            extra={"cause": type(exc).__name__})
            self._stop.wait(self._interval)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)
        try:
            self.flush()
        except (GatewayError, WriteBudgetExceeded):
            log.warning("access log entries left queued at stop; sent at the next start")
        self._db.close()
