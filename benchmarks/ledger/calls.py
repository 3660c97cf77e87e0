"""Latency of the ledger client on a running network: evaluate, and submit-to-commit of a
consent grant, through :mod:`gateway.ledger` exactly as a gateway calls it.

Customers are :class:`demo.wallet.DemoCustomer`. The command line is
:mod:`benchmarks.ledger.cli`.
"""

from __future__ import annotations

import functools
import itertools
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chaincode.canonical import b64url_encode
from chaincode.fields import format_timestamp
from demo.wallet import DemoCustomer
from gateway.ledger import ConsortiumLedger


@dataclass(frozen=True)
class Summary:
    """Latencies of one kind of call, in milliseconds, and the rate achieved."""

    name: str
    concurrency: int
    count: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    per_second: float

    def row(self) -> str:
        return (f"| {self.name} | {self.concurrency} | {self.count} | {self.p50_ms:.1f} | "
                f"{self.p99_ms:.1f} | {self.mean_ms:.1f} | {self.per_second:.1f} |")


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty sample.

    Raises ValueError for an empty sample.
    """
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def timed(name: str, calls: Sequence[Callable[[], Any]], concurrency: int) -> Summary:
    """Run ``calls`` on ``concurrency`` threads and summarise each call's latency.

    Raises whatever a call raises (the run stops at the first failure).
    """
    latencies: list[float] = []
    lock = threading.Lock()

    def run(call: Callable[[], Any]) -> None:
        start = time.perf_counter()
        call()
        elapsed = (time.perf_counter() - start) * 1000
        with lock:
            latencies.append(elapsed)

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(run, c) for c in calls]:
            future.result()
    wall = time.perf_counter() - began
    return Summary(name, concurrency, len(latencies), percentile(latencies, 50),
                   percentile(latencies, 99), statistics.fmean(latencies),
                   len(latencies) / wall)


def bench_evaluate(ledger: ConsortiumLedger, customer: DemoCustomer, count: int,
                   concurrency: int) -> Summary:
    """``ListConsents`` of one registered customer on the own peer."""
    calls = [lambda: ledger.list_consents(customer.customer_id)] * count
    return timed("evaluate ListConsents", calls, concurrency)


def bench_grants(ledger: ConsortiumLedger, customers: Sequence[DemoCustomer],
                 recipients: Sequence[str], count: int, concurrency: int) -> Summary:
    """``SubmitConsentStatement`` grants, submit to commit, spread over ``customers``.

    Statements are signed before the clock starts: the customer's device signs, not us.
    """
    statements = [customers[i % len(customers)].grant(recipients) for i in range(count)]
    calls = [(lambda s=s: ledger.submit_consent(s)) for s in statements]
    return timed("submit consent grant", calls, concurrency)


_event_ids = itertools.count()


def event_batch(writer_msp: str, customers: Sequence[DemoCustomer], size: int) -> list[
        dict[str, Any]]:
    """``size`` purchase events written by ``writer_msp``, spread over ``customers``, each
    with its own id and random salt (as a store's till would send them)."""
    when = format_timestamp(datetime.now(UTC) - timedelta(minutes=1))
    out = []
    for i in range(size):
        n = next(_event_ids)
        out.append({
            "event_id": f"e-{os.getpid()}-{n:09d}",
            "customer_id": customers[i % len(customers)].customer_id,
            "retailer": writer_msp,
            "item_id": f"sku-{n % 997:04d}",
            "item_category": "outdoor/shoes",
            "event_type": "purchase",
            "value": 1,
            "store_id": "bench-01",
            "timestamp": when,
            "salt": b64url_encode(os.urandom(16)),
        })
    return out


def bench_events(ledger: ConsortiumLedger, customers: Sequence[DemoCustomer], batch_size: int,
                 batches: int, concurrency: int) -> Summary:
    """``RecordPreferenceEvents`` batches of ``batch_size`` private events, submit to commit.
    ``per_second`` of the summary counts batches; multiply by ``batch_size`` for events."""
    # A batch updates each of its customers' private event index, so two batches in flight
    # with a customer in common conflict (MVCC): as a store's batches would, each batch
    # here covers its own group of customers, and batches in flight never share one.
    groups = max(1, min(len(customers), 2 * concurrency))
    prepared = [event_batch(ledger.msp_id, customers[i % groups::groups], batch_size)
                for i in range(batches)]
    calls = [(lambda b=b: ledger.record_events(b)) for b in prepared]
    return timed(f"record {batch_size}-event batch", calls, concurrency)


def bench_reads(ledger: ConsortiumLedger, customer: DemoCustomer, reader: str, purpose: str,
                count: int, concurrency: int) -> Summary:
    """The owner's consent-checked read of its events about her for another member
    ``reader`` (``ReadSharedEvents``, evaluated on the owner's peer; the member-to-member
    HTTPS hop and the owner's access-log batch are not timed here)."""
    calls = [lambda: ledger.contract.evaluate(
        "ReadSharedEvents", args=[customer.customer_id, reader, purpose],
        endorsing_orgs=[ledger.msp_id])] * count
    return timed("evaluate ReadSharedEvents", calls, concurrency)


def register(ledger: ConsortiumLedger, customers: Sequence[DemoCustomer]) -> None:
    """Register every customer's key (concurrently: each is its own key, no conflicts)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        for future in [pool.submit(ledger.register_customer, c.public_key) for c in customers]:
            future.result()


def bench_http(client: Any, store_credential: str, recipients: Sequence[str], *, count: int,
               concurrency: int, customers: int = 8) -> list[Summary]:
    """The same two calls through a running gateway's HTTPS API: ``GET
    /v1/customers/{id}/consents`` (one consent) and ``POST /v1/consents`` (a grant, answered
    after its commit). ``client`` is an ``httpx.Client`` whose base URL is the gateway and
    which trusts its certificate; ``store_credential`` a store's ``psk_...`` credential.

    Raises AssertionError when a call does not answer 2xx (the run stops there).
    """
    def post(path: str, body: Any) -> Any:
        r = client.post(path, json=body,
                        headers={"Idempotency-Key": f"bench-{b64url_encode(os.urandom(12))}"})
        assert r.status_code in (200, 201), f"{path}: {r.status_code} {r.text[:200]}"
        return r.json()

    reader, *granting = [DemoCustomer.new() for _ in range(customers + 1)]
    for customer in (reader, *granting):
        post("/v1/customers", {"public_key": customer.public_key})
    post("/v1/consents", reader.grant(recipients))
    auth = {"Authorization": f"Bearer {store_credential}"}

    def read() -> None:
        r = client.get(f"/v1/customers/{reader.customer_id}/consents", headers=auth)
        assert r.status_code == 200, r.text[:200]

    statements = [granting[i % len(granting)].grant(recipients) for i in range(count)]
    grants: list[Callable[[], Any]] = [functools.partial(post, "/v1/consents", s)
                                       for s in statements]
    return [timed("HTTP GET consents (evaluate)", [read] * count, concurrency),
            timed("HTTP POST consent grant (to commit)", grants, concurrency)]
