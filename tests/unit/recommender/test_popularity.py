"""Tests of honest popularity: counts from the serving retailer's own records, shown in the
reason, with and without a model."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import scipy.sparse as sp

from gateway.suggestions import own_popularity as gateway_own_popularity
from recommender.popularity import own_popularity, popularity_from_events, popularity_reason
from recommender.serving import SuggestionService
from recommender.slices import ConsentView, CustomerHistory, Slice

SERVING = "alder"


def _event(customer: str, retailer: str, item: str, event_type: str = "purchase") -> dict[str, Any]:
    return {
        "customer_id": customer,
        "retailer": retailer,
        "item_id": item,
        "event_type": event_type,
        "value": 1,
    }


def test_popularity_from_events_counts_distinct_customers_of_the_retailers_own_events() -> None:
    events = [
        _event("c1", SERVING, "shoe"),
        _event("c1", SERVING, "shoe", "view"),  # the same customer counts once
        _event("c2", SERVING, "shoe"),
        _event("c3", "birch", "shoe"),  # another member's record never counts
        _event("c3", SERVING, "hat"),
    ]
    assert popularity_from_events(events, SERVING) == {"shoe": 2.0, "hat": 1.0}


def test_own_popularity_ignores_the_slices_other_members_recorded() -> None:
    # rows: c1's alder purchases, c1's birch purchases, c2's birch views; items 0 and 1
    train = sp.csr_matrix(np.array([[1, 0], [1, 1], [1, 1]], dtype=np.float32))
    slices = {
        "c1": ((Slice("c1", SERVING, "purchases"), 0), (Slice("c1", "birch", "purchases"), 1)),
        "c2": ((Slice("c2", "birch", "views"), 2),),
    }
    assert own_popularity(train, slices, SERVING).tolist() == [1.0, 0.0]
    assert own_popularity(train, slices, "birch").tolist() == [2.0, 2.0]


def test_the_reason_of_a_popular_item_states_its_count() -> None:
    assert popularity_reason(SERVING, 12.0).detail == "chosen by 12 customers at alder"
    assert popularity_reason(SERVING, 1.0).detail == "chosen by 1 customer at alder"
    zero = popularity_reason(SERVING, 0.0)
    assert zero.detail == "not yet chosen at alder" and zero.weight == 0.0


def test_a_popular_suggestion_from_the_model_scores_the_count_its_reason_shows(
    consortium: Any, trained: Any
) -> None:
    service = SuggestionService(SERVING, consortium.catalogue, artifact=trained.path)
    customer = "cust-unknown000007"
    answer = service.suggest(
        "alder-s01",
        customer,
        10,
        consent=ConsentView.none(customer),
        history=CustomerHistory(customer),
    )
    assert answer.strategy == "popularity"
    own = popularity_from_events([e for e in consortium.readable if e.retailer == SERVING], SERVING)
    for item in answer.items:
        (reason,) = item.reasons
        assert reason.kind == "popularity" and reason.retailer == SERVING
        assert item.score == reason.weight > 0
        assert reason.detail == f"chosen by {round(item.score)} customers at {SERVING}"
        # the model trained on (at most) her retailer's own events: never more than they hold
        assert item.score <= own[item.item_id]


def test_without_a_model_popular_items_are_ranked_by_the_given_own_counts(consortium: Any) -> None:
    counts = popularity_from_events(consortium.world.events, SERVING)
    service = SuggestionService(SERVING, consortium.catalogue, popularity=counts)
    customer = "cust-unknown000008"
    answer = service.suggest(
        "alder-s01",
        customer,
        5,
        consent=ConsentView.none(customer),
        history=CustomerHistory(customer),
    )
    stocked = consortium.catalogue.items_in_store("alder-s01")
    best = sorted((counts.get(i, 0.0) for i in stocked), reverse=True)[:5]
    assert [s.score for s in answer.items] == best and best[0] > 0
    assert all(s.reasons[0].weight == s.score for s in answer.items)


class _Ledger:
    """The two things the gateway's counting asks of the ledger: its MSP id and the pages of
    ReadOwnTraining (here one page; a birch event slipped in is still not counted)."""

    msp_id = SERVING

    def read_own_training(self, after: str, limit: int) -> SimpleNamespace:
        events = (_event("c1", SERVING, "shoe"), _event("c2", "birch", "shoe"))
        return SimpleNamespace(events=events, next=None)  # an OwnPage's two fields


def test_the_gateway_counts_popular_items_from_its_own_events_on_the_ledger() -> None:
    assert gateway_own_popularity(_Ledger()) == {"shoe": 1.0}  # type: ignore[arg-type]
