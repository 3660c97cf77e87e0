"""A store's catalogue as the kiosk sees it: the store checked, and items found by a clerk.

The kiosk records a view, like or purchase only of an item this returns, so what a store
records at the kiosk is always an item of its retailer's catalogue stocked by that store.

Example::

    >>> from recommender.catalogue import Catalogue, CatalogueEntry
    >>> cat = Catalogue([CatalogueEntry("e-1", "EastMSP", "shoes", "Kalu", "mid", ("s1",),
    ...                                 "Trail running shoe")])
    >>> [e.item_id for e in search_store(cat, "EastMSP", "s1", "kalu trail")]
    ['e-1']
"""

from __future__ import annotations

from recommender.catalogue import Catalogue, CatalogueEntry
from recommender.errors import UnknownStore

#: At most this many items answer one search (the kiosk shows them as cards).
MAX_RESULTS = 50


def store_items(catalogue: Catalogue, retailer: str, store_id: str) -> tuple[str, ...]:
    """The ids of the items ``store_id`` stocks, if it is a store of ``retailer``.

    Raises the recommender's UnknownStore (HTTP 404 UNKNOWN_STORE) for a store the catalogue
    does not know or one of another retailer.
    """
    try:
        owner = catalogue.retailer_of_store(store_id)
    except KeyError:
        raise UnknownStore(store_id) from None
    if owner != retailer:
        raise UnknownStore(store_id)
    return catalogue.items_in_store(store_id)


def _words(entry: CatalogueEntry) -> str:
    return " ".join((entry.item_id, entry.title, entry.brand, entry.category)).casefold()


def search_store(catalogue: Catalogue, retailer: str, store_id: str, query: str,
                 limit: int = 20) -> list[CatalogueEntry]:
    """Items of the store matching ``query``: an exact item code first, then items whose
    id, name, brand or category hold every word of it (case-insensitive), by name.

    Raises UnknownStore as :func:`store_items`, and ValueError for a limit outside
    1..:data:`MAX_RESULTS`.
    """
    if not 1 <= limit <= MAX_RESULTS:
        raise ValueError(f"limit must lie in [1, {MAX_RESULTS}], got {limit}")
    stocked = [catalogue.entry(i) for i in store_items(catalogue, retailer, store_id)]
    wanted = query.strip()
    exact = [e for e in stocked if e.item_id == wanted]
    terms = wanted.casefold().split()
    found = sorted((e for e in stocked if e not in exact
                    and all(t in _words(e) for t in terms)),
                   key=lambda e: ((e.title or e.item_id).casefold(), e.item_id))
    return (exact + found)[:limit]
