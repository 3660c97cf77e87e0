"""The consented view of a customer: feature names, event shapes, consent views, histories."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from recommender.datasets.demo_world import PreferenceEvent
from recommender.slices import (
    ConsentView,
    CustomerHistory,
    EventRecord,
    Slice,
    StatedPreferences,
    context_feature,
    event_record,
    request_features,
    slice_feature,
)


def test_a_slice_feature_parses_back_to_its_slice() -> None:
    sl = Slice("c_abc", "Org2MSP", "purchases")
    assert Slice.parse(sl.feature) == sl
    assert sl.feature == slice_feature("c_abc", "Org2MSP", "purchases")
    assert sl.row == "c_abc|Org2MSP|purchases"
    for other in ("context:alder", "stated:category:shoes", "slice:alder:gifts:c1", "slice:x"):
        assert Slice.parse(other) is None


def test_request_features_put_context_first_then_slices_then_stated_preferences() -> None:
    slices = [Slice("c1", "birch", "views"), Slice("c1", "alder", "purchases")]
    assert request_features("alder", slices, ["price:mid", "category:shoes"]) == (
        context_feature("alder"),
        "slice:alder:purchases:c1",
        "slice:birch:views:c1",
        "stated:category:shoes",
        "stated:price:mid",
    )


def test_own_data_is_always_allowed_and_others_only_as_granted() -> None:
    view = ConsentView("c1", {"birch": {"views"}, "cedar": set()})
    assert view.allows("alder", "purchases", serving="alder")
    assert view.allows("birch", "views", serving="alder")
    assert not view.allows("birch", "purchases", serving="alder")
    assert not view.allows("cedar", "views", serving="alder")
    assert dict(view.grants) == {"birch": frozenset({"views"})}
    assert not ConsentView.none("c1").allows("birch", "views", serving="alder")
    everything = ConsentView.for_retailers("c1", ["birch"])
    assert all(
        everything.allows("birch", c, serving="alder")
        for c in ("purchases", "views", "stated_preferences")
    )


@pytest.mark.parametrize(
    ("customer", "grants"),
    [("c1", {"birch": {"gifts"}}), ("", {}), ("c|1", {}), ("c1", {"bi:rch": {"views"}})],
)
def test_a_malformed_consent_view_is_refused(customer: str, grants: dict) -> None:
    with pytest.raises(ValueError):
        ConsentView(customer, grants)


def test_event_record_reads_the_demo_and_the_ledger_shapes() -> None:
    demo = PreferenceEvent("e1", "c1", "alder", "alder-s01", "a-1", "purchase", 3.0, 1.7e9)
    assert event_record(demo) == EventRecord(
        "c1", "alder", "a-1", "purchase", 1.0, None, "alder-s01", 1.7e9
    )
    ledger = {
        "event_id": "e-2", "customer_id": "c1", "retailer": "Org2MSP", "item_id": "sku-1",
        "item_category": "outdoor/shoes", "event_type": "like", "value": -1,
        "store_id": "berlin-01", "timestamp": "2025-01-31T09:30:00.000Z", "salt": "x" * 22,
    }  # fmt: skip
    record = event_record(ledger)
    assert record.category == "views" and record.positive_weight is None
    assert record.timestamp == datetime(2025, 1, 31, 9, 30, tzinfo=UTC).timestamp()
    assert record.item_category == "outdoor/shoes"
    assert EventRecord("c1", "a", "i", "rating", value=5).positive_weight == 2.0
    assert EventRecord("c1", "a", "i", "rating", value=3).positive_weight is None


@pytest.mark.parametrize(
    "fields",
    [
        {"event_type": "return"},
        {"value": float("nan")},
        {"value": True},
        {"item_id": ""},
        {"customer_id": "c:1"},
        {"timestamp": "yesterday"},
    ],
)
def test_a_malformed_event_is_refused(fields: dict) -> None:
    raw = {"customer_id": "c1", "retailer": "alder", "item_id": "a-1", "event_type": "view"}
    raw.update(fields)
    with pytest.raises(ValueError):
        event_record(raw)


def test_a_history_refuses_records_of_another_customer() -> None:
    with pytest.raises(ValueError, match="another customer"):
        CustomerHistory("c1", (EventRecord("c2", "alder", "a-1", "view"),))
    with pytest.raises(ValueError, match="another customer"):
        CustomerHistory("c1", (), (StatedPreferences("c2", "alder", ("category:shoes",)),))
    history = CustomerHistory.from_records(
        "c1", [{"customer_id": "c1", "retailer": "alder", "item_id": "a-1", "event_type": "view"}]
    )
    assert history.events == (EventRecord("c1", "alder", "a-1", "view"),)
