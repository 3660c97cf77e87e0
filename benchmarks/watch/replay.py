"""Replay simulated traffic through the gateway's watch monitor and score its alerts.

An alert is a detection when it names the reader of an episode and falls within the
episode or one window after its end; otherwise it is a false alarm. The simulated operator
clears a flagged reader one window after the episode ends (a false alarm: at once), as the
owner's admin would after looking.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from benchmarks.watch.traffic import (
    DAY,
    EPOCH,
    Episode,
    ReaderProfile,
    anomalous_reads,
    episode_start,
    normal_reads,
)
from gateway.watch.features import Read
from gateway.watch.monitor import Alert, Monitor, WatchConfig

READERS = (
    ReaderProfile("SouthgateMSP", peak_per_hour=120, regulars=400, population=5000,
                  training_pages=20),
    ReaderProfile("EastmarketMSP", peak_per_hour=60, regulars=200, population=3000,
                  training_pages=10),
    ReaderProfile("WestfieldMSP", peak_per_hour=30, regulars=120, population=2000,
                  training_pages=6),
)


@dataclass
class Outcome:
    kind: str
    intensity: float
    episodes: int = 0
    detected: int = 0
    delays: list[float] = field(default_factory=list)


@dataclass
class Result:
    outcomes: dict[tuple[str, float], Outcome]
    true_alerts: int
    false_alarms: int
    days: int
    #: Steps replayed per second of wall time, and simulated seconds per wall second.
    speedup: float
    episodes: list[Episode] = field(default_factory=list)

    @property
    def precision(self) -> float:
        total = self.true_alerts + self.false_alarms
        return self.true_alerts / total if total else 1.0

    @property
    def false_alarms_per_day(self) -> float:
        return self.false_alarms / self.days


def plan_episodes(test_days: int, intensities: dict[str, tuple[float, ...]],
                  duration_s: float, rng: np.random.Generator) -> list[Episode]:
    """One episode a day for each reader (each reader is judged on its own), cycling through
    every (kind, intensity) pair, so each pair gets ``3 * test_days / pairs`` episodes."""
    pairs = [(k, i) for k, levels in intensities.items() for i in levels]
    episodes = []
    for day in range(test_days):
        for offset, profile in enumerate(READERS):
            kind, intensity = pairs[(day * len(READERS) + offset) % len(pairs)]
            start = episode_start(kind, EPOCH + (day + 1) * DAY + 0.0, rng)
            episodes.append(Episode(profile.name, kind, intensity, start, duration_s))
    return episodes


def replay(config: WatchConfig, *, warmup_days: int, test_days: int,
           intensities: dict[str, tuple[float, ...]], duration_s: float = 1800.0,
           seed: int = 0) -> Result:
    """Warm the monitor up on ``warmup_days`` of normal traffic, then replay ``test_days``
    (the first day after warm-up is day 1 of the episodes) with one episode a day."""
    import time

    rng = np.random.default_rng(seed)
    start = EPOCH - warmup_days * DAY
    reads: list[Read] = []
    for profile in READERS:
        reads += normal_reads(profile, start, warmup_days + test_days + 1, rng)
    # Episodes start on the day after warm-up ends (EPOCH + DAY is test day 1).
    episodes = plan_episodes(test_days, intensities, duration_s, rng)
    population = max(p.population for p in READERS)
    for episode in episodes:
        reads += anomalous_reads(episode, rng, population=population)
    reads.sort(key=lambda r: r.at)

    monitor = Monitor(config)
    outcomes: dict[tuple[str, float], Outcome] = {}
    for episode in episodes:
        outcomes.setdefault((episode.kind, episode.intensity),
                            Outcome(episode.kind, episode.intensity)).episodes += 1
    detected: set[int] = set()
    true_alerts = false_alarms = 0
    clear_at: dict[str, float] = {}
    end = EPOCH + (test_days + 1) * DAY
    now = start + config.step_s
    position = 0
    began = time.perf_counter()
    while now <= end:
        while position < len(reads) and reads[position].at < now:
            monitor.observe(reads[position])
            position += 1
        for reader, when in list(clear_at.items()):
            if when <= now:
                monitor.clear(reader)
                del clear_at[reader]
        alerts, _ = monitor.step(now)
        for alert in alerts:
            hit = _match(alert, episodes, config.window_s)
            if hit is None:
                if alert.window_end >= EPOCH + DAY:
                    false_alarms += 1
                clear_at[alert.reader] = now
                continue
            true_alerts += 1
            episode = episodes[hit]
            clear_at[alert.reader] = episode.end + config.window_s
            if hit not in detected:
                detected.add(hit)
                outcome = outcomes[(episode.kind, episode.intensity)]
                outcome.detected += 1
                outcome.delays.append(alert.window_end - episode.start)
        now += config.step_s
    wall = time.perf_counter() - began
    return Result(outcomes, true_alerts, false_alarms, test_days,
                  speedup=(end - start) / max(wall, 1e-9), episodes=episodes)


def _match(alert: Alert, episodes: list[Episode], window_s: float) -> int | None:
    for index, episode in enumerate(episodes):
        if alert.reader == episode.reader and \
                episode.start < alert.window_end <= episode.end + window_s:
            return index
    return None
