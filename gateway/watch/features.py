"""Per-reader features over a time window, from the member reads this owner served.

The owner sees every read another member asks of it (its member routes, whether the read
found anything or not): who read, what kind of read, about which customer, when. Over a
window ending at ``now`` each reading member gets one vector (:data:`FEATURES`)::

    reads_per_hour                  kiosk reads (one customer each), scaled to an hour
    new_customers_per_hour          customers this reader had never read before the window,
                                    an hour (a kiosk serves returning shoppers; a scraper
                                    walks through ids it has not seen); a count, not a
                                    share, so a scrape adds to it however busy the hour is
    off_hours_reads_per_hour        kiosk reads while the stores are closed, an hour
    off_schedule_training_per_hour  training pages outside the reader's schedule, an hour
                                    (its scheduled run is its business, not an anomaly)
    hour_sin, hour_cos              the window's hour of day on a circle (23:59 is next to
                                    00:00): which hour's baseline the window is held to

The detector does not score these rows as they are: :class:`HourlyBaseline` replaces the
reads and new customers by how far above what this reader usually does at that hour they
are (:data:`SCORED`), so scraping at lunch is compared with lunch, not with the whole day.

Customer ids are kept only as short keyed digests, in memory, to count distinct and new
customers: nothing personal is stored or logged by the watch.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from scipy.stats import poisson

FEATURES = ("reads_per_hour", "new_customers_per_hour", "off_hours_reads_per_hour",
            "off_schedule_training_per_hour", "hour_sin", "hour_cos")
#: What the detector scores: the off-hours and off-schedule rates, then the reads and new
#: customers against the reader's own baseline at that hour (:meth:`HourlyBaseline.scored`).
SCORED = ("off_hours_reads_per_hour", "off_schedule_training_per_hour", "reads_surprise",
          "new_customers_surprise")
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
        len(first) / hours,
        off_hours / hours,
        off_schedule / hours,
        *_hour_on_circle(end),
    ]


def step_counts(log: ReaderLog, start: float, end: float, *,
                open_hours: Hours) -> tuple[int, int]:
    """The reader's kiosk reads while the stores are closed, and its new customers (never
    read before ``start``) over ``[start, end)``: the counts the sequential test adds up
    each step (:mod:`gateway.watch.sequential`). ``log`` must hold every read since the
    window's start."""
    customers: set[bytes] = set()
    earlier: set[bytes] = set()
    off_hours = 0
    for r in log.reads:
        if r.at < start:
            if r.customer:
                earlier.add(r.customer)
        elif r.at < end and r.kind != "training":
            off_hours += 0 if open_hours.contains(r.at) else 1
            if r.customer:
                customers.add(r.customer)
    new = sum(1 for c in customers if c not in earlier and c not in log.seen)
    return off_hours, new


def quiet_window(end: float) -> list[float]:
    """The vector of a window in which the reader read nothing (the baseline learns those
    too: a night with no reads is what makes a night of reads unusual)."""
    return [0.0, 0.0, 0.0, 0.0, *_hour_on_circle(end)]


def hour_of(row: list[float]) -> int:
    """The UTC hour of day a row's window ended in, from its hour on the circle."""
    angle = math.atan2(row[FEATURES.index("hour_sin")], row[FEATURES.index("hour_cos")])
    return int((angle / (2 * math.pi)) % 1.0 * 24.0 + 1e-9) % 24


@dataclass
class HourlyBaseline:
    """What one reader usually does at each hour of the day: the mean reads and new
    customers an hour of its normal windows (quiet ones included) ending in that hour,
    over the last ``per_hour`` windows of each hour (about two weeks of 5-minute windows).

    :meth:`scored` turns a :data:`FEATURES` row into a :data:`SCORED` one: the off-hours and
    off-schedule rates, and how surprising the window's counts of reads and of new
    customers are for that hour, ``-log10 P(X >= count)`` with X Poisson of the usual
    count (at least ``floor``). A log ratio of counts this small is mostly noise (a
    5-minute window holds a dozen reads); the tail probability grows with the excess
    itself, so 20 new customers where 3 are usual is far out and 5 is not."""

    window_s: float
    per_hour: int = 170
    floor: float = 0.05
    _sums: list[deque[tuple[float, float]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self._sums:
            self._sums = [deque(maxlen=self.per_hour) for _ in range(24)]

    def add(self, row: list[float]) -> None:
        self._sums[hour_of(row)].append((row[0], row[1]))

    def windows(self, hour: int) -> int:
        return len(self._sums[hour])

    def usual(self, hour: int) -> tuple[float, float]:
        """Mean reads and new customers an hour at ``hour`` (0, 0 before any window)."""
        bucket = self._sums[hour]
        if not bucket:
            return 0.0, 0.0
        return (sum(r for r, _ in bucket) / len(bucket), sum(n for _, n in bucket) / len(bucket))

    def scored(self, row: list[float]) -> list[float]:
        reads, new = self.usual(hour_of(row))
        hours = self.window_s / 3600.0
        return [row[2], row[3], self._surprise(row[0] * hours, reads * hours),
                self._surprise(row[1] * hours, new * hours)]

    def _surprise(self, count: float, usual: float) -> float:
        tail = poisson.logsf(round(count) - 1, max(usual, self.floor))
        return float(-tail / math.log(10.0))


def _hour_on_circle(at: float) -> tuple[float, float]:
    angle = 2 * math.pi * ((at % 86_400.0) / 86_400.0)
    return math.sin(angle), math.cos(angle)
