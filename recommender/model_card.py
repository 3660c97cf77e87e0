"""A model's card: how well and how evenly it serves, in figures only (no personal data).

The figures are measured on a held-out slice of recent data (:func:`recent_holdout`): for each
customer with a positive event at the serving retailer and an earlier positive event on
another item anywhere, the item she chose at that retailer *for the first time most recently*
(by event time; ties broken by item id) with every event of hers on it, keeping the
``max_customers`` customers whose held-out item is most recent. The model under test never
saw those events (nor did a serving model older than them); each customer is asked for ``k``
suggestions exactly as the kiosk asks (:meth:`recommender.serving.SuggestionService.suggest`,
her earlier events as her history, the other members whose events on her were readable as
her consent view), in a store of the retailer that stocks the held-out item.

Figures (:func:`card_figures`; every value a float, names fit the ledger's provenance
record, ``chaincode.provenance``):

``slice.customers``, ``hit@10``
    Customers measured; share whose held-out item is among the ``k`` suggestions.
``segment.<s>.<c>.hit@10`` and ``segment.<s>.<c>.customers``
    The same by segment ``s``: ``new`` (no earlier item at this retailer: her first visit,
    predicted from other members' data), ``thin`` (1 to :data:`THIN_MAX` earlier items here),
    ``warm`` (more); and ``c``: ``shared`` (other members' events on her were readable, i.e.
    she consented to this retailer) or ``own`` (none were: no consent, or no history
    elsewhere; the ledger read cannot tell those apart). Empty segments are left out.
``popular_top10pct.share``
    Share of all suggestions that are among the 10% of the retailer's catalogue items most
    chosen by distinct customers in its own records (popularity bias; 0.1 if suggestions
    ignored popularity entirely, 1.0 if they were nothing but the most popular).
``exposure.category.top_share``, ``exposure.category.gini``, same for ``brand``
    Share of suggestions going to the most suggested category (brand), and the Gini
    coefficient of suggestions over every category (brand) of the retailer's catalogue
    (0: even exposure; towards 1: a few take everything).
``coverage``
    Distinct items suggested / items in the retailer's catalogue.
``records.<msp id>``
    How many records of each member's data the model was trained on.

Example::

    held = recent_holdout(events, "AlderMSP", catalogue, max_customers=300)
    scored = score_holdout(service, held, events, catalogue)
    card = card_figures(scored, catalogue, "AlderMSP", events)
    card["hit@10"], card["popular_top10pct.share"]
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from recommender.catalogue import Catalogue
from recommender.serving import SuggestionService
from recommender.slices import ConsentView, CustomerHistory, EventRecord

K = 10
#: Earlier distinct items at the retailer up to which a customer's history there is thin.
THIN_MAX = 4
POPULAR_FRACTION = 0.1


@dataclass(frozen=True)
class HeldOut:
    """One customer's held-out event and what the card groups her by."""

    customer_id: str
    item_id: str
    store_id: str
    #: Event time, Unix seconds.
    timestamp: float
    segment: str
    shared: bool

    @property
    def group(self) -> str:
        return f"{self.segment}.{'shared' if self.shared else 'own'}"


def segment_of(earlier_items_here: int) -> str:
    """``new``, ``thin`` or ``warm`` for a count of earlier distinct items at the retailer.

    >>> [segment_of(n) for n in (0, 1, 4, 5)]
    ['new', 'thin', 'thin', 'warm']
    """
    if earlier_items_here < 0:
        raise ValueError(f"a count of items cannot be negative, got {earlier_items_here}")
    return "new" if earlier_items_here == 0 else "thin" if earlier_items_here <= THIN_MAX \
        else "warm"


def _store_for(catalogue: Catalogue, retailer: str, item_id: str, store_id: str | None
               ) -> str | None:
    entry = catalogue.get(item_id)
    if entry is None or entry.retailer != retailer or not entry.stores:
        return None
    return store_id if store_id in entry.stores else entry.stores[0]


def recent_holdout(events: Iterable[EventRecord], retailer: str, catalogue: Catalogue, *,
                   max_customers: int) -> list[HeldOut]:
    """The held-out slice described in the module docstring, most recent first.

    Events without a time are never held out (their order is unknown). Raises ValueError
    when ``max_customers`` < 1.
    """
    if max_customers < 1:
        raise ValueError(f"max_customers must be at least 1, got {max_customers}")
    by_customer: dict[str, list[EventRecord]] = defaultdict(list)
    for ev in events:
        if ev.positive_weight is not None:
            by_customer[ev.customer_id].append(ev)
    held: list[HeldOut] = []
    for customer, evs in by_customer.items():
        # The item she chose here for the first time most recently: a repeat of an item she
        # chose before is left in (a model that saw the first time would be credited).
        first: dict[str, EventRecord] = {}
        for e in evs:
            if e.retailer == retailer and e.timestamp is not None and e.item_id in catalogue:
                seen = first.get(e.item_id)
                if seen is None or (e.timestamp, e.store_id or "") < (seen.timestamp,
                                                                      seen.store_id or ""):
                    first[e.item_id] = e
        if not first:
            continue
        last = max(first.values(), key=lambda e: (e.timestamp, e.item_id))
        assert last.timestamp is not None
        if not any(e.item_id != last.item_id and (e.timestamp is None
                                                  or e.timestamp <= last.timestamp)
                   for e in evs):
            continue  # nothing earlier to predict her from
        store = _store_for(catalogue, retailer, last.item_id, last.store_id)
        if store is None:
            continue
        earlier_here = sum(1 for i, e in first.items()
                           if i != last.item_id and e.timestamp is not None
                           and e.timestamp <= last.timestamp)
        held.append(HeldOut(customer, last.item_id, store, last.timestamp,
                            segment_of(earlier_here),
                            any(e.retailer != retailer for e in evs)))
    held.sort(key=lambda h: (-h.timestamp, h.customer_id))
    return held[:max_customers]


