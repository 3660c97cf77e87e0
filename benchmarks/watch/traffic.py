"""Simulated member reads at one owner: normal consortium traffic and injected anomalies.

Normal traffic, per reading member: kiosk reads while its stores are open (07:00-22:00 UTC),
following a daily curve (quiet mornings, a lunch and an evening peak), each about a customer
drawn mostly from its regular shoppers (a kiosk serves returning customers); a trickle of
online reads at night; one training run a day inside its schedule (01:00-05:00 UTC).

Anomalies (:class:`Episode`), each for ``duration_s``:

- ``scrape``: extra kiosk reads at ``intensity`` reads per hour, each about a customer the
  reader never read (walking through ids);
- ``bulk_training``: ``intensity`` training pages per hour outside the schedule;
- ``off_hours``: kiosk reads at ``intensity`` per hour while the stores are closed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gateway.watch.features import Read

DAY = 86_400.0
#: 2026-01-05 00:00 UTC, a Monday: simulated time starts there.
EPOCH = 1_767_571_200.0
ANOMALIES = ("scrape", "bulk_training", "off_hours")


@dataclass(frozen=True)
class Episode:
    reader: str
    kind: str
    intensity: float
    start: float
    duration_s: float

    @property
    def end(self) -> float:
        return self.start + self.duration_s


@dataclass(frozen=True)
class ReaderProfile:
    name: str
    #: Kiosk reads per hour at the busiest hour.
    peak_per_hour: float
    regulars: int
    population: int
    training_pages: int


def _hourly_curve(hour: float) -> float:
    """Share of the peak rate at an hour of the day (0 while the stores are closed)."""
    if not 7 <= hour < 22:
        return 0.0
    lunch = math.exp(-((hour - 12.5) ** 2) / 4.0)
    evening = math.exp(-((hour - 18.0) ** 2) / 3.0)
    return 0.25 + 0.75 * max(lunch, evening)


def normal_reads(profile: ReaderProfile, start: float, days: int,
                 rng: np.random.Generator) -> list[Read]:
    """``days`` of one reader's normal traffic from ``start`` (a midnight)."""
    reads: list[Read] = []
    regulars = rng.choice(profile.population, size=profile.regulars, replace=False)
    for minute in range(days * 24 * 60):
        at0 = start + minute * 60.0
        hour = (minute % (24 * 60)) / 60.0
        # Busier and quieter days: the day's level varies by up to a third.
        level = 1.0 + 0.33 * math.sin(minute / (24 * 60) * 2.1)
        rate = profile.peak_per_hour * _hourly_curve(hour) * level + 0.5
        for _ in range(rng.poisson(rate / 60.0)):
            who = (rng.choice(regulars) if rng.random() < 0.75
                   else rng.integers(profile.population))
            reads.append(Read(at0 + rng.random() * 60.0, profile.name, "kiosk",
                              int(who).to_bytes(8, "big")))
    for day in range(days):
        at = start + day * DAY + 3600.0 * rng.uniform(1.5, 3.5)
        for page in range(profile.training_pages):
            reads.append(Read(at + page * 2.0, profile.name, "training"))
    return reads


def anomalous_reads(episode: Episode, rng: np.random.Generator, *,
                    population: int) -> list[Read]:
    count = rng.poisson(episode.intensity * episode.duration_s / 3600.0)
    times = np.sort(episode.start + rng.random(count) * episode.duration_s)
    if episode.kind == "bulk_training":
        return [Read(float(t), episode.reader, "training") for t in times]
    if episode.kind == "scrape":
        # Ids past every shopper the reader has: customers it never read.
        base = population + int(rng.integers(1_000_000))
        return [Read(float(t), episode.reader, "kiosk", (base + i).to_bytes(8, "big"))
                for i, t in enumerate(times)]
    if episode.kind == "off_hours":
        return [Read(float(t), episode.reader, "kiosk",
                     int(rng.integers(population)).to_bytes(8, "big")) for t in times]
    raise ValueError(f"unknown anomaly kind {episode.kind!r}")


def episode_start(kind: str, day_start: float, rng: np.random.Generator) -> float:
    """When an anomaly of ``kind`` starts on a day: scraping and bulk training in opening
    hours (hiding in the day's traffic), off-hours reads at night."""
    if kind == "off_hours":
        return day_start + 3600.0 * rng.uniform(22.5, 23.5)
    return day_start + 3600.0 * rng.uniform(9.0, 20.0)
