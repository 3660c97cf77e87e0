"""Measure the consortium watch: ``python -m benchmarks.watch [--test-days 36]``.

Simulated member reads at one owner (benchmarks/watch/traffic.py: three reading members,
stores, kiosks, a training run a day), a warm-up of normal days, then one injected anomaly a
day per reader (the others' traffic stays normal), cycling through the kinds and
intensities, replayed through the gateway's own monitor faster than real time. Prints, per
anomaly kind and intensity, recall and the median, 99th percentile and worst time to
detect; then the alerts' precision and the false alarms per simulated day.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence

import numpy as np

from benchmarks.watch.replay import replay
from gateway.watch.detector import ESTIMATORS
from gateway.watch.monitor import WatchConfig

#: Extra reads (scrape, off-hours) or training pages (bulk training) per hour.
INTENSITIES: dict[str, tuple[float, ...]] = {
    "scrape": (30.0, 60.0, 120.0, 240.0, 960.0),
    "bulk_training": (30.0, 120.0),
    "off_hours": (30.0, 120.0),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.watch")
    parser.add_argument("--warmup-days", type=int, default=3)
    parser.add_argument("--test-days", type=int, default=24,
                        help="one episode a day per reader, cycling through kinds and intensities")
    parser.add_argument("--estimator", choices=ESTIMATORS, default="mahalanobis")
    parser.add_argument("--window-s", type=float, default=300.0)
    parser.add_argument("--step-s", type=float, default=15.0)
    parser.add_argument("--consecutive", type=int, default=2)
    parser.add_argument("--margin", type=float, default=WatchConfig.margin)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episode-s", type=float, default=1800.0,
                        help="how long each injected anomaly lasts")
    parser.add_argument("--only", metavar="KIND[:PER_HOUR]",
                        help="inject only this anomaly (e.g. scrape:30), every episode")
    parser.add_argument("--no-sequential", dest="sequential", action="store_false",
                        help="the window detector alone (the watch before the CUSUM)")
    parser.add_argument("--cusum-threshold", type=float, default=WatchConfig.cusum_threshold)
    parser.add_argument("--cusum-ratio", type=float, default=WatchConfig.cusum_ratio)
    parser.add_argument("--cusum-shifts", type=float, nargs="+",
                        default=WatchConfig.cusum_shifts_per_hour,
                        help="the CUSUM charts' designed rises, per hour")
    args = parser.parse_args(argv)
    config = WatchConfig(window_s=args.window_s, step_s=args.step_s,
                         consecutive=args.consecutive, estimator=args.estimator,
                         margin=args.margin, sequential=args.sequential,
                         cusum_threshold=args.cusum_threshold, cusum_ratio=args.cusum_ratio,
                         cusum_shifts_per_hour=tuple(args.cusum_shifts))
    intensities = INTENSITIES
    if args.only:
        kind, _, rate = args.only.partition(":")
        if kind not in INTENSITIES:
            parser.error(f"--only: a kind of {sorted(INTENSITIES)}")
        intensities = {kind: (float(rate),) if rate else INTENSITIES[kind]}
    result = replay(config, warmup_days=args.warmup_days, test_days=args.test_days,
                    intensities=intensities, duration_s=args.episode_s, seed=args.seed)
    print(f"watch: estimator {args.estimator}, window {args.window_s:.0f} s, step "
          f"{args.step_s:.0f} s, {args.consecutive} anomalous steps to alert; "
          + (f"CUSUM threshold {args.cusum_threshold:g}, ratio {args.cusum_ratio:g}, "
             f"rises {'/'.join(f'{s:g}' for s in args.cusum_shifts)} an hour; "
             if args.sequential else "no sequential test; ")
          + f"{args.warmup_days} warm-up days, {args.test_days} test days, episodes of "
          f"{args.episode_s:.0f} s "
          f"(replayed {result.speedup:,.0f}x faster than real time)")
    print(f"{'anomaly':<15}{'per hour':>9}{'episodes':>10}{'recall':>8}"
          f"{'detect p50 s':>14}{'p99 s':>7}{'worst s':>9}")
    for (kind, intensity), outcome in sorted(result.outcomes.items()):
        recall = outcome.detected / outcome.episodes
        delays = outcome.delays
        p50 = f"{statistics.median(delays):.0f}" if delays else "-"
        p99 = f"{np.quantile(delays, 0.99):.0f}" if delays else "-"
        worst = f"{max(delays):.0f}" if delays else "-"
        print(f"{kind:<15}{intensity:>9.0f}{outcome.episodes:>10}{recall:>8.2f}"
              f"{p50:>14}{p99:>7}{worst:>9}")
    print(f"alerts: {result.true_alerts + result.false_alarms}, precision "
          f"{result.precision:.2f}; false alarms {result.false_alarms} "
          f"({result.false_alarms_per_day:.2f} per simulated day)")
    return 0
