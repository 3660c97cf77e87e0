"""The watch's decisions, with time as an argument: reads in, alerts out.

Every ``step_s`` the monitor computes each active reader's window (the last ``window_s``),
scores it with a detector fitted on that reader's own history of normal windows (readers
differ in size: a small member scraping at a large member's normal rate must stand out),
each window held to the reader's own baseline at that hour of day (a lunch peak is normal
at lunch, not at ten in the morning; :class:`~gateway.watch.features.HourlyBaseline`), and
alerts on a reader whose windows were anomalous ``consecutive`` steps in a row. A
flagged reader is not alerted again until it is cleared; its windows, and every anomalous
one, stay out of the history so a scraper cannot teach the detector that scraping is
normal. Until the history holds ``min_history`` windows of a reader, and for ``learn_s``
after the first read, the monitor only learns about it (``warming_up``).

Beside the window, every step adds the step's new customers and its kiosk reads while the
stores are closed to a one-sided
Poisson CUSUM per reader (:mod:`gateway.watch.sequential`) held to the same hourly
baseline: it alerts as soon as it crosses ``cusum_threshold``, without waiting for the
window to fill or for ``consecutive`` steps (it has already added up the steps' evidence).
An alert fires when either test crosses; its drivers name each CUSUM that crossed
(``off_hours_reads_cusum``, ``new_customers_cusum``, in nats) beside the window's features.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from gateway.watch.detector import Detector, Estimator, Score
from gateway.watch.features import (
    FEATURES,
    SCORED,
    HourlyBaseline,
    Hours,
    Read,
    ReaderLog,
    quiet_window,
    step_counts,
    window_features,
)
from gateway.watch.sequential import COUNTS, CusumBank


@dataclass(frozen=True)
class WatchConfig:
    """How the watch looks; docs/gateway.md, "Consortium watch", gives each default's why."""

    window_s: float = 300.0
    step_s: float = 15.0
    #: How long the monitor only learns, from the first read it sees: a day, so the
    #: history holds every hour's traffic before anything is judged against it.
    learn_s: float = 86_400.0
    #: Windows in a reader's history before its first fit, and at most (oldest dropped
    #: first). A reader adds one window per ``window_s`` (windows that do not overlap), so
    #: 4,000 hold about two weeks of a busy reader's days.
    min_history: int = 100
    max_history: int = 4_000
    #: How often a reader's window joins its history (None: once per ``window_s``, windows
    #: that do not overlap).
    learn_every_s: float | None = None
    #: Refit a reader's detector after this many new windows of its history.
    refit_every: int = 100
    consecutive: int = 2
    estimator: Estimator = "mahalanobis"
    margin: float = 0.5
    #: The sequential test (gateway/watch/sequential.py): on or off, the log likelihood
    #: ratio (nats) that alerts, and the rises its charts are designed for, per count: at
    #: least ``cusum_ratio`` times the usual count at that hour and each of
    #: ``cusum_shifts_per_hour`` more.
    sequential: bool = True
    cusum_threshold: float = 10.0
    cusum_ratio: float = 3.0
    cusum_shifts_per_hour: tuple[float, ...] = (30.0, 120.0, 480.0)
    open_hours: Hours = field(default_factory=lambda: Hours(7, 22))
    training_hours: Hours = field(default_factory=lambda: Hours(1, 5))

    def __post_init__(self) -> None:
        if self.window_s <= 0 or self.step_s <= 0 or self.step_s > self.window_s:
            raise ValueError("0 < step_s <= window_s")
        if self.min_history < 5 or self.consecutive < 1 or self.learn_s < 0:
            raise ValueError("min_history >= 5, consecutive >= 1, learn_s >= 0")
        if self.cusum_threshold <= 0 or self.cusum_ratio <= 1 or not self.cusum_shifts_per_hour \
                or min(self.cusum_shifts_per_hour) <= 0:
            raise ValueError("cusum_threshold > 0, cusum_ratio > 1, cusum_shifts_per_hour > 0")


