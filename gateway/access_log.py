"""One access-log entry per kiosk session: which store reads of a customer are logged.

Every ``GET /v1/customers/{id}/preferences`` used to submit a ``LogAccess`` transaction, so
one store credential could grow the ledger by a transaction per request. The chaincode asks
for one entry per reader, customer and purpose per session (chaincode/contract.py). The
gateway logs a read when it opens a session: the first read of a (customer, purpose) in
``session_s`` seconds, or a read whose answer differs from the one the session logged (her
consent changed, new events arrived), so every distinct answer a store saw is in her log and
a repeated identical read is not logged again.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any


def fingerprint(answer: Any) -> str:
    """A digest of a read's answer (SHA-256 of its canonical JSON)."""
    text = json.dumps(answer, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class AccessLogSessions:
    """Thread-safe record of the reads logged in the last ``session_s`` seconds.

    >>> sessions = AccessLogSessions(300)
    >>> [sessions.claim("c_1", "personalisation", a) for a in ("x", "x", "y")]
    [True, False, True]
    """

    #: Entries kept at most; past it the oldest go (a flood of customer ids cannot grow it).
    MAX_ENTRIES = 100_000

    def __init__(self, session_s: float) -> None:
        self._session_s = session_s
        self._logged: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def claim(self, customer_id: str, purpose: str, answer_digest: str) -> bool:
        """True when this read opens a session and must be logged (the caller logs it, and
        calls :meth:`release` when logging fails)."""
        if self._session_s <= 0:
            return True
        now, key = time.monotonic(), (customer_id, purpose)
        with self._lock:
            logged = self._logged.get(key)
            if logged is not None and now - logged[0] < self._session_s \
                    and logged[1] == answer_digest:
                return False
            self._logged.pop(key, None)  # re-inserted last: the dict stays oldest-first
            self._logged[key] = (now, answer_digest)
            while len(self._logged) > self.MAX_ENTRIES:
                del self._logged[next(iter(self._logged))]
        return True

    def release(self, customer_id: str, purpose: str) -> None:
        """Forget a claim whose log entry was not written."""
        with self._lock:
            self._logged.pop((customer_id, purpose), None)
