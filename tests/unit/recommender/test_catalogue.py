"""The catalogue: items by store, features in the model's vocabulary, consistency checks."""

from __future__ import annotations

import pytest

from recommender.catalogue import Catalogue, CatalogueEntry
from recommender.datasets.demo_inputs import catalogue_from_world
from recommender.datasets.demo_world import WorldConfig, generate_world


def test_the_demo_world_catalogue_keeps_every_store_and_item() -> None:
    world = generate_world(WorldConfig(seed=1, customers=5, items_per_retailer=20))
    catalogue = catalogue_from_world(world)
    assert len(catalogue) == len(world.items)
    assert catalogue.retailers == world.config.retailer_ids
    for store in world.stores:
        assert catalogue.retailer_of_store(store.store_id) == store.retailer
        assert catalogue.items_in_store(store.store_id) == tuple(sorted(store.item_ids))
    item = world.items[0]
    assert catalogue.entry(item.item_id).features == item.features
    only = catalogue_from_world(world, retailers=["birch"])
    assert only.retailers == ("birch",) and only.stores() == only.stores("birch")


def test_a_store_may_stock_nothing_yet() -> None:
    catalogue = Catalogue([], {"alder-s09": "alder"})
    assert catalogue.items_in_store("alder-s09") == ()
    assert catalogue.stores("alder") == ("alder-s09",)
    with pytest.raises(KeyError):
        catalogue.retailer_of_store("alder-s10")


def test_duplicate_items_and_shared_stores_are_refused() -> None:
    a = CatalogueEntry("a-1", "alder", "shoes", "Kalu", "mid", ("s1",))
    with pytest.raises(ValueError, match="duplicate"):
        Catalogue([a, a])
    b = CatalogueEntry("b-1", "birch", "shoes", "Kalu", "mid", ("s1",))
    with pytest.raises(ValueError, match="claimed"):
        Catalogue([a, b])
    with pytest.raises(ValueError):
        CatalogueEntry("a-2", "alder", "", "Kalu", "mid")


def test_catalogue_json_round_trip_keeps_items_and_empty_stores():
    from recommender.catalogue import Catalogue, CatalogueEntry

    entry = CatalogueEntry("a-1", "alder", "shoes", "Kalu", "mid", ("alder-s01",), "Kalu shoe")
    cat = Catalogue([entry], {"alder-s02": "alder"})
    back = Catalogue.from_json(cat.to_json())
    assert back.entry("a-1") == cat.entry("a-1")
    assert back.stores("alder") == ("alder-s01", "alder-s02")


def test_catalogue_file_that_is_not_one_is_refused():
    import pytest

    from recommender.catalogue import Catalogue

    with pytest.raises(ValueError, match="not a catalogue file"):
        Catalogue.from_json('{"items": [{"item_id": "x"}]}')
