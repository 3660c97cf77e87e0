"""The retailer's training job: slices, artifact round trip, provenance, evaluation, refusals."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chaincode.provenance import ModelProvenance, hash_consent_set
from recommender.artifacts import load_artifact, model_id_for
from recommender.catalogue import Catalogue, CatalogueEntry
from recommender.config import ModelConfig
from recommender.slices import (
    EventRecord,
    Slice,
    StatedPreferences,
    context_feature,
    profile_row,
    stated_feature,
)
from recommender.training import (
    SEQUENCE_WEIGHT,
    USER_MODEL,
    build_training_dataset,
    read_training_input,
    train_retailer_model,
)

SERVING = "alder"
TINY = ModelConfig(no_components=8, epochs=3, seed=1)


def test_training_output_round_trips_through_artifacts(trained: Any, consortium: Any) -> None:
    loaded = load_artifact(trained.path)
    record = trained.record
    assert loaded.content_sha256 == record["content_hash"]
    assert model_id_for(loaded.content_sha256) == record["model_id"]
    assert loaded.metadata["user_model"] == USER_MODEL
    assert loaded.metadata["retailer"] == SERVING
    assert loaded.metadata["training"] == record["training"]
    assert loaded.metadata["metrics"] == record["metrics"]
    # Every item of the consortium's catalogue is known, so alder's stores can be served.
    assert set(loaded.index.item_ids) == {e.item_id for e in consortium.catalogue}


def test_provenance_parses_as_the_ledgers_model_provenance(trained: Any, consortium: Any) -> None:
    record = trained.record
    provenance = ModelProvenance.from_dict(record)
    assert provenance.to_dict() == record
    assert provenance.retailer == SERVING
    assert provenance.training.purpose == "personalisation"
    assert provenance.training.block_height == 42
    assert provenance.training.consent_set_hash == hash_consent_set(consortium.consents)
    assert provenance.training.record_count == len(consortium.readable) + len(consortium.stated)
    assert ModelProvenance.from_json(provenance.to_json_bytes()) == provenance


def test_holdout_metrics_are_reported_and_in_range(trained: Any) -> None:
    metrics = trained.record["metrics"]
    assert set(metrics) == {
        "precision@10",
        "recall@10",
        "ndcg@10",
        "auc",
        "popularity.precision@10",
        "evaluated_customers",
    }
    assert metrics["evaluated_customers"] >= 50
    for name in ("precision@10", "recall@10", "ndcg@10", "auc", "popularity.precision@10"):
        assert 0.0 <= metrics[name] <= 1.0 and math.isfinite(metrics[name])
    assert metrics["auc"] > 0.5


def test_the_model_holds_slices_only_of_data_the_retailer_could_read(
    trained: Any, consortium: Any
) -> None:
    index = load_artifact(trained.path).index
    slices = [s for s in map(Slice.parse, index.user_feature_names) if s is not None]
    expected = {
        Slice(e.customer_id, e.retailer, "purchases" if e.event_type == "purchase" else "views")
        for e in consortium.readable
    }
    assert set(slices) == expected
    assert all(sl.row in index.user_index for sl in slices)
    assert {s.customer_id for s in slices if s.retailer != SERVING} <= consortium.consenting


def test_slice_rows_are_built_from_their_own_records_only() -> None:
    catalogue = Catalogue(
        [
            CatalogueEntry("a-1", "alder", "shoes", "Kalu", "mid", ("alder-s01",)),
            CatalogueEntry("a-2", "alder", "bags", "Kalu", "mid", ("alder-s01",)),
        ]
    )
    events = [
        EventRecord("c1", "alder", "a-1", "purchase"),
        EventRecord("c1", "alder", "a-2", "view"),
        {
            "customer_id": "c1",
            "retailer": "birch",
            "item_id": "b-9",
            "event_type": "like",
            "value": 1,
            "item_category": "shoes",
            "timestamp": "2025-01-31T09:30:00.000Z",
        },
        EventRecord("c1", "birch", "b-8", "like", value=-1),  # a dislike: not a positive
        EventRecord("c1", "birch", "b-7", "rating", value=2),  # a low rating: not a positive
        EventRecord("c1", "birch", "b-6", "rating", value=5),
    ]
    stated = [StatedPreferences("c1", "birch", ("category:shoes",))]
    data = read_training_input(events, stated)
    assert data.record_count == 7
    ds = build_training_dataset(data, catalogue)

    def items_of(row: str) -> set[str]:
        return {ds.item_ids[i] for i in ds.interactions[ds.user_index[row]].indices}

    assert items_of("c1|alder|purchases") == {"a-1"}
    assert items_of("c1|alder|views") == {"a-2"}
    assert items_of("c1|birch|views") == {"b-9"}
    assert items_of("c1|birch|stated_preferences") == {"b-6"}
    assert items_of(profile_row("c1", "birch")) == {"a-1", "a-2", "b-9", "b-6"}
    # Foreign items carry the features their events give; negative signals make no item.
    features = ds.item_features[ds.item_index["b-9"]].indices
    names = {ds.item_feature_names[j] for j in features}
    assert {"retailer:birch", "category:shoes"} <= names
    assert "b-8" not in ds.item_index and "b-7" not in ds.item_index
    row = ds.user_features[ds.user_index["c1|birch|views"]]
    assert {ds.user_feature_names[j] for j in row.indices} == {
        context_feature("birch"),
        Slice("c1", "birch", "views").feature,
    }
    profile = ds.user_features[ds.user_index[profile_row("c1", "birch")]]
    assert {ds.user_feature_names[j] for j in profile.indices} == {stated_feature("category:shoes")}


def test_created_at_and_a_skipped_evaluation_are_recorded(consortium: Any, tmp_path: Path) -> None:
    record = train_retailer_model(
        SERVING,
        [e for e in consortium.readable if e.retailer == SERVING],
        consortium.catalogue,
        output_dir=tmp_path / "m",
        block_height=0,
        consent_set_hash=hash_consent_set([]),
        config=TINY,
        evaluation_fraction=0,
        created_at=datetime(2025, 1, 31, 9, 30, 0, 123456, tzinfo=UTC),
    )
    assert record["created_at"] == "2025-01-31T09:30:00.123Z"
    assert record["metrics"] == {}
    assert ModelProvenance.from_dict(record).training.record_count == sum(
        e.retailer == SERVING for e in consortium.readable
    )


def test_the_artifact_carries_the_sequence_part_unless_its_weight_is_zero(
    trained: Any, consortium: Any, tmp_path: Path
) -> None:
    loaded = load_artifact(trained.path)
    assert loaded.sequence is not None and loaded.sequence.weight == SEQUENCE_WEIGHT
    assert loaded.sequence.neighbours.n_items == loaded.index.n_items
    train_retailer_model(
        SERVING,
        [e for e in consortium.readable if e.retailer == SERVING],
        consortium.catalogue,
        output_dir=tmp_path / "m",
        block_height=0,
        consent_set_hash=hash_consent_set([]),
        config=TINY,
        evaluation_fraction=0,
        sequence_weight=0.0,
    )
    assert load_artifact(tmp_path / "m").sequence is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"consent_set_hash": "ABC"}, "consent_set_hash"),
        ({"block_height": -1}, "block_height"),
        ({"block_height": True}, "block_height"),
        ({"evaluation_fraction": 1.0}, "evaluation_fraction"),
        ({"retailer": "al:der"}, "retailer"),
        ({"events": []}, "no positive"),
        ({"events": [{"customer_id": "c1", "retailer": "alder"}]}, "item_id"),
        ({"events": [EventRecord("c1", "alder", "a-1", "like", value=-1)]}, "no positive"),
    ],
)
def test_bad_arguments_raise_value_error(
    consortium: Any, tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    args: dict[str, Any] = {
        "retailer": SERVING,
        "events": consortium.readable[:50],
        "catalogue": consortium.catalogue,
        "output_dir": tmp_path / "m",
        "block_height": 1,
        "consent_set_hash": "0" * 64,
        "config": TINY,
        "evaluation_fraction": 0,
    }
    args.update(overrides)
    with pytest.raises(ValueError, match=message):
        train_retailer_model(**args)
    assert not (tmp_path / "m").exists()
