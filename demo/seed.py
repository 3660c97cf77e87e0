"""Seeding the demo consortium through the retailers' gateways (their HTTPS API, as stores
and customers' devices call it), so everything on the ledger went through the product's own
checks: her key registered, her signed consents, each store's events as private data.

Each call is made once per thing to write; a rerun after an interruption writes what is
missing (a key already registered, a consent or an event id already on the ledger is a 409,
taken as done), so only a completed seeding is recorded in ``seeded.json``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tqdm import tqdm

from chaincode.fields import format_timestamp
from demo.api import ApiError, GatewayClient
from demo.wallet import DemoCustomer
from demo.world import ConsentPlan, EventBatch, consent_plan, event_batches, event_body
from recommender.datasets.demo_world import World

#: Conflicts that mean "already on the ledger" when a seeding resumes.
ALREADY_DONE = {"CUSTOMER_EXISTS", "CONSENT_EXISTS", "EVENT_EXISTS",
                "CONSENT_WITHDRAWN"}


@dataclass(frozen=True)
class Call:
    """One write: which gateway (retailer name), what path and body, and its kind."""

    kind: str
    retailer: str
    path: str
    body: dict[str, Any]
    admin: bool = False


def consent_id_of(index: int) -> str:
    return f"demo-{index:05d}"


def plans(world: World) -> list[ConsentPlan]:
    return [consent_plan(i, c) for i, c in enumerate(world.customers)]


def calls_in_order(world: World, keys: dict[str, DemoCustomer], name_of: dict[str, str]
                   ) -> list[list[list[Call]]]:
    """The seeding's writes in four phases that must follow each other: keys, grants,
    events, withdrawals. A phase is a list of tasks, each a list of calls made in order;
    tasks are independent. A customer's event batches are one task: each batch updates her
    event index on the ledger, so two at once would conflict (MVCC_READ_CONFLICT). ``name_of``
    maps an MSP id to the retailer's name (its gateway)."""
    registrations, grants, withdrawals = [], [], []
    for index, (customer, plan) in enumerate(zip(world.customers, plans(world), strict=True)):
        key = keys[customer.customer_id]
        home = name_of[customer.retailers[0]]
        registrations.append([Call("key", home, "/v1/customers",
                                   {"public_key": key.public_key})])
        if not plan.grants:
            continue
        grant = key.grant(plan.recipients, consent_id=consent_id_of(index),
                          purposes=plan.purposes, categories=plan.categories)
        grants.append([Call("consent", home, "/v1/consents", grant)])
        if plan.withdraw:
            withdrawals.append([Call("withdrawal", home, "/v1/consents",
                                     key.withdraw(consent_id_of(index)))])
    by_customer: dict[str, list[Call]] = {}
    for batch in event_batches(world):
        by_customer.setdefault(batch.customer, []).append(
            _event_call(batch, keys, name_of, world))
    return [registrations, grants, list(by_customer.values()), withdrawals]


def _event_call(batch: EventBatch, keys: dict[str, DemoCustomer], name_of: dict[str, str],
                world: World) -> Call:
    customer_id = keys[batch.customer].customer_id
    body = {"events": [event_body(e, world.item(e.item_id).category) for e in batch.events]}
    return Call("events", name_of[batch.retailer],
                f"/v1/stores/{batch.store_id}/customers/{customer_id}/events", body, admin=True)


def run_calls(phases: Sequence[Sequence[Sequence[Call]]],
              client_of: Callable[[str, bool], GatewayClient], *, workers: int = 12,
              progress: bool = True) -> dict[str, int]:
    """Make every call, phase after phase, ``workers`` tasks at a time; count them by kind.

    A bar shows the count, the rate and the time left. Raises ApiError for the first call the
    gateway refused (other than ALREADY_DONE).
    """
    counts: dict[str, int] = {}
    total = sum(len(task) for phase in phases for task in phase)
    bar = tqdm(total=total, desc="seeding the ledger", unit="tx", disable=not progress,
               mininterval=1.0, dynamic_ncols=True)

    def run(task: Sequence[Call]) -> None:
        for call in task:
            _call(call, client_of)
            with lock:
                counts[call.kind] = counts.get(call.kind, 0) + 1
                bar.update()
                bar.set_postfix_str(call.kind, refresh=False)

    lock = threading.Lock()
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for phase in phases:
                for future in as_completed([pool.submit(run, task) for task in phase]):
                    future.result()
    finally:
        bar.close()
    return counts


def _call(call: Call, client_of: Callable[[str, bool], GatewayClient]) -> None:
    try:
        client_of(call.retailer, call.admin).post(call.path, call.body)
    except ApiError as exc:
        if exc.code not in ALREADY_DONE:
            raise


def summary(world: World, counts: dict[str, int], seconds: float) -> dict[str, Any]:
    """The record kept in ``seeded.json`` (no keys, no credentials)."""
    by_plan: dict[str, int] = {}
    for plan in plans(world):
        by_plan[plan.name] = by_plan.get(plan.name, 0) + 1
    return {"seeded_at": format_timestamp(datetime.now(UTC)), "seconds": round(seconds, 1),
            "world": {"seed": world.config.seed, "customers": world.config.customers,
                      "start": world.config.start, "days": world.config.days},
            "calls": counts, "events": len(world.events), "consent_plans": by_plan}


def seed(world: World, keys: dict[str, DemoCustomer], name_of: dict[str, str],
         client_of: Callable[[str, bool], GatewayClient], *, workers: int = 12,
         progress: bool = True) -> dict[str, Any]:
    started = time.monotonic()
    counts = run_calls(calls_in_order(world, keys, name_of), client_of, workers=workers,
                       progress=progress)
    return summary(world, counts, time.monotonic() - started)
