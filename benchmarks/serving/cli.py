"""Measure suggestion latency: ``python -m benchmarks.serving [--calls 500]``.

Generates the default demo world (3 retailers, 1,000 customers), lets a seeded share of the
customers consent to ``alder`` using their data held by the other members, trains alder's
model on what it may read (:func:`recommender.training.train_retailer_model`), installs it in a
:class:`~recommender.serving.SuggestionService` and times ``suggest`` over ``--calls`` requests:
random customers of the world (plus a share of unknown ones), random alder stores, each with the
consent view and history the gateway would pass. Prints the median, p99 and mean latency in
milliseconds and calls per second, for one thread. Nothing personal is printed.

With ``--artifact DIR`` an existing alder model is served instead of training one.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender.catalogue import Catalogue
from recommender.datasets.demo_inputs import catalogue_from_world, stated_from_world
from recommender.datasets.demo_world import WorldConfig, generate_world
from recommender.serving import SuggestionService
from recommender.slices import (
    ConsentView,
    CustomerHistory,
    EventRecord,
    StatedPreferences,
    event_record,
)
from recommender.training import (
    DEFAULT_CONFIG,
    SEQUENCE_WEIGHT,
    train_retailer_model,
)

SERVING = "alder"


@dataclass(frozen=True)
class Request:
    store_id: str
    customer_id: str
    n: int
    consent: ConsentView
    history: CustomerHistory


@dataclass(frozen=True)
class Latency:
    """Per-call wall times of one run, in milliseconds."""

    calls: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    calls_per_s: float
    strategies: dict[str, int]


def measure_latency(
    service: SuggestionService, requests: Sequence[Request], *, warmup: int = 20
) -> Latency:
    """Time ``service.suggest`` on each request in turn (after ``warmup`` untimed calls).

    Raises ``ValueError`` when ``requests`` is empty.
    """
    if not requests:
        raise ValueError("no requests to time")
    for req in requests[:warmup]:
        service.suggest(
            req.store_id, req.customer_id, req.n, consent=req.consent, history=req.history
        )
    times = np.empty(len(requests))
    strategies: Counter[str] = Counter()
    started = time.perf_counter()
    for j, req in enumerate(requests):
        t0 = time.perf_counter()
        answer = service.suggest(
            req.store_id, req.customer_id, req.n, consent=req.consent, history=req.history
        )
        times[j] = time.perf_counter() - t0
        strategies[answer.strategy] += 1
    total = time.perf_counter() - started
    ms = times * 1e3
    return Latency(
        calls=len(requests),
        p50_ms=float(np.percentile(ms, 50)),
        p99_ms=float(np.percentile(ms, 99)),
        mean_ms=float(ms.mean()),
        calls_per_s=len(requests) / total,
        strategies=dict(sorted(strategies.items())),
    )


def demo_requests(
    *,
    seed: int,
    calls: int,
    n: int,
    consent_share: float,
    unknown_share: float,
    world_config: WorldConfig | None = None,
) -> tuple[Catalogue, list[EventRecord], list[StatedPreferences], list[Request]]:
    """The demo world's catalogue, alder's readable events and stated preferences, and
    ``calls`` seeded requests."""
    world = generate_world(world_config or WorldConfig(seed=seed))
    rng = np.random.default_rng([seed, 11])
    others = tuple(r for r in world.config.retailer_ids if r != SERVING)
    consenting = {c.customer_id for c in world.customers if rng.random() < consent_share}
    readable = [
        event_record(e)
        for e in world.events
        if e.retailer == SERVING or e.customer_id in consenting
    ]
    stated = [
        s
        for s in stated_from_world(world.customers)
        if s.retailer == SERVING or s.customer_id in consenting
    ]
    events_of: dict[str, list[EventRecord]] = defaultdict(list)
    for ev in readable:
        events_of[ev.customer_id].append(ev)
    stated_of: dict[str, list[StatedPreferences]] = defaultdict(list)
    for s in stated:
        stated_of[s.customer_id].append(s)
    stores = [s.store_id for s in world.stores if s.retailer == SERVING]
    customers = [c.customer_id for c in world.customers]
    requests = []
    for j in range(calls):
        if rng.random() < unknown_share:
            customer = f"cust-new{j:012d}"
        else:
            customer = customers[int(rng.integers(len(customers)))]
        consent = (
            ConsentView.for_retailers(customer, others)
            if customer in consenting
            else ConsentView.none(customer)
        )
        history = CustomerHistory(
            customer, tuple(events_of.get(customer, ())), tuple(stated_of.get(customer, ()))
        )
        store = stores[int(rng.integers(len(stores)))]
        requests.append(Request(store, customer, n, consent, history))
    return catalogue_from_world(world), readable, stated, requests


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500, help="timed calls (default 500)")
    parser.add_argument("--n", type=int, default=10, help="suggestions per call (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="world and request seed")
    parser.add_argument("--consent-share", type=float, default=0.6)
    parser.add_argument("--unknown-share", type=float, default=0.1)
    parser.add_argument("--artifact", type=Path, help="serve this alder model, do not train")
    parser.add_argument(
        "--sequence-weight",
        type=float,
        default=SEQUENCE_WEIGHT,
        help=f"weight of the sequence part in the trained blend (default {SEQUENCE_WEIGHT}; "
        "0: the hybrid alone)",
    )
    args = parser.parse_args(argv)
    if args.calls < 1:
        parser.error("--calls must be at least 1")

    catalogue, readable, stated, requests = demo_requests(
        seed=args.seed,
        calls=args.calls,
        n=args.n,
        consent_share=args.consent_share,
        unknown_share=args.unknown_share,
    )
    with tempfile.TemporaryDirectory() as tmp:
        artifact = args.artifact
        if artifact is None:
            artifact = Path(tmp) / "alder"
            started = time.perf_counter()
            train_retailer_model(
                SERVING,
                readable,
                catalogue,
                stated,
                output_dir=artifact,
                block_height=0,
                consent_set_hash="0" * 64,
                config=DEFAULT_CONFIG.model_copy(update={"seed": args.seed}),
                evaluation_fraction=0,
                sequence_weight=args.sequence_weight,
            )
            print(
                f"trained {SERVING}'s model on {len(readable)} readable events "
                f"in {time.perf_counter() - started:.1f} s"
            )
        service = SuggestionService(SERVING, catalogue, artifact=artifact)
        result = measure_latency(service, requests)
    print(f"model {service.model_id}, n={args.n}, {result.calls} calls, one thread")
    print(f"strategies: {result.strategies}")
    print(
        f"p50 {result.p50_ms:.3f} ms  p99 {result.p99_ms:.3f} ms  "
        f"mean {result.mean_ms:.3f} ms  {result.calls_per_s:.0f} calls/s"
    )
    return 0

