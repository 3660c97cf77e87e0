"""The demo world as the recommender's inputs: a retailer's catalogue and stated preferences,
its items, interactions and user profiles.

The model knows catalogues (:class:`recommender.catalogue.Catalogue`) and stated preferences
(:class:`recommender.slices.StatedPreferences`), never the demo world; these build them from
one, for the demo, the tests and the benchmarks.

Example::

    world = generate_world(WorldConfig())
    catalogue = catalogue_from_world(world, retailers=["alder"])
    stated = stated_from_world(world.customers)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from recommender.catalogue import Catalogue, CatalogueEntry
from recommender.dataset import Interaction, Item, UserProfile
from recommender.datasets.demo_world import EVENT_WEIGHTS, Customer, World
from recommender.slices import StatedPreferences


def catalogue_from_world(world: World, *, retailers: Iterable[str] | None = None) -> Catalogue:
    """The demo world's catalogue (all retailers, or only ``retailers``), every store declared
    with its retailer even when it stocks nothing."""
    keep = None if retailers is None else set(retailers)
    stores_of: dict[str, list[str]] = {}
    for store in world.stores:
        for item_id in store.item_ids:
            stores_of.setdefault(item_id, []).append(store.store_id)
    entries = [
        CatalogueEntry(
            it.item_id,
            it.retailer,
            it.category,
            it.brand,
            it.price_band,
            tuple(stores_of.get(it.item_id, ())),
            it.title,
        )
        for it in world.items
        if keep is None or it.retailer in keep
    ]
    declared = {
        s.store_id: s.retailer for s in world.stores if keep is None or s.retailer in keep
    }
    return Catalogue(entries, declared)


def stated_from_world(
    customers: Iterable[Customer], *, recorded_by: Mapping[str, str] | None = None
) -> list[StatedPreferences]:
    """Stated preferences of demo-world customers
    (:class:`recommender.datasets.demo_world.Customer`), recorded by their first retailer
    unless ``recorded_by`` (customer -> retailer) says otherwise; customers who stated
    nothing are skipped."""
    out = []
    for c in customers:
        if c.stated_preferences:
            retailer = (recorded_by or {}).get(c.customer_id, c.retailers[0])
            out.append(StatedPreferences(c.customer_id, retailer, tuple(c.stated_preferences)))
    return out


def to_items(world: World, *, retailers: Iterable[str] | None = None) -> list[Item]:
    """The catalogue as recommender items with ``retailer:``, ``category:``, ``brand:`` and
    ``price:`` features; only the given retailers' items when ``retailers`` is set."""
    keep = None if retailers is None else set(retailers)
    return [
        Item(it.item_id, it.features) for it in world.items if keep is None or it.retailer in keep
    ]


def to_interactions(
    world: World,
    *,
    retailers: Iterable[str] | None = None,
    aggregate: bool = True,
    event_weights: dict[str, float] | None = None,
) -> list[Interaction]:
    """The events as recommender interactions, in event order.

    With ``aggregate`` (the default) there is one interaction per (customer, item): its weight is
    the largest weight of her events on the item, its timestamp that of her first event on it.
    Otherwise one interaction per event. ``event_weights`` overrides :data:`EVENT_WEIGHTS`.

    Raises:
        ValueError: if ``event_weights`` lacks an event type that occurs.
    """
    weights = EVENT_WEIGHTS if event_weights is None else event_weights
    keep = None if retailers is None else set(retailers)
    out: dict[tuple[str, str], Interaction] = {}
    plain: list[Interaction] = []
    for ev in world.events:
        if keep is not None and ev.retailer not in keep:
            continue
        if ev.event_type not in weights:
            raise ValueError(f"no weight for event type {ev.event_type!r}")
        w = float(weights[ev.event_type])
        inter = Interaction(ev.customer_id, ev.item_id, w, ev.retailer, ev.timestamp)
        if not aggregate:
            plain.append(inter)
            continue
        key = (ev.customer_id, ev.item_id)
        seen = out.get(key)
        if seen is None:
            out[key] = inter
        elif w > seen.weight:
            out[key] = Interaction(seen.user_id, seen.item_id, w, seen.retailer, seen.timestamp)
    return list(out.values()) if aggregate else plain


def to_user_profiles(world: World) -> list[UserProfile]:
    """One profile per customer, her stated preferences as features (possibly none)."""
    return [UserProfile(c.customer_id, c.stated_preferences) for c in world.customers]
