"""A small demo consortium and a model trained for one of its retailers, shared by the serving
and training tests (training takes about a second)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chaincode.provenance import hash_consent_set
from recommender.catalogue import Catalogue
from recommender.config import ModelConfig
from recommender.datasets.demo_inputs import catalogue_from_world, stated_from_world
from recommender.datasets.demo_world import PreferenceEvent, World, WorldConfig, generate_world
from recommender.slices import StatedPreferences
from recommender.training import train_retailer_model

SERVING = "alder"
SMALL_CONFIG = ModelConfig(no_components=16, learning_rate=0.1, max_sampled=30, epochs=15, seed=3)


@dataclass(frozen=True)
class Consortium:
    """The world, the customers who let ``alder`` use their data held by the other members,
    and what ``alder`` may read for personalisation."""

    world: World
    catalogue: Catalogue
    consenting: frozenset[str]
    readable: tuple[PreferenceEvent, ...]
    stated: tuple[StatedPreferences, ...]
    consents: tuple[tuple[str, str, int], ...]
    #: every event of each customer, at every member
    events_of: Mapping[str, tuple[PreferenceEvent, ...]]


@dataclass(frozen=True)
class Trained:
    path: Path
    record: dict[str, Any]


@pytest.fixture(scope="session")
def consortium() -> Consortium:
    world = generate_world(
        WorldConfig(seed=5, customers=200, items_per_retailer=80, stores_per_retailer=2)
    )
    customers = sorted(c.customer_id for c in world.customers)
    consenting = frozenset(c for j, c in enumerate(customers) if j % 10 < 7)
    readable = tuple(
        e for e in world.events if e.retailer == SERVING or e.customer_id in consenting
    )
    stated = tuple(
        s
        for s in stated_from_world(world.customers)
        if s.retailer == SERVING or s.customer_id in consenting
    )
    consents = tuple((c, f"k-{c[-6:]}", 1) for c in sorted(consenting))
    events_of: dict[str, list[PreferenceEvent]] = defaultdict(list)
    for event in world.events:
        events_of[event.customer_id].append(event)
    return Consortium(
        world,
        catalogue_from_world(world),
        consenting,
        readable,
        stated,
        consents,
        {c: tuple(evs) for c, evs in events_of.items()},
    )


@pytest.fixture(scope="session")
def trained(consortium: Consortium, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    path = tmp_path_factory.mktemp("model") / "alder-current"
    record = train_retailer_model(
        SERVING,
        consortium.readable,
        consortium.catalogue,
        consortium.stated,
        output_dir=path,
        block_height=42,
        consent_set_hash=hash_consent_set(consortium.consents),
        config=SMALL_CONFIG,
    )
    return Trained(path, record)
