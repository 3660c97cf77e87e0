"""The watch's pure parts: window features, the detector, the monitor's alerts, the brake's
rate and the cost guard, with time as an argument."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.watch.brake import BrakeBook, MemberBraked
from gateway.watch.detector import Detector
from gateway.watch.features import FEATURES, Hours, Read, ReaderLog, window_features
from gateway.watch.monitor import Monitor, WatchConfig
from gateway.write_budget import WriteBudget, WriteBudgetExceeded

#: 2026-01-05 12:00 UTC (the stores are open); 03:00 that night is closed.
NOON = 1_767_614_400.0
OPEN, TRAINING = Hours(7, 22), Hours(1, 5)


def _id(n: int) -> bytes:
    return n.to_bytes(8, "big")


def test_window_features_count_reads_customers_first_reads_and_off_hours():
    log = ReaderLog()
    log.seen[_id(1)] = NOON - 7200  # read yesterday
    for at, who in [(NOON + 10, 1), (NOON + 20, 1), (NOON + 30, 2), (NOON + 40, 3)]:
        log.add(Read(at, "R", "kiosk", _id(who)))
    log.add(Read(NOON + 50, "R", "training"))
    row = window_features(log, NOON, NOON + 360, open_hours=OPEN, training_hours=TRAINING)
    assert row is not None
    features = dict(zip(FEATURES, row, strict=True))
    assert features["reads_per_hour"] == pytest.approx(40.0)
    assert features["customers_per_hour"] == pytest.approx(30.0)
    assert features["first_read_share"] == pytest.approx(2 / 3)
    assert features["off_hours_share"] == 0.0
    assert features["training_pages_per_hour"] == pytest.approx(10.0)
    assert features["off_schedule_training"] == 1.0  # at noon, outside 01:00-05:00


def test_a_window_without_reads_has_no_features_and_hours_wrap_midnight():
    assert window_features(ReaderLog(), NOON, NOON + 60, open_hours=OPEN,
                           training_hours=TRAINING) is None
    night = Hours(22, 6)
    assert night.contains(NOON - 9 * 3600) and not night.contains(NOON)


def _normal(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.column_stack([rng.normal(100, 15, n), rng.normal(70, 10, n),
                            rng.uniform(0.2, 0.4, n), np.zeros(n), np.zeros(n), np.zeros(n),
                            np.zeros(n), -np.ones(n)])  # at noon


def test_the_detector_flags_a_scraping_window_and_names_what_drove_it():
    rng = np.random.default_rng(1)
    detector = Detector("lof").fit(_normal(rng, 300))
    assert not detector.score([105.0, 72.0, 0.3, 0.0, 0.0, 0.0, 0.0, -1.0]).anomalous
    scraping = detector.score([400.0, 380.0, 0.95, 0.0, 0.0, 0.0, 0.0, -1.0])
    assert scraping.anomalous
    assert set(scraping.drivers()) == {"reads_per_hour", "customers_per_hour",
                                       "first_read_share"}


def test_the_detector_refuses_too_little_history_or_the_wrong_width():
    with pytest.raises(ValueError):
        Detector().fit(_normal(np.random.default_rng(0), 5))
    with pytest.raises(ValueError):
        Detector().fit([[1.0, 2.0]] * 50)
    with pytest.raises(RuntimeError):
        Detector().score([0.0] * len(FEATURES))


def _feed(monitor: Monitor, rng: np.random.Generator, start: float, end: float, *,
          per_minute: float, new_ids: bool = False, reader: str = "R") -> None:
    t = start
    while t < end:
        for _ in range(rng.poisson(per_minute)):
            who = int(rng.integers(1_000_000, 2_000_000)) if new_ids else int(rng.integers(40))
            monitor.observe(Read(t + rng.random() * 60, reader, "kiosk", _id(who)))
        t += 60


def test_the_monitor_learns_then_alerts_once_on_scraping_and_again_after_a_clearance():
    # A day of learning (every hour of it), then a day's morning of judging, then scraping.
    config = WatchConfig(window_s=300, step_s=60, learn_s=86_400, min_history=20)
    monitor, rng = Monitor(config), np.random.default_rng(2)
    begin = NOON - 86_400 - 3 * 3600
    _feed(monitor, rng, begin, NOON + 1200, per_minute=2)
    _feed(monitor, rng, NOON, NOON + 600, per_minute=20, new_ids=True)
    alerts, t = [], begin + 60
    while t <= NOON + 600:
        if t <= NOON:
            assert monitor.step(t)[0] == [], "normal traffic raised an alert"
        else:
            alerts += monitor.step(t)[0]
        t += 60
    assert len(alerts) == 1 and alerts[0].reader == "R"
    assert alerts[0].window_end - NOON < config.window_s  # before one window passed
    assert "customers_per_hour" in alerts[0].drivers
    assert not monitor.warming_up("R") and "R" in monitor.flagged
    monitor.clear("R")
    assert "R" not in monitor.flagged


def test_a_braked_reader_gets_its_rate_and_a_retry_after(tmp_path):
    now = [0.0]
    brakes = BrakeBook(tmp_path / "db.sqlite3", per_minute=2, clock=lambda: now[0])
    brakes.admit("R")  # not braked: anything goes
    brakes.brake("R", 0.0, "alert-R-0-aa")
    brakes.admit("R")
    brakes.admit("R")
    with pytest.raises(MemberBraked) as info:
        brakes.admit("R")
    assert info.value.headers == {"Retry-After": "30"}
    now[0] = 30.0
    brakes.admit("R")
    assert brakes.release("R") and not brakes.release("R")
    brakes.admit("R")


def test_writes_past_the_hourly_budget_are_refused_until_the_hour_passes():
    now = [0.0]
    budget = WriteBudget(2, clock=lambda: now[0])
    budget.spend()
    now[0] = 600.0
    budget.spend()
    with pytest.raises(WriteBudgetExceeded) as info:
        budget.spend()
    assert info.value.status == 429 and info.value.details["retry_after_s"] == 3000
    assert (budget.used(), budget.refused) == (2, 1)
    now[0] = 3600.5
    budget.spend()
    assert budget.used() == 2
