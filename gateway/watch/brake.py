"""The automatic brake: a flagged reader's member reads are rate-limited by this owner until
its admin clears it. Brakes live in the gateway's SQLite file, so a restart keeps them."""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gateway.errors import ApiError


class MemberBraked(ApiError):
    status, code = 429, "MEMBER_BRAKED"


class BrakeBook:
    """Braked readers, each allowed ``per_minute`` reads (a token bucket of one minute's
    reads, refilled continuously)."""

    def __init__(self, database: Path, per_minute: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._db = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS watch_brakes (reader TEXT PRIMARY KEY, "
                         "since REAL NOT NULL, record_id TEXT NOT NULL)")
        self._lock = threading.Lock()
        self._rate = per_minute / 60.0
        self._capacity = max(1.0, per_minute)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def braked(self) -> dict[str, tuple[float, str]]:
        """reader -> (since, seconds since the epoch; the alert's record id)."""
        with self._lock:
            rows = self._db.execute("SELECT reader, since, record_id FROM watch_brakes")
            return {r: (s, k) for r, s, k in rows.fetchall()}

    def brake(self, reader: str, since: float, record_id: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO watch_brakes VALUES (?, ?, ?)",
                             (reader, since, record_id))
            self._buckets.pop(reader, None)

    def release(self, reader: str) -> bool:
        """Lift ``reader``'s brake; False when it had none."""
        with self._lock:
            gone = self._db.execute("DELETE FROM watch_brakes WHERE reader = ?", (reader,))
            self._buckets.pop(reader, None)
            return gone.rowcount > 0

    def admit(self, reader: str) -> None:
        """Let one read through, or raise MemberBraked (with Retry-After)."""
        with self._lock:
            row = self._db.execute("SELECT 1 FROM watch_brakes WHERE reader = ?",
                                   (reader,)).fetchone()
            if row is None:
                return
            now = self._clock()
            tokens, last = self._buckets.get(reader, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - last) * self._rate)
            if tokens < 1.0:
                self._buckets[reader] = (tokens, now)
                retry = max(1, math.ceil((1.0 - tokens) / self._rate))
                raise MemberBraked(
                    "this owner's watch flagged the reading member's reads as unusual; they "
                    "are rate-limited until the owner's operator clears it",
                    details={"retry_after_s": retry}, headers={"Retry-After": str(retry)})
            self._buckets[reader] = (tokens - 1.0, now)

    def close(self) -> None:
        self._db.close()
