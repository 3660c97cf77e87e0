"""The demo consortium: the recommender's seeded world, cast onto the network's retailers.

The world (``recommender.datasets.demo_world``) is generated with the consortium's MSP ids
as retailer ids, so its catalogues, stores and events are what each gateway serves and
records. Each of its customers gets a key pair (``DemoCustomer``, the role her phone plays)
and a consent plan of her own, chosen by her index so the same world always gets the same plans:

==========  =====================================================================
share       consent
==========  =====================================================================
45%         every member (``*``), personalisation, purchases and views
20%         only the other retailers she shops at, personalisation, purchases
10%         every member, personalisation and analytics, every category
10%         every member, purchases and views, then withdrawn (her history shows both)
15%         none: each retailer uses only its own data about her
==========  =====================================================================
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chaincode.fields import format_timestamp
from network.description import Consortium
from recommender.datasets.demo_world import (
    Customer,
    PreferenceEvent,
    World,
    WorldConfig,
    generate_world,
)

#: Purposes and categories of each plan (see the table above); ``recipients`` None means
#: the other retailers she shops at.
PLANS: tuple[tuple[str, int, tuple[str, ...], tuple[str, ...], str | None], ...] = (
    ("all-members", 45, ("personalisation",), ("purchases", "views"), "*"),
    ("her-retailers-purchases", 20, ("personalisation",), ("purchases",), None),
    ("all-members-all-data", 10, ("personalisation", "analytics"),
     ("purchases", "views", "stated_preferences"), "*"),
    ("withdrawn", 10, ("personalisation",), ("purchases", "views"), "*"),
    ("none", 15, (), (), None),
)
DAY_S = 86_400


@dataclass(frozen=True)
class ConsentPlan:
    """What one customer consents to; ``withdraw`` True withdraws it after the grant."""

    name: str
    recipients: tuple[str, ...]
    purposes: tuple[str, ...]
    categories: tuple[str, ...]
    withdraw: bool = False

    @property
    def grants(self) -> bool:
        return bool(self.purposes)


def world_config(consortium: Consortium, *, seed: int, customers: int,
                 start: float | None = None) -> WorldConfig:
    """The world of the demo: the consortium's retailers, ``customers`` customers, events over
    the 180 days before ``start`` + 180 days (default: ending today, at midnight UTC)."""
    days = 180
    if start is None:
        start = float(int(time.time()) // DAY_S * DAY_S - days * DAY_S)
    return WorldConfig(seed=seed, retailer_ids=tuple(r.msp_id for r in consortium.retailers),
                       retailer_names=tuple(r.name for r in consortium.retailers),
                       customers=customers, days=days, start=start)


def demo_world(config: WorldConfig) -> World:
    return generate_world(config)


def consent_plan(index: int, customer: Customer) -> ConsentPlan:
    """The consent plan of the world's customer number ``index``."""
    slot = (index * 37) % 100  # spreads the plans over the customers, deterministically
    for name, share, purposes, categories, recipients in PLANS:
        if slot < share:
            if recipients is not None:
                chosen: tuple[str, ...] = (recipients,)
            else:
                chosen = customer.retailers if len(customer.retailers) > 1 else ("*",)
            return ConsentPlan(name, chosen, purposes, categories, withdraw=name == "withdrawn")
        slot -= share
    raise AssertionError("the plans' shares add up to 100")


@dataclass(frozen=True)
class EventBatch:
    """What one store recorded of one customer, sent in one call (at most ``limit`` events)."""

    retailer: str
    store_id: str
    customer: str
    events: tuple[PreferenceEvent, ...]


def event_batches(world: World, *, limit: int = 200) -> list[EventBatch]:
    """The world's events grouped by (retailer, store, customer), each group in batches of
    at most ``limit`` events, in a stable order."""
    grouped: dict[tuple[str, str, str], list[PreferenceEvent]] = {}
    for event in world.events:
        grouped.setdefault((event.retailer, event.store_id, event.customer_id), []).append(event)
    return [EventBatch(retailer, store, customer, tuple(events[n:n + limit]))
            for (retailer, store, customer), events in sorted(grouped.items())
            for n in range(0, len(events), limit)]


def event_body(event: PreferenceEvent, category: str) -> dict[str, Any]:
    """One event as the gateway's ``PreferenceEventIn`` (value 1: one item seen, liked or
    bought)."""
    return {"event_id": event.event_id, "item_id": event.item_id, "item_category": category,
            "event_type": event.event_type, "value": 1.0,
            "timestamp": format_timestamp(datetime.fromtimestamp(event.timestamp, UTC))}
