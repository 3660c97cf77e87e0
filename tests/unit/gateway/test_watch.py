"""The watch's pure parts: window features, the detector, the monitor's alerts, the brake's
rate and the cost guard, with time as an argument."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.watch.brake import BrakeBook, MemberBraked
from gateway.watch.detector import Detector
from gateway.watch.features import (
    FEATURES,
    KINDS,
    SCORED,
    HourlyBaseline,
    Hours,
    Read,
    ReaderLog,
    hour_of,
    quiet_window,
    window_features,
)
from gateway.watch.monitor import Monitor, WatchConfig
from gateway.write_budget import WriteBudget, WriteBudgetExceeded

#: 2026-01-05 12:00 UTC (the stores are open); 03:00 that night is closed.
NOON = 1_767_614_400.0
OPEN, TRAINING = Hours(7, 22), Hours(1, 5)


def _id(n: int) -> bytes:
    return n.to_bytes(8, "big")


def test_window_features_count_reads_new_customers_off_hours_and_off_schedule_training():
    log = ReaderLog()
    log.seen[_id(1)] = NOON - 7200  # read yesterday
    for at, who in [(NOON + 10, 1), (NOON + 20, 1), (NOON + 30, 2), (NOON + 40, 3)]:
        log.add(Read(at, "R", "kiosk", _id(who)))
    log.add(Read(NOON + 50, "R", "training"))
    row = window_features(log, NOON, NOON + 360, open_hours=OPEN, training_hours=TRAINING)
    assert row is not None
    features = dict(zip(FEATURES, row, strict=True))
    assert features["reads_per_hour"] == pytest.approx(40.0)
    assert features["new_customers_per_hour"] == pytest.approx(20.0)  # 2 and 3, not 1
    assert features["off_hours_reads_per_hour"] == 0.0
    assert features["off_schedule_training_per_hour"] == pytest.approx(10.0)  # noon
    assert hour_of(row) == 12


def test_training_inside_the_schedule_and_night_reads_are_told_apart():
    night = NOON - 9 * 3600  # 03:00, inside the training schedule, stores closed
    log = ReaderLog()
    log.add(Read(night + 10, "R", "training"))
    log.add(Read(night + 20, "R", "kiosk", _id(5)))
    row = window_features(log, night, night + 360, open_hours=OPEN, training_hours=TRAINING)
    features = dict(zip(FEATURES, row, strict=True))
    assert features["off_schedule_training_per_hour"] == 0.0
    assert features["off_hours_reads_per_hour"] == pytest.approx(10.0)
    assert hour_of(row) == 3 and hour_of(quiet_window(NOON - 60)) == 11


def test_the_hourly_baseline_holds_a_window_to_the_readers_own_hour():
    baseline = HourlyBaseline(window_s=300.0)
    lunch_hour, night_hour = quiet_window(NOON + 60)[4:], quiet_window(NOON - 9 * 3600 + 60)[4:]
    for _ in range(12):  # lunch: 120 reads, 36 new customers an hour; 03:00: quiet
        baseline.add([120.0, 36.0, 0.0, 0.0, *lunch_hour])
        baseline.add(quiet_window(NOON - 9 * 3600 + 60))
    assert baseline.usual(12) == (120.0, 36.0) and baseline.usual(3) == (0.0, 0.0)
    assert baseline.windows(12) == 12 and baseline.usual(18) == (0.0, 0.0)
    usual = baseline.scored([120.0, 36.0, 0.0, 0.0, *lunch_hour])
    assert len(usual) == len(SCORED) and max(usual[2:]) < 1.0
    # 20 new customers in 5 minutes where 3 are usual: far out; at 03:00, one read is
    # a little unusual, three are very.
    scrape = baseline.scored([360.0, 240.0, 0.0, 0.0, *lunch_hour])
    assert scrape[3] > 8.0 and scrape[3] > scrape[2]
    one = baseline.scored([12.0, 0.0, 12.0, 0.0, *night_hour])
    three = baseline.scored([36.0, 0.0, 36.0, 0.0, *night_hour])
    assert 1.0 < one[2] < 1.5 and three[2] > 3.0 and one[0] == 12.0


def _normal(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.column_stack([np.zeros(n), np.zeros(n), rng.exponential(0.4, n),
                            rng.exponential(0.4, n)])


@pytest.mark.parametrize("estimator", ["mahalanobis", "lof"])
def test_the_detector_flags_a_scraping_window_and_names_what_drove_it(estimator):
    rng = np.random.default_rng(1)
    detector = Detector(estimator).fit(_normal(rng, 300))
    assert not detector.score([0.0, 0.0, 0.3, 0.5]).anomalous
    scraping = detector.score([0.0, 0.0, 6.0, 15.0])
    assert scraping.anomalous
    assert next(iter(scraping.drivers())) == "new_customers_surprise"


def test_the_detector_refuses_too_little_history_or_the_wrong_width():
    with pytest.raises(ValueError):
        Detector().fit(_normal(np.random.default_rng(0), 5))
    with pytest.raises(ValueError):
        Detector().fit([[1.0, 2.0]] * 50)
    with pytest.raises(RuntimeError):
        Detector().score([0.0] * len(SCORED))


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
    assert "new_customers_surprise" in alerts[0].drivers
    assert set(SCORED) <= set(alerts[0].features)  # and the CUSUMs
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


def test_scheduled_training_is_not_judged_and_an_older_history_is_dropped():
    monitor = Monitor(WatchConfig(window_s=300, step_s=60, learn_s=0, min_history=5))
    monitor.learn("R", [[1.0] * 8] * 50)  # rows of an older watch's eight features
    assert "R" not in monitor.history
    night = NOON - 9 * 3600  # 03:00, inside the training schedule
    for page in range(40):
        monitor.observe(Read(night + page, "R", "training"))
    alerts, learned = monitor.step(night + 120)
    assert alerts == [] and "R" not in monitor.scores
    assert learned == [("R", quiet_window(night + 120))]  # a quiet window for the baseline
    assert "R" not in monitor.history  # and nothing for the detector


def _watch_service(tmp_path):
    from prometheus_client import CollectorRegistry

    from gateway.settings import read_settings
    from gateway.watch import service

    tls = tmp_path / "tls.pem"
    tls.write_text("x")
    settings = read_settings(None, retailer="alder", msp_id="AlderMSP",
                             endorsing_orgs=("AlderMSP",), peer_endpoint="127.0.0.1:7051",
                             peer_tls_root=tls, msp_dir=tmp_path / "msp",
                             data_dir=tmp_path / "data")
    return service.WatchService(settings, None, tmp_path / "w.sqlite3",  # type: ignore[arg-type]
                                CollectorRegistry(), start=False)


def test_the_stored_history_keeps_each_readers_newest_windows_only(tmp_path, monkeypatch):
    """A quiet window is learned every step: without pruning the table grows for ever."""
    import json

    from gateway.watch import service

    monkeypatch.setattr(service, "PRUNE_EVERY", 1)
    watch = _watch_service(tmp_path)
    try:
        keep = watch.config.max_history
        rows = [("BirchMSP", float(t), json.dumps([0.0])) for t in range(keep + 50)]
        watch._db.executemany("INSERT INTO watch_history VALUES (?, ?, ?)", rows)
        watch._prune({"BirchMSP"})
        left = watch._db.execute("SELECT COUNT(*), MIN(at) FROM watch_history").fetchone()
        assert left == (keep, 50.0)  # the newest max_history windows, the oldest 50 gone
    finally:
        watch.close()


def test_a_reader_is_listed_from_its_first_read_before_any_step(tmp_path):
    """The operator sees who reads at once, not a step (15 s by default) later."""
    watch = _watch_service(tmp_path)
    try:
        assert watch.status()["history_windows"] == {}
        watch.admit("BirchMSP", KINDS[0], "c_" + "A" * 43)
        status = watch.status()
        assert status["history_windows"] == {"BirchMSP": 0}
        assert status["learning"] == ["BirchMSP"] and status["scores"] == {}
    finally:
        watch.close()
