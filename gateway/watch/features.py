"""Per-reader features over a time window, from the member reads this owner served.

The owner sees every read another member asks of it (its member routes, whether the read
found anything or not): who read, what kind of read, about which customer, when. Over a
window ending at ``now`` each reading member gets one vector (:data:`FEATURES`)::

    reads_per_hour            kiosk reads (one customer each), scaled to an hour
    customers_per_hour        distinct customers read, scaled to an hour
    first_read_share          share of those customers this reader had never read before
                              the window (a kiosk serves returning shoppers; a scraper
                              walks through ids it has not seen)
    off_hours_share           share of kiosk reads outside the stores' opening hours
    training_pages_per_hour   training pages read, scaled to an hour
    off_schedule_training     share of training pages read outside the reader's schedule
    hour_sin, hour_cos        the window's hour of day on a circle (23:59 is next to 00:00),
                              so a reader's traffic is compared with its own at that hour

Customer ids are kept only as short keyed digests, in memory, to count distinct and new
customers: nothing personal is stored or logged by the watch.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

FEATURES = ("reads_per_hour", "customers_per_hour", "first_read_share", "off_hours_share",
            "training_pages_per_hour", "off_schedule_training", "hour_sin", "hour_cos")
KINDS = ("kiosk", "training", "export")


@dataclass(frozen=True)
class Hours:
    """A daily span of UTC hours, ``[start, end)``; ``end < start`` wraps midnight."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not (0 <= self.start <= 23 and 0 <= self.end <= 24):
            raise ValueError("hours are 0..24")

    def contains(self, at: float) -> bool:
        hour = datetime.fromtimestamp(at, UTC).hour
        if self.start <= self.end:
            return self.start <= hour < self.end
        return hour >= self.start or hour < self.end


@dataclass(frozen=True)
class Read:
    """One member read as the owner served it: ``at`` in seconds since the epoch."""

    at: float
    reader: str
    kind: str
    #: A keyed digest of her id (kiosk and export reads), empty for a training page.
    customer: bytes = b""


def customer_digest(customer_id: str, key: bytes) -> bytes:
    """8 bytes that tell customers apart within this process, and name no one outside it."""
    return hashlib.blake2b(customer_id.encode(), key=key, digest_size=8).digest()


@dataclass
class ReaderLog:
    """The reads of one member inside the longest window still needed, and every customer
    it read before (digests; bounded by ``max_seen``, oldest forgotten first)."""

    reads: deque[Read] = field(default_factory=deque)
    seen: dict[bytes, float] = field(default_factory=dict)
    max_seen: int = 200_000

    def add(self, read: Read) -> None:
        self.reads.append(read)

    def forget_before(self, cutoff: float) -> None:
        while self.reads and self.reads[0].at < cutoff:
            old = self.reads.popleft()
            if old.customer:
                self.seen[old.customer] = old.at
        while len(self.seen) > self.max_seen:
            self.seen.pop(next(iter(self.seen)))


def window_features(log: ReaderLog, start: float, end: float, *, open_hours: Hours,
                    training_hours: Hours) -> list[float] | None:
    """The reader's vector over ``[start, end)`` (:data:`FEATURES` order), or None when it
    read nothing then. ``log`` must hold every read since ``start``."""
    hours = (end - start) / 3600.0
    if hours <= 0:
        raise ValueError("the window must end after it starts")
    kiosk = [r for r in log.reads if start <= r.at < end and r.kind != "training"]
    training = [r for r in log.reads if start <= r.at < end and r.kind == "training"]
    if not kiosk and not training:
        return None
    earlier = {r.customer for r in log.reads if r.at < start and r.customer}
    customers = {r.customer for r in kiosk if r.customer}
    first = [c for c in customers if c not in earlier and c not in log.seen]
    off_hours = sum(1 for r in kiosk if not open_hours.contains(r.at))
    off_schedule = sum(1 for r in training if not training_hours.contains(r.at))
    return [
        len(kiosk) / hours,
        len(customers) / hours,
        len(first) / len(customers) if customers else 0.0,
        off_hours / len(kiosk) if kiosk else 0.0,
        len(training) / hours,
        off_schedule / len(training) if training else 0.0,
        *_hour_on_circle(end),
    ]


def _hour_on_circle(at: float) -> tuple[float, float]:
    angle = 2 * math.pi * ((at % 86_400.0) / 86_400.0)
    return math.sin(angle), math.cos(angle)
