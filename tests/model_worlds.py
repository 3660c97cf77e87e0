"""Test factories for the model life cycle: a generated world with a taste signal strong
enough to tell a real model from a sabotaged one, its events split into arrival rounds, and
the saboteur (shuffled labels).

Why this world and not the conftest's: on the default demo world (``noise`` 0.15,
``taste_concentration`` 0.3, 60 to 300 items a retailer) a customer's next new item is
predicted about as well from her items' categories and brands alone, which any hybrid does
when she is folded in, as by the trained model; ``noise`` 0.05 and ``taste_concentration``
0.1 over 200 items a retailer give the trained model a lead the gate can see (measured:
hit@10 0.32-0.38 against 0.21-0.23 for the same data with shuffled labels, 150-220 customers
compared).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace

from recommender.catalogue import Catalogue
from recommender.datasets.demo_world import World, WorldConfig, generate_world
from recommender.slices import EventRecord


def taste_world(retailers: tuple[str, ...], *, seed: int = 8, customers: int = 300) -> World:
    return generate_world(WorldConfig(seed=seed, retailer_ids=retailers,
                                      retailer_names=retailers, items_per_retailer=200,
                                      customers=customers, noise=0.05,
                                      taste_concentration=0.1))


def last_new_items(events: Sequence[EventRecord], retailer: str
                   ) -> tuple[list[EventRecord], list[EventRecord]]:
    """(the rest, each customer's events on the item she chose first most recently at
    ``retailer``), for customers with at least three items there: a round of new data."""
    by: dict[str, list[EventRecord]] = defaultdict(list)
    for e in events:
        by[e.customer_id].append(e)
    rest: list[EventRecord] = []
    later: list[EventRecord] = []
    for mine in by.values():
        mine.sort(key=lambda e: e.timestamp or 0)
        order = list(dict.fromkeys(e.item_id for e in mine if e.retailer == retailer))
        last = order[-1] if len(order) >= 3 else None
        rest += [e for e in mine if not (e.retailer == retailer and e.item_id == last)]
        later += [e for e in mine if e.retailer == retailer and e.item_id == last]
    return rest, later


def shuffled_labels(catalogue: Catalogue, seed: int = 3
                    ) -> Callable[[Sequence[EventRecord]], list[EventRecord]]:
    """A ``prepare`` (recommender/candidate.py) that renames every item to another of the
    same retailer through one fixed permutation: the model learns the data's structure under
    the wrong names. (Labels drawn at random make a weaker saboteur: folded in from her real
    history, a hybrid still ranks items sharing her items' category and brand, and kept
    hit@10 0.35 against the real 0.44.)"""
    rng = random.Random(seed)
    pools: dict[str, list[str]] = defaultdict(list)
    for entry in catalogue:
        pools[entry.retailer].append(entry.item_id)
    mapping: dict[str, str] = {}
    for items in pools.values():
        names = sorted(items)
        moved = names[:]
        rng.shuffle(moved)
        mapping.update(zip(names, moved, strict=True))

    def prepare(records: Sequence[EventRecord]) -> list[EventRecord]:
        return [replace(e, item_id=mapping.get(e.item_id, e.item_id)) for e in records]

    return prepare
