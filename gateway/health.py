"""The health probe, kept apart from the routes' thread pool.

``/healthz`` asks whether the own peer's channel is ready, a blocking call of up to a
second. Run in the shared thread pool it would wait behind every ledger call in flight (60
concurrent reads from one credential stalled it for 2.3 s); here it runs on a thread of its
own, one probe at a time, and a probe's answer serves every health request for
``fresh_s`` seconds, so a flood of health requests costs one probe per interval.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


class HealthProbe:
    """``await probe.reachable()``: the last answer of ``check`` at most ``fresh_s`` old."""

    def __init__(self, check: Callable[[], bool], fresh_s: float = 0.5) -> None:
        self._check, self._fresh_s = check, fresh_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="health")
        self._lock = threading.Lock()
        self._answer: tuple[float, bool] | None = None
        self._running: asyncio.Future[bool] | None = None

    def _probe(self) -> bool:
        reachable = self._check()
        with self._lock:
            self._answer = (time.monotonic(), reachable)
        return reachable

    async def reachable(self) -> bool:
        with self._lock:
            answer = self._answer
        if answer is not None and time.monotonic() - answer[0] < self._fresh_s:
            return answer[1]
        if self._running is None or self._running.done():
            # Requests arriving while a probe runs share it (all on the event loop's thread).
            self._running = asyncio.wrap_future(self._executor.submit(self._probe))
        return await asyncio.shield(self._running)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
