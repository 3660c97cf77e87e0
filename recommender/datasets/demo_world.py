"""A seeded synthetic consortium: retailers, stores, catalogues, customers and their events.

The world is what the demo (ledger seeding, kiosks) and the consortium experiment run on. It is
generated from one frozen :class:`WorldConfig`; the same config always gives the same world, down
to every event id and timestamp.

How it is generated
-------------------
* **Brands and categories are shared by the market**: ``brands_per_category`` invented brand names
  per category. Each retailer carries a random subset of the brands of each category (at least
  two), has its own category emphasis and its own price positioning, and lists
  ``items_per_retailer`` items with ids of its own (``<retailer>-i0001``), so catalogues overlap in
  categories and brands but never in item ids.
* **Stores stock subsets**: every store of a retailer stocks a random ``store_stock_share`` of the
  retailer's catalogue (each item is stocked by at least one store).
* **Customers have tastes that span retailers**: favourite categories (a sparse Dirichlet draw),
  favourite brands within each category and a preferred price band. The same taste drives her
  choices at every retailer she shops at.
* **Customers shop at one or several retailers**: a share ``multi_retailer_share`` shops at two or
  more, the rest at one. Each has a home store per retailer, where most of her visits happen.
* **Events**: a *visit* is one item looked at in a store (a ``view`` event); it leads to a ``like``
  and/or a ``purchase`` with a probability that is higher when the item matches her taste. An item
  is chosen by category (her category weights), then brand (her brand weights), price band and the
  item's own popularity, among what the store stocks; with probability ``noise`` it is chosen
  uniformly at random from the store instead. Timestamps lie in ``days`` days from ``start``.
* **Stated preferences**: a share ``stated_preference_share`` of customers state some preferences
  (``category:<c>``, ``brand:<b>``, ``price:<band>``), mostly true to their taste, sometimes not.

Customer ids are pseudonymous (``cust-`` and 16 hex digits of a seeded hash); the world holds no
names, e-mail addresses, phone numbers or postal addresses.

Example::

    world = generate_world(WorldConfig(seed=7, customers=200))
    # The recommender's inputs from it: recommender.datasets.demo_inputs.
    interactions = to_interactions(world)          # one Interaction per (customer, item)
    items = to_items(world)                        # features: retailer, category, brand, price
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
from numpy.typing import NDArray

EventType = Literal["view", "like", "purchase"]

PRICE_BANDS: tuple[str, ...] = ("budget", "mid", "premium")
EVENT_TYPES: tuple[EventType, ...] = ("view", "like", "purchase")
#: Default weight of each event type when events become training interactions.
EVENT_WEIGHTS: dict[str, float] = {"view": 1.0, "like": 2.0, "purchase": 3.0}

_DEFAULT_CATEGORIES: tuple[str, ...] = (
    "shoes",
    "outerwear",
    "knitwear",
    "shirts",
    "trousers",
    "dresses",
    "bags",
    "accessories",
    "sportswear",
    "beauty",
    "home",
    "kitchen",
)
# Price range per band, in whole currency units.
_PRICE_RANGES: dict[str, tuple[int, int]] = {
    "budget": (5, 30),
    "mid": (30, 90),
    "premium": (90, 400),
}
_SYLLABLES: tuple[str, ...] = (
    "al", "be", "cor", "da", "el", "fen", "ga", "hol", "ir", "ka", "lu", "mar", "no", "or",
    "pel", "qui", "ro", "sa", "ter", "ul", "ve", "wen", "xa", "yor", "zen",
)  # fmt: skip


@dataclass(frozen=True)
class WorldConfig:
    """Everything that shapes a generated world; the seed makes it reproducible.

    Raises:
        ValueError: on a non-positive count, a share outside [0, 1], duplicate names, or a
            combination that cannot be built (e.g. multi-retailer customers with one retailer).
    """

    seed: int = 0
    retailer_ids: tuple[str, ...] = ("alder", "birch", "cedar")
    retailer_names: tuple[str, ...] = ("Alder & Co", "Birch Market", "Cedar Stores")
    stores_per_retailer: int = 3
    categories: tuple[str, ...] = _DEFAULT_CATEGORIES
    brands_per_category: int = 6
    items_per_retailer: int = 300
    #: Share of a retailer's catalogue each store stocks.
    store_stock_share: float = 0.7
    customers: int = 1000
    #: Share of customers who shop at two or more retailers.
    multi_retailer_share: float = 0.6
    #: Mean number of items a customer looks at over the whole period (all retailers).
    mean_visits_per_customer: float = 25.0
    #: Probability that a visit ignores the customer's taste (uniform over the store's stock).
    noise: float = 0.15
    #: Concentration of the customers' category weights; smaller means more focused tastes.
    taste_concentration: float = 0.3
    #: Share of customers who stated preferences.
    stated_preference_share: float = 0.3
    #: Start of the period, seconds since the Unix epoch (default 2025-01-01T00:00:00Z).
    start: float = 1_735_689_600.0
    days: int = 180

    def __post_init__(self) -> None:
        counts = {
            "stores_per_retailer": self.stores_per_retailer,
            "brands_per_category": self.brands_per_category,
            "items_per_retailer": self.items_per_retailer,
            "customers": self.customers,
            "days": self.days,
        }
        for name, value in counts.items():
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        shares = {
            "store_stock_share": self.store_stock_share,
            "multi_retailer_share": self.multi_retailer_share,
            "noise": self.noise,
            "stated_preference_share": self.stated_preference_share,
        }
        for name, share in shares.items():
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {share}")
        if self.store_stock_share == 0.0:
            raise ValueError("store_stock_share must be positive")
        if not self.retailer_ids:
            raise ValueError("at least one retailer is needed")
        if len(self.retailer_names) != len(self.retailer_ids):
            raise ValueError("retailer_names must match retailer_ids one to one")
        if len(set(self.retailer_ids)) != len(self.retailer_ids):
            raise ValueError("retailer_ids must be distinct")
        if not self.categories or len(set(self.categories)) != len(self.categories):
            raise ValueError("categories must be non-empty and distinct")
        if self.multi_retailer_share > 0 and len(self.retailer_ids) < 2:
            raise ValueError("multi_retailer_share > 0 needs at least two retailers")
        if self.mean_visits_per_customer < 1:
            raise ValueError("mean_visits_per_customer must be at least 1")
        if self.taste_concentration <= 0:
            raise ValueError("taste_concentration must be positive")


@dataclass(frozen=True)
class Retailer:
    """A member retailer (an organisation of the consortium)."""

    retailer_id: str
    name: str
    store_ids: tuple[str, ...]


@dataclass(frozen=True)
class Store:
    """A store of a retailer and the item ids it stocks (a subset of the retailer's catalogue)."""

    store_id: str
    retailer: str
    item_ids: tuple[str, ...]


@dataclass(frozen=True)
class CatalogueItem:
    """An item of one retailer's catalogue; ``price`` is in whole currency units."""

    item_id: str
    retailer: str
    title: str
    category: str
    brand: str
    price_band: str
    price: int

    @property
    def features(self) -> tuple[str, ...]:
        """Item features in the recommender's ``kind:value`` vocabulary."""
        return (
            f"retailer:{self.retailer}",
            f"category:{self.category}",
            f"brand:{self.brand}",
            f"price:{self.price_band}",
        )


@dataclass(frozen=True)
class Taste:
    """A customer's latent taste (ground truth of the simulation, never shown to models)."""

    favourite_categories: tuple[str, ...]
    favourite_brands: tuple[str, ...]
    price_band: str


@dataclass(frozen=True)
class Customer:
    """A pseudonymous customer: the retailers she shops at, her home store at each, her taste."""

    customer_id: str
    retailers: tuple[str, ...]
    home_stores: tuple[str, ...]
    taste: Taste
    #: Preferences she stated herself (``category:<c>``, ``brand:<b>``, ``price:<band>``); may
    #: be empty.
    stated_preferences: tuple[str, ...] = ()


@dataclass(frozen=True)
class PreferenceEvent:
    """One preference event recorded by a store (see DESIGN.md §4); ``timestamp`` in Unix s."""

    event_id: str
    customer_id: str
    retailer: str
    store_id: str
    item_id: str
    event_type: EventType
    weight: float
    timestamp: float


@dataclass(frozen=True)
class World:
    """A generated world. Events are sorted by (timestamp, event_id)."""

    config: WorldConfig
    retailers: tuple[Retailer, ...]
    stores: tuple[Store, ...]
    items: tuple[CatalogueItem, ...]
    customers: tuple[Customer, ...]
    events: tuple[PreferenceEvent, ...]

    @cached_property
    def items_by_id(self) -> dict[str, CatalogueItem]:
        """Catalogue items by item id."""
        return {it.item_id: it for it in self.items}

    def item(self, item_id: str) -> CatalogueItem:
        """The catalogue item with this id. Raises ``KeyError`` if there is none."""
        return self.items_by_id[item_id]

    def catalogue(self, retailer: str) -> tuple[CatalogueItem, ...]:
        """The items of one retailer's catalogue. Raises ``ValueError`` for an unknown one."""
        if retailer not in self.config.retailer_ids:
            raise ValueError(f"unknown retailer {retailer!r}")
        return tuple(it for it in self.items if it.retailer == retailer)


def _brand_names(rng: np.random.Generator, count: int) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        parts = rng.choice(len(_SYLLABLES), size=int(rng.integers(2, 4)))
        name = "".join(_SYLLABLES[p] for p in parts).capitalize()
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def customer_id_for(seed: int, index: int) -> str:
    """The pseudonymous id of customer ``index`` in the world of ``seed``.

    >>> customer_id_for(0, 0)[:5]
    'cust-'
    """
    digest = hashlib.sha256(f"prefshare-demo-customer:{seed}:{index}".encode()).hexdigest()
    return f"cust-{digest[:16]}"


def generate_world(config: WorldConfig) -> World:
    """Generate the world that ``config`` describes; deterministic for a given config.

    Takes under a second for the default size (1,000 customers, about 35,000 events).
    """
    rng = np.random.default_rng(config.seed)
    cats = config.categories
    n_cat = len(cats)
    n_bpc = config.brands_per_category
    n_bands = len(PRICE_BANDS)

    # Brands: brand b of category c has global index c * n_bpc + b.
    brand_names = _brand_names(rng, n_cat * n_bpc)

    retailers: list[Retailer] = []
    stores: list[Store] = []
    items: list[CatalogueItem] = []
    # Per retailer: arrays over its items (category, brand, band, popularity) and per store masks.
    r_cat: dict[str, NDArray[np.int64]] = {}
    r_brand: dict[str, NDArray[np.int64]] = {}
    r_band: dict[str, NDArray[np.int64]] = {}
    r_pop: dict[str, NDArray[np.float64]] = {}
    r_items: dict[str, list[str]] = {}
    store_stock: dict[str, NDArray[np.int64]] = {}
    for r_id, r_name in zip(config.retailer_ids, config.retailer_names, strict=True):
        emphasis = rng.dirichlet(np.full(n_cat, 2.0))
        price_mix = rng.dirichlet(np.full(n_bands, 3.0))
        carried = []
        for c in range(n_cat):
            mask = rng.random(n_bpc) < 0.7
            if mask.sum() < min(2, n_bpc):
                mask[rng.choice(n_bpc, size=min(2, n_bpc), replace=False)] = True
            carried.append(np.flatnonzero(mask) + c * n_bpc)
        cat = rng.choice(n_cat, size=config.items_per_retailer, p=emphasis)
        brand = np.array([rng.choice(carried[c]) for c in cat], dtype=np.int64)
        band = rng.choice(n_bands, size=config.items_per_retailer, p=price_mix)
        pop = rng.lognormal(0.0, 0.8, size=config.items_per_retailer)
        ids = [f"{r_id}-i{k + 1:04d}" for k in range(config.items_per_retailer)]
        for k, item_id in enumerate(ids):
            lo, hi = _PRICE_RANGES[PRICE_BANDS[band[k]]]
            b_name = brand_names[brand[k]]
            items.append(
                CatalogueItem(
                    item_id=item_id,
                    retailer=r_id,
                    title=f"{b_name} {cats[cat[k]]} no. {k + 1}",
                    category=cats[cat[k]],
                    brand=b_name,
                    price_band=PRICE_BANDS[band[k]],
                    price=int(rng.integers(lo, hi + 1)),
                )
            )
        r_cat[r_id], r_brand[r_id], r_band[r_id], r_pop[r_id] = cat, brand, band, pop
        r_items[r_id] = ids

        stock = rng.random((config.stores_per_retailer, config.items_per_retailer))
        stocked = stock < config.store_stock_share
        # Every item is stocked somewhere: give an unstocked item to one random store.
        orphans = np.flatnonzero(~stocked.any(axis=0))
        stocked[rng.integers(0, config.stores_per_retailer, size=orphans.size), orphans] = True
        store_ids = tuple(f"{r_id}-s{s + 1:02d}" for s in range(config.stores_per_retailer))
        for s, s_id in enumerate(store_ids):
            idx = np.flatnonzero(stocked[s])
            store_stock[s_id] = idx
            stores.append(Store(s_id, r_id, tuple(ids[k] for k in idx)))
        retailers.append(Retailer(r_id, r_name, store_ids))

    customers: list[Customer] = []
    events: list[PreferenceEvent] = []
    event_counter = {r_id: 0 for r_id in config.retailer_ids}
    n_ret = len(config.retailer_ids)
    span = float(config.days * 86_400)
    for index in range(config.customers):
        c_id = customer_id_for(config.seed, index)
        cat_w = rng.dirichlet(np.full(n_cat, config.taste_concentration))
        brand_w = np.concatenate([rng.dirichlet(np.full(n_bpc, 0.5)) for _ in range(n_cat)])
        fav_band = int(rng.integers(0, n_bands))
        band_w = np.array([0.7 if b == fav_band else 0.3 / (n_bands - 1) for b in range(n_bands)])
        if n_bands == 1:
            band_w = np.ones(1)

        if n_ret > 1 and rng.random() < config.multi_retailer_share:
            k = int(rng.integers(2, n_ret + 1))
        else:
            k = 1
        shop_at = sorted(rng.choice(n_ret, size=k, replace=False).tolist())
        my_retailers = tuple(config.retailer_ids[j] for j in shop_at)
        home = tuple(
            f"{r}-s{int(rng.integers(0, config.stores_per_retailer)) + 1:02d}" for r in my_retailers
        )
        share = rng.dirichlet(np.full(k, 2.0))
        n_visits = max(1, int(rng.poisson(config.mean_visits_per_customer)))
        visits_per_retailer = rng.multinomial(n_visits, share)

        # Favourite categories: her top three that carry at least 10% of her weight (or her top).
        top3 = np.argsort(-cat_w, kind="stable")[:3]
        fav_cats = top3[cat_w[top3] >= 0.1] if (cat_w[top3] >= 0.1).any() else top3[:1]
        fav_brands = [
            int(c * n_bpc + np.argmax(brand_w[c * n_bpc : (c + 1) * n_bpc])) for c in fav_cats
        ]
        taste = Taste(
            favourite_categories=tuple(cats[c] for c in fav_cats),
            favourite_brands=tuple(brand_names[b] for b in fav_brands),
            price_band=PRICE_BANDS[fav_band],
        )
        stated: tuple[str, ...] = ()
        if rng.random() < config.stated_preference_share:
            stated_list = []
            for c in fav_cats[:2]:
                # A stated preference is sometimes not what her behaviour shows.
                c_stated = int(rng.integers(0, n_cat)) if rng.random() < 0.2 else int(c)
                stated_list.append(f"category:{cats[c_stated]}")
            if rng.random() < 0.5:
                stated_list.append(f"brand:{brand_names[fav_brands[0]]}")
            if rng.random() < 0.5:
                stated_list.append(f"price:{PRICE_BANDS[fav_band]}")
            stated = tuple(dict.fromkeys(stated_list))
        customers.append(Customer(c_id, my_retailers, home, taste, stated))

        for r_id, home_store, n_r in zip(my_retailers, home, visits_per_retailer, strict=True):
            if n_r == 0:
                continue
            others = [s for s in _store_ids(r_id, config) if s != home_store]
            at_home = rng.random(n_r) < 0.8 if others else np.ones(n_r, dtype=bool)
            chosen_store = [
                home_store if h else others[int(rng.integers(0, len(others)))] for h in at_home
            ]
            for s_id in sorted(set(chosen_store)):
                n_s = chosen_store.count(s_id)
                idx = store_stock[s_id]
                cat_i, brand_i, band_i = r_cat[r_id][idx], r_brand[r_id][idx], r_band[r_id][idx]
                # Category first (her weights over what this store stocks), then within the
                # category by brand, price band and the item's own popularity.
                within = brand_w[brand_i] * band_w[band_i] * r_pop[r_id][idx]
                cat_total = np.bincount(cat_i, weights=within, minlength=n_cat)
                cat_p = cat_w * (cat_total > 0)
                cat_p = (
                    cat_p / cat_p.sum()
                    if cat_p.sum() > 0
                    else (cat_total > 0) / ((cat_total > 0).sum())
                )
                p_taste = cat_p[cat_i] * within / cat_total[cat_i]
                p_taste = p_taste / p_taste.sum()
                noisy = rng.random(n_s) < config.noise
                picks = np.where(
                    noisy,
                    rng.integers(0, idx.size, size=n_s),
                    rng.choice(idx.size, size=n_s, p=p_taste),
                )
                # How well the picked item fits her taste, in [0, 1], drives like and purchase.
                fit = (
                    cat_w[cat_i[picks]] / cat_w.max()
                    + brand_w[brand_i[picks]] / _per_cat_max(brand_w, cat_i[picks], n_bpc)
                    + (band_i[picks] == fav_band)
                ) / 3.0
                times = config.start + rng.random(n_s) * span
                for pick, t, f in zip(picks, times, fit, strict=True):
                    item_id = r_items[r_id][idx[pick]]
                    t0 = float(np.floor(t))
                    kinds: list[tuple[EventType, float]] = [("view", t0)]
                    if rng.random() < 0.05 + 0.35 * f:
                        kinds.append(("like", t0 + float(rng.integers(5, 600))))
                    if rng.random() < 0.02 + 0.28 * f:
                        kinds.append(("purchase", t0 + float(rng.integers(60, 1800))))
                    for kind, when in kinds:
                        event_counter[r_id] += 1
                        events.append(
                            PreferenceEvent(
                                event_id=f"{r_id}-e{event_counter[r_id]:07d}",
                                customer_id=c_id,
                                retailer=r_id,
                                store_id=s_id,
                                item_id=item_id,
                                event_type=kind,
                                weight=EVENT_WEIGHTS[kind],
                                timestamp=when,
                            )
                        )
    events.sort(key=lambda e: (e.timestamp, e.event_id))
    return World(
        config=config,
        retailers=tuple(retailers),
        stores=tuple(stores),
        items=tuple(items),
        customers=tuple(customers),
        events=tuple(events),
    )


def _store_ids(retailer: str, config: WorldConfig) -> list[str]:
    return [f"{retailer}-s{s + 1:02d}" for s in range(config.stores_per_retailer)]


def _per_cat_max(
    brand_w: NDArray[np.float64], cats: NDArray[np.int64], n_bpc: int
) -> NDArray[np.float64]:
    per_cat = brand_w.reshape(-1, n_bpc).max(axis=1)
    return np.asarray(per_cat[cats], dtype=np.float64)
