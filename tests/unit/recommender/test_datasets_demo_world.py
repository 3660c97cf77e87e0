"""Tests of the seeded synthetic consortium world."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.datasets.demo_inputs import to_interactions, to_items, to_user_profiles
from recommender.datasets.demo_world import EVENT_WEIGHTS, World, WorldConfig, generate_world

SMALL = WorldConfig(seed=11, customers=250, items_per_retailer=120)


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(SMALL)


def test_generate_world_is_identical_for_the_same_seed(world: World) -> None:
    again = generate_world(SMALL)
    assert again == world
    assert [e.event_id for e in again.events] == [e.event_id for e in world.events]


def test_generate_world_differs_for_another_seed(world: World) -> None:
    other = generate_world(dataclasses.replace(SMALL, seed=12))
    assert [c.customer_id for c in other.customers] != [c.customer_id for c in world.customers]
    assert [(e.item_id, e.timestamp) for e in other.events[:50]] != [
        (e.item_id, e.timestamp) for e in world.events[:50]
    ]


def test_every_event_names_an_item_its_store_stocks_at_its_retailer(world: World) -> None:
    stock = {s.store_id: set(s.item_ids) for s in world.stores}
    store_retailer = {s.store_id: s.retailer for s in world.stores}
    for ev in world.events:
        assert world.item(ev.item_id).retailer == ev.retailer
        assert store_retailer[ev.store_id] == ev.retailer
        assert ev.item_id in stock[ev.store_id]


def test_stores_stock_proper_subsets_that_together_cover_the_catalogue(world: World) -> None:
    for retailer in world.retailers:
        catalogue = {it.item_id for it in world.catalogue(retailer.retailer_id)}
        stocked: set[str] = set()
        for store in (s for s in world.stores if s.retailer == retailer.retailer_id):
            assert store.store_id in retailer.store_ids
            assert set(store.item_ids) < catalogue
            stocked |= set(store.item_ids)
        assert stocked == catalogue


def test_catalogues_share_brands_and_categories_but_not_item_ids(world: World) -> None:
    by_retailer = {r.retailer_id: world.catalogue(r.retailer_id) for r in world.retailers}
    ids = [it.item_id for items in by_retailer.values() for it in items]
    assert len(ids) == len(set(ids)) == len(world.items)
    brands = [{it.brand for it in items} for items in by_retailer.values()]
    categories = [{it.category for it in items} for items in by_retailer.values()]
    assert set.intersection(*brands)
    assert set.intersection(*categories)
    assert all(len(items) == SMALL.items_per_retailer for items in by_retailer.values())


def test_customers_have_events_only_at_retailers_they_shop_at(world: World) -> None:
    shops = {c.customer_id: set(c.retailers) for c in world.customers}
    assert all(ev.retailer in shops[ev.customer_id] for ev in world.events)
    homes = {c.customer_id: c.home_stores for c in world.customers}
    for customer in world.customers:
        assert [h.split("-s")[0] for h in homes[customer.customer_id]] == list(customer.retailers)


def test_multi_retailer_share_matches_the_config_roughly(world: World) -> None:
    multi = sum(len(c.retailers) >= 2 for c in world.customers) / len(world.customers)
    assert abs(multi - SMALL.multi_retailer_share) < 0.1


def test_customer_ids_are_pseudonymous_and_records_carry_no_personal_fields(world: World) -> None:
    pattern = re.compile(r"^cust-[0-9a-f]{16}$")
    assert all(pattern.match(c.customer_id) for c in world.customers)
    assert len({c.customer_id for c in world.customers}) == len(world.customers)
    forbidden = {"name", "email", "e_mail", "phone", "address", "birth", "postcode", "zip"}
    for record_type in (type(world.customers[0]), type(world.events[0])):
        for f in dataclasses.fields(record_type):
            assert not any(word in f.name for word in forbidden), f.name


def test_events_have_unique_ids_sorted_timestamps_inside_the_period(world: World) -> None:
    ids = [e.event_id for e in world.events]
    assert len(ids) == len(set(ids))
    times = [e.timestamp for e in world.events]
    assert times == sorted(times)
    end = SMALL.start + SMALL.days * 86_400 + 3_600
    assert SMALL.start <= times[0] and times[-1] <= end
    assert {e.event_type for e in world.events} == {"view", "like", "purchase"}
    assert all(e.weight == EVENT_WEIGHTS[e.event_type] for e in world.events)


def test_views_fall_mostly_in_the_customers_favourite_categories(world: World) -> None:
    favourites = {c.customer_id: set(c.taste.favourite_categories) for c in world.customers}
    views = [e for e in world.events if e.event_type == "view"]
    in_favourite = sum(world.item(e.item_id).category in favourites[e.customer_id] for e in views)
    # Chance level is at most 3 of 12 categories (25%); tastes plus 15% noise give far more.
    assert in_favourite / len(views) > 0.6


def test_purchases_favour_the_customers_price_band(world: World) -> None:
    band = {c.customer_id: c.taste.price_band for c in world.customers}
    purchases = [e for e in world.events if e.event_type == "purchase"]
    share = sum(world.item(e.item_id).price_band == band[e.customer_id] for e in purchases)
    assert share / len(purchases) > 0.5


def test_some_but_not_all_customers_state_preferences(world: World) -> None:
    stated = [c for c in world.customers if c.stated_preferences]
    assert 0.15 < len(stated) / len(world.customers) < 0.45
    kinds = Counter(p.split(":")[0] for c in stated for p in c.stated_preferences)
    assert set(kinds) <= {"category", "brand", "price"}
    assert kinds["category"] > 0
    profiles = to_user_profiles(world)
    assert [p.user_id for p in profiles] == [c.customer_id for c in world.customers]


def test_to_interactions_keeps_one_per_customer_item_with_the_strongest_event(
    world: World,
) -> None:
    interactions = to_interactions(world)
    keys = [(i.user_id, i.item_id) for i in interactions]
    assert len(keys) == len(set(keys))
    strongest: dict[tuple[str, str], float] = {}
    for ev in world.events:
        key = (ev.customer_id, ev.item_id)
        strongest[key] = max(strongest.get(key, 0.0), ev.weight)
    assert {(i.user_id, i.item_id): i.weight for i in interactions} == strongest
    assert len(to_interactions(world, aggregate=False)) == len(world.events)


def test_to_interactions_for_one_retailer_keeps_only_its_events(world: World) -> None:
    only = to_interactions(world, retailers=["birch"])
    assert only and {i.retailer for i in only} == {"birch"}
    assert all(i.item_id.startswith("birch-") for i in only)


def test_to_items_describe_retailer_category_brand_and_price(world: World) -> None:
    items = to_items(world, retailers=["alder"])
    assert len(items) == SMALL.items_per_retailer
    prefixes = {tuple(f.split(":")[0] for f in item.features) for item in items}
    assert prefixes == {("retailer", "category", "brand", "price")}
    assert all("retailer:alder" in item.features for item in items)


@pytest.mark.parametrize(
    "change",
    [
        {"customers": 0},
        {"store_stock_share": 0.0},
        {"noise": 1.5},
        {"retailer_names": ("only one",)},
        {"retailer_ids": ("a", "a", "b")},
        {"retailer_ids": ("solo",), "retailer_names": ("Solo",)},
        {"categories": ()},
    ],
)
def test_world_config_rejects_an_impossible_setting(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(WorldConfig(), **change)  # type: ignore[arg-type]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    retailers=st.integers(1, 4),
    stores=st.integers(1, 3),
    stock=st.floats(0.2, 1.0),
    multi=st.floats(0.0, 1.0),
)
def test_small_worlds_of_any_shape_keep_the_catalogue_invariants(
    seed: int, retailers: int, stores: int, stock: float, multi: float
) -> None:
    ids = tuple(f"r{k}" for k in range(retailers))
    config = WorldConfig(
        seed=seed,
        retailer_ids=ids,
        retailer_names=ids,
        stores_per_retailer=stores,
        store_stock_share=stock,
        customers=30,
        items_per_retailer=25,
        multi_retailer_share=multi if retailers > 1 else 0.0,
        mean_visits_per_customer=5,
    )
    world = generate_world(config)
    stock_of = {s.store_id: set(s.item_ids) for s in world.stores}
    assert len(world.stores) == retailers * stores
    assert all(ev.item_id in stock_of[ev.store_id] for ev in world.events)
    assert all(world.item(ev.item_id).retailer == ev.retailer for ev in world.events)
    assert all(len(set(c.retailers)) == len(c.retailers) >= 1 for c in world.customers)
