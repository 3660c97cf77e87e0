"""The model card's pure parts: the recent held-out slice, segments, Gini, popular items and
the figures from a set of scored suggestions."""

from __future__ import annotations

import pytest

from recommender.catalogue import Catalogue, CatalogueEntry
from recommender.model_card import (
    HeldOut,
    Scored,
    card_figures,
    gini,
    popular_items,
    recent_holdout,
    segment_of,
    without_holdout,
)
from recommender.slices import EventRecord

R, OTHER = "AlderMSP", "BirchMSP"


def _catalogue() -> Catalogue:
    entries = [CatalogueEntry(f"a{i}", R, "shoes" if i < 6 else "coats",
                              "Kalu" if i % 2 else "Vesa", "mid", stores=("a-s1",))
               for i in range(10)]
    entries.append(CatalogueEntry("b0", OTHER, "shoes", "Kalu", "mid", stores=("b-s1",)))
    return Catalogue(entries)


def _ev(customer: str, item: str, t: float, retailer: str = R, kind: str = "purchase",
        value: float = 1.0) -> EventRecord:
    return EventRecord(customer, retailer, item, kind, value, store_id="a-s1"
                       if retailer == R else "b-s1", timestamp=t)


def test_segments_by_earlier_items_here():
    assert [segment_of(n) for n in (0, 1, 4, 5, 40)] == ["new", "thin", "thin", "warm", "warm"]
    with pytest.raises(ValueError):
        segment_of(-1)


def test_the_held_out_item_is_the_one_she_chose_first_most_recently():
    events = [_ev("c1", "a1", 10), _ev("c1", "a2", 20), _ev("c1", "a1", 30),  # a1 repeated
              _ev("c1", "b0", 5, OTHER)]
    (held,) = recent_holdout(events, R, _catalogue(), max_customers=10)
    assert held.item_id == "a2" and held.timestamp == 20
    assert held.segment == "thin" and held.shared and held.group == "thin.shared"
    assert held.store_id == "a-s1"


def test_customers_with_nothing_earlier_or_only_negatives_are_not_held_out():
    events = [_ev("c1", "a1", 10),                                  # one item only
              _ev("c2", "a1", 10), _ev("c2", "a2", 5, kind="like", value=-1.0),  # a dislike
              _ev("c3", "a3", 10, OTHER)]                           # nothing here
    assert recent_holdout(events, R, _catalogue(), max_customers=10) == []


def test_a_first_visit_predicted_from_another_member_is_new_and_shared():
    events = [_ev("c1", "b0", 5, OTHER), _ev("c1", "a4", 9)]
    (held,) = recent_holdout(events, R, _catalogue(), max_customers=10)
    assert (held.segment, held.shared) == ("new", True)


def test_the_slice_keeps_the_most_recent_customers():
    events = [e for c, t in (("c1", 100), ("c2", 300), ("c3", 200))
              for e in (_ev(c, "a0", t - 50), _ev(c, "a1", t))]
    held = recent_holdout(events, R, _catalogue(), max_customers=2)
    assert [h.customer_id for h in held] == ["c2", "c3"]
    with pytest.raises(ValueError):
        recent_holdout(events, R, _catalogue(), max_customers=0)


def test_without_holdout_drops_every_event_of_the_held_pairs_here_only():
    events = [_ev("c1", "a1", 10), _ev("c1", "a2", 20), _ev("c1", "a2", 25),
              _ev("c2", "a2", 20)]
    held = [HeldOut("c1", "a2", "a-s1", 20, "thin", False)]
    assert without_holdout(events, held, R) == [events[0], events[3]]


def test_gini():
    assert gini([]) == 0.0 and gini([0, 0]) == 0.0 and gini([3, 3, 3]) == 0.0
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        gini([1, -1])


def test_popular_items_are_the_top_tenth_by_distinct_customers_here():
    events = [_ev(f"c{j}", "a7", 1) for j in range(3)] + [_ev("c0", "a7", 2)] + \
             [_ev(f"c{j}", "a2", 1) for j in range(2)] + \
             [_ev(f"c{j}", "b0", 1, OTHER) for j in range(9)]
    assert popular_items(events, R, _catalogue()) == frozenset({"a7"})
    assert popular_items(events, R, _catalogue(), fraction=0.2) == frozenset({"a7", "a2"})


def test_card_figures_from_scored_suggestions():
    catalogue = _catalogue()
    records = [_ev(f"c{j}", "a0", 1) for j in range(5)]  # a0 is the popular one
    scored = [
        Scored(HeldOut("c1", "a0", "a-s1", 9, "new", True), ("a0", "a1")),
        Scored(HeldOut("c2", "a3", "a-s1", 8, "warm", False), ("a0", "a2")),
    ]
    card = card_figures(scored, catalogue, R, records, {R: 12, OTHER: 3})
    assert card["slice.customers"] == 2.0 and card["hit@10"] == 0.5
    assert card["segment.new.shared.hit@10"] == 1.0
    assert card["segment.warm.own.hit@10"] == 0.0
    assert card["segment.warm.own.customers"] == 1.0
    assert card["popular_top10pct.share"] == 0.5          # a0 in 2 of 4 slots
    assert card["exposure.category.top_share"] == 1.0     # all shoes
    assert card["exposure.category.gini"] == pytest.approx(0.5)
    assert card["exposure.brand.top_share"] == 0.75       # a0, a2 Vesa; a0 again
    assert card["coverage"] == 0.3                        # a0, a1, a2 of 10
    assert card["records.AlderMSP"] == 12.0 and card["records.BirchMSP"] == 3.0
    assert all(isinstance(v, float) for v in card.values())


def test_an_empty_slice_still_gives_the_records_and_zero_exposure():
    card = card_figures([], _catalogue(), R, [], {R: 4})
    assert card == {"slice.customers": 0.0, "popular_top10pct.share": 0.0,
                    "exposure.category.top_share": 0.0, "exposure.category.gini": 0.0,
                    "exposure.brand.top_share": 0.0, "exposure.brand.gini": 0.0,
                    "coverage": 0.0, "records.AlderMSP": 4.0}
