"""The cost guard: this member's ledger writes per hour, against the budget the consortium
description sets (``cost_guard.ledger_writes_per_hour`` in network/consortium.yaml, passed
in the gateway's settings as ``write_budget_per_hour``).

Every transaction this gateway submits is one write, counted over a sliding hour; past the
budget a write is refused before it is endorsed (HTTP 429 ``WRITE_BUDGET_EXCEEDED`` with
``Retry-After``), until the oldest counted write leaves the hour. Background writers (the
access log, erasures, the watch's records) keep their work queued and send it later. The
guard is the member's own brake on its spend; the ledger does not enforce it on a member
that runs another gateway.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from gateway.errors import ApiError

HOUR = 3600.0


class WriteBudgetExceeded(ApiError):
    status, code = 429, "WRITE_BUDGET_EXCEEDED"


class WriteBudget:
    """``spend()`` before each write; raises :class:`WriteBudgetExceeded` past ``per_hour``."""

    def __init__(self, per_hour: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_hour < 1:
            raise ValueError("the budget is at least one write an hour")
        self.per_hour = per_hour
        self._clock = clock
        self._writes: deque[float] = deque()
        self._lock = threading.Lock()
        self.refused = 0

    def _expire(self, now: float) -> None:
        while self._writes and self._writes[0] <= now - HOUR:
            self._writes.popleft()

    def used(self) -> int:
        """Writes counted in the last hour."""
        with self._lock:
            self._expire(self._clock())
            return len(self._writes)

    def spend(self) -> None:
        with self._lock:
            now = self._clock()
            self._expire(now)
            if len(self._writes) >= self.per_hour:
                self.refused += 1
                retry = max(1, math.ceil(self._writes[0] + HOUR - now))
                raise WriteBudgetExceeded(
                    f"this member's ledger writes are over its budget of {self.per_hour} an "
                    "hour; retry after the window passes",
                    details={"budget_per_hour": self.per_hour, "retry_after_s": retry},
                    headers={"Retry-After": str(retry)})
            self._writes.append(now)
