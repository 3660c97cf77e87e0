"""A retailer's catalogue as the recommender needs it: items, their features, who stocks them.

Catalogues are each retailer's own data, kept by its gateway, not on the ledger (DESIGN §4).
Training needs the content features of every item a readable event names, including other
members' items: without shared features (category, brand, price band) nothing a customer did
at one member can say anything about another member's items. A :class:`Catalogue` may
therefore hold several retailers' items; serving uses only the stores of its own retailer.

Example::

    >>> cat = Catalogue([CatalogueEntry("a-1", "alder", "shoes", "Kalu", "mid", ("alder-s01",))])
    >>> cat.retailer_of_store("alder-s01"), cat.items_in_store("alder-s01")
    ('alder', ('a-1',))
    >>> cat.entry("a-1").features
    ('retailer:alder', 'category:shoes', 'brand:Kalu', 'price:mid')
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from recommender.dataset import Item


def _check_name(kind: str, value: object) -> None:
    if not isinstance(value, str) or not value or value != value.strip():
        raise ValueError(f"{kind} must be a non-empty string without outer spaces, got {value!r}")


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One item of a retailer's catalogue and the stores that stock it.

    Raises ``ValueError`` on an empty id, retailer, category, brand or price band, or a
    store id that is not a non-empty string.
    """

    item_id: str
    retailer: str
    category: str
    brand: str
    price_band: str
    stores: tuple[str, ...] = ()
    title: str = ""

    def __post_init__(self) -> None:
        for kind in ("item_id", "retailer", "category", "brand", "price_band"):
            _check_name(kind, getattr(self, kind))
        stores = tuple(sorted(set(self.stores)))
        for store in stores:
            _check_name("store id", store)
        object.__setattr__(self, "stores", stores)

    @property
    def features(self) -> tuple[str, ...]:
        """Item features in the recommender's ``kind:value`` vocabulary (the same as
        :attr:`recommender.datasets.demo_world.CatalogueItem.features`)."""
        return (
            f"retailer:{self.retailer}",
            f"category:{self.category}",
            f"brand:{self.brand}",
            f"price:{self.price_band}",
        )


class Catalogue:
    """Items of one or more retailers, indexed by item and by store.

    ``store_retailers`` may declare stores that stock nothing yet (store id -> retailer); every
    store an entry names is added with the entry's retailer.

    Raises ``ValueError`` on a duplicate item id or a store claimed by two retailers.
    """

    def __init__(
        self, entries: Iterable[CatalogueEntry], store_retailers: Mapping[str, str] | None = None
    ) -> None:
        by_id: dict[str, CatalogueEntry] = {}
        store_of: dict[str, str] = {}
        stocked: dict[str, list[str]] = {}
        for store, retailer in (store_retailers or {}).items():
            _check_name("store id", store)
            _check_name("retailer", retailer)
            store_of[store] = retailer
            stocked[store] = []
        for entry in entries:
            if entry.item_id in by_id:
                raise ValueError(f"duplicate item id {entry.item_id!r}")
            by_id[entry.item_id] = entry
            for store in entry.stores:
                owner = store_of.setdefault(store, entry.retailer)
                if owner != entry.retailer:
                    raise ValueError(
                        f"store {store!r} is claimed by retailers {owner!r} and {entry.retailer!r}"
                    )
                stocked.setdefault(store, []).append(entry.item_id)
        self._entries = MappingProxyType(by_id)
        self._store_retailer = MappingProxyType(store_of)
        self._stocked = MappingProxyType({s: tuple(sorted(ids)) for s, ids in stocked.items()})

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[CatalogueEntry]:
        return iter(self._entries.values())

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._entries

    def entry(self, item_id: str) -> CatalogueEntry:
        """The entry of ``item_id``. Raises ``KeyError`` if the catalogue has none."""
        return self._entries[item_id]

    def get(self, item_id: str) -> CatalogueEntry | None:
        return self._entries.get(item_id)

    @property
    def retailers(self) -> tuple[str, ...]:
        """Sorted retailers with an item or a store in this catalogue."""
        return tuple(
            sorted(
                {e.retailer for e in self._entries.values()} | set(self._store_retailer.values())
            )
        )

    def stores(self, retailer: str | None = None) -> tuple[str, ...]:
        """Sorted store ids (of one retailer, if given)."""
        return tuple(
            sorted(s for s, r in self._store_retailer.items() if retailer is None or r == retailer)
        )

    def retailer_of_store(self, store_id: str) -> str:
        """The retailer a store belongs to. Raises ``KeyError`` for an unknown store."""
        return self._store_retailer[store_id]

    def items_in_store(self, store_id: str) -> tuple[str, ...]:
        """Sorted ids of the items a store stocks. Raises ``KeyError`` for an unknown store."""
        return self._stocked[store_id]

    def items(self) -> list[Item]:
        """Every entry as a recommender :class:`~recommender.dataset.Item`, in id order."""
        return [Item(e.item_id, e.features) for _, e in sorted(self._entries.items())]

    # -- files ----------------------------------------------------------------------------

    def to_json(self) -> str:
        """The catalogue as JSON: ``{"stores": {store: retailer}, "items": [entry...]}``."""
        return json.dumps({
            "stores": dict(sorted(self._store_retailer.items())),
            "items": [
                {"item_id": e.item_id, "retailer": e.retailer, "category": e.category,
                 "brand": e.brand, "price_band": e.price_band, "stores": list(e.stores),
                 "title": e.title}
                for _, e in sorted(self._entries.items())
            ],
        }, indent=1, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Catalogue:
        """Read :meth:`to_json`'s form. Raises ``ValueError`` naming what is wrong."""
        try:
            data = json.loads(text)
            stores = data["stores"]
            entries = [CatalogueEntry(str(e["item_id"]), e["retailer"], e["category"],
                                      e["brand"], e["price_band"], tuple(e.get("stores", ())),
                                      e.get("title", ""))
                       for e in data["items"]]
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a catalogue file: {exc!r}") from None
        if not isinstance(stores, dict):
            raise ValueError("not a catalogue file: 'stores' must map store ids to retailers")
        return cls(entries, stores)