def without_holdout(events: Iterable[EventRecord], held: Sequence[HeldOut], retailer: str
                    ) -> list[EventRecord]:
    """``events`` minus every event of a held-out (customer, item) pair at ``retailer``:
    what a model under test may be trained on."""
    pairs = {(h.customer_id, h.item_id) for h in held}
    return [e for e in events
            if e.retailer != retailer or (e.customer_id, e.item_id) not in pairs]


@dataclass(frozen=True)
class Scored:
    """A held-out customer's ``k`` suggestions (item ids, best first) and whether they hit."""

    held: HeldOut
    items: tuple[str, ...]

    @property
    def hit(self) -> bool:
        return self.held.item_id in self.items


def score_holdout(service: SuggestionService, held: Sequence[HeldOut],
                  events: Iterable[EventRecord], k: int = K) -> list[Scored]:
    """Ask ``service`` for ``k`` suggestions per held-out customer, as the kiosk would, from
    her events up to the held-out one's time (that event excluded) and a consent view
    granting every member whose events on her were read."""
    mine: dict[str, list[EventRecord]] = defaultdict(list)
    wanted = {h.customer_id for h in held}
    for ev in events:
        if ev.customer_id in wanted:
            mine[ev.customer_id].append(ev)
    out = []
    for h in held:
        history = [e for e in mine[h.customer_id]
                   if not (e.retailer == service.retailer and e.item_id == h.item_id)
                   and (e.timestamp is None or e.timestamp <= h.timestamp)]
        grants: dict[str, set[str]] = defaultdict(set)
        for e in mine[h.customer_id]:
            if e.retailer != service.retailer:
                grants[e.retailer].add(e.category)
        view = ConsentView(h.customer_id, {r: frozenset(c) for r, c in grants.items()})
        answer = service.suggest(h.store_id, h.customer_id, k, consent=view,
                                 history=CustomerHistory.from_records(h.customer_id, history))
        out.append(Scored(h, tuple(s.item_id for s in answer.items)))
    return out


def hit_rate(scored: Sequence[Scored]) -> float | None:
    """Share of ``scored`` that hit; None when empty."""
    return sum(s.hit for s in scored) / len(scored) if scored else None


def gini(counts: Sequence[float]) -> float:
    """Gini coefficient of non-negative ``counts`` (0: all equal; 0 for an empty or all-zero
    sequence).

    >>> gini([1, 1, 1, 1]), round(gini([0, 0, 0, 4]), 3)
    (0.0, 0.75)
    """
    values = np.sort(np.asarray(counts, dtype=np.float64))
    if (values < 0).any():
        raise ValueError("counts must be non-negative")
    if values.size == 0 or values.sum() == 0:
        return 0.0
    n = values.size
    ranks = np.arange(1, n + 1)
    return float((2 * (ranks * values).sum()) / (n * values.sum()) - (n + 1) / n)


def popular_items(events: Iterable[EventRecord], retailer: str, catalogue: Catalogue,
                  fraction: float = POPULAR_FRACTION) -> frozenset[str]:
    """The ``fraction`` (rounded up) of ``retailer``'s catalogue items chosen by the most
    distinct customers in its own positive events (ties by item id)."""
    items = sorted(e.item_id for e in catalogue if e.retailer == retailer)
    customers: dict[str, set[str]] = defaultdict(set)
    for ev in events:
        if ev.retailer == retailer and ev.positive_weight is not None:
            customers[ev.item_id].add(ev.customer_id)
    ranked = sorted(items, key=lambda i: (-len(customers.get(i, ())), i))
    return frozenset(ranked[:math.ceil(fraction * len(items))])


def _exposure(kind: str, suggested: Counter[str], universe: Iterable[str]) -> dict[str, float]:
    total = sum(suggested.values())
    counts = [suggested.get(v, 0) for v in sorted(set(universe))]
    return {f"exposure.{kind}.top_share": max(counts) / total if total else 0.0,
            f"exposure.{kind}.gini": gini(counts)}


def card_figures(scored: Sequence[Scored], catalogue: Catalogue, retailer: str,
                 records: Iterable[EventRecord], trained_records: Mapping[str, int]
                 ) -> dict[str, float]:
    """The card's figures (module docstring), rounded to 4 decimals. ``records`` are the
    events the model was trained on (for popularity), ``trained_records`` each member's
    count of records read (MSP id -> count)."""
    figures: dict[str, float] = {"slice.customers": float(len(scored))}
    overall = hit_rate(scored)
    if overall is not None:
        figures["hit@10"] = overall
    groups: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        groups[s.held.group].append(s)
    for group, members in sorted(groups.items()):
        figures[f"segment.{group}.customers"] = float(len(members))
        figures[f"segment.{group}.hit@10"] = hit_rate(members) or 0.0
    shown = [i for s in scored for i in s.items]
    own = [e for e in catalogue if e.retailer == retailer]
    popular = popular_items(records, retailer, catalogue)
    figures["popular_top10pct.share"] = (sum(i in popular for i in shown) / len(shown)
                                         if shown else 0.0)
    entries = [catalogue.entry(i) for i in shown]
    figures.update(_exposure("category", Counter(e.category for e in entries),
                             (e.category for e in own)))
    figures.update(_exposure("brand", Counter(e.brand for e in entries),
                             (e.brand for e in own)))
    figures["coverage"] = len(set(shown)) / len(own) if own else 0.0
    for member, count in sorted(trained_records.items()):
        figures[f"records.{member}"] = float(count)
    return {name: round(value, 4) for name, value in figures.items()}
