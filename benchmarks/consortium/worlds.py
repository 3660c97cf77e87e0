"""The consortium experiment's worlds: the demo consortium and MovieLens split into retailers.

``demo``
    :func:`recommender.datasets.demo_world.generate_world` with the given seed (tastes span
    retailers).
``movielens``
    MovieLens ratings of 4 or more, split into three retailers by :func:`assign_retailers`: each
    movie belongs to one retailer by a seeded hash of its id; each user shops at 1, 2 or 3
    retailers (30/35/35 %), which ones by a seeded hash; her ratings at retailers she does not
    shop at are dropped. The catalogues are disjoint.
``movielens-overlap``
    The same, but a seeded :data:`MOVIELENS_OVERLAP` of the movies is also sold by a second
    retailer (the same item id at both: the same product at two members); a rating of such a
    movie is placed at one of its sellers the user shops at, by a seeded hash. Overlapping
    catalogues are where another member's data says most about an item.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from recommender.dataset import Interaction, Item
from recommender.datasets.demo_inputs import to_interactions, to_items
from recommender.datasets.demo_world import WorldConfig, generate_world

WORLDS: tuple[str, ...] = ("movielens", "movielens-overlap", "demo")
#: Retailers MovieLens is split into (the demo world's default retailer ids).
MOVIELENS_RETAILERS: tuple[str, ...] = ("alder", "birch", "cedar")
#: Share of MovieLens users shopping at 1, 2 and 3 retailers.
MOVIELENS_SHOP_COUNTS: tuple[float, ...] = (0.30, 0.35, 0.35)
#: Share of movies the ``movielens-overlap`` world has a second retailer sell.
MOVIELENS_OVERLAP = 0.4


@dataclass(frozen=True)
class ConsortiumData:
    """A world ready for the experiment.

    ``items`` carry a ``retailer:<r>`` feature per retailer selling them besides their content
    features; ``item_sellers`` names every retailer selling an item (one in disjoint worlds);
    ``interactions`` are unique per (user, item) and each names its retailer, one of its item's
    sellers.
    """

    name: str
    retailers: tuple[str, ...]
    items: tuple[Item, ...]
    item_sellers: Mapping[str, tuple[str, ...]]
    interactions: tuple[Interaction, ...]

    def catalogue(self, retailer: str) -> tuple[Item, ...]:
        """The items one retailer sells, in the order of ``items``."""
        return tuple(it for it in self.items if retailer in self.item_sellers[it.item_id])


@dataclass(frozen=True)
class RetailerAssignment:
    """The outcome of :func:`assign_retailers`.

    ``kept`` are the interactions at a retailer the user shops at (with ``retailer`` set),
    ``dropped`` the others; together they are the input, each interaction exactly once.
    ``item_retailer`` is each item's first seller, ``item_sellers`` all of them (first first).
    """

    item_retailer: Mapping[str, str]
    item_sellers: Mapping[str, tuple[str, ...]]
    customer_retailers: Mapping[str, tuple[str, ...]]
    kept: tuple[Interaction, ...]
    dropped: tuple[Interaction, ...]


def _unit(seed: int, kind: str, key: str) -> float:
    """A uniform number in [0, 1) fixed by (seed, kind, key), independent of input order."""
    digest = hashlib.sha256(f"{seed}:{kind}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign_retailers(
    interactions: Iterable[Interaction],
    items: Iterable[Item],
    *,
    retailers: Sequence[str] = MOVIELENS_RETAILERS,
    seed: int,
    shop_counts: Sequence[float] = MOVIELENS_SHOP_COUNTS,
    overlap: float = 0.0,
) -> RetailerAssignment:
    """Split a single-shop data set into retailers by a seeded, order-independent rule.

    * item ``i`` belongs to ``retailers[floor(u(seed, "item", i) * n)]``; when
      ``u(seed, "overlap", i) < overlap`` a second retailer sells it too, the other retailer
      with the smallest ``u(seed, "second:<r>", i)``;
    * user ``c`` shops at ``k`` retailers, ``k`` drawn from ``shop_counts`` (probabilities of
      1, 2, ... retailers) with ``u(seed, "count", c)``; they are the ``k`` retailers with the
      smallest ``u(seed, "shop:<r>", c)``;
    * an interaction is kept when the user shops at one of its item's sellers, placed at the
      one of those with the smallest ``u(seed, "where:<r>", "<c>:<i>")``.

    ``u`` is a SHA-256 based uniform number, so the rule does not depend on the input order.

    Raises:
        ValueError: on fewer than two retailers, duplicate retailers, ``shop_counts`` that are
            not probabilities for 1..len(retailers) retailers, ``overlap`` outside [0, 1], or
            an interaction naming an item absent from ``items``.
    """
    names = tuple(retailers)
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError("need at least two distinct retailers")
    probs = np.asarray(shop_counts, dtype=np.float64)
    if probs.size == 0 or probs.size > len(names) or (probs < 0).any():
        raise ValueError("shop_counts must hold 1..len(retailers) non-negative probabilities")
    if not np.isclose(probs.sum(), 1.0):
        raise ValueError(f"shop_counts must sum to 1, got {probs.sum()}")
    if not 0.0 <= overlap <= 1.0:
        raise ValueError(f"overlap must lie in [0, 1], got {overlap}")
    cumulative = np.cumsum(probs)
    item_sellers: dict[str, tuple[str, ...]] = {}
    for it in items:
        first = names[int(_unit(seed, "item", it.item_id) * len(names))]
        if _unit(seed, "overlap", it.item_id) < overlap:
            others = [r for r in names if r != first]
            second = min(others, key=lambda r: _unit(seed, f"second:{r}", it.item_id))
            item_sellers[it.item_id] = (first, second)
        else:
            item_sellers[it.item_id] = (first,)
    item_retailer = {item: sold_by[0] for item, sold_by in item_sellers.items()}
    customer_retailers: dict[str, tuple[str, ...]] = {}
    kept: list[Interaction] = []
    dropped: list[Interaction] = []
    for inter in interactions:
        sellers = item_sellers.get(inter.item_id)
        if sellers is None:
            raise ValueError(f"interaction names unknown item id {inter.item_id!r}")
        shops = customer_retailers.get(inter.user_id)
        if shops is None:
            k = int(np.searchsorted(cumulative, _unit(seed, "count", inter.user_id), "right")) + 1
            k = min(k, probs.size)
            order = sorted(names, key=lambda r: _unit(seed, f"shop:{r}", inter.user_id))
            shops = tuple(sorted(order[:k], key=names.index))
            customer_retailers[inter.user_id] = shops
        where = [r for r in sellers if r in shops]
        if where:
            key = f"{inter.user_id}:{inter.item_id}"
            retailer = min(where, key=lambda r: _unit(seed, f"where:{r}", key))
            kept.append(replace(inter, retailer=retailer))
        else:
            dropped.append(inter)
    return RetailerAssignment(
        item_retailer, item_sellers, customer_retailers, tuple(kept), tuple(dropped)
    )


def _unique(interactions: Iterable[Interaction]) -> tuple[Interaction, ...]:
    """One interaction per (user, item): the first, with the largest weight seen."""
    out: dict[tuple[str, str], Interaction] = {}
    for inter in interactions:
        key = (inter.user_id, inter.item_id)
        seen = out.get(key)
        if seen is None:
            out[key] = inter
        elif inter.weight > seen.weight:
            out[key] = replace(seen, weight=inter.weight)
    return tuple(out.values())


def _with_retailer_features(
    items: Iterable[Item], item_sellers: Mapping[str, tuple[str, ...]]
) -> list[Item]:
    out = []
    for it in items:
        added = tuple(
            f"retailer:{r}" for r in item_sellers[it.item_id] if f"retailer:{r}" not in it.features
        )
        out.append(Item(it.item_id, (*added, *it.features)))
    return out


def load_world(
    world_name: str,
    *,
    seed: int,
    quick: bool = False,
    world_config: WorldConfig | None = None,
) -> ConsortiumData:
    """The named world (see the module docstring) as :class:`ConsortiumData`.

    ``quick`` gives a small demo world (400 customers, 120 items per retailer) or, for
    MovieLens, its users with the smallest seeded hash (a third of them). ``world_config``
    replaces the demo world's config (its seed included); only for ``"demo"``.

    Raises:
        ValueError: for an unknown world name or a ``world_config`` given for MovieLens.
    """
    if world_name == "demo":
        if world_config is None:
            world_config = WorldConfig(seed=seed)
            if quick:
                world_config = replace(world_config, customers=400, items_per_retailer=120)
        world = generate_world(world_config)
        return ConsortiumData(
            name="demo",
            retailers=world_config.retailer_ids,
            items=tuple(to_items(world)),
            item_sellers={it.item_id: (it.retailer,) for it in world.items},
            interactions=_unique(to_interactions(world)),
        )
    if world_name in ("movielens", "movielens-overlap"):
        if world_config is not None:
            raise ValueError("world_config applies to the demo world only")
        from recommender.datasets.movielens import load_movielens

        interactions, items = load_movielens(min_rating=4.0)
        if quick:
            interactions = [i for i in interactions if _unit(seed, "quick", i.user_id) < 1 / 3]
        overlap = MOVIELENS_OVERLAP if world_name == "movielens-overlap" else 0.0
        assignment = assign_retailers(interactions, items, seed=seed, overlap=overlap)
        return ConsortiumData(
            name=world_name,
            retailers=MOVIELENS_RETAILERS,
            items=tuple(_with_retailer_features(items, assignment.item_sellers)),
            item_sellers=assignment.item_sellers,
            interactions=_unique(assignment.kept),
        )
    raise ValueError(f"unknown world {world_name!r}; choose one of {WORLDS}")