@dataclass(frozen=True)
class Alert:
    """A reader whose reads over ``[window_start, window_end)`` (seconds since the epoch)
    the watch found anomalous; ``drivers``: the features that moved the window's score, in
    interquartile ranges above the history's median, and each CUSUM that crossed
    (``<count>_cusum``, nats); ``features``: the window's values and the CUSUMs'.
    ``test``: which test raised it, ``window`` or ``sequential`` (then ``score`` and
    ``threshold`` are the CUSUM's)."""

    reader: str
    window_start: float
    window_end: float
    score: float
    threshold: float
    drivers: dict[str, float]
    features: dict[str, float]
    test: str = "window"


@dataclass
class Monitor:
    config: WatchConfig = field(default_factory=WatchConfig)
    history: dict[str, deque[list[float]]] = field(default_factory=dict)
    logs: dict[str, ReaderLog] = field(default_factory=dict)
    #: The latest score of each reader that read in the latest window.
    scores: dict[str, Score] = field(default_factory=dict)
    flagged: set[str] = field(default_factory=set)
    _streak: dict[str, int] = field(default_factory=dict)
    _detectors: dict[str, Detector] = field(default_factory=dict)
    _baselines: dict[str, HourlyBaseline] = field(default_factory=dict)
    _since_fit: dict[str, int] = field(default_factory=dict)
    _learned_at: dict[str, float] = field(default_factory=dict)
    #: Each reader's CUSUM per count (:data:`~gateway.watch.sequential.COUNTS`).
    cusums: dict[str, dict[str, CusumBank]] = field(default_factory=dict)
    _last_step: float | None = None
    #: When the monitor saw its first read (the learning period starts then).
    _first_at: float | None = None

    @property
    def _learn_every(self) -> float:
        every = self.config.learn_every_s
        return self.config.window_s if every is None else every

    def warming_up(self, reader: str) -> bool:
        return reader not in self._detectors

    def observe(self, read: Read) -> None:
        if self._first_at is None:
            self._first_at = read.at
        self.logs.setdefault(read.reader, ReaderLog()).add(read)

    def clear(self, reader: str) -> None:
        """The owner's operator cleared ``reader``: it may be alerted again."""
        self.flagged.discard(reader)
        self._streak.pop(reader, None)
        self.cusums.pop(reader, None)

    def learn(self, reader: str, rows: list[list[float]], since: float | None = None) -> None:
        """Add a reader's known-normal windows (a restart's saved history, learnt from
        ``since``)."""
        for row in rows:
            if len(row) == len(FEATURES):  # a history saved by an older watch is dropped
                self._remember(reader, row)
        if since is not None:
            self._first_at = since if self._first_at is None else min(self._first_at, since)

    def step(self, now: float) -> tuple[list[Alert], list[tuple[str, list[float]]]]:
        """Score every reader's window ending at ``now``; returns the alerts raised and the
        windows added to the history (to persist)."""
        start = now - self.config.window_s
        # The counts of the reads since the last step (one step, at most a window).
        since = now - self.config.step_s if self._last_step is None else \
            max(self._last_step, start)
        self._last_step = now
        alerts: list[Alert] = []
        learned: list[tuple[str, list[float]]] = []
        self.scores = {}
        for reader, log in self.logs.items():
            log.forget_before(start)
            crossed = self._sequential(reader, log, since, now)
            row = window_features(log, start, now, open_hours=self.config.open_hours,
                                  training_hours=self.config.training_hours)
            if crossed:
                alerts.append(self._sequential_alert(reader, start, now, row, crossed))
                continue
            if row is None or not any(row[:4]):
                # Nothing to judge: no read, or only training pages inside the schedule.
                self._streak.pop(reader, None)
                if reader not in self.flagged and self._learn_due(reader, now):
                    quiet = quiet_window(now)
                    self._remember(reader, quiet)
                    learned.append((reader, quiet))
                continue
            detector = self._detectors.get(reader)
            scored = self._baseline(reader).scored(row)
            score = None if detector is None else detector.score(scored)
            if score is not None:
                self.scores[reader] = score
            if score is not None and score.anomalous:
                self._streak[reader] = self._streak.get(reader, 0) + 1
                if self._streak[reader] >= self.config.consecutive \
                        and reader not in self.flagged:
                    self.flagged.add(reader)
                    self.cusums.pop(reader, None)
                    alerts.append(Alert(reader, start, now, round(score.value, 3),
                                        round(score.threshold, 3), score.drivers(),
                                        {n: round(v, 3) for n, v in
                                         zip(SCORED, scored, strict=True)}))
                continue
            self._streak.pop(reader, None)
            if reader not in self.flagged and self._learn_due(reader, now):
                self._remember(reader, row)
                learned.append((reader, row))
            self._refit_if_due(reader, now)
        for reader in [r for r, log in self.logs.items() if not log.reads and not log.seen]:
            del self.logs[reader]
            self.cusums.pop(reader, None)
        return alerts, learned

    def _sequential(self, reader: str, log: ReaderLog, since: float,
                    now: float) -> dict[str, float]:
        """Add the reads since the last step to the reader's CUSUMs; those that crossed.
        Only a reader that is judged (fitted, not flagged) is tested."""
        if not self.config.sequential or reader in self.flagged \
                or reader not in self._detectors or now <= since:
            return {}
        counts = dict(zip(COUNTS, step_counts(log, since, now,
                                              open_hours=self.config.open_hours), strict=True))
        # The baseline of the hour the step mostly lies in: a step just after 22:00 holds
        # reads of the open stores, held to the evening's baseline, not the night's.
        hour = datetime.fromtimestamp((since + now) / 2.0, UTC).hour
        scale = (now - since) / 3600.0
        usual = dict(zip(COUNTS, self._baseline(reader).usual(hour), strict=True))
        step_h = self.config.step_s / 3600.0
        cusums = self.cusums.setdefault(reader, {
            name: CusumBank(self.config.cusum_threshold, ratio=self.config.cusum_ratio,
                            shifts=tuple(s * step_h for s in self.config.cusum_shifts_per_hour))
            for name in COUNTS})
        crossed = {}
        span = (now - since) / self.config.step_s
        for name, cusum in cusums.items():
            cusum.update(counts[name], usual[name] * scale, span)
            if cusum.crossed:
                crossed[f"{name}_cusum"] = round(cusum.value, 2)
        return crossed

    def _sequential_alert(self, reader: str, start: float, now: float,
                          row: list[float] | None, crossed: dict[str, float]) -> Alert:
        self.flagged.add(reader)
        self._streak.pop(reader, None)
        cusums = self.cusums.pop(reader)
        drivers = dict(crossed)
        features = {f"{name}_cusum": round(c.value, 3) for name, c in cusums.items()}
        detector = self._detectors.get(reader)
        if row is not None and detector is not None:
            scored = self._baseline(reader).scored(row)
            score = detector.score(scored)
            self.scores[reader] = score
            drivers.update(score.drivers())
            features.update({n: round(v, 3) for n, v in zip(SCORED, scored, strict=True)})
        return Alert(reader, start, now, round(max(crossed.values()), 3),
                     self.config.cusum_threshold, drivers, features, test="sequential")

    def _learn_due(self, reader: str, now: float) -> bool:
        if now - self._learned_at.get(reader, -1e18) < self._learn_every:
            return False
        self._learned_at[reader] = now
        return True

    def _baseline(self, reader: str) -> HourlyBaseline:
        baseline = self._baselines.get(reader)
        if baseline is None:
            baseline = self._baselines[reader] = HourlyBaseline(self.config.window_s)
        return baseline

    def _remember(self, reader: str, row: list[float]) -> None:
        """A normal window: into the reader's hourly baseline and, unless it was quiet (no
        read: never scored, so not part of what scored windows are compared with), into
        the history the detector is fitted on."""
        self._baseline(reader).add(row)
        if not any(row[:4]):
            return
        history = self.history.setdefault(reader, deque())
        history.append(row)
        while len(history) > self.config.max_history:
            history.popleft()
        self._since_fit[reader] = self._since_fit.get(reader, 0) + 1

    def _refit_if_due(self, reader: str, now: float) -> None:
        history = self.history.get(reader, ())
        if len(history) < self.config.min_history or self._first_at is None \
                or now - self._first_at < self.config.learn_s:
            return
        if reader in self._detectors and \
                self._since_fit.get(reader, 0) < self.config.refit_every:
            return
        try:
            self._detectors[reader] = Detector(
                self.config.estimator, margin=self.config.margin,
                min_rows=min(20, self.config.min_history)).fit(
                np.asarray([self._baseline(reader).scored(row) for row in history]))
        except ValueError:
            return  # too few distinct windows yet: keep learning
        self._since_fit[reader] = 0
