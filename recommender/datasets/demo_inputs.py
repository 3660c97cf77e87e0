"""The demo world as the recommender's inputs: a retailer's catalogue and stated preferences.

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
from recommender.datasets.demo_world import Customer, World
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
