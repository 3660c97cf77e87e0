"""Fold-in: her representation from her consented events, and the kiosk serving a customer the
model never saw (or her events since training) from them, without retraining."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from recommender.foldin import FOLD_IN_SCALE, FoldIn
from recommender.serving import SuggestionService
from recommender.slices import ConsentView, CustomerHistory, EventRecord

SERVING = "alder"


@pytest.fixture(scope="module")
def service(consortium: Any, trained: Any) -> SuggestionService:
    return SuggestionService(SERVING, consortium.catalogue, artifact=trained.path)


# -- the vector ------------------------------------------------------------------------------------


def test_user_vector_is_the_weighted_mean_direction_at_the_fixed_length() -> None:
    fold = FoldIn(np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]]), length=10.0)
    vec = fold.user_vector(np.array([0, 1]), np.array([3.0, 1.0]))
    assert vec.dtype == np.float32
    assert np.linalg.norm(vec) == pytest.approx(10.0)
    assert vec[0] / vec[1] == pytest.approx(3.0)


def test_a_repeated_item_adds_its_weights() -> None:
    fold = FoldIn(np.array([[1.0, 0.0], [0.0, 1.0]]), length=1.0)
    repeated = fold.user_vector(np.array([0, 0, 1]))
    weighted = fold.user_vector(np.array([0, 1]), np.array([2.0, 1.0]))
    np.testing.assert_allclose(repeated, weighted, rtol=1e-6)


def test_items_cancelling_out_give_the_zero_vector() -> None:
    fold = FoldIn(np.array([[1.0, 0.0], [-1.0, 0.0]]), length=5.0)
    assert not fold.user_vector(np.array([0, 1])).any()


@pytest.mark.parametrize(
    ("items", "weights"),
    [
        (np.array([], dtype=np.int64), None),
        (np.array([0.5]), None),
        (np.array([[0]]), None),
        (np.array([2]), None),
        (np.array([-1]), None),
        (np.array([0, 1]), np.array([1.0])),
        (np.array([0]), np.array([0.0])),
        (np.array([0]), np.array([np.nan])),
    ],
)
def test_bad_items_or_weights_are_refused(items: np.ndarray, weights: np.ndarray | None) -> None:
    fold = FoldIn(np.eye(2), length=1.0)
    with pytest.raises(ValueError):
        fold.user_vector(items, weights)


@pytest.mark.parametrize("length", [0.0, -1.0, float("inf"), True])
def test_a_non_positive_length_is_refused(length: float) -> None:
    with pytest.raises(ValueError):
        FoldIn(np.eye(2), length=length)


def test_for_model_takes_a_multiple_of_the_median_trained_length(
    service: SuggestionService,
) -> None:
    installed = service._installed
    assert installed is not None
    model = installed.model
    median = float(np.median(np.linalg.norm(model.user_representations, axis=1)))
    fold = FoldIn.for_model(model)
    assert fold.length == pytest.approx(FOLD_IN_SCALE * median, rel=1e-5)
    assert fold.n_items == model.n_items


# -- serving ---------------------------------------------------------------------------------------


def _items_of(consortium: Any, retailer: str, category: str | None = None) -> list[Any]:
    return [
        i
        for i in consortium.catalogue
        if i.retailer == retailer and (category is None or i.category == category)
    ]


def _purchases(
    customer: str, items: list[Any], start: float = 1_700_000_000.0
) -> list[EventRecord]:
    return [
        EventRecord(customer, it.retailer, it.item_id, "purchase", 1.0, it.category,
                    timestamp=start + j)
        for j, it in enumerate(items)
    ]


def test_a_customer_the_model_never_saw_is_personalised_from_her_consented_events(
    service: SuggestionService, consortium: Any
) -> None:
    customer = "cust-new0000000001"
    assert customer not in service._installed.slices  # type: ignore[union-attr]
    bought = _items_of(consortium, "birch")[:3]
    history = CustomerHistory(customer, tuple(_purchases(customer, bought)))
    shared = service.suggest(
        "alder-s01", customer, 10, consent=ConsentView.for_retailers(customer, ["birch"]),
        history=history,
    )
    assert shared.strategy == "personalised"
    assert shared.data_sources == ("birch",)
    cited = {r.detail for s in shared.items for r in s.reasons if r.kind == "similar_item"}
    assert cited and cited <= {it.item_id for it in bought}
    assert all(
        r.retailer == "birch" and r.data_category == "purchases"
        for s in shared.items for r in s.reasons if r.kind == "similar_item"
    )
    # Without her consent the same events are invisible: popular items, nothing of birch.
    alone = service.suggest(
        "alder-s01", customer, 10, consent=ConsentView.none(customer), history=history
    )
    assert alone.strategy == "popularity" and alone.data_sources == ()
    assert shared.item_ids != alone.item_ids


def test_her_purchases_at_the_serving_retailer_fold_in_without_any_consent(
    service: SuggestionService, consortium: Any
) -> None:
    customer = "cust-new0000000002"
    bought = _items_of(consortium, SERVING)[:2]
    answer = service.suggest(
        "alder-s01", customer, 10, consent=ConsentView.none(customer),
        history=CustomerHistory(customer, tuple(_purchases(customer, bought))),
    )
    assert answer.strategy == "personalised" and answer.data_sources == (SERVING,)
    assert not set(answer.item_ids) & {it.item_id for it in bought}


def test_folded_in_suggestions_follow_what_she_chose(
    service: SuggestionService, consortium: Any
) -> None:
    categories = sorted({i.category for i in _items_of(consortium, "birch")})
    answers = {}
    for n, category in enumerate(categories[:2]):
        customer = f"cust-new000000001{n}"
        bought = _items_of(consortium, "birch", category)[:4]
        answers[category] = service.suggest(
            "alder-s01", customer, 10, consent=ConsentView.for_retailers(customer, ["birch"]),
            history=CustomerHistory(customer, tuple(_purchases(customer, bought))),
        ).item_ids
    first, second = answers.values()
    assert first != second


def _trained_customer(service: SuggestionService, consortium: Any) -> str:
    """A consenting customer the model learnt a slice of at the serving retailer."""
    installed = service._installed
    assert installed is not None
    return next(
        c for c in sorted(consortium.consenting)
        if SERVING in {sl.retailer for sl, _ in installed.slices.get(c, ())}
    )


def test_a_trained_customer_without_new_events_is_served_as_trained(
    service: SuggestionService, consortium: Any
) -> None:
    customer = _trained_customer(service, consortium)
    history = CustomerHistory.from_records(customer, consortium.events_of[customer])
    consent = ConsentView.for_retailers(customer, ["birch", "cedar"])
    with_history = service.suggest("alder-s01", customer, 10, consent=consent, history=history)
    without = service.suggest(
        "alder-s01", customer, 10, consent=consent,
        history=CustomerHistory(customer, tuple(e for e in history.events if e.retailer == "none")),
    )
    # The model learnt every event she has: her trained representation serves in both cases
    # (only the sequence part, which reads her history, may reorder).
    assert with_history.strategy == without.strategy == "personalised"
    assert any(r.kind == "activity" for s in with_history.items for r in s.reasons)


def test_a_new_purchase_of_a_trained_customer_changes_her_next_answer(
    service: SuggestionService, consortium: Any
) -> None:
    customer = _trained_customer(service, consortium)
    events = tuple(consortium.events_of[customer])
    consent = ConsentView.for_retailers(customer, ["birch", "cedar"])
    before = service.suggest(
        "alder-s01", customer, 10, consent=consent,
        history=CustomerHistory.from_records(customer, events),
    )
    known = {e.item_id for e in events}
    fresh = [i for i in _items_of(consortium, "birch") if i.item_id not in known][:3]
    after = service.suggest(
        "alder-s01", customer, 10, consent=consent,
        history=CustomerHistory.from_records(
            customer, (*events, *_purchases(customer, fresh, start=1_900_000_000.0))
        ),
    )
    assert after.strategy == "personalised" and after.item_ids != before.item_ids
