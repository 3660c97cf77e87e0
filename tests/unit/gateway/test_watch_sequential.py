"""The watch's sequential test (a one-sided Poisson CUSUM), pure logic: its recursion, its
designed rise, and the monitor alerting on it before the window detector would."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gateway.watch.features import SCORED, Hours, Read, ReaderLog, step_counts
from gateway.watch.monitor import Monitor, WatchConfig
from gateway.watch.sequential import (
    CusumBank,
    PoissonCusum,
    designed_rate,
    log_likelihood_ratio,
)

#: 2026-01-05 12:00 UTC.
NOON = 1_767_614_400.0


def _id(n: int) -> bytes:
    return n.to_bytes(8, "big")


def test_the_log_likelihood_ratio_is_that_of_two_poisson_laws():
    from scipy.stats import poisson

    for count in (0, 1, 4, 11):
        expected = poisson.logpmf(count, 0.9) - poisson.logpmf(count, 0.3)
        assert log_likelihood_ratio(count, 0.3, 0.9) == pytest.approx(expected)


def test_the_designed_rate_is_a_multiple_of_the_usual_or_a_shift_above_it():
    assert designed_rate(1.0, ratio=2.0, shift=0.5) == 2.0  # busy: the multiple
    assert designed_rate(0.01, ratio=2.0, shift=0.5) == pytest.approx(0.51)  # idle: the shift


def test_the_cusum_stays_at_zero_on_usual_counts_and_forgets_a_lone_excess():
    cusum = PoissonCusum(threshold=10.0, ratio=2.0, shift=0.1)
    for _ in range(200):
        assert cusum.update(0, 1.0) == 0.0  # never below zero
    cusum.update(3, 1.0)  # one busy step: 3 log 2 - 1
    assert cusum.value == pytest.approx(3 * math.log(2.0) - 1.0)
    for _ in range(4):
        cusum.update(1, 1.0)  # usual steps bring it back down (1 - log 2 a step)
    assert cusum.value == 0.0 and not cusum.crossed


def test_the_cusum_crosses_on_a_sustained_rise_and_resets():
    cusum = PoissonCusum(threshold=10.0, ratio=2.0, shift=0.1)
    steps = 0
    while not cusum.crossed:
        cusum.update(4, 1.0)  # four times the usual count, every step
        steps += 1
    # Each step adds 4 log 2 - 1 = 1.77 nats: the sixth crosses 10.
    assert steps == 6
    cusum.reset()
    assert cusum.value == 0.0


def test_a_reader_idle_at_that_hour_is_held_to_the_floor_not_to_nothing():
    cusum = PoissonCusum(threshold=10.0, ratio=2.0, shift=0.125, floor=0.002)
    first = cusum.update(1, 0.0)
    assert math.isfinite(first) and first == pytest.approx(math.log(0.127 / 0.002) - 0.125)
    cusum.update(1, 0.0)
    assert not cusum.crossed  # two night reads in a row are not yet an alarm
    cusum.update(1, 0.0)
    assert cusum.crossed  # three are


@pytest.mark.parametrize("bad", [dict(threshold=0.0), dict(threshold=5.0, ratio=1.0),
                                 dict(threshold=5.0, shift=0.0)])
def test_a_cusum_with_no_alarm_or_no_rise_is_refused(bad):
    with pytest.raises(ValueError):
        PoissonCusum(**bad)


def test_step_counts_count_night_reads_and_customers_never_read_before_the_step():
    log = ReaderLog()
    log.seen[_id(1)] = NOON - 7200  # read yesterday
    log.add(Read(NOON - 100, "R", "kiosk", _id(2)))  # in the window, before the step
    for at, who in [(NOON + 1, 1), (NOON + 2, 2), (NOON + 3, 3), (NOON + 4, 3)]:
        log.add(Read(at, "R", "kiosk", _id(who)))
    log.add(Read(NOON + 5, "R", "training"))
    log.add(Read(NOON + 20, "R", "kiosk", _id(4)))  # after the step
    # Only 3 is new; at noon the stores are open, so no read counts as a night read.
    assert step_counts(log, NOON, NOON + 15, open_hours=Hours(7, 22)) == (0, 1)
    assert step_counts(log, NOON, NOON + 15, open_hours=Hours(22, 7)) == (4, 1)


def _feed(monitor: Monitor, rng: np.random.Generator, start: float, end: float, *,
          per_minute: float, new_ids: bool = False) -> None:
    minute = start
    while minute < end:
        for _ in range(rng.poisson(per_minute)):
            who = int(rng.integers(10_000, 10**9)) if new_ids else int(rng.integers(60))
            monitor.observe(Read(minute + rng.random() * 60, "R", "kiosk", _id(who)))
        minute += 60


def _run(config: WatchConfig, seed: int = 2):
    monitor, rng = Monitor(config), np.random.default_rng(seed)
    begin = NOON - 86_400 - 3 * 3600
    _feed(monitor, rng, begin, NOON + 1200, per_minute=2)
    _feed(monitor, rng, NOON, NOON + 600, per_minute=3, new_ids=True)  # 180 new an hour
    alerts, t = [], begin + 60
    while t <= NOON + 600:
        got = monitor.step(t)[0]
        if t <= NOON:
            assert got == [], "normal traffic raised an alert"
        alerts += got
        t += 60
    return monitor, alerts


def test_the_monitor_alerts_on_the_cusum_first_and_names_it():
    config = WatchConfig(window_s=300, step_s=60, learn_s=86_400, min_history=20)
    monitor, alerts = _run(config)
    assert len(alerts) == 1 and alerts[0].test == "sequential"
    assert "new_customers_cusum" in alerts[0].drivers
    assert alerts[0].drivers["new_customers_cusum"] > config.cusum_threshold
    assert alerts[0].threshold == config.cusum_threshold
    assert set(SCORED) <= set(alerts[0].features)
    assert "R" in monitor.flagged and "R" not in monitor.cusums
    monitor.clear("R")
    assert "R" not in monitor.flagged


def test_the_cusum_alerts_sooner_than_the_window_alone():
    sequential = _run(WatchConfig(window_s=300, step_s=60, learn_s=86_400, min_history=20))[1]
    window = _run(WatchConfig(window_s=300, step_s=60, learn_s=86_400, min_history=20,
                              sequential=False))[1]
    assert window[0].test == "window" and not any(k.endswith("_cusum")
                                                  for k in window[0].drivers)
    assert sequential[0].window_end < window[0].window_end


def test_a_bank_of_charts_sees_a_large_rise_sooner_than_its_most_sensitive_chart():
    usual = 0.08  # new customers a 15-second step at a busy reader's peak
    shifts = (0.125, 0.5, 2.0)  # 30, 120 and 480 more an hour

    def steps_to_alarm(cusum: PoissonCusum | CusumBank, count: float) -> int:
        steps = 0
        while not cusum.crossed:
            cusum.update(count, usual)
            steps += 1
        return steps

    bank = CusumBank(10.0, shifts=shifts, ratio=3.0)
    alone = PoissonCusum(10.0, ratio=3.0, shift=shifts[0])
    assert steps_to_alarm(bank, 4.0) < steps_to_alarm(alone, 4.0)  # 960 an hour
    assert bank.value == max(chart.value for chart in bank.charts)
    with pytest.raises(ValueError):
        CusumBank(10.0, shifts=())


def test_a_step_twice_as_long_is_held_to_twice_the_usual_count_and_rise():
    late, two = PoissonCusum(10.0, ratio=3.0, shift=0.125), PoissonCusum(10.0, ratio=3.0,
                                                                        shift=0.125)
    late.update(3, 0.1, span=2.0)  # one late step: 30 s of reads
    two.update(2, 0.05)
    two.update(1, 0.05)
    assert late.value == pytest.approx(two.value)
