"""Kiosk suggestions: store catalogue, exclusions, consent at request time, cold start, errors,
and model swaps that fail safe."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recommender.artifacts import ARRAYS_FILE, MANIFEST_FILE, load_artifact, save_model
from recommender.config import ModelConfig
from recommender.dataset import Interaction, Item, build_dataset
from recommender.errors import InvalidRequest, ModelRejected, UnknownStore
from recommender.model import HybridModel, rank_items
from recommender.popularity import popularity_from_events
from recommender.sequence import ordered_items
from recommender.serving import (
    MAX_SUGGESTIONS,
    Suggestions,
    SuggestionService,
    history_from_events,
)
from recommender.slices import (
    ConsentView,
    CustomerHistory,
    EventRecord,
    StatedPreferences,
    event_record,
    request_features,
)
from recommender.training import train_retailer_model

SERVING = "alder"
OTHERS = ("birch", "cedar")
TINY = ModelConfig(no_components=8, epochs=3, seed=1)


@pytest.fixture(scope="module")
def service(consortium: Any, trained: Any) -> SuggestionService:
    return SuggestionService(SERVING, consortium.catalogue, artifact=trained.path)


def _history(consortium: Any, customer: str) -> CustomerHistory:
    """Everything about her, at every member: wider than any consent, as a careless gateway
    might pass it; the service must filter it."""
    stated = [s for s in consortium.stated if s.customer_id == customer]
    return CustomerHistory.from_records(customer, consortium.events_of.get(customer, ()), stated)


def _home_store(consortium: Any, customer: str) -> str:
    c = next(c for c in consortium.world.customers if c.customer_id == customer)
    return c.home_stores[c.retailers.index(SERVING)] if SERVING in c.retailers else "alder-s01"


def _shared_customers(consortium: Any, service: SuggestionService) -> list[str]:
    """Consenting customers the model knows at alder and at another member."""
    installed = service._installed
    assert installed is not None
    out = []
    for customer in sorted(consortium.consenting):
        retailers = {sl.retailer for sl, _ in installed.slices.get(customer, ())}
        if SERVING in retailers and retailers & set(OTHERS):
            out.append(customer)
    assert len(out) >= 10
    return out


def _all(customer: str) -> ConsentView:
    return ConsentView.for_retailers(customer, OTHERS)


def _ask(
    service: SuggestionService,
    consortium: Any,
    customer: str,
    consent: ConsentView,
    n: int = 10,
    history: CustomerHistory | None = None,
) -> Suggestions:
    return service.suggest(
        _home_store(consortium, customer),
        customer,
        n,
        consent=consent,
        history=history or _history(consortium, customer),
    )


# -- what is suggested -------------------------------------------------------------------------


def test_suggestions_come_only_from_the_store_catalogue(
    service: SuggestionService, consortium: Any, trained: Any
) -> None:
    for customer in _shared_customers(consortium, service)[:10]:
        for store in consortium.catalogue.stores(SERVING):
            answer = service.suggest(
                store, customer, 12, consent=_all(customer), history=_history(consortium, customer)
            )
            assert len(answer.items) == 12
            assert set(answer.item_ids) <= set(consortium.catalogue.items_in_store(store))
            assert answer.model_id == trained.record["model_id"]
            assert answer.strategy == "personalised"
            scores = [s.score for s in answer.items]
            assert scores == sorted(scores, reverse=True)


def test_what_she_bought_at_alder_is_never_suggested(
    service: SuggestionService, consortium: Any
) -> None:
    for customer in _shared_customers(consortium, service)[:15]:
        bought = {
            e.item_id for e in _history(consortium, customer).events if e.event_type == "purchase"
        }
        for consent in (_all(customer), ConsentView.none(customer)):
            # Even with an empty history the model's own record of her purchases excludes them.
            for history in (_history(consortium, customer), CustomerHistory(customer)):
                answer = _ask(service, consortium, customer, consent, n=50, history=history)
                assert not bought & set(answer.item_ids)


def test_a_purchase_at_a_consented_member_is_excluded_and_at_a_withdrawn_one_is_not(
    service: SuggestionService, consortium: Any
) -> None:
    # Members may sell the same product under one id: her purchase at birch of the item alder
    # would suggest first must remove it, but only while birch's purchases may be used.
    customer = _shared_customers(consortium, service)[0]
    history = _history(consortium, customer)
    top = _ask(service, consortium, customer, _all(customer), history=history).items[0].item_id
    bought_at_birch = EventRecord(customer, "birch", top, "purchase", store_id="birch-s01")
    wider = CustomerHistory(customer, (*history.events, bought_at_birch), history.stated)

    consented = _ask(service, consortium, customer, _all(customer), history=wider)
    assert top not in consented.item_ids
    views_only = ConsentView(customer, {"birch": frozenset({"views"})})
    assert top in _ask(service, consortium, customer, views_only, n=50, history=wider).item_ids
    withdrawn = _ask(service, consortium, customer, ConsentView.none(customer), n=50, history=wider)
    assert top in withdrawn.item_ids


# -- consent at request time ---------------------------------------------------------------------


def test_reasons_name_the_retailers_whose_data_drove_them_and_never_a_non_consented_one(
    service: SuggestionService, consortium: Any
) -> None:
    cited_others = set()
    rng = np.random.default_rng(0)
    for customer in _shared_customers(consortium, service):
        granted = [r for r in OTHERS if rng.random() < 0.5]
        consent = ConsentView.for_retailers(customer, granted)
        answer = _ask(service, consortium, customer, consent)
        allowed = {SERVING, *granted}
        assert set(answer.data_sources) <= allowed
        for item in answer.items:
            assert item.reasons
            assert {r.retailer for r in item.reasons} <= allowed
            cited_others |= {r.retailer for r in item.reasons if r.kind == "activity"} - {SERVING}
    # The shared data did drive suggestions, and the reasons say whose it was.
    assert cited_others


def test_withdrawal_changes_suggestions_on_the_next_call_without_retraining(
    service: SuggestionService, consortium: Any
) -> None:
    changed = 0
    for customer in _shared_customers(consortium, service)[:15]:
        model_id = service.model_id
        before = _ask(service, consortium, customer, _all(customer))
        after = _ask(service, consortium, customer, ConsentView.none(customer))
        assert service.model_id == model_id == after.model_id
        assert set(before.data_sources) - {SERVING}
        assert after.data_sources == (SERVING,)
        assert all(r.retailer == SERVING for s in after.items for r in s.reasons)
        changed += before.item_ids != after.item_ids
        assert [s.score for s in before.items] != [s.score for s in after.items]
    assert changed >= 10


def test_after_withdrawal_the_answer_is_what_her_own_data_alone_gives(
    service: SuggestionService, consortium: Any, trained: Any
) -> None:
    # White box: the scores must be those of a user built from the context and her alder
    # slices only, blended with the neighbours of what she chose at alder, whatever else the
    # model and the history hold about her.
    loaded = load_artifact(trained.path)
    model = loaded.model
    customer = _shared_customers(consortium, service)[1]
    installed = service._installed
    assert installed is not None
    own = [sl for sl, _ in installed.slices[customer] if sl.retailer == SERVING]
    stated = [
        p
        for s in consortium.stated
        if s.customer_id == customer
        for p in s.features
        if s.retailer == SERVING
    ]
    scores = model.score_new_user(request_features(SERVING, own, stated))
    assert loaded.sequence is not None
    at_alder = [
        (e.item_id, e.timestamp)
        for e in (event_record(r) for r in consortium.events_of[customer])
        if e.retailer == SERVING and e.positive_weight is not None
    ]
    recent = ordered_items(at_alder, model.index.item_index)
    seq = loaded.sequence.neighbours.score_sequence(recent)
    scores = loaded.sequence.blend(scores[None, :], seq[None, :])[0]
    store = _home_store(consortium, customer)
    bought = model.index.item_indices(
        [
            e.item_id
            for e in consortium.world.events
            if e.customer_id == customer and e.retailer == SERVING and e.event_type == "purchase"
        ],
        ignore_unknown=True,
    )
    expected = rank_items(
        scores,
        10,
        allowed_items=model.index.item_indices(
            consortium.catalogue.items_in_store(store), ignore_unknown=True
        ),
        exclude=bought,
    )
    answer = _ask(service, consortium, customer, ConsentView.none(customer))
    assert answer.item_ids == tuple(model.index.item_ids[i] for i, _ in expected)


def test_a_customer_new_at_alder_is_personalised_only_while_she_consents(
    service: SuggestionService, consortium: Any
) -> None:
    installed = service._installed
    assert installed is not None
    newcomers = [
        c
        for c in sorted(consortium.consenting)
        if c in installed.slices
        and SERVING not in {sl.retailer for sl, _ in installed.slices[c]}
        and not any(s.customer_id == c for s in consortium.stated)
    ]
    assert newcomers
    customer = newcomers[0]
    shared = service.suggest(
        "alder-s01", customer, 5, consent=_all(customer), history=_history(consortium, customer)
    )
    assert shared.strategy == "personalised"
    alone = service.suggest(
        "alder-s01",
        customer,
        5,
        consent=ConsentView.none(customer),
        history=_history(consortium, customer),
    )
    assert alone.strategy == "popularity" and alone.data_sources == ()
    assert all(
        r.kind == "popularity" and r.retailer == SERVING for s in alone.items for r in s.reasons
    )


# -- cold start ------------------------------------------------------------------------------------


def test_an_unknown_customer_gets_cold_start_from_stated_preferences_labelled(
    service: SuggestionService,
) -> None:
    customer = "cust-unknown000001"
    stated = StatedPreferences(customer, SERVING, ("category:shoes", "price:budget"))
    answer = service.suggest(
        "alder-s01",
        customer,
        5,
        consent=ConsentView.none(customer),
        history=CustomerHistory(customer, (), (stated,)),
    )
    assert answer.strategy == "cold_start_stated"
    assert answer.model_id == service.model_id
    reasons = [r for s in answer.items for r in s.reasons]
    assert any(r.kind == "stated_preference" and r.retailer == SERVING for r in reasons)
    assert not any(r.kind in ("activity", "similar_item") for r in reasons)


def test_stated_preferences_recorded_by_a_non_consenting_member_are_not_used(
    service: SuggestionService,
) -> None:
    customer = "cust-unknown000002"
    stated = StatedPreferences(customer, "birch", ("category:shoes",))
    history = CustomerHistory(customer, (), (stated,))
    alone = service.suggest(
        "alder-s01", customer, 5, consent=ConsentView.none(customer), history=history
    )
    assert alone.strategy == "popularity"
    assert {r.kind for s in alone.items for r in s.reasons} == {"popularity"}
    granted = ConsentView(customer, {"birch": frozenset({"stated_preferences"})})
    shared = service.suggest("alder-s01", customer, 5, consent=granted, history=history)
    assert shared.strategy == "cold_start_stated" and shared.data_sources == ("birch",)


def test_an_unknown_customer_without_preferences_gets_labelled_popularity(
    service: SuggestionService, consortium: Any
) -> None:
    customer = "cust-unknown000003"
    answer = service.suggest(
        "alder-s02",
        customer,
        8,
        consent=ConsentView.none(customer),
        history=CustomerHistory(customer),
    )
    assert answer.strategy == "popularity" and len(answer.items) == 8
    counts = [s.score for s in answer.items]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0
    assert set(answer.item_ids) <= set(consortium.catalogue.items_in_store("alder-s02"))
    json.dumps(answer.to_dict())


def test_without_a_model_the_service_falls_back_to_labelled_popularity(consortium: Any) -> None:
    own = [e for e in consortium.world.events if e.retailer == SERVING]
    counts = popularity_from_events(own, SERVING)
    service = SuggestionService(SERVING, consortium.catalogue, popularity=counts)
    assert service.model_id is None
    customer = _shared_customers_static(consortium)[0]
    history = _history(consortium, customer)
    answer = service.suggest(
        "alder-s01", customer, 10, consent=ConsentView.none(customer), history=history
    )
    assert answer.model_id is None and answer.strategy == "popularity"
    bought = {e.item_id for e in history.events if e.event_type == "purchase"}
    assert not bought & set(answer.item_ids)
    assert [s.score for s in answer.items] == sorted((s.score for s in answer.items), reverse=True)
    assert all(r.kind == "popularity" for s in answer.items for r in s.reasons)


def _shared_customers_static(consortium: Any) -> list[str]:
    return sorted(
        c.customer_id
        for c in consortium.world.customers
        if SERVING in c.retailers and c.customer_id in consortium.consenting
    )


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -1, MAX_SUGGESTIONS + 1, 1000])
def test_n_out_of_range_is_refused(service: SuggestionService, n: int) -> None:
    customer = "cust-unknown000004"
    with pytest.raises(InvalidRequest) as info:
        service.suggest(
            "alder-s01",
            customer,
            n,
            consent=ConsentView.none(customer),
            history=CustomerHistory(customer),
        )
    assert info.value.field == "n" and info.value.code == "INVALID_REQUEST"


@pytest.mark.parametrize("n", [True, 2.0, "3", None])
def test_n_that_is_not_an_integer_is_refused(service: SuggestionService, n: Any) -> None:
    customer = "cust-unknown000004"
    with pytest.raises(InvalidRequest):
        service.suggest(
            "alder-s01",
            customer,
            n,
            consent=ConsentView.none(customer),
            history=CustomerHistory(customer),
        )


@pytest.mark.parametrize("store", ["alder-s99", "birch-s01", ""])
def test_unknown_store_or_another_retailers_store_is_refused(
    service: SuggestionService, store: str
) -> None:
    customer = "cust-unknown000004"
    error = UnknownStore if store else InvalidRequest
    with pytest.raises(error) as info:
        service.suggest(
            store,
            customer,
            5,
            consent=ConsentView.none(customer),
            history=CustomerHistory(customer),
        )
    assert info.value.field == "store_id"


def test_consent_or_history_of_another_customer_is_refused(service: SuggestionService) -> None:
    me, other = "cust-unknown000005", "cust-unknown000006"
    with pytest.raises(InvalidRequest) as info:
        service.suggest(
            "alder-s01", me, 5, consent=ConsentView.none(other), history=CustomerHistory(me)
        )
    assert info.value.field == "consent"
    with pytest.raises(InvalidRequest) as info:
        service.suggest(
            "alder-s01", me, 5, consent=ConsentView.none(me), history=CustomerHistory(other)
        )
    assert info.value.field == "history"


def test_n_larger_than_the_stock_returns_what_there_is(
    service: SuggestionService, consortium: Any
) -> None:
    customer = "cust-unknown000007"
    answer = service.suggest(
        "alder-s01",
        customer,
        MAX_SUGGESTIONS,
        consent=ConsentView.none(customer),
        history=CustomerHistory(customer),
    )
    stock = consortium.catalogue.items_in_store("alder-s01")
    assert len(answer.items) == min(MAX_SUGGESTIONS, len(stock))
    assert len(set(answer.item_ids)) == len(answer.items)


# -- model swaps ---------------------------------------------------------------------------------


@pytest.fixture
def fresh_service(consortium: Any, trained: Any) -> SuggestionService:
    return SuggestionService(SERVING, consortium.catalogue, artifact=trained.path)


def _corrupt_arrays(path: Path) -> None:
    data = bytearray((path / ARRAYS_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (path / ARRAYS_FILE).write_bytes(bytes(data))


def _edit_manifest(path: Path) -> None:
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    manifest["metadata"]["retailer"] = "birch"  # without fixing the hash
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))


def _remove_arrays(path: Path) -> None:
    (path / ARRAYS_FILE).unlink()


@pytest.mark.parametrize("damage", [_corrupt_arrays, _edit_manifest, _remove_arrays])
def test_corrupt_artifact_is_rejected_and_the_old_model_keeps_serving(
    fresh_service: SuggestionService, consortium: Any, trained: Any, tmp_path: Path, damage: Any
) -> None:
    customer = _shared_customers(consortium, fresh_service)[0]
    before = _ask(fresh_service, consortium, customer, _all(customer))
    broken = tmp_path / "broken"
    shutil.copytree(trained.path, broken)
    damage(broken)
    with pytest.raises(ModelRejected) as info:
        fresh_service.swap_model(broken)
    assert info.value.code == "MODEL_REJECTED"
    assert fresh_service.model_id == trained.record["model_id"]
    assert _ask(fresh_service, consortium, customer, _all(customer)) == before


def test_an_artifact_of_another_retailer_is_rejected(
    fresh_service: SuggestionService, consortium: Any, tmp_path: Path
) -> None:
    birch = [e for e in consortium.world.events if e.retailer == "birch"]
    train_retailer_model(
        "birch",
        birch,
        consortium.catalogue,
        output_dir=tmp_path / "birch",
        block_height=1,
        consent_set_hash="0" * 64,
        config=TINY,
        evaluation_fraction=0,
    )
    old = fresh_service.model_id
    with pytest.raises(ModelRejected, match="retailer 'birch'"):
        fresh_service.swap_model(tmp_path / "birch")
    assert fresh_service.model_id == old


def test_an_artifact_of_another_user_model_is_rejected(
    fresh_service: SuggestionService, tmp_path: Path
) -> None:
    items = [Item("alder-i0001", ("category:shoes",)), Item("alder-i0002", ("category:bags",))]
    dataset = build_dataset([Interaction("u", "alder-i0001")], items)
    model = HybridModel(TINY).fit(dataset)
    save_model(model, dataset, tmp_path / "plain", metadata={"retailer": SERVING})
    old = fresh_service.model_id
    with pytest.raises(ModelRejected, match="user model"):
        fresh_service.swap_model(tmp_path / "plain")
    assert fresh_service.model_id == old


def test_swap_model_installs_a_new_model_for_the_next_request(
    fresh_service: SuggestionService, consortium: Any, tmp_path: Path
) -> None:
    record = train_retailer_model(
        SERVING,
        consortium.readable,
        consortium.catalogue,
        consortium.stated,
        output_dir=tmp_path / "next",
        block_height=43,
        consent_set_hash="1" * 64,
        config=TINY,
        evaluation_fraction=0,
    )
    old = fresh_service.model_id
    assert fresh_service.swap_model(tmp_path / "next") == record["model_id"] != old
    customer = _shared_customers(consortium, fresh_service)[0]
    assert _ask(fresh_service, consortium, customer, _all(customer)).model_id == record["model_id"]


def test_history_from_events_keeps_only_her_events(consortium: Any) -> None:
    customer = _shared_customers_static(consortium)[0]
    history = history_from_events(customer, consortium.world.events)
    assert history.events and {e.customer_id for e in history.events} == {customer}
